/**
 * Internal: the layers' computations (linear, transposed conv, adaptive pooling, the norms,
 * dropout, embedding), shared by `nn.functional` and the layer modules and composed of core ops
 * (so autograd flows through them). Each takes a `label` that names the caller in error messages
 * ("linear", or a layer's description like "Linear(in=784, out=256)").
 *
 * Intermediates are disposed as soon as the result exists: the graph keeps its own saved views,
 * so this is safe under autograd (and `tidy()` cannot be used here, since it would free them).
 *
 * @module
 */
import { noGrad } from "../core/autograd.ts";
import { withF32 } from "../core/autocast.ts";
import { scoped } from "../core/dispose.ts";
import { type DType, DTYPES } from "../core/dtype.ts";
import { ComputeError, DeviceError, DTypeError, fmtShape, ShapeError } from "../core/errors.ts";
import { runKernel } from "../core/op.ts";
import { finfo } from "../core/finfo.ts";
import { fromTyped, full } from "../core/ops/creation.ts";
import { keep } from "../core/memory.ts";
import { conv2d } from "../core/ops/conv.ts";
import { add, mul, ne, rsqrt, square, sub } from "../core/ops/elementwise.ts";
import { take, where } from "../core/ops/indexing.ts";
import { pad } from "../core/ops/join.ts";
import { matmul } from "../core/ops/matmul.ts";
import {
  batchNormTrain,
  checkLinear,
  layerNormFused,
  linear as fusedLinear,
} from "../core/ops/fused.ts";
import { mean } from "../core/ops/reduce.ts";
import { copyInto, flip, permute, reshape, slice, unsqueeze } from "../core/ops/view.ts";
import { type Generator, rand } from "../core/random.ts";
import { Tensor } from "../core/tensor.ts";

/** A new tensor object aliasing `x` (an identity view that autograd sees through). */
export function alias(x: Tensor): Tensor {
  return reshape(x, x.shape);
}

function isFloatDType(x: Tensor): boolean {
  return DTYPES[x.dtype].kind === "float";
}

/** Machine epsilon of a float dtype (PyTorch's `torch.finfo(dtype).eps`). */
function finfoEps(x: Tensor): number {
  return finfo(isFloatDType(x) ? x.dtype : "f32").eps;
}

// ---- linear --------------------------------------------------------------------------------

/** y = x·Wᵀ + b over the last axis of x; shape errors name `label`. */
export function linear(label: string, x: Tensor, weight: Tensor, bias: Tensor | null): Tensor {
  checkLinear(label, x, weight, bias);
  return fusedLinear(x, weight, bias);
}

// ---- convolution ---------------------------------------------------------------------------

/** Check a conv/pool input: `dims` spatial axes, optionally batched, `channels` channels. */
export function checkSpatialInput(
  label: string,
  x: Tensor,
  dims: number,
  channels: number | null,
): void {
  const names = dims === 2 ? "H, W" : dims === 1 ? "L" : "D, H, W";
  if (x.ndim !== dims + 1 && x.ndim !== dims + 2) {
    throw new ShapeError(
      `${label}: input of shape ${fmtShape(x.shape)} has ${x.ndim} axes; expected (N, C, ` +
        `${names}) or (C, ${names}).`,
    );
  }
  const c = x.shape[x.ndim - dims - 1];
  if (channels !== null && c !== channels) {
    throw new ShapeError(
      `${label}: input of shape ${fmtShape(x.shape)} has ${c} channels (axis ${
        x.ndim - dims - 1
      }), expected ${channels}.`,
    );
  }
}

/** Pad (positive) or crop (negative) one axis at both ends. */
function padOrCrop(x: Tensor, axis: number, before: number, after: number): Tensor {
  return scoped((own) => {
    let cur = x;
    const grow = before > 0 || after > 0;
    if (before < 0 || after < 0) {
      const specs: (string | null)[] = x.shape.map(() => null);
      const start = Math.max(0, -before), stop = x.shape[axis] - Math.max(0, -after);
      specs[axis] = `${start}:${stop}`;
      cur = slice(cur, ...specs);
      if (!grow) return cur;
      own(cur);
    }
    if (!grow) return alias(x);
    const widths = x.shape.map(() => [0, 0]);
    widths[axis] = [Math.max(0, before), Math.max(0, after)];
    return pad(cur, widths);
  });
}

