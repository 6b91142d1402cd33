/**
 * Joining and reshaping by copy: concat, stack, split, chunk, pad, tile, repeat, roll.
 *
 * They are built from zero-copy views (core/ops/view.ts) and `copyInto`, plus `take` for index
 * maps (repeat with per-element counts, pad's edge/reflect/symmetric/wrap modes); split and chunk
 * return views.
 *
 * @module
 */
import { needsGrad, noGrad, record } from "../autograd.ts";
import { checkDType } from "../dtype.ts";
import { resultType } from "../promote.ts";
import { fmtShape, ShapeError } from "../errors.ts";
import { commonDevice } from "../op.ts";
import { contiguousStrides, normalizeAxis } from "../shape.ts";
import { Tensor, type TensorLike } from "../tensor.ts";
import { asTensor, full, tensor } from "./creation.ts";
import { take } from "./indexing.ts";
import { clone, copyInto, reshape, unsqueeze } from "./view.ts";
import { disposeAll } from "../dispose.ts";

/**
 * A view of `t` restricted to `start..stop` (already clamped, 0 ≤ start ≤ stop ≤ len) on `axis`,
 * recorded as a slice for autograd.
 */
function range(t: Tensor, axis: number, start: number, stop: number): Tensor {
  const shape = [...t.shape];
  shape[axis] = stop - start;
  const off = stop > start ? t.offset + start * t.strides[axis] : t.offset;
  const v = t._view(shape, t.strides, off);
  const plan = t.shape.map((d, k): [number, number, number] =>
    k === axis ? [start, 1, stop - start] : [0, 1, d]
  );
  record("view.slice", [t], [v], { plan });
  return v;
}

/**
 * Run `compute` (which writes into tensors it allocates with `copyInto`), recording it on the
 * autograd graph as one op when an input requires a gradient: the copies themselves run under
 * noGrad, and the rule of `op` (core/grads/join.ts) maps the output gradient back.
 */
function recorded(
  op: string,
  inputs: readonly Tensor[],
  attrs: Record<string, unknown>,
  compute: () => Tensor,
): Tensor {
  if (!needsGrad(inputs)) return compute();
  const out = noGrad(compute);
  record(op, inputs, [out], attrs);
  return out;
}

/** Convert a list of TensorLike, remembering which were created here (to dispose). */
function asTensors(op: string, xs: readonly TensorLike[]): { ts: Tensor[]; owned: Tensor[] } {
  if (!Array.isArray(xs) || xs.length === 0) {
    throw new ShapeError(`${op}: needs a non-empty array of tensors.`);
  }
  const ts: Tensor[] = [], owned: Tensor[] = [];
  for (const x of xs) {
    const t = asTensor(x);
    if (t !== x) owned.push(t);
    ts.push(t);
  }
  for (const t of ts) checkDType(t.dtype, op); // block-quantized inputs are refused by name
  return { ts, owned };
}

function checkInt(op: string, what: string, v: number, min: number): number {
  if (!Number.isInteger(v) || v < min) {
    throw new ShapeError(`${op}: ${what} must be an integer ≥ ${min}, got ${v}.`);
  }
  return v;
}

/**
 * Join tensors along an existing axis, NumPy's `concatenate`. All inputs need the same rank and
 * the same lengths off `axis`; the dtype is the promotion of all input dtypes.
 *
 * @example
 * ```ts
 * import { concat, tensor } from "@aprender/compute";
 * const a = tensor([[1, 2]]), b = tensor([[3, 4], [5, 6]]);
 * console.log(concat([a, b]).toArraySync()); // [[1, 2], [3, 4], [5, 6]]
 * ```
 */
export function concat(tensors: readonly TensorLike[], axis = 0): Tensor {
  const { ts, owned } = asTensors("concat", tensors);
  try {
    const device = commonDevice("concat", ts);
    const first = ts[0];
    if (first.ndim === 0) {
      throw new ShapeError(
        `concat: input 0 is a scalar (shape ()); scalars cannot be concatenated. ` +
          `Hint: use stack() to join scalars into a new axis.`,
      );
    }
    const a = normalizeAxis(axis, first.ndim, "concat");
    let total = 0;
    ts.forEach((t, i) => {
      const ok = t.ndim === first.ndim && t.shape.every((d, k) => k === a || d === first.shape[k]);
      if (!ok) {
        throw new ShapeError(
          `concat: input ${i} has shape ${fmtShape(t.shape)}, which does not match input 0's ` +
            `${fmtShape(first.shape)} off axis ${a}. Every input needs rank ${first.ndim} and ` +
            `the same lengths on all axes except the concatenation axis ${a}.`,
        );
      }
      total += t.shape[a];
    });
    const shape = [...first.shape];
    shape[a] = total;
    const dtype = resultType(...ts.map((t) => t.dtype));
    return recorded("concat", ts, { axis: a }, () => {
      const out = Tensor.empty(shape, dtype, device);
      let pos = 0;
      for (const t of ts) {
        const n = t.shape[a];
        if (n > 0 && t.size > 0) {
          const dst = range(out, a, pos, pos + n);
          copyInto(dst, t);
          dst.dispose();
        }
        pos += n;
      }
      return out;
    });
  } finally {
    disposeAll(owned);
  }
}

