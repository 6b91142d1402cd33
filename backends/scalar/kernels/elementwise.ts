/**
 * Scalar kernels of the elementwise family, generated from two tables (like candle's
 * `unary_op!`/`bin_op!`): one row per op giving its math on JS numbers, with integer variants
 * where NumPy's integer loops differ from the float formula (floor division, modulo, exact
 * wrapping products and powers).
 *
 * Every kernel walks the output in C order one row (innermost run after merging axes) at a time,
 * reading inputs through their broadcast strides (stride 0 on broadcast axes, no materialized
 * copies). Values are read as float64, computed in float64, and rounded once on store, so
 * f32/f16/bf16 results are correctly rounded and integer results wrap like NumPy's
 * (int8 100 + 100 = -56). Integer ops with an i64 operand or result and an exact integer
 * meaning (arithmetic, floor division, modulo, powers, min/max, comparisons, neg/abs/clip, ...)
 * run in BigInt (int64.ts): exact, wrapping like NumPy's int64.
 * Contiguous or broadcast add/sub/mul/div whose operands and output share one float dtype run
 * plain typed-array loops.
 *
 * @module
 */
import type {
  KernelCall,
  KernelFn,
  ScalarKernelTable,
  TensorView,
} from "../../../core/backend/plugin.ts";
import type { BinaryOp, UnaryAttrs, UnaryOp } from "../../../core/ops/contracts/mod.ts";
import {
  type DType,
  DTYPES,
  fromBF16Bits,
  toBF16Bits,
  type TypedArray,
} from "../../../core/dtype.ts";
import { DTypeError } from "../../../core/errors.ts";
import { broadcastStrides } from "../../../core/shape.ts";
import { floatToI64, typed } from "../util.ts";
import { bigBinaryRow, bigUnaryRow, hasBigBinary, hasBigUnary, isBigCall } from "./int64.ts";

// ---- math ------------------------------------------------------------------------------------

type UnaryFn = (x: number, p: UnaryAttrs) => number;
type BinaryFn = (a: number, b: number) => number;

/** Float semantics in `f`; `int` replaces it for integer outputs, `int32` for ≤ 32-bit ones. */
interface Row<F> {
  f: F;
  int?: F;
  int32?: F;
}

// W. J. Cody, "Rational Chebyshev approximations for the error function", Math. Comp. 1969
// (netlib specfun CALERF): relative error below 1e-16 in float64 on every interval.
const ERF_A = [3.1611237438705656, 113.864154151050156, 377.485237685302021, 3209.37758913846947];
const ERF_A4 = 0.185777706184603153;
const ERF_B = [23.6012909523441209, 244.024637934444173, 1282.61652607737228, 2844.23683343917062];
const ERF_C = [
  0.564188496988670089,
  8.88314979438837594,
  66.1191906371416295,
  298.635138197400131,
  881.95222124176909,
  1712.04761263407058,
  2051.07837782607147,
  1230.33935479799725,
];
const ERF_C8 = 2.15311535474403846e-8;
const ERF_D = [
  15.7449261107098347,
  117.693950891312499,
  537.181101862009858,
  1621.38957456669019,
  3290.79923573345963,
  4362.61909014324716,
  3439.36767414372164,
  1230.33935480374942,
];
const ERF_P = [
  0.305326634961232344,
  0.360344899949804439,
  0.125781726111229246,
  0.0160837851487422766,
  6.58749161529837803e-4,
];
const ERF_P5 = 0.0163153871373020978;
const ERF_Q = [
  2.56852019228982242,
  1.87295284992346047,
  0.527905102951428412,
  0.0605183413124413191,
  0.00233520497626869185,
];
const SQRT_1_PI = 0.56418958354775628695;

/** exp(-y²), split as exp(-h²)·exp(-(y-h)(y+h)) with h = y rounded to 1/16 (Cody's trick). */
function expNegSquare(y: number): number {
  const ysq = Math.trunc(y * 16) / 16;
  const del = (y - ysq) * (y + ysq);
  return Math.exp(-ysq * ysq) * Math.exp(-del);
}

