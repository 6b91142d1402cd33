/**
 * Data types: one table, the single source for storage, kernels, io and tests. Element dtypes
 * (f32 … bool) carry their byte size, float layout (finfo) or integer limits (iinfo) and ggml id;
 * block-quantized storage types of GGUF (Q4_0 … Q8_K, IQ, TQ, MXFP4) carry their block size,
 * bytes per block and the kernels that convert them. Byte sizes always come from
 * {@link byteLength} / {@link byteOffset} (never `count * bytes`, which a block type breaks), and
 * code that needs an element's byte size for strides asks {@link elementBytes}, which refuses
 * block types.
 *
 * @module
 */
import { DTypeError } from "./errors.ts";

/** The element types a tensor can hold. */
export type DType =
  | "f32"
  | "f64"
  | "f16"
  | "bf16"
  | "i8"
  | "u8"
  | "i16"
  | "u16"
  | "i32"
  | "u32"
  | "i64"
  | "bool";

/** What family a dtype belongs to. */
export type DTypeKind = "float" | "int" | "uint" | "bool";

/** The binary layout of a float dtype (IEEE 754 style: sign, exponent, mantissa bits). */
export interface FloatLayout {
  /** Exponent bits (NumPy's `finfo.nexp`). */
  readonly exponentBits: number;
  /** Explicit mantissa bits (NumPy's `finfo.nmant`). */
  readonly mantissaBits: number;
}

/** One row of the dtype table. */
export interface DTypeInfo {
  /** The dtype's name. */
  readonly name: DType;
  /** Family: float, signed int, unsigned int or bool. */
  readonly kind: DTypeKind;
  /**
   * Bytes per element. Code computing sizes uses {@link byteLength} / {@link byteOffset} or
   * {@link elementBytes}, which also handle or refuse block types.
   */
  readonly bytes: number;
  /** Bits of the value (for promotion). */
  readonly bits: number;
  /** NumPy's name for the dtype (`.npy` descr without the byte-order char), or null if NumPy lacks it. */
  readonly numpy: string | null;
  /** ggml's type id (the value GGUF files store), or null where GGUF has no such type. */
  readonly ggml: number | null;
  /** Exponent and mantissa bits of float dtypes; null for the others. */
  readonly float: FloatLayout | null;
  /** Smallest and largest value of integer dtypes (exact, as bigints); null for the others. */
  readonly limits: { readonly min: bigint; readonly max: bigint } | null;
}

const row = (
  name: DType,
  kind: DTypeKind,
  bytes: number,
  numpy: string | null,
  ggml: number | null,
  float: FloatLayout | null = null,
): DTypeInfo => {
  const bits = bytes * 8;
  const limits = kind === "int"
    ? { min: -(2n ** BigInt(bits - 1)), max: 2n ** BigInt(bits - 1) - 1n }
    : kind === "uint"
    ? { min: 0n, max: 2n ** BigInt(bits) - 1n }
    : null;
  return { name, kind, bytes, bits, numpy, ggml, float, limits };
};

const layout = (exponentBits: number, mantissaBits: number): FloatLayout => ({
  exponentBits,
  mantissaBits,
});

/**
 * The element dtype table.
 *
 * @example
 * ```ts
 * import { DTYPES } from "@aprender/compute";
 * console.log(DTYPES.f16.bytes, DTYPES.f16.float); // 2 { exponentBits: 5, mantissaBits: 10 }
 * ```
 */
export const DTYPES: Readonly<Record<DType, DTypeInfo>> = {
  f32: row("f32", "float", 4, "f4", 0, layout(8, 23)),
  f64: row("f64", "float", 8, "f8", 28, layout(11, 52)),
  f16: row("f16", "float", 2, "f2", 1, layout(5, 10)),
  bf16: row("bf16", "float", 2, null, 30, layout(8, 7)),
  i8: row("i8", "int", 1, "i1", 24),
  u8: row("u8", "uint", 1, "u1", null),
  i16: row("i16", "int", 2, "i2", 25),
  u16: row("u16", "uint", 2, "u2", null),
  i32: row("i32", "int", 4, "i4", 26),
  u32: row("u32", "uint", 4, "u4", null),
  i64: row("i64", "int", 8, "i8", 27),
  bool: row("bool", "bool", 1, "b1", null),
};

