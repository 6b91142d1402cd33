/**
 * The WASM SIMD backend plugin: kernels compiled from C (backends/cpu/src) to WebAssembly
 * SIMD128 (relaxed SIMD where the runtime has it), running on a shared linear memory that is the
 * host heap of every CPU tensor, with a worker pool for threads.
 *
 * Its probe loads the module and installs the heap as the host allocator
 * ({@link setHostAllocator}): CPU tensors allocated afterwards live in WASM memory, where the
 * scalar backend, these kernels and FFI calls all work on them in place. Tensors that do not fit
 * (4 GiB in all) get standalone ArrayBuffers, which these kernels decline.
 *
 * @module
 */
import type { Backend, Capabilities } from "../../core/backend/plugin.ts";
import { setHostAllocator } from "../../core/backend/host.ts";
import { kernels } from "./kernels.ts";
import { currentRuntime, loadRuntime } from "../cpu/runtime.ts";
import { wasmThreads } from "../cpu/pool.ts";
import type { HeapStats } from "../cpu/heap.ts";

export { disposeWasmThreads, setWasmSpin, setWasmThreads, wasmThreads } from "../cpu/pool.ts";
export type { HeapStats } from "../cpu/heap.ts";

function probe(): Capabilities {
  let rt;
  try {
    rt = loadRuntime();
  } catch (e) {
    return { available: false, reason: e instanceof Error ? e.message : String(e) };
  }
  setHostAllocator(rt.heap);
  return {
    available: true,
    features: [
      "simd128",
      ...(rt.features.relaxedSimd ? ["relaxed-simd"] : []),
      "threads",
      `build:${rt.build}`,
    ],
    dtypes: ["f32", "f64", "f16", "bf16"],
    threads: wasmThreads(),
    limits: { maxHeapBytes: 2 ** 32 },
  };
}

/**
 * The WASM SIMD backend plugin, to register above the scalar backend: `matmul` and `conv2d`
 * (packed GEMM), elementwise arithmetic and activations, reductions and fused softmax for f32/f64,
 * and f16/bf16 ↔ f32 conversion. Calls it does not handle fall back to the next plugin.
 *
 * @example
 * ```ts
 * import { backends, ready, registerBackend, wasmBackend } from "@aprender/compute";
 * registerBackend(wasmBackend, { priority: 20 });
 * await ready();
 * console.log(backends().find((b) => b.name === "wasm")?.status); // "available"
 * ```
 */
export const wasmBackend: Backend = {
  name: "wasm",
  device: "cpu",
  probe,
  kernels,
};

/**
 * Sizes of the WASM host heap (null before the plugin loaded): live and free bytes, the top of
 * the heap and the linear memory's size.
 *
 * @example
 * ```ts
 * import { wasmHeapStats } from "@aprender/compute";
 * const s = wasmHeapStats();
 * console.log(s === null || s.liveBytes >= 0); // true
 * ```
 */
export function wasmHeapStats(): HeapStats | null {
  return currentRuntime()?.heap.stats() ?? null;
}
