/**
 * Kernels of training on the WASM plugin (src/train.c, src/conv.c, src/elementwise.c):
 *
 * - `maxPool2d`, `avgPool2d`, `maxPool2dBackward`, `avgPool2dBackward` (f32, f64): the contracts
 *   of backends/scalar/kernels/conv.ts, x and g read through any strides, threaded over the
 *   (n, c) planes; 2×2/stride-2 max pooling has an unrolled path.
 * - `reluBackward` (f32, f64): `x > 0 ? g : 0` (or `g · negativeSlope` for leakyRelu).
 * - `conv2dBackwardInput` (f32): dcols = Wᵀ · g per (image, group) with the packed GEMM, then
 *   col2im (each input plane written once, threaded over planes).
 * - `conv2dBackwardWeight` (f32): im2col of x, then per (image, group) g · colsᵀ with the packed
 *   GEMM into partial matrices summed over the images in f64.
 * - `adamStep` (f32, f64): the fused Adam/AdamW update (src/optim.c), contiguous operands.
 *
 * Every operand must live in the heap and the output be contiguous; other calls are declined
 * (the scalar backend runs them).
 *
 * @module
 */
import type {
  KernelCall,
  KernelEntry,
  OpKernelTable,
  TensorView,
} from "../../core/backend/plugin.ts";
import type { Conv2dAttrs, PoolAttrs, ReluBackwardAttrs } from "../../core/backend/attrs.ts";
import { adamScalars, type AdamStepAttrs } from "../../core/backend/attrs.ts";
import { gemmRaw, inWasmHeap } from "./gemm.ts";
import { BINARY_OPS, mergeAxes, runElementwise } from "../cpu/elementwise.ts";
import { col2im, directWeightGrad, forEachConvChunk, im2col, permuteGrad } from "../cpu/im2col.ts";
import {
  address,
  beginJob,
  heapScratch,
  JOB_IA,
  KIND,
  MAXDIM,
  plan,
  runPar,
  W,
} from "../cpu/jobs.ts";

const isFloat = (t: TensorView | undefined): boolean => t?.dtype === "f32" || t?.dtype === "f64";

/** Every tensor of one float dtype (or f32 only), in the heap, small enough for int32 offsets. */
function operands(ts: (TensorView | undefined)[], f32Only = false): boolean {
  const d = ts[0]?.dtype;
  return ts.every((t) =>
    t !== undefined && t.dtype === d && (f32Only ? d === "f32" : isFloat(t)) && inWasmHeap(t) &&
    t.size < 2 ** 31
  );
}

function poolEntry(op: 0 | 1 | 2 | 3): KernelEntry {
  const backward = op >= 2;
  return {
    supports(call: KernelCall<PoolAttrs>): boolean {
      const [x, g] = call.inputs, [out] = call.outputs;
      const ts = backward ? [x, g, out] : [x, out];
      return operands(ts) && x.ndim === 4 && out.ndim === 4 && out.isContiguous &&
        (!backward || g.ndim === 4);
    },
    run(call: KernelCall<PoolAttrs>): void {
      const [x, g] = call.inputs, [out] = call.outputs;
      const {
        kernel: [KH, KW],
        stride: [sh, sw],
        padding: [ph, , pw],
        dilation: [dh, dw],
        countIncludePad,
      } = call.attrs;
      const [N, C, H, Wd] = x.shape;
      const [, , OH, OW] = (backward ? g : out).shape;
      if (out.size === 0) return;
      const v = beginJob(KIND.pool);
      v.i32[W.op] = op;
      v.i32[W.dtype] = x.dtype === "f64" ? 1 : 0;
      v.i32[W.total] = N * C;
      const ia = [
        C,
        H,
        Wd,
        OH,
        OW,
        KH,
        KW,
        sh,
        sw,
        ph,
        pw,
        dh ?? 1,
        dw ?? 1,
        countIncludePad ? 1 : 0,
      ];
      ia.forEach((val, i) => (v.i32[JOB_IA.window.geometry + i] = val));
      v.i32[W.ptr] = address(out);
      v.i32[W.ptr + 1] = address(x);
      v.i32[W.ptr + 2] = backward ? address(g) : 0;
      for (let d = 0; d < 4; d++) {
        v.i32[W.strides + MAXDIM + d] = x.strides[d];
        v.i32[W.strides + 2 * MAXDIM + d] = backward ? g.strides[d] : 0;
      }
      const p = plan(N * C * OH * OW * KH * KW, 1 << 17);
      runPar(v, Math.min(p.slots, N * C), p.threads);
    },
  };
}

