/**
 * f32 values → packed blocks for the GGUF writer and quantizer, through the `quantize` kernel the
 * dtype table's block rows name: the WASM plugin's C quantizers on all the pool's threads where
 * that plugin is present (bit-identical with ggml, ~30× the TS codecs for Q4_K), else the
 * scalar backend's codecs. Without any registered backend (this module imported alone), the
 * core/quant codec runs directly.
 *
 * @module
 */
import { hasKernel } from "../../core/backend/registry.ts";
import type { BlockDType } from "../../core/dtype.ts";
import { ShapeError } from "../../core/errors.ts";
import { quantize } from "../../core/ops/blocks.ts";
import { fromTyped } from "../../core/ops/creation.ts";
import { blockBytes, quantizeRow } from "../../core/quant/mod.ts";

/**
 * Quantize `src` (a whole number of `type` blocks) into `out` with llama.cpp's reference
 * quantizer for `type`; throws a `DTypeError` for types that have none (the lattice IQ types).
 *
 * @example
 * ```ts
 * import { encodeBlocks } from "@aprender/compute/io";
 * const out = new Uint8Array(144);
 * encodeBlocks("q4_k", Float32Array.from({ length: 256 }, (_, i) => Math.sin(i)), out);
 * console.log(out.length); // 144
 * ```
 */
export function encodeBlocks(type: BlockDType, src: Float32Array, out: Uint8Array): void {
  const need = blockBytes(type, src.length, "encodeBlocks");
  if (out.length < need) {
    throw new ShapeError(
      `encodeBlocks: ${src.length} ${type} elements take ${need} bytes, the output holds ` +
        `${out.length}; hint: size it with blockBytes("${type}", n)`,
    );
  }
  if (!hasKernel("quantize", "cpu")) {
    quantizeRow(type, src, out);
    return;
  }
  using t = fromTyped(src, [src.length], "f32");
  using q = quantize(t, type);
  out.set(q.bytesSync());
}
