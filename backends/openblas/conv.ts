/**
 * `conv2d`, `conv2dBackwardInput` and `conv2dBackwardWeight` (f32) through OpenBLAS's sgemm, for
 * tensors in the WASM host heap. The column matrices are built and consumed by the heap's own
 * kernels (im2col, col2im and strided copies of backends/cpu/im2col.ts); each GEMM is then one
 * sgemm per group over a whole chunk of images, where the WASM plugin runs its SIMD128 GEMM per
 * image or block. On this machine sgemm runs these shapes 2-4× faster than WASM SIMD128 (AVX-512
 * against 128-bit lanes): bench/RESULTS.md.
 *
 * Same contracts as backends/scalar/kernels/conv.ts. Declined (the WASM or scalar kernels run)
 * when the WASM runtime is not loaded, an operand lies outside its heap, a dtype is not f32, or
 * the weight is not contiguous.
 *
 * Images go in chunks under the WASM kernels' column budget (`setConvGradChunk`). Layout per
 * chunk of `nimg` images (one block in the terms of src/conv.c): the column matrix
 * is (C·KH·KW, nimg·OH·OW), group q's rows at q·K; the output gradient permuted to
 * (O, nimg·OH·OW).
 *
 * @module
 */
import type {
  KernelCall,
  KernelEntry,
  OpKernelTable,
  TensorView,
} from "../../core/backend/plugin.ts";
import type { HostStorage } from "../../core/backend/host.ts";
import type { Conv2dAttrs } from "../../core/backend/attrs.ts";
import { currentRuntime } from "../cpu/runtime.ts";
import { address, heapScratch } from "../cpu/jobs.ts";
import { col2im, directWeightGrad, forEachConvChunk, im2col, permuteGrad } from "../cpu/im2col.ts";
import { runCopy } from "../cpu/copy.ts";
import { BINARY_OPS, runElementwise } from "../cpu/elementwise.ts";
import { CblasNoTrans, CblasTrans } from "./ffi.ts";
import type { blasGemm } from "./shared.ts";
import { bufferPtr } from "./ptr.ts";

/** Every tensor f32, in the loaded WASM heap, small enough for int32 element offsets. */
function inHeap(ts: (TensorView | undefined)[]): boolean {
  const rt = currentRuntime();
  return rt !== null &&
    ts.every((t) =>
      t !== undefined && t.dtype === "f32" && (t.storage as HostStorage).allocator === rt.heap &&
      t.size < 2 ** 31
    );
}

/** A pointer to heap byte address `addr`. */
function heapPtr(addr: number): Deno.PointerObject {
  return bufferPtr(currentRuntime()!.memory.buffer, addr);
}

