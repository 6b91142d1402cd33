/**
 * Comparison and logic elementwise ops: eq, ne, lt, le, gt, ge (bool results), logicalAnd,
 * logicalOr, logicalXor, logicalNot.
 *
 * @module
 */
import type { Tensor, TensorLike } from "../tensor.ts";
import { binary, unary } from "./elementwise_rules.ts";

/**
 * `a == b` elementwise, as a bool tensor.
 *
 * @example
 * ```ts
 * import { eq, tensor } from "@aprender/compute";
 * console.log(eq(tensor([1, 2, 3]), 2).toArraySync()); // [false, true, false]
 * ```
 */
export function eq(a: TensorLike, b: TensorLike): Tensor {
  return binary("eq", a, b);
}

/**
 * `a != b` elementwise, as a bool tensor (true where either is NaN).
 *
 * @example
 * ```ts
 * import { ne, tensor } from "@aprender/compute";
 * console.log(ne(tensor([1, 2]), 2).toArraySync()); // [true, false]
 * ```
 */
export function ne(a: TensorLike, b: TensorLike): Tensor {
  return binary("ne", a, b);
}

/**
 * `a < b` elementwise, as a bool tensor.
 *
 * @example
 * ```ts
 * import { lt, tensor } from "@aprender/compute";
 * console.log(lt(tensor([1, 2, 3]), 2).toArraySync()); // [true, false, false]
 * ```
 */
export function lt(a: TensorLike, b: TensorLike): Tensor {
  return binary("lt", a, b);
}

/**
 * `a <= b` elementwise, as a bool tensor.
 *
 * @example
 * ```ts
 * import { le, tensor } from "@aprender/compute";
 * console.log(le(tensor([1, 2, 3]), 2).toArraySync()); // [true, true, false]
 * ```
 */
export function le(a: TensorLike, b: TensorLike): Tensor {
  return binary("le", a, b);
}

/**
 * `a > b` elementwise, as a bool tensor.
 *
 * @example
 * ```ts
 * import { gt, tensor } from "@aprender/compute";
 * console.log(gt(tensor([1, 2, 3]), 2).toArraySync()); // [false, false, true]
 * ```
 */
export function gt(a: TensorLike, b: TensorLike): Tensor {
  return binary("gt", a, b);
}

/**
 * `a >= b` elementwise, as a bool tensor.
 *
 * @example
 * ```ts
 * import { ge, tensor } from "@aprender/compute";
 * console.log(ge(tensor([1, 2, 3]), 2).toArraySync()); // [false, true, true]
 * ```
 */
export function ge(a: TensorLike, b: TensorLike): Tensor {
  return binary("ge", a, b);
}

/**
 * Logical and of the operands' truth values (nonzero, NaN included, is true), as bool.
 *
 * @example
 * ```ts
 * import { logicalAnd, tensor } from "@aprender/compute";
 * console.log(logicalAnd(tensor([0, 1, 2]), tensor([true, true, false])).toArraySync());
 * // [false, true, false]
 * ```
 */
export function logicalAnd(a: TensorLike, b: TensorLike): Tensor {
  return binary("logicalAnd", a, b);
}

/**
 * Logical or of the operands' truth values, as bool.
 *
 * @example
 * ```ts
 * import { logicalOr, tensor } from "@aprender/compute";
 * console.log(logicalOr(tensor([0, 0, 3]), tensor([0, 1, 0])).toArraySync()); // [false, true, true]
 * ```
 */
export function logicalOr(a: TensorLike, b: TensorLike): Tensor {
  return binary("logicalOr", a, b);
}

/**
 * Logical exclusive or of the operands' truth values, as bool.
 *
 * @example
 * ```ts
 * import { logicalXor, tensor } from "@aprender/compute";
 * console.log(logicalXor(tensor([0, 1, 1]), 1).toArraySync()); // [true, false, false]
 * ```
 */
export function logicalXor(a: TensorLike, b: TensorLike): Tensor {
  return binary("logicalXor", a, b);
}

/**
 * Logical not of the truth value (zero → true), as bool.
 *
 * @example
 * ```ts
 * import { logicalNot, tensor } from "@aprender/compute";
 * console.log(logicalNot(tensor([0, 2])).toArraySync()); // [true, false]
 * ```
 */
export function logicalNot(x: TensorLike): Tensor {
  return unary("logicalNot", x);
}
