/**
 * Products of tensors: `matmul` (NumPy's `@`, batched with broadcasting), `dot`, `outer` and
 * `einsum`.
 *
 * Result dtypes follow NumPy: the promotion of the operands' dtypes, so integers stay integers
 * (wrapping on overflow like NumPy) and bool @ bool is bool (an OR of ANDs).
 *
 * @module
 */
import { checkDType, type DType } from "../dtype.ts";
import { resultType, scalarPromote } from "../promote.ts";
import { needsGrad, noGrad, record } from "../autograd.ts";
import { castHalf } from "../autocast.ts";
import { disposeAll } from "../dispose.ts";
import { fmtShape, ShapeError } from "../errors.ts";
import { runKernel1 } from "../op.ts";
import { Tensor, type TensorLike } from "../tensor.ts";
import { asTensor } from "./creation.ts";
import { broadcastTo, reshape, unsqueeze } from "./view.ts";

/**
 * Convert op arguments to tensors. A JS number or boolean next to a tensor takes that tensor's
 * dtype where it fits (a "weak" scalar, like NumPy's Python scalars); tensors created here are
 * returned in `created` for the caller to dispose.
 */
function toTensors(args: readonly TensorLike[]): { ts: Tensor[]; created: Tensor[] } {
  const ref = args.find((x): x is Tensor => x instanceof Tensor);
  const created: Tensor[] = [];
  const ts = args.map((x) => {
    if (x instanceof Tensor) return x;
    const dtype = ref && (typeof x === "number" || typeof x === "boolean")
      ? scalarPromote(ref.dtype, x)
      : undefined;
    const t = asTensor(x, dtype, ref?.device);
    created.push(t);
    return t;
  });
  return { ts, created };
}

/**
 * The core of matmul/dot: `a` and `b` have rank ≥ 1; 1-D operands get a length-1 axis that is
 * removed from the result. `what` explains the inner-axis rule in errors.
 */
function matmulCore(op: string, a: Tensor, b: Tensor, shapes: () => string): Tensor {
  checkDType(a.dtype, op); // block-quantized operands need a kernel that reads them
  checkDType(b.dtype, op);
  const owned: Tensor[] = [];
  try {
    const a2 = a.ndim === 1 ? unsqueeze(a, 0) : a;
    if (a2 !== a) owned.push(a2);
    const b2 = b.ndim === 1 ? unsqueeze(b, 1) : b;
    if (b2 !== b) owned.push(b2);
    const ra = a2.ndim, rb = b2.ndim;
    const m = a2.shape[ra - 2], k = a2.shape[ra - 1], k2 = b2.shape[rb - 2], n = b2.shape[rb - 1];
    if (k !== k2) {
      throw new ShapeError(
        `${op}: ${shapes()}: inner dimensions do not match (${k} ≠ ${k2}): the last axis of the ` +
          `first operand must have the length of the ${
            b.ndim === 1 ? "only axis" : "second-to-last axis"
          } of the second. Hint: Did you mean to transpose one of the tensors?`,
      );
    }
    const batch = broadcastBatch(op, a2.shape.slice(0, ra - 2), b2.shape.slice(0, rb - 2), shapes);
    // Operands whose batch axes already have the broadcast shape are used as they are.
    const fit = (t: Tensor, r: number) =>
      r - 2 === batch.length && batch.every((d, i) => t.shape[i] === d);
    const av = fit(a2, ra) ? a2 : broadcastTo(a2, [...batch, m, k]);
    if (av !== a2) owned.push(av);
    const bv = fit(b2, rb) ? b2 : broadcastTo(b2, [...batch, k, n]);
    if (bv !== b2) owned.push(bv);
    const dtype: DType = resultType(a.dtype, b.dtype);
    // Every matmul kernel writes the whole output when k > 0 (k = 0 relies on the zero fill).
    const out = runKernel1("matmul", [av, bv], {}, {
      shape: [...batch, m, n],
      dtype,
      overwritten: k > 0,
    });
    if (a.ndim > 1 && b.ndim > 1) return out;
    const shape = [...batch, ...(a.ndim > 1 ? [m] : []), ...(b.ndim > 1 ? [n] : [])];
    owned.push(out);
    return reshape(out, shape);
  } finally {
    disposeAll(owned);
  }
}

/** Broadcast two batch shapes, with an error that names the matmul operands. */
function broadcastBatch(op: string, x: number[], y: number[], shapes: () => string): number[] {
  const rank = Math.max(x.length, y.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const p = x[x.length - rank + i] ?? 1, q = y[y.length - rank + i] ?? 1;
    if (p !== q && p !== 1 && q !== 1) {
      throw new ShapeError(
        `${op}: ${shapes()}: batch dimensions ${fmtShape(x)} and ${fmtShape(y)} cannot be ` +
          `broadcast together (axis ${i - rank - 2} has lengths ${p} and ${q}). The axes before ` +
          `the last two are batch axes and broadcast like NumPy: equal lengths or 1. Hint: ` +
          `unsqueeze or reshape one operand so its batch axes line up.`,
      );
    }
    out.push(p === 1 ? q : p);
  }
  return out;
}

