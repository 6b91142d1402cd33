/**
 * ONNX elementwise operators (unary, binary with broadcasting, variadic, comparisons, logic,
 * activations, Cast, Where) on our ops.
 *
 * @module
 */
import { type DType, isFloat, isInt } from "../../../core/dtype.ts";
import * as A from "../../../core/ops/activation.ts";
import * as B from "../../../core/ops/arithmetic.ts";
import * as C from "../../../core/ops/compare.ts";
import { where } from "../../../core/ops/indexing.ts";
import * as M from "../../../core/ops/math.ts";
import { astype, clone, contiguous } from "../../../core/ops/view.ts";
import type { Tensor } from "../../../core/tensor.ts";
import { dtypeFromOnnx } from "../tensor_proto.ts";
import { attrNum, attrStr, defineOps, floats, need, type OpFn, scalarOf } from "./registry.ts";

type T = Tensor;

/** Keep the first operand's dtype (ONNX ops never promote). */
function same(x: T, y: T): T {
  return y.dtype === x.dtype ? y : astype(y, x.dtype as DType);
}

function unary(f: (x: T) => T): OpFn {
  return (inp, ctx) => {
    const x = need(inp, 0, ctx);
    return [same(x, f(x))];
  };
}

function binary(f: (a: T, b: T) => T, keepType = true): OpFn {
  return (inp, ctx) => {
    const a = need(inp, 0, ctx), b = need(inp, 1, ctx);
    const r = f(a, b);
    return [keepType ? same(a, r) : r];
  };
}

function variadic(f: (a: T, b: T) => T, post?: (acc: T, n: number) => T): OpFn {
  return (inp, ctx) => {
    let acc = need(inp, 0, ctx);
    for (let i = 1; i < inp.length; i++) acc = f(acc, need(inp, i, ctx));
    if (post) acc = post(acc, inp.length);
    return [inp.length === 1 && !post ? clone(acc) : acc];
  };
}

function trunc(x: T): T {
  return B.mul(B.sign(x), M.floor(B.abs(x)));
}

/** Integer division truncates toward zero in ONNX (C semantics). */
function divide(a: T, b: T): T {
  if (isInt(a.dtype as DType)) return astype(trunc(B.div(a, b)), a.dtype as DType);
  return B.div(a, b);
}

/** Bit widths of the signed integer dtypes BitShift takes (opset 28). */
const SIGNED_WIDTH: Record<string, number> = { i8: 8, i16: 16, i32: 32, i64: 64 };

function scalarLike(x: T, v: number): T {
  return scalarOf(x, v);
}

function clipBound(x: T, t: T | undefined, attr: number | undefined): T | null {
  if (t !== undefined) return t;
  if (attr !== undefined) return scalarLike(x, attr);
  return null;
}