/** The block-quantized storage types of GGUF/ggml, by ggml's lower-case names. */
export type BlockDType =
  | "q4_0"
  | "q4_1"
  | "q5_0"
  | "q5_1"
  | "q8_0"
  | "q8_1"
  | "q2_k"
  | "q3_k"
  | "q4_k"
  | "q5_k"
  | "q6_k"
  | "q8_k"
  | "iq2_xxs"
  | "iq2_xs"
  | "iq3_xxs"
  | "iq1_s"
  | "iq4_nl"
  | "iq3_s"
  | "iq2_s"
  | "iq4_xs"
  | "iq1_m"
  | "tq1_0"
  | "tq2_0"
  | "mxfp4";

/** Any dtype a tensor's storage can have: an element dtype or a block-quantized type. */
export type StorageDType = DType | BlockDType;

/** One row of the block-type table: a run of `blockSize` elements stored in `blockBytes` bytes. */
export interface BlockDTypeInfo {
  /** The type's name (ggml's, lower case). */
  readonly name: BlockDType;
  /** Always "block". */
  readonly kind: "block";
  /** ggml's type id (`enum ggml_type`, the value GGUF files store). */
  readonly ggml: number;
  /** Elements per block. */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly blockBytes: number;
  /**
   * Name of the kernel that converts this type to f32 (input: a tensor of this type; output:
   * f32 of the same shape). `astype` from this type routes to it.
   */
  readonly dequantize: "dequantize";
  /**
   * Name of the kernel that converts f32 to this type (llama.cpp's reference rounding, no
   * importance matrix), or null where ggml itself needs an importance matrix (most IQ types).
   */
  readonly quantize: "quantize" | null;
}

/** Block types ggml quantizes only with an importance matrix: no reference `quantize` kernel. */
const NEEDS_IMATRIX = new Set(["iq2_xxs", "iq2_xs", "iq3_xxs", "iq1_s", "iq3_s", "iq2_s", "iq1_m"]);

const blockRow = (
  name: BlockDType,
  ggml: number,
  blockSize: number,
  blockBytes: number,
): BlockDTypeInfo => ({
  name,
  kind: "block",
  ggml,
  blockSize,
  blockBytes,
  dequantize: "dequantize",
  quantize: NEEDS_IMATRIX.has(name) ? null : "quantize",
});

/**
 * The block-quantized types, with ggml's ids and layouts (`ggml-common.h`). Q8_1 blocks are 36
 * bytes as in ggml (gguf-py's table says 40). Ids 4, 5, 31–33 and 36–38 were removed from ggml.
 *
 * @example
 * ```ts
 * import { BLOCK_DTYPES } from "@aprender/compute";
 * console.log(BLOCK_DTYPES.q4_0.blockBytes); // 18 bytes hold 32 elements
 * ```
 */
export const BLOCK_DTYPES: Readonly<Record<BlockDType, BlockDTypeInfo>> = {
  q4_0: blockRow("q4_0", 2, 32, 18),
  q4_1: blockRow("q4_1", 3, 32, 20),
  q5_0: blockRow("q5_0", 6, 32, 22),
  q5_1: blockRow("q5_1", 7, 32, 24),
  q8_0: blockRow("q8_0", 8, 32, 34),
  q8_1: blockRow("q8_1", 9, 32, 36),
  q2_k: blockRow("q2_k", 10, 256, 84),
  q3_k: blockRow("q3_k", 11, 256, 110),
  q4_k: blockRow("q4_k", 12, 256, 144),
  q5_k: blockRow("q5_k", 13, 256, 176),
  q6_k: blockRow("q6_k", 14, 256, 210),
  q8_k: blockRow("q8_k", 15, 256, 292),
  iq2_xxs: blockRow("iq2_xxs", 16, 256, 66),
  iq2_xs: blockRow("iq2_xs", 17, 256, 74),
  iq3_xxs: blockRow("iq3_xxs", 18, 256, 98),
  iq1_s: blockRow("iq1_s", 19, 256, 50),
  iq4_nl: blockRow("iq4_nl", 20, 32, 18),
  iq3_s: blockRow("iq3_s", 21, 256, 110),
  iq2_s: blockRow("iq2_s", 22, 256, 82),
  iq4_xs: blockRow("iq4_xs", 23, 256, 136),
  iq1_m: blockRow("iq1_m", 29, 256, 56),
  tq1_0: blockRow("tq1_0", 34, 256, 54),
  tq2_0: blockRow("tq2_0", 35, 256, 66),
  mxfp4: blockRow("mxfp4", 39, 32, 17),
};