const reluBackward: KernelEntry = {
  supports(call: KernelCall): boolean {
    const [x, g] = call.inputs, [out] = call.outputs;
    if (!operands([out, x, g]) || out.size >= 2 ** 31) return false;
    const same = (t: TensorView) =>
      t.ndim === out.ndim && t.shape.every((d, i) => d === out.shape[i]);
    return same(x) && same(g) && mergeAxes(out.shape, [out.strides, x.strides, g.strides]) !== null;
  },
  run(call: KernelCall<ReluBackwardAttrs>): void {
    const [x, g] = call.inputs, [out] = call.outputs;
    const slope = call.attrs.negativeSlope;
    runElementwise(
      "binary",
      BINARY_OPS.reluBackward,
      out.dtype as "f32" | "f64",
      out.shape,
      [address(out), address(x), address(g)],
      [out.strides, x.strides, g.strides],
      false,
      { ia0: slope === undefined ? 0 : 1, fa0: slope ?? 0 },
    );
  },
};

/** The weight's (C/groups, KH, KW) axes as one strided axis (their step), or null. */
function weightFlat(w: { shape: readonly number[]; strides: readonly number[] }): number | null {
  const [, cg, kh, kw] = w.shape, [, s1, s2, s3] = w.strides;
  let step: number | null = null, run = 1;
  for (const [d, s] of [[kw, s3], [kh, s2], [cg, s1]] as const) {
    if (d === 1) continue;
    if (step === null) step = s;
    else if (s !== step * run) return null;
    run *= d;
  }
  return step ?? 1;
}

/**
 * Images per block of a chunk of `nimg`: the largest divisor of nimg that leaves at least 8
 * blocks (so the GEMMs, one per block and group, balance over the threads; one large GEMM cut
 * into one slot per thread ran 2-3× slower in training, when V8's background threads take a
 * core for a while).
 */
function blockSize(nimg: number): number {
  for (let d = Math.ceil(nimg / 8); d > 1; d--) if (nimg % d === 0 && nimg / d >= 8) return d;
  return 1;
}

/** Offsets of the GEMM entries (block b, group q), e = b·groups + q. */
function entryOffsets(nblk: number, groups: number, f: (b: number, q: number) => number) {
  const o = new Int32Array(nblk * groups);
  for (let b = 0; b < nblk; b++) for (let q = 0; q < groups; q++) o[b * groups + q] = f(b, q);
  return o;
}

/**
 * conv2dBackwardInput: inputs g (N, O, OH, OW), w (O, C/groups, KH, KW); output dx (N, C, H, W).
 * Per chunk of images, in blocks of nb images: g permuted to (O, nb·OH·OW) per block; one GEMM
 * per (block, group), dcols (Cg·KH·KW, nb·OH·OW) = W_gᵀ · g_g; then col2im.
 */
