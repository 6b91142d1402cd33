/**
 * Scalar kernels of the conv family, all on NCHW input (the ops map 1-D and unbatched input onto
 * these): `conv2d`, `maxPool2d`, `avgPool2d`, and the pooling gradients `maxPool2dBackward`,
 * `avgPool2dBackward` (the conv2d gradients are composed of core ops: core/grads/conv.ts).
 *
 * Inputs may have any strides and dtype: they are read once into float64 (i64 exact to 2^53),
 * accumulated in float64, and rounded once on store (ints truncate toward zero and wrap).
 *
 * @module
 */
import type { Conv2dAttrs, PoolAttrs, ReluBackwardAttrs } from "../../../core/backend/attrs.ts";
import type { KernelCall, ScalarKernelTable } from "../../../core/backend/plugin.ts";
import { readF64, writeF64 } from "../util.ts";

/**
 * First and one-past-last output index `o` in [0, outLen) whose tap `o*s - pad + t` lands inside
 * [0, len).
 */
function validRange(t: number, s: number, pad: number, len: number, outLen: number) {
  // o*s >= pad - t  and  o*s <= len - 1 + pad - t
  const lo = Math.max(0, Math.ceil((pad - t) / s));
  const hi = Math.min(outLen, Math.floor((len - 1 + pad - t) / s) + 1);
  return [lo, Math.max(lo, hi)];
}

/** Shapes of one conv2d: input (N, C, H, W), weight (O, C/groups, KH, KW), output (N, O, OH, OW). */
interface ConvGeometry {
  N: number;
  C: number;
  H: number;
  W: number;
  O: number;
  Cg: number;
  KH: number;
  KW: number;
  OH: number;
  OW: number;
}

/**
 * The loop nest shared by conv2d and its two gradient kernels: for every image, output channel,
 * input channel of its group and kernel tap, each output row whose input row lies inside the
 * image. `visit` gets the flat index of that input row at ow = 0 (step `sw` per ow), the flat
 * index of the output row (of the output, or of its gradient), the valid ow range, and the flat
 * weight index of the tap (padded positions are never visited).
 */
function forEachTapRow(
  geo: ConvGeometry,
  attrs: Conv2dAttrs,
  visit: (xRow: number, oRow: number, ow0: number, ow1: number, wIdx: number) => void,
): void {
  const { N, C, H, W, O, Cg, KH, KW, OH, OW } = geo;
  const { stride: [sh, sw], padding: [pt, , pl], dilation: [dh, dw], groups } = attrs;
  const Og = O / groups, plane = OH * OW;
  const rowsH: number[][] = [], colsW: number[][] = [];
  for (let kh = 0; kh < KH; kh++) rowsH.push(validRange(kh * dh, sh, pt, H, OH));
  for (let kw = 0; kw < KW; kw++) colsW.push(validRange(kw * dw, sw, pl, W, OW));
  for (let n = 0; n < N; n++) {
    for (let oc = 0; oc < O; oc++) {
      const ob = (n * O + oc) * plane;
      const grp = Math.floor(oc / Og);
      for (let ci = 0; ci < Cg; ci++) {
        const xb = (n * C + grp * Cg + ci) * H * W;
        const wb = (oc * Cg + ci) * KH * KW;
        for (let kh = 0; kh < KH; kh++) {
          const [oh0, oh1] = rowsH[kh];
          for (let kw = 0; kw < KW; kw++) {
            const [ow0, ow1] = colsW[kw];
            const dx = kw * dw - pl;
            for (let oh = oh0; oh < oh1; oh++) {
              visit(
                xb + (oh * sh - pt + kh * dh) * W + dx,
                ob + oh * OW,
                ow0,
                ow1,
                wb + kh * KW + kw,
              );
            }
          }
        }
      }
    }
  }
}

/**
 * `conv2d`: x (N, C, H, W), weight (O, C/groups, KH, KW), optional bias (O); output
 * (N, O, OH, OW). Cross-correlation like PyTorch. For each output plane, every kernel tap adds
 * `w * x` over the range of output positions whose input lies inside the image, so the inner loop
 * has no bounds checks.
 */
function conv2d(call: KernelCall<Conv2dAttrs>): void {
  const [x, w, bias] = call.inputs;
  const [out] = call.outputs;
  const [N, C, H, W] = x.shape;
  const [O, Cg, KH, KW] = w.shape;
  const [, , OH, OW] = out.shape;
  const sw = call.attrs.stride[1];
  const X = readF64(x), Wt = readF64(w);
  const res = new Float64Array(N * O * OH * OW);
  if (call.attrs.hasBias) {
    const B = readF64(bias), plane = OH * OW;
    for (let no = 0; no < N * O; no++) res.fill(B[no % O], no * plane, (no + 1) * plane);
  }
  forEachTapRow({ N, C, H, W, O, Cg, KH, KW, OH, OW }, call.attrs, (xr, orow, ow0, ow1, wi) => {
    const wv = Wt[wi];
    for (let ow = ow0; ow < ow1; ow++) res[orow + ow] += wv * X[xr + ow * sw];
  });
  writeF64(out, res);
}

