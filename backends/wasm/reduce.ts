/**
 * Reductions (sum, mean, max, min, argmax, argmin) along any axes and fused softmax /
 * logSoftmax along one axis, f32 and f64, over tensors in the WASM heap (src/reduce.c).
 *
 * The input is walked as lines (the scalar backend's `geometry`: one start per kept index, the
 * reduced axes as one strided line when they coalesce, else a table of offsets). Lines are
 * spread over the worker pool; one long line (a full reduction, or softmax of a 1-D tensor) is
 * cut into chunks whose partial results are combined here: max, then Σ exp(x − max), then the
 * normalization, three short jobs.
 *
 * @module
 */
import type { KernelCall, OpKernelTable, TensorView } from "../../core/backend/plugin.ts";
import { byteOffset } from "../../core/dtype.ts";
import { geometry } from "../cpu/lines.ts";
import { contiguousStrides } from "../../core/shape.ts";
import { inWasmHeap } from "./gemm.ts";
import {
  address,
  beginJob,
  heapScratch,
  heapTable,
  JOB_IA,
  KIND,
  plan,
  runPar,
  W,
} from "../cpu/jobs.ts";
import { loadRuntime } from "../cpu/runtime.ts";

const R = {
  sum: 0,
  mean: 0,
  max: 1,
  min: 2,
  argmax: 3,
  argmin: 4,
  var: 5,
  std: 5,
  prod: 6,
  logsumexp: 7,
  norm: 8,
  any: 9,
  all: 10,
} as Record<string, number>;
/** Elements from which the pool is used (reductions are memory-bound). */
const PAR_MIN = 1 << 17;
/** Softmax: an exp per element, so threads pay off sooner. */
const PAR_MIN_SOFTMAX = 1 << 15;

function isFloat(t: TensorView): boolean {
  return t.dtype === "f32" || t.dtype === "f64";
}

function reduceSupports(op: string) {
  return (call: KernelCall<{ axes: number[]; ord?: number }>): boolean => {
    const [x] = call.inputs, [out] = call.outputs;
    const logical = op === "any" || op === "all";
    if (!x || !out || !(isFloat(x) || (logical && x.dtype === "bool")) || x.size >= 2 ** 31) {
      return false;
    }
    // vector norms of every order but NaN (np.linalg.norm's ord; general ones through pow64)
    if (op === "norm" && Number.isNaN(call.attrs.ord ?? 2)) return false;
    const want = op === "argmax" || op === "argmin" ? "i64" : logical ? "bool" : x.dtype;
    return out.dtype === want && out.isContiguous && inWasmHeap(x) && inWasmHeap(out);
  };
}

interface Partial {
  v: number;
  i: number;
}

/** Whether line starts are 0, 1, 2, ... (the kept elements adjacent in memory). */
function adjacent(outer: ArrayLike<number>): boolean {
  for (let i = 0; i < outer.length; i++) if (outer[i] !== i) return false;
  return true;
}

/** A strided operand in the heap: byte address of element 0, shape, element strides. */
interface Operand {
  addr: number;
  shape: readonly number[];
  strides: readonly number[];
}

/**
 * The reduced axes at the end of `axes` that read as one strided line (length-1 axes skipped),
 * or null when all of `axes` do (then one pass suffices).
 */
function trailingGroup(x: Operand, axes: readonly number[]): number[] | null {
  const red = [...axes].sort((a, b) => a - b).filter((a) => x.shape[a] !== 1);
  if (red.length <= 1) return null;
  const group = [red[red.length - 1]];
  for (let i = red.length - 2; i >= 0; i--) {
    const a = red[i], b = group[0];
    // Axes a < b coalesce when nothing kept lies between them and a's stride spans b's run.
    const between = x.shape.slice(a + 1, b).every((d, j) => d === 1 || axes.includes(a + 1 + j));
    if (!between || x.strides[a] !== x.strides[b] * x.shape[b]) break;
    group.unshift(a);
  }
  return group.length === red.length ? null : group;
}

/**
 * Reduce `x` along `axes` into the contiguous output at `out` (kind `outKind`: 0 f32, 1 f64,
 * 2 i64 index), dividing results by `div`. Axes that do not read as one strided line are done in
 * two passes for sum/max/min (the trailing group into heap scratch, then the rest), so that each
 * pass walks strided lines instead of a table of offsets.
 */
