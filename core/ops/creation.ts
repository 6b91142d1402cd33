/**
 * Creating tensors: from JS data, filled, ranges, identity.
 *
 * @module
 */
import { deviceProvider } from "../backend/registry.ts";
import {
  ALL_BLOCK_DTYPES,
  bigintToNumber,
  BLOCK_DTYPES,
  type BlockDType,
  byteLength,
  checkDType,
  type DType,
  isBlockDType,
  toBF16Bits,
  type TypedArray,
  typedArrayFor,
} from "../dtype.ts";
import { DTypeError, fmtShape, ShapeError } from "../errors.ts";
import { flattenNested, nestedShape } from "../nested.ts";
import { checkShape, sizeOf } from "../shape.ts";
import { checkAllocation, hostArray } from "../memory.ts";
import { type NestedArray, Tensor, type TensorLike } from "../tensor.ts";

/** Options shared by creation functions. */
export interface CreateOptions {
  /** Element type (default f32, or inferred from the data by `tensor()`). */
  dtype?: DType;
  /** Device to create the tensor on (default "cpu"). */
  device?: string;
}

/** Options of {@link tensor}. */
export interface TensorOptions extends CreateOptions {
  /** Shape for flat data (a typed array or flat list); default: inferred from nesting. */
  shape?: readonly number[];
}

function dtypeOfTyped(a: TypedArray): DType {
  if (a instanceof Float32Array) return "f32";
  if (a instanceof Float64Array) return "f64";
  if (a instanceof Float16Array) return "f16";
  if (a instanceof Int8Array) return "i8";
  if (a instanceof Uint8Array || (a as unknown) instanceof Uint8ClampedArray) return "u8";
  if (a instanceof Int16Array) return "i16";
  if (a instanceof Uint16Array) return "u16";
  if (a instanceof Int32Array) return "i32";
  if (a instanceof Uint32Array) return "u32";
  // BigInt64Array, and BigUint64Array read as two's complement (values ≥ 2^63 wrap).
  if (a instanceof BigInt64Array || (a as unknown) instanceof BigUint64Array) return "i64";
  throw new DTypeError(
    `tensor: unsupported typed array ${(a as object).constructor?.name}. ` +
      `Hint: pass a Float32Array, Float64Array, Float16Array, (Big)Int*Array or Uint*Array.`,
  );
}

function isBigIntArray(a: TypedArray): boolean {
  return a instanceof BigInt64Array || (a as unknown) instanceof BigUint64Array;
}

const I64_MIN = -(2n ** 63n), I64_MAX = 2n ** 63n - 1n;

/** Nested data with bigint leaves, flattened to exact i64 values (numbers truncated). */
function flattenBigInt(data: NestedArray, n: number, op: string): BigInt64Array {
  const out = new BigInt64Array(n);
  let k = 0;
  const walk = (d: NestedArray): void => {
    if (Array.isArray(d)) { for (const x of d) walk(x); }
    else if (typeof d === "bigint") {
      if (d < I64_MIN || d > I64_MAX) throw outOfBounds(op, d, "i64");
      out[k++] = d;
    } else {
      const v = Number(d);
      checkIntValue(op, v, "i64");
      out[k++] = BigInt(Math.trunc(v));
    }
  };
  walk(data);
  return out;
}

/** The range of each integer dtype (i64's as the doubles just inside it). */
const INT_RANGE: Readonly<Record<string, readonly [number, number]>> = Object.assign(
  Object.create(null),
  {
    i8: [-128, 127],
    u8: [0, 255],
    i16: [-32768, 32767],
    u16: [0, 65535],
    i32: [-(2 ** 31), 2 ** 31 - 1],
    u32: [0, 2 ** 32 - 1],
    i64: [-(2 ** 63), 2 ** 63 - 1],
  },
);

function outOfBounds(op: string, v: number | bigint, dtype: DType): DTypeError {
  const [lo, hi] = INT_RANGE[dtype];
  return new DTypeError(
    `${op}: the value ${v} is out of bounds for ${dtype} ([${dtype === "i64" ? "-2^63" : lo}, ${
      dtype === "i64" ? "2^63 - 1" : hi
    }]), as in NumPy 2. Hint: pick a wider dtype, or ` +
      `create the tensor in a wider dtype and cast with astype("${dtype}"), which wraps like ` +
      `NumPy's astype.`,
  );
}

