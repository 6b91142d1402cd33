/**
 * Elementwise math functions: exponentials and logarithms, roots, trigonometric and hyperbolic
 * functions, erf; rounding (round, floor, ceil) and classification (isnan, isinf, isfinite).
 *
 * @module
 */
import type { Tensor, TensorLike } from "../tensor.ts";
import { unary } from "./elementwise_rules.ts";

/**
 * `e^x`. Like every float-valued op, integer input gives NumPy's float for it (bool and 8-bit →
 * f16, 16-bit → f32, wider → f64; see {@link floatResult}).
 *
 * @example
 * ```ts
 * import { exp, tensor } from "@aprender/compute";
 * console.log(exp(tensor([0, 1], { dtype: "f64" })).toArraySync()); // [1, 2.718281828459045]
 * ```
 */
export function exp(x: TensorLike): Tensor {
  return unary("exp", x);
}

/**
 * `e^x - 1`, accurate for small `x`.
 *
 * @example
 * ```ts
 * import { expm1, tensor } from "@aprender/compute";
 * console.log(expm1(tensor([1e-10], { dtype: "f64" })).toArraySync()); // [1.00000000005e-10]
 * ```
 */
export function expm1(x: TensorLike): Tensor {
  return unary("expm1", x);
}

/**
 * Natural logarithm (NaN below 0, -Infinity at 0).
 *
 * @example
 * ```ts
 * import { log, tensor } from "@aprender/compute";
 * console.log(log(tensor([1, 0])).toArraySync()); // [0, -Infinity]
 * ```
 */
export function log(x: TensorLike): Tensor {
  return unary("log", x);
}

/**
 * `log(1 + x)`, accurate for small `x`.
 *
 * @example
 * ```ts
 * import { log1p, tensor } from "@aprender/compute";
 * console.log(log1p(tensor([0, 1e-10], { dtype: "f64" })).toArraySync()); // [0, 9.999999999500001e-11]
 * ```
 */
export function log1p(x: TensorLike): Tensor {
  return unary("log1p", x);
}

/**
 * Base-2 logarithm.
 *
 * @example
 * ```ts
 * import { log2, tensor } from "@aprender/compute";
 * console.log(log2(tensor([1, 8])).toArraySync()); // [0, 3]
 * ```
 */
export function log2(x: TensorLike): Tensor {
  return unary("log2", x);
}

/**
 * Square root (NaN below 0).
 *
 * @example
 * ```ts
 * import { sqrt, tensor } from "@aprender/compute";
 * console.log(sqrt(tensor([4, 9])).toArraySync()); // [2, 3]
 * ```
 */
export function sqrt(x: TensorLike): Tensor {
  return unary("sqrt", x);
}

/**
 * Reciprocal square root `1 / sqrt(x)`.
 *
 * @example
 * ```ts
 * import { rsqrt, tensor } from "@aprender/compute";
 * console.log(rsqrt(tensor([4, 0.25])).toArraySync()); // [0.5, 2]
 * ```
 */
export function rsqrt(x: TensorLike): Tensor {
  return unary("rsqrt", x);
}

/**
 * Sine (radians).
 *
 * @example
 * ```ts
 * import { sin, tensor } from "@aprender/compute";
 * console.log(sin(tensor([0])).toArraySync()); // [0]
 * ```
 */
export function sin(x: TensorLike): Tensor {
  return unary("sin", x);
}

/**
 * Cosine (radians).
 *
 * @example
 * ```ts
 * import { cos, tensor } from "@aprender/compute";
 * console.log(cos(tensor([0])).toArraySync()); // [1]
 * ```
 */
export function cos(x: TensorLike): Tensor {
  return unary("cos", x);
}

/**
 * Tangent (radians).
 *
 * @example
 * ```ts
 * import { tan, tensor } from "@aprender/compute";
 * console.log(tan(tensor([0])).toArraySync()); // [0]
 * ```
 */
export function tan(x: TensorLike): Tensor {
  return unary("tan", x);
}

/**
 * Inverse sine (NaN outside [-1, 1]).
 *
 * @example
 * ```ts
 * import { asin, tensor } from "@aprender/compute";
 * console.log(asin(tensor([0, 2])).toArraySync()); // [0, NaN]
 * ```
 */
export function asin(x: TensorLike): Tensor {
  return unary("asin", x);
}

