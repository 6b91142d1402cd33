/**
 * Exact i64 on the scalar backend: every op that takes i64 operands and gives an i64 (or bool)
 * result computes in BigInt and wraps modulo 2^64 like NumPy's int64 loops, instead of going
 * through float64 (which turns 2^53 + 1 into 2^53). The other kernel files call in here when an
 * i64 operand or output is involved:
 *
 * - elementwise: add, sub, mul, floorDiv, mod, pow, minimum, maximum, comparisons; neg, abs,
 *   sign, square, relu, clip, round/floor/ceil (the identity on integers);
 * - reductions: sum, prod, max, min, argmax, argmin, cumsum, cumprod;
 * - matmul and einsum (dot, tensordot, inner, outer, ...) of integer operands into i64;
 * - sort/argsort/topk (sort.ts compares i64 keys as bigints).
 *
 * NumPy's integer edge cases are kept: `x // 0` and `x % 0` give 0, `MIN // -1` wraps to MIN,
 * the remainder takes the divisor's sign, a negative integer power is an error.
 *
 * @module
 */
import type { KernelCall, TensorView } from "../../../core/backend/plugin.ts";
import type { BinaryOp, UnaryAttrs, UnaryOp } from "../../../core/ops/contracts/mod.ts";
import { type DType, DTYPES, type TypedArray } from "../../../core/dtype.ts";
import { DTypeError } from "../../../core/errors.ts";
import { sizeOf } from "../../../core/shape.ts";
import { floatToI64, reader, stridedOffsets, typed } from "../util.ts";
import { geometry } from "../../cpu/lines.ts";

type Big = bigint;
const wrap = (v: Big): Big => BigInt.asIntN(64, v);

/** Whether `d` holds integers (bool counts: NumPy reads it as 0/1). */
function isIntLike(d: DType): boolean {
  const k = DTYPES[d].kind;
  return k === "int" || k === "uint" || k === "bool";
}

/**
 * Whether a call on `inputs` into `out` takes the exact BigInt path: integer operands, one of
 * them (or the output) i64, and an i64 or bool output.
 */
export function isBigCall(inputs: readonly TensorView[], out: TensorView): boolean {
  if (out.dtype !== "i64" && out.dtype !== "bool") return false;
  if (!inputs.every((t) => isIntLike(t.dtype))) return false;
  return out.dtype === "i64" || inputs.some((t) => t.dtype === "i64");
}

/**
 * A function reading storage offset `o` of `t`'s array as a bigint: exact for i64 and the other
 * integer dtypes, a float converted like NumPy's cast to int64 (x86: out of range → -2^63).
 */
export function bigReader(t: TensorView): (o: number) => Big {
  const arr = typed(t);
  if (t.dtype === "i64") return (o) => (arr as BigInt64Array)[o];
  if (isIntLike(t.dtype)) return (o) => BigInt(arr[o] as number);
  const get = reader(t.dtype, arr);
  return (o) => floatToI64(get(o));
}

function negativePower(): never {
  throw new DTypeError(
    "pow: integers to negative integer powers are not allowed (NumPy raises too). " +
      'Hint: cast the base to a float dtype first, e.g. x.astype("f64").pow(y).',
  );
}

/** Floor division as NumPy's int64 loop: 0 for a zero divisor, MIN // -1 wraps to MIN. */
function floorDiv(a: Big, b: Big): Big {
  if (b === 0n) return 0n;
  const q = a / b;
  return (a % b !== 0n) && ((a < 0n) !== (b < 0n)) ? q - 1n : q;
}

/** Remainder with the divisor's sign; 0 for a zero divisor. */
function mod(a: Big, b: Big): Big {
  if (b === 0n) return 0n;
  const r = a % b;
  return r !== 0n && (r < 0n) !== (b < 0n) ? r + b : r;
}

/** Integer power by squaring, wrapping modulo 2^64 at every step. */
function pow(a: Big, b: Big): Big {
  if (b < 0n) negativePower();
  let r = 1n, base = wrap(a);
  for (let e = b; e > 0n; e >>= 1n) {
    if (e & 1n) r = wrap(r * base);
    base = wrap(base * base);
  }
  return r;
}

