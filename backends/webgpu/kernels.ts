/**
 * Every WGSL kernel of the WebGPU plugin, by op name (the families live in `kernels/`).
 *
 * @module
 */
import type { OpKernelTable } from "../../core/backend/plugin.ts";
import type { GpuContext } from "./context.ts";
import { BINARY, elementwiseKernels, UNARY } from "./kernels/elementwise.ts";
import { REDUCE_OPS, reduceKernels } from "./kernels/reduce.ts";
import { matmulKernels } from "./kernels/matmul.ts";
import { convKernels } from "./kernels/conv.ts";
import { indexingKernels } from "./kernels/indexing.ts";
import { sortKernels } from "./kernels/sort.ts";
import { quantLinearKernels } from "./kernels/quant_linear.ts";
import { withInt64 } from "./kernels/int64.ts";
import { optimKernels } from "./kernels/optim.ts";
import { normKernels } from "./kernels/norm.ts";
import { layerNormKernels } from "./kernels/layer_norm.ts";

export { BINARY, REDUCE_OPS, UNARY };

/** Every kernel of the plugin, by op name, bound to a context. */
export function makeKernels(ctx: GpuContext): OpKernelTable {
  return {
    ...withInt64(ctx, elementwiseKernels(ctx)),
    ...reduceKernels(ctx),
    ...matmulKernels(ctx),
    ...convKernels(ctx),
    ...indexingKernels(ctx),
    ...sortKernels(ctx),
    ...quantLinearKernels(ctx),
    ...optimKernels(ctx),
    ...normKernels(ctx),
    ...layerNormKernels(ctx),
  };
}
