/**
 * Shape arithmetic: sizes, strides, broadcasting and axis normalization, with errors that name
 * the op and the shapes.
 *
 * @module
 */
import { ArgumentError, fmtShape, IndexError, ShapeError } from "./errors.ts";

/** A short description of an argument of the wrong form, for ArgumentError messages. */
export function describeArg(v: unknown): string {
  if (v === null || v === undefined || typeof v !== "object") {
    return typeof v === "bigint" ? `${v}n` : typeof v === "string" ? JSON.stringify(v) : String(v);
  }
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return Object.prototype.toString.call(v);
  }
}

/**
 * An ArgumentError unless `options` is undefined or a plain object whose keys are all in
 * `allowed`: a misspelt or foreign option (NumPy's `axis=` in the options of a PyTorch-style
 * call, `keepdim` for `keepdims`) is refused rather than silently ignored.
 */
export function checkOptions(op: string, options: unknown, allowed: readonly string[]): void {
  if (options === undefined) return;
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new ArgumentError(
      `${op}: options must be an object like { ${allowed.join(", ")} }, got ` +
        `${describeArg(options)}.`,
    );
  }
  for (const k of Object.keys(options)) {
    if (!allowed.includes(k)) {
      throw new ArgumentError(
        `${op}: unknown option "${k}"; the options are { ${allowed.join(", ")} }.`,
      );
    }
  }
}

/** A tensor shape: one non-negative length per axis. */
export type Shape = readonly number[];

/** Number of elements of a shape (1 for a scalar). */
export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major (C order) strides, in elements. */
export function contiguousStrides(shape: Shape): number[] {
  const s: number[] = [];
  for (let i = 0; i < shape.length; i++) s.push(1);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** True when `strides` are the C-order strides of `shape` (axes of length 1 may have any stride). */
export function isContiguous(shape: Shape, strides: readonly number[]): boolean {
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && strides[i] !== acc) return false;
    acc *= shape[i];
  }
  return true;
}

/** Check a user-given shape: integers ≥ 0. */
export function checkShape(shape: readonly number[], op: string): number[] {
  if (!Array.isArray(shape)) {
    throw new ShapeError(`${op}: shape must be an array of integers, got ${String(shape)}.`);
  }
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new ShapeError(
        `${op}: shape ${fmtShape(shape)} has an invalid length ${d}; lengths are integers ≥ 0.`,
      );
    }
  }
  return [...shape];
}

/**
 * The NumPy broadcast of several shapes.
 *
 * @example
 * ```ts
 * import { broadcastShapes } from "@aprender/compute";
 * console.log(broadcastShapes([3, 1], [4])); // [3, 4]
 * ```
 */
export function broadcastShapes(...shapes: Shape[]): number[] {
  return broadcastShapesFor("broadcast", ...shapes);
}

/** {@link broadcastShapes} with the op's name in the error message. */
export function broadcastShapesFor(op: string, ...shapes: Shape[]): number[] {
  // Loops rather than Math.max(...)/fill(): this runs on every elementwise op.
  let rank = 0;
  for (const s of shapes) rank = Math.max(rank, s.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) out.push(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const j = rank - s.length + i;
      const d = s[i];
      if (d === out[j] || d === 1) continue;
      if (out[j] === 1) {
        out[j] = d;
        continue;
      }
      throw new ShapeError(
        `${op}: shapes ${shapes.map(fmtShape).join(" and ")} cannot be broadcast together: ` +
          `axis ${j - rank} has lengths ${
            out[j]
          } and ${d}. Broadcasting needs equal lengths or 1; ` +
          `hint: reshape or unsqueeze one operand so the axes line up.`,
      );
    }
  }
  return out;
}

/**
 * Strides that read a tensor of `shape`/`strides` as if broadcast to `target` (0 on broadcast
 * axes). The shape must broadcast to `target`.
 */
export function broadcastStrides(
  shape: Shape,
  strides: readonly number[],
  target: Shape,
): number[] {
  const out: number[] = [];
  const off = target.length - shape.length;
  for (let i = 0; i < off; i++) out.push(0);
  for (let i = 0; i < shape.length; i++) {
    out.push(shape[i] === 1 && target[off + i] !== 1 ? 0 : strides[i]);
  }
  return out;
}

