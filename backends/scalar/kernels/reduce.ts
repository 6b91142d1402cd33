/**
 * Scalar kernels of the reduce family: sum, prod, mean, var/std, min/max, argmin/argmax, any/all,
 * logsumexp, vector p-norms, cumsum/cumprod, and fused softmax/logSoftmax.
 *
 * Every kernel reads its input in place through its strides (views, transposes, negative strides,
 * broadcast stride 0): the reduced axes are walked as one strided line when they coalesce, else
 * through a table of offsets. Values are accumulated in float64 (f64 sums with Neumaier
 * compensation) and rounded once on store. bf16 inputs are first decoded to float64; i64 inputs
 * into i64 results (sum, prod, max, min, argmax, argmin, cumsum, cumprod) are reduced in BigInt
 * (int64.ts), exact and wrapping like NumPy's int64; i64 into float results (mean, var, ...) is
 * decoded to float64 first. Integer products of narrower ints switch to BigInt when they leave
 * 2^53.
 *
 * @module
 */
import type {
  KernelCall,
  KernelFn,
  ScalarKernelTable,
  TensorView,
} from "../../../core/backend/plugin.ts";
import { contiguousStrides, readF64, typed, writeF64 } from "../util.ts";
import { type Geometry, geometry, type Offsets } from "../../cpu/lines.ts";
import { bigReduce, bigScan, isBigReduce } from "./int64.ts";
export { type Geometry, geometry, type Offsets };

/** Elements of an input readable as plain numbers, with the strides to walk them. */
export interface Source {
  /** The elements (the input's storage, or a float64 decoding of it for i64/bf16). */
  a: ArrayLike<number>;
  /** Offset of the first element in `a`. */
  offset: number;
  /** Element strides in `a`. */
  strides: readonly number[];
}

/** The input's elements as plain numbers: in place for most dtypes, decoded for i64/bf16. */
export function source(t: TensorView): Source {
  if (t.dtype === "bf16" || t.dtype === "i64") {
    return { a: readF64(t), offset: 0, strides: contiguousStrides(t.shape) };
  }
  return { a: typed(t) as ArrayLike<number>, offset: t.offset, strides: t.strides };
}

/** Copy line `i` of `g` over `a` into `buf` (float64). */
export function gather(a: ArrayLike<number>, g: Geometry, i: number, buf: Float64Array): void {
  const base = g.outer[i], n = g.n, inner = g.inner;
  if (inner === null) {
    const s = g.step;
    for (let j = 0, o = base; j < n; j++, o += s) buf[j] = a[o];
  } else for (let j = 0; j < n; j++) buf[j] = a[base + inner[j]];
}

// ---- line reductions -------------------------------------------------------------------------

type LineFn = (b: Float64Array, n: number) => number;

/** Neumaier-compensated sum (infinities and NaN pass through). */
function sumLine(b: Float64Array, n: number): number {
  let s = 0, c = 0;
  for (let j = 0; j < n; j++) {
    const x = b[j], t = s + x;
    c += Math.abs(s) >= Math.abs(x) ? (s - t) + x : (x - t) + s;
    s = t;
  }
  return Number.isFinite(s) ? s + c : s;
}

function prodLine(b: Float64Array, n: number): number {
  let p = 1;
  for (let j = 0; j < n; j++) p *= b[j];
  return p;
}

const meanLine: LineFn = (b, n) => sumLine(b, n) / n;

function varLine(ddof: number, root: boolean): LineFn {
  return (b, n) => {
    const m = sumLine(b, n) / n;
    let s = 0;
    for (let j = 0; j < n; j++) {
      const d = b[j] - m;
      s += d * d;
    }
    const v = s / Math.max(n - ddof, 0);
    return root ? Math.sqrt(v) : v;
  };
}

function maxLine(b: Float64Array, n: number): number {
  let m = -Infinity;
  for (let j = 0; j < n; j++) {
    const x = b[j];
    if (x !== x) return NaN;
    if (x > m) m = x;
  }
  return m;
}

