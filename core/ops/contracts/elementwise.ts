/**
 * Contracts of the elementwise family (core/ops/arithmetic.ts, compare.ts, elementwise.ts,
 * activation.ts): unary and binary ops, one output of the broadcast shape.
 *
 * @module
 */
import type { Binary, Contracts, Unary } from "./contract.ts";

/** Attributes of the parametrized unary ops (leakyRelu, elu, gelu, softplus, clip). */
export interface UnaryAttrs {
  /** leakyRelu: slope for x < 0. */
  negativeSlope?: number;
  /** elu: scale of the negative branch. */
  alpha?: number;
  /** gelu: exact (erf) or its tanh approximation. */
  approximate?: "none" | "tanh";
  /** softplus: β. */
  beta?: number;
  /** softplus: above β·x > threshold the result is x. */
  threshold?: number;
  /** clip: lower bound. */
  min?: number;
  /** clip: upper bound. */
  max?: number;
}

/** The elementwise ops: kernel name → contract. */
export interface ElementwiseOps {
  /** −x */ neg: Unary;
  /** |x| */ abs: Unary;
  /** −1, 0, 1 (NaN stays NaN) */ sign: Unary;
  /** eˣ */ exp: Unary;
  /** eˣ − 1 */ expm1: Unary;
  /** ln x */ log: Unary;
  /** ln(1 + x) */ log1p: Unary;
  /** log₂ x */ log2: Unary;
  /** √x */ sqrt: Unary;
  /** 1/√x */ rsqrt: Unary;
  /** x² */ square: Unary;
  /** sin x */ sin: Unary;
  /** cos x */ cos: Unary;
  /** tan x */ tan: Unary;
  /** asin x */ asin: Unary;
  /** acos x */ acos: Unary;
  /** atan x */ atan: Unary;
  /** sinh x */ sinh: Unary;
  /** cosh x */ cosh: Unary;
  /** tanh x */ tanh: Unary;
  /** erf x */ erf: Unary;
  /** 1/(1 + e⁻ˣ) */ sigmoid: Unary;
  /** max(x, 0) */ relu: Unary;
  /** SELU */ selu: Unary;
  /** x·σ(x) */ silu: Unary;
  /** x·tanh(softplus x) */ mish: Unary;
  /** x·relu6(x + 3)/6 */ hardswish: Unary;
  /** round half to even */ round: Unary;
  /** ⌊x⌋ */ floor: Unary;
  /** ⌈x⌉ */ ceil: Unary;
  /** x is NaN (bool) */ isnan: Unary;
  /** x is ±∞ (bool) */ isinf: Unary;
  /** x is finite (bool) */ isfinite: Unary;
  /** x == 0 (bool) */ logicalNot: Unary;
  /** x or x·negativeSlope */ leakyRelu: Unary<UnaryAttrs>;
  /** x or α(eˣ − 1) */ elu: Unary<UnaryAttrs>;
  /** GELU, exact or tanh-approximated */ gelu: Unary<UnaryAttrs>;
  /** log(1 + e^(βx))/β */ softplus: Unary<UnaryAttrs>;
  /** min(max(x, min), max) */ clip: Unary<UnaryAttrs>;
  /** a + b */ add: Binary;
  /** a − b */ sub: Binary;
  /** a·b */ mul: Binary;
  /** a/b */ div: Binary;
  /** ⌊a/b⌋ (NumPy's floor_divide) */ floorDiv: Binary;
  /** a mod b, sign of b */ mod: Binary;
  /** aᵇ */ pow: Binary;
  /** atan2(a, b) */ atan2: Binary;
  /** log(eᵃ + eᵇ) */ logaddexp: Binary;
  /** min, NaN propagates */ minimum: Binary;
  /** max, NaN propagates */ maximum: Binary;
  /** a == b */ eq: Binary;
  /** a != b */ ne: Binary;
  /** a < b */ lt: Binary;
  /** a <= b */ le: Binary;
  /** a > b */ gt: Binary;
  /** a >= b */ ge: Binary;
  /** a && b */ logicalAnd: Binary;
  /** a || b */ logicalOr: Binary;
  /** a xor b */ logicalXor: Binary;
}

/** The elementwise family's contracts at run time. */
export const ELEMENTWISE_OPS: Contracts<ElementwiseOps> = {
  neg: 1,
  abs: 1,
  sign: 1,
  exp: 1,
  expm1: 1,
  log: 1,
  log1p: 1,
  log2: 1,
  sqrt: 1,
  rsqrt: 1,
  square: 1,
  sin: 1,
  cos: 1,
  tan: 1,
  asin: 1,
  acos: 1,
  atan: 1,
  sinh: 1,
  cosh: 1,
  tanh: 1,
  erf: 1,
  sigmoid: 1,
  relu: 1,
  selu: 1,
  silu: 1,
  mish: 1,
  hardswish: 1,
  round: 1,
  floor: 1,
  ceil: 1,
  isnan: 1,
  isinf: 1,
  isfinite: 1,
  logicalNot: 1,
  leakyRelu: 1,
  elu: 1,
  gelu: 1,
  softplus: 1,
  clip: 1,
  add: 2,
  sub: 2,
  mul: 2,
  div: 2,
  floorDiv: 2,
  mod: 2,
  pow: 2,
  atan2: 2,
  logaddexp: 2,
  minimum: 2,
  maximum: 2,
  eq: 2,
  ne: 2,
  lt: 2,
  le: 2,
  gt: 2,
  ge: 2,
  logicalAnd: 2,
  logicalOr: 2,
  logicalXor: 2,
};

/** A unary elementwise op name. */
export type UnaryOp = {
  [N in keyof ElementwiseOps]: ElementwiseOps[N]["inputs"] extends 1 ? N : never;
}[keyof ElementwiseOps];
/** A binary elementwise op name. */
export type BinaryOp = Exclude<keyof ElementwiseOps, UnaryOp>;