/**
 * Matrix product with NumPy's `matmul` semantics: 2-D operands multiply as matrices; a 1-D first
 * operand is a row vector and a 1-D second operand a column vector (the added axis is removed from
 * the result, so 1-D @ 1-D is a scalar); leading (batch) axes broadcast. The dtype is the
 * promotion of the operands' dtypes (ints stay ints and wrap on overflow, bool @ bool is bool).
 * Floats accumulate in float64 on the scalar backend; i64 in float64 (exact to 2^53).
 *
 * @example
 * ```ts
 * import { matmul, ones, tensor } from "@aprender/compute";
 * const a = tensor([[1, 2], [3, 4]]);
 * console.log(matmul(a, [1, 1]).toArraySync()); // [3, 7]
 * console.log(matmul(ones([2, 1, 3, 4]), ones([5, 4, 6])).shape); // [2, 5, 3, 6]
 * ```
 */
export function matmul(a: TensorLike, b: TensorLike): Tensor {
  const { ts: [x0, y0], created } = toTensors([a, b]);
  try {
    // Inside an autocast scope: half-precision operands (core/autocast.ts).
    const x = castHalf(x0), y = castHalf(y0);
    if (x !== x0) created.push(x);
    if (y !== y0) created.push(y);
    // Built only for an error message.
    const shapes = () => `${fmtShape(x.shape)} @ ${fmtShape(y.shape)}`;
    if (x.ndim === 0 || y.ndim === 0) {
      throw new ShapeError(
        `matmul: ${shapes()}: operand ${x.ndim === 0 ? 0 : 1} is a scalar (0-d); matmul needs ` +
          `operands with at least one axis. Hint: use mul() to scale a tensor by a scalar.`,
      );
    }
    return matmulCore("matmul", x, y, shapes);
  } finally {
    disposeAll(created);
  }
}

/**
 * Dot product with NumPy's `dot` semantics: for 1-D and 2-D operands the inner / matrix product;
 * with a 0-d operand, the elementwise product; for N-D `a` and M-D `b` (M ≥ 2) a sum over the
 * last axis of `a` and the second-to-last of `b`, giving shape `a.shape[:-1] + b.shape[:-2] +
 * b.shape[-1:]` (not broadcast, unlike {@link matmul}).
 *
 * @example
 * ```ts
 * import { dot, ones } from "@aprender/compute";
 * console.log(dot([1, 2, 3], [4, 5, 6]).item()); // 32
 * console.log(dot(ones([2, 3, 4]), ones([5, 4, 6])).shape); // [2, 3, 5, 6]
 * ```
 */
export function dot(a: TensorLike, b: TensorLike): Tensor {
  const { ts: [x, y], created } = toTensors([a, b]);
  const owned: Tensor[] = [];
  try {
    const shapes = () => `${fmtShape(x.shape)} · ${fmtShape(y.shape)}`;
    if (x.ndim === 0 || y.ndim === 0) {
      // Scalar times tensor: a (..., 1) @ (1, 1) product, then the original shape back.
      const [s, t] = x.ndim === 0 ? [x, y] : [y, x];
      const col = unsqueeze(t, t.ndim);
      owned.push(col);
      const s11 = reshape(s, [1, 1]);
      owned.push(s11);
      const r = matmulCore("dot", col, s11, shapes);
      owned.push(r);
      return reshape(r, t.shape);
    }
    if (y.ndim <= 2) return matmulCore("dot", x, y, shapes);
    // a (I..., k) against b (J..., k, n): give a length-1 axes for J so matmul's batch
    // broadcasting forms every (I, J) pair, then drop a's row axis.
    if (x.shape[x.ndim - 1] !== y.shape[y.ndim - 2]) {
      throw new ShapeError(
        `dot: ${fmtShape(x.shape)} and ${fmtShape(y.shape)}: the last axis of a (length ${
          x.shape[x.ndim - 1]
        }) must match the second-to-last axis of b (length ${
          y.shape[y.ndim - 2]
        }). Hint: Did you mean to transpose one of the tensors?`,
      );
    }
    const lead = x.shape.slice(0, -1), k = x.shape[x.ndim - 1];
    const ones = new Array<number>(y.ndim - 2).fill(1);
    const xs = reshape(x, [...lead, ...ones, 1, k]);
    owned.push(xs);
    const r = matmulCore("dot", xs, y, shapes);
    owned.push(r);
    return reshape(r, [...lead, ...y.shape.slice(0, -2), y.shape[y.ndim - 1]]);
  } finally {
    disposeAll(owned);
    disposeAll(created);
  }
}

