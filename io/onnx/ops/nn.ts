/**
 * ONNX neural-network operators on our ops: MatMul, Gemm, Conv, pooling, normalizations,
 * softmax family, reductions, ArgMax/ArgMin, CumSum, TopK, Einsum.
 *
 * @module
 */
import { type DType, isInt } from "../../../core/dtype.ts";
import { iinfo } from "../../../core/finfo.ts";
import { ShapeError } from "../../../core/errors.ts";
import * as A from "../../../core/ops/activation.ts";
import * as B from "../../../core/ops/arithmetic.ts";
import { avgPool2d, conv2d, maxPool2d } from "../../../core/ops/conv.ts";
import { full, fullLike, onesLike } from "../../../core/ops/creation.ts";
import { pad } from "../../../core/ops/join.ts";
import { einsum, matmul } from "../../../core/ops/matmul.ts";
import * as M from "../../../core/ops/math.ts";
import * as R from "../../../core/ops/reduce.ts";
import { topk } from "../../../core/ops/sort.ts";
import * as V from "../../../core/ops/view.ts";
import type { Tensor } from "../../../core/tensor.ts";
import { axesArg } from "./shape.ts";
import { maxPoolIndices } from "./pool_indices.ts";
import { type Activation, conv1dSmall } from "./conv_small.ts";
import { meanSmall } from "./small.ts";
import { runKernel1 } from "../../../core/op.ts";
import {
  attrNum,
  attrNums,
  attrStr,
  axisOf,
  defineOps,
  ints,
  need,
  type OpContext,
  type OpFn,
  scalarOf,
} from "./registry.ts";

type T = Tensor;

function s(x: T, v: number): T {
  return scalarOf(x, v);
}

/** Begin/end pads per spatial axis from `pads` or `auto_pad`. */
function spatialPads(
  ctx: OpContext,
  inShape: number[],
  kernel: number[],
  strides: number[],
  dil: number[],
): [number[], number[]] {
  const n = inShape.length;
  const auto = attrStr(ctx, "auto_pad", "NOTSET");
  if (auto === "SAME_UPPER" || auto === "SAME_LOWER") {
    const b: number[] = [], e: number[] = [];
    for (let i = 0; i < n; i++) {
      const out = Math.ceil(inShape[i] / strides[i]);
      const total = Math.max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dil[i] + 1 - inShape[i]);
      const lo = auto === "SAME_UPPER" ? Math.floor(total / 2) : Math.ceil(total / 2);
      b.push(lo);
      e.push(total - lo);
    }
    return [b, e];
  }
  if (auto === "VALID") return [Array(n).fill(0), Array(n).fill(0)];
  const p = attrNums(ctx, "pads", Array(2 * n).fill(0));
  return [p.slice(0, n), p.slice(n)];
}

/** Lift 1-D spatial inputs to 2-D (H = 1); 3-D and more are not supported. */
function to2d(x: T, ctx: OpContext): [T, boolean] {
  const sp = x.ndim - 2;
  if (sp === 2) return [x, false];
  if (sp === 1) return [V.unsqueeze(x, 2), true];
  throw new ShapeError(
    `${ctx.node.opType} "${ctx.node.name}": ${sp}-D spatial input [${x.shape.join(", ")}] is ` +
      `not supported (1-D and 2-D are).`,
  );
}

function lift(v: number[], one: boolean, dflt: number): number[] {
  return one ? [dflt, ...v] : v;
}

/** The value max pooling pads with: below every element of `x`'s dtype. */
function lowest(x: T): number {
  return isInt(x.dtype) ? Number(iinfo(x.dtype).min) : -Infinity;
}

function padSpatial(x: T, b: number[], e: number[], value: number): T {
  if (b.every((v) => v === 0) && e.every((v) => v === 0)) return x;
  const widths = [[0, 0], [0, 0], ...b.map((v, i) => [v, e[i]])];
  return pad(x, widths, { value });
}

/**
 * Strides, dilations and begin/end pads of a 2-D window op over `x` (a 1-D op lifted to 2-D when
 * `one`) with kernel `k` (already lifted).
 */
