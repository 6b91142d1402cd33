/**
 * Backends: the plugin interface, the registry, and the built-in plugins, registered on import.
 *
 * @module
 */
import { registerBackend } from "../core/backend/registry.ts";
import { scalarBackend } from "./scalar/mod.ts";
import { openblasBackend } from "./openblas/mod.ts";
import { wasmBackend } from "./wasm/mod.ts";
import { webgpuBackend } from "./webgpu/mod.ts";

registerBackend(scalarBackend, { priority: 0 });
registerBackend(wasmBackend, { priority: 10 });
registerBackend(openblasBackend, { priority: 20 });
registerBackend(webgpuBackend, { priority: 30 });

export type {
  Backend,
  Capabilities,
  DeviceProvider,
  KernelCall,
  KernelEntry,
  KernelFn,
  OwnedView,
  Storage,
  TensorView,
} from "../core/backend/plugin.ts";
export {
  backends,
  type BackendStatus,
  devices,
  hasKernel,
  ready,
  registerBackend,
  type RegisterOptions,
  traceKernels,
  type TraceRecord,
  unregisterBackend,
} from "../core/backend/registry.ts";
export { type HostAllocator, HostStorage, setHostAllocator } from "../core/backend/host.ts";
export { scalarBackend };
export {
  disposeWasmThreads,
  type HeapStats,
  setWasmSpin,
  setWasmThreads,
  wasmBackend,
  wasmHeapStats,
  wasmThreads,
} from "./wasm/mod.ts";
export { webgpuBackend, webgpuContext } from "./webgpu/mod.ts";
export { GpuContext, GpuStorage } from "./webgpu/context.ts";
export type { Chunk, Kernel } from "./webgpu/context.ts";
export {
  blasThreads,
  openblasBackend,
  type OpenBlasCapabilities,
  setBlasThreads,
  setLapackF32Precision,
} from "./openblas/mod.ts";