/**
 * Join tensors of one shape along a new axis, NumPy's `stack`.
 *
 * @example
 * ```ts
 * import { stack, tensor } from "@aprender/compute";
 * console.log(stack([tensor([1, 2]), tensor([3, 4])], 1).toArraySync()); // [[1, 3], [2, 4]]
 * ```
 */
export function stack(tensors: readonly TensorLike[], axis = 0): Tensor {
  const { ts, owned } = asTensors("stack", tensors);
  const views: Tensor[] = [];
  try {
    const first = ts[0];
    ts.forEach((t, i) => {
      if (t.ndim !== first.ndim || t.shape.some((d, k) => d !== first.shape[k])) {
        throw new ShapeError(
          `stack: input ${i} has shape ${fmtShape(t.shape)} but input 0 has ` +
            `${fmtShape(first.shape)}; stack needs every input to have the same shape. ` +
            `Hint: use concat() to join along an existing axis of different lengths.`,
        );
      }
    });
    const a = normalizeAxis(axis, first.ndim + 1, "stack");
    for (const t of ts) views.push(unsqueeze(t, a));
    return concat(views, a);
  } finally {
    disposeAll(views);
    disposeAll(owned);
  }
}

/**
 * Split into views along `axis`, NumPy's `split`: a number `n` gives `n` equal pieces (it must
 * divide the axis length); a list gives the split points (`[2, 5]` → `[:2]`, `[2:5]`, `[5:]`,
 * clamped like slices). The pieces share `x`'s storage.
 *
 * @example
 * ```ts
 * import { arange, split } from "@aprender/compute";
 * console.log(split(arange(6), 3).map((p) => p.toArraySync())); // [[0, 1], [2, 3], [4, 5]]
 * console.log(split(arange(6), [1, 4]).map((p) => p.shape)); // [[1], [3], [2]]
 * ```
 */
export function split(
  x: Tensor,
  indicesOrSections: number | readonly number[],
  axis = 0,
): Tensor[] {
  const a = normalizeAxis(axis, x.ndim, "split");
  const n = x.shape[a];
  let points: number[];
  if (typeof indicesOrSections === "number") {
    const k = checkInt("split", "the number of sections", indicesOrSections, 1);
    if (n % k !== 0) {
      throw new ShapeError(
        `split: axis ${a} of shape ${fmtShape(x.shape)} has length ${n}, which ${k} sections ` +
          `do not divide evenly. Hint: use chunk(x, ${k}, ${axis}) for pieces of unequal length, ` +
          `or pass a list of split points.`,
      );
    }
    points = Array.from({ length: k - 1 }, (_, i) => ((i + 1) * n) / k);
  } else {
    points = indicesOrSections.map((p) => {
      if (!Number.isInteger(p)) {
        throw new ShapeError(`split: split points must be integers, got ${p}.`);
      }
      return p < 0 ? Math.max(p + n, 0) : Math.min(p, n);
    });
  }
  const bounds = [0, ...points, n];
  const out: Tensor[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const s = bounds[i], e = Math.max(bounds[i], bounds[i + 1]);
    out.push(range(x, a, s, e));
  }
  return out;
}

/**
 * Split into `chunks` views along `axis`, PyTorch's `chunk`: pieces of `ceil(n / chunks)`
 * elements, the last possibly shorter, and possibly fewer than `chunks` pieces.
 *
 * @example
 * ```ts
 * import { arange, chunk } from "@aprender/compute";
 * console.log(chunk(arange(5), 3).map((p) => p.toArraySync())); // [[0, 1], [2, 3], [4]]
 * ```
 */
export function chunk(x: Tensor, chunks: number, axis = 0): Tensor[] {
  checkInt("chunk", "chunks", chunks, 1);
  const a = normalizeAxis(axis, x.ndim, "chunk");
  const n = x.shape[a];
  if (n === 0) return [range(x, a, 0, 0)];
  const size = Math.ceil(n / chunks);
  const out: Tensor[] = [];
  for (let s = 0; s < n; s += size) out.push(range(x, a, s, Math.min(s + size, n)));
  return out;
}

