/**
 * Elementwise ops: arithmetic, comparisons, logic, math functions and activations. All of them
 * broadcast like NumPy and promote dtypes by NumPy 2's rules (NEP 50); a JS number operand is a
 * "weak" scalar that keeps the tensor's dtype where it fits (see {@link scalarPromote}).
 *
 * Each op is one row of a table giving its result-dtype rule; the exported functions are thin
 * wrappers, and the kernels (one table of math per backend) are looked up by the op's name.
 *
 * @module
 */
import { checkDType, type DType, DTYPES, isFloat } from "../dtype.ts";
import { floatResult, promoteTypes, scalarPromote } from "../promote.ts";
import { ComputeError, DTypeError } from "../errors.ts";
import { runKernel1 } from "../op.ts";
import { broadcastShapesFor } from "../shape.ts";
import type { Tensor, TensorLike } from "../tensor.ts";
import { asTensor } from "./creation.ts";

// ---- dtype rules -----------------------------------------------------------------------------

/** Result dtype of a binary op from its operands' dtypes; throws where NumPy raises. */
type BinaryRule = (a: DType, b: DType, op: string) => DType;
/** Result dtype of a unary op from its input's dtype; throws where NumPy raises. */
type UnaryRule = (d: DType, op: string) => DType;

const bothBool = (a: DType, b: DType) => a === "bool" && b === "bool";

const promoted: BinaryRule = (a, b) => promoteTypes(a, b);
const toBool = (): DType => "bool";
/** NumPy's true_divide: float operands promote, anything else gives f64. */
const trueDivide: BinaryRule = (a, b) => {
  const p = promoteTypes(a, b);
  return isFloat(p) ? p : "f64";
};
/** floor_divide, remainder, power: NumPy has no bool loop and picks int8. */
const intLoop: BinaryRule = (a, b) => (bothBool(a, b) ? "i8" : promoteTypes(a, b));
/**
 * arctan2: the smallest float loop both operands cast to safely; with no float operand that is
 * the promotion of their floats (i8, u8 → f16, where floatResult(i16) would give f32).
 */
const floatOfBoth: BinaryRule = (a, b) =>
  isFloat(a) || isFloat(b) ? promoteTypes(a, b) : promoteTypes(floatResult(a), floatResult(b));
const noBoolSub: BinaryRule = (a, b, op) => {
  if (bothBool(a, b)) {
    throw new DTypeError(
      `${op}: subtracting bool from bool is not supported (NumPy raises too). ` +
        `Hint: use logicalXor(a, b), or astype an integer dtype first.`,
    );
  }
  return promoteTypes(a, b);
};

interface BinaryRow {
  /** Result dtype rule. */
  dtype: BinaryRule;
  /**
   * The result is bool (comparisons, logic): a number operand is compared exactly, not first
   * cast to an integer tensor's dtype (NumPy 2 does the same for out-of-range Python ints).
   */
  exact?: boolean;
}

const BINARY = {
  add: { dtype: promoted },
  sub: { dtype: noBoolSub },
  mul: { dtype: promoted },
  div: { dtype: trueDivide },
  floorDiv: { dtype: intLoop },
  mod: { dtype: intLoop },
  pow: { dtype: intLoop },
  atan2: { dtype: floatOfBoth },
  minimum: { dtype: promoted },
  maximum: { dtype: promoted },
  eq: { dtype: toBool, exact: true },
  ne: { dtype: toBool, exact: true },
  lt: { dtype: toBool, exact: true },
  le: { dtype: toBool, exact: true },
  gt: { dtype: toBool, exact: true },
  ge: { dtype: toBool, exact: true },
  logicalAnd: { dtype: toBool, exact: true },
  logicalOr: { dtype: toBool, exact: true },
  logicalXor: { dtype: toBool, exact: true },
} satisfies Record<string, BinaryRow>;

type BinaryOp = keyof typeof BINARY;

const keep: UnaryRule = (d) => d;
const noBool: UnaryRule = (d, op) => {
  if (d === "bool") {
    throw new DTypeError(
      `${op}: not supported for bool tensors (NumPy raises too). ` +
        `Hint: use logicalNot for booleans, or astype an integer dtype first.`,
    );
  }
  return d;
};
const toFloat: UnaryRule = (d) => floatResult(d);

const UNARY = {
  neg: noBool,
  abs: keep,
  sign: noBool,
  exp: toFloat,
  expm1: toFloat,
  log: toFloat,
  log1p: toFloat,
  log2: toFloat,
  sqrt: toFloat,
  rsqrt: toFloat,
  square: (d) => (d === "bool" ? "i8" : d),
  sin: toFloat,
  cos: toFloat,
  tan: toFloat,
  asin: toFloat,
  acos: toFloat,
  atan: toFloat,
  sinh: toFloat,
  cosh: toFloat,
  tanh: toFloat,
  // Not in NumPy: floats keep their dtype, integers and bool take NumPy's float for them.
  erf: toFloat,
  sigmoid: toFloat,
  relu: toFloat,
  leakyRelu: toFloat,
  elu: toFloat,
  selu: toFloat,
  gelu: toFloat,
  silu: toFloat,
  mish: toFloat,
  hardswish: toFloat,
  softplus: toFloat,
  round: (d) => (d === "bool" ? "f16" : d),
  floor: keep,
  ceil: keep,
  isnan: toBool,
  isinf: toBool,
  isfinite: toBool,
  logicalNot: toBool,
} satisfies Record<string, UnaryRule>;