/**
 * NumPy 2's rule for a Python number stored into an integer dtype: NaN and ±Infinity cannot be
 * converted, a fraction is truncated toward zero, and the truncated value must fit the dtype.
 */
function checkIntValue(op: string, v: number, dtype: DType): void {
  if (!Number.isFinite(v)) {
    throw new DTypeError(
      `${op}: cannot convert ${v} to the integer dtype ${dtype} (NumPy 2 raises too). Hint: ` +
        `replace non-finite values first, or keep a float dtype.`,
    );
  }
  const t = Math.trunc(v);
  const [lo, hi] = INT_RANGE[dtype];
  if (dtype === "i64" ? t < lo || t >= 2 ** 63 : t < lo || t > hi) throw outOfBounds(op, v, dtype);
}

function isTypedArray(x: unknown): x is TypedArray {
  return ArrayBuffer.isView(x) && !(x instanceof DataView);
}

/**
 * Write JS numbers into a fresh typed array of `dtype` (with NumPy's casts). With `op` (values
 * written by the user, like Python numbers in NumPy), integer dtypes check NumPy 2's rules; without
 * it (a typed array converted to another dtype) values convert like `astype`.
 */
function fromNumbers(values: ArrayLike<number>, dtype: DType, op?: string): TypedArray {
  const n = values.length;
  if (op !== undefined && dtype in INT_RANGE) {
    for (let i = 0; i < n; i++) checkIntValue(op, values[i], dtype);
  }
  const out = op !== undefined
    ? hostArray(op, [n], dtype)
    : typedArrayFor(dtype, new ArrayBuffer(byteLength(dtype, n)), 0, n);
  switch (dtype) {
    case "bf16":
      for (let i = 0; i < n; i++) out[i] = toBF16Bits(values[i]);
      break;
    case "bool":
      for (let i = 0; i < n; i++) out[i] = values[i] !== 0 ? 1 : 0;
      break;
    case "i64":
      for (let i = 0; i < n; i++) {
        out[i] = Number.isFinite(values[i]) ? BigInt(Math.trunc(values[i])) : 0n;
      }
      break;
    default:
      for (let i = 0; i < n; i++) out[i] = values[i];
  }
  return out;
}

/** A tensor on `device` holding the raw elements `raw` (already of `dtype`). */
export function fromTyped(
  raw: TypedArray,
  shape: readonly number[],
  dtype: DType,
  device = "cpu",
  op = "tensor",
): Tensor {
  // Raw data of the wrong length (a decoder handing over a truncated payload) never becomes a
  // tensor: it would read past the data or leave elements unset.
  const need = checkAllocation(op, shape, dtype);
  if (raw.byteLength !== need) {
    throw new ShapeError(
      `${op}: ${raw.byteLength} bytes of data cannot fill a ${dtype} tensor of shape ` +
        `${fmtShape(shape)} (${need} bytes). Hint: pass exactly the elements the shape holds.`,
    );
  }
  const t = Tensor.empty(shape, dtype, device, false, op);
  const bytes = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
  deviceProvider(device).write(t.storage, bytes, 0);
  return t;
}

/**
 * A tensor of a block-quantized type over raw blocks, e.g. a GGUF tensor's bytes handed over
 * without dequantizing. `shape` counts elements (ggml's `ne` reversed: rows first); its last axis
 * must hold whole blocks, and `bytes` must hold exactly the blocks of `shape`. The bytes are
 * copied onto `device`.
 *
 * @example
 * ```ts
 * import { fromBlocks } from "@aprender/compute";
 * const q = fromBlocks(new Uint8Array(4 * 18), "q4_0", [2, 64]); // 2 rows of 2 blocks
 * console.log(q.dtype, q.shape, q.slice(1).bytesSync().length); // "q4_0" [2, 64] 36
 * ```
 */
