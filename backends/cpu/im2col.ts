/**
 * Convolution lowering shared by the CPU plugins (WASM and OpenBLAS conv kernels and their
 * gradients): im2col / col2im jobs of the CPU runtime's module (src/conv.c, src/train.c), the
 * gradient permutation, chunking of images under a column-matrix budget with heap scratch, and
 * the choice of the direct weight-gradient kernel.
 *
 * @module
 */
import type { Conv2dAttrs } from "../../core/backend/attrs.ts";
import type { KernelCall, TensorView } from "../../core/backend/plugin.ts";
import { runCopy } from "./copy.ts";
import { mergeAxes } from "./elementwise.ts";
import { address, beginJob, heapScratch, JOB_IA, KIND, plan, runPar, W } from "./jobs.ts";

/** Column-matrix budget per chunk of images, in elements (64 MiB of f32); tests lower it. */
let COLS_MAX = 1 << 24;

/**
 * Set the column-matrix budget (elements) of the conv2d gradient kernels (WASM, and OpenBLAS'
 * conv kernels); returns the old one.
 */
export function setConvGradChunk(elements: number): number {
  const old = COLS_MAX;
  COLS_MAX = elements;
  return old;
}

/** Geometry of a conv2d call: kernel and output sizes. */
export interface ConvGeo {
  KH: number;
  KW: number;
  OH: number;
  OW: number;
}

/**
 * The job words im2col and col2im share (src/conv.c, src/train.c): C, H, W of the image (`shape`
 * is N, C, H, W), KH, KW, OH, OW, the strides, the top and left padding and the dilations.
 */
function geometryWords(attrs: Conv2dAttrs, geo: ConvGeo, shape: readonly number[]): number[] {
  const { stride: [sh, sw], padding: [pt, , pl], dilation: [dh, dw] } = attrs;
  const [, C, H, Wd] = shape;
  return [C, H, Wd, geo.KH, geo.KW, geo.OH, geo.OW, sh, sw, pt, pl, dh, dw];
}

/** im2col of images [n0, n0 + nimg) of x into `cols`, in blocks of nb images (src/conv.c). */
export function im2col(
  x: TensorView,
  attrs: Conv2dAttrs,
  geo: ConvGeo,
  n0: number,
  nimg: number,
  nb: number,
  cols: number,
): void {
  const { KH, KW, OH, OW } = geo;
  const [, C] = x.shape, [xn, xc, xh, xw] = x.strides;
  const rows = nimg * C * KH * KW;
  const v = beginJob(KIND.im2col);
  [...geometryWords(attrs, geo, x.shape), xn, xc, xh, xw, nb].forEach((val, i) =>
    v.i32[JOB_IA.window.geometry + i] = val
  );
  v.i32[W.total] = rows;
  v.i32[W.ptr] = cols;
  v.i32[W.ptr + 1] = address(x) + n0 * xn * 4;
  const p = plan(rows * OH * OW, 1 << 18);
  runPar(v, Math.min(p.slots, rows), p.threads);
}

/**
 * col2im: images [n0, n0 + nimg) of dx (contiguous N, C, H, W), each plane written once from
 * the column matrix `cols` laid out in blocks of nb images (src/train.c).
 */
export function col2im(
  dx: TensorView,
  attrs: Conv2dAttrs,
  geo: ConvGeo,
  n0: number,
  nimg: number,
  nb: number,
  cols: number,
): void {
  const { KH, KW, OH, OW } = geo;
  const [, C, H, Wd] = dx.shape;
  const v = beginJob(KIND.col2im);
  [...geometryWords(attrs, geo, dx.shape), nb].forEach((val, i) =>
    v.i32[JOB_IA.window.geometry + i] = val
  );
  v.i32[W.total] = nimg * C;
  v.i32[W.ptr] = address(dx) + n0 * C * H * Wd * 4;
  v.i32[W.ptr + 1] = cols;
  const p = plan(nimg * C * KH * KW * OH * OW, 1 << 18);
  runPar(v, Math.min(p.slots, nimg * C), p.threads);
}