type UnaryOp = keyof typeof UNARY;

// ---- dispatch --------------------------------------------------------------------------------

const isScalar = (x: TensorLike): x is number | boolean =>
  typeof x === "number" || typeof x === "boolean";

/** Whether the integer `x` fits in the integer dtype `d`. */
function fitsInt(x: number, d: DType): boolean {
  const { kind, bits } = DTYPES[d];
  if (kind === "bool" || kind === "float") return true;
  const lo = kind === "uint" ? 0 : -(2 ** (bits - 1));
  const hi = kind === "uint" ? 2 ** bits - 1 : 2 ** (bits - 1) - 1;
  return x >= lo && x <= hi;
}

/**
 * A JS number/boolean operand as a 0-d tensor next to tensor `t`, and the dtype both operands
 * count as for the result (NEP 50: the scalar is weak).
 */
function weakScalar(op: string, row: BinaryRow, t: Tensor, x: number | boolean): [Tensor, DType] {
  const d = scalarPromote(t.dtype, x);
  if (row.exact && !isFloat(t.dtype)) return [asTensor(Number(x), "f64", t.device), d];
  if (typeof x === "number" && !fitsInt(x, d)) {
    throw new DTypeError(
      `${op}: the number ${x} is out of range for the ${d} operand (NumPy raises OverflowError ` +
        `too). Hint: astype a wider dtype first, e.g. t.astype("i64").`,
    );
  }
  return [asTensor(Number(x), d, t.device), d];
}

function binary(op: BinaryOp, a: TensorLike, b: TensorLike): Tensor {
  const row: BinaryRow = BINARY[op];
  const owned: Tensor[] = [];
  const strong = (x: TensorLike, device?: string): Tensor => {
    const t = asTensor(x, undefined, device);
    if (t !== x) owned.push(t);
    checkDType(t.dtype, op); // a block-quantized operand is refused here, by name
    return t;
  };
  try {
    // A number/boolean next to a tensor is weak; of two numbers, the first is taken as a tensor.
    const aWeak = isScalar(a) && !isScalar(b);
    const bWeak = !aWeak && isScalar(b);
    let ta: Tensor, tb: Tensor, dtype: DType;
    if (aWeak || bWeak) {
      const t = strong(aWeak ? b : a);
      const [s, p] = weakScalar(op, row, t, (aWeak ? a : b) as number | boolean);
      owned.push(s);
      [ta, tb] = aWeak ? [s, t] : [t, s];
      dtype = row.dtype(p, p, op);
    } else {
      ta = strong(a);
      tb = strong(b, ta.device);
      dtype = row.dtype(ta.dtype, tb.dtype, op);
    }
    const shape = broadcastShapesFor(op, ta.shape, tb.shape);
    return runKernel1(op, [ta, tb], {}, { shape, dtype, overwritten: true });
  } finally {
    for (const t of owned) t.dispose();
  }
}

function unary(op: UnaryOp, x: TensorLike, attrs: Record<string, unknown> = {}): Tensor {
  const t = asTensor(x);
  try {
    const dtype = UNARY[op](checkDType(t.dtype, op), op);
    return runKernel1(op, [t], attrs, { shape: t.shape, dtype, overwritten: true });
  } finally {
    if (t !== x) t.dispose();
  }
}

// ---- arithmetic ------------------------------------------------------------------------------

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

// ---- comparisons and logic -------------------------------------------------------------------

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

// ---- sign and magnitude ----------------------------------------------------------------------

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

// ---- exponentials and logarithms -------------------------------------------------------------

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

// ---- trigonometric and hyperbolic ------------------------------------------------------------

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

// ---- activations -----------------------------------------------------------------------------

/**
 * The logistic function `1 / (1 + e^-x)`, without overflow for large |x|.
 *
 * @example
 * ```ts
 * import { sigmoid, tensor } from "@aprender/compute";
 * console.log(sigmoid(tensor([0, -Infinity])).toArraySync()); // [0.5, 0]
 * ```
 */
export function sigmoid(x: TensorLike): Tensor {
  return unary("sigmoid", x);
}

/**
 * `max(x, 0)` (NaN propagates). Integer input gives a float dtype, like every activation.
 *
 * @example
 * ```ts
 * import { relu, tensor } from "@aprender/compute";
 * console.log(relu(tensor([-1, 2])).toArraySync()); // [0, 2]
 * ```
 */
export function relu(x: TensorLike): Tensor {
  return unary("relu", x);
}

