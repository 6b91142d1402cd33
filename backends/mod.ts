/**
 * Backends: the plugin interface, the registry, and the built-in plugins, registered on import.
 *
 * @module
 */
import { registerBackend } from "./registry.ts";
import { scalarBackend } from "./scalar/mod.ts";

registerBackend(scalarBackend, { priority: 0 });

export type {
  Backend,
  Capabilities,
  DeviceProvider,
  KernelCall,
  KernelEntry,
  KernelFn,
  Storage,
} from "./backend.ts";
export {
  backends,
  type BackendStatus,
  devices,
  ready,
  registerBackend,
  type RegisterOptions,
  traceKernels,
  type TraceRecord,
  unregisterBackend,
} from "./registry.ts";
export { type HostAllocator, HostStorage, setHostAllocator } from "./host.ts";
export { scalarBackend };
