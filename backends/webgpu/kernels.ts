/**
 * Every WGSL kernel of the WebGPU plugin, by op name (the families live in `kernels/`).
 *
 * @module
 */
import type { KernelEntry } from "../../core/backend/plugin.ts";
import type { GpuContext } from "./context.ts";
import { BINARY, elementwiseKernels, UNARY } from "./kernels/elementwise.ts";
import { REDUCE_OPS, reduceKernels } from "./kernels/reduce.ts";
import { matmulKernels } from "./kernels/matmul.ts";
import { CONV_OPS, convKernels } from "./kernels/conv.ts";
import { INDEXING_OPS, indexingKernels } from "./kernels/indexing.ts";
import { SORT_OPS, sortKernels } from "./kernels/sort.ts";

export { BINARY, REDUCE_OPS, UNARY };

/** Every kernel of the plugin, by op name, bound to a context. */
export function makeKernels(ctx: GpuContext): Record<string, KernelEntry> {
  return {
    ...elementwiseKernels(ctx),
    ...reduceKernels(ctx),
    ...matmulKernels(ctx),
    ...convKernels(ctx),
    ...indexingKernels(ctx),
    ...sortKernels(ctx),
  };
}

/** Op names with a GPU kernel. */
export const KERNEL_NAMES: readonly string[] = [
  ...Object.keys(UNARY),
  ...Object.keys(BINARY),
  "where",
  "copy",
  ...REDUCE_OPS,
  "softmax",
  "logSoftmax",
  "cumsum",
  "cumprod",
  "matmul",
  ...CONV_OPS,
  ...INDEXING_OPS,
  ...SORT_OPS,
];
