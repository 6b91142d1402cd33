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

/** The binary ops with an exact integer meaning, on bigints (comparisons give 0n/1n). */
const BINARY: Partial<Record<BinaryOp, (a: Big, b: Big) => Big>> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  floorDiv,
  mod,
  pow,
  minimum: (a, b) => (a < b ? a : b),
  maximum: (a, b) => (a > b ? a : b),
  eq: (a, b) => B(a === b),
  ne: (a, b) => B(a !== b),
  lt: (a, b) => B(a < b),
  le: (a, b) => B(a <= b),
  gt: (a, b) => B(a > b),
  ge: (a, b) => B(a >= b),
  logicalAnd: (a, b) => B(a !== 0n && b !== 0n),
  logicalOr: (a, b) => B(a !== 0n || b !== 0n),
  logicalXor: (a, b) => B((a !== 0n) !== (b !== 0n)),
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
  return Object.hasOwn(BINARY, op);
}

/** Whether unary `op` has an exact bigint kernel here. */
export function hasBigUnary(op: string): boolean {
  return Object.hasOwn(UNARY, op);
}

/** Store `v` (already the exact result) into `out` at `o`: wrapped for i64, 0/1 for bool. */
function store(out: TensorView, arr: TypedArray, o: number, v: Big): void {
  if (out.dtype === "i64") (arr as BigInt64Array)[o] = wrap(v);
  else arr[o] = v !== 0n ? 1 : 0;
}

/** Offsets of `t`'s elements broadcast to `shape` by `strides`, in C order. */
function offs(shape: readonly number[], strides: readonly number[], offset: number) {
  return stridedOffsets(shape, strides, offset);
}

/**
 * Elementwise binary `op` of `x`, `y` (broadcast by `xs`, `ys`, strides already for the output's
 * shape) into `out`, exactly.
 */
export function bigBinary(
  op: BinaryOp,
  x: TensorView,
  y: TensorView,
  out: TensorView,
  xs: readonly number[],
  ys: readonly number[],
): void {
  const f = BINARY[op]!;
  const gx = bigReader(x), gy = bigReader(y), O = typed(out);
  const ox = offs(out.shape, xs, x.offset), oy = offs(out.shape, ys, y.offset);
  const oo = offs(out.shape, out.strides, out.offset);
  for (let i = 0; i < oo.length; i++) store(out, O, oo[i], f(gx(ox[i]), gy(oy[i])));
}

/** Elementwise unary `op` of `x` (strides `xs` for the output's shape) into `out`, exactly. */
export function bigUnary(
  op: UnaryOp,
  x: TensorView,
  out: TensorView,
  xs: readonly number[],
  p: UnaryAttrs,
): void {
  const f = UNARY[op]!;
  const gx = bigReader(x), O = typed(out);
  const ox = offs(out.shape, xs, x.offset), oo = offs(out.shape, out.strides, out.offset);
  for (let i = 0; i < oo.length; i++) store(out, O, oo[i], f(gx(ox[i]), p));
}

// ---- reductions ------------------------------------------------------------------------------

/** The reductions with an exact i64 kernel: on an i64 input. */
const REDUCE = new Set(["sum", "prod", "max", "min", "argmax", "argmin", "cumsum", "cumprod"]);

/** Whether reduction `op` on `x` into `out` takes the exact path. */
export function isBigReduce(op: string, x: TensorView, out: TensorView): boolean {
  return REDUCE.has(op) && x.dtype === "i64" && out.dtype === "i64";
}

/** Every line of `x` over `axes` as bigints, in order; `each(i, line)` for output element i. */
function eachLine(x: TensorView, axes: number[], each: (i: number, line: Big[]) => void): void {
  const a = typed(x) as BigInt64Array;
  const g = geometry(x.shape, x.strides, x.offset, axes);
  const line = new Array<Big>(g.n);
  for (let i = 0; i < g.outer.length; i++) {
    const base = g.outer[i];
    if (g.inner === null) { for (let j = 0, p = base; j < g.n; j++, p += g.step) line[j] = a[p]; }
    else for (let j = 0; j < g.n; j++) line[j] = a[base + g.inner[j]];
    each(i, line);
  }
}

function lineOf(op: string): (l: Big[]) => Big {
  switch (op) {
    case "sum":
      return (l) => l.reduce((s, v) => s + v, 0n);
    case "prod":
      return (l) => l.reduce((s, v) => wrap(s * v), 1n);
    case "max":
      return (l) => l.reduce((m, v) => (v > m ? v : m));
    case "min":
      return (l) => l.reduce((m, v) => (v < m ? v : m));
    case "argmax":
    case "argmin": {
      const gt = op === "argmax";
      return (l) => {
        let best = 0;
        for (let j = 1; j < l.length; j++) if (gt ? l[j] > l[best] : l[j] < l[best]) best = j;
        return BigInt(best);
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
  eachLine(x, call.attrs.axes, (i, l) => store(out, O, oo[i], f(l)));
}

/** cumsum/cumprod of an i64 input along `attrs.axis` (null: the flat array), exactly. */
export function bigScan(product: boolean, call: KernelCall<{ axis: number | null }>): void {
  const [x] = call.inputs, [out] = call.outputs;
  const axis = call.attrs.axis;
  const axes = axis === null ? [...x.shape.keys()] : [axis];
  const O = typed(out);
  const oShape = out.shape, oAxes = axis === null ? [0] : [axis];
  const go = geometry(oShape, out.strides, out.offset, oAxes);
  eachLine(x, axes, (i, l) => {
    let acc = product ? 1n : 0n;
    for (let j = 0; j < l.length; j++) {
      acc = wrap(product ? acc * l[j] : acc + l[j]);
      const o = go.inner === null ? go.outer[i] + j * go.step : go.outer[i] + go.inner[j];
      store(out, O, o, acc);
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
