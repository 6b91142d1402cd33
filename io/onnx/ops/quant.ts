/**
 * ONNX linear quantization (`QuantizeLinear`, `DequantizeLinear`, `DynamicQuantizeLinear`) in
 * the integer types we hold, per tensor, per axis and blocked; plus `SwiGLU`, `CenterCropPad`
 * and the deprecated `Scatter`.
 *
 * @module
 */
import type { DType } from "../../../core/dtype.ts";
import { DTypeError } from "../../../core/errors.ts";
import * as A from "../../../core/ops/activation.ts";
import * as B from "../../../core/ops/arithmetic.ts";

import { scatter } from "../../../core/ops/indexing.ts";
import { pad, repeat } from "../../../core/ops/join.ts";
import * as M from "../../../core/ops/math.ts";
import * as R from "../../../core/ops/reduce.ts";
import * as V from "../../../core/ops/view.ts";
import type { Tensor } from "../../../core/tensor.ts";
import { dtypeFromOnnx } from "../tensor_proto.ts";
import {
  attrNum,
  attrNums,
  axisOf,
  defineOps,
  ints,
  need,
  type OpContext,
  scalarOf,
} from "./registry.ts";

type T = Tensor;

const RANGES: Partial<Record<DType, [number, number]>> = {
  u8: [0, 255],
  i8: [-128, 127],
  u16: [0, 65535],
  i16: [-32768, 32767],
  i32: [-(2 ** 31), 2 ** 31 - 1],
};

/** Scale or zero point broadcast against `shape`: scalar, per axis, or per block along axis. */
function param(p: T, shape: readonly number[], axis: number, block: number): T {
  if (p.ndim === 0) return p;
  if (p.size === 1) return V.reshape(p, []);
  if (block > 0) {
    const r = repeat(p, block, axis);
    return V.slice(r, ...r.shape.map((_d, i) => (i === axis ? { stop: shape[axis] } : null)));
  }
  return V.reshape(p, shape.map((_d, i) => (i === axis ? p.size : 1)));
}

function quantize(inp: (T | undefined)[], ctx: OpContext): T[] {
  const x = need(inp, 0, ctx), s = need(inp, 1, ctx), zp = inp[2];
  const axis = s.size > 1 ? axisOf(attrNum(ctx, "axis", 1), x.ndim, ctx) : 0;
  const block = attrNum(ctx, "block_size", 0);
  const outAttr = attrNum(ctx, "output_dtype", 0);
  const to: DType = zp !== undefined
    ? zp.dtype as DType
    : outAttr
    ? dtypeFromOnnx(outAttr, "QuantizeLinear")
    : "u8";
  const range = RANGES[to];
  if (range === undefined) throw new DTypeError(`QuantizeLinear: output type ${to} unsupported.`);
  let q = M.round(B.div(V.astype(x, "f32"), V.astype(param(s, x.shape, axis, block), "f32")));
  if (zp !== undefined) q = B.add(q, V.astype(param(zp, x.shape, axis, block), "f32"));
  return [V.astype(A.clip(q, range[0], range[1]), to)];
}

function dequantize(inp: (T | undefined)[], ctx: OpContext): T[] {
  const x = need(inp, 0, ctx), s = need(inp, 1, ctx), zp = inp[2];
  const axis = s.size > 1 ? axisOf(attrNum(ctx, "axis", 1), x.ndim, ctx) : 0;
  const block = attrNum(ctx, "block_size", 0);
  let d = V.astype(x, "f32");
  if (zp !== undefined) d = B.sub(d, V.astype(param(zp, x.shape, axis, block), "f32"));
  const sc = param(s, x.shape, axis, block);
  const y = B.mul(d, V.astype(sc, "f32"));
  const outAttr = attrNum(ctx, "output_dtype", 0);
  const to = outAttr ? dtypeFromOnnx(outAttr, "DequantizeLinear") : s.dtype as DType;
  return [y.dtype === to ? y : V.astype(y, to)];
}

defineOps({
  QuantizeLinear: quantize,
  DequantizeLinear: dequantize,
  DynamicQuantizeLinear: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    const zero = scalarOf(x, 0);
    const lo = B.minimum(R.min(x), zero), hi = B.maximum(R.max(x), zero);
    const scale = B.div(B.sub(hi, lo), scalarOf(x, 255));
    const zpF = A.clip(M.round(B.sub(zero, B.div(lo, scale))), 0, 255);
    const y = A.clip(B.add(M.round(B.div(x, scale)), zpF), 0, 255);
    return [V.astype(y, "u8"), scale, V.astype(zpF, "u8")];
  },
  SwiGLU: (inp, ctx) => {
    const a = need(inp, 0, ctx), b = need(inp, 1, ctx);
    const alpha = attrNum(ctx, "alpha", 1);
    const gate = V.astype(A.sigmoid(B.mul(a, scalarOf(a, alpha))), a.dtype as DType);
    return [V.astype(B.mul(B.mul(a, gate), b), a.dtype as DType)];
  },
  CenterCropPad: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    const sizes = ints(need(inp, 1, ctx));
    const axes = attrNums(ctx, "axes", x.shape.map((_, i) => i)).map((a) => axisOf(a, x.ndim, ctx));
    let y = x;
    axes.forEach((a, k) => {
      const n = y.shape[a], want = sizes[k];
      if (want < n) {
        const start = Math.floor((n - want) / 2);
        y = V.slice(y, ...y.shape.map((_, i) => (i === a ? { start, stop: start + want } : null)));
      } else if (want > n) {
        const before = Math.floor((want - n) / 2);
        y = pad(y, y.shape.map((_, i) => (i === a ? [before, want - n - before] : [0, 0])));
      }
    });
    return [V.contiguous(y)];
  },
  Scatter: (inp, ctx) => {
    const x = need(inp, 0, ctx), idx = need(inp, 1, ctx), src = need(inp, 2, ctx);
    const a = axisOf(attrNum(ctx, "axis", 0), x.ndim, ctx);
    return [scatter(x, a, idx, src)];
  },
});
