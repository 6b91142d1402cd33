/**
 * More ONNX operators on our ops: Dropout (inference), Hardmax, CumProd, EyeLike, Compress,
 * ReverseSequence, NonZero, Shrink, normalizations (Lp, GroupNorm, MeanVariance), LpPool, Det,
 * window functions, losses (NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss), ConvTranspose.
 *
 * @module
 */
import type { DType } from "../../../core/dtype.ts";
import { ShapeError } from "../../../core/errors.ts";
import * as B from "../../../core/ops/arithmetic.ts";
import * as C from "../../../core/ops/compare.ts";
import { arange, fromTyped, full, onesLike, zeros } from "../../../core/ops/creation.ts";
import { gather, nonzero, scatter, take, where } from "../../../core/ops/indexing.ts";
import { concat, pad } from "../../../core/ops/join.ts";
import { det } from "../../../core/ops/linalg_factor.ts";
import * as M from "../../../core/ops/math.ts";
import * as R from "../../../core/ops/reduce.ts";
import { conv2d } from "../../../core/ops/conv.ts";
import * as V from "../../../core/ops/view.ts";
import type { Tensor } from "../../../core/tensor.ts";
import { dtypeFromOnnx } from "../tensor_proto.ts";
import {
  attrNum,
  attrNums,
  attrStr,
  axisOf,
  defineOps,
  floats,
  ints,
  need,
  type OpContext,
  type OpFn,
  scalarOf,
} from "./registry.ts";

type T = Tensor;

function nll(input: T, target: T, weight: T | undefined, ctx: OpContext): T {
  const reduction = attrStr(ctx, "reduction", "mean");
  const ignore = attrNum(ctx, "ignore_index");
  const t64 = V.astype(target, "i64");
  const ignored = ignore === undefined ? null : C.eq(t64, full([], ignore, { dtype: "i64" }));
  const safe = ignored === null ? t64 : where(ignored, full([], 0, { dtype: "i64" }), t64);
  const picked = V.squeeze(gather(input, 1, V.unsqueeze(safe, 1)), 1);
  let w: T = weight === undefined ? onesLike(picked) : take(weight, safe, 0);
  if (ignored !== null) w = where(ignored, scalarOf(w, 0), w);
  const loss = B.neg(B.mul(picked, w));
  if (reduction === "none") return loss;
  if (reduction === "sum") return R.sum(loss);
  return B.div(R.sum(loss), R.sum(w));
}

/**
 * Sums over 3-D windows (N, C, D, H, W) as two depthwise convolutions with kernels of ones (a
 * box sum is separable): (H, W) on (N, C·D, H, W), then D on (N, C, D, H'·W').
 */
function boxSum3d(x: T, k: number[], s: number[], d: number[]): T {
  const [n, c, D, H, W] = x.shape;
  const ones = (shape: number[]) => full(shape, 1, { dtype: x.dtype as DType });
  const hw = conv2d(V.reshape(V.contiguous(x), [n, c * D, H, W]), ones([c * D, 1, k[1], k[2]]), {
    groups: c * D,
    stride: [s[1], s[2]],
    dilation: [d[1], d[2]],
  });
  const [h2, w2] = hw.shape.slice(2);
  const y = conv2d(V.reshape(hw, [n, c, D, h2 * w2]), ones([c, 1, k[0], 1]), {
    groups: c,
    stride: [s[0], 1],
    dilation: [d[0], 1],
  });
  return V.reshape(y, [n, c, y.shape[2], h2, w2]);
}

/**
 * A 3-D convolution with unit strides (N, Ci, D, H, W) * (Co, Ci/g, kd, kh, kw), no padding: the
 * sum over kd of 2-D convolutions of the depth slices, with the depth folded into the batch.
 */
function conv3dUnitStride(x: T, w: T, bias: T | undefined, groups: number, dil: number[]): T {
  const [n, ci, D, H, W] = x.shape;
  const [co, , kd] = w.shape;
  const dOut = D - (kd - 1) * dil[0];
  let acc: T | null = null;
  for (let j = 0; j < kd; j++) {
    const xs = V.slice(x, null, null, { start: j * dil[0], stop: j * dil[0] + dOut });
    const x2 = V.reshape(V.contiguous(V.permute(xs, [0, 2, 1, 3, 4])), [n * dOut, ci, H, W]);
    const y2 = conv2d(x2, V.contiguous(V.select(w, 2, j)), {
      groups,
      dilation: [dil[1], dil[2]],
      bias: j === 0 ? bias ?? null : null,
    });
    acc = acc === null ? y2 : B.add(acc, y2);
  }
  const [h2, w2] = acc!.shape.slice(2);
  return V.contiguous(V.permute(V.reshape(acc!, [n, dOut, co, h2, w2]), [0, 2, 1, 3, 4]));
}

