/**
 * Backward rules of elementwise ops, with PyTorch's conventions at the points where a function
 * is not differentiable (relu and abs at 0 give 0, hardswish at ±3, clip at its bounds, ties of
 * minimum/maximum split in half, pow at a zero base). Binary rules sum the gradient back over
 * broadcast axes (`sumToShape`). Every rule runs in a `tidy()` scope, so its intermediates are
 * freed and only the returned gradients survive.
 *
 * Not differentiable (no rule needed): comparisons, logical ops, isnan/isinf/isfinite give bool
 * results, which never carry a gradient. sign, round, floor, ceil and floorDiv have gradient 0
 * everywhere (PyTorch raises for floor_divide; zero is its derivative wherever one exists).
 *
 * @module
 */
import { type GradContext, registerGradient } from "../autograd.ts";
import { tidy } from "../memory.ts";
import { DeviceError } from "../errors.ts";
import { runKernel1 } from "../op.ts";
import type { Tensor } from "../tensor.ts";
import { zeros } from "../ops/creation.ts";
import {
  add,
  cos,
  cosh,
  div,
  eq,
  erf,
  exp,
  floorDiv,
  ge,
  gt,
  le,
  log,
  logicalAnd,
  lt,
  mul,
  neg,
  pow,
  rsqrt,
  sigmoid,
  sign,
  sin,
  sinh,
  softplus,
  square,
  sub,
  tanh,
} from "../ops/elementwise.ts";
import { where } from "../ops/indexing.ts";
import { sumToShape } from "./util.ts";

// ---- helpers ---------------------------------------------------------------------------------

/**
 * A binary rule from the two partials at the broadcast shape (g·∂y/∂a, g·∂y/∂b), each summed
 * back to its operand's shape; a partial is only computed for an input that needs it.
 */
function binary(
  name: string,
  partials: {
    a?: (g: Tensor, ctx: GradContext) => Tensor;
    b?: (g: Tensor, ctx: GradContext) => Tensor;
  },
): void {
  registerGradient(name, ([g], ctx) =>
    tidy(() => {
      const [a, b] = ctx.inputs;
      // The gradient of a mixed-dtype op (f32 + f64) takes each operand's dtype, as in PyTorch.
      const back = (p: Tensor, x: Tensor) => {
        const s = sumToShape(p, x.shape);
        return s.dtype === x.dtype ? s : s.astype(x.dtype);
      };
      return [
        ctx.needs[0] && partials.a ? back(partials.a(g!, ctx), a) : null,
        ctx.needs[1] && partials.b ? back(partials.b(g!, ctx), b) : null,
      ];
    }));
}

/** A unary rule: the input's gradient from the output's gradient `g`, input `x` and output `y`. */
function unary(
  name: string,
  // deno-lint-ignore no-explicit-any
  rule: (g: Tensor, x: Tensor, y: Tensor, attrs: any) => Tensor,
): void {
  registerGradient(name, ([g], { inputs: [x], outputs: [y], attrs }) => [
    tidy(() => rule(g!, x, y, attrs)),
  ]);
}

/** The zero gradient (ops that are piecewise constant). */
function zeroRule(name: string, arity: 1 | 2): void {
  registerGradient(
    name,
    ([g], { inputs, needs }) =>
      inputs.slice(0, arity).map((x, i) =>
        needs[i] ? zeros(x.shape, { dtype: g!.dtype, device: g!.device }) : null
      ),
  );
}

// ---- arithmetic --------------------------------------------------------------------------------

// (g itself: `back` hands each input a new view of it, with no copy.)
binary("add", { a: (g) => g, b: (g) => g });
binary("sub", { a: (g) => g, b: (g) => neg(g) });
binary("mul", { a: (g, { inputs: [, b] }) => mul(g, b), b: (g, { inputs: [a] }) => mul(g, a) });
binary("div", {
  a: (g, { inputs: [, b] }) => div(g, b),
  // d(a/b)/db = -a/b² = -y/b
  b: (g, { inputs: [, b], outputs: [y] }) => neg(mul(g, div(y, b))),
});

/**
 * pow (PyTorch's pow_backward): ∂/∂a = b·a^(b-1), 0 where b = 0 (so 0^0 gives 0, not NaN);
 * ∂/∂b = y·log(a), 0 where a = 0 and b ≥ 0 (the one-sided limit), NaN for a negative base.
 */
