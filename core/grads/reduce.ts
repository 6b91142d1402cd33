/**
 * Backward rules of reductions, scans and the softmax family, following PyTorch's formulas and
 * its conventions where a function is not differentiable:
 *
 * - min/max (any axes, keepdims or not): the gradient is split evenly among the elements equal
 *   to the result, like `torch.amax`/`torch.amin` and the full `torch.max()`. Where the result is
 *   NaN it is split among the NaN elements (as the full `torch.max()` does; `torch.amax` along a
 *   dim gives NaN gradients to that whole slice instead).
 * - prod: the product of the other elements, exact with zeros (one zero: only that element gets
 *   a gradient; two or more: all zero), like PyTorch's prod_backward.
 * - cumprod: exact with zeros (PyTorch's cumprod_backward).
 * - std: 0 where the standard deviation is 0. norm: 0 at the zero vector (every p), p = 0 has
 *   gradient 0, p = ±∞ splits evenly among the elements of largest (smallest) magnitude.
 *
 * The reduced axes come from the kernel's attrs (normalized, sorted); a gradient is broadcast
 * back with `unreduce`, which serves keepdims true and false alike. Rules run in `tidy()`.
 *
 * @module
 */
import { registerGradient } from "../autograd.ts";
import { tidy } from "../memory.ts";
import type { Tensor } from "../tensor.ts";
import { zeros } from "../ops/creation.ts";
import {
  abs,
  div,
  eq,
  exp,
  isnan,
  logicalAnd,
  logicalOr,
  mul,
  pow,
  sign,
  sub,
} from "../ops/elementwise.ts";
import { where } from "../ops/indexing.ts";
import { cumprod, cumsum, mean, prod, sum } from "../ops/reduce.ts";
import { flip, reshape } from "../ops/view.ts";
import { unreduce } from "./util.ts";

/** A reduction's rule: `rule(g, x, y, axes, attrs)` with `g` and `y` broadcast back to x's shape. */
function reduction(
  name: string,
  // deno-lint-ignore no-explicit-any
  rule: (g: Tensor, x: Tensor, y: Tensor, axes: number[], attrs: any) => Tensor,
): void {
  registerGradient(name, ([g], { inputs: [x], outputs: [y], attrs }) => [
    tidy(() => {
      const axes = attrs.axes as number[];
      return rule(unreduce(g!, x.shape, axes), x, unreduce(y, x.shape, axes), axes, attrs);
    }),
  ]);
}

/** Number of elements reduced into each output element. */
const count = (x: Tensor, axes: number[]) => axes.reduce((n, a) => n * x.shape[a], 1);

registerGradient("sum", ([g], { inputs: [x], attrs }) => [
  tidy(() => unreduce(g!, x.shape, attrs.axes as number[]).contiguous()),
]);
registerGradient("mean", ([g], { inputs: [x], attrs }) => [
  tidy(() => {
    const axes = attrs.axes as number[];
    return div(unreduce(g!, x.shape, axes), count(x, axes));
  }),
]);

/** var: 2(x - mean)/(N - ddof). */
function varGrad(g: Tensor, x: Tensor, axes: number[], ddof: number): Tensor {
  const centered = sub(x, mean(x, axes, true));
  return mul(g, mul(centered, 2 / (count(x, axes) - ddof)));
}
reduction("var", (g, x, _y, axes, { ddof }) => varGrad(g, x, axes, ddof));
/** std = √var: the var gradient times 1/(2·std), and 0 where std = 0 (PyTorch). */
reduction(
  "std",
  (g, x, y, axes, { ddof }) => varGrad(where(eq(y, 0), 0, div(g, mul(y, 2))), x, axes, ddof),
);

/** The elements equal to the result (or NaN where the result is NaN) share its gradient. */
function evenly(g: Tensor, x: Tensor, y: Tensor, axes: number[]): Tensor {
  const mask = logicalOr(eq(x, y), logicalAnd(isnan(x), isnan(y)));
  const n = sum(mask, axes, true).astype(g.dtype);
  return where(mask, div(g, n), 0);
}
reduction("max", (g, x, y, axes) => evenly(g, x, y, axes));
reduction("min", (g, x, y, axes) => evenly(g, x, y, axes));

