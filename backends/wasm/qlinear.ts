/**
 * The WASM plugin's `quantLinear` kernel (contract: core/ops/quant_linear.ts): `y = x · wᵀ` on
 * the packed weight, in backends/cpu/src/qlinear.c, with the output columns (weight rows) split
 * over the WASM pool's threads.
 *
 * `activations: "ggml"` quantizes the activations once per call the way llama.cpp's CPU path does
 * (Q8_0 for Q4_0/Q5_0/Q8_0/IQ4_NL weights, Q8_1 for Q4_1/Q5_1, Q8_K for the K-quants and IQ4_XS)
 * and runs exact integer block dots (Q2_K, Q3_K, Q5_K, IQ4_XS and the "ggml" mode of Q4_1, Q5_0,
 * Q5_1, IQ4_NL in backends/cpu/src/qlinear_k.c); `activations: "f32"` decodes weight rows to f32
 * in chunks and dots them with the activations as they are. Weight types without a kernel here
 * (and f16/bf16 under "ggml", whose activations
 * llama.cpp rounds to f16/bf16) are declined, so the registry runs the scalar kernel.
 *
 * @module
 */
import type { KernelCall, KernelEntry } from "../../core/backend/plugin.ts";
import type { QuantLinearAttrs } from "../../core/backend/attrs.ts";
import { byteLength } from "../../core/dtype.ts";
import { DTypeError } from "../../core/errors.ts";
import { loadRuntime } from "../cpu/runtime.ts";
import { address, beginJob, heapScratch, JOB_IA, KIND, plan, runPar, W } from "../cpu/jobs.ts";
import { inWasmHeap } from "./gemm.ts";
import { repackedQ4_0 } from "./qrepack.ts";

/** Weight type codes of qlinear.c (`QT_…`), by dtype. */
const QTYPE: Readonly<Record<string, number>> = {
  f32: 0,
  f16: 1,
  bf16: 2,
  q4_0: 3,
  q8_0: 4,
  q4_k: 5,
  q6_k: 6,
  q4_1: 7,
  q5_0: 8,
  q5_1: 9,
  iq4_nl: 10,
  q2_k: 11, // q2_k … iq4_xs, and "ggml" mode of q4_1 … iq4_nl: qlinear_k.c
  q3_k: 12,
  q5_k: 13,
  iq4_xs: 14,
};
/** Types with an integer (Q8-activation) kernel, and the activation quantizer each pairs with. */
const GGML_MODE: Readonly<Record<string, 1 | 2 | 3 | 4>> = {
  q4_0: 1,
  q8_0: 3,
  q4_k: 2,
  q6_k: 2,
  q5_0: 1, // 4: Q8_1 (qlin_quant_q8_1); 1: Q8_0; 2: Q8_K; 3: Q8_0 with int16 levels
  iq4_nl: 1,
  q4_1: 4,
  q5_1: 4,
  q2_k: 2,
  q3_k: 2,
  q5_k: 2,
  iq4_xs: 2,
};
/**
 * Weight types with a tiled kernel for several activation rows (backends/cpu/src/qgemm_tile.c,
 * mode 2), and the k each needs a multiple of (its groups of four blocks).
 */
const TILED_K: Readonly<Record<string, number>> = { q4_0: 128, q8_0: 128, q4_k: 256 };
/** Activation rows from which the tiled kernel runs (one row keeps the matrix-vector kernel). */
let tiledMinM = 2;

/**
 * Turn the tiled several-row kernel off (`false`: every row count runs the matrix-vector kernel,
 * as before it existed) or back on; for tests and benchmarks that compare the two.
 *
 * @example
 * ```ts
 * import { setQuantLinearTiling } from "./qlinear.ts";
 * setQuantLinearTiling(false); // old path
 * setQuantLinearTiling(true);
 * ```
 */
export function setQuantLinearTiling(on: boolean): void {
  tiledMinM = on ? 2 : Infinity;
}
/** Multiply-adds below which one thread runs the whole product (waking the pool costs ~50 µs). */
const PARALLEL_MIN_MACS = 1 << 18;

/** Which weight dtypes the kernel runs for an activation mode. */
export function wasmQuantLinearSupports(dtype: string, activations: "f32" | "ggml"): boolean {
  if (activations === "ggml") return dtype in GGML_MODE || dtype === "f32";
  return dtype in QTYPE;
}