export function fromBlocks<B extends BlockDType>(
  bytes: Uint8Array,
  dtype: B,
  shape: readonly number[],
  device = "cpu",
): Tensor<B> {
  const op = "fromBlocks";
  if (!isBlockDType(dtype)) {
    throw new DTypeError(
      `${op}: ${JSON.stringify(dtype)} is not a block-quantized type (one of ` +
        `${ALL_BLOCK_DTYPES.join(", ")}). Hint: element data goes through tensor() or fromTyped().`,
    );
  }
  if (!(bytes instanceof Uint8Array)) {
    throw new DTypeError(`${op}: expected the raw blocks as a Uint8Array.`);
  }
  checkShape(shape, op);
  const b = BLOCK_DTYPES[dtype];
  if (shape.length === 0) {
    throw new ShapeError(
      `${op}: a ${dtype} tensor needs at least one axis (its last axis holds whole blocks).`,
    );
  }
  byteLength(dtype, shape[shape.length - 1], `${op}: the last axis of ${fmtShape(shape)}`);
  const need = byteLength(dtype, sizeOf(shape), op);
  if (bytes.length !== need) {
    throw new ShapeError(
      `${op}: shape ${fmtShape(shape)} of ${dtype} is ${sizeOf(shape) / b.blockSize} blocks of ` +
        `${b.blockBytes} bytes = ${need} bytes, but ${bytes.length} bytes were given. Hint: ` +
        `shape counts elements, ${b.blockSize} per block.`,
    );
  }
  const t = Tensor.empty(shape, dtype, device, false);
  deviceProvider(device).write(t.storage, bytes, 0);
  return t;
}

/**
 * Create a tensor from nested arrays, a typed array, a number or a boolean. The dtype defaults to
 * f32 for numbers, bool for booleans, and the typed array's own type (Float64Array → f64,
 * Int32Array → i32, ...); a flat typed array or list takes `shape` if given. Nested bigints
 * give i64 with all 64 bits kept. A Uint16Array with `dtype: "bf16"` is taken as raw bf16 bits
 * (the way bf16 is stored), not converted from integers.
 *
 * @example
 * ```ts
 * import { tensor } from "@aprender/compute";
 * const a = tensor([[1, 2], [3, 4]]);
 * const b = tensor(new Int32Array([1, 2, 3, 4, 5, 6]), { shape: [2, 3] });
 * const c = tensor([true, false]);
 * console.log(a.dtype, b.dtype, c.dtype); // f32 i32 bool
 * ```
 */
export function tensor(data: TensorLike, options: TensorOptions = {}): Tensor {
  if (data instanceof Tensor) {
    return options.dtype && options.dtype !== data.dtype
      ? data.astype(options.dtype)
      : data.clone();
  }
  if (options.dtype !== undefined) checkDType(options.dtype, "tensor");
  const device = options.device ?? "cpu";
  let shape: number[];
  let raw: TypedArray;
  let dtype: DType;
  if (isTypedArray(data)) {
    const own = dtypeOfTyped(data);
    dtype = options.dtype ?? own;
    shape = options.shape ? checkShape(options.shape, "tensor") : [data.length];
    if (
      dtype === own || (own === "u8" && dtype === "bool") || (own === "u16" && dtype === "bf16")
    ) {
      raw = data;
      if (dtype === "bool") raw = Uint8Array.from(data as Uint8Array, (v) => (v ? 1 : 0));
    } else if (isBigIntArray(data)) {
      // Like astype: exact wrap into narrower ints, one rounding into floats.
      raw = fromNumbers(Array.from(data as BigInt64Array, (v) => bigintToNumber(v, dtype)), dtype);
    } else raw = fromNumbers(data as ArrayLike<number>, dtype);
  } else {
    const nested = data as NestedArray;
    const inferred = nestedShape(nested);
    const flat = flattenNested(nested);
    const hasBool = hasBigIntLeaf(nested) ? "bigint" : firstLeaf(nested);
    // Any bigint leaf makes the data integers (i64), unless a number in it has a fraction.
    dtype = options.dtype ??
      (hasBool === "boolean"
        ? "bool"
        : hasBool === "bigint"
        ? (flat.every(Number.isInteger) ? "i64" : "f64")
        : "f32");
    shape = options.shape ? checkShape(options.shape, "tensor") : inferred;
    // bigint leaves keep all 64 bits when stored as i64 (numbers are exact only to 2^53).
    raw = dtype === "i64" && hasBool === "bigint"
      ? flattenBigInt(nested, flat.length, "tensor")
      : fromNumbers(flat, dtype, "tensor");
  }
  if (sizeOf(shape) !== raw.length) {
    throw new ShapeError(
      `tensor: ${raw.length} values do not fill shape ${fmtShape(shape)} ` +
        `(${sizeOf(shape)} elements). Hint: pass a shape whose lengths multiply to ${raw.length}.`,
    );
  }
  return fromTyped(raw, shape, dtype, device);
}

