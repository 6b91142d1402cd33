/**
 * The runtime every published entry imports (`mod.ts`, `nn`, `optim`, `io`): it registers the
 * built-in plugins (scalar, WASM, OpenBLAS, WebGPU, by priority) and every gradient rule, once,
 * so that each entry works imported alone. Importing it again does nothing more.
 *
 * @example
 * ```ts
 * import "@aprender/compute/nn"; // imports this module: the CPU plugins are registered
 * ```
 *
 * @module
 */
import "../core/grads/mod.ts";
import { registerBackend } from "../core/backend/registry.ts";
import { scalarBackend } from "./scalar/mod.ts";
import { openblasBackend } from "./openblas/mod.ts";
import { wasmBackend } from "./wasm/mod.ts";
import { webgpuBackend } from "./webgpu/mod.ts";

registerBackend(scalarBackend, { priority: 0 });
registerBackend(wasmBackend, { priority: 10 });
registerBackend(openblasBackend, { priority: 20 });
registerBackend(webgpuBackend, { priority: 30 });

// The one door from the layers above to runtime controls and device internals: the CLI's thread
// count, and the WebGPU plugin's context and packed-matvec shader code that llm/'s GPU decoder
// composes into its fixed dispatch list; io/onnx's transpose and residual passes; llm/'s Q4_0
// weight repacking.
export { setWasmThreads } from "./cpu/pool.ts";
// io/onnx's fast paths on the WASM heap (each declines, returning false, outside it).
export { addReluInHeap, transposeInHeap } from "./cpu/onnx_fast.ts";
// llm/'s load-time Q4_0 weight repacking for the WASM quantLinear kernel.
export { canRepackQ4_0, repackQ4_0 } from "./wasm/qrepack.ts";
export { webgpuContext } from "./webgpu/mod.ts";
export type { GpuStorage } from "./webgpu/context.ts";
export {
  chunkOf,
  MR,
  QUANT_LINEAR_TYPES,
  quantLinearCode,
  quantLinearSimpleCode,
  RPW,
} from "./webgpu/kernels/quant_linear.ts";