/**
 * `maxPool2d`: x (N, C, H, W) → (N, C, OH, OW); padded positions never win; NaN propagates like
 * PyTorch's CPU kernel.
 */
function maxPool2d(call: KernelCall<PoolAttrs>): void {
  pool(call, true);
}

/** `avgPool2d`: mean over each window, with PyTorch's divisor rules (see {@link PoolAttrs}). */
function avgPool2d(call: KernelCall<PoolAttrs>): void {
  pool(call, false);
}

function pool(call: KernelCall<PoolAttrs>, isMax: boolean): void {
  const [x] = call.inputs;
  const [out] = call.outputs;
  const {
    kernel: [KH, KW],
    stride: [sh, sw],
    padding: [ph, , pw],
    dilation: [dh, dw],
    countIncludePad,
  } = call.attrs;
  const [N, C, H, W] = x.shape;
  const [, , OH, OW] = out.shape;
  const X = readF64(x);
  const res = new Float64Array(N * C * OH * OW);
  let q = 0;
  for (let nc = 0; nc < N * C; nc++) {
    const xb = nc * H * W;
    for (let oh = 0; oh < OH; oh++) {
      const h0 = oh * sh - ph;
      for (let ow = 0; ow < OW; ow++) {
        const w0 = ow * sw - pw;
        if (isMax) {
          let m = -Infinity;
          for (let kh = 0; kh < KH; kh++) {
            const h = h0 + kh * dh;
            if (h < 0 || h >= H) continue;
            for (let kw = 0; kw < KW; kw++) {
              const wi = w0 + kw * dw;
              if (wi < 0 || wi >= W) continue;
              const v = X[xb + h * W + wi];
              if (v > m || Number.isNaN(v)) m = v;
              if (Number.isNaN(m)) break;
            }
          }
          res[q++] = m;
        } else {
          // PyTorch: the window is clipped to the padded input for the divisor with padding,
          // and to the input itself for the sum (and for the divisor without padding).
          const hEnd = Math.min(h0 + KH, H + ph), wEnd = Math.min(w0 + KW, W + pw);
          const padded = (hEnd - h0) * (wEnd - w0);
          const ha = Math.max(h0, 0), hb = Math.min(hEnd, H);
          const wa = Math.max(w0, 0), wb = Math.min(wEnd, W);
          let s = 0;
          for (let h = ha; h < hb; h++) {
            for (let wi = wa; wi < wb; wi++) s += X[xb + h * W + wi];
          }
          res[q++] = s / (countIncludePad ? padded : (hb - ha) * (wb - wa));
        }
      }
    }
  }
  writeF64(out, res);
}

/**
 * `maxPool2dBackward`: inputs x (N, C, H, W) and the output gradient g (N, C, OH, OW); output the
 * gradient of x. Each window's gradient goes to its maximum, found as the forward pass does
 * (PyTorch's rule: the first maximum in row-major window order wins ties; a NaN wins).
 */
function maxPool2dBackward(call: KernelCall<PoolAttrs>): void {
  const [x, g] = call.inputs;
  const [out] = call.outputs;
  const { kernel: [KH, KW], stride: [sh, sw], padding: [ph, , pw], dilation: [dh, dw] } =
    call.attrs;
  const [N, C, H, W] = x.shape;
  const [, , OH, OW] = g.shape;
  const X = readF64(x), G = readF64(g);
  const res = new Float64Array(N * C * H * W);
  let q = 0;
  for (let nc = 0; nc < N * C; nc++) {
    const xb = nc * H * W;
    for (let oh = 0; oh < OH; oh++) {
      const h0 = oh * sh - ph;
      for (let ow = 0; ow < OW; ow++, q++) {
        const w0 = ow * sw - pw;
        let m = -Infinity, at = -1;
        for (let kh = 0; kh < KH; kh++) {
          const h = h0 + kh * dh;
          if (h < 0 || h >= H) continue;
          for (let kw = 0; kw < KW; kw++) {
            const wi = w0 + kw * dw;
            if (wi < 0 || wi >= W) continue;
            const p = xb + h * W + wi;
            if (at < 0) at = p;
            const v = X[p];
            if (v > m || Number.isNaN(v)) {
              m = v;
              at = p;
            }
            if (Number.isNaN(m)) break;
          }
          if (Number.isNaN(m)) break;
        }
        if (at >= 0) res[at] += G[q];
      }
    }
  }
  writeF64(out, res);
}

/**
 * `avgPool2dBackward`: inputs x (N, C, H, W) (for its shape) and g (N, C, OH, OW); each window's
 * gradient divided by the forward pass's divisor, spread over the window's input positions.
 */