const quantLinear: KernelEntry<QuantLinearAttrs> = {
  supports(call: KernelCall<QuantLinearAttrs>): boolean {
    const [x, w] = call.inputs, [y] = call.outputs;
    if (!x || !w || !y) return false;
    const acts = call.attrs.activations;
    const ok = x.dtype === "f32" && y.dtype === "f32" && wasmQuantLinearSupports(w.dtype, acts) &&
      x.isContiguous && w.isContiguous && y.isContiguous && inWasmHeap(x) && inWasmHeap(w) &&
      inWasmHeap(y) && x.size < 2 ** 31 && y.size < 2 ** 31;
    if (!ok && repackedQ4_0(w)) {
      // no other kernel reads the repacked layout: declining would give wrong numbers
      throw new DTypeError(
        `quantLinear: the Q4_0 weight [${w.shape}] is repacked (backends/wasm/qrepack.ts), which ` +
          `only the WASM kernel reads, but it cannot run x ${x.dtype} [${x.shape}] → y ` +
          `${y.dtype} (it needs contiguous f32 tensors in the WASM heap). Hint: unrepackQ4_0(w).`,
      );
    }
    return ok;
  },
  run(call: KernelCall<QuantLinearAttrs>): void {
    const [x, w] = call.inputs, [y] = call.outputs;
    const m = x.shape[0], k = x.shape[1], n = w.shape[0];
    if (m * n === 0) return;
    const rt = loadRuntime();
    rt.exports.qlin_init(); // the f16 table, once
    const ggml = call.attrs.activations === "ggml" ? GGML_MODE[w.dtype] ?? 0 : 0;
    const tk = TILED_K[w.dtype];
    // a repacked Q4_0 weight (qrepack.ts) runs qrepack.c at every m, on interleaved activations
    const repacked = repackedQ4_0(w) !== null;
    const tiled = ggml !== 0 && tk !== undefined && (repacked || m >= tiledMinM) && k % tk === 0;
    // the tiled Q8_0 kernel takes int8 levels (mode 1) where the matrix-vector one widens them
    const mode = tiled && ggml === 3 ? 1 : ggml;
    let scratch: { ptr: number; free(): void } | null = null;
    try {
      let acts = address(x), scales = 0, sums = 0;
      if (mode) {
        // int8 (mode 3: int16) levels, then a scale per block (32 or 256) and a sum per 32 or 16
        // (mode 4: Q8_1's f16 s = d·Σq per block, as f32)
        const nd = mode === 2 ? (m * k) / 256 : (m * k) / 32;
        const ns = mode === 2 ? (m * k) / 16 : (m * k) / 32;
        const q = ((mode === 3 ? 2 : 1) * m * k + 15) & ~15;
        scratch = heapScratch(q + 4 * nd + 4 * ns);
        acts = scratch.ptr;
        scales = scratch.ptr + q;
        sums = scales + 4 * nd;
        if (mode === 4) rt.exports.qlin_quant_q8_1(address(x), m, k, acts, scales, sums);
        else rt.exports.qlin_quant(address(x), m, k, mode, acts, scales, sums);
        if (tiled) rt.exports.qlin_interleave(acts, m * k, mode === 2 ? 1 : 0);
      }
      const v = beginJob(KIND.qlinear);
      const ia = JOB_IA.qlinear;
      v.i32[ia.wtype] = QTYPE[w.dtype];
      v.i32[ia.m] = m;
      v.i32[ia.n] = n;
      v.i32[ia.k] = k;
      v.i32[ia.rowBytes] = byteLength(w.dtype, k);
      v.i32[ia.mode] = repacked ? (mode ? 3 : 4) : tiled ? 2 : mode ? 1 : 0;
      v.i32[ia.sums] = sums;
      v.i32[W.ptr] = address(y);
      v.i32[W.ptr + 1] = address(w);
      v.i32[W.ptr + 2] = acts;
      v.i32[W.ptr + 3] = scales;
      const p = plan(m * n * k, PARALLEL_MIN_MACS);
      // slots: a few per thread, never fewer than one weight row each
      runPar(v, Math.min(n, p.threads > 1 ? 4 * p.threads : 1), p.threads);
    } finally {
      scratch?.free();
    }
  },
};

/** The WASM plugin's quantized-linear kernels. */
export const qlinearKernels: { quantLinear: KernelEntry<QuantLinearAttrs> } = { quantLinear };
