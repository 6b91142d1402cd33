/**
 * Helpers shared by the scalar kernels: typed views over host storage, element offsets of strided
 * (and broadcast) views in C order, and reading/writing elements as JS numbers for every dtype.
 *
 * The scalar backend is the reference: it favours obviously-correct code over speed, computing in
 * float64 and rounding once on store (so f32/f16/bf16 results are correctly rounded).
 *
 * @module
 */
import type { TensorView } from "../../core/backend/plugin.ts";
import {
  type DType,
  elementBytes,
  fromBF16Bits,
  toBF16Bits,
  type TypedArray,
  typedArrayFor,
} from "../../core/dtype.ts";
import {
  broadcastStrides,
  contiguousStrides,
  isContiguous,
  sizeOf,
  stridedOffsets,
} from "../../core/shape.ts";
import type { HostStorage } from "../../core/backend/host.ts";

/** A typed array over the whole storage of `t`, indexed by element offsets. */
export function typed(t: TensorView): TypedArray {
  const s = t.storage as HostStorage;
  const n = Math.floor(s.byteLength / elementBytes(t.dtype, "scalar kernel"));
  return typedArrayFor(t.dtype, s.buffer, s.byteOffset, n);
}

/**
 * Storage offsets of the elements of `t` in C order, read as if broadcast to `shape` (default:
 * its own shape). Returns null when they are simply offset..offset+size-1.
 */
export function offsets(
  t: TensorView,
  shape: readonly number[] = t.shape,
): Int32Array | Float64Array | null {
  const same = shape.length === t.shape.length && shape.every((d, i) => d === t.shape[i]);
  if (same && isContiguous(t.shape, t.strides)) return null;
  const strides = broadcastStrides(t.shape, t.strides, shape);
  return stridedOffsets(shape, strides, t.offset);
}

/** A function reading element `o` (a storage offset) of a typed array of `dtype` as a number. */
export function reader(dtype: DType, arr: TypedArray): (o: number) => number {
  switch (dtype) {
    case "bf16":
      return (o) => fromBF16Bits(arr[o] as number);
    case "i64":
      return (o) => Number(arr[o]);
    default:
      return (o) => arr[o] as number;
  }
}

/**
 * A float as i64 the way NumPy's cast does on x86-64 (cvttsd2si): truncated toward zero, and
 * NaN, ±Infinity and values outside [-2^63, 2^63) all become -2^63 (not wrapped modulo 2^64).
 */
export function floatToI64(v: number): bigint {
  return v >= -(2 ** 63) && v < 2 ** 63 ? BigInt(Math.trunc(v)) : -(2n ** 63n);
}

/** A function storing a number at storage offset `o`, cast the way NumPy's `astype` does. */
export function writer(dtype: DType, arr: TypedArray): (o: number, v: number) => void {
  switch (dtype) {
    case "bf16":
      return (o, v) => (arr[o] = toBF16Bits(v));
    case "i64":
      return (o, v) => (arr[o] = floatToI64(v));
    case "bool":
      return (o, v) => (arr[o] = v !== 0 ? 1 : 0);
    case "i8":
    case "u8":
    case "i16":
    case "u16":
    case "i32":
    case "u32":
      // Float → int: truncate toward zero like C casts; out-of-range wraps (NumPy: undefined).
      return (o, v) => (arr[o] = Math.trunc(v));
    default:
      return (o, v) => (arr[o] = v);
  }
}

/** The elements of `t` (broadcast to `shape`) as float64 values in C order. */
export function readF64(t: TensorView, shape: readonly number[] = t.shape): Float64Array {
  const n = sizeOf(shape);
  const out = new Float64Array(n);
  const arr = typed(t);
  const offs = offsets(t, shape);
  if (t.dtype === "f32" || t.dtype === "f64" || t.dtype === "f16" || isPlainInt(t.dtype)) {
    const a = arr as Float64Array;
    if (offs === null) { for (let i = 0, o = t.offset; i < n; i++, o++) out[i] = a[o]; }
    else for (let i = 0; i < n; i++) out[i] = a[offs[i]];
    return out;
  }
  const get = reader(t.dtype, arr);
  if (offs === null) { for (let i = 0; i < n; i++) out[i] = get(t.offset + i); }
  else for (let i = 0; i < n; i++) out[i] = get(offs[i]);
  return out;
}

function isPlainInt(d: DType): boolean {
  return d === "i8" || d === "u8" || d === "i16" || d === "u16" || d === "i32" || d === "u32" ||
    d === "bool";
}

/** Store float64 `values` (C order) into `out` (any strides), cast to its dtype. */
export function writeF64(out: TensorView, values: ArrayLike<number>): void {
  const arr = typed(out);
  const offs = offsets(out);
  const n = out.size;
  if (out.dtype === "f32" || out.dtype === "f64" || out.dtype === "f16") {
    const a = arr as Float64Array;
    if (offs === null) { for (let i = 0, o = out.offset; i < n; i++, o++) a[o] = values[i]; }
    else for (let i = 0; i < n; i++) a[offs[i]] = values[i];
    return;
  }
  const set = writer(out.dtype, arr);
  if (offs === null) { for (let i = 0; i < n; i++) set(out.offset + i, values[i]); }
  else for (let i = 0; i < n; i++) set(offs[i], values[i]);
}

/** Re-exported for kernels. */
export { contiguousStrides, stridedOffsets };