/**
 * Inverse cosine (NaN outside [-1, 1]).
 *
 * @example
 * ```ts
 * import { acos, tensor } from "@aprender/compute";
 * console.log(acos(tensor([1])).toArraySync()); // [0]
 * ```
 */
export function acos(x: TensorLike): Tensor {
  return unary("acos", x);
}

/**
 * Inverse tangent.
 *
 * @example
 * ```ts
 * import { atan, tensor } from "@aprender/compute";
 * console.log(atan(tensor([0])).toArraySync()); // [0]
 * ```
 */
export function atan(x: TensorLike): Tensor {
  return unary("atan", x);
}

/**
 * Hyperbolic sine.
 *
 * @example
 * ```ts
 * import { sinh, tensor } from "@aprender/compute";
 * console.log(sinh(tensor([0])).toArraySync()); // [0]
 * ```
 */
export function sinh(x: TensorLike): Tensor {
  return unary("sinh", x);
}

/**
 * Hyperbolic cosine.
 *
 * @example
 * ```ts
 * import { cosh, tensor } from "@aprender/compute";
 * console.log(cosh(tensor([0])).toArraySync()); // [1]
 * ```
 */
export function cosh(x: TensorLike): Tensor {
  return unary("cosh", x);
}

/**
 * Hyperbolic tangent.
 *
 * @example
 * ```ts
 * import { tanh, tensor } from "@aprender/compute";
 * console.log(tanh(tensor([0, Infinity])).toArraySync()); // [0, 1]
 * ```
 */
export function tanh(x: TensorLike): Tensor {
  return unary("tanh", x);
}

/**
 * The error function `erf(x) = 2/√π ∫₀ˣ e^(-t²) dt` (W. J. Cody's rational approximations,
 * accurate to about 1e-16 in f64).
 *
 * @example
 * ```ts
 * import { erf, tensor } from "@aprender/compute";
 * console.log(erf(tensor([0, 0.5], { dtype: "f64" })).toArraySync()); // [0, 0.5204998778130465]
 * ```
 */
export function erf(x: TensorLike): Tensor {
  return unary("erf", x);
}

/**
 * Round to the nearest integer, halves to even (NumPy's `round`); integers are unchanged, bool
 * gives f16 like NumPy.
 *
 * @example
 * ```ts
 * import { round, tensor } from "@aprender/compute";
 * console.log(round(tensor([0.5, 1.5, 2.5, -0.7])).toArraySync()); // [0, 2, 2, -1]
 * ```
 */
export function round(x: TensorLike): Tensor {
  return unary("round", x);
}

/**
 * Largest integer ≤ x; integer dtypes are kept (NumPy 2).
 *
 * @example
 * ```ts
 * import { floor, tensor } from "@aprender/compute";
 * console.log(floor(tensor([1.5, -1.5])).toArraySync()); // [1, -2]
 * ```
 */
export function floor(x: TensorLike): Tensor {
  return unary("floor", x);
}

/**
 * Smallest integer ≥ x; integer dtypes are kept (NumPy 2).
 *
 * @example
 * ```ts
 * import { ceil, tensor } from "@aprender/compute";
 * console.log(ceil(tensor([1.5, -1.5])).toArraySync()); // [2, -1]
 * ```
 */
export function ceil(x: TensorLike): Tensor {
  return unary("ceil", x);
}

/**
 * Where `x` is NaN, as bool.
 *
 * @example
 * ```ts
 * import { isnan, tensor } from "@aprender/compute";
 * console.log(isnan(tensor([1, NaN])).toArraySync()); // [false, true]
 * ```
 */
export function isnan(x: TensorLike): Tensor {
  return unary("isnan", x);
}

/**
 * Where `x` is +Infinity or -Infinity, as bool.
 *
 * @example
 * ```ts
 * import { isinf, tensor } from "@aprender/compute";
 * console.log(isinf(tensor([1, -Infinity, NaN])).toArraySync()); // [false, true, false]
 * ```
 */
export function isinf(x: TensorLike): Tensor {
  return unary("isinf", x);
}

/**
 * Where `x` is neither infinite nor NaN, as bool.
 *
 * @example
 * ```ts
 * import { isfinite, tensor } from "@aprender/compute";
 * console.log(isfinite(tensor([1, Infinity, NaN])).toArraySync()); // [true, false, false]
 * ```
 */
export function isfinite(x: TensorLike): Tensor {
  return unary("isfinite", x);
}