/** The error function, by Cody's rational approximations. */
function erf(x: number): number {
  const y = Math.abs(x);
  if (y <= 0.46875) {
    const ysq = y > 1.11e-16 ? y * y : 0;
    let num = ERF_A4 * ysq, den = ysq;
    for (let i = 0; i < 3; i++) {
      num = (num + ERF_A[i]) * ysq;
      den = (den + ERF_B[i]) * ysq;
    }
    return x * (num + ERF_A[3]) / (den + ERF_B[3]);
  }
  let erfc: number;
  if (y <= 4) {
    let num = ERF_C8 * y, den = y;
    for (let i = 0; i < 7; i++) {
      num = (num + ERF_C[i]) * y;
      den = (den + ERF_D[i]) * y;
    }
    erfc = expNegSquare(y) * (num + ERF_C[7]) / (den + ERF_D[7]);
  } else if (y >= 26.543) {
    erfc = 0;
  } else {
    // Also reached by NaN, which propagates.
    const ysq = 1 / (y * y);
    let num = ERF_P5 * ysq, den = ysq;
    for (let i = 0; i < 4; i++) {
      num = (num + ERF_P[i]) * ysq;
      den = (den + ERF_Q[i]) * ysq;
    }
    const r = ysq * (num + ERF_P[4]) / (den + ERF_Q[4]);
    erfc = expNegSquare(y) * (SQRT_1_PI - r) / y;
  }
  const r = (0.5 - erfc) + 0.5;
  return x < 0 ? -r : r;
}

/** Round half to even (NumPy's `round`/`rint`), keeping the sign of zero. */
function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  const r = d < 0.5 ? f : d > 0.5 ? f + 1 : f % 2 === 0 ? f : f + 1;
  return r === 0 ? (x < 0 || Object.is(x, -0) ? -0 : 0) : r;
}

/** Float floor division exactly as NumPy's `npy_divmod` computes it. */
function floorDivFloat(a: number, b: number): number {
  if (b === 0) return a / b;
  const mod = a % b;
  let div = (a - mod) / b;
  if (mod !== 0 && (b < 0) !== (mod < 0)) div -= 1;
  if (div !== 0) {
    const fl = Math.floor(div);
    return div - fl > 0.5 ? fl + 1 : fl;
  }
  return a / b < 0 || Object.is(a / b, -0) ? -0 : 0;
}

/** Float remainder with the sign of the divisor (NumPy's `remainder`). */
function modFloat(a: number, b: number): number {
  const mod = a % b;
  if (b === 0) return mod;
  if (mod !== 0) return (b < 0) !== (mod < 0) ? mod + b : mod;
  return b < 0 ? -0 : 0;
}

/** C's `pow`: 1 for x = 1 or (x = -1, y = ±inf), where JS's Math.pow gives NaN. */
function powFloat(a: number, b: number): number {
  if (a === 1 || (a === -1 && (b === Infinity || b === -Infinity))) return 1;
  return Math.pow(a, b);
}

function negativePower(): never {
  throw new DTypeError(
    "pow: integers to negative integer powers are not allowed (NumPy raises too). " +
      'Hint: cast the base to a float dtype first, e.g. x.astype("f64").pow(y).',
  );
}

/** Integer power by squaring, wrapping modulo 2^32 like NumPy's 32-bit and narrower loops. */
function powInt32(a: number, b: number): number {
  if (b < 0) negativePower();
  let r = 1, base = a | 0;
  for (let e = b; e > 0; e = Math.floor(e / 2)) {
    if (e % 2 === 1) r = Math.imul(r, base);
    base = Math.imul(base, base);
  }
  return r;
}

/** log(eᵃ + eᵇ) as NumPy's npy_logaddexp: equal operands (equal infinities too) give a + ln 2. */
function logAddExp(a: number, b: number): number {
  if (a === b) return a + Math.LN2;
  const d = a - b;
  if (d > 0) return a + Math.log1p(Math.exp(-d));
  if (d <= 0) return b + Math.log1p(Math.exp(d));
  return d; // NaN
}

