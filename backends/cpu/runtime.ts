/**
 * The WASM runtime of the plugin: feature detection, the module (relaxed-SIMD build where the
 * runtime has relaxed SIMD, plain SIMD128 otherwise), the shared linear memory that is the host
 * heap, and the main thread's instance.
 *
 * @module
 */
import { RELAXED_WASM_BASE64, SIMD128_WASM_BASE64 } from "./binaries.generated.ts";
import { WasmHeap } from "./heap.ts";

/** Exports of the kernel module (backends/cpu/src/*.c). */
export interface KernelExports {
  /** The shadow-stack pointer; each thread's instance gets its own stack. */
  __stack_pointer: WebAssembly.Global;
  /** End of the module's static data: the heap starts here. */
  __heap_base: WebAssembly.Global;
  /** `memory.fill`: set `n` bytes at `dst` to `c` (native speed, used to zero new tensors). */
  memset(dst: number, c: number, n: number): number;
  /** Bytes of packing scratch one thread needs for GEMM. */
  gemm_scratch_bytes(): number;
  /** Join the GEMM job at `job` with this thread's scratch; returns the slots it ran. */
  gemm_run(job: number, scratch: number): number;
  /** Join any job (GEMM or `pjob_t`, told apart by its first word); returns the slots it ran. */
  job_run(job: number, scratch: number): number;
  /** Conversions over contiguous arrays: (src, dst, count). */
  f16_to_f32(src: number, dst: number, n: number): void;
  f32_to_f16(src: number, dst: number, n: number): void;
  bf16_to_f32(src: number, dst: number, n: number): void;
  f32_to_bf16(src: number, dst: number, n: number): void;
  /** Fill qlinear.c's f16 table (once; later calls return at once). */
  qlin_init(): void;
  /** quantLinear's activations to Q8_0 (mode 1) or Q8_K (mode 2): (x, m, k, mode, qs, d, sums). */
  qlin_quant(x: number, m: number, k: number, mode: number, qs: number, d: number, s: number): void;
  /** quantLinear's activations to Q8_1 (qlinear_k.c): (x, m, k, qs, d, s), s as f32. */
  qlin_quant_q8_1(x: number, m: number, k: number, qs: number, d: number, s: number): void;
  /** Interleave quantized levels in place for qgemm_tile.c: (qs, total, 0 Q8_0 | 1 Q8_K). */
  qlin_interleave(qs: number, total: number, kind: number): void;
  /** Repack the first n & ~3 rows of an n×k Q4_0 weight in place (qrepack.c): (w, n, k, tmp). */
  qrepack_q4_0(w: number, n: number, k: number, tmp: number): void;
  /** Restore the GGUF layout of a weight repacked by qrepack_q4_0 (same arguments). */
  qunpack_q4_0(w: number, n: number, k: number, tmp: number): void;
}

/** What the runtime supports, from tiny validation modules. */
export interface WasmFeatures {
  /** 128-bit SIMD. */
  simd128: boolean;
  /** Relaxed SIMD (fused multiply-add). */
  relaxedSimd: boolean;
  /** Shared memory and atomics. */
  threads: boolean;
}

// (func (result v128) v128.const 0)
const SIMD_PROBE = module([0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b], [0x03, 0x02, 0x01, 0x00], [
  0x0a,
  0x16,
  0x01,
  0x14,
  0x00,
  ...v128Zero(),
  0x0b,
]);
// (func (result v128) (f32x4.relaxed_madd (v128.const 0) (v128.const 0) (v128.const 0)))
const RELAXED_PROBE = module([0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b], [0x03, 0x02, 0x01, 0x00], [
  0x0a,
  0x3d,
  0x01,
  0x3b,
  0x00,
  ...v128Zero(),
  ...v128Zero(),
  ...v128Zero(),
  0xfd,
  0x85,
  0x02,
  0x0b,
]);
// (memory 1 1 shared) (func (drop (i32.atomic.load (i32.const 0))))
const THREADS_PROBE = module(
  [0x01, 0x04, 0x01, 0x60, 0x00, 0x00],
  [0x03, 0x02, 0x01, 0x00, 0x05, 0x04, 0x01, 0x03, 0x01, 0x01],
  [0x0a, 0x0b, 0x01, 0x09, 0x00, 0x41, 0x00, 0xfe, 0x10, 0x02, 0x00, 0x1a, 0x0b],
);

function v128Zero(): number[] {
  return [0xfd, 0x0c, ...new Array(16).fill(0)];
}