function window2d(ctx: Parameters<OpFn>[1], x: T, k: number[], one: boolean) {
  const nsp = one ? 1 : 2;
  const strides = lift(attrNums(ctx, "strides", Array(nsp).fill(1)), one, 1);
  const dil = lift(attrNums(ctx, "dilations", Array(nsp).fill(1)), one, 1);
  const [b0, e0] = spatialPads(
    ctx,
    x.shape.slice(2 + (one ? 1 : 0)),
    k.slice(one ? 1 : 0),
    strides.slice(one ? 1 : 0),
    dil.slice(one ? 1 : 0),
  );
  return { strides, dil, b: lift(b0, one, 0), e: lift(e0, one, 0) };
}

/**
 * conv2d with pads [top, left] `b` and [bottom, right] `e`, equal or not (BlazeFace's stride-2
 * blocks pad only the end), straight to the CPU kernel, which takes four pads: no padded copy,
 * no option parsing. Null when it does not apply (device, dtype, negative pads, shapes conv2d
 * would refuse: conv2d then runs and reports them).
 */
function convAsymmetric(
  x: T,
  w: T,
  bias: T | undefined,
  st: number[],
  dil: number[],
  b: number[],
  e: number[],
  groups: number,
): T | null {
  const ins = bias === undefined ? [x, w] : [x, w, bias];
  if (!ins.every((t) => t.device === "cpu" && t.dtype === "f32")) return null;
  if (x.ndim !== 4 || w.ndim !== 4 || [...b, ...e].some((v) => v < 0)) return null;
  const [N, C, H, W] = x.shape, [O, Cg, KH, KW] = w.shape;
  if (Cg * groups !== C || O % groups !== 0) return null;
  if (bias !== undefined && (bias.ndim !== 1 || bias.shape[0] !== O)) return null;
  const oh = Math.floor((H + b[0] + e[0] - dil[0] * (KH - 1) - 1) / st[0]) + 1;
  const ow = Math.floor((W + b[1] + e[1] - dil[1] * (KW - 1) - 1) / st[1]) + 1;
  if (oh <= 0 || ow <= 0) return null;
  return runKernel1("conv2d", ins, {
    stride: [st[0], st[1]],
    padding: [b[0], e[0], b[1], e[1]],
    dilation: [dil[0], dil[1]],
    groups,
    hasBias: bias !== undefined,
  }, { shape: [N, O, oh, ow], dtype: "f32", overwritten: true });
}

/**
 * A fused activation applied to a conv's new output `y`: in place on the CPU (no second tensor
 * of the output's size), as a new tensor elsewhere (a GPU kernel may not read and write one
 * buffer).
 */
function activate(y: T, act: Activation): T {
  if (act !== "Relu" && act !== "Sigmoid") return y;
  const op = act === "Relu" ? "relu" : "sigmoid";
  if (y.device === "cpu" && y.dtype === "f32" && !y.requiresGrad) return runKernel1(op, [y], {}, y);
  return act === "Relu" ? A.relu(y) : A.sigmoid(y);
}

/** A Conv node's window and groups for one input and kernel size (its attributes are fixed). */
interface ConvGeometry {
  h: number;
  w: number;
  kh: number;
  kw: number;
  strides: number[];
  dil: number[];
  b: number[];
  e: number[];
  groups: number;
}

/** Per node: the geometry of the last input and kernel sizes it ran with (attribute parsing,
 * ~4 µs a call, then runs once per node while the sizes stay). */
const geometries = new WeakMap<object, ConvGeometry>();

function convGeometry(ctx: OpContext, x: T, w: T, one: boolean): ConvGeometry {
  const [h, wd] = x.shape.slice(2), [kh, kw] = w.shape.slice(2);
  const g = geometries.get(ctx.node);
  if (g !== undefined && g.h === h && g.w === wd && g.kh === kh && g.kw === kw) return g;
  const { strides, dil, b, e } = window2d(ctx, x, [kh, kw], one);
  const made = { h, w: wd, kh, kw, strides, dil, b, e, groups: attrNum(ctx, "group", 1) };
  geometries.set(ctx.node, made);
  return made;
}

