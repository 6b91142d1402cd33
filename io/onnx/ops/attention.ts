/**
 * ONNX `Attention` (opset 23+) and `RMSNormalization`, `RotaryEmbedding`: composed from our
 * matmul, softmax and elementwise ops, following the operator spec's function body.
 *
 * @module
 */
import type { DType } from "../../../core/dtype.ts";
import { ShapeError } from "../../../core/errors.ts";
import * as B from "../../../core/ops/arithmetic.ts";
import * as C from "../../../core/ops/compare.ts";
import { arange, full } from "../../../core/ops/creation.ts";
import { take, where } from "../../../core/ops/indexing.ts";
import { concat, pad, repeat, stack } from "../../../core/ops/join.ts";
import { matmul } from "../../../core/ops/matmul.ts";
import * as M from "../../../core/ops/math.ts";
import * as R from "../../../core/ops/reduce.ts";
import * as V from "../../../core/ops/view.ts";
import type { Tensor } from "../../../core/tensor.ts";
import { dtypeFromOnnx } from "../tensor_proto.ts";
import { attrNum, axisOf, defineOps, need, type OpContext, scalarOf } from "./registry.ts";

type T = Tensor;

function heads(x: T, n: number): T {
  const [b, s, h] = x.shape;
  return V.permute(V.reshape(x, [b, s, n, h / n]), [0, 2, 1, 3]);
}

/**
 * `(query i + offset) - key j` over (q, kv), or (batch, 1, q, kv) when `offset` is a per-batch
 * tensor (the external-cache case).
 */
function diagDiff(q: number, kv: number, offset: number | T): T {
  const i = V.reshape(arange(0, q, 1, { dtype: "i64" }), [q, 1]);
  const j = V.reshape(arange(0, kv, 1, { dtype: "i64" }), [1, kv]);
  if (typeof offset === "number") return B.sub(B.add(i, full([], offset, { dtype: "i64" })), j);
  const o = V.reshape(V.astype(offset, "i64"), [-1, 1, 1, 1]);
  return B.sub(B.add(i, o), j);
}

function biasWhere(ok: T, d: DType): T {
  return where(ok, full([], 0, { dtype: d }), full([], -Infinity, { dtype: d }));
}

function attention(inp: (T | undefined)[], ctx: OpContext): T[] {
  let q = need(inp, 0, ctx), k = need(inp, 1, ctx), v = need(inp, 2, ctx);
  const d = q.dtype as DType;
  const rank3 = q.ndim === 3;
  if (rank3) {
    const qh = attrNum(ctx, "q_num_heads"), kvh = attrNum(ctx, "kv_num_heads");
    if (qh === undefined || kvh === undefined) {
      throw new ShapeError(
        `Attention "${ctx.node.name}": 3-D inputs need q_num_heads and kv_num_heads.`,
      );
    }
    q = heads(q, qh);
    k = heads(k, kvh);
    v = heads(v, kvh);
  }
  const pastK = inp[4], pastV = inp[5], nonpad = inp[6];
  if (pastK !== undefined) k = concat([pastK, k], 2);
  if (pastV !== undefined) v = concat([pastV, v], 2);
  const presentK = k, presentV = v;
  const qs = q.shape[2], kvs = k.shape[2];
  let scale = attrNum(ctx, "scale") ?? 1 / Math.sqrt(q.shape[3]);
  scale = Math.fround(Math.sqrt(scale));
  let bias: T = full([qs, kvs], 0, { dtype: d });
  let mask = inp[3];
  const ninf = scalarOf(q, -Infinity), zero = scalarOf(q, 0);
  if (mask !== undefined && mask.shape[mask.ndim - 1] < kvs) {
    const widths = mask.shape.map((
      _,
      i,
    ) => (i === mask!.ndim - 1 ? [0, kvs - mask!.shape[i]] : [0, 0]));
    mask = pad(mask, widths, { value: mask.dtype === "bool" ? false : -Infinity });
  }
  if (mask !== undefined && mask.dtype === "bool") mask = where(mask, zero, ninf);
  const offset: number | T = pastK === undefined && nonpad !== undefined
    ? B.sub(V.astype(nonpad, "i64"), full([], qs, { dtype: "i64" }))
    : pastK?.shape[2] ?? 0;
  if (attrNum(ctx, "is_causal", 0) === 1) {
    const base = mask ?? full([qs, kvs], 0, { dtype: d });
    bias = B.add(base, biasWhere(C.ge(diagDiff(qs, kvs, offset), 0), d));
  } else if (mask !== undefined) bias = B.add(bias, mask);
  const left = attrNum(ctx, "left_window_size", -1), right = attrNum(ctx, "right_window_size", -1);
  if (left >= 0 || right >= 0) {
    const diff = diagDiff(qs, kvs, offset);
    let ok = C.ge(diff, diff); // all true
    if (left >= 0) ok = C.logicalAnd(ok, C.le(diff, left));
    if (right >= 0) ok = C.logicalAnd(ok, C.le(B.neg(diff), right));
    bias = B.add(bias, biasWhere(ok, d));
  }
  if (nonpad !== undefined) {
    const j = V.reshape(arange(0, kvs, 1, { dtype: "i64" }), [1, kvs]);
    const ok = C.lt(j, V.reshape(V.astype(nonpad, "i64"), [-1, 1]));
    bias = B.add(bias, V.reshape(biasWhere(ok, d), [-1, 1, 1, kvs]));
  }
  const qh = q.shape[1], kh = k.shape[1];
  if (qh !== kh && qh % kh === 0) {
    k = repeat(k, qh / kh, 1);
    v = repeat(v, qh / kh, 1);
  }
  const sc = scalarOf(q, scale);
  let qk = matmul(B.mul(q, sc), V.transpose(B.mul(k, sc), [0, 1, 3, 2]));
  const softcap = attrNum(ctx, "softcap", 0);
  if (softcap > 0) qk = B.mul(M.tanh(B.div(qk, scalarOf(qk, softcap))), scalarOf(qk, softcap));
  const mode = attrNum(ctx, "qk_matmul_output_mode", 0);
  let qkOut = qk;
  let withBias = B.add(qk, bias);
  if (mode === 2) qkOut = withBias;
  const prec = attrNum(ctx, "softmax_precision");
  if (prec !== undefined) withBias = V.astype(withBias, dtypeFromOnnx(prec, "Attention"));
  const allMasked = M.isinf(R.max(bias, -1, true));
  let p = R.softmax(withBias, -1);
  p = where(C.logicalAnd(allMasked, C.lt(R.max(bias, -1, true), 0)), scalarOf(p, 0), p);
  if (mode === 3) qkOut = p;
  p = p.dtype === d ? p : V.astype(p, d);
  let y = matmul(p, v);
  if (rank3) {
    const [b, , s] = y.shape;
    y = V.reshape(V.contiguous(V.permute(y, [0, 2, 1, 3])), [b, s, -1]);
  }
  return [y, presentK, presentV, qkOut.dtype === d ? qkOut : V.astype(qkOut, d)];
}