/** Options of the transposed convolution. */
export interface ConvTranspose2dArgs {
  bias: Tensor | null;
  stride: [number, number];
  padding: [number, number];
  outputPadding: [number, number];
  groups: number;
  dilation: [number, number];
}

/**
 * Transposed 2-D convolution (the gradient of conv2d with respect to its input), composed as:
 * insert stride-1 zeros between input pixels, pad by dilation·(k-1) - padding (plus
 * outputPadding at the end), and convolve with the spatially flipped weight whose in/out channel
 * axes are swapped within each group.
 */
export function convTranspose2d(
  label: string,
  x: Tensor,
  weight: Tensor,
  a: ConvTranspose2dArgs,
): Tensor {
  if (weight.ndim !== 4) {
    throw new ShapeError(
      `${label}: weight of shape ${fmtShape(weight.shape)} must be 4-D (C_in, C_out / groups, ` +
        `KH, KW).`,
    );
  }
  const [cin, coutG, kh, kw] = weight.shape;
  checkSpatialInput(label, x, 2, cin);
  const g = a.groups;
  if (!Number.isInteger(g) || g < 1 || cin % g !== 0) {
    throw new ShapeError(`${label}: groups=${g} must be a positive divisor of C_in=${cin}.`);
  }
  for (const ax of [0, 1]) {
    if (a.outputPadding[ax] >= Math.max(a.stride[ax], a.dilation[ax])) {
      throw new ShapeError(
        `${label}: outputPadding ${JSON.stringify(a.outputPadding)} must be smaller than the ` +
          `stride or the dilation (${JSON.stringify(a.stride)}, ${JSON.stringify(a.dilation)}).`,
      );
    }
  }
  const k = [kh, kw];
  const batched = x.ndim === 4;
  const [H, W] = x.shape.slice(-2);
  const outH = (H - 1) * a.stride[0] - 2 * a.padding[0] + a.dilation[0] * (kh - 1) +
    a.outputPadding[0] + 1;
  const outW = (W - 1) * a.stride[1] - 2 * a.padding[1] + a.dilation[1] * (kw - 1) +
    a.outputPadding[1] + 1;
  if (outH <= 0 || outW <= 0) {
    throw new ShapeError(
      `${label}: input of shape ${fmtShape(x.shape)} gives an empty output (${outH}×${outW}). ` +
        `Hint: reduce the padding.`,
    );
  }
  return scoped((own) => {
    let cur = batched ? x : own(unsqueeze(x, 0));
    const N = cur.shape[0];
    const [sh, sw] = a.stride;
    if (sh > 1 || sw > 1) {
      // Interleave zeros: (N,C,H,1,W,1) padded to (N,C,H,sh,W,sw), flattened, trailing cut.
      const r = own(reshape(cur, [N, cin, H, 1, W, 1]));
      const p = own(pad(r, [[0, 0], [0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1]]));
      const f = own(reshape(p, [N, cin, H * sh, W * sw]));
      cur = own(slice(f, null, null, `:${(H - 1) * sh + 1}`, `:${(W - 1) * sw + 1}`));
    }
    for (const ax of [0, 1]) {
      const base = a.dilation[ax] * (k[ax] - 1) - a.padding[ax];
      if (base === 0 && a.outputPadding[ax] === 0) continue;
      cur = own(padOrCrop(cur, 2 + ax, base, base + a.outputPadding[ax]));
    }
    const w5 = own(reshape(weight, [g, cin / g, coutG, kh, kw]));
    const wp = own(permute(w5, [0, 2, 1, 3, 4]));
    const w4 = own(reshape(wp, [g * coutG, cin / g, kh, kw]));
    const wf = own(flip(w4, [2, 3]));
    const y = conv2d(cur, wf, { bias: a.bias, dilation: a.dilation, groups: g });
    if (batched) return y;
    own(y);
    return reshape(y, y.shape.slice(1));
  });
}