function hasBigIntLeaf(d: NestedArray): boolean {
  return Array.isArray(d) ? d.some(hasBigIntLeaf) : typeof d === "bigint";
}

function firstLeaf(d: NestedArray): string {
  while (Array.isArray(d)) {
    if (d.length === 0) return "number";
    d = d[0];
  }
  return typeof d;
}

/**
 * Turn an op argument into a tensor. Tensors pass through unchanged (not copied); numbers and
 * nested arrays become new tensors of `dtype` (default: as {@link tensor} infers).
 */
export function asTensor(x: TensorLike, dtype?: DType, device = "cpu"): Tensor {
  if (x instanceof Tensor) return x;
  if (typeof x === "number" && dtype !== undefined) return scalarTensor(x, dtype, device);
  return tensor(x, { dtype, device });
}

/**
 * `tensor(x, { dtype, device })` for a number (the weak scalar of every `t.mul(0.5)`): the same
 * checks and casts, without inferring a nested array's shape and leaf types (a hot path of small
 * GPU ops, ~1 µs each).
 */
function scalarTensor(x: number, dtype: DType, device: string): Tensor {
  checkDType(dtype, "tensor");
  if (dtype in INT_RANGE) checkIntValue("tensor", x, dtype);
  // One reused 8-byte scratch per dtype (providers copy what they are given).
  let s = SCALAR_SCRATCH.get(dtype);
  if (!s) {
    const buf = new ArrayBuffer(8);
    const n = byteLength(dtype, 1);
    SCALAR_SCRATCH.set(
      dtype,
      s = { raw: typedArrayFor(dtype, buf, 0, 1), bytes: new Uint8Array(buf, 0, n) },
    );
  }
  const raw = s.raw;
  if (dtype === "bf16") raw[0] = toBF16Bits(x);
  else if (dtype === "bool") raw[0] = x !== 0 ? 1 : 0;
  else if (dtype === "i64") raw[0] = Number.isFinite(x) ? BigInt(Math.trunc(x)) : 0n;
  else raw[0] = x;
  const t = Tensor.empty([], dtype, device, false, "tensor");
  deviceProvider(device).write(t.storage, s.bytes, 0);
  return t;
}
const SCALAR_SCRATCH = new Map<DType, { raw: TypedArray; bytes: Uint8Array }>();

/**
 * A tensor of `shape` filled with `value`. A bigint fills an i64 tensor (the default for one)
 * with all 64 bits.
 *
 * @example
 * ```ts
 * import { full } from "@aprender/compute";
 * console.log(full([2, 2], 7, { dtype: "i32" }).toArraySync()); // [[7, 7], [7, 7]]
 * console.log(full([1], 2n ** 53n + 1n).dataSync()[0]); // 9007199254740993n
 * ```
 */
export function full(
  shape: readonly number[],
  value: number | boolean | bigint,
  options: CreateOptions = {},
): Tensor {
  const dtype = options.dtype ??
    (typeof value === "boolean" ? "bool" : typeof value === "bigint" ? "i64" : "f32");
  checkDType(dtype, "full");
  const s = checkShape(shape, "full");
  if (typeof value !== "number" && typeof value !== "boolean" && typeof value !== "bigint") {
    throw new DTypeError(
      `full: fill value must be a number, boolean or bigint, got ${typeof value}.`,
    );
  }
  // A bigint keeps all 64 bits in i64 (range-checked like tensor()); a number is exact to 2^53.
  const one = typeof value === "bigint" && dtype === "i64"
    ? flattenBigInt(value, 1, "full")
    : fromNumbers([Number(value)], dtype, "full");
  const pattern = new Uint8Array(one.buffer, one.byteOffset, one.byteLength);
  const zero = pattern.every((b) => b === 0);
  const t = Tensor.empty(s, dtype, options.device ?? "cpu", zero, "full");
  if (!zero) fillBytes(t, pattern);
  return t;
}

