/**
 * Elementwise and comparison jobs of the CPU runtime's WASM module (src/elementwise.c) on raw
 * heap addresses: the op codes (the C module's ABI) and the job runner that the WASM plugin's
 * elementwise kernels and the OpenBLAS plugin's conv (bias add) both use.
 *
 * @module
 */
import { coalesceAxes } from "../../core/shape.ts";
import { beginJob, KIND, MAXDIM, plan, runPar, W } from "./jobs.ts";

/** Binary op codes (src/elementwise.c). */
export const BINARY_OPS: Record<string, number> = {
  add: 0,
  sub: 1,
  mul: 2,
  div: 3,
  minimum: 4,
  maximum: 5,
  /** `reluBackward` (a = x or relu's output, b = the gradient); not a kernel of its own name. */
  reluBackward: 6,
  atan2: 16,
  pow: 17,
  floorDiv: 18,
  mod: 19,
};

/** Comparison op codes (src/elementwise.c): f32/f64 operands, bool output. */
export const COMPARE_OPS: Record<string, number> = { eq: 7, ne: 8, lt: 9, le: 10, gt: 11, ge: 12 };

/** Logical op codes (src/elementwise.c): bool operands and output. */
export const LOGICAL_OPS: Record<string, number> = {
  logicalAnd: 13,
  logicalOr: 14,
  logicalXor: 15,
  logicalNot: 31,
};

/** Predicate op codes (src/elementwise.c): an f32/f64 operand, bool output. */
export const PREDICATE_OPS: Record<string, number> = { isnan: 25, isinf: 26, isfinite: 27 };

/** Unary op codes (src/elementwise.c); gelu means its tanh approximation. */
export const UNARY_OPS: Record<string, number> = {
  exp: 0,
  log: 1,
  tanh: 2,
  sigmoid: 3,
  relu: 4,
  silu: 5,
  gelu: 6,
  sqrt: 7,
  neg: 8,
  abs: 9,
  square: 10,
  floor: 11,
  ceil: 12,
  round: 13,
  sign: 14,
  rsqrt: 15,
  hardswish: 16,
  clip: 17,
  leakyRelu: 18,
  elu: 19,
  selu: 20,
  softplus: 21,
  mish: 22,
  expm1: 23,
  log1p: 24,
  sinh: 28,
  cosh: 29,
  log2: 30,
  sin: 32,
  cos: 33,
  tan: 34,
  atan: 35,
  asin: 36,
  acos: 37,
  erf: 38,
};

/** The exact (erf) form of gelu (src/elementwise.c). */
export const GELU_ERF = 39;

/** Elements from which the pool is used: memory-bound ops, and transcendental ones. */
export const PAR_MIN_CHEAP = 1 << 16, PAR_MIN_HEAVY = 1 << 15;

/**
 * Drop length-1 axes and merge axes contiguous in every operand. Returns null when more than
 * {@link MAXDIM} axes remain.
 */
export function mergeAxes(
  shape: readonly number[],
  strides: readonly (readonly number[])[],
): { dims: number[]; st: number[][] } | null {
  const c = coalesceAxes(shape, strides);
  return c.shape.length > MAXDIM ? null : { dims: c.shape, st: c.strides };
}

/**
 * Run an elementwise job on raw operands: `addrs` are byte addresses of element 0 of the output
 * and inputs, `strides` their element strides over `shape` (broadcast already applied);
 * `extra` sets the job's first kernel-specific integer and float (reluBackward's leaky flag and
 * slope).
 */
export function runElementwise(
  kind: "binary" | "unary",
  op: number,
  dtype: "f32" | "f64" | "bool",
  shape: readonly number[],
  addrs: readonly number[],
  strides: readonly (readonly number[])[],
  heavy: boolean,
  extra: { ia0?: number; fa0?: number; fa1?: number } = {},
  merged?: { dims: number[]; st: number[][] },
): void {
  const total = shape.reduce((a, b) => a * b, 1);
  if (total === 0) return;
  const m = merged ?? mergeAxes(shape, strides)!;
  const v = beginJob(kind === "binary" ? KIND.binary : KIND.unary);
  const w = v.i32;
  w[W.op] = op;
  w[W.dtype] = dtype === "bool" ? 2 : dtype === "f64" ? 1 : 0;
  w[W.ndim] = m.dims.length;
  w[W.total] = total;
  for (let j = 0; j < 3; j++) w[W.ptr + j] = addrs[j] ?? 0;
  w[W.ia] = extra.ia0 ?? 0;
  v.f64[W.fa64] = extra.fa0 ?? 0;
  v.f64[W.fa64 + 1] = extra.fa1 ?? 0;
  for (let d = 0; d < m.dims.length; d++) {
    w[W.shape + d] = m.dims[d];
    for (let j = 0; j < m.st.length; j++) w[W.strides + j * MAXDIM + d] = m.st[j][d];
  }
  const p = plan(total, heavy ? PAR_MIN_HEAVY : PAR_MIN_CHEAP);
  runPar(v, p.slots, p.threads);
}