// ---- pooling -------------------------------------------------------------------------------

/** Averaging matrix (out, n) of adaptive pooling: row i averages [⌊i·n/out⌋, ⌈(i+1)·n/out⌉). */
function adaptiveMatrix(n: number, out: number, like: Tensor): Tensor {
  const m = new Float64Array(out * n);
  for (let i = 0; i < out; i++) {
    const s = Math.floor((i * n) / out), e = Math.ceil(((i + 1) * n) / out);
    for (let j = s; j < e; j++) m[i * n + j] = 1 / (e - s);
  }
  // built in f64 (or f32, which every device has) so no device needs f64 arithmetic to cast it
  if (like.dtype === "f64") return fromTyped(m, [out, n], "f64", like.device);
  const t = fromTyped(Float32Array.from(m), [out, n], "f32", like.device);
  if (like.dtype === "f32") return t;
  const c = t.astype(like.dtype);
  t.dispose();
  return c;
}

/**
 * Adaptive average pooling over the last two axes: a mean over both for a 1×1 output (global
 * pooling, ResNet's head: one reduction, and no batched matmul over N·C matrices, which a GPU
 * kernel may limit), else two matmuls with averaging matrices.
 */
export function adaptiveAvgPool2d(
  label: string,
  x: Tensor,
  outputSize: readonly [number | null, number | null],
): Tensor {
  checkSpatialInput(label, x, 2, null);
  if (!isFloatDType(x)) {
    throw new DTypeError(`${label}: input must be a float tensor, got ${x.dtype}.`);
  }
  const [H, W] = x.shape.slice(-2);
  const oh = outputSize[0] ?? H, ow = outputSize[1] ?? W;
  for (const o of [oh, ow]) {
    if (!Number.isInteger(o) || o < 1) {
      throw new ShapeError(
        `${label}: outputSize ${JSON.stringify(outputSize)} must hold positive integers (or null).`,
      );
    }
  }
  if (oh === 1 && ow === 1) return mean(x, [-2, -1], true);
  return scoped((own) => {
    const ph = own(adaptiveMatrix(H, oh, x));
    const pw = own(adaptiveMatrix(W, ow, x));
    const rows = own(matmul(ph, x));
    return matmul(rows, own(pw.T));
  });
}

// ---- normalization -------------------------------------------------------------------------

/** Shape (1, C, 1, ...) of a per-channel vector broadcast against x (channel axis 1). */
function channelView(v: Tensor, ndim: number): Tensor {
  const shape = Array<number>(ndim).fill(1);
  shape[1] = v.size;
  return reshape(v, shape);
}

/** Arguments of batch normalization. */
export interface BatchNormArgs {
  runningMean: Tensor | null;
  runningVar: Tensor | null;
  weight: Tensor | null;
  bias: Tensor | null;
  /** Normalize with the batch statistics (training, or no running stats). */
  training: boolean;
  /** Weight of the new batch statistic in the running average. */
  momentum: number;
  eps: number;
}

/**
 * Batch normalization over axis 1 (statistics over every other axis). In training the running
 * statistics (if given) are updated in place: mean with the batch mean, variance with the
 * unbiased batch variance, like PyTorch.
 */
export function batchNorm(label: string, x: Tensor, a: BatchNormArgs): Tensor {
  // Inside an autocast scope half-precision input is normalized in f32 (core/autocast.ts).
  return withF32(x, (x32) => batchNormF32(label, x32, a));
}