function minLine(b: Float64Array, n: number): number {
  let m = Infinity;
  for (let j = 0; j < n; j++) {
    const x = b[j];
    if (x !== x) return NaN;
    if (x < m) m = x;
  }
  return m;
}

/** Index of the first maximum; the first NaN wins (NumPy). */
function argmaxLine(b: Float64Array, n: number): number {
  let best = 0, m = b[0];
  if (m !== m) return 0;
  for (let j = 1; j < n; j++) {
    const x = b[j];
    if (x !== x) return j;
    if (x > m) {
      m = x;
      best = j;
    }
  }
  return best;
}

function argminLine(b: Float64Array, n: number): number {
  let best = 0, m = b[0];
  if (m !== m) return 0;
  for (let j = 1; j < n; j++) {
    const x = b[j];
    if (x !== x) return j;
    if (x < m) {
      m = x;
      best = j;
    }
  }
  return best;
}

function anyLine(b: Float64Array, n: number): number {
  for (let j = 0; j < n; j++) if (b[j] !== 0) return 1;
  return 0;
}

function allLine(b: Float64Array, n: number): number {
  for (let j = 0; j < n; j++) if (b[j] === 0) return 0;
  return 1;
}

/** log(Σ exp(x)), shifted by the max when it is finite (scipy.special.logsumexp). */
function logsumexpLine(b: Float64Array, n: number): number {
  const m = maxLine(b, n);
  if (m !== m) return NaN;
  const shift = Number.isFinite(m) ? m : 0;
  let s = 0;
  for (let j = 0; j < n; j++) s += Math.exp(b[j] - shift);
  return Math.log(s) + shift;
}

/** Vector p-norm with np.linalg.norm's meaning of p (0 counts non-zeros, ±inf max/min |x|). */
function normLine(p: number): LineFn {
  if (p === Infinity || p === -Infinity) {
    const big = p > 0;
    return (b, n) => {
      let m = big ? 0 : Infinity;
      for (let j = 0; j < n; j++) {
        const x = Math.abs(b[j]);
        if (x !== x) return NaN;
        if (big ? x > m : x < m) m = x;
      }
      return m;
    };
  }
  if (p === 0) return (b, n) => n - countZeros(b, n);
  if (p === 1) {
    return (b, n) => {
      let s = 0;
      for (let j = 0; j < n; j++) s += Math.abs(b[j]);
      return s;
    };
  }
  if (p === 2) {
    return (b, n) => {
      let s = 0;
      for (let j = 0; j < n; j++) s += b[j] * b[j];
      return Math.sqrt(s);
    };
  }
  return (b, n) => {
    let s = 0;
    for (let j = 0; j < n; j++) s += Math.abs(b[j]) ** p;
    return s ** (1 / p);
  };
}

function countZeros(b: Float64Array, n: number): number {
  let z = 0;
  for (let j = 0; j < n; j++) if (b[j] === 0) z++;
  return z;
}

// ---- kernels ---------------------------------------------------------------------------------

/** Attributes of the reductions: sorted, unique, non-negative axes to reduce. */
interface ReduceAttrs {
  axes: number[];
  ddof?: number;
  ord?: number;
}

/** A kernel applying `line(attrs)` to every reduced line and storing the results. */
function reduction(line: (attrs: ReduceAttrs) => LineFn): KernelFn {
  return (call: KernelCall<ReduceAttrs>) => {
    const [x] = call.inputs;
    const src = source(x);
    const g = geometry(x.shape, src.strides, src.offset, call.attrs.axes);
    reduceLines(src, g, line(call.attrs), call.outputs[0]);
  };
}

function reduceLines(src: Source, g: Geometry, f: LineFn, out: TensorView): void {
  const buf = new Float64Array(g.n);
  const m = g.outer.length, vals = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    gather(src.a, g, i, buf);
    vals[i] = f(buf, g.n);
  }
  writeF64(out, vals);
}