function lpPool(global: boolean): OpFn {
  return (inp, ctx) => {
    const x = need(inp, 0, ctx);
    const p = attrNum(ctx, "p", 2);
    const nsp = x.ndim - 2;
    if (global) {
      const axes = Array.from({ length: nsp }, (_, i) => i + 2);
      const s = R.sum(B.pow(B.abs(x), scalarOf(x, p)), axes, true);
      return [B.pow(s, scalarOf(s, 1 / p))];
    }
    if (nsp < 1 || nsp > 3) throw new ShapeError(`LpPool: ${nsp}-D input is not supported.`);
    // Sum of |x|^p over each window: a depthwise convolution with a kernel of ones.
    const k = attrNums(ctx, "kernel_shape", []);
    const strides = attrNums(ctx, "strides", k.map(() => 1));
    const dil = attrNums(ctx, "dilations", k.map(() => 1));
    let pads = attrNums(ctx, "pads", Array(2 * nsp).fill(0));
    const auto = attrStr(ctx, "auto_pad", "NOTSET");
    if (auto === "SAME_UPPER" || auto === "SAME_LOWER") {
      pads = Array(2 * nsp).fill(0);
      for (let i = 0; i < nsp; i++) {
        const n = x.shape[2 + i], o = Math.ceil(n / strides[i]);
        const tot = Math.max(0, (o - 1) * strides[i] + (k[i] - 1) * dil[i] + 1 - n);
        const lo = auto === "SAME_UPPER" ? Math.floor(tot / 2) : Math.ceil(tot / 2);
        pads[i] = lo;
        pads[nsp + i] = tot - lo;
      }
    }
    let xp = B.pow(B.abs(x), scalarOf(x, p));
    xp = pad(xp, [[0, 0], [0, 0], ...k.map((_, i) => [pads[i], pads[nsp + i]])]);
    const c = x.shape[1];
    if (nsp === 3) return [B.pow(boxSum3d(xp, k, strides, dil), scalarOf(xp, 1 / p))];
    const one = nsp === 1;
    const w = full([c, 1, ...(one ? [1] : []), ...k], 1, { dtype: x.dtype as DType });
    const y = conv2d(one ? V.unsqueeze(xp, 2) : xp, w, {
      groups: c,
      stride: one ? [1, strides[0]] : [strides[0], strides[1]],
      dilation: one ? [1, dil[0]] : [dil[0], dil[1]],
    });
    const r = B.pow(y, scalarOf(y, 1 / p));
    return [one ? V.squeeze(r, 2) : r];
  };
}

function windowFn(coeffs: number[]): OpFn {
  return (inp, ctx) => {
    const n = ints(need(inp, 0, ctx))[0];
    const periodic = attrNum(ctx, "periodic", 1) === 1;
    const dt = dtypeFromOnnx(attrNum(ctx, "output_datatype", 1), ctx.node.opType);
    const denom = periodic ? n : n - 1;
    const k = arange(0, n, 1, { dtype: "f64" });
    let y: T = full([n], 0, { dtype: "f64" });
    coeffs.forEach((a, i) => {
      const term = M.cos(B.mul(k, full([], (2 * Math.PI * i) / denom, { dtype: "f64" })));
      y = B.add(y, B.mul(term, full([], i % 2 === 0 ? a : -a, { dtype: "f64" })));
    });
    return [V.astype(y, dt)];
  };
}

/**
 * Unique values (or slices along `axis`): the grouping runs on the host over the data (there is
 * no unique op in core); the values are then taken from x with our take.
 */