const B = (v: boolean): Big => (v ? 1n : 0n);

/**
 * The binary ops with an exact integer meaning, on bigints. Results need no wrapping here:
 * storing a bigint into a BigInt64Array wraps it modulo 2^64 (ToBigInt64).
 */
const BINARY: Partial<Record<BinaryOp, (a: Big, b: Big) => Big>> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  floorDiv,
  mod,
  pow,
  minimum: (a, b) => (a < b ? a : b),
  maximum: (a, b) => (a > b ? a : b),
};

/** The comparisons and logical ops: a boolean of two bigints. */
const TEST: Partial<Record<BinaryOp, (a: Big, b: Big) => boolean>> = {
  eq: (a, b) => a === b,
  ne: (a, b) => a !== b,
  lt: (a, b) => a < b,
  le: (a, b) => a <= b,
  gt: (a, b) => a > b,
  ge: (a, b) => a >= b,
  logicalAnd: (a, b) => a !== 0n && b !== 0n,
  logicalOr: (a, b) => a !== 0n || b !== 0n,
  logicalXor: (a, b) => (a !== 0n) !== (b !== 0n),
};

/** A bound (a JS number, maybe fractional or infinite) compared exactly against bigints. */
function clipTo(v: Big, lo: number | undefined, hi: number | undefined): Big {
  // JS compares a bigint with a number exactly (no rounding of either).
  if (lo !== undefined && v < lo) v = BigInt(Math.trunc(lo));
  if (hi !== undefined && v > hi) v = BigInt(Math.trunc(hi));
  return v;
}

/** The unary ops with an exact integer meaning. */
const UNARY: Partial<Record<UnaryOp, (x: Big, p: UnaryAttrs) => Big>> = {
  neg: (x) => -x,
  abs: (x) => (x < 0n ? -x : x),
  sign: (x) => (x > 0n ? 1n : x < 0n ? -1n : 0n),
  square: (x) => x * x,
  relu: (x) => (x < 0n ? 0n : x),
  clip: (x, p) => clipTo(x, p.min ?? undefined, p.max ?? undefined),
  round: (x) => x,
  floor: (x) => x,
  ceil: (x) => x,
  logicalNot: (x) => B(x === 0n),
};

/** Whether `op` has an exact bigint kernel here. */
export function hasBigBinary(op: string): boolean {
  return Object.hasOwn(BINARY, op) || Object.hasOwn(TEST, op);
}

/** Whether unary `op` has an exact bigint kernel here. */
export function hasBigUnary(op: string): boolean {
  return Object.hasOwn(UNARY, op);
}

/** One row of a binary op: `n` elements at offsets `o + k·step` of each operand. */
export type BigBinaryRow = (
  X: TypedArray,
  xo: number,
  xs: number,
  Y: TypedArray,
  yo: number,
  ys: number,
  O: TypedArray,
  oo: number,
  os: number,
  n: number,
) => void;

/** The row function of binary `op` for operands of `xd`, `yd` into `od` (i64 or bool). */
export function bigBinaryRow(op: BinaryOp, xd: DType, yd: DType, od: DType): BigBinaryRow {
  const f = BINARY[op], test = TEST[op];
  const wide = xd === "i64" && yd === "i64";
  if (od === "i64" && f) {
    if (wide && (op === "add" || op === "sub" || op === "mul")) {
      // The hot ones, straight from storage (the store wraps modulo 2^64).
      return (X, xo, xs, Y, yo, ys, O, oo, os, n) => {
        const a = X as BigInt64Array, b = Y as BigInt64Array, z = O as BigInt64Array;
        if (op === "add") {
          for (let k = 0; k < n; k++) z[oo + k * os] = a[xo + k * xs] + b[yo + k * ys];
        } else if (op === "sub") {
          for (let k = 0; k < n; k++) z[oo + k * os] = a[xo + k * xs] - b[yo + k * ys];
        } else for (let k = 0; k < n; k++) z[oo + k * os] = a[xo + k * xs] * b[yo + k * ys];
      };
    }
    return (X, xo, xs, Y, yo, ys, O, oo, os, n) => {
      const z = O as BigInt64Array;
      for (let k = 0; k < n; k++) {
        z[oo + k * os] = f(big(X, xd, xo + k * xs), big(Y, yd, yo + k * ys));
      }
    };
  }
  return (X, xo, xs, Y, yo, ys, O, oo, os, n) => {
    for (let k = 0; k < n; k++) {
      const u = big(X, xd, xo + k * xs), v = big(Y, yd, yo + k * ys);
      O[oo + k * os] = (test ? test(u, v) : f!(u, v) !== 0n) ? 1 : 0;
    }
  };
}