/** How {@link pad} fills the border. */
export type PadMode = "constant" | "edge" | "reflect" | "symmetric" | "wrap";

/** Options of {@link pad}. */
export interface PadOptions {
  /** Fill rule (default "constant"), as in NumPy's `np.pad`. */
  mode?: PadMode;
  /** The fill value for "constant" (default 0), cast to the tensor's dtype. */
  value?: number | boolean;
}

/** Pad widths in NumPy's forms: `n`, `[before, after]`, or one `[before, after]` per axis. */
export type PadWidth = number | readonly number[] | readonly (readonly number[])[];

function padPairs(padWidth: PadWidth, ndim: number): [number, number][] {
  const bad = () =>
    new ShapeError(
      `pad: padWidth ${JSON.stringify(padWidth)} is not n, [before, after], or ` +
        `[[before, after], ...] with one pair per axis (${ndim} axes).`,
    );
  let pairs: [number, number][];
  if (typeof padWidth === "number") pairs = Array(ndim).fill([padWidth, padWidth]);
  else if (!Array.isArray(padWidth)) throw bad();
  else if (padWidth.every((p) => typeof p === "number")) {
    const w = padWidth as number[];
    if (w.length === 1) pairs = Array(ndim).fill([w[0], w[0]]);
    else if (w.length === 2) pairs = Array(ndim).fill([w[0], w[1]]);
    else throw bad();
  } else {
    const w = padWidth as number[][];
    if (!w.every((p) => Array.isArray(p) && (p.length === 1 || p.length === 2))) throw bad();
    const norm = w.map((p) => [p[0], p[p.length - 1]] as [number, number]);
    if (norm.length === 1) pairs = Array(ndim).fill(norm[0]);
    else if (norm.length === ndim) pairs = norm;
    else throw bad();
  }
  for (const [b, a] of pairs) {
    if (!Number.isInteger(b) || !Number.isInteger(a) || b < 0 || a < 0) {
      throw new ShapeError(
        `pad: pad widths must be integers ≥ 0, got ${JSON.stringify(padWidth)}.`,
      );
    }
  }
  return pairs;
}

/** Source position (0..n-1) of padded position k (relative to the original start). */
function padSource(mode: Exclude<PadMode, "constant">, k: number, n: number): number {
  const mod = (v: number, m: number) => ((v % m) + m) % m;
  switch (mode) {
    case "edge":
      return Math.min(Math.max(k, 0), n - 1);
    case "wrap":
      return mod(k, n);
    case "symmetric": {
      const m = mod(k, 2 * n);
      return m < n ? m : 2 * n - 1 - m;
    }
    case "reflect": {
      if (n === 1) return 0;
      const m = mod(k, 2 * n - 2);
      return m < n ? m : 2 * n - 2 - m;
    }
  }
}

/**
 * Pad a tensor, NumPy's `pad`. `padWidth` is `n` (every side of every axis), `[before, after]`
 * (every axis), or `[[before, after], ...]` (one pair per axis). Modes: "constant" (fill with
 * `value`), "edge" (repeat the border element), "reflect" (mirror without the border element),
 * "symmetric" (mirror with it), "wrap" (periodic). Wide pads in reflect/symmetric/wrap repeat the
 * pattern, as NumPy does.
 *
 * @example
 * ```ts
 * import { pad, tensor } from "@aprender/compute";
 * const x = tensor([1, 2, 3]);
 * console.log(pad(x, [1, 2]).toArraySync()); // [0, 1, 2, 3, 0, 0]
 * console.log(pad(x, 2, { mode: "reflect" }).toArraySync()); // [3, 2, 1, 2, 3, 2, 1]
 * ```
 */