function reduceInto(
  op: string,
  x: Operand,
  dtype: 0 | 1 | 2,
  axes: readonly number[],
  out: number,
  outKind: number,
  div: number,
  param = 0,
): void {
  const code = R[op];
  // Line-wise only: these do not combine from partial lines here.
  const whole = op === "argmax" || op === "argmin" || code >= R.var;
  const group = whole ? null : trailingGroup(x, axes);
  if (group) {
    const keep = x.shape.map((_, i) => i).filter((i) => !group.includes(i));
    const tshape = keep.map((i) => x.shape[i]);
    const bytes = dtype ? 8 : 4;
    const tmp = heapScratch(Math.max(1, tshape.reduce((a, b) => a * b, 1)) * bytes);
    try {
      reduceInto(op === "mean" ? "sum" : op, x, dtype, group, tmp.ptr, dtype, 1);
      const rest = axes.filter((a) => !group.includes(a)).map((a) => keep.indexOf(a));
      const tstrides = contiguousStrides(tshape);
      reduceInto(
        op === "mean" ? "sum" : op,
        {
          addr: tmp.ptr,
          shape: tshape,
          strides: tstrides,
        },
        dtype,
        rest,
        out,
        outKind,
        div,
      );
    } finally {
      tmp.free();
    }
    return;
  }
  const g = geometry(x.shape, x.strides, 0, axes);
  const nlines = g.outer.length, n = g.n;
  if (nlines === 0) return;
  // Adjacent lines that each step over the rows: reduce them a tile at a time (src/reduce.c).
  const columns = !whole && nlines > 1 && g.inner === null &&
    Math.abs(g.step) > 1 && n > 1 && adjacent(g.outer);
  const split = !whole && nlines === 1 && g.inner === null && n >= PAR_MIN;
  const p = split ? plan(n, PAR_MIN) : plan(nlines * Math.max(n, 1), PAR_MIN);
  const lines = nlines === 1 || columns ? null : heapTable(g.outer);
  const inner = g.inner ? heapTable(g.inner) : null;
  const nslots = split ? p.slots : Math.min(p.slots, nlines);
  const parts = split ? heapScratch(16 * nslots) : null;
  const bytes = dtype === 2 ? 1 : dtype ? 8 : 4;
  try {
    const v = beginJob(KIND.reduce);
    const w = v.i32;
    w[W.op] = code;
    w[W.dtype] = dtype;
    w[W.ptr] = parts ? parts.ptr : out;
    w[W.ptr + 1] = x.addr + (nlines === 1 ? g.outer[0] * bytes : 0);
    w[W.ptr + 2] = lines ? lines.ptr : 0;
    w[W.ptr + 3] = inner ? inner.ptr : 0;
    w[JOB_IA.reduce.nlines] = nlines;
    w[JOB_IA.reduce.n] = n;
    w[JOB_IA.reduce.step] = g.step;
    w[JOB_IA.reduce.outKind] = outKind;
    w[JOB_IA.reduce.split] = split ? 1 : 0;
    w[JOB_IA.reduce.lineStep] = columns ? 1 : 0;
    w[JOB_IA.reduce.columns] = columns ? 1 : 0;
    w[JOB_IA.reduce.std] = op === "std" ? 1 : 0;
    v.f64[W.fa64 + 1] = param;
    v.f64[W.fa64] = div;
    runPar(v, nslots, p.threads);
    if (!parts) return;
    const buf = new Float64Array(loadRuntime().memory.buffer, parts.ptr, 2 * nslots);
    const ps: Partial[] = [];
    for (let s = 0; s < nslots; s++) ps.push({ v: buf[2 * s], i: buf[2 * s + 1] });
    const r = combine(op, ps);
    const mem = loadRuntime().memory.buffer;
    if (outKind === 2) new BigInt64Array(mem, out, 1)[0] = BigInt(r.i);
    else if (outKind === 1) new Float64Array(mem, out, 1)[0] = r.v / div;
    else new Float32Array(mem, out, 1)[0] = r.v / div;
  } finally {
    lines?.free();
    inner?.free();
    parts?.free();
  }
}