function avgPool2dBackward(call: KernelCall<PoolAttrs>): void {
  const [x, g] = call.inputs;
  const [out] = call.outputs;
  const { kernel: [KH, KW], stride: [sh, sw], padding: [ph, , pw], countIncludePad } = call.attrs;
  const [N, C, H, W] = x.shape;
  const [, , OH, OW] = g.shape;
  const G = readF64(g);
  const res = new Float64Array(N * C * H * W);
  let q = 0;
  for (let nc = 0; nc < N * C; nc++) {
    const xb = nc * H * W;
    for (let oh = 0; oh < OH; oh++) {
      const h0 = oh * sh - ph;
      for (let ow = 0; ow < OW; ow++, q++) {
        const w0 = ow * sw - pw;
        const hEnd = Math.min(h0 + KH, H + ph), wEnd = Math.min(w0 + KW, W + pw);
        const ha = Math.max(h0, 0), hb = Math.min(hEnd, H);
        const wa = Math.max(w0, 0), wb = Math.min(wEnd, W);
        const div = countIncludePad ? (hEnd - h0) * (wEnd - w0) : (hb - ha) * (wb - wa);
        const v = G[q] / div;
        for (let h = ha; h < hb; h++) {
          for (let wi = wa; wi < wb; wi++) res[xb + h * W + wi] += v;
        }
      }
    }
  }
  writeF64(out, res);
}

/**
 * `conv2dBackwardInput`: inputs g (N, O, OH, OW) (the output gradient) and weight
 * (O, C/groups, KH, KW); output the gradient of x, (N, C, H, W) (its shape gives H and W). Attrs
 * of conv2d (hasBias unused). Every output position receives `w · g` from each window it was
 * read by, accumulated in float64.
 */
function conv2dBackwardInput(call: KernelCall<Conv2dAttrs>): void {
  const [g, w] = call.inputs;
  const [out] = call.outputs;
  const [N, C, H, W] = out.shape;
  const [O, Cg, KH, KW] = w.shape;
  const [, , OH, OW] = g.shape;
  const sw = call.attrs.stride[1];
  const G = readF64(g), Wt = readF64(w);
  const res = new Float64Array(N * C * H * W);
  forEachTapRow({ N, C, H, W, O, Cg, KH, KW, OH, OW }, call.attrs, (xr, grow, ow0, ow1, wi) => {
    const wv = Wt[wi];
    for (let ow = ow0; ow < ow1; ow++) res[xr + ow * sw] += wv * G[grow + ow];
  });
  writeF64(out, res);
}

/**
 * `conv2dBackwardWeight`: inputs x (N, C, H, W) and g (N, O, OH, OW); output the gradient of the
 * weight, (O, C/groups, KH, KW) (its shape gives the kernel size). Attrs of conv2d. Each tap
 * sums `x · g` over the images and the output positions whose input lies inside the image, in
 * float64.
 */
function conv2dBackwardWeight(call: KernelCall<Conv2dAttrs>): void {
  const [x, g] = call.inputs;
  const [out] = call.outputs;
  const [N, C, H, W] = x.shape;
  const [O, Cg, KH, KW] = out.shape;
  const [, , OH, OW] = g.shape;
  const sw = call.attrs.stride[1];
  const X = readF64(x), G = readF64(g);
  const res = new Float64Array(O * Cg * KH * KW);
  forEachTapRow({ N, C, H, W, O, Cg, KH, KW, OH, OW }, call.attrs, (xr, grow, ow0, ow1, wi) => {
    let s = 0;
    for (let ow = ow0; ow < ow1; ow++) s += X[xr + ow * sw] * G[grow + ow];
    res[wi] += s;
  });
  writeF64(out, res);
}

/**
 * `reluBackward`: inputs x (or relu's output, which is positive exactly where x is) and g, of
 * the same shape; output `x > 0 ? g : 0`, or `g · negativeSlope` where x ≤ 0 (leakyRelu), in
 * g's dtype (the slope rounded to it first, like `mul(g, slope)`). NaN in x counts as not
 * positive.
 */
function reluBackward(call: KernelCall<ReluBackwardAttrs>): void {
  const [x, g] = call.inputs;
  const [out] = call.outputs;
  const X = readF64(x, out.shape), G = readF64(g, out.shape);
  const leaky = call.attrs.negativeSlope !== undefined;
  const s0 = call.attrs.negativeSlope ?? 0;
  const slope = out.dtype === "f32"
    ? Math.fround(s0)
    : out.dtype === "f16"
    ? Math.f16round(s0)
    : s0;
  const res = new Float64Array(out.size);
  for (let i = 0; i < res.length; i++) res[i] = X[i] > 0 ? G[i] : leaky ? G[i] * slope : 0;
  writeF64(out, res);
}

/** Scalar kernels of the conv family, by op name. */
export const kernels = {
  conv2d,
  maxPool2d,
  avgPool2d,
  maxPool2dBackward,
  avgPool2dBackward,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  reluBackward,
} satisfies Partial<ScalarKernelTable>;