export function pad(x: TensorLike, padWidth: PadWidth, options: PadOptions = {}): Tensor {
  const mode = options.mode ?? "constant";
  const xt = asTensor(x);
  try {
    checkDType(xt.dtype, "pad");
    const pairs = padPairs(padWidth, xt.ndim);
    const shape = xt.shape.map((d, i) => d + pairs[i][0] + pairs[i][1]);
    if (mode === "constant") {
      return recorded("pad", [xt], { pairs }, () => {
        const out = full(shape, options.value ?? 0, { dtype: xt.dtype, device: xt.device });
        if (xt.size > 0) {
          let v = out;
          for (let a = 0; a < xt.ndim; a++) {
            const next = range(v, a, pairs[a][0], pairs[a][0] + xt.shape[a]);
            if (v !== out) v.dispose();
            v = next;
          }
          copyInto(v, xt);
          if (v !== out) v.dispose();
        }
        return out;
      });
    }
    if (!["edge", "reflect", "symmetric", "wrap"].includes(mode)) {
      throw new ShapeError(
        `pad: unknown mode ${JSON.stringify(mode)}; expected "constant", "edge", "reflect", ` +
          `"symmetric" or "wrap".`,
      );
    }
    let cur = xt;
    for (let a = 0; a < xt.ndim; a++) {
      const [b, e] = pairs[a];
      if (b === 0 && e === 0) continue;
      const n = xt.shape[a];
      if (n === 0) {
        throw new ShapeError(
          `pad: cannot pad the empty axis ${a} of shape ${fmtShape(xt.shape)} in mode ` +
            `"${mode}"; only "constant" can extend an empty axis.`,
        );
      }
      const map = new Int32Array(b + n + e);
      for (let j = 0; j < map.length; j++) map[j] = padSource(mode, j - b, n);
      const idx = tensor(map, { device: xt.device });
      const next = take(cur, idx, a);
      idx.dispose();
      if (cur !== xt) cur.dispose();
      cur = next;
    }
    return cur === xt ? clone(xt) : cur;
  } finally {
    if (xt !== x) xt.dispose();
  }
}

/**
 * Repeat a tensor `reps` times along each axis, NumPy's `tile`. When `reps` is shorter than the
 * rank, it is padded with leading 1s; when longer, the tensor gains leading axes.
 *
 * @example
 * ```ts
 * import { tensor, tile } from "@aprender/compute";
 * console.log(tile(tensor([1, 2]), [2, 2]).toArraySync()); // [[1, 2, 1, 2], [1, 2, 1, 2]]
 * ```
 */
export function tile(x: TensorLike, reps: number | readonly number[]): Tensor {
  const xt = asTensor(x);
  try {
    checkDType(xt.dtype, "tile");
    const r = typeof reps === "number" ? [reps] : [...reps];
    r.forEach((v) => checkInt("tile", "each repetition count", v, 0));
    const d = Math.max(r.length, xt.ndim);
    const rr = [...Array(d - r.length).fill(1), ...r];
    const shape = [...Array(d - xt.ndim).fill(1), ...xt.shape];
    const strides = [...Array(d - xt.ndim).fill(0), ...xt.strides];
    const outShape = shape.map((s, i) => s * rr[i]);
    // out viewed as (r0, s0, r1, s1, ...) ← x viewed with stride 0 on every r axis.
    const inter = shape.flatMap((s, i) => [rr[i], s]);
    return recorded("tile", [xt], { inter }, () => {
      const out = Tensor.empty(outShape, xt.dtype, xt.device);
      if (out.size > 0) {
        const dst = out._view(inter, contiguousStrides(inter), 0);
        const src = xt._view(inter, strides.flatMap((st) => [0, st]), xt.offset);
        copyInto(dst, src);
        dst.dispose();
        src.dispose();
      }
      return out;
    });
  } finally {
    if (xt !== x) xt.dispose();
  }
}

/**
 * Repeat each element, NumPy's `repeat`: `repeats` is one count for all elements or one count per
 * element along `axis`; with `axis` undefined the tensor is flattened first.
 *
 * @example
 * ```ts
 * import { repeat, tensor } from "@aprender/compute";
 * const x = tensor([[1, 2], [3, 4]]);
 * console.log(repeat(x, 2).toArraySync()); // [1, 1, 2, 2, 3, 3, 4, 4]
 * console.log(repeat(x, [1, 2], 0).toArraySync()); // [[1, 2], [3, 4], [3, 4]]
 * ```
 */
