/**
 * Backends: the plugin interface and the registry (declared in core/backend/), and the built-in
 * plugins, registered by importing ./runtime.ts.
 *
 * @module
 */
import "./runtime.ts";

export type {
  Backend,
  Capabilities,
  DeviceProvider,
  Kernel,
  KernelCall,
  KernelEntry,
  KernelFn,
  KernelTable,
  OwnedView,
  Runner,
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
export { scalarBackend } from "./scalar/mod.ts";
export {
  disposeWasmThreads,
  type HeapStats,
  setWasmSpin,
  setWasmThreads,
  wasmBackend,
  wasmHeapStats,
  wasmThreads,
} from "./wasm/mod.ts";
export { webgpuBackend } from "./webgpu/mod.ts";
export {
  blasThreads,
  openblasBackend,
  type OpenBlasCapabilities,
  setBlasThreads,
  setLapackF32Precision,
} from "./openblas/mod.ts";
