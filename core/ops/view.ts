/**
 * Views (zero-copy: reshape of contiguous data, transpose/permute, squeeze/unsqueeze,
 * expand/broadcastTo, slice, select, flip) and copies (contiguous, clone, astype, to).
 *
 * @module
 */
import { deviceProvider } from "../backend/registry.ts";
import {
  type BlockDType,
  byteLength,
  byteOffset,
  checkStorageDType,
  type DType,
  isBlockDType,
  type StorageDType,
} from "../dtype.ts";
import { fmtShape, IndexError, ShapeError } from "../errors.ts";
import { noGrad, record } from "../autograd.ts";
import { commonDevice, runKernel1 } from "../op.ts";
import {
  broadcastStrides,
  contiguousStrides,
  normalizeAxes,
  normalizeAxis,
  sizeOf,
} from "../shape.ts";
import { Tensor } from "../tensor.ts";
import { copyBlocks, dequantize, quantize } from "./blocks.ts";
import { inferShape, parseSlice, sliceIndices, viewStrides } from "./view_geometry.ts";

/** Record a view op on the autograd graph (when needed) and return the view. */
function recorded<D extends StorageDType>(
  op: string,
  t: Tensor<D>,
  v: Tensor<D>,
  attrs: Record<string, unknown> = {},
): Tensor<D> {
  // Block tensors never require gradients, so record() returns at once for them.
  record(op, [t as Tensor], [v as Tensor], attrs);
  return v;
}

/**
 * Copy `src` (broadcast to `dst.shape`, cast to `dst.dtype`) into `dst`, which may be any view.
 * The building block of concat, pad, tile and friends.
 *
 * @example
 * ```ts
 * import { copyInto, zeros, ones } from "@aprender/compute";
 * const z = zeros([2, 3]);
 * copyInto(z.select(0, 1), ones([3]));
 * console.log(z.toArraySync()); // [[0, 0, 0], [1, 1, 1]]
 * ```
 */
export function copyInto(dst: Tensor, src: Tensor): Tensor {
  const target = dst.shape;
  // Validates broadcasting with a clear message.
  broadcastTo(src, target).dispose();
  commonDevice("copyInto", [src, dst]);
  runKernel1("copy", [src], {}, dst);
  return dst;
}

/**
 * A contiguous (C-order) tensor with the same values: `t` itself as a new view when already
 * contiguous, else a copy.
 *
 * @example
 * ```ts
 * import { arange } from "@aprender/compute";
 * const t = arange(6).reshape([2, 3]).T;
 * console.log(t.isContiguous, t.contiguous().isContiguous); // false true
 * ```
 */
export function contiguous<D extends StorageDType = DType>(t: Tensor<D>): Tensor<D> {
  if (t.isContiguous) return recorded("view.identity", t, t._view(t.shape, t.strides, t.offset));
  return copyOf(t);
}

/** A contiguous copy in new storage: the copy kernel, or the raw blocks of a block type. */
function copyOf<D extends StorageDType>(t: Tensor<D>): Tensor<D> {
  if (isBlockDType(t.dtype)) return copyBlocks(t);
  return astype(t as Tensor, t.dtype as DType) as Tensor<D>;
}

/**
 * A contiguous copy that owns new storage.
 *
 * @example
 * ```ts
 * import { ones } from "@aprender/compute";
 * const a = ones([2]);
 * const b = a.clone();
 * a.dispose();
 * console.log(b.toArraySync()); // [1, 1]
 * ```
 */
export function clone<D extends StorageDType = DType>(t: Tensor<D>): Tensor<D> {
  return copyOf(t);
}

/**
 * A contiguous copy converted to `dtype` (floats → ints truncate toward zero, like NumPy's
 * `astype`; anything → bool is `x != 0`).
 *
 * @example
 * ```ts
 * import { tensor } from "@aprender/compute";
 * console.log(tensor([1.7, -1.7]).astype("i32").toArraySync()); // [1, -1]
 * ```
 */