const conv2dBackwardInput: KernelEntry = {
  supports(call: KernelCall<Conv2dAttrs>): boolean {
    const [g, w] = call.inputs, [out] = call.outputs;
    return operands([out, g, w], true) && g.ndim === 4 && w.ndim === 4 && out.ndim === 4 &&
      out.isContiguous && weightFlat(w) !== null;
  },
  run(call: KernelCall<Conv2dAttrs>): void {
    const [g, w] = call.inputs, [out] = call.outputs;
    const { groups } = call.attrs;
    const [N, C] = out.shape, [O, Cg, KH, KW] = w.shape, [, , OH, OW] = g.shape;
    if (out.size === 0) return;
    const Og = O / groups, P = OH * OW, K = Cg * KH * KW;
    if (P === 0 || O === 0) return; // dx stays zero (the dispatcher's outputs are zero-filled)
    forEachConvChunk({ N, C, KH, KW, P, O }, ({ n0, nimg, cols, gp }) => {
      const nb = blockSize(nimg), nblk = nimg / nb, L = nb * P;
      permuteGrad(g, n0, nimg, nb, gp);
      const many = nblk * groups > 1;
      gemmRaw({
        es: 4,
        m: K,
        n: L,
        k: Og,
        nbatch: nblk * groups,
        rsa: weightFlat(w)!,
        csa: w.strides[0],
        rsb: L,
        csb: 1,
        a: address(w),
        b: gp,
        c: cols,
        aoffs: many ? entryOffsets(nblk, groups, (_, q) => q * Og * w.strides[0]) : null,
        boffs: many ? entryOffsets(nblk, groups, (b, q) => (b * O + q * Og) * L) : null,
      });
      col2im(out, call.attrs, { KH, KW, OH, OW }, n0, nimg, nb, cols);
    });
  },
};

/** conv2dBackwardWeight by the direct kernel: partial dW per slot of images, then their sum. */
function weightGradDirect(call: KernelCall<Conv2dAttrs>): void {
  const [x, g] = call.inputs, [out] = call.outputs;
  const { stride: [sh], padding: [pt, , pl], dilation: [dh], groups } = call.attrs;
  const [N, C, H, Wd] = x.shape, [O, Cg, KH, KW] = out.shape, [, , OH, OW] = g.shape;
  const K = Cg * KH * KW;
  const p = plan(N * O * K * OH * OW, 1 << 16);
  const nslots = Math.max(1, Math.min(N, p.threads * 4));
  const parts = heapScratch(nslots * O * K * 4);
  try {
    const v = beginJob(KIND.convBackwardWeight);
    [C, H, Wd, KH, KW, OH, OW, sh, pt, pl, dh, groups, O].forEach((val, i) =>
      v.i32[JOB_IA.window.geometry + i] = val
    );
    v.i32[W.total] = N;
    v.i32[W.ptr] = parts.ptr;
    v.i32[W.ptr + 1] = address(x);
    v.i32[W.ptr + 2] = address(g);
    for (let d = 0; d < 4; d++) {
      v.i32[W.strides + MAXDIM + d] = x.strides[d];
      v.i32[W.strides + 2 * MAXDIM + d] = g.strides[d];
    }
    runPar(v, nslots, p.threads);
    sumRows(out, parts.ptr, nslots, O * K, false);
  } finally {
    parts.free();
  }
}

/** out (+)= Σ of `rows` rows of `len` f32 at heap address `buf` (src/train.c, in f64). */
function sumRows(
  out: TensorView,
  buf: number,
  rows: number,
  len: number,
  accumulate: boolean,
): void {
  const v = beginJob(KIND.sumRows);
  v.i32[JOB_IA.sumRows.rows] = rows;
  v.i32[JOB_IA.sumRows.len] = len;
  v.i32[JOB_IA.sumRows.accumulate] = accumulate ? 1 : 0;
  v.i32[W.ptr] = address(out);
  v.i32[W.ptr + 1] = buf;
  const p = plan(rows * len, 1 << 18);
  runPar(v, Math.min(p.slots, len), p.threads);
}

/**
 * conv2dBackwardWeight: inputs x (N, C, H, W), g (N, O, OH, OW); output dW (O, C/groups, KH, KW).
 * With few taps per output channel ({@link directWeightGrad}) the direct kernel; otherwise:
 * Per chunk of images, in blocks of nb images: g permuted to (O, nb·OH·OW) and x's columns
 * (C·KH·KW, nb·OH·OW) per block; one GEMM per (block, group), g_g · cols_gᵀ, into partial
 * matrices, summed over the blocks (and chunks) in f64.
 */