function batchNormF32(label: string, x: Tensor, a: BatchNormArgs): Tensor {
  if (x.ndim < 2) {
    throw new ShapeError(
      `${label}: input of shape ${fmtShape(x.shape)} needs at least 2 axes (N, C, *).`,
    );
  }
  const C = x.shape[1];
  for (
    const [n, v] of Object.entries({
      runningMean: a.runningMean,
      runningVar: a.runningVar,
      weight: a.weight,
      bias: a.bias,
    })
  ) {
    if (v && (v.ndim !== 1 || v.shape[0] !== C)) {
      throw new ShapeError(
        `${label}: ${n} of shape ${fmtShape(v.shape)} does not fit the input's ${C} channels ` +
          `(input shape ${fmtShape(x.shape)}); expected (${C},).`,
      );
    }
  }
  const useBatch = a.training || !a.runningMean || !a.runningVar;
  const axes = [0, ...x.shape.slice(2).map((_, i) => i + 2)];
  const count = x.size / C;
  if (useBatch && a.training && count <= 1) {
    throw new ShapeError(
      `${label}: expected more than 1 value per channel when training, got input of shape ` +
        `${fmtShape(x.shape)}.`,
    );
  }
  const fused = useBatch ? batchNormTrain(x, a.weight, a.bias, a.eps) : null;
  if (fused) {
    // One kernel (and one for the gradient) where the device has it.
    const [y, mu, v] = fused;
    if (a.training && a.runningMean && a.runningVar) {
      updateRunningStats(a.runningMean, a.runningVar, mu, v, a.momentum, count);
    }
    mu.dispose();
    v.dispose();
    return y;
  }
  return scoped((own) => {
    let mu: Tensor, v: Tensor, xc: Tensor;
    if (useBatch) {
      mu = own(mean(x, axes, true));
      xc = own(sub(x, mu));
      v = own(mean(own(square(xc)), axes, true));
      if (a.training && a.runningMean && a.runningVar) {
        const bm = own(reshape(mu, [C])), bv = own(reshape(v, [C]));
        updateRunningStats(a.runningMean, a.runningVar, bm, bv, a.momentum, count);
      }
    } else {
      mu = own(channelView(a.runningMean!, x.ndim));
      v = own(channelView(a.runningVar!, x.ndim));
      xc = own(sub(x, mu));
    }
    let y = own(mul(xc, own(rsqrt(own(add(v, a.eps))))));
    if (a.weight) y = own(mul(y, own(channelView(a.weight, x.ndim))));
    if (a.bias) y = own(add(y, own(channelView(a.bias, x.ndim))));
    return alias(y);
  });
}

/**
 * PyTorch's running statistics update, in place: mean ← (1 − m)·mean + m·batch mean, var ←
 * (1 − m)·var + m·(unbiased batch variance), from the biased variance `bv` of `count` values.
 */
function updateRunningStats(
  rm: Tensor,
  rv: Tensor,
  bm: Tensor,
  bv: Tensor,
  m: number,
  count: number,
): void {
  noGrad(() => {
    const ts = [rm, rv, bm, bv];
    const one = ts.every((t) =>
      t.isContiguous && t.dtype === rm.dtype && t.device === rm.device && t.size === rm.size
    );
    if (
      one && (rm.dtype === "f32" || rm.dtype === "f64") && runningKernel(rm, rv, bm, bv, m, count)
    ) {
      return;
    }
    scoped((own) => {
      const nm = own(add(own(mul(rm, 1 - m)), own(mul(bm, m))));
      const nv = own(add(own(mul(rv, 1 - m)), own(mul(bv, (m * count) / (count - 1)))));
      copyInto(rm, nm);
      copyInto(rv, nv);
    });
  });
}

/** The `batchNormRunning` kernel in place; false where the device's kernels decline. */
function runningKernel(
  rm: Tensor,
  rv: Tensor,
  bm: Tensor,
  bv: Tensor,
  momentum: number,
  count: number,
): boolean {
  try {
    runKernel("batchNormRunning", [bm, bv], { momentum, count }, [rm, rv]);
    return true;
  } catch (e) {
    if (e instanceof DeviceError && rm.device !== "cpu") return false;
    throw e;
  }
}