function unique(x: T, axisAttr: number | undefined, sorted: boolean, ctx: OpContext): T[] {
  const axis = axisAttr === undefined ? undefined : axisOf(axisAttr, x.ndim, ctx);
  const src = axis === undefined ? V.reshape(V.contiguous(x), [-1]) : x;
  const ax = axis ?? 0;
  const n = src.shape[ax];
  const rows = V.reshape(
    V.contiguous(V.permute(src, [ax, ...src.shape.map((_, i) => i).filter((i) => i !== ax)])),
    [n, -1],
  );
  const data = Array.from(rows.dataSync() as ArrayLike<number | bigint>, Number);
  const width = n === 0 ? 0 : data.length / n;
  const row = (i: number) => data.slice(i * width, (i + 1) * width);
  const key = new Map<string, number>(); // row -> group
  const first: number[] = [], counts: number[] = [], inverse: number[] = [];
  for (let i = 0; i < n; i++) {
    const k = row(i).join(",");
    let g = key.get(k);
    if (g === undefined) {
      g = first.length;
      key.set(k, g);
      first.push(i);
      counts.push(0);
    }
    counts[g]++;
    inverse.push(g);
  }
  let order = first.map((_, g) => g);
  if (sorted) {
    const cmp = (a: number[], b: number[]) => {
      for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
      return 0;
    };
    order = order.sort((a, b) => cmp(row(first[a]), row(first[b])));
  }
  const rank = new Array<number>(order.length);
  order.forEach((g, r) => (rank[g] = r));
  const i64 = (v: number[]) => fromTyped(BigInt64Array.from(v, BigInt), [v.length], "i64");
  const idx = i64(order.map((g) => first[g]));
  return [
    take(src, idx, ax),
    idx,
    i64(inverse.map((g) => rank[g])),
    i64(order.map((g) => counts[g])),
  ];
}