/**
 * Outer product of two tensors, flattened first (NumPy's `outer`): `out[i, j] = a[i] * b[j]`.
 *
 * @example
 * ```ts
 * import { outer } from "@aprender/compute";
 * console.log(outer([1, 2], [1, 10, 100]).toArraySync()); // [[1, 10, 100], [2, 20, 200]]
 * ```
 */
export function outer(a: TensorLike, b: TensorLike): Tensor {
  const { ts: [x, y], created } = toTensors([a, b]);
  const owned: Tensor[] = [];
  try {
    const col = reshape(x, [x.size, 1]);
    owned.push(col);
    const row = reshape(y, [1, y.size]);
    owned.push(row);
    return matmulCore("outer", col, row, () => `${fmtShape(x.shape)} ⊗ ${fmtShape(y.shape)}`);
  } finally {
    disposeAll(owned);
    disposeAll(created);
  }
}

/** One operand's parsed subscripts: labels before and after an optional ellipsis. */
interface Term {
  text: string;
  labels: string[];
  /** Index in `labels` where "..." stood, or -1. */
  ellipsis: number;
}

function parseTerm(text: string, what: string, subscripts: string): Term {
  const labels: string[] = [];
  let ellipsis = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === ".") {
      if (text.slice(i, i + 3) !== "..." || ellipsis >= 0) {
        throw new ShapeError(
          `einsum: subscripts "${subscripts}": ${what} "${text}" has a stray "."; an ellipsis ` +
            `is written "..." and may appear once per operand.`,
        );
      }
      ellipsis = labels.length;
      i += 2;
    } else if (/^[a-zA-Z]$/.test(c)) labels.push(c);
    else {
      throw new ShapeError(
        `einsum: subscripts "${subscripts}": ${what} "${text}" contains "${c}"; labels are ` +
          `letters a-z, A-Z, with "," between operands and "->" before the output.`,
      );
    }
  }
  return { text, labels, ellipsis };
}

/**
 * Einstein summation (NumPy's `einsum`): `subscripts` labels each operand's axes with letters;
 * the output keeps the labels after `->` (in that order) and sums over every other label. A
 * label repeated within one operand takes the diagonal (`"ii->i"`, trace `"ii->"`); `...`
 * stands for broadcast axes. Without `->` (implicit form) the output is `...` followed by the
 * labels used exactly once, in alphabetical order (uppercase first). Axes of length 1 broadcast
 * against the same label in other operands. The dtype is the promotion of the operands' dtypes.
 *
 * @example
 * ```ts
 * import { einsum, tensor } from "@aprender/compute";
 * const a = tensor([[1, 2], [3, 4]]);
 * console.log(einsum("ij,jk->ik", a, a).toArraySync()); // [[7, 10], [15, 22]]
 * console.log(einsum("ii->", a).item()); // 5
 * console.log(einsum("ij->ji", a).toArraySync()); // [[1, 3], [2, 4]]
 * ```
 */