const SELU_ALPHA = 1.6732632423543772848170429916717;
const SELU_SCALE = 1.0507009873554804934193349852946;
const SQRT_2_PI = Math.sqrt(2 / Math.PI);

function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** log(1 + exp(x)) without overflow. */
function softplus1(x: number): number {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

const UNARY: Record<UnaryOp, Row<UnaryFn>> = {
  neg: { f: (x) => -x },
  abs: { f: Math.abs },
  sign: { f: (x) => (x > 0 ? 1 : x < 0 ? -1 : x === 0 ? 0 : x) },
  exp: { f: Math.exp },
  expm1: { f: Math.expm1 },
  log: { f: Math.log },
  log1p: { f: Math.log1p },
  log2: { f: Math.log2 },
  sqrt: { f: Math.sqrt },
  rsqrt: { f: (x) => 1 / Math.sqrt(x) },
  square: { f: (x) => x * x, int32: (x) => Math.imul(x, x) },
  sin: { f: Math.sin },
  cos: { f: Math.cos },
  tan: { f: Math.tan },
  asin: { f: Math.asin },
  acos: { f: Math.acos },
  atan: { f: Math.atan },
  sinh: { f: Math.sinh },
  cosh: { f: Math.cosh },
  tanh: { f: Math.tanh },
  erf: { f: erf },
  sigmoid: { f: sigmoid },
  // NaN propagates through the activations, as np.maximum(x, 0) and PyTorch do.
  relu: { f: (x) => (x < 0 ? 0 : x) },
  leakyRelu: { f: (x, p) => (x < 0 ? x * p.negativeSlope! : x) },
  elu: { f: (x, p) => (x < 0 ? p.alpha! * Math.expm1(x) : x) },
  selu: { f: (x) => SELU_SCALE * (x < 0 ? SELU_ALPHA * Math.expm1(x) : x) },
  gelu: {
    f: (x, p) =>
      p.approximate === "tanh"
        ? 0.5 * x * (1 + Math.tanh(SQRT_2_PI * (x + 0.044715 * x * x * x)))
        : 0.5 * x * (1 + erf(x / Math.SQRT2)),
  },
  silu: { f: (x) => x * sigmoid(x) },
  mish: { f: (x) => x * Math.tanh(softplus1(x)) },
  hardswish: { f: (x) => (x * Math.min(Math.max(x + 3, 0), 6)) / 6 },
  softplus: {
    // PyTorch: the identity above the threshold, for numerical stability.
    f: (x, p) => (x * p.beta! > p.threshold! ? x : softplus1(x * p.beta!) / p.beta!),
  },
  clip: { f: (x, p) => Math.min(Math.max(x, p.min!), p.max!) },
  round: { f: roundHalfEven },
  floor: { f: Math.floor },
  ceil: { f: Math.ceil },
  isnan: { f: (x) => (Number.isNaN(x) ? 1 : 0) },
  isinf: { f: (x) => (x === Infinity || x === -Infinity ? 1 : 0) },
  isfinite: { f: (x) => (Number.isFinite(x) ? 1 : 0) },
  logicalNot: { f: (x) => (x === 0 ? 1 : 0) },
};

const BINARY: Record<BinaryOp, Row<BinaryFn>> = {
  add: { f: (a, b) => a + b },
  sub: { f: (a, b) => a - b },
  mul: { f: (a, b) => a * b, int32: Math.imul },
  div: { f: (a, b) => a / b },
  // NumPy's integer loops: division by zero gives 0, the remainder takes the divisor's sign.
  floorDiv: { f: floorDivFloat, int: (a, b) => (b === 0 ? 0 : Math.floor(a / b)) },
  mod: {
    f: modFloat,
    int: (a, b) => {
      if (b === 0) return 0;
      const r = a % b;
      return r !== 0 && (r < 0) !== (b < 0) ? r + b : r;
    },
  },
  pow: {
    f: powFloat,
    int: (a, b) => (b < 0 ? negativePower() : Math.pow(a, b)),
    int32: powInt32,
  },
  atan2: { f: Math.atan2 },
  logaddexp: { f: logAddExp },
  // NumPy's choice: a NaN in either operand propagates; between -0 and 0 the second wins.
  minimum: { f: (a, b) => (a < b || Number.isNaN(a) ? a : b) },
  maximum: { f: (a, b) => (a > b || Number.isNaN(a) ? a : b) },
  eq: { f: (a, b) => (a === b ? 1 : 0) },
  ne: { f: (a, b) => (a !== b ? 1 : 0) },
  lt: { f: (a, b) => (a < b ? 1 : 0) },
  le: { f: (a, b) => (a <= b ? 1 : 0) },
  gt: { f: (a, b) => (a > b ? 1 : 0) },
  ge: { f: (a, b) => (a >= b ? 1 : 0) },
  // Truthiness like NumPy: anything but 0 (NaN included) is true.
  logicalAnd: { f: (a, b) => (a !== 0 && b !== 0 ? 1 : 0) },
  logicalOr: { f: (a, b) => (a !== 0 || b !== 0 ? 1 : 0) },
  logicalXor: { f: (a, b) => ((a !== 0) !== (b !== 0) ? 1 : 0) },
};

/** The row's function for an output of `dtype`. */
function pick<F>(row: Row<F>, dtype: DType): F {
  const info = DTYPES[dtype];
  if (info.kind === "float") return row.f;
  if (info.bits <= 32 && row.int32) return row.int32;
  return row.int ?? row.f;
}

// ---- iteration -------------------------------------------------------------------------------

/** Elements per chunk of the gather → compute → scatter pipeline. */
const CHUNK = 1024;
const bufX = new Float64Array(CHUNK);
const bufY = new Float64Array(CHUNK);
const bufZ = new Float64Array(CHUNK);

/**
 * Walk `shape` in C order, one innermost row at a time, for several operands given by their
 * strides (already broadcast to `shape`). Axes of length 1 are dropped and neighbouring axes
 * that are contiguous in every operand are merged, so contiguous data is a single row.
 * `row(bases, steps, len)` gets each operand's offset of the row's first element and its step.
 */
function forEachRow(
  shape: readonly number[],
  strides: readonly (readonly number[])[],
  offsets: readonly number[],
  row: (bases: number[], steps: number[], len: number) => void,
): void {
  const k = strides.length;
  const dims: number[] = [];
  const st: number[][] = strides.map(() => []);
  for (let ax = 0; ax < shape.length; ax++) {
    const d = shape[ax];
    if (d === 0) return;
    if (d === 1) continue;
    const last = dims.length - 1;
    if (last >= 0 && strides.every((s, j) => st[j][last] === s[ax] * d)) {
      dims[last] *= d;
      for (let j = 0; j < k; j++) st[j][last] = strides[j][ax];
    } else {
      dims.push(d);
      for (let j = 0; j < k; j++) st[j].push(strides[j][ax]);
    }
  }
  const bases = [...offsets];
  if (dims.length === 0) {
    row(bases, new Array(k).fill(0), 1);
    return;
  }
  const inner = dims.length - 1, len = dims[inner];
  const steps = st.map((s) => s[inner]);
  const idx = new Array<number>(inner).fill(0);
  for (;;) {
    row(bases, steps, len);
    let ax = inner - 1;
    for (; ax >= 0; ax--) {
      for (let j = 0; j < k; j++) bases[j] += st[j][ax];
      if (++idx[ax] < dims[ax]) break;
      for (let j = 0; j < k; j++) bases[j] -= st[j][ax] * dims[ax];
      idx[ax] = 0;
    }
    if (ax < 0) return;
  }
}

/** Read `n` elements (offset `o`, step `s`) of a typed array of `dtype` as float64. */
function gather(arr: TypedArray, dtype: DType, o: number, s: number, n: number, buf: Float64Array) {
  if (dtype === "bf16") {
    for (let i = 0; i < n; i++, o += s) buf[i] = fromBF16Bits(arr[o] as number);
  } else if (dtype === "i64") {
    const a = arr as BigInt64Array;
    for (let i = 0; i < n; i++, o += s) buf[i] = Number(a[o]);
  } else if (s === 1) {
    // Native conversion: much faster than an element loop that sees every typed array class.
    buf.set((arr as Float64Array).subarray(o, o + n));
  } else {
    const a = arr as Float64Array;
    for (let i = 0; i < n; i++, o += s) buf[i] = a[o];
  }
}

/**
 * Store `n` float64 values (offset `o`, step `s`) cast to `dtype`: floats round to nearest even,
 * integers truncate and wrap (the typed array's conversion), bool is `v != 0`.
 */
function scatter(
  arr: TypedArray,
  dtype: DType,
  o: number,
  s: number,
  n: number,
  buf: Float64Array,
) {
  switch (dtype) {
    case "bf16":
      for (let i = 0; i < n; i++, o += s) arr[o] = toBF16Bits(buf[i]);
      return;
    case "i64": {
      const a = arr as BigInt64Array;
      for (let i = 0; i < n; i++, o += s) {
        a[o] = floatToI64(buf[i]);
      }
      return;
    }
    case "bool":
      for (let i = 0; i < n; i++, o += s) arr[o] = buf[i] !== 0 ? 1 : 0;
      return;
    default: {
      const a = arr as Float64Array;
      if (s === 1) a.set(n === buf.length ? buf : buf.subarray(0, n), o);
      else for (let i = 0; i < n; i++, o += s) a[o] = buf[i];
    }
  }
}

/** Strides of `t` read as if broadcast to `shape`. */
function stridesFor(t: TensorView, shape: readonly number[]): number[] {
  return broadcastStrides(t.shape, t.strides, shape);
}

// ---- kernels ---------------------------------------------------------------------------------

function unaryKernel(name: UnaryOp, row: Row<UnaryFn>): KernelFn {
  const big = hasBigUnary(name);
  return (call: KernelCall<UnaryAttrs>) => {
    const [x] = call.inputs, [out] = call.outputs;
    if (big && isBigCall(call.inputs, out)) {
      const row = bigUnaryRow(name, x.dtype, out.dtype, call.attrs ?? {});
      const X = typed(x), O = typed(out);
      forEachRow(
        out.shape,
        [out.strides, stridesFor(x, out.shape)],
        [out.offset, x.offset],
        ([oo, xo], [os, xs], len) => row(X, xo, xs, O, oo, os, len),
      );
      return;
    }
    const f = pick(row, out.dtype), p = call.attrs ?? {};
    const X = typed(x), O = typed(out);
    forEachRow(
      out.shape,
      [out.strides, stridesFor(x, out.shape)],
      [out.offset, x.offset],
      ([oo, xo], [os, xs], len) => {
        for (let s = 0; s < len; s += CHUNK) {
          const n = Math.min(CHUNK, len - s);
          gather(X, x.dtype, xo + s * xs, xs, n, bufX);
          for (let i = 0; i < n; i++) bufZ[i] = f(bufX[i], p);
          scatter(O, out.dtype, oo + s * os, os, n, bufZ);
        }
      },
    );
  };
}

type Arith = "add" | "sub" | "mul" | "div";
type FloatArray = Float32Array | Float64Array | Float16Array;

/** add/sub/mul/div on one float dtype straight from typed array to typed array. */
function arithRow(
  op: Arith,
  z: FloatArray,
  zo: number,
  zs: number,
  x: FloatArray,
  xo: number,
  xs: number,
  y: FloatArray,
  yo: number,
  ys: number,
  n: number,
): void {
  if (zs === 1 && xs === 1 && ys === 1) {
    // Contiguous rows: zero-based views make the tightest loop V8 compiles.
    const c = z.subarray(zo, zo + n), a = x.subarray(xo, xo + n), b = y.subarray(yo, yo + n);
    switch (op) {
      case "add":
        for (let i = 0; i < n; i++) c[i] = a[i] + b[i];
        return;
      case "sub":
        for (let i = 0; i < n; i++) c[i] = a[i] - b[i];
        return;
      case "mul":
        for (let i = 0; i < n; i++) c[i] = a[i] * b[i];
        return;
      case "div":
        for (let i = 0; i < n; i++) c[i] = a[i] / b[i];
        return;
    }
  }
  switch (op) {
    case "add":
      for (let i = 0; i < n; i++, zo += zs, xo += xs, yo += ys) z[zo] = x[xo] + y[yo];
      return;
    case "sub":
      for (let i = 0; i < n; i++, zo += zs, xo += xs, yo += ys) z[zo] = x[xo] - y[yo];
      return;
    case "mul":
      for (let i = 0; i < n; i++, zo += zs, xo += xs, yo += ys) z[zo] = x[xo] * y[yo];
      return;
    case "div":
      for (let i = 0; i < n; i++, zo += zs, xo += xs, yo += ys) z[zo] = x[xo] / y[yo];
  }
}

function binaryKernel(name: string, row: Row<BinaryFn>): KernelFn {
  const arith = name === "add" || name === "sub" || name === "mul" || name === "div"
    ? name as Arith
    : null;
  const big = hasBigBinary(name);
  return (call: KernelCall) => {
    const [x, y] = call.inputs, [out] = call.outputs;
    if (big && isBigCall(call.inputs, out)) {
      const row = bigBinaryRow(name as BinaryOp, x.dtype, y.dtype, out.dtype);
      const X = typed(x), Y = typed(y), O = typed(out);
      forEachRow(
        out.shape,
        [out.strides, stridesFor(x, out.shape), stridesFor(y, out.shape)],
        [out.offset, x.offset, y.offset],
        ([oo, xo, yo], [os, xs, ys], len) => row(X, xo, xs, Y, yo, ys, O, oo, os, len),
      );
      return;
    }
    const f = pick(row, out.dtype);
    const X = typed(x), Y = typed(y), O = typed(out);
    const d = out.dtype;
    const fast = arith !== null && x.dtype === d && y.dtype === d &&
      (d === "f32" || d === "f64" || d === "f16");
    forEachRow(
      out.shape,
      [out.strides, stridesFor(x, out.shape), stridesFor(y, out.shape)],
      [out.offset, x.offset, y.offset],
      ([oo, xo, yo], [os, xs, ys], len) => {
        if (fast) {
          const z = O as FloatArray;
          arithRow(arith!, z, oo, os, X as FloatArray, xo, xs, Y as FloatArray, yo, ys, len);
          return;
        }
        for (let s = 0; s < len; s += CHUNK) {
          const n = Math.min(CHUNK, len - s);
          gather(X, x.dtype, xo + s * xs, xs, n, bufX);
          gather(Y, y.dtype, yo + s * ys, ys, n, bufY);
          for (let i = 0; i < n; i++) bufZ[i] = f(bufX[i], bufY[i]);
          scatter(O, d, oo + s * os, os, n, bufZ);
        }
      },
    );
  };
}

/** A kernel per row of `rows`, keyed like it (so the table's type keeps every declared name). */
function mapRows<K extends string, R>(
  rows: Record<K, R>,
  make: (name: K, row: R) => KernelFn,
): Record<K, KernelFn> {
  const out = {} as Record<K, KernelFn>;
  for (const k of Object.keys(rows) as K[]) out[k] = make(k, rows[k]);
  return out;
}

/** Scalar kernels of the elementwise family, by op name: one per declared unary and binary op. */
export const kernels = {
  ...mapRows(UNARY, (k, row) => unaryKernel(k, row)),
  ...mapRows(BINARY, (k, row) => binaryKernel(k, row)),
} satisfies Partial<ScalarKernelTable>;
