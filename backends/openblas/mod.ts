/**
 * The OpenBLAS plugin: `matmul` through CBLAS GEMM/GEMV and the `linalg.*` kernels through
 * LAPACK, calling the system OpenBLAS with `Deno.dlopen` (see ./ffi.ts for how the library is
 * found). Absent library, missing symbols or no `--allow-ffi` make the plugin absent, with the
 * reason in `backends()`.
 *
 * ## Memory
 * Operands are CPU tensors in host memory (core/backend/host.ts), which may be a WebAssembly
 * memory's (shared) buffer: every call takes `Deno.UnsafePointer.of()` of the storage's bytes at
 * call time (the buffer may have been replaced by a heap growth) and passes pointers into it.
 * `matmul` never copies an operand: a matrix whose last two strides are row-major (unit column
 * stride, row stride ≥ columns) goes in as is, one with unit row stride and column stride ≥ rows
 * goes in as `CblasTrans`; a row or column vector operand of a GEMV accepts any positive stride.
 * Other layouts (negative strides, a broadcast axis inside the matrix, overlapping rows) are
 * declined by its plan and run on the next backend. LAPACK overwrites its operands, so the
 * linalg kernels copy each matrix into a column-major workspace (as the kernel contract in
 * backends/scalar/kernels/lapack.ts says), reading any strides.
 *
 * ## Precision of the linalg kernels
 * By default f32 inputs are computed with the double-precision (`d*`) LAPACK routines and
 * rounded once on store: that is what NumPy does (numpy.linalg casts float32 to float64 for
 * LAPACK and casts the result back), and what the scalar reference does, so the result does not
 * depend on the backend beyond rounding. {@link setLapackF32Precision}("single") switches f32 to
 * the `s*` routines: about twice as fast, accurate to about cond(a)·1e-7. `matmul` always runs
 * in the operands' precision (sgemm for f32), as NumPy's matmul does.
 *
 * @module
 */
import type { Backend, Capabilities, KernelTable } from "../../core/backend/plugin.ts";
import { convKernels } from "./conv.ts";
import type { GemmPair } from "./gemm_job.ts";
import { loadBlas } from "./ffi.ts";
import { blasGemm, state } from "./shared.ts";
import { linear, matmul } from "./blas.ts";
import { cholesky, det, eig, eigh, inv, qr, slogdet, solve } from "./lapack.ts";
import { lstsq, matrixRank, pinv, svd } from "./lapack_svd.ts";

export { DEFAULT_BLAS_PATHS } from "./ffi.ts";

/** Capabilities of the plugin, with the library's path and `openblas_get_config()` string. */
export interface OpenBlasCapabilities extends Capabilities {
  /** The library that loaded. */
  library?: string;
  /** OpenBLAS's build configuration (version, target core, threading). */
  config?: string;
}

function probe(): OpenBlasCapabilities {
  state.load = loadBlas();
  if (!state.load.ok) return { available: false, reason: state.load.reason };
  const s = state.load.lib.symbols;
  state.blasN = s.openblas_get_num_threads();
  state.target = {
    path: state.load.path,
    gemm: [s.cblas_sgemm, s.cblas_dgemm] as unknown as GemmPair,
    setThreads: (n) => s.openblas_set_num_threads(n),
  };
  const features = ["sgemm", "dgemm", "sgemv", "dgemv"];
  if (state.load.lapack) features.push("lapack");
  return {
    available: true,
    features,
    dtypes: ["f32", "f64"],
    threads: state.load.lib.symbols.openblas_get_num_threads(),
    library: state.load.path,
    config: state.load.config,
  };
}

/**
 * Set the number of threads OpenBLAS uses (no-op when the library is not loaded). A mid-sized
 * GEMM (2^18 to 2^27 multiply-adds) is then cut into that many blocks run at once by the WASM
 * plugin's pool (bounded by `wasmThreads()`), each an OpenBLAS call on one thread; LAPACK and
 * larger GEMMs use OpenBLAS's own threads.
 *
 * @example
 * ```ts
 * import { blasThreads, setBlasThreads } from "@aprender/compute";
 * setBlasThreads(1);
 * console.log(blasThreads()); // 1 (0 when OpenBLAS is not loaded)
 * ```
 */
export function setBlasThreads(n: number): void {
  if (!state.load?.ok) return;
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`setBlasThreads: expected a positive integer, got ${n}`);
  }
  state.load.lib.symbols.openblas_set_num_threads(n);
  state.blasN = n;
}

/**
 * The number of threads OpenBLAS uses, or 0 when the library is not loaded.
 *
 * @example
 * ```ts
 * import { blasThreads } from "@aprender/compute";
 * console.log(blasThreads() >= 0); // true
 * ```
 */
export function blasThreads(): number {
  return state.load?.ok ? state.load.lib.symbols.openblas_get_num_threads() : 0;
}

/**
 * Choose the LAPACK routines the linalg kernels use for f32 inputs: "double" (default; the `d*`
 * routines, then rounded to f32, like NumPy) or "single" (the `s*` routines: faster, accurate to
 * about cond(a)·1e-7). Returns the previous setting.
 *
 * @example
 * ```ts
 * import { setLapackF32Precision } from "@aprender/compute";
 * const before = setLapackF32Precision("single");
 * setLapackF32Precision(before);
 * console.log(before); // "double"
 * ```
 */
export function setLapackF32Precision(p: "double" | "single"): "double" | "single" {
  const old = state.f32Prec;
  state.f32Prec = p;
  return old;
}

// ---- the plugin ------------------------------------------------------------------------------

/** The OpenBLAS plugin's kernels, by op name. */
const kernels: KernelTable = {
  matmul,
  linear,
  ...convKernels(blasGemm),
  "linalg.solve": solve,
  "linalg.inv": inv,
  "linalg.det": det,
  "linalg.slogdet": slogdet,
  "linalg.cholesky": cholesky,
  "linalg.qr": qr,
  "linalg.eigh": eigh,
  "linalg.eig": eig,
  "linalg.svd": svd,
  "linalg.lstsq": lstsq,
  "linalg.pinv": pinv,
  "linalg.matrixRank": matrixRank,
};

/**
 * The OpenBLAS plugin (device "cpu"): `matmul` for f32/f64 through CBLAS and the `linalg.*`
 * kernels through LAPACK. Its probe opens the system OpenBLAS (`APRENDER_BLAS_PATH` overrides the
 * search); without the library or without `--allow-ffi` it is absent, with the reason.
 *
 * @example
 * ```ts
 * import { backends, openblasBackend, registerBackend } from "@aprender/compute";
 * registerBackend(openblasBackend, { priority: 20 });
 * const b = backends().find((b) => b.name === "openblas");
 * console.log(b?.status === "available" || b?.reason !== undefined); // true
 * ```
 */
export const openblasBackend: Backend = {
  name: "openblas",
  device: "cpu",
  probe,
  kernels,
};