export function astype(t: Tensor<StorageDType>, dtype: DType): Tensor;
/** Quantize to a block type, through the kernel its table row names. */
export function astype<B extends BlockDType>(t: Tensor<StorageDType>, dtype: B): Tensor<B>;
/** Convert to any storage dtype. */
export function astype(t: Tensor<StorageDType>, dtype: StorageDType): Tensor<StorageDType>;
export function astype(t: Tensor<StorageDType>, dtype: StorageDType): Tensor<StorageDType> {
  checkStorageDType(dtype, "astype");
  if (isBlockDType(t.dtype)) {
    if (dtype === t.dtype) return copyOf(t);
    const f32 = dequantize(t as Tensor<BlockDType>, dtype);
    if (dtype === "f32") return f32;
    try {
      return astype(f32, dtype);
    } finally {
      f32.dispose();
    }
  }
  if (isBlockDType(dtype)) {
    const src = t.dtype === "f32" ? t as Tensor : noGrad(() => astype(t, "f32"));
    try {
      return quantize(src, dtype);
    } finally {
      if (src !== t) src.dispose();
    }
  }
  return runKernel1("copy", [t], {}, { shape: t.shape, dtype, overwritten: true });
}

/**
 * Move (copy) a tensor to another device ("cpu", "gpu"). On the same device, a new view over the
 * same storage.
 *
 * @example
 * ```ts
 * import { ones } from "@aprender/compute";
 * const t = await ones([2]).to("cpu");
 * console.log(t.device); // "cpu"
 * ```
 */
export async function to<D extends StorageDType = DType>(
  t: Tensor<D>,
  device: string,
): Promise<Tensor<D>> {
  if (device === t.device) {
    return recorded("view.identity", t, t._view(t.shape, t.strides, t.offset));
  }
  const target = deviceProvider(device);
  const src = contiguous(t);
  try {
    const bytes = await deviceProvider(t.device).read(
      src.storage,
      byteOffset(t.dtype, src.offset, "to"),
      byteLength(t.dtype, src.size, "to"),
    );
    const out = Tensor.empty(t.shape, t.dtype as StorageDType, device) as Tensor<D>;
    target.write(out.storage, bytes, 0);
    return out;
  } finally {
    src.dispose();
  }
}

/**
 * Give a tensor a new shape with the same number of elements; one length may be -1 (inferred).
 * Zero-copy when the tensor is contiguous or its strides allow a view (as in NumPy), else a
 * contiguous copy.
 *
 * @example
 * ```ts
 * import { arange } from "@aprender/compute";
 * console.log(arange(6).reshape([2, -1]).shape); // [2, 3]
 * ```
 */
export function reshape<D extends StorageDType = DType>(
  t: Tensor<D>,
  shape: readonly number[],
): Tensor<D> {
  const newShape = inferShape(shape, t.size, t.shape, "reshape");
  if (t.isContiguous) {
    return recorded("view.reshape", t, t._view(newShape, contiguousStrides(newShape), t.offset));
  }
  const strides = viewStrides(t.shape, t.strides, newShape);
  if (strides) return recorded("view.reshape", t, t._view(newShape, strides, t.offset));
  const c = contiguous(t);
  try {
    return recorded("view.reshape", c, c._view(newShape, contiguousStrides(newShape), c.offset));
  } finally {
    c.dispose();
  }
}

/**
 * Flatten axes `startAxis..endAxis` (inclusive) into one.
 *
 * @example
 * ```ts
 * import { zeros } from "@aprender/compute";
 * console.log(zeros([2, 3, 4]).flatten(1).shape); // [2, 12]
 * ```
 */