defineOps({
  Unique: (inp, ctx) =>
    unique(need(inp, 0, ctx), attrNum(ctx, "axis"), attrNum(ctx, "sorted", 1) === 1, ctx),
  Dropout: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    const training = inp[2] !== undefined && floats(inp[2])[0] !== 0;
    const ratio = inp[1] === undefined ? attrNum(ctx, "ratio", 0.5) : floats(inp[1])[0];
    if (training && ratio !== 0) {
      throw new ShapeError(`Dropout "${ctx.node.name}": training mode is not supported.`);
    }
    return [V.clone(x), full(x.shape, true, { dtype: "bool" })];
  },
  Hardmax: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    const a = axisOf(attrNum(ctx, "axis", ctx.opset < 13 ? 1 : -1), x.ndim, ctx);
    const y = ctx.opset < 13
      ? V.reshape(V.contiguous(x), [x.shape.slice(0, a).reduce((p, d) => p * d, 1), -1])
      : x;
    const ax = ctx.opset < 13 ? 1 : a;
    const idx = R.argmax(y, ax, true);
    const cls = V.reshape(
      arange(0, y.shape[ax], 1, { dtype: "i64" }),
      y.shape.map((d, i) => (i === ax ? d : 1)),
    );
    const hot = V.astype(C.eq(V.astype(idx, "i64"), cls), x.dtype as DType);
    return [V.reshape(hot, x.shape)];
  },
  CumProd: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    const a = axisOf(ints(need(inp, 1, ctx))[0], x.ndim, ctx);
    const rev = attrNum(ctx, "reverse", 0) === 1, excl = attrNum(ctx, "exclusive", 0) === 1;
    let y = rev ? V.flip(x, a) : x;
    if (excl) {
      const widths = y.shape.map((_, i) => (i === a ? [1, 0] : [0, 0]));
      y = V.slice(
        pad(y, widths, { value: 1 }),
        ...y.shape.map((d, i) => (i === a ? { stop: d } : null)),
      );
    }
    let c = R.cumprod(y, a);
    if (rev) c = V.contiguous(V.flip(c, a));
    return [c.dtype === x.dtype ? c : V.astype(c, x.dtype as DType)];
  },
  EyeLike: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    const k = attrNum(ctx, "k", 0);
    const dtv = attrNum(ctx, "dtype");
    const dt = dtv === undefined ? (x.dtype as DType) : dtypeFromOnnx(dtv, "EyeLike");
    const [n, m] = x.shape;
    const i = V.reshape(arange(0, n, 1, { dtype: "i64" }), [n, 1]);
    const j = V.reshape(arange(0, m, 1, { dtype: "i64" }), [1, m]);
    return [V.astype(C.eq(B.sub(j, i), full([], k, { dtype: "i64" })), dt)];
  },
  Compress: (inp, ctx) => {
    const x = need(inp, 0, ctx), cond = need(inp, 1, ctx);
    const axis = attrNum(ctx, "axis");
    const keep = ints(cond).flatMap((v, i) => (v ? [i] : []));
    const idx = fromTyped(BigInt64Array.from(keep, BigInt), [keep.length], "i64");
    if (axis === undefined) return [take(V.reshape(V.contiguous(x), [-1]), idx, 0)];
    return [take(x, idx, axisOf(axis, x.ndim, ctx))];
  },
  ReverseSequence: (inp, ctx) => {
    const x = need(inp, 0, ctx), lens = ints(need(inp, 1, ctx));
    const bAx = attrNum(ctx, "batch_axis", 1), tAx = attrNum(ctx, "time_axis", 0);
    const parts = lens.map((l, b) => {
      const xb = V.slice(
        x,
        ...x.shape.map((_, i) => (i === bAx ? { start: b, stop: b + 1 } : null)),
      );
      const n = x.shape[tAx];
      const order = Array.from({ length: n }, (_, t) => (t < l ? l - 1 - t : t));
      return take(xb, fromTyped(Int32Array.from(order), [n], "i32"), tAx);
    });
    return [concat(parts, bAx)];
  },
  NonZero: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    if (x.ndim === 0) return [fromTyped(new BigInt64Array(0), [0, floats(x)[0] ? 1 : 0], "i64")];
    return [V.contiguous(V.transpose(V.astype(nonzero(x), "i64")))];
  },
  Shrink: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    const l = attrNum(ctx, "lambd", 0.5), b = attrNum(ctx, "bias", 0);
    const y = where(
      C.lt(x, scalarOf(x, -l)),
      B.add(x, scalarOf(x, b)),
      where(C.gt(x, scalarOf(x, l)), B.sub(x, scalarOf(x, b)), scalarOf(x, 0)),
    );
    return [V.astype(y, x.dtype as DType)];
  },
  LpNormalization: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    const a = axisOf(attrNum(ctx, "axis", -1), x.ndim, ctx);
    const p = attrNum(ctx, "p", 2);
    const n = p === 1 ? R.sum(B.abs(x), a, true) : M.sqrt(R.sum(B.mul(x, x), a, true));
    return [where(C.eq(n, scalarOf(n, 0)), scalarOf(x, 0), B.div(x, n))];
  },
  MeanVarianceNormalization: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    const axes = attrNums(ctx, "axes", [0, 2, 3]);
    const mu = R.mean(x, axes, true);
    const d = B.sub(x, mu);
    const sd = M.sqrt(R.mean(B.mul(d, d), axes, true));
    return [B.div(d, B.add(sd, scalarOf(sd, 1e-9)))];
  },
  GroupNormalization: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    const g = attrNum(ctx, "num_groups", 1), eps = attrNum(ctx, "epsilon", 1e-5);
    const [n, c] = x.shape;
    const xg = V.reshape(V.contiguous(x), [n, g, -1]);
    const mu = R.mean(xg, 2, true);
    const d = B.sub(xg, mu);
    const inv = M.rsqrt(B.add(R.mean(B.mul(d, d), 2, true), scalarOf(x, eps)));
    const y = V.reshape(B.mul(d, inv), x.shape);
    const shape = [1, c, ...x.shape.slice(2).map(() => 1)];
    const sc = need(inp, 1, ctx), bi = need(inp, 2, ctx);
    if (sc.size !== c) {
      throw new ShapeError(`GroupNormalization: scale has ${sc.size} values, want ${c}.`);
    }
    return [B.add(B.mul(y, V.reshape(sc, shape)), V.reshape(bi, shape))];
  },
  LpPool: lpPool(false),
  GlobalLpPool: lpPool(true),
  Det: (inp, ctx) => [det(need(inp, 0, ctx))],
  HannWindow: windowFn([0.5, 0.5]),
  HammingWindow: windowFn([25 / 46, 21 / 46]),
  BlackmanWindow: windowFn([0.42, 0.5, 0.08]),
  NegativeLogLikelihoodLoss: (inp, ctx) => [
    nll(need(inp, 0, ctx), need(inp, 1, ctx), inp[2], ctx),
  ],
  SoftmaxCrossEntropyLoss: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    const lp = R.logSoftmax(x, 1);
    return [nll(lp, need(inp, 1, ctx), inp[2], ctx), lp];
  },
  ConvTranspose: (inp, ctx) => {
    const x = need(inp, 0, ctx), w = need(inp, 1, ctx);
    const nsp = x.ndim - 2;
    if (nsp < 1 || nsp > 3) {
      throw new ShapeError(`ConvTranspose: ${nsp}-D input is not supported.`);
    }
    const group = attrNum(ctx, "group", 1);
    const k = attrNums(ctx, "kernel_shape", w.shape.slice(2));
    const strides = attrNums(ctx, "strides", k.map(() => 1));
    const dil = attrNums(ctx, "dilations", k.map(() => 1));
    const outPad = attrNums(ctx, "output_padding", k.map(() => 0));
    const inSp = x.shape.slice(2);
    let pads = attrNums(ctx, "pads", Array(2 * nsp).fill(0));
    const outShape = attrNums(ctx, "output_shape");
    const auto = attrStr(ctx, "auto_pad", "NOTSET");
    if (outShape !== undefined || auto === "SAME_UPPER" || auto === "SAME_LOWER") {
      const want = outShape?.slice(-nsp) ?? inSp.map((n, i) => n * strides[i]);
      pads = Array(2 * nsp).fill(0);
      for (let i = 0; i < nsp; i++) {
        const tot = strides[i] * (inSp[i] - 1) + outPad[i] + (k[i] - 1) * dil[i] + 1 - want[i];
        // SAME_UPPER: the extra padding at the end; otherwise (SAME_LOWER, output_shape) at the start.
        pads[i] = auto === "SAME_UPPER" ? Math.floor(tot / 2) : tot - Math.floor(tot / 2);
        pads[nsp + i] = tot - pads[i];
      }
    }
    // Transposed convolution = zero-stuffed input, full padding, flipped kernel with in/out swapped.
    let xs = x;
    for (let i = 0; i < nsp; i++) {
      const s = strides[i];
      if (s === 1) continue;
      const ax = 2 + i, n = xs.shape[ax];
      const shape = [...xs.shape];
      shape[ax] = (n - 1) * s + 1;
      const idx = Array.from({ length: n }, (_, j) => j * s);
      const z = zeros(shape, { dtype: xs.dtype as DType });
      const ix = V.contiguous(V.broadcastTo(
        V.reshape(
          fromTyped(BigInt64Array.from(idx, BigInt), [n], "i64"),
          xs.shape.map((d, j) => (j === ax ? d : 1)),
        ),
        xs.shape,
      ));
      xs = scatter(z, ax, ix, xs);
    }
    const cin = w.shape[0], coutG = w.shape[1];
    const wg = V.reshape(w, [group, cin / group, coutG, ...w.shape.slice(2)]);
    let wt = V.permute(wg, [0, 2, 1, ...w.shape.slice(2).map((_, i) => i + 3)]);
    wt = V.reshape(V.contiguous(wt), [group * coutG, cin / group, ...w.shape.slice(2)]);
    wt = V.contiguous(V.flip(wt, w.shape.slice(2).map((_, i) => i + 2)));
    const widths = [
      [0, 0],
      [0, 0],
      ...k.map((_, i) => {
        const full1 = (k[i] - 1) * dil[i];
        return [full1 - pads[i], full1 - pads[nsp + i] + outPad[i]];
      }),
    ];
    const crop = widths.map(([b, e]) => [Math.max(0, -b), Math.max(0, -e)]);
    let xpad = pad(xs, widths.map(([b, e]) => [Math.max(0, b), Math.max(0, e)]));
    if (crop.some(([b, e]) => b > 0 || e > 0)) {
      xpad = V.slice(
        xpad,
        ...xpad.shape.map((d, i) => ({ start: crop[i][0], stop: d - crop[i][1] })),
      );
    }
    if (nsp === 3) return [conv3dUnitStride(xpad, wt, inp[2], group, dil)];
    const one = nsp === 1;
    const y = conv2d(one ? V.unsqueeze(xpad, 2) : xpad, one ? V.unsqueeze(wt, 2) : wt, {
      bias: inp[2] ?? null,
      groups: group,
      dilation: one ? [1, dil[0]] : [dil[0], dil[1]],
    });
    return [one ? V.squeeze(y, 2) : y];
  },
});