function rotary(inp: (T | undefined)[], ctx: OpContext): T[] {
  const x0 = need(inp, 0, ctx);
  let cos = need(inp, 1, ctx), sin = need(inp, 2, ctx);
  let x = x0.ndim === 4 ? V.permute(x0, [0, 2, 1, 3]) : x0; // (B, S, H, hd) or (B, S, hidden)
  if (x.ndim === 3) {
    const heads = attrNum(ctx, "num_heads", 0);
    if (!heads) {
      throw new ShapeError(`RotaryEmbedding "${ctx.node.name}": 3-D input needs num_heads.`);
    }
    x = V.reshape(V.contiguous(x), [x.shape[0], x.shape[1], heads, -1]);
  }
  const hd = x.shape[3];
  const rd = attrNum(ctx, "rotary_embedding_dim", 0) || hd;
  const pos = inp[3];
  if (pos !== undefined) {
    cos = take(cos, pos, 0);
    sin = take(sin, pos, 0);
  }
  cos = V.unsqueeze(cos, 2);
  sin = V.unsqueeze(sin, 2);
  const rot = V.slice(x, null, null, null, { stop: rd });
  const keep = V.slice(x, null, null, null, { start: rd });
  const inter = attrNum(ctx, "interleaved", 0) === 1;
  const x1 = inter
    ? V.slice(rot, null, null, null, { step: 2 })
    : V.slice(rot, null, null, null, { stop: rd / 2 });
  const x2 = inter
    ? V.slice(rot, null, null, null, { start: 1, step: 2 })
    : V.slice(rot, null, null, null, { start: rd / 2 });
  const real = B.sub(B.mul(cos, x1), B.mul(sin, x2));
  const imag = B.add(B.mul(sin, x1), B.mul(cos, x2));
  const rotated = inter ? V.reshape(stack([real, imag], -1), rot.shape) : concat([real, imag], -1);
  let y = concat([rotated, keep], -1);
  y = x0.ndim === 3 ? V.reshape(y, x0.shape) : V.contiguous(V.permute(y, [0, 2, 1, 3]));
  return [y.dtype === x0.dtype ? y : V.astype(y, x0.dtype as DType)];
}

defineOps({
  RotaryEmbedding: rotary,
  Attention: attention,
  RMSNormalization: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    const a = axisOf(attrNum(ctx, "axis", -1), x.ndim, ctx);
    const eps = attrNum(ctx, "epsilon", 1e-5);
    const axes = x.shape.slice(a).map((_, i) => i + a);
    const xf = x.dtype === "f32" || x.dtype === "f64" ? x : V.astype(x, "f32");
    const ms = R.mean(B.mul(xf, xf), axes, true);
    const y = B.mul(xf, M.rsqrt(B.add(ms, scalarOf(ms, eps))));
    const out = B.mul(y.dtype === x.dtype ? y : V.astype(y, x.dtype as DType), need(inp, 1, ctx));
    return [out];
  },
});
