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
import "./backends/runtime.ts";
export * from "./backends/mod.ts";
export {
  ALL_BLOCK_DTYPES,
  ALL_DTYPES,
  BLOCK_DTYPES,
  type BlockDType,
  type BlockDTypeInfo,
  byteLength,
  byteOffset,
  type DType,
  type DTypeInfo,
  dtypeInfo,
  type DTypeKind,
  DTYPES,
  elementBytes,
  elementInfo,
  type FloatLayout,
  GGML_ELEMENT_IDS,
  isBlockDType,
  isDType,
  isFloat,
  isInt,
  isStorageDType,
  type StorageDType,
  type TypedArray,
} from "./core/dtype.ts";
export { type FInfo, finfo, type IInfo, iinfo } from "./core/finfo.ts";
export { promoteTypes, resultType } from "./core/promote.ts";
export {
  AllocationError,
  ArgumentError,
  ComputeError,
  DeviceError,
  DisposedError,
  DTypeError,
  FormatError,
  IndexError,
  IOError,
  LinAlgError,
  ShapeError,
} from "./core/errors.ts";
export {
  type BackwardOptions,
  type GradContext,
  GradNode,
  type GradRule,
  isGradEnabled,
  noGrad,
  registerGradient,
} from "./core/autograd.ts";
export {
  autocast,
  type AutocastDType,
  autocastDType,
  type AutocastOptions,
  type AutocastScope,
} from "./core/autocast.ts";
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
export type { TensorMethods } from "./core/tensor_ops.ts";
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
export {
  adamStep,
  type AdamStepAttrs,
  type BatchNormAttrs,
  type BatchNormRunningAttrs,
  batchNormTrain,
  type LayerNormAttrs,
  layerNormFused,
  linear,
} from "./core/ops/fused.ts";
export {
  quantLinear,
  type QuantLinearAttrs,
  type QuantLinearOptions,
} from "./core/ops/quant_linear.ts";
export * from "./core/random.ts";
export { checkpoint, gradcheck, type GradcheckOptions, type TensorFn } from "./core/gradcheck.ts";
export * from "./io/mod.ts";
export * as nn from "./nn/mod.ts";
export * as optim from "./optim/mod.ts";