function module(types: number[], mid: number[], code: number[]): Uint8Array<ArrayBuffer> {
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...types,
    ...mid,
    ...code,
  ]);
}

/** Probe the runtime's WebAssembly features. */
export function detectFeatures(): WasmFeatures {
  const ok = (bytes: Uint8Array<ArrayBuffer>) => {
    try {
      return typeof WebAssembly === "object" && WebAssembly.validate(bytes);
    } catch {
      return false;
    }
  };
  return {
    simd128: ok(SIMD_PROBE),
    relaxedSimd: ok(RELAXED_PROBE),
    threads: ok(THREADS_PROBE) && typeof SharedArrayBuffer === "function" &&
      typeof Atomics === "object",
  };
}

/** The loaded runtime: one per process (main thread). */
export interface WasmRuntime {
  /** Feature probe results. */
  readonly features: WasmFeatures;
  /** Which build runs: "relaxed-simd" or "simd128". */
  readonly build: "relaxed-simd" | "simd128";
  /** The compiled module (workers instantiate it over the same memory). */
  readonly module: WebAssembly.Module;
  /** The shared linear memory: the host heap. */
  readonly memory: WebAssembly.Memory;
  /** The main thread's instance. */
  readonly exports: KernelExports;
  /** The allocator over `memory`. */
  readonly heap: WasmHeap;
}

let runtime: WasmRuntime | null = null;
let failure: string | null = null;

/** The bytes of one of the embedded builds. */
export function decodeBinary(build: "relaxed-simd" | "simd128"): Uint8Array<ArrayBuffer> {
  const b64 = build === "relaxed-simd" ? RELAXED_WASM_BASE64 : SIMD128_WASM_BASE64;
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * Load (once) and return the runtime, or throw an Error saying why it cannot run here. The
 * `APRENDER_WASM_BUILD=simd128` environment variable (where readable) forces the plain build.
 */
export function loadRuntime(): WasmRuntime {
  if (runtime) return runtime;
  if (failure) throw new Error(failure);
  try {
    runtime = instantiate();
    return runtime;
  } catch (e) {
    failure = e instanceof Error ? e.message : String(e);
    throw e;
  }
}

/** The runtime if it loaded, else null (never loads it). */
export function currentRuntime(): WasmRuntime | null {
  return runtime;
}

function instantiate(): WasmRuntime {
  const features = detectFeatures();
  if (!features.simd128) throw new Error("this runtime's WebAssembly has no SIMD128 support");
  if (!features.threads) {
    throw new Error(
      "this runtime's WebAssembly has no threads support (shared memory, atomics, " +
        "SharedArrayBuffer), which the host heap needs",
    );
  }
  const build = features.relaxedSimd && forcedBuild() !== "simd128" ? "relaxed-simd" : "simd128";
  const module = new WebAssembly.Module(decodeBinary(build));
  // 32 pages hold the module's stack and data; the heap grows the memory as tensors need, up to
  // 4 GiB (65536 pages) or the cap APRENDER_WASM_HEAP_MAX_MIB sets (tests of the full-heap path).
  const maxPages = heapMaxPages();
  const memory = new WebAssembly.Memory({ initial: 32, maximum: maxPages, shared: true });
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  const exports = instance.exports as unknown as KernelExports;
  const heap = new WasmHeap(
    memory,
    exports.__heap_base.value as number,
    maxPages,
    (ptr, n) => exports.memset(ptr, 0, n),
    // Kept for the pool's stacks and scratch, job blocks and tables once tensors fill the heap.
    Math.min(64 * 2 ** 20, maxPages * 65536 / 2),
  );
  return { features, build, module, memory, exports, heap };
}

function forcedBuild(): string | undefined {
  return readEnv("APRENDER_WASM_BUILD");
}

/** Pages the heap may grow to: 65536 (4 GiB), or APRENDER_WASM_HEAP_MAX_MIB (16 pages a MiB). */
function heapMaxPages(): number {
  const v = readEnv("APRENDER_WASM_HEAP_MAX_MIB");
  if (v === undefined || v === "") return 65536;
  const mib = Number(v);
  if (!Number.isInteger(mib) || mib < 4 || mib > 4096) {
    throw new Error(
      `APRENDER_WASM_HEAP_MAX_MIB must be an integer from 4 to 4096 (MiB), got "${v}"`,
    );
  }
  return mib * 16;
}

function readEnv(name: string): string | undefined {
  try {
    // Query first: without --allow-env, reading would prompt or throw.
    if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") {
      return undefined;
    }
    return Deno.env.get(name);
  } catch {
    return undefined; // not Deno, or no permission API: the default
  }
}