/**
 * Coalesce the axes of a strided walk shared by several operands: drop length-1 axes and merge
 * neighbours that are contiguous in every operand (`strides[j]` are operand j's strides over
 * `shape`), so a contiguous walk becomes rank 1 and kernels do less index math. The walk visits
 * the same offsets in the same order; the result has rank ≥ 1 (a size-1 walk is `[1]`, strides 0).
 *
 * @example
 * ```ts ignore
 * import { coalesceAxes } from "./shape.ts";
 * console.log(coalesceAxes([2, 1, 3], [[3, 3, 1], [1, 0, 2]]));
 * // { shape: [2, 3], strides: [[3, 1], [1, 2]] }: the first operand's axes 0 and 2 are
 * // contiguous but the second's are not, so they stay apart
 * ```
 */
export function coalesceAxes(
  shape: readonly number[],
  strides: readonly (readonly number[])[],
): { shape: number[]; strides: number[][] } {
  const dims: number[] = [];
  const st: number[][] = strides.map(() => []);
  for (let ax = 0; ax < shape.length; ax++) {
    const d = shape[ax];
    if (d === 1) continue;
    const last = dims.length - 1;
    if (last >= 0 && strides.every((s, j) => st[j][last] === s[ax] * d)) {
      dims[last] *= d;
      for (let j = 0; j < st.length; j++) st[j][last] = strides[j][ax];
    } else {
      dims.push(d);
      for (let j = 0; j < st.length; j++) st[j].push(strides[j][ax]);
    }
  }
  if (dims.length === 0) return { shape: [1], strides: st.map(() => [0]) };
  return { shape: dims, strides: st };
}

/** Normalize one axis (negatives count from the end); errors name the op, axis and rank. */
export function normalizeAxis(axis: number, rank: number, op: string): number {
  if (!Number.isInteger(axis)) {
    throw new IndexError(`${op}: axis must be an integer, got ${axis}.`);
  }
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) {
    throw new IndexError(
      `${op}: axis ${axis} is out of range for a tensor of rank ${rank}; ` +
        (rank === 0 ? "a scalar has no axes." : `valid axes are ${-rank}..${rank - 1}.`),
    );
  }
  return a;
}

/**
 * Normalize an `axis` argument (number, list, or undefined meaning all axes) to sorted unique
 * non-negative axes.
 */
export function normalizeAxes(
  axis: number | readonly number[] | undefined | null,
  rank: number,
  op: string,
): number[] {
  if (axis === undefined || axis === null) return [...Array(rank).keys()];
  if (
    typeof axis !== "number" && !(Array.isArray(axis) && axis.every((a) => typeof a === "number"))
  ) {
    throw new ArgumentError(
      `${op}: axis must be a number, an array of numbers, or null/undefined (all axes); got ` +
        `${describeArg(axis)}. Hint: pass the axis itself, e.g. 0 or [0, 1].`,
    );
  }
  const list = typeof axis === "number" ? [axis] : [...axis];
  const out = list.map((a) => normalizeAxis(a, rank, op));
  if (new Set(out).size !== out.length) {
    throw new IndexError(`${op}: repeated axis in ${JSON.stringify(list)}.`);
  }
  return out.sort((x, y) => x - y);
}

/**
 * Storage offsets (in elements) of a strided walk over `shape` in C order: the position of each
 * logical element of a view. Metadata only; used by kernels and by autograd's generic view rule.
 */
export function stridedOffsets(
  shape: readonly number[],
  strides: readonly number[],
  offset: number,
): Int32Array | Float64Array {
  const n = sizeOf(shape);
  const out = n < 2 ** 31 ? new Int32Array(n) : new Float64Array(n);
  const r = shape.length;
  if (n === 0) return out;
  if (r === 0) {
    out[0] = offset;
    return out;
  }
  const idx = new Array<number>(r).fill(0);
  const last = r - 1, lastLen = shape[last], lastStride = strides[last];
  let base = offset;
  let k = 0;
  for (;;) {
    for (let j = 0, o = base; j < lastLen; j++, o += lastStride) out[k++] = o;
    let a = last - 1;
    for (; a >= 0; a--) {
      base += strides[a];
      if (++idx[a] < shape[a]) break;
      base -= strides[a] * shape[a];
      idx[a] = 0;
    }
    if (a < 0) break;
  }
  return out;
}
