/**
 * GGUF's vocabulary: metadata value types, tensor type ids (resolved through the one dtype table
 * in `core/dtype.ts`), and the shapes of what the reader returns and the writer takes.
 *
 * @module
 */
import {
  BLOCK_DTYPES,
  type BlockDType,
  type DType,
  elementBytes,
  GGML_ELEMENT_IDS,
} from "../../core/dtype.ts";
import { DTypeError } from "../../core/errors.ts";

/**
 * GGUF's magic, "GGUF" read as a little-endian u32.
 *
 * @example
 * ```ts
 * import { GGUF_MAGIC } from "@aprender/compute/io";
 * console.log(GGUF_MAGIC.toString(16)); // "46554747"
 * ```
 */
export const GGUF_MAGIC = 0x46554747;
/**
 * Alignment of tensor data when a file does not set `general.alignment`.
 *
 * @example
 * ```ts
 * import { GGUF_DEFAULT_ALIGNMENT } from "@aprender/compute/io";
 * console.log(GGUF_DEFAULT_ALIGNMENT); // 32
 * ```
 */
export const GGUF_DEFAULT_ALIGNMENT = 32;
/**
 * Longest tensor name llama.cpp accepts is 63 bytes (`GGML_MAX_NAME` = 64 with the NUL).
 *
 * @example
 * ```ts
 * import { GGML_MAX_NAME } from "@aprender/compute/io";
 * console.log(GGML_MAX_NAME); // 64
 * ```
 */
export const GGML_MAX_NAME = 64;
/**
 * Most dimensions a ggml tensor has.
 *
 * @example
 * ```ts
 * import { GGML_MAX_DIMS } from "@aprender/compute/io";
 * console.log(GGML_MAX_DIMS); // 4
 * ```
 */
export const GGML_MAX_DIMS = 4;

/** The scalar metadata value types, by GGUF's type ids 0–12 (9 is the array). */
export type GgufScalarType =
  | "u8"
  | "i8"
  | "u16"
  | "i16"
  | "u32"
  | "i32"
  | "f32"
  | "bool"
  | "string"
  | "u64"
  | "i64"
  | "f64";

/** Every GGUF metadata value type: the scalars and "array". */
export type GgufValueType = GgufScalarType | "array";

/**
 * GGUF's value-type ids, by name.
 *
 * @example
 * ```ts
 * import { GGUF_TYPE_IDS } from "@aprender/compute/io";
 * console.log(GGUF_TYPE_IDS.array); // 9
 * ```
 */
export const GGUF_TYPE_IDS: Readonly<Record<GgufValueType, number>> = {
  u8: 0,
  i8: 1,
  u16: 2,
  i16: 3,
  u32: 4,
  i32: 5,
  f32: 6,
  bool: 7,
  string: 8,
  array: 9,
  u64: 10,
  i64: 11,
  f64: 12,
};

/**
 * Value-type names by id.
 *
 * @example
 * ```ts
 * import { GGUF_TYPE_NAMES } from "@aprender/compute/io";
 * console.log(GGUF_TYPE_NAMES[8]); // "string"
 * ```
 */
export const GGUF_TYPE_NAMES: readonly GgufValueType[] = [
  "u8",
  "i8",
  "u16",
  "i16",
  "u32",
  "i32",
  "f32",
  "bool",
  "string",
  "array",
  "u64",
  "i64",
  "f64",
];

/**
 * Bytes of one fixed-size scalar (strings and arrays have none).
 *
 * @example
 * ```ts
 * import { GGUF_SCALAR_BYTES } from "@aprender/compute/io";
 * console.log(GGUF_SCALAR_BYTES.u64); // 8
 * ```
 */
export const GGUF_SCALAR_BYTES: Readonly<Partial<Record<GgufValueType, number>>> = {
  u8: 1,
  i8: 1,
  u16: 2,
  i16: 2,
  u32: 4,
  i32: 4,
  f32: 4,
  bool: 1,
  u64: 8,
  i64: 8,
  f64: 8,
};

/** The items of a GGUF array: typed arrays for numbers, plain arrays for the rest. */
export type GgufArrayItems =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | BigUint64Array
  | BigInt64Array
  | Float64Array
  | boolean[]
  | string[]
  | GgufArray[];

/** A GGUF array value: its item type and items (nested arrays as gguf-py writes them). */
export interface GgufArray {
  /** Type of every item. */
  readonly itemType: GgufValueType;
  /** The items. */
  readonly items: GgufArrayItems;
}