export function flatten<D extends StorageDType = DType>(
  t: Tensor<D>,
  startAxis = 0,
  endAxis = -1,
): Tensor<D> {
  if (t.ndim === 0) return reshape(t, [1]);
  const s = normalizeAxis(startAxis, t.ndim, "flatten");
  const e = normalizeAxis(endAxis, t.ndim, "flatten");
  if (s > e) {
    throw new IndexError(`flatten: startAxis ${startAxis} comes after endAxis ${endAxis}.`);
  }
  const shape = [...t.shape.slice(0, s), sizeOf(t.shape.slice(s, e + 1)), ...t.shape.slice(e + 1)];
  return reshape(t, shape);
}

/**
 * Permute axes (a view). `axes` lists, for each output axis, the input axis it takes; omitted,
 * the axes are reversed (NumPy's `transpose`).
 *
 * @example
 * ```ts
 * import { zeros } from "@aprender/compute";
 * console.log(zeros([2, 3, 4]).transpose().shape); // [4, 3, 2]
 * console.log(zeros([2, 3, 4]).transpose([0, 2, 1]).shape); // [2, 4, 3]
 * ```
 */
export function transpose<D extends StorageDType = DType>(
  t: Tensor<D>,
  axes?: readonly number[],
): Tensor<D> {
  if (axes === undefined) axes = [...Array(t.ndim).keys()].reverse();
  return permute(t, axes, "transpose");
}

/**
 * Reorder axes (a view): output axis i is input axis `axes[i]`.
 *
 * @example
 * ```ts
 * import { zeros } from "@aprender/compute";
 * console.log(zeros([2, 3, 4]).permute([2, 0, 1]).shape); // [4, 2, 3]
 * ```
 */
export function permute<D extends StorageDType = DType>(
  t: Tensor<D>,
  axes: readonly number[],
  op = "permute",
): Tensor<D> {
  if (axes.length !== t.ndim) {
    throw new ShapeError(
      `${op}: axes ${JSON.stringify(axes)} has ${axes.length} entries; the tensor of shape ` +
        `${fmtShape(t.shape)} has ${t.ndim} axes. Hint: list every axis exactly once.`,
    );
  }
  const norm = axes.map((a) => normalizeAxis(a, t.ndim, op));
  if (new Set(norm).size !== norm.length) {
    throw new IndexError(`${op}: axes ${JSON.stringify(axes)} repeat an axis.`);
  }
  const v = t._view(norm.map((a) => t.shape[a]), norm.map((a) => t.strides[a]), t.offset);
  return recorded("view.permute", t, v, { axes: norm });
}

/**
 * Swap two axes (a view), like PyTorch's `transpose(a, b)`.
 *
 * @example
 * ```ts
 * import { zeros } from "@aprender/compute";
 * console.log(zeros([2, 3, 4]).swapaxes(0, -1).shape); // [4, 3, 2]
 * ```
 */
export function swapaxes<D extends StorageDType = DType>(
  t: Tensor<D>,
  a: number,
  b: number,
): Tensor<D> {
  const i = normalizeAxis(a, t.ndim, "swapaxes"), j = normalizeAxis(b, t.ndim, "swapaxes");
  const axes = [...Array(t.ndim).keys()];
  [axes[i], axes[j]] = [axes[j], axes[i]];
  return permute(t, axes, "swapaxes");
}

/**
 * Remove axes of length 1 (all of them, or those named; naming an axis longer than 1 is an error).
 *
 * @example
 * ```ts
 * import { zeros } from "@aprender/compute";
 * console.log(zeros([1, 3, 1]).squeeze().shape); // [3]
 * ```
 */