/** Check that the trailing axes of x equal `normalizedShape`. */
function checkTrailing(label: string, x: Tensor, shape: readonly number[]): number[] {
  const k = shape.length;
  const ok = k >= 1 && x.ndim >= k && shape.every((d, i) => x.shape[x.ndim - k + i] === d);
  if (!ok) {
    throw new ShapeError(
      `${label}: input of shape ${fmtShape(x.shape)} does not end with the normalized shape ` +
        `${fmtShape(shape)}; expected (*, ${shape.join(", ")}).`,
    );
  }
  return shape.map((_, i) => x.ndim - k + i);
}

function checkAffine(label: string, name: string, t: Tensor | null, shape: readonly number[]) {
  if (t && (t.ndim !== shape.length || t.shape.some((d, i) => d !== shape[i]))) {
    throw new ShapeError(
      `${label}: ${name} of shape ${fmtShape(t.shape)} must have the normalized shape ` +
        `${fmtShape(shape)}.`,
    );
  }
}

/** Layer normalization over the trailing `normalizedShape` axes (biased variance). */
export function layerNorm(
  label: string,
  x0: Tensor,
  normalizedShape: readonly number[],
  weight: Tensor | null,
  bias: Tensor | null,
  eps: number,
): Tensor {
  const axes = checkTrailing(label, x0, normalizedShape);
  checkAffine(label, "weight", weight, normalizedShape);
  checkAffine(label, "bias", bias, normalizedShape);
  // Inside an autocast scope half-precision input is normalized in f32 (core/autocast.ts).
  return withF32(x0, (x) => layerNormF32(x, axes, normalizedShape, weight, bias, eps));
}

function layerNormF32(
  x: Tensor,
  axes: number[],
  normalizedShape: readonly number[],
  weight: Tensor | null,
  bias: Tensor | null,
  eps: number,
): Tensor {
  const size = normalizedShape.reduce((a, b) => a * b, 1);
  const fused = layerNormFused(x, size, weight, bias, eps);
  if (fused) {
    fused[1].dispose();
    fused[2].dispose();
    return fused[0];
  }
  return scoped((own) => {
    const mu = own(mean(x, axes, true));
    const xc = own(sub(x, mu));
    const v = own(mean(own(square(xc)), axes, true));
    let y = own(mul(xc, own(rsqrt(own(add(v, eps))))));
    if (weight) y = own(mul(y, weight));
    if (bias) y = own(add(y, bias));
    return alias(y);
  });
}

/** RMS normalization: x / √(mean(x²) + eps) · weight over the trailing axes. */
export function rmsNorm(
  label: string,
  x: Tensor,
  normalizedShape: readonly number[],
  weight: Tensor | null,
  eps: number | null,
): Tensor {
  const axes = checkTrailing(label, x, normalizedShape);
  checkAffine(label, "weight", weight, normalizedShape);
  const e = eps ?? finfoEps(x);
  return scoped((own) => {
    const ms = own(mean(own(square(x)), axes, true));
    const y = mul(x, own(rsqrt(own(add(ms, e)))));
    if (!weight) return y;
    own(y);
    return mul(y, weight);
  });
}

/** Group normalization: channels (axis 1) split into `numGroups` groups, each normalized. */
export function groupNorm(
  label: string,
  x: Tensor,
  numGroups: number,
  weight: Tensor | null,
  bias: Tensor | null,
  eps: number,
): Tensor {
  if (x.ndim < 2) {
    throw new ShapeError(
      `${label}: input of shape ${fmtShape(x.shape)} needs at least 2 axes (N, C, *).`,
    );
  }
  const [N, C] = x.shape;
  if (!Number.isInteger(numGroups) || numGroups < 1 || C % numGroups !== 0) {
    throw new ShapeError(
      `${label}: input of shape ${fmtShape(x.shape)} has ${C} channels, which ${numGroups} ` +
        `groups do not divide.`,
    );
  }
  checkAffine(label, "weight", weight, [C]);
  checkAffine(label, "bias", bias, [C]);
  return scoped((own) => {
    const g = own(reshape(x, [N, numGroups, -1]));
    const mu = own(mean(g, [2], true));
    const gc = own(sub(g, mu));
    const v = own(mean(own(square(gc)), [2], true));
    const n = own(mul(gc, own(rsqrt(own(add(v, eps))))));
    let y = own(reshape(n, x.shape));
    if (weight) y = own(mul(y, own(channelView(weight, x.ndim))));
    if (bias) y = own(add(y, own(channelView(bias, x.ndim))));
    return alias(y);
  });
}