defineOps({
  Identity: (inp, ctx) => [need(inp, 0, ctx)], // the session hands back a view
  Abs: unary(B.abs),
  Neg: unary(B.neg),
  Sign: unary(B.sign),
  Ceil: unary(M.ceil),
  Floor: unary(M.floor),
  Round: unary(M.round),
  Exp: unary(M.exp),
  Log: unary(M.log),
  Sqrt: unary(M.sqrt),
  Sin: unary(M.sin),
  Cos: unary(M.cos),
  Tan: unary(M.tan),
  Asin: unary(M.asin),
  Acos: unary(M.acos),
  Atan: unary(M.atan),
  Sinh: unary(M.sinh),
  Cosh: unary(M.cosh),
  Asinh: unary((x) => M.log(B.add(x, M.sqrt(B.add(B.mul(x, x), scalarLike(x, 1)))))),
  Acosh: unary((x) => M.log(B.add(x, M.sqrt(B.sub(B.mul(x, x), scalarLike(x, 1)))))),
  Atanh: unary((x) =>
    B.mul(
      M.log(B.div(B.add(scalarLike(x, 1), x), B.sub(scalarLike(x, 1), x))),
      scalarLike(x, 0.5),
    )
  ),
  Tanh: unary(M.tanh),
  Erf: unary(M.erf),
  Reciprocal: unary((x) => B.div(scalarLike(x, 1), x)),
  Sigmoid: unary(A.sigmoid),
  Relu: unary(A.relu),
  Softplus: unary((x) => A.softplus(x, 1, Infinity)),
  Softsign: unary((x) => B.div(x, B.add(B.abs(x), scalarLike(x, 1)))),
  Mish: unary(A.mish),
  HardSwish: unary(A.hardswish),
  IsNaN: (inp, ctx) => [M.isnan(need(inp, 0, ctx))],
  IsInf: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    const pos = attrNum(ctx, "detect_positive", 1), neg = attrNum(ctx, "detect_negative", 1);
    const inf = M.isinf(x);
    if (pos && neg) return [inf];
    if (!pos && !neg) return [C.logicalAnd(inf, C.logicalNot(inf))];
    return [C.logicalAnd(inf, pos ? C.gt(x, scalarLike(x, 0)) : C.lt(x, scalarLike(x, 0)))];
  },
  Not: (inp, ctx) => [C.logicalNot(need(inp, 0, ctx))],
  LeakyRelu: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    return [same(x, A.leakyRelu(x, attrNum(ctx, "alpha", 0.01)))];
  },
  Elu: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    return [same(x, A.elu(x, attrNum(ctx, "alpha", 1)))];
  },
  Celu: (inp, ctx) => {
    const x = need(inp, 0, ctx), a = attrNum(ctx, "alpha", 1);
    const neg = B.mul(M.expm1(B.div(x, scalarLike(x, a))), scalarLike(x, a));
    return [B.add(A.relu(x), B.minimum(scalarLike(x, 0), neg))];
  },
  Selu: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    const alpha = attrNum(ctx, "alpha", 1.67326319217681884765625);
    const gamma = attrNum(ctx, "gamma", 1.05070102214813232421875);
    const neg = B.mul(M.expm1(x), scalarLike(x, alpha));
    return [B.mul(where(C.gt(x, scalarLike(x, 0)), x, neg), scalarLike(x, gamma))];
  },
  ThresholdedRelu: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    const a = attrNum(ctx, "alpha", 1);
    return [where(C.gt(x, scalarLike(x, a)), x, scalarLike(x, 0))];
  },
  HardSigmoid: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    const a = attrNum(ctx, "alpha", 0.2), b = attrNum(ctx, "beta", 0.5);
    return [same(x, A.clip(B.add(B.mul(x, scalarLike(x, a)), scalarLike(x, b)), 0, 1))];
  },
  Gelu: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    return [same(x, A.gelu(x, attrStr(ctx, "approximate", "none") === "tanh" ? "tanh" : "none"))];
  },
  PRelu: (inp, ctx) => {
    const x = need(inp, 0, ctx), s = need(inp, 1, ctx);
    return [where(C.lt(x, scalarLike(x, 0)), B.mul(x, s), x)];
  },
  Clip: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    const lo = clipBound(x, inp[1], ctx.opset < 11 ? attrNum(ctx, "min") : undefined);
    const hi = clipBound(x, inp[2], ctx.opset < 11 ? attrNum(ctx, "max") : undefined);
    let y = x;
    if (lo !== null) y = B.maximum(y, lo);
    if (hi !== null) y = B.minimum(y, hi);
    return [y === x ? clone(x) : same(x, y)];
  },
  Add: binary(B.add),
  Sub: binary(B.sub),
  Mul: binary(B.mul),
  Div: binary(divide),
  Pow: (inp, ctx) => {
    const a = need(inp, 0, ctx), b = need(inp, 1, ctx);
    // A squared spectrum (x^2 with a constant exponent): one multiply, the same rounding.
    const sq = b.size === 1 && b.ndim <= a.ndim && b.device === "cpu" && isFloat(a.dtype as DType);
    if (sq && floats(b)[0] === 2) {
      return [B.mul(a, a)];
    }
    return binary(B.pow)(inp, ctx);
  },
  Mod: (inp, ctx) => {
    const a = need(inp, 0, ctx), b = need(inp, 1, ctx);
    if (attrNum(ctx, "fmod", 0)) return [same(a, B.sub(a, B.mul(trunc(B.div(a, b)), b)))];
    return [same(a, B.mod(a, b))];
  },
  BitShift: (inp, ctx) => {
    const a = need(inp, 0, ctx), b = need(inp, 1, ctx);
    const left = attrStr(ctx, "direction", "LEFT") === "LEFT";
    const width = SIGNED_WIDTH[a.dtype];
    if (width === undefined) {
      const f = B.pow(scalarLike(a, 2), b);
      return [same(a, left ? B.mul(a, f) : M.floor(B.div(a, f)))];
    }
    // Signed (opset 28): a negative shift counts as a shift past the width; a left shift past it
    // is 0, a right shift past it fills with the sign (arithmetic), as onnxruntime does.
    const past = C.logicalOr(
      C.lt(b, scalarLike(b, 0)),
      C.ge(b, scalarLike(b, left ? width : width - 1)),
    );
    const inRange = where(past, scalarLike(b, 0), b);
    const f = B.pow(scalarLike(a, 2), inRange);
    if (left) return [same(a, where(past, scalarLike(a, 0), B.mul(a, f)))];
    const sign = where(C.lt(a, scalarLike(a, 0)), scalarLike(a, -1), scalarLike(a, 0));
    return [same(a, where(past, sign, M.floor(B.div(a, f))))];
  },
  Equal: binary(C.eq, false),
  Greater: binary(C.gt, false),
  GreaterOrEqual: binary(C.ge, false),
  Less: binary(C.lt, false),
  LessOrEqual: binary(C.le, false),
  And: binary(C.logicalAnd, false),
  Or: binary(C.logicalOr, false),
  Xor: binary(C.logicalXor, false),
  Sum: variadic(B.add),
  Max: variadic(B.maximum),
  Min: variadic(B.minimum),
  Mean: variadic(B.add, (acc, n) => B.div(acc, scalarLike(acc, n))),
  Where: (inp, ctx) => {
    const x = need(inp, 1, ctx);
    return [same(x, where(need(inp, 0, ctx), x, need(inp, 2, ctx)))];
  },
  Cast: (inp, ctx) => {
    const x = need(inp, 0, ctx);
    const to = dtypeFromOnnx(attrNum(ctx, "to", 0), `Cast "${ctx.node.name}"`);
    return [castTo(x, to)];
  },
  CastLike: (inp, ctx) => [castTo(need(inp, 0, ctx), need(inp, 1, ctx).dtype as DType)],
});

/** ONNX Cast: float → int truncates; NaN → bool is true. */
function castTo(x: T, to: DType): T {
  if (x.dtype === to) return contiguous(x); // a view where it can be (outputs are immutable)
  if (to === "bool" && isFloat(x.dtype as DType)) return C.ne(x, scalarLike(x, 0));
  return astype(x, to);
}
