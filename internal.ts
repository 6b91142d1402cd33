/**
 * Internals for plugins, tests and tools built on @aprender/compute: host and GPU storage classes,
 * the host allocator hook, typed-array and bf16 helpers, dtype rules' building blocks, the CPU
 * runtime's job kinds. Not part of the user-facing API (`@aprender/compute`): names here may
 * change between minor versions.
 *
 * @example
 * ```ts
 * import { typedArrayFor } from "@aprender/compute/internal";
 * console.log(typedArrayFor("f32", new ArrayBuffer(8), 0, 2).length); // 2
 * ```
 *
 * @module
 */
import "./backends/runtime.ts";

export {
  bigintToNumber,
  blockDTypeError,
  castNumber,
  checkDType,
  checkStorageDType,
  fromBF16Bits,
  toBF16Bits,
  typedArrayFor,
} from "./core/dtype.ts";
export { floatResult, scalarPromote } from "./core/promote.ts";
export { setTraceHook, type TraceHook } from "./core/autograd.ts";
export { fmtShape } from "./core/errors.ts";
export {
  type HostAllocator,
  HostStorage,
  outsideHeap,
  setHostAllocator,
  setStandaloneHostLimit,
} from "./core/backend/host.ts";
export { deviceProvider, type Route, route } from "./core/backend/registry.ts";
export { emptyView } from "./core/backend/alloc.ts";
export {
  type KernelOf,
  type OpKernelTable,
  planned,
  type ScalarKernelTable,
} from "./core/backend/plugin.ts";
export type {
  AdamStepAttrs,
  Conv2dAttrs,
  PoolAttrs,
  ReluBackwardAttrs,
  RmsNormAttrs,
  RopeAttrs,
  WindowAttrs,
} from "./core/backend/attrs.ts";
export { type OutSpec, runKernel, runKernel1 } from "./core/op.ts";
export {
  type AllOps,
  type AttrsOf,
  type AxisAttrs,
  type Binary,
  type BinaryOp,
  BLOCK_OPS,
  type BlockOp,
  type BlockOps,
  type Contracts,
  type ConvOps,
  type EinsumAttrs,
  type ElementwiseOps,
  type IndexingOps,
  isOpName,
  type LinalgOps,
  type LineAttrs,
  type NoAttrs,
  type Op,
  type OpName,
  OPS,
  type ReduceAttrs,
  type ReduceOps,
  type ScatterAttrs,
  type SoftmaxAttrs,
  type SortAttrs,
  type Unary,
  type UnaryAttrs,
  type UnaryOp,
} from "./core/ops/contracts/mod.ts";
export { checkLinear } from "./core/ops/fused.ts";
export { rmsNorm, rope } from "./core/ops/llm.ts";
export { LLM_OPS, type LlmOps } from "./core/ops/contracts/mod.ts";
export { type JobKind, registerJobKind } from "./backends/cpu/pool.ts";
export { webgpuContext } from "./backends/webgpu/mod.ts";
export { type Chunk, GpuContext, GpuStorage, type Kernel } from "./backends/webgpu/context.ts";
export { type PassTime, PassTimer } from "./backends/webgpu/timing.ts";