export function repeat(x: TensorLike, repeats: number | readonly number[], axis?: number): Tensor {
  const xt = asTensor(x);
  checkDType(xt.dtype, "repeat");
  const src = axis === undefined ? reshape(xt, [xt.size]) : xt;
  try {
    const a = normalizeAxis(axis ?? 0, src.ndim, "repeat");
    const n = src.shape[a];
    if (typeof repeats === "number" || repeats.length === 1) {
      const k = checkInt(
        "repeat",
        "repeats",
        typeof repeats === "number" ? repeats : repeats[0],
        0,
      );
      const shape = [...src.shape];
      shape[a] = n * k;
      const inter = [...src.shape.slice(0, a + 1), k, ...src.shape.slice(a + 1)];
      return recorded("repeat", [src], { inter, axis: a + 1 }, () => {
        const out = Tensor.empty(shape, src.dtype, src.device);
        if (out.size > 0) {
          const dst = out._view(inter, contiguousStrides(inter), 0);
          const s = src._view(
            inter,
            [...src.strides.slice(0, a + 1), 0, ...src.strides.slice(a + 1)],
            src.offset,
          );
          copyInto(dst, s);
          dst.dispose();
          s.dispose();
        }
        return out;
      });
    }
    if (repeats.length !== n) {
      throw new ShapeError(
        `repeat: ${repeats.length} repeat counts for axis ${a} of length ${n}; give one count ` +
          `per element, or a single number.`,
      );
    }
    repeats.forEach((k) => checkInt("repeat", "each repeat count", k, 0));
    const map = new Int32Array(repeats.reduce((s, k) => s + k, 0));
    for (let i = 0, p = 0; i < n; i++) map.fill(i, p, p += repeats[i]);
    const idx = tensor(map, { device: src.device });
    try {
      return take(src, idx, a);
    } finally {
      idx.dispose();
    }
  } finally {
    if (src !== xt) src.dispose();
    if (xt !== x) xt.dispose();
  }
}

/**
 * Roll elements along axes, NumPy's `roll`: elements shifted past the end come back at the start.
 * `shift` and `axis` may be lists (broadcast against each other; shifts on a repeated axis add);
 * with `axis` undefined the tensor is rolled as if flattened.
 *
 * @example
 * ```ts
 * import { arange, roll } from "@aprender/compute";
 * console.log(roll(arange(5), 2).toArraySync()); // [3, 4, 0, 1, 2]
 * console.log(roll(arange(4).reshape([2, 2]), [1, 1], [0, 1]).toArraySync()); // [[3, 2], [1, 0]]
 * ```
 */
export function roll(
  x: TensorLike,
  shift: number | readonly number[],
  axis?: number | readonly number[],
): Tensor {
  const xt = asTensor(x);
  try {
    checkDType(xt.dtype, "roll");
    if (axis === undefined) {
      if (typeof shift !== "number" && shift.length !== 1) {
        throw new ShapeError(
          `roll: ${shift.length} shifts but no axis; a flattened roll takes one shift.`,
        );
      }
      const s = typeof shift === "number" ? shift : shift[0];
      const flat = reshape(xt, [xt.size]);
      const rolled = roll(flat, s, 0);
      flat.dispose();
      const out = reshape(rolled, xt.shape);
      rolled.dispose();
      return out;
    }
    const shifts = typeof shift === "number" ? [shift] : [...shift];
    const axes = typeof axis === "number" ? [axis] : [...axis];
    const len = Math.max(shifts.length, axes.length);
    if (
      (shifts.length !== len && shifts.length !== 1) || (axes.length !== len && axes.length !== 1)
    ) {
      throw new ShapeError(
        `roll: ${shifts.length} shifts and ${axes.length} axes do not match; give one shift ` +
          `per axis (or a single shift or axis for all).`,
      );
    }
    const total = new Array<number>(xt.ndim).fill(0);
    for (let i = 0; i < len; i++) {
      const s = shifts[shifts.length === 1 ? 0 : i];
      if (!Number.isInteger(s)) throw new ShapeError(`roll: shifts must be integers, got ${s}.`);
      total[normalizeAxis(axes[axes.length === 1 ? 0 : i], xt.ndim, "roll")] += s;
    }
    return recorded("roll", [xt], { shifts: total }, () => {
      const out = Tensor.empty(xt.shape, xt.dtype, xt.device);
      if (out.size === 0) return out;
      // Each rolled axis splits into two blocks: out[s:] ← x[:n-s] and out[:s] ← x[n-s:].
      const rolled = total.map((s, a) => ((s % xt.shape[a]) + xt.shape[a]) % xt.shape[a]);
      const axesToRoll = rolled.flatMap((s, a) => (s !== 0 ? [a] : []));
      for (let mask = 0; mask < 1 << axesToRoll.length; mask++) {
        let dst = out._view(out.shape, out.strides, out.offset);
        let src = xt._view(xt.shape, xt.strides, xt.offset);
        axesToRoll.forEach((a, bit) => {
          const n = xt.shape[a], s = rolled[a];
          const [d, sv] = mask & (1 << bit)
            ? [range(dst, a, 0, s), range(src, a, n - s, n)]
            : [range(dst, a, s, n), range(src, a, 0, n - s)];
          dst.dispose();
          src.dispose();
          dst = d;
          src = sv;
        });
        copyInto(dst, src);
        dst.dispose();
        src.dispose();
      }
      return out;
    });
  } finally {
    if (xt !== x) xt.dispose();
  }
}