const conv: OpFn = (inp, ctx) => {
  const x0 = need(inp, 0, ctx), w0 = need(inp, 1, ctx);
  // A following Relu the session's plan fused into this node.
  const act = (ctx.node.fusedActivation ?? "") as Activation;
  // A Relu the plan fused into the data input: applied while reading (1-D small path) or first.
  const preRelu = ctx.node.fusedInputActivation === "Relu";
  // 1-D, group 1: the small path first, before any lifting to 2-D (no views to make and drop).
  if (x0.ndim === 3 && w0.ndim === 3 && attrNum(ctx, "group", 1) === 1) {
    const st = attrNums(ctx, "strides", [1]), dl = attrNums(ctx, "dilations", [1]);
    const [pb, pe] = spatialPads(ctx, x0.shape.slice(2), w0.shape.slice(2), st, dl);
    const y = conv1dSmall(x0, w0, inp[2], st[0], dl[0], pb[0], pe[0], act, preRelu);
    if (y !== null) return [y];
  }
  let [x, one] = to2d(x0, ctx);
  let w = w0;
  if (one) w = V.unsqueeze(w, 2);
  const { strides, dil, b, e, groups } = convGeometry(ctx, x, w, one);
  if (preRelu) x = A.relu(x);
  // On the CPU in f32 the kernel takes four pads as they are (no padded copy of the input,
  // none of conv2d's option parsing); elsewhere symmetric pads go to conv2d, others pad first.
  const sym = b.every((v, i) => v === e[i] && v >= 0);
  const yc = convAsymmetric(x, w, inp[2], strides, dil, b, e, groups);
  if (yc !== null) return [activate(one ? V.squeeze(yc, 2) : yc, act)];
  const xp = sym ? x : padSpatial(x, b, e, 0);
  const y = conv2d(xp, w, {
    bias: inp[2] ?? null,
    stride: [strides[0], strides[1]],
    padding: sym ? [b[0], b[1]] : 0,
    dilation: [dil[0], dil[1]],
    groups,
  });
  return [activate(one ? V.squeeze(y, 2) : y, act)];
};

/**
 * 3-D pooling as two 2-D pools (max and mean over a box are separable): (H, W) first on
 * (N, C·D, H, W), then D on (N, C, D, H'·W').
 */
function pool3d(
  kind: "max" | "avg",
  x: T,
  k: number[],
  s: number[],
  d: number[],
  ceil: boolean,
): T {
  const p2 = (t: T, kh: number, kw: number, sh: number, sw: number, dh: number, dw: number) => {
    if (kind === "max") {
      return maxPool2d(t, {
        kernelSize: [kh, kw],
        stride: [sh, sw],
        dilation: [dh, dw],
        ceilMode: ceil,
      });
    }
    if (dh !== 1 || dw !== 1) throw new ShapeError(`AveragePool: dilations are not supported.`);
    return avgPool2d(t, { kernelSize: [kh, kw], stride: [sh, sw], ceilMode: ceil });
  };
  const [n, c, D, H, W] = x.shape;
  let y = p2(V.reshape(V.contiguous(x), [n, c * D, H, W]), k[1], k[2], s[1], s[2], d[1], d[2]);
  const [h2, w2] = y.shape.slice(2);
  y = p2(V.reshape(y, [n, c, D, h2 * w2]), k[0], 1, s[0], 1, d[0], 1);
  return V.reshape(y, [n, c, y.shape[2], h2, w2]);
}

function ceilCrop(
  y: T,
  spatial: number[],
  k: number[],
  s: number[],
  d: number[],
  b: number[],
  e: number[],
): T {
  // ONNX drops a last window that starts in the right padding; our pool saw that padding as
  // input, so cut the output to ONNX's size.
  const want = spatial.map((n, i) => {
    const span = (k[i] - 1) * d[i] + 1;
    let o = Math.ceil((n + b[i] + e[i] - span) / s[i]) + 1;
    if ((o - 1) * s[i] >= n + b[i]) o--;
    return o;
  });
  if (want.every((o, i) => o >= y.shape[2 + i])) return y;
  return V.contiguous(V.slice(y, null, null, ...want.map((o) => ({ stop: o }))));
}