function reduceRun(op: string) {
  const arg = op === "argmax" || op === "argmin";
  return (call: KernelCall<{ axes: number[]; ddof?: number; ord?: number }>): void => {
    const [x] = call.inputs, [out] = call.outputs;
    const axes = call.attrs.axes;
    const dtype = x.dtype === "bool" ? 2 : x.dtype === "f64" ? 1 : 0;
    const n = axes.reduce((a, ax) => a * x.shape[ax], 1);
    const operand = { addr: address(x), shape: x.shape, strides: x.strides };
    const div = op === "mean" ? n : 1;
    const param = op === "norm" ? call.attrs.ord ?? 2 : call.attrs.ddof ?? 0;
    const outKind = arg ? 2 : op === "any" || op === "all" ? 4 : dtype;
    reduceInto(op, operand, dtype, axes, address(out), outKind, div, param);
  };
}

/** Combine the partial results of one split line, slot order = element order. */
function combine(op: string, ps: Partial[]): Partial {
  if (op === "sum" || op === "mean") {
    let s = 0;
    for (const p of ps) s += p.v;
    return { v: s, i: 0 };
  }
  const isMax = op === "max" || op === "argmax";
  let best = ps[0];
  for (const p of ps) {
    if (best.v !== best.v) break; // the first NaN wins
    if (p.v !== p.v || (isMax ? p.v > best.v : p.v < best.v)) best = p;
  }
  return best;
}

function softmaxSupports(call: KernelCall<{ axis: number }>): boolean {
  const [x] = call.inputs, [out] = call.outputs;
  return !!x && !!out && isFloat(x) && out.dtype === x.dtype && x.size < 2 ** 31 &&
    inWasmHeap(x) && inWasmHeap(out);
}

/** Scans along one axis, or over the flattened array (axis null). */
function scanSupports(call: KernelCall<{ axis: number | null }>): boolean {
  return softmaxSupports(call as KernelCall<{ axis: number }>);
}

/** Line geometry of a per-line job along `axis` (input and output lines). */
function lineGeometry(x: TensorView, out: TensorView, axis: number) {
  const gi = geometry(x.shape, x.strides, 0, [axis]);
  const go = geometry(out.shape, out.strides, 0, [axis]);
  return { gi, go, nlines: gi.outer.length, n: gi.n };
}

/**
 * A softmax-kind job (src/reduce.c's softmax_slot) with the fields every use writes: op, dtype,
 * the line count, length and steps, and the pointers (to the first line when there is one line;
 * line tables 0, no split, no carry).
 */
function beginLineJob(
  x: TensorView,
  out: TensorView,
  g: ReturnType<typeof lineGeometry>,
  op: number,
): ReturnType<typeof beginJob> {
  const { gi, go, nlines, n } = g;
  const v = beginJob(KIND.softmax);
  const w = v.i32;
  w[W.op] = op;
  w[W.dtype] = x.dtype === "f64" ? 1 : 0;
  w[JOB_IA.line.nlines] = nlines;
  w[JOB_IA.line.n] = n;
  w[JOB_IA.line.step] = gi.step;
  w[JOB_IA.line.carry] = 0;
  w[JOB_IA.line.split] = 0;
  w[JOB_IA.line.outStep] = go.step;
  w[JOB_IA.line.lineStep] = 0;
  w[W.ptr] = address(out) + (nlines === 1 ? byteOffset(out.dtype, go.outer[0]) : 0);
  w[W.ptr + 1] = address(x) + (nlines === 1 ? byteOffset(x.dtype, gi.outer[0]) : 0);
  w[W.ptr + 2] = 0;
  w[W.ptr + 3] = 0;
  return v;
}

/**
 * One softmax-kind job over whole lines (src/reduce.c's softmax_slot): op 0 softmax, 1
 * logSoftmax, 2 cumsum, 3 cumprod; line start tables in the heap when there are several lines;
 * threads from `minWork` elements.
 */