const conv2dBackwardWeight: KernelEntry = {
  supports(call: KernelCall<Conv2dAttrs>): boolean {
    const [x, g] = call.inputs, [out] = call.outputs;
    return operands([out, x, g], true) && x.ndim === 4 && g.ndim === 4 && out.ndim === 4 &&
      out.isContiguous;
  },
  run(call: KernelCall<Conv2dAttrs>): void {
    const [x, g] = call.inputs, [out] = call.outputs;
    const { groups } = call.attrs;
    const [N, C] = x.shape, [O, Cg, KH, KW] = out.shape, [, , OH, OW] = g.shape;
    if (out.size === 0) return;
    const Og = O / groups, P = OH * OW, K = Cg * KH * KW;
    if (N === 0 || P === 0) return; // dW stays zero
    if (directWeightGrad(call)) return weightGradDirect(call);
    let parts: { ptr: number; free(): void } | null = null;
    try {
      forEachConvChunk({ N, C, KH, KW, P, O }, ({ n0, nimg, cols, gp }, per) => {
        parts ??= heapScratch(per * O * K * 4);
        const nb = blockSize(nimg), nblk = nimg / nb, L = nb * P;
        permuteGrad(g, n0, nimg, nb, gp);
        im2col(x, call.attrs, { KH, KW, OH, OW }, n0, nimg, nb, cols);
        const many = nblk * groups > 1;
        gemmRaw({
          es: 4,
          m: Og,
          n: K,
          k: L,
          nbatch: nblk * groups,
          rsa: L,
          csa: 1,
          rsb: 1,
          csb: L,
          a: gp,
          b: cols,
          c: parts.ptr,
          aoffs: many ? entryOffsets(nblk, groups, (b, q) => (b * O + q * Og) * L) : null,
          boffs: many ? entryOffsets(nblk, groups, (b, q) => (b * groups + q) * K * L) : null,
        });
        sumRows(out, parts.ptr, nblk, O * K, n0 > 0);
      });
    } finally {
      (parts as { free(): void } | null)?.free();
    }
  },
};

/** Whether every operand is contiguous with the first one's shape. */
function sameContiguous(ts: TensorView[]): boolean {
  const s = ts[0].shape;
  return ts.every((t) =>
    t.isContiguous && t.ndim === s.length && t.shape.every((d, i) => d === s[i])
  );
}

const ADAM_DECAY = { none: 0, l2: 1, decoupled: 2 } as const;

/** adamStep (contract of backends/scalar/kernels/optim.ts), threaded over element ranges. */
const adamStep: KernelEntry = {
  supports(call: KernelCall<AdamStepAttrs>): boolean {
    const ts = [...call.outputs, ...call.inputs];
    return operands(ts) && sameContiguous(ts);
  },
  run(call: KernelCall<AdamStepAttrs>): void {
    const [grad] = call.inputs, [p, m, v, vmax] = call.outputs;
    const n = p.size;
    if (n === 0) return;
    const job = beginJob(KIND.adam);
    job.i32[W.dtype] = p.dtype === "f64" ? 1 : 0;
    job.i32[W.total] = n;
    [p, grad, m, v].forEach((t, i) => (job.i32[W.ptr + i] = address(t)));
    job.i32[JOB_IA.adam.vmax] = vmax ? address(vmax) : 0;
    job.i32[JOB_IA.adam.maximize] = call.attrs.maximize ? 1 : 0;
    job.i32[JOB_IA.adam.decay] = ADAM_DECAY[call.attrs.decay];
    adamScalars(call.attrs).forEach((x, i) => (job.f64[W.fa64 + i] = x));
    const pl = plan(n, 1 << 16);
    runPar(job, pl.slots, pl.threads);
  },
};

/** The training kernel entries by op name. */
export const trainKernels: OpKernelTable = {
  maxPool2d: poolEntry(0),
  avgPool2d: poolEntry(1),
  maxPool2dBackward: poolEntry(2),
  avgPool2dBackward: poolEntry(3),
  reluBackward,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  adamStep,
};
