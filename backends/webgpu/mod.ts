/**
 * The WebGPU backend plugin, on the runtime's built-in `navigator.gpu` (Deno: wgpu/Naga).
 *
 * Tensors on device "gpu" live in pooled GPU memory (small storages share slab buffers); ops
 * record into one shared command encoder and are submitted together when data is read
 * (`await t.data()`, `await t.to("cpu")`) or when many ops are pending (see context.ts for how a
 * dispatch is kept cheap).
 *
 * Kernels (backends/webgpu/kernels/): every elementwise op of the scalar table, `where` and `copy`
 * (dtype conversions, views), with broadcasting by strides in the kernel; reductions (sum, mean,
 * prod, max, min, any, all, var, std, logsumexp, norm, argmax, argmin) with workgroup trees for
 * long axes; cumsum/cumprod; softmax/logSoftmax along any axis; batched matmul (register-tiled,
 * vec4 loads, double-buffered); conv2d (implicit GEMM), maxPool2d/avgPool2d and their gradients;
 * take/gather/scatter/scatterAdd; sort/argsort/topk.
 *
 * Dtypes: storage is the host layout byte for byte. f32, f16, bf16 compute in f32 (f16 through
 * pack/unpack, so without the `shader-f16` feature too); i8..i32 and bool compute in i32 and wrap
 * like NumPy; bool results (comparisons, logic, isnan, any/all) are one byte per element, packed
 * four to a word by the kernel that writes them. i64 is two u32 words: it is produced by
 * argmax/argmin/argsort/topk (and astype), accepted as an index, converted by astype, and computed
 * by add/sub/mul/neg/abs/maximum/minimum, the comparisons and where with carry arithmetic on the
 * word pairs (kernels/int64.ts); u32 and f64 are moved (copies, views) but not computed. The Adam
 * step is one fused kernel (kernels/optim.ts). Anything else (f64 or u32 arithmetic, integer
 * pow, data-dependent shapes such as nonzero/maskedSelect, linalg decompositions, einsum) has no
 * GPU kernel: the registry raises a DeviceError naming the op and suggesting `await t.to("cpu")`.
 *
 * @module
 */
import type { Backend, Capabilities, DeviceProvider } from "../../core/backend/plugin.ts";
import { GpuContext } from "./context.ts";
import { makeKernels } from "./kernels.ts";

let ctx: GpuContext | null = null;

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
      minStorageBufferOffsetAlignment: adapter.limits.minStorageBufferOffsetAlignment,
      maxComputeInvocationsPerWorkgroup: adapter.limits.maxComputeInvocationsPerWorkgroup,
    },
  });
  ctx = new GpuContext(adapter, device);
  return {
    available: true,
    kernels: makeKernels(ctx), // bound to this device: known only now
    features: [
      ...requiredFeatures,
      ...(info.isFallbackAdapter ? ["fallback-adapter"] : []),
      `adapter: ${info.description || info.vendor || "unknown"}`,
    ],
    dtypes: ["f32", "f16", "bf16", "i8", "u8", "i16", "u16", "i32", "bool", "i64"],
    limits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
    },
  };
}

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
  kernels: {}, // built for the device by the probe
  get provider(): DeviceProvider | undefined {
    return ctx?.provider();
  },
};