/**
 * `x` where `x >= 0`, else `negativeSlope * x` (PyTorch's `leaky_relu`).
 *
 * @example
 * ```ts
 * import { leakyRelu, tensor } from "@aprender/compute";
 * console.log(leakyRelu(tensor([-2, 3]), 0.5).toArraySync()); // [-1, 3]
 * ```
 */
export function leakyRelu(x: TensorLike, negativeSlope = 0.01): Tensor {
  return unary("leakyRelu", x, { negativeSlope });
}

/**
 * `x` where `x > 0`, else `alpha * (e^x - 1)` (PyTorch's `elu`).
 *
 * @example
 * ```ts
 * import { elu, tensor } from "@aprender/compute";
 * console.log(elu(tensor([-Infinity, 2])).toArraySync()); // [-1, 2]
 * ```
 */
export function elu(x: TensorLike, alpha = 1): Tensor {
  return unary("elu", x, { alpha });
}

/**
 * Scaled ELU: `scale * elu(x, alpha)` with PyTorch's constants (alpha ≈ 1.6733, scale ≈ 1.0507).
 *
 * @example
 * ```ts
 * import { selu, tensor } from "@aprender/compute";
 * console.log(selu(tensor([0, 1], { dtype: "f64" })).toArraySync()); // [0, 1.0507009873554805]
 * ```
 */
export function selu(x: TensorLike): Tensor {
  return unary("selu", x);
}

/**
 * Gaussian error linear unit: `0.5·x·(1 + erf(x/√2))`, or with `approximate: "tanh"`
 * `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))` (PyTorch's `gelu`).
 *
 * @example
 * ```ts
 * import { gelu, tensor } from "@aprender/compute";
 * console.log(gelu(tensor([0, 10])).toArraySync()); // [0, 10]
 * console.log(gelu(tensor([1], { dtype: "f64" }), "tanh").toArraySync()); // [0.8411919906082768]
 * ```
 */
export function gelu(x: TensorLike, approximate: "none" | "tanh" = "none"): Tensor {
  if (approximate !== "none" && approximate !== "tanh") {
    throw new ComputeError(
      `gelu: approximate must be "none" or "tanh", got ${JSON.stringify(approximate)}.`,
    );
  }
  return unary("gelu", x, { approximate });
}

/**
 * Sigmoid linear unit (swish): `x * sigmoid(x)`.
 *
 * @example
 * ```ts
 * import { silu, tensor } from "@aprender/compute";
 * console.log(silu(tensor([0, 1], { dtype: "f64" })).toArraySync()); // [0, 0.7310585786300049]
 * ```
 */
export function silu(x: TensorLike): Tensor {
  return unary("silu", x);
}

/**
 * Mish: `x * tanh(softplus(x))`.
 *
 * @example
 * ```ts
 * import { mish, tensor } from "@aprender/compute";
 * console.log(mish(tensor([0, 1], { dtype: "f64" })).toArraySync()); // [0, 0.8650983882673103]
 * ```
 */
export function mish(x: TensorLike): Tensor {
  return unary("mish", x);
}

/**
 * Hard swish: `x * relu6(x + 3) / 6`.
 *
 * @example
 * ```ts
 * import { hardswish, tensor } from "@aprender/compute";
 * console.log(hardswish(tensor([-4, 0, 1, 4])).toArraySync()); // [-0, 0, 0.6666666865348816, 4]
 * ```
 */
export function hardswish(x: TensorLike): Tensor {
  return unary("hardswish", x);
}

/**
 * `log(1 + e^(beta·x)) / beta`, and `x` itself where `beta·x > threshold` (PyTorch's
 * `softplus`).
 *
 * @example
 * ```ts
 * import { softplus, tensor } from "@aprender/compute";
 * console.log(softplus(tensor([0, 30], { dtype: "f64" })).toArraySync()); // [0.6931471805599453, 30]
 * ```
 */
export function softplus(x: TensorLike, beta = 1, threshold = 20): Tensor {
  return unary("softplus", x, { beta, threshold });
}

/**
 * Limit values to `[min, max]` (either bound may be null); NaN stays NaN. The bounds are weak
 * scalars: an integer tensor stays integer for integer bounds.
 *
 * @example
 * ```ts
 * import { clip, tensor } from "@aprender/compute";
 * console.log(clip(tensor([-2, 0.5, 3]), 0, 1).toArraySync()); // [0, 0.5, 1]
 * console.log(clip(tensor([-2, 3]), null, 1).toArraySync()); // [-2, 1]
 * ```
 */
export function clip(x: TensorLike, min: number | null, max: number | null): Tensor {
  const t = asTensor(x);
  try {
    checkDType(t.dtype, "clip");
    let dtype = t.dtype;
    for (const bound of [min, max]) {
      if (bound !== null) dtype = promoteTypes(dtype, scalarPromote(t.dtype, bound));
    }
    return runKernel1("clip", [t], { min: min ?? -Infinity, max: max ?? Infinity }, {
      shape: t.shape,
      dtype,
    });
  } finally {
    if (t !== x) t.dispose();
  }
}

// ---- rounding and classification -------------------------------------------------------------

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