/** Window sums (a depthwise convolution with a kernel of ones): 4-D, or 5-D as two passes. */
function sumPool(t: T, k: number[], s: number[], d: number[]): T {
  const conv = (u: T, kh: number, kw: number, sh: number, sw: number, dh: number, dw: number) => {
    const c = u.shape[1];
    const w = full([c, 1, kh, kw], 1, { dtype: u.dtype as DType });
    return conv2d(u, w, { groups: c, stride: [sh, sw], dilation: [dh, dw] });
  };
  if (t.ndim === 4) return conv(t, k[0], k[1], s[0], s[1], d[0], d[1]);
  const [n, c, D, H, W] = t.shape;
  let y = conv(V.reshape(V.contiguous(t), [n * c, D, H, W]), k[1], k[2], s[1], s[2], d[1], d[2]);
  const [h2, w2] = y.shape.slice(2);
  y = V.reshape(V.contiguous(V.permute(V.reshape(y, [n * c, D, h2 * w2]), [0, 2, 1])), [
    n * c * h2 * w2,
    1,
    D,
    1,
  ]);
  y = conv(y, k[0], 1, s[0], 1, d[0], 1);
  const d2 = y.shape[2];
  return V.reshape(V.contiguous(V.permute(V.reshape(y, [n * c, h2 * w2, d2]), [0, 2, 1])), [
    n,
    c,
    d2,
    h2,
    w2,
  ]);
}

/**
 * Average pooling with dilations: window sums of the padded input over window sums of a mask
 * that is 1 on the input (and on explicit pads when count_include_pad), 0 on the extra right
 * padding that ceil mode needs.
 */
function dilatedAvgPool(x: T, ctx: OpContext): T {
  const nsp = x.ndim - 2;
  const k = attrNums(ctx, "kernel_shape", []);
  const st = attrNums(ctx, "strides", Array(nsp).fill(1));
  const dl = attrNums(ctx, "dilations", Array(nsp).fill(1));
  const [b, e] = spatialPads(ctx, x.shape.slice(2), k, st, dl);
  const ceil = attrNum(ctx, "ceil_mode", 0) === 1;
  const include = attrNum(ctx, "count_include_pad", 0) === 1;
  const extra = x.shape.slice(2).map((n, i) => {
    if (!ceil) return 0;
    const span = (k[i] - 1) * dl[i] + 1, tot = n + b[i] + e[i];
    let o = Math.ceil((tot - span) / st[i]) + 1;
    if ((o - 1) * st[i] >= n + b[i]) o--;
    return Math.max(0, (o - 1) * st[i] + span - tot);
  });
  const padAll = (t: T, inner: number, outer: number) => {
    const withPads = padSpatial(t, b, e, inner);
    return padSpatial(withPads, extra.map(() => 0), extra, outer);
  };
  const num = sumPool(padAll(x, 0, 0), k, st, dl);
  const den = sumPool(padAll(onesLike(x), include ? 1 : 0, 0), k, st, dl);
  return B.div(num, den);
}