/** Element `o` of an integer-dtype array as a bigint. */
function big(a: TypedArray, d: DType, o: number): Big {
  return d === "i64" ? (a as BigInt64Array)[o] : BigInt(a[o] as number);
}

/** The row function of unary `op` for `xd` into `od` (i64 or bool). */
export function bigUnaryRow(
  op: UnaryOp,
  xd: DType,
  od: DType,
  p: UnaryAttrs,
): (
  X: TypedArray,
  xo: number,
  xs: number,
  O: TypedArray,
  oo: number,
  os: number,
  n: number,
) => void {
  const f = UNARY[op]!;
  return (X, xo, xs, O, oo, os, n) => {
    for (let k = 0; k < n; k++) {
      const r = f(big(X, xd, xo + k * xs), p);
      if (od === "i64") (O as BigInt64Array)[oo + k * os] = r;
      else O[oo + k * os] = r !== 0n ? 1 : 0;
    }
  };
}

/** Offsets of `t`'s elements broadcast to `shape` by `strides`, in C order. */
function offs(shape: readonly number[], strides: readonly number[], offset: number) {
  return stridedOffsets(shape, strides, offset);
}

/** Store `v` into `out` at `o`: wrapped for i64 (by the store), 0/1 for bool. */
function store(out: TensorView, arr: TypedArray, o: number, v: Big): void {
  if (out.dtype === "i64") (arr as BigInt64Array)[o] = v;
  else arr[o] = v !== 0n ? 1 : 0;
}

// ---- reductions ------------------------------------------------------------------------------

/** The reductions with an exact i64 kernel: on an i64 input. */
const REDUCE = new Set(["sum", "prod", "max", "min", "argmax", "argmin", "cumsum", "cumprod"]);

/** Whether reduction `op` on `x` into `out` takes the exact path. */
export function isBigReduce(op: string, x: TensorView, out: TensorView): boolean {
  return REDUCE.has(op) && x.dtype === "i64" && out.dtype === "i64";
}

/**
 * Every line of the i64 `x` over `axes`, in output order: `each(i, get, n)` with `get(j)` the
 * line's j-th element read straight from storage (no copies of the line).
 */
function eachLine(
  x: TensorView,
  axes: number[],
  each: (i: number, get: (j: number) => Big, n: number) => void,
): void {
  const a = typed(x) as BigInt64Array;
  const g = geometry(x.shape, x.strides, x.offset, axes);
  const inner = g.inner, step = g.step;
  for (let i = 0; i < g.outer.length; i++) {
    const base = g.outer[i];
    each(i, inner === null ? (j) => a[base + j * step] : (j) => a[base + inner[j]], g.n);
  }
}

function lineOf(op: string): (get: (j: number) => Big, n: number) => Big {
  switch (op) {
    case "sum":
      return (get, n) => {
        let s = 0n;
        for (let j = 0; j < n; j++) s += get(j);
        return s;
      };
    case "prod":
      return (get, n) => {
        let s = 1n;
        for (let j = 0; j < n; j++) s = wrap(s * get(j));
        return s;
      };
    case "max":
    case "min":
    case "argmax":
    case "argmin": {
      const gt = op === "max" || op === "argmax", arg = op.startsWith("arg");
      return (get, n) => {
        let best = 0, m = get(0);
        for (let j = 1; j < n; j++) {
          const v = get(j);
          if (gt ? v > m : v < m) [m, best] = [v, j];
        }
        return arg ? BigInt(best) : m;
      };
    }
  }
  throw new Error(`int64 reduce: ${op}`);
}