export function squeeze<D extends StorageDType = DType>(
  t: Tensor<D>,
  axis?: number | readonly number[],
): Tensor<D> {
  const axes = axis === undefined
    ? t.shape.flatMap((d, i) => (d === 1 ? [i] : []))
    : normalizeAxes(axis, t.ndim, "squeeze");
  for (const a of axes) {
    if (t.shape[a] !== 1) {
      throw new ShapeError(
        `squeeze: axis ${a} of shape ${fmtShape(t.shape)} has length ${t.shape[a]}, not 1; ` +
          `only axes of length 1 can be squeezed.`,
      );
    }
  }
  const keep = t.shape.map((_, i) => !axes.includes(i));
  const v = t._view(
    t.shape.filter((_, i) => keep[i]),
    t.strides.filter((_, i) => keep[i]),
    t.offset,
  );
  return recorded("view.reshape", t, v);
}

/**
 * Insert an axis of length 1 at `axis` (negative counts from the end of the result).
 *
 * @example
 * ```ts
 * import { zeros } from "@aprender/compute";
 * console.log(zeros([3]).unsqueeze(0).shape, zeros([3]).unsqueeze(-1).shape); // [1, 3] [3, 1]
 * ```
 */
export function unsqueeze<D extends StorageDType = DType>(t: Tensor<D>, axis: number): Tensor<D> {
  const a = normalizeAxis(axis, t.ndim + 1, "unsqueeze");
  const shape = [...t.shape], strides = [...t.strides];
  shape.splice(a, 0, 1);
  strides.splice(a, 0, a < t.ndim ? t.strides[a] * t.shape[a] : 1);
  return recorded("view.reshape", t, t._view(shape, strides, t.offset));
}

/**
 * Broadcast to `shape` (a view with stride 0 on broadcast axes), NumPy's `broadcast_to`.
 *
 * @example
 * ```ts
 * import { tensor } from "@aprender/compute";
 * console.log(tensor([1, 2]).broadcastTo([3, 2]).toArraySync()); // [[1, 2], [1, 2], [1, 2]]
 * ```
 */
export function broadcastTo<D extends StorageDType = DType>(
  t: Tensor<D>,
  shape: readonly number[],
  op = "broadcastTo",
): Tensor<D> {
  const ok = shape.length >= t.ndim &&
    t.shape.every((d, i) => d === 1 || d === shape[shape.length - t.ndim + i]);
  if (!ok || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new ShapeError(
      `${op}: cannot broadcast shape ${fmtShape(t.shape)} to ${
        fmtShape(shape)
      }. Axes are matched ` +
        `from the right; each input length must equal the target length or be 1.`,
    );
  }
  const v = t._view(shape, broadcastStrides(t.shape, t.strides, shape), t.offset);
  return recorded("view.broadcastTo", t, v);
}

/**
 * Broadcast to `shape`, where -1 keeps the input's length (PyTorch's `expand`).
 *
 * @example
 * ```ts
 * import { zeros } from "@aprender/compute";
 * console.log(zeros([3, 1]).expand([-1, 4]).shape); // [3, 4]
 * ```
 */
export function expand<D extends StorageDType = DType>(
  t: Tensor<D>,
  shape: readonly number[],
): Tensor<D> {
  const off = shape.length - t.ndim;
  const target = shape.map((d, i) => (d === -1 && i >= off ? t.shape[i - off] : d));
  return broadcastTo(t, target, "expand");
}

/**
 * One axis of a slice spec:
 * - `null` or `":"`: the whole axis;
 * - a number: that index (the axis is dropped, like NumPy's `a[i]`); negatives count from the end;
 * - a string in NumPy syntax, `"start:stop:step"` (e.g. `"1:"`, `"::-1"`, `"-3:"`);
 * - `{ start, stop, step }` with the same meaning (missing parts take their defaults).
 */
export type SliceArg =
  | number
  | null
  | string
  | { start?: number | null; stop?: number | null; step?: number | null }
  | readonly [number | null, number | null, (number | null)?];

/**
 * Slice axes from the first on (a view): `t.slice(null, "::2")` is NumPy's `t[:, ::2]`.
 * Out-of-range bounds clamp like Python slices; an integer index out of range is an IndexError.
 *
 * @example
 * ```ts
 * import { arange } from "@aprender/compute";
 * const t = arange(12).reshape([3, 4]);
 * console.log(t.slice("1:", "::-2").toArraySync()); // [[7, 5], [11, 9]]
 * console.log(t.slice(null, 0).toArraySync()); // [0, 4, 8]
 * ```
 */