/**
 * ggml's type ids of the element dtypes GGUF can store (F32, F16, BF16, F64, I8..I64), from the
 * table's `ggml` column; the other element dtypes have no GGUF type.
 *
 * @example
 * ```ts
 * import { GGML_ELEMENT_IDS } from "@aprender/compute";
 * console.log(GGML_ELEMENT_IDS.bf16); // 30
 * ```
 */
export const GGML_ELEMENT_IDS: Readonly<Partial<Record<DType, number>>> = Object.fromEntries(
  Object.values(DTYPES).flatMap((r) => (r.ggml === null ? [] : [[r.name, r.ggml]])),
);

/** Every dtype name, in table order. */
export const ALL_DTYPES: readonly DType[] = Object.keys(DTYPES) as DType[];

/**
 * Check that `d` names a dtype.
 *
 * @example
 * ```ts
 * import { isDType } from "@aprender/compute";
 * console.log(isDType("f32"), isDType("float32")); // true false
 * ```
 */
export function isDType(d: unknown): d is DType {
  if (typeof d !== "string") return false;
  const r = ROWS.get(d);
  return r !== undefined && r.kind !== "block";
}

/** Throw a DTypeError unless `d` names an element dtype (a block type gets the block hint). */
export function checkDType(d: unknown, op: string): DType {
  const r = typeof d === "string" ? ROWS.get(d) : undefined;
  if (r !== undefined && r.kind !== "block") return r.name;
  if (r !== undefined) throw blockDTypeError(op, r.name);
  throw new DTypeError(
    `${op}: unknown dtype ${JSON.stringify(d)}. Expected one of ${ALL_DTYPES.join(", ")}.`,
  );
}

// ---- block types and the one lookup ----------------------------------------------------------

/**
 * Every row by name, element and block types alike: the one lookup behind the functions below
 * (a Map lookup is several times cheaper than `Object.hasOwn` on the records, and these run on
 * every op's dispatch).
 */
const ROWS: ReadonlyMap<string, DTypeInfo | BlockDTypeInfo> = new Map<
  string,
  DTypeInfo | BlockDTypeInfo
>([...Object.entries(DTYPES), ...Object.entries(BLOCK_DTYPES)]);

/** Every block-quantized type name, in ggml id order. */
export const ALL_BLOCK_DTYPES: readonly BlockDType[] = Object.keys(BLOCK_DTYPES) as BlockDType[];

/**
 * Check that `d` names a block-quantized storage type.
 *
 * @example
 * ```ts
 * import { isBlockDType } from "@aprender/compute";
 * console.log(isBlockDType("q4_0"), isBlockDType("f32")); // true false
 * ```
 */
export function isBlockDType(d: unknown): d is BlockDType {
  return typeof d === "string" && ROWS.get(d)?.kind === "block";
}

/**
 * Check that `d` names an element dtype or a block type.
 *
 * @example
 * ```ts
 * import { isStorageDType } from "@aprender/compute";
 * console.log(isStorageDType("q8_0"), isStorageDType("i32"), isStorageDType("q9")); // true true false
 * ```
 */
export function isStorageDType(d: unknown): d is StorageDType {
  return isDType(d) || isBlockDType(d);
}

/** Throw a DTypeError unless `d` names an element dtype or a block type. */
export function checkStorageDType(d: unknown, op: string): StorageDType {
  if (!isStorageDType(d)) {
    throw new DTypeError(
      `${op}: unknown dtype ${JSON.stringify(d)}. Expected an element dtype ` +
        `(${ALL_DTYPES.join(", ")}) or a block type (${ALL_BLOCK_DTYPES.join(", ")}).`,
    );
  }
  return d;
}

/**
 * The error every op gives a block-quantized operand it cannot read.
 *
 * @example
 * ```ts
 * import { blockDTypeError } from "@aprender/compute";
 * console.log(blockDTypeError("add", "q4_0").message.startsWith("add: q4_0 is")); // true
 * ```
 */
export function blockDTypeError(op: string, d: BlockDType): DTypeError {
  const b = BLOCK_DTYPES[d];
  return new DTypeError(
    `${op}: ${d} is a block-quantized storage type (${b.blockSize} elements in ` +
      `${b.blockBytes}-byte blocks); dequantize it first (astype("f32")) or use a kernel that ` +
      `reads it.`,
  );
}

/**
 * The table row of any storage dtype: a {@link DTypeInfo} (kind float/int/uint/bool) or a
 * {@link BlockDTypeInfo} (kind "block").
 *
 * @example
 * ```ts
 * import { dtypeInfo } from "@aprender/compute";
 * const r = dtypeInfo("q4_k");
 * console.log(r.kind === "block" && r.blockSize, r.kind === "block" && r.blockBytes); // 256 144
 * ```
 */
