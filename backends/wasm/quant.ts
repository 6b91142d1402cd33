/**
 * The `quantize` kernel (f32 → a block type, named by the dtype table's block rows) on tensors in
 * the WASM heap: src/quantize.c's ports of llama.cpp's reference quantizers, bit-identical with
 * ggml and core/quant, over the worker pool. Accepts a contiguous f32 input and the legacy types,
 * the K-quants and IQ4_XS; declines the rest (IQ4_NL, TQ1_0, TQ2_0, MXFP4, strided or non-f32
 * input), which the scalar backend's codecs then run.
 *
 * @module
 */
import type { KernelCall, KernelEntry } from "../../core/backend/plugin.ts";
import {
  BLOCK_DTYPES,
  type BlockDType,
  isBlockDType,
  type StorageDType,
} from "../../core/dtype.ts";
import { isContiguous } from "../../core/shape.ts";
import { inWasmHeap } from "./gemm.ts";
import { address } from "../cpu/jobs.ts";
import { runQuantize, WASM_QUANT_TYPES } from "../cpu/quantize.ts";

/** The `quantize` kernel entry. */
export const quantize: KernelEntry = {
  supports(call: KernelCall): boolean {
    const [src] = call.inputs, [out] = call.outputs;
    if (!src || !out || src.dtype !== "f32" || !isBlockDType(out.dtype)) return false;
    const row = BLOCK_DTYPES[out.dtype as StorageDType as BlockDType];
    return WASM_QUANT_TYPES.has(row.ggml) && src.size / row.blockSize < 2 ** 31 &&
      isContiguous(src.shape, src.strides) && isContiguous(out.shape, out.strides) &&
      inWasmHeap(src) && inWasmHeap(out);
  },
  run(call: KernelCall): void {
    const [src] = call.inputs, [out] = call.outputs;
    const row = BLOCK_DTYPES[out.dtype as StorageDType as BlockDType];
    runQuantize(row.ggml, row.blockSize, src.size / row.blockSize, address(out), address(src));
  },
};