export function slice<D extends StorageDType = DType>(
  t: Tensor<D>,
  ...specs: SliceArg[]
): Tensor<D> {
  if (specs.length > t.ndim) {
    throw new IndexError(
      `slice: ${specs.length} indices for a tensor of rank ${t.ndim} (shape ${fmtShape(t.shape)}).`,
    );
  }
  const shape: number[] = [], strides: number[] = [];
  // Per input axis: [first index, step, count], count -1 for an indexed (dropped) axis.
  const plan: [number, number, number][] = [];
  let offset = t.offset;
  for (let a = 0; a < t.ndim; a++) {
    const spec = a < specs.length ? specs[a] : null;
    const len = t.shape[a], st = t.strides[a];
    if (typeof spec === "number") {
      const i = checkIndex(spec, len, a, t, "slice");
      offset += i * st;
      plan.push([i, 1, -1]);
      continue;
    }
    const { start, stop, step } = parseSlice(spec, a);
    const [s0, n] = sliceIndices(start, stop, step, len);
    shape.push(n);
    strides.push(st * step);
    offset += s0 * st;
    plan.push([s0, step, n]);
  }
  const v = t._view(shape, strides, n0(shape) ? t.offset : offset);
  return recorded("view.slice", t, v, { plan });
}

function n0(shape: number[]): boolean {
  return shape.includes(0);
}

function checkIndex(
  i: number,
  len: number,
  axis: number,
  t: Tensor<StorageDType>,
  op: string,
): number {
  if (!Number.isInteger(i) || i < -len || i >= len) {
    throw new IndexError(
      `${op}: index ${i} is out of range for axis ${axis} of length ${len} ` +
        `(shape ${fmtShape(t.shape)}); valid indices are ${-len}..${len - 1}.`,
    );
  }
  return i < 0 ? i + len : i;
}

/**
 * Index one position along `axis`, dropping the axis (a view).
 *
 * @example
 * ```ts
 * import { arange } from "@aprender/compute";
 * console.log(arange(6).reshape([2, 3]).select(1, -1).toArraySync()); // [2, 5]
 * ```
 */
export function select<D extends StorageDType = DType>(
  t: Tensor<D>,
  axis: number,
  index: number,
): Tensor<D> {
  const a = normalizeAxis(axis, t.ndim, "select");
  const i = checkIndex(index, t.shape[a], a, t, "select");
  const v = t._view(
    t.shape.filter((_, k) => k !== a),
    t.strides.filter((_, k) => k !== a),
    t.offset + i * t.strides[a],
  );
  const plan = t.shape.map((d, k): [number, number, number] => k === a ? [i, 1, -1] : [0, 1, d]);
  return recorded("view.slice", t, v, { plan });
}

/**
 * Reverse the order along the given axes (all when omitted): a view with negative strides, like
 * NumPy's `flip`.
 *
 * @example
 * ```ts
 * import { arange } from "@aprender/compute";
 * console.log(arange(4).flip().toArraySync()); // [3, 2, 1, 0]
 * ```
 */
export function flip<D extends StorageDType = DType>(
  t: Tensor<D>,
  axis?: number | readonly number[],
): Tensor<D> {
  const axes = normalizeAxes(axis, t.ndim, "flip");
  const strides = [...t.strides];
  let offset = t.offset;
  for (const a of axes) {
    if (t.shape[a] > 0) offset += (t.shape[a] - 1) * t.strides[a];
    strides[a] = -strides[a];
  }
  const v = t._view(t.shape, strides, t.size === 0 ? t.offset : offset);
  return recorded("view.flip", t, v, { axes });
}