export function dtypeInfo(d: StorageDType, op = "dtypeInfo"): DTypeInfo | BlockDTypeInfo {
  return (typeof d === "string" && ROWS.get(d)) || ROWS.get(checkStorageDType(d, op))!;
}

/**
 * The row of an element dtype; a DTypeError for block types (they have no per-element layout).
 *
 * @example
 * ```ts
 * import { elementInfo } from "@aprender/compute";
 * console.log(elementInfo("i16").bits); // 16
 * ```
 */
export function elementInfo(d: StorageDType, op = "elementInfo"): DTypeInfo {
  const r = typeof d === "string" ? ROWS.get(d) : undefined;
  if (r !== undefined && r.kind !== "block") return r;
  return DTYPES[checkDType(d, op)]; // throws: a block type, or no dtype at all
}

/**
 * Bytes per element of an element dtype, for element strides and addresses. A block type throws
 * a DTypeError, so a block type is never silently treated as elements.
 *
 * @example
 * ```ts
 * import { elementBytes } from "@aprender/compute";
 * console.log(elementBytes("f64")); // 8
 * ```
 */
export function elementBytes(d: StorageDType, op = "elementBytes"): number {
  return elementInfo(d, op).bytes;
}

function checkCount(d: StorageDType, n: number, what: string, op: string, signed: boolean): void {
  if (!Number.isSafeInteger(n) || (!signed && n < 0)) {
    throw new DTypeError(
      `${op}: ${what} of ${d} must be a ${signed ? "" : "non-negative "}safe integer, got ${n}.`,
    );
  }
}

/** The block size, or a DTypeError unless `n` is a multiple of it. */
function checkBlockAligned(b: BlockDTypeInfo, n: number, what: string, op: string): number {
  if (n % b.blockSize !== 0) {
    throw new DTypeError(
      `${op}: ${b.name} stores whole blocks of ${b.blockSize} elements (${b.blockBytes} bytes ` +
        `each); ${what} ${n} is not a multiple of ${b.blockSize}. Hint: a row of a ${b.name} ` +
        `tensor must hold whole blocks; slice or reshape at block boundaries, or dequantize first.`,
    );
  }
  return b.blockSize;
}

/**
 * Bytes that `count` elements of `d` occupy: `count * bytes` for element dtypes,
 * `count / blockSize * blockBytes` for block types (a DTypeError unless `count` is a multiple of
 * the block size).
 *
 * @example
 * ```ts
 * import { byteLength } from "@aprender/compute";
 * console.log(byteLength("f32", 10), byteLength("q4_0", 64)); // 40 36
 * ```
 */
export function byteLength(d: StorageDType, count: number, op = "byteLength"): number {
  const r = ROWS.get(d);
  if (r !== undefined && r.kind !== "block" && count >= 0 && Number.isSafeInteger(count)) {
    return count * r.bytes; // the fast path of every allocation
  }
  return byteLengthChecked(dtypeInfo(d, op), count, op);
}

function byteLengthChecked(r: DTypeInfo | BlockDTypeInfo, count: number, op: string): number {
  checkCount(r.name, count, "element count", op, false);
  if (r.kind !== "block") return count * r.bytes;
  return (count / checkBlockAligned(r, count, "element count", op)) * r.blockBytes;
}

/**
 * Byte offset of element `index` within storage of `d` (may be negative for relative offsets of
 * element dtypes); for block types `index` must start a block (a DTypeError otherwise).
 *
 * @example
 * ```ts
 * import { byteOffset } from "@aprender/compute";
 * console.log(byteOffset("f16", 3), byteOffset("q8_0", 64)); // 6 68
 * ```
 */
export function byteOffset(d: StorageDType, index: number, op = "byteOffset"): number {
  const r = ROWS.get(d);
  if (r !== undefined && r.kind !== "block" && Number.isSafeInteger(index)) return index * r.bytes;
  return byteOffsetChecked(dtypeInfo(d, op), index, op);
}

function byteOffsetChecked(r: DTypeInfo | BlockDTypeInfo, index: number, op: string): number {
  checkCount(r.name, index, "element index", op, true);
  if (r.kind !== "block") return index * r.bytes;
  return (index / checkBlockAligned(r, index, "element index", op)) * r.blockBytes;
}

