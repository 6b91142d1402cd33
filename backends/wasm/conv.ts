/**
 * conv2d (f32) on the WASM plugin: im2col into heap scratch (src/conv.c, threaded over rows)
 * and the packed GEMM batched over (image, group) pairs, then the bias added in place by the
 * elementwise kernel. A 1×1 kernel with stride 1 and no padding multiplies the input in place (no
 * column matrix). Images are processed in chunks so the column matrix stays under 64 MiB.
 *
 * Contract of backends/scalar/kernels/conv.ts: x (N, C, H, W), weight (O, C/groups, KH, KW),
 * optional bias (O,), output (N, O, OH, OW) contiguous; attrs stride, padding [top, bottom, left,
 * right], dilation, groups, hasBias. Accumulates in f32 (the scalar reference in f64).
 * Depthwise convolutions (one input channel per group) run the direct kernel of src/conv_dw.c
 * instead: a GEMM with one output row per group wasted most of its time (BlazeFace's 3×3
 * depthwise layers ran at ~0.5 GFLOP/s that way).
 *
 * @module
 */
import type { KernelCall, KernelEntry, OpKernelTable } from "../../core/backend/plugin.ts";
import type { Conv2dAttrs } from "../../core/backend/attrs.ts";
import { gemmRaw, inWasmHeap } from "./gemm.ts";
import { BINARY_OPS, runElementwise } from "../cpu/elementwise.ts";
import { address, beginJob, heapScratch, JOB_IA, KIND, plan, runPar, W } from "../cpu/jobs.ts";

/** Column-matrix budget per chunk of images, in elements (64 MiB of f32). */
const COLS_MAX = 1 << 24;

/** Whether the weight's (C/groups, KH, KW) axes read as one strided axis. */
function weightFlat(w: { shape: readonly number[]; strides: readonly number[] }): number | null {
  const [, cg, kh, kw] = w.shape, [, s1, s2, s3] = w.strides;
  let step: number | null = null, run = 1;
  // Walk the three axes from the inner one; axes of length 1 are free.
  for (const [d, s] of [[kw, s3], [kh, s2], [cg, s1]] as const) {
    if (d === 1) continue;
    if (step === null) step = s;
    else if (s !== step * run) return null;
    run *= d;
  }
  return step ?? 1;
}

/** One input channel per group and a contiguous weight: the direct kernel (src/conv_dw.c). */
function depthwise(
  x: { shape: readonly number[] },
  w: { shape: readonly number[]; isContiguous: boolean },
  groups: number,
): boolean {
  return groups > 1 && groups === x.shape[1] && w.shape[1] === 1 && w.isContiguous;
}

/** Depthwise conv2d: whole output planes per slot, bias added in the kernel. */
function runDepthwise(call: KernelCall<Conv2dAttrs>): void {
  const [x, w, bias] = call.inputs, [out] = call.outputs;
  const { stride: [sh, sw], padding: [pt, , pl], dilation: [dh, dw], hasBias } = call.attrs;
  const [N, C, H, Wd] = x.shape, [O, , KH, KW] = w.shape, [, , OH, OW] = out.shape;
  const [xn, xc, xh, xw] = x.strides;
  const v = beginJob(KIND.convDepthwise);
  const ia = [C, H, Wd, KH, KW, OH, OW, sh, sw, pt, pl, dh, dw, xn, xc, xh, xw, O / C, O];
  ia.push(hasBias ? 1 : 0);
  ia.forEach((val, i) => (v.i32[JOB_IA.window.geometry + i] = val));
  const planes = N * O;
  v.i32[W.total] = planes;
  v.i32[W.ptr] = address(out);
  v.i32[W.ptr + 1] = address(x);
  v.i32[W.ptr + 2] = address(w);
  v.i32[W.ptr + 3] = hasBias ? address(bias) : 0;
  const p = plan(planes * OH * OW * KH * KW, 1 << 16);
  runPar(v, Math.min(p.slots, planes), p.threads);
}

