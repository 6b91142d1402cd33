/**
 * Codecs of ggml's block-quantized types: one table row per {@link BlockDType} with its decoder
 * and (where llama.cpp has a reference quantizer that needs no importance matrix) its encoder.
 * Pure functions on bytes: no tensors, no backends. Bytes and values equal llama.cpp's
 * `quantize_row_*_ref` / `dequantize_row_*`.
 *
 * @module
 */
import { BLOCK_DTYPES, type BlockDType } from "../dtype.ts";
import { DTypeError, ShapeError } from "../errors.ts";
import * as iq from "./iquants.ts";
import * as k from "./kquants.ts";
import * as legacy from "./legacy.ts";
import { dequantizeMXFP4, quantizeMXFP4 } from "./mxfp4.ts";
import * as t from "./ternary.ts";

export {
  bf16ToF32Row,
  f16ToF32Row,
  f32ToBF16Row,
  f32ToF16Row,
  halfBits,
  halfTable,
  readHalf,
  writeHalf,
} from "./half.ts";

/** Decode whole blocks: `dst.length` elements from `dst.length / blockSize` blocks of `src`. */
export type DequantizeFn = (src: Uint8Array, dst: Float32Array) => void;
/** Encode whole blocks: `src.length` elements into `src.length / blockSize` blocks of `dst`. */
export type QuantizeFn = (src: Float32Array, dst: Uint8Array) => void;

/** One codec row: the decoder, and the encoder or null where we have none. */
export interface BlockCodec {
  /** Block bytes → f32 values. */
  readonly dequantize: DequantizeFn;
  /** f32 values → block bytes (llama.cpp's reference algorithm), or null. */
  readonly quantize: QuantizeFn | null;
}

/**
 * The codec table, keyed like `BLOCK_DTYPES`.
 *
 * @example
 * ```ts
 * import { BLOCK_CODECS } from "@aprender/compute/io";
 * console.log(BLOCK_CODECS.iq2_xxs.quantize); // null: decode only
 * ```
 */
export const BLOCK_CODECS: Readonly<Record<BlockDType, BlockCodec>> = {
  q4_0: { dequantize: legacy.dequantizeQ4_0, quantize: legacy.quantizeQ4_0 },
  q4_1: { dequantize: legacy.dequantizeQ4_1, quantize: legacy.quantizeQ4_1 },
  q5_0: { dequantize: legacy.dequantizeQ5_0, quantize: legacy.quantizeQ5_0 },
  q5_1: { dequantize: legacy.dequantizeQ5_1, quantize: legacy.quantizeQ5_1 },
  q8_0: { dequantize: legacy.dequantizeQ8_0, quantize: legacy.quantizeQ8_0 },
  q8_1: { dequantize: legacy.dequantizeQ8_1, quantize: legacy.quantizeQ8_1 },
  q2_k: { dequantize: k.dequantizeQ2_K, quantize: k.quantizeQ2_K },
  q3_k: { dequantize: k.dequantizeQ3_K, quantize: k.quantizeQ3_K },
  q4_k: { dequantize: k.dequantizeQ4_K, quantize: k.quantizeQ4_K },
  q5_k: { dequantize: k.dequantizeQ5_K, quantize: k.quantizeQ5_K },
  q6_k: { dequantize: k.dequantizeQ6_K, quantize: k.quantizeQ6_K },
  q8_k: { dequantize: k.dequantizeQ8_K, quantize: k.quantizeQ8_K },
  iq2_xxs: { dequantize: iq.dequantizeIQ2_XXS, quantize: null },
  iq2_xs: { dequantize: iq.dequantizeIQ2_XS, quantize: null },
  iq3_xxs: { dequantize: iq.dequantizeIQ3_XXS, quantize: null },
  iq1_s: { dequantize: iq.dequantizeIQ1_S, quantize: null },
  iq4_nl: { dequantize: iq.dequantizeIQ4_NL, quantize: iq.quantizeIQ4_NL },
  iq3_s: { dequantize: iq.dequantizeIQ3_S, quantize: null },
  iq2_s: { dequantize: iq.dequantizeIQ2_S, quantize: null },
  iq4_xs: { dequantize: iq.dequantizeIQ4_XS, quantize: iq.quantizeIQ4_XS },
  iq1_m: { dequantize: iq.dequantizeIQ1_M, quantize: null },
  tq1_0: { dequantize: t.dequantizeTQ1_0, quantize: t.quantizeTQ1_0 },
  tq2_0: { dequantize: t.dequantizeTQ2_0, quantize: t.quantizeTQ2_0 },
  mxfp4: { dequantize: dequantizeMXFP4, quantize: quantizeMXFP4 },
};

/**
 * Bytes that `n` elements of `type` occupy; throws a `ShapeError` unless `n` is a whole number of
 * blocks.
 *
 * @example
 * ```ts
 * import { blockBytes } from "@aprender/compute/io";
 * console.log(blockBytes("q4_k", 512)); // 288
 * ```
 */
export function blockBytes(type: BlockDType, n: number, op = "blockBytes"): number {
  const info = BLOCK_DTYPES[type];
  if (!Number.isSafeInteger(n) || n < 0 || n % info.blockSize !== 0) {
    throw new ShapeError(
      `${op}: ${n} elements are not a whole number of ${type} blocks of ${info.blockSize}; ` +
        `hint: ${type} rows must be a multiple of ${info.blockSize} long`,
    );
  }
  return (n / info.blockSize) * info.blockBytes;
}

/**
 * Decode `dst.length` elements of `type` from `src` (llama.cpp's `dequantize_row_<type>`).
 *
 * @example
 * ```ts
 * import { dequantizeRow, quantizeRow } from "@aprender/compute/io";
 * const x = Float32Array.from({ length: 32 }, (_, i) => i / 8);
 * const q = new Uint8Array(34);
 * quantizeRow("q8_0", x, q);
 * const y = new Float32Array(32);
 * dequantizeRow("q8_0", q, y);
 * console.log(Math.abs(y[31] - x[31]) < 0.02); // true
 * ```
 */
export function dequantizeRow(type: BlockDType, src: Uint8Array, dst: Float32Array): void {
  const need = blockBytes(type, dst.length, "dequantizeRow");
  if (src.length < need) {
    throw new ShapeError(
      `dequantizeRow: ${dst.length} ${type} elements need ${need} bytes, got ${src.length}`,
    );
  }
  BLOCK_CODECS[type].dequantize(src, dst);
}

/**
 * Encode `src` as `type` blocks into `dst` (llama.cpp's `quantize_row_<type>_ref`, no importance
 * matrix). Types without a reference quantizer (the lattice IQ types) throw a `DTypeError` naming
 * the type.
 *
 * @example
 * ```ts
 * import { quantizeRow } from "@aprender/compute/io";
 * const q = new Uint8Array(144);
 * quantizeRow("q4_k", new Float32Array(256).fill(1), q);
 * console.log(q.length); // 144
 * ```
 */
export function quantizeRow(type: BlockDType, src: Float32Array, dst: Uint8Array): void {
  const need = blockBytes(type, src.length, "quantizeRow");
  if (dst.length < need) {
    throw new ShapeError(
      `quantizeRow: ${src.length} ${type} elements need ${need} bytes, got ${dst.length}`,
    );
  }
  const q = BLOCK_CODECS[type].quantize;
  if (q === null) {
    throw new DTypeError(
      `quantizeRow: no reference quantizer for ${type} (llama.cpp's needs an importance ` +
        `matrix); hint: quantize to iq4_xs, q4_k or another k-quant instead`,
    );
  }
  q(src, dst);
}