/** True for f16, bf16, f32, f64. */
export function isFloat(d: DType): boolean {
  return elementInfo(d, "isFloat").kind === "float";
}

/** True for signed and unsigned integer dtypes (not bool). */
export function isInt(d: DType): boolean {
  const k = elementInfo(d, "isInt").kind;
  return k === "int" || k === "uint";
}

/** A typed array able to hold the raw elements of some dtype. */
export type TypedArray =
  | Float32Array
  | Float64Array
  | Float16Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array;

/**
 * A typed array constructor over the raw elements of `d`.
 * bf16 is held as its raw bits in a Uint16Array; bool as 0/1 in a Uint8Array.
 */
export function typedArrayFor(
  d: DType,
  buffer: ArrayBufferLike,
  byteOffset: number,
  length: number,
): TypedArray {
  switch (d) {
    case "f32":
      return new Float32Array(buffer, byteOffset, length);
    case "f64":
      return new Float64Array(buffer, byteOffset, length);
    case "f16":
      return new Float16Array(buffer, byteOffset, length);
    case "bf16":
    case "u16":
      return new Uint16Array(buffer, byteOffset, length);
    case "i8":
      return new Int8Array(buffer, byteOffset, length);
    case "u8":
    case "bool":
      return new Uint8Array(buffer, byteOffset, length);
    case "i16":
      return new Int16Array(buffer, byteOffset, length);
    case "i32":
      return new Int32Array(buffer, byteOffset, length);
    case "u32":
      return new Uint32Array(buffer, byteOffset, length);
    case "i64":
      return new BigInt64Array(buffer, byteOffset, length);
  }
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** Round a number to bf16 (round to nearest even) and return its 16 raw bits. */
export function toBF16Bits(x: number): number {
  f32Scratch[0] = x;
  const u = u32Scratch[0];
  if (Number.isNaN(x)) return ((u >>> 16) | 0x40) & 0xffff; // keep sign, force a quiet NaN
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** The number whose bf16 raw bits are `bits`. */
export function fromBF16Bits(bits: number): number {
  u32Scratch[0] = (bits & 0xffff) << 16;
  return f32Scratch[0];
}

/** Significand bits of each float dtype, for {@link bigintToNumber}. */
const PRECISION: Readonly<Record<string, bigint>> = Object.assign(Object.create(null), {
  f64: 53n,
  f32: 24n,
  f16: 11n,
  bf16: 8n,
});

/**
 * An i64 value as a JS number for storing as `d`, converted the way NumPy's casts do: a float
 * dtype gets `v` rounded once to its precision (nearest, ties to even; `Number(v)` then f32 would
 * round twice), an integer dtype gets `v` wrapped to its width (exact past 2^53), bool `v != 0`.
 *
 * @example
 * ```ts
 * import { bigintToNumber } from "@aprender/compute/internal";
 * console.log(bigintToNumber(2n ** 53n + 1n, "i32")); // 1
 * ```
 */
export function bigintToNumber(v: bigint, d: DType): number {
  const p = PRECISION[d];
  if (p !== undefined) {
    const m = v < 0n ? -v : v;
    const len = BigInt(m.toString(2).length);
    if (len <= p) return Number(v);
    const shift = len - p, q = m >> shift, r = m - (q << shift), half = 1n << (shift - 1n);
    const q2 = r > half || (r === half && (q & 1n) === 1n) ? q + 1n : q;
    const x = Number(q2) * 2 ** Number(shift);
    return v < 0n ? -x : x;
  }
  if (d === "bool") return v !== 0n ? 1 : 0;
  const info = DTYPES[d];
  return Number(
    info.kind === "uint" ? BigInt.asUintN(info.bits, v) : BigInt.asIntN(info.bits, v),
  );
}

/**
 * Round a JS number the way storing it as `d` would (ints wrap modulo 2^bits like NumPy's casts
 * of in-range values; floats round to nearest even; bool is `x != 0`).
 */
export function castNumber(x: number, d: DType): number {
  switch (d) {
    case "f64":
      return x;
    case "f32":
      return Math.fround(x);
    case "f16":
      return Math.f16round(x);
    case "bf16":
      return fromBF16Bits(toBF16Bits(x));
    case "bool":
      return x !== 0 ? 1 : 0;
    case "i64":
      return Number.isFinite(x) ? Math.trunc(x) : 0;
    default: {
      const a = typedArrayFor(d, new ArrayBuffer(8), 0, 1) as Int32Array;
      a[0] = x;
      return a[0];
    }
  }
}