const conv2d: KernelEntry = {
  supports(call: KernelCall<Conv2dAttrs>): boolean {
    const [x, w, bias] = call.inputs, [out] = call.outputs;
    if (!x || !w || !out || x.ndim !== 4 || w.ndim !== 4) return false;
    const all = call.attrs.hasBias ? [x, w, bias, out] : [x, w, out];
    return all.every((t) => t && t.dtype === "f32" && inWasmHeap(t)) && out.isContiguous &&
      weightFlat(w) !== null && x.size < 2 ** 31;
  },
  run(call: KernelCall<Conv2dAttrs>): void {
    const [x, w, bias] = call.inputs, [out] = call.outputs;
    const { stride: [sh, sw], padding: [pt, , pl], dilation: [dh, dw], groups } = call.attrs;
    const [N, C, H, Wd] = x.shape, [O, Cg, KH, KW] = w.shape, [, , OH, OW] = out.shape;
    if (out.size === 0) return;
    if (depthwise(x, w, groups)) {
      runDepthwise(call);
      return;
    }
    const Og = O / groups, P = OH * OW, K = Cg * KH * KW;
    const wstep = weightFlat(w)!;
    const [xn, xc, xh, xw] = x.strides;
    const direct = KH === 1 && KW === 1 && sh === 1 && sw === 1 && pt === 0 && pl === 0 &&
      (H === 1 || xh === Wd * xw);
    const per = direct ? N : Math.max(1, Math.min(N, Math.floor(COLS_MAX / (C * KH * KW * P))));
    const cols = direct ? null : heapScratch(per * C * KH * KW * P * 4);
    try {
      for (let n0 = 0; n0 < N; n0 += per) {
        const nimg = Math.min(per, N - n0);
        const nb = nimg * groups;
        const aoffs = new Int32Array(nb), boffs = new Int32Array(nb);
        for (let i = 0; i < nimg; i++) {
          for (let g = 0; g < groups; g++) {
            aoffs[i * groups + g] = g * Og * w.strides[0];
            boffs[i * groups + g] = direct ? (n0 + i) * xn + g * Cg * xc : (i * groups + g) * K * P;
          }
        }
        if (!direct) {
          const rows = nimg * C * KH * KW;
          const v = beginJob(KIND.im2col);
          const ia = [C, H, Wd, KH, KW, OH, OW, sh, sw, pt, pl, dh, dw, xn, xc, xh, xw, 1];
          ia.forEach((val, i) => (v.i32[JOB_IA.window.geometry + i] = val));
          v.i32[W.total] = rows;
          v.i32[W.ptr] = cols!.ptr;
          v.i32[W.ptr + 1] = address(x) + n0 * xn * 4;
          const p = plan(rows * P, 1 << 18);
          runPar(v, Math.min(p.slots, rows), p.threads);
        }
        gemmRaw({
          es: 4,
          m: Og,
          n: P,
          k: K,
          nbatch: nb,
          rsa: w.strides[0],
          csa: wstep,
          rsb: direct ? xc : P,
          csb: direct ? xw : 1,
          a: address(w),
          b: direct ? address(x) : cols!.ptr,
          c: address(out) + n0 * O * P * 4,
          aoffs: nb > 1 ? aoffs : null,
          boffs: nb > 1 ? boffs : null,
        });
      }
    } finally {
      cols?.free();
    }
    if (call.attrs.hasBias) {
      const o = address(out);
      runElementwise(
        "binary",
        BINARY_OPS.add,
        "f32",
        [N, O, P],
        [o, o, address(bias)],
        [[O * P, P, 1], [O * P, P, 1], [0, bias.strides[0], 0]],
        false,
      );
    }
  },
};

/** The conv kernel entries by op name. */
export const convKernels: OpKernelTable = { conv2d };