// ---- dropout and embedding -----------------------------------------------------------------

/** Throw unless 0 ≤ p ≤ 1. */
export function checkProbability(label: string, p: number): void {
  if (typeof p !== "number" || !(p >= 0 && p <= 1)) {
    throw new ComputeError(`${label}: dropout probability must be in [0, 1], got ${p}.`);
  }
}

/**
 * Inverted dropout: zero each element with probability `p`, scale the rest by 1/(1-p); the
 * identity (an alias) when not training or p = 0.
 */
export function dropout(
  label: string,
  x: Tensor,
  p: number,
  training: boolean,
  generator?: Generator,
): Tensor {
  checkProbability(label, p);
  if (!training || p === 0) return alias(x);
  if (!isFloatDType(x)) {
    throw new DTypeError(`${label}: input must be a float tensor, got ${x.dtype}.`);
  }
  return scoped((own) => {
    if (p === 1) return mul(x, 0);
    const opts = { dtype: x.dtype === "f64" ? "f64" as const : "f32" as const, device: x.device };
    const u = own(generator ? generator.rand(x.shape, opts) : rand(x.shape, opts));
    // keep where u ≥ p (probability 1 - p); scale folded into the mask
    const keepMask = own(u.ge(p));
    const scaled = own(own(mul(keepMask, 1 / (1 - p))).astype(x.dtype));
    return mul(x, scaled);
  });
}

/** Rows of `weight` picked by integer `indices`; the `paddingIdx` row gets no gradient. */
export function embedding(
  label: string,
  indices: Tensor,
  weight: Tensor,
  paddingIdx: number | null,
): Tensor {
  if (DTYPES[indices.dtype].kind === "float" || indices.dtype === "bool") {
    throw new DTypeError(
      `${label}: indices must be an integer tensor, got ${indices.dtype}. Hint: astype("i64").`,
    );
  }
  if (weight.ndim !== 2) {
    throw new ShapeError(
      `${label}: weight of shape ${fmtShape(weight.shape)} must be 2-D (num_embeddings, dim).`,
    );
  }
  const out = take(weight, indices, 0);
  if (paddingIdx === null || !out.requiresGrad) return out;
  const pi = paddingIdx < 0 ? paddingIdx + weight.shape[0] : paddingIdx;
  return scoped((own) => {
    own(out);
    const frozen = own(noGrad(() => take(weight, indices, 0)));
    const m = own(unsqueeze(own(ne(indices, pi)), -1));
    return where(m, out, frozen);
  });
}

// ---- parameters ----------------------------------------------------------------------------

/**
 * A new zero-filled leaf tensor that requires gradients, kept out of any enclosing `tidy()`
 * scope (a module's parameters outlive the scope that built the module).
 */
export function newParameter(shape: readonly number[], dtype: DType = "f32"): Tensor {
  if (DTYPES[dtype].kind !== "float") {
    throw new DTypeError(`parameters must have a float dtype, got ${dtype}.`);
  }
  const t = keep(Tensor.empty(shape, dtype));
  t.requiresGrad = true;
  return t;
}

/** A new buffer filled with `value`, kept out of any enclosing `tidy()` scope. */
export function newBuffer(shape: readonly number[], dtype: DType, value: number): Tensor {
  return keep(full(shape, value, { dtype }));
}

/** A spatial argument as a pair. */
export function pair(v: number | readonly [number, number]): [number, number] {
  return typeof v === "number" ? [v, v] : [v[0], v[1]];
}