/** sum/prod/max/min/argmax/argmin of an i64 input over `attrs.axes`, exactly. */
export function bigReduce(op: string, call: KernelCall<{ axes: number[] }>): void {
  const [x] = call.inputs, [out] = call.outputs;
  const f = lineOf(op), O = typed(out);
  const oo = offs(out.shape, out.strides, out.offset);
  eachLine(x, call.attrs.axes, (i, get, n) => store(out, O, oo[i], f(get, n)));
}

/** cumsum/cumprod of an i64 input along `attrs.axis` (null: the flat array), exactly. */
export function bigScan(product: boolean, call: KernelCall<{ axis: number | null }>): void {
  const [x] = call.inputs, [out] = call.outputs;
  const axis = call.attrs.axis;
  const axes = axis === null ? [...x.shape.keys()] : [axis];
  const O = typed(out) as BigInt64Array;
  const go = geometry(out.shape, out.strides, out.offset, axis === null ? [0] : [axis]);
  eachLine(x, axes, (i, get, n) => {
    let acc = product ? 1n : 0n;
    for (let j = 0; j < n; j++) {
      acc = wrap(product ? acc * get(j) : acc + get(j));
      O[go.inner === null ? go.outer[i] + j * go.step : go.outer[i] + go.inner[j]] = acc;
    }
  });
}

// ---- contractions ----------------------------------------------------------------------------

/** Whether a matmul/einsum of `inputs` into `out` takes the exact path. */
export function isBigContraction(inputs: readonly TensorView[], out: TensorView): boolean {
  return out.dtype === "i64" && inputs.every((t) => isIntLike(t.dtype));
}

/** Batched matmul (the scalar kernel's contract) in BigInt, wrapping modulo 2^64. */
export function bigMatmul(call: KernelCall): void {
  const [a, b] = call.inputs, [out] = call.outputs;
  const r = a.ndim;
  const m = a.shape[r - 2], k = a.shape[r - 1], n = b.shape[r - 1];
  const batch = a.shape.slice(0, r - 2), nb = sizeOf(batch);
  const aBase = stridedOffsets(batch, a.strides.slice(0, r - 2), a.offset);
  const bBase = stridedOffsets(batch, b.strides.slice(0, r - 2), b.offset);
  const ga = bigReader(a), gb = bigReader(b), O = typed(out);
  const [sam, sak, sbk, sbn] = [
    a.strides[r - 2],
    a.strides[r - 1],
    b.strides[r - 2],
    b.strides[r - 1],
  ];
  for (let bi = 0; bi < nb; bi++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0n;
        for (let q = 0; q < k; q++) {
          s += ga(aBase[bi] + i * sam + q * sak) * gb(bBase[bi] + q * sbk + j * sbn);
        }
        store(out, O, out.offset + (bi * m + i) * n + j, s);
      }
    }
  }
}

/** einsum (the scalar kernel's contract: output axes then summed axes) in BigInt. */
export function bigEinsum(call: KernelCall<{ nOut: number }>): void {
  const ins = call.inputs, [out] = call.outputs, nOut = call.attrs.nOut;
  const shape = ins[0].shape;
  const outShape = shape.slice(0, nOut), redShape = shape.slice(nOut);
  const get = ins.map(bigReader);
  const oo = ins.map((t) => stridedOffsets(outShape, t.strides.slice(0, nOut), t.offset));
  const ro = ins.map((t) => stridedOffsets(redShape, t.strides.slice(nOut), 0));
  const nR = sizeOf(redShape), O = typed(out);
  for (let i = 0; i < sizeOf(outShape); i++) {
    let s = 0n;
    for (let r = 0; r < nR; r++) {
      let p = 1n;
      for (let t = 0; t < ins.length; t++) p *= get[t](oo[t][i] + ro[t][r]);
      s += p;
    }
    store(out, O, out.offset + i, s);
  }
}