function runLines(
  x: TensorView,
  out: TensorView,
  g: ReturnType<typeof lineGeometry>,
  op: number,
  minWork: number,
  carry = false,
): void {
  const { gi, go, nlines, n } = g;
  const tin = nlines === 1 ? null : heapTable(gi.outer);
  const tout = nlines === 1 ? null : heapTable(go.outer);
  try {
    const v = beginLineJob(x, out, g, op);
    const w = v.i32;
    w[JOB_IA.line.carry] = carry ? 1 : 0;
    w[W.ptr + 2] = tin ? tin.ptr : 0;
    w[W.ptr + 3] = tout ? tout.ptr : 0;
    const p = plan(nlines * n, minWork);
    runPar(v, carry ? 1 : Math.min(p.slots, nlines), carry ? 1 : p.threads);
  } finally {
    tin?.free();
    tout?.free();
  }
}

/**
 * cumsum / cumprod: each line scanned in f64 like the scalar kernel, lines over threads. The
 * flattened scan (axis null, output 1-D) is one strided line when the input's axes coalesce, else
 * its rows (last axis) in C order, scanned in one slot with the running value carried across.
 */
function scanRun(product: boolean) {
  return (call: KernelCall<{ axis: number | null }>): void => {
    const [x] = call.inputs, [out] = call.outputs;
    if (x.size === 0) return;
    const op = product ? 3 : 2, axis = call.attrs.axis;
    if (axis !== null) return runLines(x, out, lineGeometry(x, out, axis), op, PAR_MIN);
    const gi = geometry(x.shape, x.strides, 0, [...x.shape.keys()]);
    const go = geometry(out.shape, out.strides, 0, [0]);
    if (gi.inner === null) return runLines(x, out, { gi, go, nlines: 1, n: gi.n }, op, PAR_MIN);
    const rows = lineGeometry(x, x, x.ndim - 1), n = rows.n, os = out.strides[0];
    const goRows = geometry([rows.nlines, n], [n * os, os], 0, [1]);
    runLines(x, out, { ...rows, go: goRows }, op, PAR_MIN, true);
  };
}

function softmaxRun(log: boolean) {
  return (call: KernelCall<{ axis: number }>): void => {
    const [x] = call.inputs, [out] = call.outputs;
    if (x.size === 0) return;
    const g = lineGeometry(x, out, call.attrs.axis);
    const { nlines, n } = g;
    const split = nlines === 1 && n >= PAR_MIN_SOFTMAX && plan(n, PAR_MIN_SOFTMAX).threads > 1;
    if (!split) {
      runLines(x, out, g, log ? 1 : 0, PAR_MIN_SOFTMAX);
      return;
    }
    const p = plan(n, PAR_MIN_SOFTMAX);
    // Phase 0 writes each slot's max, then (f32 contiguous) each slot's min, read back by phase 1.
    const parts = heapScratch(16 * p.slots);
    try {
      const phase = (ph: number, m: number, c: number, mn = -Infinity): Float64Array => {
        const v = beginLineJob(x, out, g, log ? 1 : 0);
        const w = v.i32;
        w[JOB_IA.line.split] = 1;
        w[JOB_IA.line.phase] = ph;
        w[JOB_IA.line.parts] = parts.ptr;
        v.f64[W.fa64 + 1] = m;
        v.f64[W.fa64 + 2] = c;
        v.f64[W.fa64 + 3] = mn;
        runPar(v, p.slots, p.threads);
        return new Float64Array(loadRuntime().memory.buffer, parts.ptr, 2 * p.slots);
      };
      let m = -Infinity, mn = Infinity;
      const mm = phase(0, 0, 0);
      for (let s = 0; s < p.slots; s++) {
        const v = mm[s];
        if (v !== v) {
          m = NaN;
          break;
        }
        if (v > m) m = v;
        if (mm[p.slots + s] < mn) mn = mm[p.slots + s];
      }
      let z = 0;
      const zs = phase(1, m, 0, mn);
      for (let s = 0; s < p.slots; s++) z += zs[s];
      phase(2, m, log ? Math.log(z) : 1 / z);
    } finally {
      parts.free();
    }
  };
}

/** Reduction and softmax kernel entries by op name. */
export const reduceKernels: OpKernelTable = {
  ...Object.fromEntries(
    Object.keys(R).map((op) => [op, { supports: reduceSupports(op), run: reduceRun(op) }]),
  ),
  softmax: { supports: softmaxSupports, run: softmaxRun(false) },
  cumsum: { supports: scanSupports, run: scanRun(false) },
  cumprod: { supports: scanSupports, run: scanRun(true) },
  logSoftmax: { supports: softmaxSupports, run: softmaxRun(true) },
};