function pool(kind: "max" | "avg"): OpFn {
  return (inp, ctx) => {
    const x0 = need(inp, 0, ctx);
    if (kind === "avg" && attrNums(ctx, "dilations", []).some((v) => v !== 1)) {
      if (x0.ndim === 4 || x0.ndim === 5) return [dilatedAvgPool(x0, ctx)];
    }
    if (x0.ndim === 5) {
      if (kind === "max" && ctx.node.outputs.length > 1 && ctx.node.outputs[1] !== "") {
        throw new ShapeError(`MaxPool "${ctx.node.name}": the Indices output is not supported.`);
      }
      const k = attrNums(ctx, "kernel_shape", []);
      const st = attrNums(ctx, "strides", [1, 1, 1]), dl = attrNums(ctx, "dilations", [1, 1, 1]);
      const [b, e] = spatialPads(ctx, x0.shape.slice(2), k, st, dl);
      const ceil = attrNum(ctx, "ceil_mode", 0) === 1;
      let y: T;
      if (kind === "max") y = pool3d(kind, padSpatial(x0, b, e, lowest(x0)), k, st, dl, ceil);
      else if (attrNum(ctx, "count_include_pad", 0) === 1) {
        y = pool3d(kind, padSpatial(x0, b, e, 0), k, st, dl, ceil);
      } else {
        const num = pool3d(kind, padSpatial(x0, b, e, 0), k, st, dl, ceil);
        y = B.div(num, pool3d(kind, padSpatial(onesLike(x0), b, e, 0), k, st, dl, ceil));
      }
      return [ceil ? ceilCrop(y, x0.shape.slice(2), k, st, dl, b, e) : y];
    }
    const [x, one] = to2d(x0, ctx);
    const k = lift(attrNums(ctx, "kernel_shape", []), one, 1);
    const { strides, dil, b, e } = window2d(ctx, x, k, one);
    const ceilMode = attrNum(ctx, "ceil_mode", 0) === 1;
    const opts = {
      kernelSize: [k[0], k[1]] as [number, number],
      stride: [strides[0], strides[1]] as [number, number],
      ceilMode,
    };
    let y: T;
    if (kind === "max") {
      y = maxPool2d(padSpatial(x, b, e, lowest(x)), { ...opts, dilation: [dil[0], dil[1]] });
      if (ctx.node.outputs.length > 1 && ctx.node.outputs[1] !== "") {
        if (one || ceilMode) {
          throw new ShapeError(
            `MaxPool "${ctx.node.name}": the Indices output is supported for 2-D pools ` +
              `without ceil_mode.`,
          );
        }
        const order = attrNum(ctx, "storage_order", 0);
        const where = `MaxPool "${ctx.node.name}"`;
        return [y, maxPoolIndices(x, y.shape, k, strides, dil, b, order, where)];
      }
    } else if (attrNum(ctx, "count_include_pad", 0) === 1) {
      y = avgPool2d(padSpatial(x, b, e, 0), opts);
    } else {
      // Mean over the real elements of each window: pooled values over pooled ones.
      const num = avgPool2d(padSpatial(x, b, e, 0), opts);
      const den = avgPool2d(padSpatial(onesLike(x), b, e, 0), opts);
      y = B.div(num, den);
    }
    if (ceilMode) y = ceilCrop(y, x.shape.slice(2), k, strides, dil, b, e);
    return [one ? V.squeeze(y, 2) : y];
  };
}

function reduce(
  f: (x: T, axes: number[] | undefined, keep: boolean) => T,
  axesInputSince: number,
  empty?: number,
): OpFn {
  return (inp, ctx) => {
    const x = need(inp, 0, ctx);
    const keep = attrNum(ctx, "keepdims", 1) === 1;
    let axes = ctx.opset >= axesInputSince ? axesArg(inp, 1, ctx) : attrNums(ctx, "axes");
    if (axes !== undefined && axes.length === 0) axes = undefined;
    if (axes === undefined && attrNum(ctx, "noop_with_empty_axes", 0) === 1) return [V.clone(x)];
    const ax = axes?.map((a) => axisOf(a, x.ndim, ctx)) ?? x.shape.map((_, i) => i);
    if (empty !== undefined && ax.some((a) => x.shape[a] === 0)) {
      // No identity in our max/min: ONNX defines the empty reduction as ±inf (or the type's limit).
      const shape = keep
        ? x.shape.map((d, i) => (ax.includes(i) ? 1 : d))
        : x.shape.filter((_, i) => !ax.includes(i));
      const lim = x.dtype === "bool"
        ? (empty > 0 ? 1 : 0)
        : isInt(x.dtype as DType)
        ? Number(empty > 0 ? iinfo(x.dtype as DType).max : iinfo(x.dtype as DType).min)
        : empty;
      return [full(shape, x.dtype === "bool" ? lim !== 0 : lim, { dtype: x.dtype as DType })];
    }
    const y = f(x, ax, keep);
    return [y.dtype === x.dtype ? y : V.astype(y, x.dtype as DType)];
  };
}

