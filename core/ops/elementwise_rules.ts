/**
 * The elementwise ops' contract: each op is one row of a table giving its result-dtype rule
 * (NumPy 2's promotion, NEP 50 weak scalars), and `binary`/`unary` broadcast, promote and run the
 * op's kernel by name.
 *
 * @module
 */
import { checkDType, type DType, DTYPES, isFloat } from "../dtype.ts";
import { floatResult, promoteTypes, scalarPromote } from "../promote.ts";
import { DTypeError } from "../errors.ts";
import { runKernel1 } from "../op.ts";
import { broadcastShapesFor } from "../shape.ts";
import type { Tensor, TensorLike } from "../tensor.ts";
import { asTensor } from "./creation.ts";
import { disposeAll } from "../dispose.ts";

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
  logaddexp: { dtype: floatOfBoth },
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
  if (row.exact && !isFloat(t.dtype)) {
    // exact comparison of an integer tensor with a number: in the tensor's own dtype when the
    // number is one of its values (every device has it), else in f64 (NumPy compares exactly too)
    const n = Number(x);
    if (t.dtype !== "bool" && Number.isInteger(n) && fitsInt(n, t.dtype)) {
      return [asTensor(n, t.dtype, t.device), d];
    }
    return [asTensor(n, "f64", t.device), d];
  }
  if (typeof x === "number" && !fitsInt(x, d)) {
    throw new DTypeError(
      `${op}: the number ${x} is out of range for the ${d} operand (NumPy raises OverflowError ` +
        `too). Hint: astype a wider dtype first, e.g. t.astype("i64").`,
    );
  }
  return [asTensor(Number(x), d, t.device), d];
}

export function binary(op: BinaryOp, a: TensorLike, b: TensorLike): Tensor {
  const row: BinaryRow = BINARY[op];
  // The hottest op path: an array and disposeAll, not scoped's closures (measured slower here).
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
    disposeAll(owned);
  }
}

export function unary(op: UnaryOp, x: TensorLike, attrs: Record<string, unknown> = {}): Tensor {
  const t = asTensor(x);
  try {
    const dtype = UNARY[op](checkDType(t.dtype, op), op);
    return runKernel1(op, [t], attrs, { shape: t.shape, dtype, overwritten: true });
  } finally {
    if (t !== x) t.dispose();
  }
}