export function einsum(subscripts: string, ...operands: TensorLike[]): Tensor {
  if (typeof subscripts !== "string") {
    throw new ShapeError(`einsum: subscripts must be a string like "ij,jk->ik".`);
  }
  const spec = subscripts.replace(/\s+/g, "");
  const parts = spec.split("->");
  if (parts.length > 2) {
    throw new ShapeError(`einsum: subscripts "${subscripts}" contain "->" more than once.`);
  }
  const inputs = parts[0].split(",").map((t, i) => parseTerm(t, `operand ${i}`, subscripts));
  if (operands.length === 0) {
    throw new ShapeError(`einsum: "${subscripts}" needs at least one operand, got none.`);
  }
  if (inputs.length !== operands.length) {
    throw new ShapeError(
      `einsum: subscripts "${subscripts}" describe ${inputs.length} operand${
        inputs.length === 1 ? "" : "s"
      } but ${operands.length} ${operands.length === 1 ? "was" : "were"} given. Hint: separate ` +
        `the subscripts of each operand with ",".`,
    );
  }
  const { ts, created } = toTensors(operands);
  const views: Tensor[] = [];
  try {
    // Each operand's axes as labels; ellipsis axes get the labels "0", "1", ... aligned from
    // the right across operands.
    const axisLabels: string[][] = [];
    let nEll = 0;
    ts.forEach((t, i) => {
      const term = inputs[i];
      const extra = t.ndim - term.labels.length;
      if (term.ellipsis < 0 ? extra !== 0 : extra < 0) {
        throw new ShapeError(
          `einsum: operand ${i} has shape ${fmtShape(t.shape)} (${t.ndim} axes) but its ` +
            `subscripts "${term.text}" name ${term.labels.length} ax${
              term.labels.length === 1 ? "is" : "es"
            }. Hint: give one label per axis, or use "..." for the leading axes.`,
        );
      }
      if (term.ellipsis >= 0) nEll = Math.max(nEll, extra);
      axisLabels.push(term.labels);
    });
    ts.forEach((t, i) => {
      const term = inputs[i];
      if (term.ellipsis < 0) return;
      const extra = t.ndim - term.labels.length;
      const ell = Array.from({ length: extra }, (_, j) => String(nEll - extra + j));
      axisLabels[i] = [
        ...term.labels.slice(0, term.ellipsis),
        ...ell,
        ...term.labels.slice(term.ellipsis),
      ];
    });
    // Label lengths: equal across operands, or 1 (broadcast); equal within one operand.
    const size = new Map<string, number>();
    const where = new Map<string, number>();
    const counts = new Map<string, number>();
    ts.forEach((t, i) => {
      const seen = new Map<string, number>();
      axisLabels[i].forEach((l, ax) => {
        const d = t.shape[ax];
        counts.set(l, (counts.get(l) ?? 0) + 1);
        const mine = seen.get(l);
        if (mine !== undefined && mine !== d) {
          throw new ShapeError(
            `einsum: operand ${i} of shape ${fmtShape(t.shape)} repeats label "${l}" on axes ` +
              `of lengths ${mine} and ${d}; a repeated label takes a diagonal, which needs ` +
              `equal lengths.`,
          );
        }
        seen.set(l, d);
        const cur = size.get(l);
        if (cur === undefined || cur === 1) {
          size.set(l, d);
          where.set(l, i);
        } else if (d !== cur && d !== 1) {
          const j = where.get(l)!;
          const name = /^\d+$/.test(l) ? `the "..." axis ${Number(l) - nEll}` : `label "${l}"`;
          throw new ShapeError(
            `einsum: ${name} has length ${cur} in operand ${j} (shape ${
              fmtShape(ts[j].shape)
            }) but ${d} in operand ${i} (shape ${fmtShape(t.shape)}). Lengths must match ` +
              `or be 1.`,
          );
        }
      });
    });
    const ellLabels = Array.from({ length: nEll }, (_, j) => String(j));
    let outLabels: string[];
    if (parts.length === 2) {
      const o = parseTerm(parts[1], "the output", subscripts);
      for (const [j, l] of o.labels.entries()) {
        if (!size.has(l)) {
          throw new ShapeError(
            `einsum: subscripts "${subscripts}": output label "${l}" does not appear in any ` +
              `operand. Hint: every output label must label an axis of some input.`,
          );
        }
        if (o.labels.indexOf(l) !== j) {
          throw new ShapeError(
            `einsum: subscripts "${subscripts}": output label "${l}" appears more than once.`,
          );
        }
      }
      if (o.ellipsis < 0 && nEll > 0) {
        throw new ShapeError(
          `einsum: subscripts "${subscripts}": the operands' "..." covers ${nEll} ax${
            nEll === 1 ? "is" : "es"
          } but the output has no "...". Hint: add "..." to the output.`,
        );
      }
      outLabels = o.ellipsis < 0 ? o.labels : [
        ...o.labels.slice(0, o.ellipsis),
        ...ellLabels,
        ...o.labels.slice(o.ellipsis),
      ];
    } else {
      const once = [...counts.entries()]
        .filter(([l, c]) => c === 1 && !/^\d+$/.test(l))
        .map(([l]) => l)
        .sort((p, q) => (p < q ? -1 : p > q ? 1 : 0));
      outLabels = [...ellLabels, ...once];
    }
    const outSet = new Set(outLabels);
    const redLabels = [...size.keys()].filter((l) => !outSet.has(l));
    const all = [...outLabels, ...redLabels];
    const shape = all.map((l) => size.get(l)!);
    for (const [i, t] of ts.entries()) {
      const strides = all.map(() => 0);
      axisLabels[i].forEach((l, ax) => {
        if (t.shape[ax] === 1 && size.get(l) !== 1) return; // broadcast: stride 0
        strides[all.indexOf(l)] += t.strides[ax];
      });
      views.push(t._view(shape, strides, t.offset));
    }
    const dtype = resultType(...ts.map((t) => t.dtype));
    const outShape = shape.slice(0, outLabels.length);
    const run = () =>
      runKernel1("einsum", views, { nOut: outLabels.length }, { shape: outShape, dtype });
    if (!needsGrad(ts)) return run();
    // Recorded as one op (core/grads/matmul.ts): each operand's gradient is an einsum of the
    // output gradient with the other operands, without materializing the joint index space.
    const out = noGrad(run);
    record("einsum", ts, [out], { labels: axisLabels, outLabels });
    return out;
  } finally {
    disposeAll(views);
    disposeAll(created);
  }
}