/** The conv kernels, running their GEMMs through `gemm` (the plugin's, split over the pool). */
export function convKernels(gemm: typeof blasGemm): OpKernelTable {
  /** C (m×n, ldc) = op(A)·op(B) (+ C when `acc`), on heap addresses. */
  function sgemm(
    ta: boolean,
    tb: boolean,
    m: number,
    n: number,
    k: number,
    a: number,
    lda: number,
    b: number,
    ldb: number,
    c: number,
    ldc: number,
    acc = false,
  ): void {
    gemm(
      false,
      ta ? CblasTrans : CblasNoTrans,
      tb ? CblasTrans : CblasNoTrans,
      m,
      n,
      k,
      1,
      heapPtr(a),
      lda,
      heapPtr(b),
      ldb,
      acc ? 1 : 0,
      heapPtr(c),
      ldc,
    );
  }

  /**
   * One image (inference): the GEMM writes the output in place — its (O, OH·OW) layout is the
   * image's — on top of the bias broadcast into it first (sgemm with β = 1), and a 1×1 kernel
   * with stride 1 and no padding reads the input's (C, H·W) planes as they lie (no column
   * matrix). Batches keep the chunked path below, whose single GEMM per group spans every image
   * of a chunk. Same arithmetic as that path: each output is the GEMM's sum plus the bias.
   */
  function singleImage(call: KernelCall<Conv2dAttrs>): void {
    const [x, w, bias] = call.inputs, [out] = call.outputs;
    const { groups, stride: [sh, sw], padding: [pt, pb, pl, pr] } = call.attrs;
    const [, C, H, Wd] = x.shape, [O, Cg, KH, KW] = w.shape, [, , OH, OW] = out.shape;
    const [, xc, xh, xw] = x.strides;
    const Og = O / groups, P = OH * OW, K = Cg * KH * KW;
    const o = address(out);
    if (call.attrs.hasBias) runCopy(2, [O, P], o, [P, 1], address(bias), [bias.strides[0], 0]);
    const pointwise = KH === 1 && KW === 1 && sh === 1 && sw === 1 && pt === 0 && pb === 0 &&
      pl === 0 && pr === 0 && xw === 1 && (H === 1 || xh === Wd) && xc >= P;
    const cols = pointwise ? null : heapScratch(C * KH * KW * P * 4);
    try {
      if (cols) im2col(x, call.attrs, { KH, KW, OH, OW }, 0, 1, 1, cols.ptr);
      for (let q = 0; q < groups; q++) {
        const b = cols ? cols.ptr + q * K * P * 4 : address(x) + q * Cg * xc * 4;
        sgemm(
          false,
          false,
          Og,
          P,
          K,
          address(w) + q * Og * K * 4,
          K,
          b,
          cols ? P : xc,
          o + q * Og * P * 4,
          P,
          call.attrs.hasBias,
        );
      }
    } finally {
      cols?.free();
    }
  }

  const conv2d: KernelEntry = {
    supports(call: KernelCall<Conv2dAttrs>): boolean {
      const [x, w, bias] = call.inputs, [out] = call.outputs;
      // Depthwise (one input channel per group): the WASM plugin's direct kernel is faster than
      // a GEMM with one output row per group.
      if (call.attrs.groups > 1 && w?.shape[1] === 1 && call.attrs.groups === x?.shape[1]) {
        return false;
      }
      return x?.ndim === 4 && w?.ndim === 4 && out?.isContiguous && w.isContiguous &&
        w.size > 0 && inHeap(call.attrs.hasBias ? [x, w, bias, out] : [x, w, out]);
    },
    run(call: KernelCall<Conv2dAttrs>): void {
      const [x, w, bias] = call.inputs, [out] = call.outputs;
      const { groups } = call.attrs;
      const [N, C] = x.shape, [O, Cg, KH, KW] = w.shape, [, , OH, OW] = out.shape;
      const Og = O / groups, P = OH * OW, K = Cg * KH * KW;
      if (out.size === 0) return;
      if (N === 1) {
        singleImage(call);
        return;
      }
      forEachConvChunk({ N, C, KH, KW, P, O }, ({ n0, nimg, cols, gp: tmp }) => {
        const L = nimg * P;
        im2col(x, call.attrs, { KH, KW, OH, OW }, n0, nimg, nimg, cols);
        for (let q = 0; q < groups; q++) {
          sgemm(
            false,
            false,
            Og,
            L,
            K,
            address(w) + q * Og * K * 4,
            K,
            cols + q * K * L * 4,
            L,
            tmp + q * Og * L * 4,
            L,
          );
        }
        // (O, nimg, P) → out's images n0.. as (nimg, O, P).
        runCopy(2, [nimg, O, P], address(out) + n0 * O * P * 4, [O * P, P, 1], tmp, [
          P,
          L,
          1,
        ]);
      });
      if (call.attrs.hasBias) {
        const o = address(out);
        runElementwise("binary", BINARY_OPS.add, "f32", [N, O, P], [o, o, address(bias)], [
          [O * P, P, 1],
          [O * P, P, 1],
          [0, bias.strides[0], 0],
        ], false);
      }
    },
  };

  const conv2dBackwardInput: KernelEntry = {
    supports(call: KernelCall<Conv2dAttrs>): boolean {
      const [g, w] = call.inputs, [out] = call.outputs;
      return g?.ndim === 4 && w?.ndim === 4 && out?.ndim === 4 && out.isContiguous &&
        w.isContiguous && inHeap([g, w, out]);
    },
    run(call: KernelCall<Conv2dAttrs>): void {
      const [g, w] = call.inputs, [out] = call.outputs;
      const { groups } = call.attrs;
      const [N, C] = out.shape, [O, Cg, KH, KW] = w.shape, [, , OH, OW] = g.shape;
      const Og = O / groups, P = OH * OW, K = Cg * KH * KW;
      if (out.size === 0 || P === 0 || O === 0) return; // dx stays zero
      forEachConvChunk({ N, C, KH, KW, P, O }, ({ n0, nimg, cols, gp }) => {
        const L = nimg * P;
        permuteGrad(g, n0, nimg, nimg, gp);
        for (let q = 0; q < groups; q++) {
          // dcols_q (K × L) = W_qᵀ (K × Og) · g_q (Og × L).
          sgemm(
            true,
            false,
            K,
            L,
            Og,
            address(w) + q * Og * K * 4,
            K,
            gp + q * Og * L * 4,
            L,
            cols + q * K * L * 4,
            L,
          );
        }
        col2im(out, call.attrs, { KH, KW, OH, OW }, n0, nimg, nimg, cols);
      });
    },
  };

  const conv2dBackwardWeight: KernelEntry = {
    supports(call: KernelCall<Conv2dAttrs>): boolean {
      const [x, g] = call.inputs, [out] = call.outputs;
      // Few taps per output channel: the WASM plugin's direct kernel is faster than this GEMM.
      return x?.ndim === 4 && g?.ndim === 4 && out?.ndim === 4 && out.isContiguous &&
        inHeap([x, g, out]) && !directWeightGrad(call);
    },
    run(call: KernelCall<Conv2dAttrs>): void {
      const [x, g] = call.inputs, [out] = call.outputs;
      const { groups } = call.attrs;
      const [N, C] = x.shape, [O, Cg, KH, KW] = out.shape, [, , OH, OW] = g.shape;
      const Og = O / groups, P = OH * OW, K = Cg * KH * KW;
      if (out.size === 0 || N === 0 || P === 0) return; // dW stays zero
      forEachConvChunk({ N, C, KH, KW, P, O }, ({ n0, nimg, cols, gp }) => {
        const L = nimg * P;
        permuteGrad(g, n0, nimg, nimg, gp);
        im2col(x, call.attrs, { KH, KW, OH, OW }, n0, nimg, nimg, cols);
        for (let q = 0; q < groups; q++) {
          // dW_q (Og × K) (+)= g_q (Og × L) · cols_qᵀ (L × K), summed over the chunks.
          sgemm(
            false,
            true,
            Og,
            K,
            L,
            gp + q * Og * L * 4,
            L,
            cols + q * K * L * 4,
            L,
            address(out) + q * Og * K * 4,
            K,
            n0 > 0,
          );
        }
      });
    },
  };

  return { conv2d, conv2dBackwardInput, conv2dBackwardWeight };
}