/**
 * Fill a new contiguous tensor with one element's bytes repeated, at memory speed: a chunk of at
 * most 4 MiB is tiled by doubling copies and written over the storage chunk by chunk.
 */
function fillBytes(t: Tensor, pattern: Uint8Array): void {
  const total = t.storage.byteLength, eb = pattern.length;
  if (total === 0) return;
  const chunkBytes = Math.min(total, Math.max(eb, Math.floor(4 * 2 ** 20 / eb) * eb));
  const chunk = new Uint8Array(chunkBytes);
  chunk.set(pattern);
  for (let filled = eb; filled < chunkBytes; filled *= 2) {
    chunk.copyWithin(filled, 0, Math.min(filled, chunkBytes - filled));
  }
  const p = deviceProvider(t.device);
  for (let off = 0; off < total; off += chunkBytes) {
    p.write(t.storage, off + chunkBytes <= total ? chunk : chunk.subarray(0, total - off), off);
  }
}

/**
 * A tensor of zeros.
 *
 * @example
 * ```ts
 * import { zeros } from "@aprender/compute";
 * console.log(zeros([2, 3]).shape); // [2, 3]
 * ```
 */
export function zeros(shape: readonly number[], options: CreateOptions = {}): Tensor {
  const dtype = checkDType(options.dtype ?? "f32", "zeros");
  return Tensor.empty(checkShape(shape, "zeros"), dtype, options.device ?? "cpu", true, "zeros");
}

/**
 * A tensor of ones.
 *
 * @example
 * ```ts
 * import { ones } from "@aprender/compute";
 * console.log(ones([3], { dtype: "i8" }).toArraySync()); // [1, 1, 1]
 * ```
 */
export function ones(shape: readonly number[], options: CreateOptions = {}): Tensor {
  return full(shape, 1, { dtype: options.dtype ?? "f32", device: options.device });
}

/**
 * Zeros with the shape (and, unless given, dtype and device) of `t`.
 *
 * @example
 * ```ts
 * import { ones, zerosLike } from "@aprender/compute";
 * console.log(zerosLike(ones([2], { dtype: "i32" })).dtype); // "i32"
 * ```
 */
export function zerosLike(t: Tensor, options: CreateOptions = {}): Tensor {
  return zeros(t.shape, { dtype: options.dtype ?? t.dtype, device: options.device ?? t.device });
}

/**
 * Ones with the shape (and, unless given, dtype and device) of `t`.
 *
 * @example
 * ```ts
 * import { onesLike, zeros } from "@aprender/compute";
 * console.log(onesLike(zeros([2])).toArraySync()); // [1, 1]
 * ```
 */
export function onesLike(t: Tensor, options: CreateOptions = {}): Tensor {
  return ones(t.shape, { dtype: options.dtype ?? t.dtype, device: options.device ?? t.device });
}

/**
 * `value` with the shape (and, unless given, dtype and device) of `t`.
 *
 * @example
 * ```ts
 * import { fullLike, zeros } from "@aprender/compute";
 * console.log(fullLike(zeros([2]), 5).toArraySync()); // [5, 5]
 * ```
 */
export function fullLike(t: Tensor, value: number | boolean, options: CreateOptions = {}): Tensor {
  return full(t.shape, value, {
    dtype: options.dtype ?? t.dtype,
    device: options.device ?? t.device,
  });
}

/**
 * Evenly spaced values in `[start, stop)` with `step`, like NumPy's `arange`: `arange(n)` counts
 * 0..n-1. The dtype defaults to i32 when all arguments are integers (i64 when a value would not
 * fit in i32), else f32. (NumPy gives int64/float64: we keep to the library's 32-bit defaults.)
 *
 * @example
 * ```ts
 * import { arange } from "@aprender/compute";
 * console.log(arange(4).toArraySync(), arange(1, 2, 0.25).toArraySync());
 * // [0, 1, 2, 3] [1, 1.25, 1.5, 1.75]
 * ```
 */