/** `sum`: reads strided lines straight from storage (no gather), f64 accumulators. */
function sum(call: KernelCall<ReduceAttrs>): void {
  const [x] = call.inputs, [out] = call.outputs;
  const src = source(x);
  const g = geometry(x.shape, src.strides, src.offset, call.attrs.axes);
  if (g.inner !== null || x.dtype === "f64") {
    reduceLines(src, g, sumLine, out);
    return;
  }
  const a = src.a, m = g.outer.length, n = g.n, s = g.step;
  const vals = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    // Four float64 partial sums: exact enough for f32/f16/int inputs, and pipelined.
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0, j = 0, o = g.outer[i];
    for (; j + 3 < n; j += 4, o += 4 * s) {
      s0 += a[o];
      s1 += a[o + s];
      s2 += a[o + 2 * s];
      s3 += a[o + 3 * s];
    }
    for (; j < n; j++, o += s) s0 += a[o];
    vals[i] = (s0 + s1) + (s2 + s3);
  }
  writeF64(out, vals);
}

/** Integer product into an i64 output, exact with NumPy's int64 wrap-around. */
function prodInt(b: Float64Array, n: number): bigint {
  let p = 1;
  let big: bigint | null = null;
  for (let j = 0; j < n; j++) {
    const v = b[j];
    if (big !== null) big = BigInt.asIntN(64, big * BigInt(v));
    else {
      const q = p * v;
      if (Math.abs(q) <= Number.MAX_SAFE_INTEGER) p = q;
      else big = BigInt.asIntN(64, BigInt(p) * BigInt(v));
    }
  }
  return big ?? BigInt(p);
}

function prod(call: KernelCall<ReduceAttrs>): void {
  const [x] = call.inputs, [out] = call.outputs;
  const src = source(x);
  const g = geometry(x.shape, src.strides, src.offset, call.attrs.axes);
  if (out.dtype !== "i64") {
    reduceLines(src, g, prodLine, out);
    return;
  }
  const buf = new Float64Array(g.n);
  const o = typed(out) as BigInt64Array;
  for (let i = 0; i < g.outer.length; i++) {
    gather(src.a, g, i, buf);
    o[out.offset + i] = prodInt(buf, g.n);
  }
}

// ---- scans and softmax -----------------------------------------------------------------------

/** Attributes of the per-line ops: the axis, or null for cumsum/cumprod over the flat array. */
interface LineAttrs {
  axis: number | null;
}

/** Input and output geometry of an op mapping each line along `axis` to a line of the output. */
function lines(x: TensorView, out: TensorView, axis: number | null) {
  const src = source(x);
  const inAxes = axis === null ? [...x.shape.keys()] : [axis];
  const g = geometry(x.shape, src.strides, src.offset, inAxes);
  const go = geometry(out.shape, contiguousStrides(out.shape), 0, axis === null ? [0] : [axis]);
  return { src, g, go };
}

function scan(product: boolean): KernelFn {
  return (call: KernelCall<LineAttrs>) => {
    const [x] = call.inputs, [out] = call.outputs;
    const { src, g, go } = lines(x, out, call.attrs.axis);
    const buf = new Float64Array(g.n);
    const m = g.outer.length, n = g.n, s = go.step;
    if (product && out.dtype === "i64") {
      const o = typed(out) as BigInt64Array;
      for (let i = 0; i < m; i++) {
        gather(src.a, g, i, buf);
        const base = out.offset + go.outer[i];
        for (let j = 0; j < n; j++) o[base + j * s] = prodInt(buf, j + 1);
      }
      return;
    }
    const vals = new Float64Array(out.size);
    for (let i = 0; i < m; i++) {
      gather(src.a, g, i, buf);
      let acc = product ? 1 : 0;
      for (let j = 0, o = go.outer[i]; j < n; j++, o += s) {
        acc = product ? acc * buf[j] : acc + buf[j];
        vals[o] = acc;
      }
    }
    writeF64(out, vals);
  };
}

