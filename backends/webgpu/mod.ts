/**
 * The WebGPU backend plugin, on the runtime's built-in `navigator.gpu` (Deno: wgpu/Naga).
 *
 * Tensors on device "gpu" live in pooled `GPUBuffer`s; ops record into one shared command
 * encoder and are submitted together when data is read (`await t.data()`, `await t.to("cpu")`) or
 * when many ops are pending. Kernels cover f32 elementwise ops (broadcasting by strides in the
 * kernel), strided copies, reductions, row softmax/logSoftmax and batched matmul; any other op or
 * dtype on "gpu" raises a DeviceError naming the op and suggesting `await t.to("cpu")`.
 *
 * @module
 */
import type { Backend, Capabilities, DeviceProvider, KernelCall, KernelEntry } from "../backend.ts";
import { GpuContext } from "./context.ts";
import { BINARY, makeKernels, REDUCE_OPS, UNARY } from "./kernels.ts";

let ctx: GpuContext | null = null;
let impl: Record<string, KernelEntry> | null = null;

/** The plugin's GPU context once the probe found a device (for tests and benchmarks). */
export function webgpuContext(): GpuContext | null {
  return ctx;
}

async function probe(): Promise<Capabilities> {
  const gpu = (globalThis.navigator as { gpu?: GPU } | undefined)?.gpu;
  if (!gpu) return { available: false, reason: "navigator.gpu is not available in this runtime" };
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) return { available: false, reason: "no WebGPU adapter found" };
  const info = adapter.info; // read before requestDevice
  const wanted: GPUFeatureName[] = ["shader-f16", "timestamp-query"];
  const requiredFeatures = wanted.filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({
    requiredFeatures,
    requiredLimits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
      maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
      maxStorageBuffersPerShaderStage: adapter.limits.maxStorageBuffersPerShaderStage,
    },
  });
  ctx = new GpuContext(adapter, device);
  impl = makeKernels(ctx);
  return {
    available: true,
    features: [
      ...requiredFeatures,
      ...(info.isFallbackAdapter ? ["fallback-adapter"] : []),
      `adapter: ${info.description || info.vendor || "unknown"}`,
    ],
    dtypes: ["f32"],
    limits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
    },
  };
}

const names = [
  ...Object.keys(UNARY),
  ...Object.keys(BINARY),
  ...REDUCE_OPS,
  "copy",
  "softmax",
  "logSoftmax",
  "matmul",
];
const kernels: Record<string, KernelEntry> = Object.fromEntries(names.map((op) => [op, {
  supports: (call: KernelCall) => impl![op].supports?.(call) ?? true,
  run: (call: KernelCall) => impl![op].run(call),
}]));

/**
 * The WebGPU plugin.
 *
 * @example
 * ```ts
 * import { backends, ready } from "@aprender/compute";
 * await ready();
 * const gpu = backends().find((b) => b.name === "webgpu");
 * console.log(gpu?.status, gpu?.reason ?? ""); // "available" on a machine with an adapter
 * ```
 */
export const webgpuBackend: Backend = {
  name: "webgpu",
  device: "gpu",
  probe,
  kernels,
  get provider(): DeviceProvider | undefined {
    return ctx?.provider();
  },
};