function softmaxLike(f: (x: T, axis: number) => T): OpFn {
  return (inp, ctx) => {
    const x = need(inp, 0, ctx);
    const a = axisOf(attrNum(ctx, "axis", ctx.opset < 13 ? 1 : -1), x.ndim, ctx);
    if (ctx.opset >= 13) return [f(x, a)];
    // Before opset 13 the input is coerced to 2-D at `axis`.
    const outer = x.shape.slice(0, a).reduce((p, d) => p * d, 1);
    const y = f(V.reshape(V.contiguous(x), [outer, -1]), 1);
    return [V.reshape(y, x.shape)];
  };
}

function argReduce(f: typeof R.argmax): OpFn {
  return (inp, ctx) => {
    const x = need(inp, 0, ctx);
    const a = axisOf(attrNum(ctx, "axis", 0), x.ndim, ctx);
    const keep = attrNum(ctx, "keepdims", 1) === 1;
    if (attrNum(ctx, "select_last_index", 0) === 1) {
      const n = x.shape[a];
      const r = f(V.flip(x, a), a, keep);
      return [V.astype(B.sub(fullLike(r, n - 1, { dtype: "i64" }), r), "i64")];
    }
    return [V.astype(f(x, a, keep), "i64")];
  };
}

defineOps({
  MatMul: (inp, ctx) => [matmul(need(inp, 0, ctx), need(inp, 1, ctx))],
  Gemm: (inp, ctx) => {
    let a = need(inp, 0, ctx), b = need(inp, 1, ctx);
    if (attrNum(ctx, "transA", 0)) a = V.transpose(a);
    if (attrNum(ctx, "transB", 0)) b = V.transpose(b);
    const alpha = attrNum(ctx, "alpha", 1), beta = attrNum(ctx, "beta", 1);
    let y = matmul(a, b);
    if (alpha !== 1) y = B.mul(y, s(y, alpha));
    if (inp[2] !== undefined) y = B.add(y, beta === 1 ? inp[2] : B.mul(inp[2], s(inp[2], beta)));
    return [y];
  },
  Conv: conv,
  MaxPool: pool("max"),
  AveragePool: pool("avg"),
  GlobalAveragePool: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    return [R.mean(x, x.shape.slice(2).map((_, i) => i + 2), true)];
  },
  GlobalMaxPool: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    return [R.max(x, x.shape.slice(2).map((_, i) => i + 2), true)];
  },
  BatchNormalization: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    const eps = attrNum(ctx, "epsilon", 1e-5);
    const shape = [1, -1, ...x.shape.slice(2).map(() => 1)];
    const [sc, bi, mu, va] = [1, 2, 3, 4].map((i) => V.reshape(need(inp, i, ctx), shape));
    if (attrNum(ctx, "training_mode", 0) === 1) {
      const axes = x.shape.map((_, i) => i).filter((i) => i !== 1);
      const bm = R.mean(x, axes, true);
      const d = B.sub(x, bm);
      const bv = R.mean(B.mul(d, d), axes, true);
      const mom = attrNum(ctx, "momentum", 0.9);
      const y = B.add(B.mul(B.mul(d, M.rsqrt(B.add(bv, s(bv, eps)))), sc), bi);
      const run = (old: T, cur: T) =>
        V.reshape(B.add(B.mul(old, s(old, mom)), B.mul(cur, s(cur, 1 - mom))), [-1]);
      return [y, run(mu, bm), run(va, bv)];
    }
    const inv = M.rsqrt(B.add(va, s(va, eps)));
    return [B.add(B.mul(B.sub(x, mu), B.mul(inv, sc)), bi)];
  },
  InstanceNormalization: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    const eps = attrNum(ctx, "epsilon", 1e-5);
    const axes = x.shape.slice(2).map((_, i) => i + 2);
    const shape = [1, -1, ...axes.map(() => 1)];
    const mu = R.mean(x, axes, true);
    const d = B.sub(x, mu);
    const va = R.mean(B.mul(d, d), axes, true);
    const y = B.mul(d, M.rsqrt(B.add(va, s(va, eps))));
    return [
      B.add(B.mul(y, V.reshape(need(inp, 1, ctx), shape)), V.reshape(need(inp, 2, ctx), shape)),
    ];
  },
  LayerNormalization: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    const a = axisOf(attrNum(ctx, "axis", -1), x.ndim, ctx);
    const eps = attrNum(ctx, "epsilon", 1e-5);
    const axes = x.shape.slice(a).map((_, i) => i + a);
    const mu = R.mean(x, axes, true);
    const d = B.sub(x, mu);
    const inv = M.rsqrt(B.add(R.mean(B.mul(d, d), axes, true), s(x, eps)));
    let y = B.mul(B.mul(d, inv), need(inp, 1, ctx));
    if (inp[2] !== undefined) y = B.add(y, inp[2]);
    return [y, mu, inv];
  },
  LRN: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    const size = attrNum(ctx, "size", 1);
    const alpha = attrNum(ctx, "alpha", 1e-4), beta = attrNum(ctx, "beta", 0.75);
    const bias = attrNum(ctx, "bias", 1);
    const sq = B.mul(x, x);
    const lo = Math.floor((size - 1) / 2), hi = Math.ceil((size - 1) / 2);
    const widths = x.shape.map((_, i) => (i === 1 ? [lo, hi] : [0, 0]));
    const p = pad(sq, widths);
    const c = x.shape[1];
    let acc = V.slice(p, null, { start: 0, stop: c });
    for (let i = 1; i < size; i++) acc = B.add(acc, V.slice(p, null, { start: i, stop: i + c }));
    const den = B.pow(B.add(s(x, bias), B.mul(acc, s(x, alpha / size))), s(x, beta));
    return [B.div(x, den)];
  },
  Softmax: softmaxLike(R.softmax),
  LogSoftmax: softmaxLike(R.logSoftmax),
  ReduceSum: reduce((x, a, k) => R.sum(x, a, k), 13),
  ReduceMean: reduce(
    (x, a, k) => meanSmall(x, a ?? x.shape.map((_, i) => i), k) ?? R.mean(x, a, k),
    18,
  ),
  ReduceMax: reduce((x, a, k) => R.max(x, a, k), 18, -Infinity),
  ReduceMin: reduce((x, a, k) => R.min(x, a, k), 18, Infinity),
  ReduceProd: reduce((x, a, k) => R.prod(x, a, k), 18),
  ReduceSumSquare: reduce((x, a, k) => R.sum(B.mul(x, x), a, k), 18),
  ReduceL1: reduce((x, a, k) => R.sum(B.abs(x), a, k), 18),
  ReduceL2: reduce((x, a, k) => M.sqrt(R.sum(B.mul(x, x), a, k)), 18),
  ReduceLogSum: reduce((x, a, k) => M.log(R.sum(x, a, k)), 18),
  ReduceLogSumExp: reduce((x, a, k) => R.logsumexp(x, a, k), 18),
  ArgMax: argReduce(R.argmax),
  ArgMin: argReduce(R.argmin),
  CumSum: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    const a = axisOf(ints(need(inp, 1, ctx))[0], x.ndim, ctx);
    const rev = attrNum(ctx, "reverse", 0) === 1, excl = attrNum(ctx, "exclusive", 0) === 1;
    let y = rev ? V.flip(x, a) : x;
    let c = R.cumsum(y, a);
    if (excl) c = B.sub(c, y);
    y = rev ? V.contiguous(V.flip(c, a)) : c;
    return [y.dtype === x.dtype ? y : V.astype(y, x.dtype as DType)];
  },
  TopK: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    const k = ctx.opset < 10 ? attrNum(ctx, "k", 1) : ints(need(inp, 1, ctx))[0];
    const a = axisOf(attrNum(ctx, "axis", -1), x.ndim, ctx);
    const [v, i] = topk(x, k, { axis: a, largest: attrNum(ctx, "largest", 1) === 1 });
    return [v, V.astype(i, "i64")];
  },
  Einsum: (inp, ctx) => {
    const xs = inp.filter((t): t is T => t !== undefined);
    return [einsum(attrStr(ctx, "equation", "").replaceAll(" ", ""), ...xs)];
  },
});