/**
 * Images [n0, n0 + nimg) of g (N, O, OH, OW), any strides, copied to `dst` in blocks of nb
 * images, each block an (O, nb·OH·OW) matrix.
 */
export function permuteGrad(
  g: TensorView,
  n0: number,
  nimg: number,
  nb: number,
  dst: number,
): void {
  const [, O, OH, OW] = g.shape, [gn, gc, gh, gw] = g.strides, P = OH * OW;
  const m = mergeAxes(
    [nimg / nb, O, nb, OH, OW],
    [[O * nb * P, nb * P, P, OW, 1], [nb * gn, gc, gn, gh, gw]],
  )!;
  runCopy(2, m.dims, dst, m.st[0], address(g) + n0 * gn * 4, m.st[1]);
}

/** Images per chunk, so that the column matrix stays under the budget ({@link setConvGradChunk}). */
function chunk(N: number, rowLen: number): number {
  return Math.max(1, Math.min(N, Math.floor(COLS_MAX / Math.max(1, rowLen))));
}

/** Heap scratch of one chunk of images: the column matrix and the (O, images·P) gradient. */
export interface ConvChunk {
  /** First image of the chunk. */
  n0: number;
  /** Images in the chunk. */
  nimg: number;
  /** Address of the column matrix (C·KH·KW rows of nimg·P). */
  cols: number;
  /** Address of room for O·nimg·P elements (the permuted output gradient, or a product). */
  gp: number;
}

/**
 * Run `body` on the chunks of N images (C channels, KH×KW taps, P output positions, O output
 * channels) under the column budget, with heap scratch freed afterwards; shared by the WASM and
 * OpenBLAS conv kernels.
 */
export function forEachConvChunk(
  dims: { N: number; C: number; KH: number; KW: number; P: number; O: number },
  body: (c: ConvChunk, per: number) => void,
): void {
  const { N, C, KH, KW, P, O } = dims;
  const per = chunk(N, C * KH * KW * P);
  const cols = heapScratch(per * C * KH * KW * P * 4);
  const gp = heapScratch(per * O * P * 4);
  try {
    for (let n0 = 0; n0 < N; n0 += per) {
      body({ n0, nimg: Math.min(per, N - n0), cols: cols.ptr, gp: gp.ptr }, per);
    }
  } finally {
    gp.free();
    cols.free();
  }
}

/** Taps per output channel up to which the direct weight-gradient kernel runs (at most 32). */
let directTaps = 32;

/**
 * Set the most taps per output channel (C/groups·KH·KW, 0 to 32) for which conv2dBackwardWeight
 * runs the direct kernel (tests lower it to exercise the GEMM paths); returns the old value.
 */
export function setDirectWeightGradTaps(taps: number): number {
  const old = directTaps;
  directTaps = Math.max(0, Math.min(32, taps));
  return old;
}

/**
 * Whether conv2dBackwardWeight runs the direct kernel (src/train.c): few taps per output channel
 * (C/groups·KH·KW ≤ 32, KW ≤ 8), unit stride and dilation along W, rows of x and g contiguous. There
 * the im2col GEMM's inner dimension is too small to pay for packing: the 1-channel 3×3 input layer
 * of a CNN runs ~3× faster direct (than the WASM or OpenBLAS GEMM path alike).
 */
export function directWeightGrad(call: KernelCall<Conv2dAttrs>): boolean {
  const [x, g] = call.inputs, [out] = call.outputs;
  const { stride: [, sw], dilation: [, dw] } = call.attrs;
  const [, Cg, KH, KW] = out.shape;
  return Cg * KH * KW <= directTaps && KW <= 8 && sw === 1 && dw === 1 && x.strides[3] === 1 &&
    g.strides[3] === 1 && x.dtype === "f32" && g.dtype === "f32";
}
