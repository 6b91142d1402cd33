/**
 * Arithmetic elementwise ops: add, sub, mul, div, floorDiv, mod, pow, atan2, logaddexp, minimum,
 * maximum;
 * sign and magnitude: neg, abs, sign, square.
 *
 * @module
 */
import type { Tensor, TensorLike } from "../tensor.ts";
import { binary, unary } from "./elementwise_rules.ts";

/**
 * `a + b`, broadcasting; integers wrap like NumPy (int8 100 + 100 = -56); bool + bool is bool
 * (logical or).
 *
 * @example
 * ```ts
 * import { add, tensor } from "@aprender/compute";
 * console.log(add(tensor([[1], [2]]), tensor([10, 20])).toArraySync()); // [[11, 21], [12, 22]]
 * console.log(add(tensor([100], { dtype: "i8" }), 100).toArraySync()); // [-56]
 * ```
 */
export function add(a: TensorLike, b: TensorLike): Tensor {
  return binary("add", a, b);
}

/**
 * `a - b`, broadcasting. bool - bool is a DTypeError, as in NumPy.
 *
 * @example
 * ```ts
 * import { sub, tensor } from "@aprender/compute";
 * console.log(sub(tensor([5, 7]), 2).toArraySync()); // [3, 5]
 * ```
 */
export function sub(a: TensorLike, b: TensorLike): Tensor {
  return binary("sub", a, b);
}

/**
 * `a * b`, broadcasting; integer products wrap like NumPy's.
 *
 * @example
 * ```ts
 * import { mul, tensor } from "@aprender/compute";
 * console.log(mul(tensor([1, 2, 3]), tensor([2])).toArraySync()); // [2, 4, 6]
 * ```
 */
export function mul(a: TensorLike, b: TensorLike): Tensor {
  return binary("mul", a, b);
}

/**
 * True division `a / b`, broadcasting. Integer or bool operands give f64, as in NumPy.
 *
 * @example
 * ```ts
 * import { div, tensor } from "@aprender/compute";
 * const q = div(tensor([1, 3], { dtype: "i32" }), 2);
 * console.log(q.dtype, q.toArraySync()); // f64 [0.5, 1.5]
 * ```
 */
export function div(a: TensorLike, b: TensorLike): Tensor {
  return binary("div", a, b);
}

/**
 * Floor division `a // b` (Python semantics: rounds toward -inf). Integer division by zero gives
 * 0 like NumPy; bool // bool gives i8.
 *
 * @example
 * ```ts
 * import { floorDiv, tensor } from "@aprender/compute";
 * console.log(floorDiv(tensor([7, -7, 7], { dtype: "i32" }), tensor([2, 2, 0], { dtype: "i32" }))
 *   .toArraySync()); // [3, -4, 0]
 * ```
 */
export function floorDiv(a: TensorLike, b: TensorLike): Tensor {
  return binary("floorDiv", a, b);
}

/**
 * Remainder with the sign of the divisor (Python's `%`, NumPy's `remainder`). Integer modulo by
 * zero gives 0 like NumPy; float modulo by zero gives NaN.
 *
 * @example
 * ```ts
 * import { mod, tensor } from "@aprender/compute";
 * console.log(mod(tensor([7, -7]), 3).toArraySync()); // [1, 2]
 * ```
 */
export function mod(a: TensorLike, b: TensorLike): Tensor {
  return binary("mod", a, b);
}

/**
 * `a ** b`, broadcasting. Integer powers wrap like NumPy's; a negative integer exponent of an
 * integer base is a DTypeError (NumPy raises ValueError). Integer results of i64 are computed in
 * float64 (exact up to 2^53).
 *
 * @example
 * ```ts
 * import { pow, tensor } from "@aprender/compute";
 * console.log(pow(tensor([2, 3]), 2).toArraySync()); // [4, 9]
 * ```
 */
export function pow(a: TensorLike, b: TensorLike): Tensor {
  return binary("pow", a, b);
}

/**
 * The angle of the point (b, a), `atan2(a, b)`, in radians; integer inputs give floats like
 * NumPy's `arctan2`.
 *
 * @example
 * ```ts
 * import { atan2, tensor } from "@aprender/compute";
 * console.log(atan2(tensor([1], { dtype: "f64" }), 1).toArraySync()); // [0.7853981633974483]
 * ```
 */
export function atan2(a: TensorLike, b: TensorLike): Tensor {
  return binary("atan2", a, b);
}

/**
 * `log(exp(a) + exp(b))` without overflow (NumPy's `logaddexp`): equal operands give
 * `a + log 2` (so two infinities of one sign give that infinity), a NaN propagates; integer inputs
 * give floats.
 *
 * @example
 * ```ts
 * import { logaddexp, tensor } from "@aprender/compute";
 * console.log(logaddexp(tensor([1000, -Infinity], { dtype: "f64" }), 1000).toArraySync());
 * // [1000.6931471805599, 1000]
 * ```
 */
export function logaddexp(a: TensorLike, b: TensorLike): Tensor {
  return binary("logaddexp", a, b);
}

/**
 * Elementwise minimum; NaN in either operand propagates (NumPy's `minimum`).
 *
 * @example
 * ```ts
 * import { minimum, tensor } from "@aprender/compute";
 * console.log(minimum(tensor([1, 5, NaN]), 3).toArraySync()); // [1, 3, NaN]
 * ```
 */
export function minimum(a: TensorLike, b: TensorLike): Tensor {
  return binary("minimum", a, b);
}

/**
 * Elementwise maximum; NaN in either operand propagates (NumPy's `maximum`).
 *
 * @example
 * ```ts
 * import { maximum, tensor } from "@aprender/compute";
 * console.log(maximum(tensor([1, 5]), 3).toArraySync()); // [3, 5]
 * ```
 */
export function maximum(a: TensorLike, b: TensorLike): Tensor {
  return binary("maximum", a, b);
}

/**
 * `-x`. Integers wrap (neg of int8 -128 is -128); bool is a DTypeError, as in NumPy.
 *
 * @example
 * ```ts
 * import { neg, tensor } from "@aprender/compute";
 * console.log(neg(tensor([1, -2])).toArraySync()); // [-1, 2]
 * ```
 */
export function neg(x: TensorLike): Tensor {
  return unary("neg", x);
}

/**
 * Absolute value; keeps the dtype (abs of int8 -128 wraps to -128, like NumPy).
 *
 * @example
 * ```ts
 * import { abs, tensor } from "@aprender/compute";
 * console.log(abs(tensor([-1.5, 2])).toArraySync()); // [1.5, 2]
 * ```
 */
export function abs(x: TensorLike): Tensor {
  return unary("abs", x);
}

/**
 * -1, 0 or 1 by the sign of `x` (NaN stays NaN); bool is a DTypeError, as in NumPy.
 *
 * @example
 * ```ts
 * import { sign, tensor } from "@aprender/compute";
 * console.log(sign(tensor([-3, 0, 2])).toArraySync()); // [-1, 0, 1]
 * ```
 */
export function sign(x: TensorLike): Tensor {
  return unary("sign", x);
}

/**
 * `x * x`, keeping the dtype (bool gives i8, like NumPy).
 *
 * @example
 * ```ts
 * import { square, tensor } from "@aprender/compute";
 * console.log(square(tensor([-3, 2])).toArraySync()); // [9, 4]
 * ```
 */
export function square(x: TensorLike): Tensor {
  return unary("square", x);
}