binary("pow", {
  a: (g, { inputs: [a, b] }) => where(eq(b, 0), 0, mul(g, mul(b, pow(a, sub(b, 1))))),
  b: (g, { inputs: [a, b], outputs: [y] }) =>
    mul(g, where(logicalAnd(ge(b, 0), eq(a, 0)), 0, mul(y, log(a)))),
});

/** Remainder a - b·floor(a/b): ∂/∂a = 1, ∂/∂b = -floor(a/b) (PyTorch's remainder rule). */
binary("mod", {
  a: (g) => g.clone(),
  b: (g, { inputs: [a, b] }) => neg(mul(g, floorDiv(a, b))),
});
zeroRule("floorDiv", 2);

/**
 * atan2(a, b): ∂/∂a = b/(a²+b²), ∂/∂b = -a/(a²+b²); 0 where a² + b² is 0 (the origin, or
 * an underflow), as in PyTorch.
 */
function atan2Partial(g: Tensor, num: Tensor, a: Tensor, b: Tensor): Tensor {
  const r2 = add(square(a), square(b));
  return where(eq(r2, 0), 0, mul(g, div(num, r2)));
}
binary("atan2", {
  a: (g, { inputs: [a, b] }) => atan2Partial(g, b, a, b),
  b: (g, { inputs: [a, b] }) => atan2Partial(g, neg(a), a, b),
});

/** logaddexp (PyTorch's rule): ∂/∂a = 1/(1 + e^(b−a)), ∂/∂b = 1/(1 + e^(a−b)). */
binary("logaddexp", {
  a: (g, { inputs: [a, b] }) => div(g, add(exp(sub(b, a)), 1)),
  b: (g, { inputs: [a, b] }) => div(g, add(exp(sub(a, b)), 1)),
});

/**
 * maximum/minimum: the gradient goes to the operand that was picked, split in half on ties
 * (PyTorch); a NaN in either operand sends the full gradient to both.
 */
function pick(g: Tensor, a: Tensor, b: Tensor, loses: (a: Tensor, b: Tensor) => Tensor): Tensor {
  return where(loses(a, b), 0, where(eq(a, b), div(g, 2), g));
}
binary("maximum", {
  a: (g, { inputs: [a, b] }) => pick(g, a, b, lt),
  b: (g, { inputs: [a, b] }) => pick(g, a, b, gt),
});
binary("minimum", {
  a: (g, { inputs: [a, b] }) => pick(g, a, b, gt),
  b: (g, { inputs: [a, b] }) => pick(g, a, b, lt),
});

// ---- sign and magnitude ----------------------------------------------------------------------

unary("neg", (g) => neg(g));
unary("square", (g, x) => mul(g, mul(x, 2)));
/** |x|' = sign(x): 0 at 0 (PyTorch's subgradient). */
unary("abs", (g, x) => mul(g, sign(x)));
zeroRule("sign", 1);
zeroRule("round", 1);
zeroRule("floor", 1);
zeroRule("ceil", 1);

// ---- exponentials and logarithms -------------------------------------------------------------

unary("exp", (g, _x, y) => mul(g, y));
unary("expm1", (g, _x, y) => mul(g, add(y, 1)));
unary("log", (g, x) => div(g, x));
unary("log1p", (g, x) => div(g, add(x, 1)));
unary("log2", (g, x) => div(g, mul(x, Math.LN2)));
unary("sqrt", (g, _x, y) => div(g, mul(y, 2)));
/** d x^(-1/2) = -y³/2. */
unary("rsqrt", (g, _x, y) => mul(mul(g, -0.5), mul(y, square(y))));

// ---- trigonometric and hyperbolic ------------------------------------------------------------

unary("sin", (g, x) => mul(g, cos(x)));
unary("cos", (g, x) => mul(g, neg(sin(x))));
unary("tan", (g, _x, y) => mul(g, add(square(y), 1)));
unary("asin", (g, x) => mul(g, rsqrt(sub(1, square(x)))));
unary("acos", (g, x) => neg(mul(g, rsqrt(sub(1, square(x))))));
unary("atan", (g, x) => div(g, add(square(x), 1)));
unary("sinh", (g, x) => mul(g, cosh(x)));
unary("cosh", (g, x) => mul(g, sinh(x)));
unary("tanh", (g, _x, y) => mul(g, sub(1, square(y))));
/** erf' = 2/√π · e^(-x²). */
unary("erf", (g, x) => mul(g, mul(exp(neg(square(x))), 2 / Math.sqrt(Math.PI))));

