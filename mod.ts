/**
 * @aprender/compute: N-D tensors with NumPy semantics for TypeScript, on pluggable backends.
 *
 * @example
 * ```ts
 * import { tensor } from "@aprender/compute";
 * const a = tensor([[1, 2], [3, 4]]);
 * console.log(a.matmul(a.T).toArraySync()); // [[5, 11], [11, 25]]
 * ```
 *
 * @module
 */
import "./core/grads/mod.ts";
export * from "./backends/mod.ts";
export * from "./core/dtype.ts";
export * from "./core/finfo.ts";
export * from "./core/promote.ts";
export * from "./core/errors.ts";
export {
  type BackwardOptions,
  type GradContext,
  GradNode,
  type GradRule,
  isGradEnabled,
  noGrad,
  registerGradient,
} from "./core/autograd.ts";
export { broadcastShapes, type Shape } from "./core/shape.ts";
export {
  type DeviceMemory,
  keep,
  memory,
  type MemoryInfo,
  type Releasable,
  tidy,
} from "./core/memory.ts";
export { type Axis, type NestedArray, Tensor, type TensorLike } from "./core/tensor.ts";
export * from "./core/ops/creation.ts";
export * from "./core/ops/view.ts";
export * from "./core/ops/elementwise.ts";
export * from "./core/ops/reduce.ts";
export * from "./core/ops/sort.ts";
export * from "./core/ops/indexing.ts";
export * from "./core/ops/join.ts";
export * from "./core/ops/matmul.ts";
export * from "./core/ops/linalg.ts";
export * from "./core/ops/conv.ts";
export * from "./core/ops/fused.ts";
export * from "./core/ops/quant_linear.ts";
export * from "./core/random.ts";
export { checkpoint, gradcheck, type GradcheckOptions, type TensorFn } from "./core/gradcheck.ts";
export * from "./io/mod.ts";
export * as nn from "./nn/mod.ts";
export * as optim from "./optim/mod.ts";