export function arange(
  start: number,
  stop?: number,
  step = 1,
  options: CreateOptions = {},
): Tensor {
  if (stop === undefined) [start, stop] = [0, start];
  for (const [k, v] of [["start", start], ["stop", stop], ["step", step]] as const) {
    if (!Number.isFinite(v)) throw new ShapeError(`arange: ${k} must be finite, got ${v}.`);
  }
  if (step === 0) throw new ShapeError("arange: step cannot be 0.");
  const ints = Number.isInteger(start) && Number.isInteger(stop) && Number.isInteger(step);
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const last = start + (n - 1) * step;
  const fitsI32 = n === 0 ||
    (Math.min(start, last) >= -(2 ** 31) && Math.max(start, last) < 2 ** 31);
  const dtype = checkDType(options.dtype ?? (ints ? (fitsI32 ? "i32" : "i64") : "f32"), "arange");
  checkAllocation("arange", [n], dtype);
  const vals = hostArray("arange", [n], "f64");
  for (let i = 0; i < n; i++) vals[i] = start + i * step;
  return fromTyped(
    fromNumbers(vals as Float64Array, dtype, "arange"),
    [n],
    dtype,
    options.device,
    "arange",
  );
}

/** Options of {@link linspace}. */
export interface LinspaceOptions extends CreateOptions {
  /** Include `stop` as the last value (default true, like NumPy). */
  endpoint?: boolean;
}

/**
 * `num` evenly spaced values from `start` to `stop` (NumPy's `linspace`).
 *
 * @example
 * ```ts
 * import { linspace } from "@aprender/compute";
 * console.log(linspace(0, 1, 5).toArraySync()); // [0, 0.25, 0.5, 0.75, 1]
 * ```
 */
export function linspace(
  start: number,
  stop: number,
  num = 50,
  options: LinspaceOptions = {},
): Tensor {
  if (!Number.isInteger(num) || num < 0) {
    throw new ShapeError(`linspace: num must be an integer ≥ 0, got ${num}.`);
  }
  const endpoint = options.endpoint ?? true;
  const div = endpoint ? num - 1 : num;
  const step = div > 0 ? (stop - start) / div : NaN;
  const dtype = checkDType(options.dtype ?? "f32", "linspace");
  checkAllocation("linspace", [num], dtype);
  const vals = hostArray("linspace", [num], "f64") as Float64Array;
  for (let i = 0; i < num; i++) vals[i] = div > 0 ? start + i * step : start;
  if (endpoint && num > 1) vals[num - 1] = stop;
  return fromTyped(fromNumbers(vals, dtype, "linspace"), [num], dtype, options.device, "linspace");
}

/** Options of {@link eye}. */
export interface EyeOptions extends CreateOptions {
  /** Diagonal offset: 0 the main diagonal, > 0 above, < 0 below. */
  k?: number;
}

/**
 * An `n`×`m` matrix with ones on diagonal `k` (NumPy's `eye`).
 *
 * @example
 * ```ts
 * import { eye } from "@aprender/compute";
 * console.log(eye(2).toArraySync()); // [[1, 0], [0, 1]]
 * ```
 */
export function eye(n: number, m: number = n, options: EyeOptions = {}): Tensor {
  const shape = checkShape([n, m], "eye");
  const k = options.k ?? 0;
  if (!Number.isInteger(k)) {
    throw new ShapeError(`eye: diagonal offset k must be an integer, got ${k}.`);
  }
  const dtype = checkDType(options.dtype ?? "f32", "eye");
  const t = Tensor.empty(shape, dtype, options.device ?? "cpu", true, "eye");
  const one = fromNumbers([1], dtype, "eye");
  const oneBytes = new Uint8Array(one.buffer, one.byteOffset, one.byteLength);
  const p = deviceProvider(t.device);
  for (let i = 0; i < n; i++) {
    const j = i + k;
    if (j >= 0 && j < m) p.write(t.storage, oneBytes, (i * m + j) * one.byteLength);
  }
  return t;
}