// ---- activations -----------------------------------------------------------------------------

unary("sigmoid", (g, _x, y) => mul(g, mul(y, sub(1, y))));
/**
 * relu' is 0 at 0 (PyTorch: threshold_backward on the output): the `reluBackward` kernel,
 * `y > 0 ? g : 0` in one pass (the composed where(gt(y, 0), g, 0) on a device without it).
 */
unary("relu", (g, _x, y) => reluBackward(y, g, {}) ?? where(gt(y, 0), g, 0));
/** leakyRelu' at 0 is the negative slope (PyTorch: x > 0 picks 1): `x > 0 ? g : g·slope`. */
unary(
  "leakyRelu",
  (g, x, _y, { negativeSlope }) =>
    reluBackward(x, g, { negativeSlope }) ?? where(gt(x, 0), g, mul(g, negativeSlope)),
);

/** The `reluBackward` kernel on (x, g) in g's dtype; null on a device whose plugins lack it. */
function reluBackward(x: Tensor, g: Tensor, attrs: { negativeSlope?: number }): Tensor | null {
  if (!x.shape.every((d, i) => d === g.shape[i]) || x.ndim !== g.ndim) return null;
  try {
    return runKernel1("reluBackward", [x, g], attrs, {
      shape: g.shape,
      dtype: g.dtype,
      overwritten: true,
    });
  } catch (e) {
    if (e instanceof DeviceError && g.device !== "cpu") return null;
    throw e;
  }
}
/** elu' = α·eˣ for x ≤ 0 (PyTorch's elu_backward on the input), 1 above. */
unary("elu", (g, x, _y, { alpha }) => where(le(x, 0), mul(g, mul(exp(x), alpha)), g));

const SELU_SCALE = 1.0507009873554804934193349852946;
const SELU_ALPHA = 1.6732632423543772848170429916717;
unary(
  "selu",
  (g, x) => where(le(x, 0), mul(g, mul(exp(x), SELU_SCALE * SELU_ALPHA)), mul(g, SELU_SCALE)),
);

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_KAPPA = 0.044715;
unary("gelu", (g, x, _y, { approximate }) => {
  if (approximate === "tanh") {
    // y = x/2 · (1 + tanh(u)), u = √(2/π)(x + κx³)
    const x2 = square(x);
    const t = tanh(mul(add(x, mul(mul(x2, x), GELU_KAPPA)), SQRT_2_OVER_PI));
    const left = mul(add(t, 1), 0.5);
    const du = mul(add(mul(x2, 3 * GELU_KAPPA), 1), SQRT_2_OVER_PI);
    const right = mul(mul(mul(x, 0.5), sub(1, square(t))), du);
    return mul(g, add(left, right));
  }
  // y = x·Φ(x): y' = Φ(x) + x·φ(x)
  const cdf = mul(add(erf(mul(x, Math.SQRT1_2)), 1), 0.5);
  const pdf = mul(exp(mul(square(x), -0.5)), 1 / Math.sqrt(2 * Math.PI));
  return mul(g, add(cdf, mul(x, pdf)));
});
/** silu' = s·(1 + x(1 - s)), s = sigmoid(x). */
unary("silu", (g, x) => {
  const s = sigmoid(x);
  return mul(g, mul(s, add(mul(x, sub(1, s)), 1)));
});
/** mish = x·tanh(softplus(x)): mish' = t + x·sigmoid(x)·(1 - t²). */
unary("mish", (g, x) => {
  const t = tanh(softplus(x));
  return mul(g, add(t, mul(mul(x, sigmoid(x)), sub(1, square(t)))));
});
/** hardswish' = 0 for x ≤ -3, x/3 + 1/2 inside, 1 for x ≥ 3 (PyTorch's boundaries). */
unary("hardswish", (g, x) => where(le(x, -3), 0, where(ge(x, 3), g, mul(g, add(div(x, 3), 0.5)))));
/** softplus' = sigmoid(βx), and exactly 1 where βx > threshold (the linear region). */
unary("softplus", (g, x, _y, { beta, threshold }) => {
  const bx = mul(x, beta);
  const z = exp(bx);
  return where(gt(bx, threshold), g, mul(g, div(z, add(z, 1))));
});
/** clip passes the gradient where min ≤ x ≤ max (both bounds inclusive, as in PyTorch). */
unary("clip", (g, x, _y, { min, max }) => where(logicalAnd(ge(x, min), le(x, max)), g, 0));