/**
 * prod: y/x where the slice has no zero (PyTorch's formula); with one zero, the product of the
 * other elements goes to the zero and 0 elsewhere; with several zeros, 0 everywhere.
 */
reduction("prod", (g, x, y, axes) => {
  const isZero = eq(x, 0);
  const zerosInSlice = sum(isZero, axes, true);
  const others = prod(where(isZero, 1, x), axes, true);
  const withZero = where(logicalAnd(eq(zerosInSlice, 1), isZero), others, 0);
  return mul(g, where(eq(zerosInSlice, 0), div(y, x), withZero));
});

/** logsumexp: softmax of x over the reduced axes. */
reduction("logsumexp", (g, x, y) => mul(g, exp(sub(x, y))));

/** Vector p-norms (PyTorch's norm_backward); matrix norms are composed of these and max/min. */
reduction("norm", (g, x, y, axes, { ord }) => {
  const p = ord as number;
  const notZero = (t: Tensor) => where(eq(y, 0), 0, t);
  if (p === 0) return zeros(x.shape, { dtype: g.dtype, device: g.device });
  if (p === 1) return mul(g, sign(x));
  if (p === 2) return mul(g, notZero(div(x, y)));
  if (!Number.isFinite(p)) {
    const ax = abs(x);
    const mask = logicalOr(eq(ax, y), isnan(ax));
    return mul(sign(x), where(mask, div(g, sum(mask, axes, true).astype(g.dtype)), 0));
  }
  if (p < 1) {
    const scaled = mul(sign(x), where(eq(x, 0), 0, pow(abs(x), p - 1)));
    return mul(mul(scaled, g), pow(y, 1 - p));
  }
  const scaled = p < 2 ? mul(sign(x), pow(abs(x), p - 1)) : mul(x, pow(abs(x), p - 2));
  return mul(scaled, notZero(div(g, pow(y, p - 1))));
});

// ---- scans -----------------------------------------------------------------------------------

/** Σ_{j ≥ i} t_j along `axis`. */
function reverseCumsum(t: Tensor, axis: number): Tensor {
  return flip(cumsum(flip(t, axis), axis), axis);
}

/** A scan's rule on the scanned view: axis null scans the flattened input. */
function scan(name: string, rule: (g: Tensor, x: Tensor, y: Tensor, axis: number) => Tensor) {
  registerGradient(name, ([g], { inputs: [x], outputs: [y], attrs }) => [
    tidy(() => {
      const axis = attrs.axis as number | null;
      if (axis !== null) return rule(g!, x, y, axis).contiguous();
      return reshape(rule(g!, reshape(x, [x.size]), y, 0), x.shape).contiguous();
    }),
  ]);
}

scan("cumsum", (g, _x, _y, axis) => reverseCumsum(g, axis));

/**
 * cumprod: before the first zero of a line, Σ_{j≥i} g_j·y_j / x_i; at the first zero, the same
 * sum with that zero replaced by 1 (the products of the other elements); after it, 0.
 */
scan("cumprod", (g, x, y, axis) => {
  const isZero = eq(x, 0);
  const zerosSoFar = cumsum(isZero, axis);
  const before = eq(zerosSoFar, 0);
  const first = logicalAnd(isZero, eq(zerosSoFar, 1));
  const beforeGrad = div(reverseCumsum(mul(g, y), axis), x);
  const firstGrad = reverseCumsum(mul(g, cumprod(where(first, 1, x), axis)), axis);
  return where(before, beforeGrad, where(first, firstGrad, 0));
});

// ---- softmax family --------------------------------------------------------------------------

/** softmax: y·(g - Σ g·y). */
registerGradient("softmax", ([g], { outputs: [y], attrs }) => [
  tidy(() => mul(y, sub(g!, sum(mul(g!, y), attrs.axis as number, true)))),
]);
/** logSoftmax: g - exp(y)·Σ g. */
registerGradient("logSoftmax", ([g], { outputs: [y], attrs }) => [
  tidy(() => sub(g!, mul(exp(y), sum(g!, attrs.axis as number, true)))),
]);