/** Fused softmax / logSoftmax per line: max, Σ exp(x - max), normalize. */
function softmaxKernel(log: boolean): KernelFn {
  return (call: KernelCall<LineAttrs>) => {
    const [x] = call.inputs, [out] = call.outputs;
    const axis = call.attrs.axis as number;
    if (
      x.dtype === "f32" && out.dtype === "f32" && x.isContiguous && axis === x.ndim - 1
    ) {
      softmaxF32(x, out, log);
      return;
    }
    const { src, g, go } = lines(x, out, axis);
    const buf = new Float64Array(g.n);
    const m = g.outer.length, n = g.n, s = go.step;
    const vals = new Float64Array(out.size);
    for (let i = 0; i < m; i++) {
      gather(src.a, g, i, buf);
      const mx = maxLine(buf, n);
      const base = go.outer[i];
      let z = 0;
      if (log) {
        for (let j = 0; j < n; j++) z += Math.exp(buf[j] - mx);
        const lz = mx + Math.log(z);
        for (let j = 0, o = base; j < n; j++, o += s) vals[o] = buf[j] - lz;
      } else {
        for (let j = 0; j < n; j++) z += buf[j] = Math.exp(buf[j] - mx);
        for (let j = 0, o = base; j < n; j++, o += s) vals[o] = buf[j] / z;
      }
    }
    writeF64(out, vals);
  };
}

/** Contiguous f32 rows: exp stored once then scaled (≤ 2 f32 roundings), sums in float64. */
function softmaxF32(x: TensorView, out: TensorView, log: boolean): void {
  const a = typed(x) as Float32Array, o = typed(out) as Float32Array;
  const n = x.shape[x.ndim - 1] ?? 1;
  const rows = n === 0 ? 0 : x.size / n;
  for (let r = 0; r < rows; r++) {
    const ib = x.offset + r * n, ob = out.offset + r * n;
    let mx = -Infinity;
    for (let j = 0; j < n; j++) {
      const v = a[ib + j];
      if (v > mx || v !== v) mx = v;
      if (v !== v) break;
    }
    let z = 0;
    if (log) {
      for (let j = 0; j < n; j++) z += Math.exp(a[ib + j] - mx);
      const lz = mx + Math.log(z);
      for (let j = 0; j < n; j++) o[ob + j] = a[ib + j] - lz;
    } else {
      for (let j = 0; j < n; j++) {
        const e = Math.exp(a[ib + j] - mx);
        o[ob + j] = e;
        z += e;
      }
      const inv = 1 / z;
      for (let j = 0; j < n; j++) o[ob + j] *= inv;
    }
  }
}

/** `k`, with i64 inputs into i64 outputs reduced exactly in BigInt instead. */
function exactI64(op: string, k: KernelFn): KernelFn {
  return (call: KernelCall) => {
    if (!isBigReduce(op, call.inputs[0], call.outputs[0])) return k(call);
    if (op === "cumsum" || op === "cumprod") {
      return bigScan(op === "cumprod", call as unknown as KernelCall<LineAttrs>);
    }
    bigReduce(op, call as unknown as KernelCall<ReduceAttrs>);
  };
}

/** Scalar kernels of the reduce family, by op name. */
export const kernels = {
  sum: exactI64("sum", sum as KernelFn),
  prod: exactI64("prod", prod as KernelFn),
  mean: reduction(() => meanLine),
  var: reduction((a) => varLine(a.ddof ?? 0, false)),
  std: reduction((a) => varLine(a.ddof ?? 0, true)),
  max: exactI64("max", reduction(() => maxLine)),
  min: exactI64("min", reduction(() => minLine)),
  argmax: exactI64("argmax", reduction(() => argmaxLine)),
  argmin: exactI64("argmin", reduction(() => argminLine)),
  any: reduction(() => anyLine),
  all: reduction(() => allLine),
  logsumexp: reduction(() => logsumexpLine),
  norm: reduction((a) => normLine(a.ord ?? 2)),
  cumsum: exactI64("cumsum", scan(false)),
  cumprod: exactI64("cumprod", scan(true)),
  softmax: softmaxKernel(false),
  logSoftmax: softmaxKernel(true),
} satisfies Partial<ScalarKernelTable>;