/** One metadata value with its GGUF type (u64/i64 as bigint, so no bits are lost). */
export type GgufValue =
  | { readonly type: "u8" | "i8" | "u16" | "i16" | "u32" | "i32" | "f32" | "f64"; value: number }
  | { readonly type: "u64" | "i64"; value: bigint }
  | { readonly type: "bool"; value: boolean }
  | { readonly type: "string"; value: string }
  | { readonly type: "array"; value: GgufArray };

/** A GGUF tensor's storage type: an element dtype or a block-quantized one. */
export type GgufTensorType = DType | BlockDType;

/** One row of the tensor table. */
export interface GgufTensorInfo {
  /** Tensor name. */
  readonly name: string;
  /** Dimensions in ggml's order (`ne[0]` first: the contiguous one), as the file stores them. */
  readonly dims: readonly number[];
  /** Row-major shape (`dims` reversed), as gguf-py's and PyTorch's arrays have it. */
  readonly shape: readonly number[];
  /** Storage type. */
  readonly type: GgufTensorType;
  /** ggml's type id. */
  readonly ggmlType: number;
  /** Offset from the start of the data section. */
  readonly offset: number;
  /** Offset from the start of the file. */
  readonly fileOffset: number;
  /** Element count. */
  readonly nelements: number;
  /** Bytes of the packed data. */
  readonly nbytes: number;
}

/**
 * ggml type ids that were removed from ggml (files holding them cannot be read).
 *
 * @example
 * ```ts
 * import { REMOVED_GGML_TYPES } from "@aprender/compute/io";
 * console.log(REMOVED_GGML_TYPES.get(31)); // "Q4_0_4_4"
 * ```
 */
export const REMOVED_GGML_TYPES: ReadonlyMap<number, string> = new Map([
  [4, "Q4_2"],
  [5, "Q4_3"],
  [31, "Q4_0_4_4"],
  [32, "Q4_0_4_8"],
  [33, "Q4_0_8_8"],
  [36, "IQ4_NL_4_4"],
  [37, "IQ4_NL_4_8"],
  [38, "IQ4_NL_8_8"],
]);

const BY_ID = new Map<number, GgufTensorType>();
for (const [d, id] of Object.entries(GGML_ELEMENT_IDS)) BY_ID.set(id as number, d as DType);
for (const b of Object.values(BLOCK_DTYPES)) BY_ID.set(b.ggml, b.name);

/**
 * Is `t` a block-quantized type?
 *
 * @example
 * ```ts
 * import { isBlockType } from "@aprender/compute/io";
 * console.log(isBlockType("q4_k"), isBlockType("f16")); // true false
 * ```
 */
export function isBlockType(t: GgufTensorType): t is BlockDType {
  return Object.hasOwn(BLOCK_DTYPES, t);
}

/**
 * The type with ggml id `id`, or undefined (unknown, removed or newer than this library).
 *
 * @example
 * ```ts
 * import { ggmlTypeById } from "@aprender/compute/io";
 * console.log(ggmlTypeById(12), ggmlTypeById(4)); // "q4_k" undefined
 * ```
 */
export function ggmlTypeById(id: number): GgufTensorType | undefined {
  return BY_ID.get(id);
}

/**
 * ggml's id of a tensor type; throws a `DTypeError` for dtypes GGUF cannot store (u16, u32, bool).
 *
 * @example
 * ```ts
 * import { ggmlTypeId } from "@aprender/compute/io";
 * console.log(ggmlTypeId("q4_k")); // 12
 * ```
 */
export function ggmlTypeId(t: GgufTensorType): number {
  if (isBlockType(t)) return BLOCK_DTYPES[t].ggml;
  const id = GGML_ELEMENT_IDS[t as DType];
  if (id === undefined) {
    throw new DTypeError(
      `gguf: dtype ${t} has no GGUF tensor type; hint: GGUF stores f32, f16, bf16, f64, i8, ` +
        `i16, i32, i64 and the block types`,
    );
  }
  return id;
}

/**
 * Elements per block and bytes per block of a type (1 and the element size for element types).
 *
 * @example
 * ```ts
 * import { typeLayout } from "@aprender/compute/io";
 * const { blockSize, blockBytes } = typeLayout("q8_0");
 * console.log(blockSize, blockBytes); // 32 34
 * ```
 */
export function typeLayout(t: GgufTensorType): { blockSize: number; blockBytes: number } {
  if (isBlockType(t)) return BLOCK_DTYPES[t];
  return { blockSize: 1, blockBytes: elementBytes(t as DType, "typeLayout") };
}
