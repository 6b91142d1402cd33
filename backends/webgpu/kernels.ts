/**
 * WGSL kernels of the WebGPU plugin (f32): elementwise ops with broadcasting computed from strides
 * in the kernel (no materialized broadcast, views without copies), strided copies, reductions
 * along any axes, fused row softmax/logSoftmax, and a register-tiled batched matmul.
 *
 * Each kernel reads its operands in place through (offset, strides) passed in a small metadata
 * buffer; pipelines are cached by kernel and rank ("shape class").
 *
 * @module
 */
import type { KernelCall, KernelEntry } from "../backend.ts";
import type { Tensor } from "../../core/tensor.ts";
import { contiguousStrides } from "../../core/shape.ts";
import type { GpuContext, GpuStorage } from "./context.ts";

const WG = 256;

const buf = (t: Tensor) => (t.storage as GpuStorage).buffer;
const f32 = (call: KernelCall) =>
  call.inputs.every((t) => t.dtype === "f32") && call.outputs.every((t) => t.dtype === "f32");

/** Workgroup counts for `n` threads of `WG`, split over x/y to stay under 65535 per dimension. */
function grid(n: number, per = WG): [number, number] {
  const groups = Math.max(1, Math.ceil(n / per));
  if (groups <= 65535) return [groups, 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y];
}

/** Strides of `t` read as if broadcast to `shape` (0 on broadcast axes). */
function bstrides(t: Tensor, shape: readonly number[]): number[] {
  const off = shape.length - t.ndim;
  return shape.map((d, i) => {
    const j = i - off;
    return j < 0 || (t.shape[j] === 1 && d !== 1) ? 0 : t.strides[j];
  });
}

const isPlain = (t: Tensor, shape: readonly number[]) =>
  t.ndim === shape.length && t.shape.every((d, i) => d === shape[i]) && t.isContiguous;

// ---- elementwise ------------------------------------------------------------------------------

/** WGSL expressions of the f32 unary ops, over `x`. */
export const UNARY: Record<string, string> = {
  neg: "-x",
  abs: "abs(x)",
  exp: "exp(x)",
  log: "log(x)",
  sqrt: "sqrt(x)",
  rsqrt: "inverseSqrt(x)",
  square: "x * x",
  sin: "sin(x)",
  cos: "cos(x)",
  tanh: "tanh(clamp(x, -15.0, 15.0))",
  sigmoid: "1.0 / (1.0 + exp(-x))",
  relu: "max(x, 0.0)",
  silu: "x / (1.0 + exp(-x))",
  floor: "floor(x)",
  ceil: "ceil(x)",
  sign: "sign(x)",
  expm1: "exp(x) - 1.0",
  log1p: "log(1.0 + x)",
  log2: "log2(x)",
};

/** WGSL expressions of the f32 binary ops, over `x` and `y`. */
export const BINARY: Record<string, string> = {
  add: "x + y",
  sub: "x - y",
  mul: "x * y",
  div: "x / y",
  minimum: "select(min(x, y), x + y, x != x || y != y)",
  maximum: "select(max(x, y), x + y, x != x || y != y)",
  pow: "pow(x, y)",
  atan2: "atan2(x, y)",
};

function elementwiseCode(expr: string, arity: number, rank: number): string {
  const ins = Array.from({ length: arity }, (_, k) => String.fromCharCode(97 + k));
  const vars = ["x", "y"];
  // meta: [n, shape(rank), then per input: offset, strides(rank)]
  const base = (k: number) => 1 + rank + k * (rank + 1);
  return `
${ins.map((v, k) => `@group(0) @binding(${k}) var<storage, read> ${v}: array<f32>;`).join("\n")}
@group(0) @binding(${arity}) var<storage, read_write> out: array<f32>;
@group(0) @binding(${arity + 1}) var<storage, read> prm: array<i32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * ${WG}u;
  if (i >= u32(prm[0])) { return; }
  var rem = i;
${ins.map((v, k) => `  var o${v} = prm[${base(k)}];`).join("\n")}
  for (var d = ${rank - 1}; d >= 0; d--) {
    let len = u32(prm[1 + d]);
    let c = i32(rem % len);
    rem = rem / len;
${ins.map((v, k) => `    o${v} += c * prm[${base(k) + 1} + d];`).join("\n")}
  }
${ins.map((v, k) => `  let ${vars[k]} = ${v}[o${v}];`).join("\n")}
  out[i] = ${expr};
}`;
}

function contiguousCode(expr: string, arity: number): string {
  const ins = Array.from({ length: arity }, (_, k) => String.fromCharCode(97 + k));
  const vars = ["x", "y"];
  return `
${
    ins.map((v, k) => `@group(0) @binding(${k}) var<storage, read> ${v}: array<vec4<f32>>;`).join(
      "\n",
    )
  }
@group(0) @binding(${arity}) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(${arity + 1}) var<storage, read> prm: array<u32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * ${WG}u;
  if (i >= prm[0]) { return; }
${ins.map((v, k) => `  let ${vars[k]} = ${v}[i];`).join("\n")}
  out[i] = ${expr.replaceAll("0.0", "vec4<f32>(0.0)").replaceAll("1.0", "vec4<f32>(1.0)")};
}`;
}

/** Vectorizable expressions (no select/scalar-only builtins). */
const VEC_OK = new Set([
  "add",
  "sub",
  "mul",
  "div",
  "neg",
  "abs",
  "exp",
  "log",
  "sqrt",
  "square",
  "relu",
  "sigmoid",
  "silu",
  "tanh",
  "sin",
  "cos",
]);

function elementwise(ctx: GpuContext, op: string, expr: string): KernelEntry {
  return {
    supports: f32,
    run(call: KernelCall) {
      const out = call.outputs[0];
      const n = out.size;
      if (n === 0) return;
      const ins = call.inputs;
      const plain = ins.every((t) => isPlain(t, out.shape) && t.offset % 4 === 0);
      if (plain && VEC_OK.has(op) && n % 4 === 0 && out.offset === 0) {
        const p = ctx.pipeline(`ew4:${op}`, contiguousCode(expr, ins.length));
        // Offsets are multiples of 4 elements: bind from element 0; vec4 index shifts by offset/4.
        if (ins.every((t) => t.offset === 0)) {
          const meta = ctx.meta(new Uint32Array([n / 4]));
          ctx.dispatch(p, [...ins.map(buf), buf(out), meta], grid(n / 4));
          return;
        }
      }
      const rank = Math.max(1, out.ndim);
      const shape = out.ndim ? out.shape : [1];
      const meta = [n, ...shape];
      for (const t of ins) meta.push(t.offset, ...(out.ndim ? bstrides(t, out.shape) : [0]));
      const p = ctx.pipeline(`ew:${op}:${rank}`, elementwiseCode(expr, ins.length, rank));
      const m = ctx.meta(new Int32Array(meta));
      ctx.dispatch(p, [...ins.map(buf), buf(out), m], grid(n));
    },
  };
}

// ---- copy (contiguous(), astype within f32, copyInto a view) ----------------------------------

function copyKernel(ctx: GpuContext): KernelEntry {
  return {
    supports: f32,
    run(call: KernelCall) {
      const [src] = call.inputs, [dst] = call.outputs;
      const n = dst.size;
      if (n === 0) return;
      const rank = Math.max(1, dst.ndim);
      const shape = dst.ndim ? dst.shape : [1];
      const meta = [n, ...shape, src.offset, ...(dst.ndim ? bstrides(src, dst.shape) : [0])];
      meta.push(dst.offset, ...(dst.ndim ? dst.strides : [0]));
      const code = `
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> prm: array<i32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * ${WG}u;
  if (i >= u32(prm[0])) { return; }
  var rem = i;
  var oa = prm[${1 + rank}];
  var oo = prm[${2 + 2 * rank}];
  for (var d = ${rank - 1}; d >= 0; d--) {
    let len = u32(prm[1 + d]);
    let c = i32(rem % len);
    rem = rem / len;
    oa += c * prm[${2 + rank} + d];
    oo += c * prm[${3 + 2 * rank} + d];
  }
  out[oo] = a[oa];
}`;
      const p = ctx.pipeline(`copy:${rank}`, code);
      const m = ctx.meta(new Int32Array(meta));
      ctx.dispatch(p, [buf(src), buf(dst), m], grid(n));
    },
  };
}

// ---- reductions --------------------------------------------------------------------------------

/** The reductions with a GPU kernel. */
export const REDUCE_OPS: readonly string[] = ["sum", "mean", "max", "min", "prod"];

const REDUCE: Record<string, { init: string; step: string; fin: string }> = {
  sum: { init: "0.0", step: "acc + v", fin: "acc" },
  mean: { init: "0.0", step: "acc + v", fin: "acc / f32(nred)" },
  max: { init: "-3.402823e38", step: "select(max(acc, v), v, v != v || acc != acc)", fin: "acc" },
  min: { init: "3.402823e38", step: "select(min(acc, v), v, v != v || acc != acc)", fin: "acc" },
  prod: { init: "1.0", step: "acc * v", fin: "acc" },
};

/**
 * One thread per output element, looping over the reduced elements through their strides. The
 * output keeps the reduced axes' positions implicitly: we walk kept axes for the output index
 * and reduced axes for the inner loop.
 */
function reduceKernel(ctx: GpuContext, op: string): KernelEntry {
  const r = REDUCE[op];
  return {
    supports: f32,
    run(call: KernelCall<{ axes: number[] }>) {
      const [x] = call.inputs, [out] = call.outputs;
      const axes = call.attrs.axes;
      const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
      const nOut = out.size;
      if (nOut === 0) return;
      const kShape = kept.length ? kept.map((i) => x.shape[i]) : [1];
      const kStr = kept.length ? kept.map((i) => x.strides[i]) : [0];
      const rShape = axes.length ? axes.map((i) => x.shape[i]) : [1];
      const rStr = axes.length ? axes.map((i) => x.strides[i]) : [0];
      const nRed = rShape.reduce((a, b) => a * b, 1);
      const kr = kShape.length, rr = rShape.length;
      const meta = [nOut, nRed, x.offset, ...kShape, ...kStr, ...rShape, ...rStr];
      const code = `
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> prm: array<i32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {
  let i = gid.x + gid.y * nw.x * ${WG}u;
  if (i >= u32(prm[0])) { return; }
  let nred = u32(prm[1]);
  var base = prm[2];
  var rem = i;
  for (var d = ${kr - 1}; d >= 0; d--) {
    let len = u32(prm[3 + d]);
    base += i32(rem % len) * prm[${3 + kr} + d];
    rem = rem / len;
  }
  var acc: f32 = ${r.init};
  for (var j = 0u; j < nred; j++) {
    var rj = j;
    var o = base;
    for (var d = ${rr - 1}; d >= 0; d--) {
      let len = u32(prm[${3 + 2 * kr} + d]);
      o += i32(rj % len) * prm[${3 + 2 * kr + rr} + d];
      rj = rj / len;
    }
    let v = a[o];
    acc = ${r.step};
  }
  out[i] = ${r.fin};
}`;
      const p = ctx.pipeline(`reduce:${op}:${kr}:${rr}`, code);
      const m = ctx.meta(new Int32Array(meta));
      ctx.dispatch(p, [buf(x), buf(out), m], grid(nOut));
    },
  };
}

// ---- softmax ------------------------------------------------------------------------------------

/** One workgroup per row of the (contiguous) last axis: max, sum of exp, normalize. */
function softmaxKernel(ctx: GpuContext, log: boolean): KernelEntry {
  return {
    supports: (call) => {
      const [x] = call.inputs;
      const axis = (call.attrs as { axis: number }).axis;
      return f32(call) && x.isContiguous && x.offset === 0 && axis === x.ndim - 1 && x.ndim > 0;
    },
    run(call: KernelCall<{ axis: number }>) {
      const [x] = call.inputs, [out] = call.outputs;
      const len = x.shape[x.ndim - 1];
      const rows = len === 0 ? 0 : x.size / len;
      if (rows === 0) return;
      const code = `
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> prm: array<u32>;
var<workgroup> red: array<f32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u,
        @builtin(num_workgroups) nw: vec3u) {
  let row = wid.x + wid.y * nw.x;
  if (row >= prm[1]) { return; }
  let n = prm[0];
  let base = row * n;
  var m: f32 = -3.402823e38;
  for (var j = lid.x; j < n; j += ${WG}u) { m = max(m, a[base + j]); }
  red[lid.x] = m;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s >>= 1u) {
    if (lid.x < s) { red[lid.x] = max(red[lid.x], red[lid.x + s]); }
    workgroupBarrier();
  }
  m = red[0];
  workgroupBarrier();
  var acc: f32 = 0.0;
  for (var j = lid.x; j < n; j += ${WG}u) { acc += exp(a[base + j] - m); }
  red[lid.x] = acc;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s >>= 1u) {
    if (lid.x < s) { red[lid.x] = red[lid.x] + red[lid.x + s]; }
    workgroupBarrier();
  }
  let total = red[0];
  ${
        log
          ? "let lt = log(total);\n  for (var j = lid.x; j < n; j += " + WG +
            "u) { out[base + j] = a[base + j] - m - lt; }"
          : "let inv = 1.0 / total;\n  for (var j = lid.x; j < n; j += " + WG +
            "u) { out[base + j] = exp(a[base + j] - m) * inv; }"
      }
}`;
      const p = ctx.pipeline(log ? "logsoftmax" : "softmax", code);
      const m = ctx.meta(new Uint32Array([len, rows]));
      ctx.dispatch(p, [buf(x), buf(out), m], grid(rows, 1));
    },
  };
}

// ---- matmul -------------------------------------------------------------------------------------

const BM = 128, BN = 128, BK = 8, TM = 8, TN = 8;

/**
 * Batched C = A·B over broadcast views: 128×128 tiles per workgroup of 256 threads, each thread
 * an 8×8 register block, A and B staged through workgroup memory in BK=8 slices. Operands are read
 * through their row/column strides (transposed views need no copy); batch offsets come from a
 * table.
 */
function matmulKernel(ctx: GpuContext): KernelEntry {
  const code = `
@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<storage, read> prm: array<i32>;
@group(0) @binding(4) var<storage, read> boff: array<i32>;
var<workgroup> As: array<f32, ${BK * BM}>;
var<workgroup> Bs: array<f32, ${BK * BN}>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3u) {
  let M = prm[0]; let N = prm[1]; let K = prm[2];
  let sam = prm[3]; let sak = prm[4]; let sbk = prm[5]; let sbn = prm[6];
  let batch = i32(wid.z);
  let offA = boff[batch * 2]; let offB = boff[batch * 2 + 1];
  let offC = batch * M * N;
  let row0 = i32(wid.y) * ${BM}; let col0 = i32(wid.x) * ${BN};
  let tr = i32(t / 16u) * ${TM}; let tc = i32(t % 16u) * ${TN};
  var acc: array<f32, ${TM * TN}>;
  for (var k0 = 0; k0 < K; k0 += ${BK}) {
    for (var l = 0; l < 4; l++) {
      let e = i32(t) * 4 + l;          // 0..1023
      let am = e / ${BK}; let ak = e % ${BK};
      let gm = row0 + am; let gk = k0 + ak;
      As[ak * ${BM} + am] = select(0.0, A[offA + gm * sam + gk * sak], gm < M && gk < K);
      let bk = e / ${BN}; let bn = e % ${BN};
      let gk2 = k0 + bk; let gn = col0 + bn;
      Bs[bk * ${BN} + bn] = select(0.0, B[offB + gk2 * sbk + gn * sbn], gk2 < K && gn < N);
    }
    workgroupBarrier();
    for (var kk = 0; kk < ${BK}; kk++) {
      var a: array<f32, ${TM}>;
      var b: array<f32, ${TN}>;
      for (var i = 0; i < ${TM}; i++) { a[i] = As[kk * ${BM} + tr + i]; }
      for (var j = 0; j < ${TN}; j++) { b[j] = Bs[kk * ${BN} + tc + j]; }
      for (var i = 0; i < ${TM}; i++) {
        for (var j = 0; j < ${TN}; j++) { acc[i * ${TN} + j] = fma(a[i], b[j], acc[i * ${TN} + j]); }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0; i < ${TM}; i++) {
    let gm = row0 + tr + i;
    if (gm >= M) { break; }
    for (var j = 0; j < ${TN}; j++) {
      let gn = col0 + tc + j;
      if (gn < N) { C[offC + gm * N + gn] = acc[i * ${TN} + j]; }
    }
  }
}`;
  return {
    supports: f32,
    run(call: KernelCall) {
      const [a, b] = call.inputs, [c] = call.outputs;
      const r = a.ndim;
      const M = a.shape[r - 2], K = a.shape[r - 1], N = b.shape[r - 1];
      const batchShape = c.shape.slice(0, r - 2);
      const nb = batchShape.reduce((x, y) => x * y, 1);
      if (c.size === 0) return;
      // Batch offset table: (offA, offB) per batch entry, from the views' batch strides.
      const offs = new Int32Array(nb * 2);
      const bs = contiguousStrides(batchShape);
      for (let i = 0; i < nb; i++) {
        let oa = a.offset, ob = b.offset, rem = i;
        for (let d = 0; d < batchShape.length; d++) {
          const ci = Math.floor(rem / bs[d]);
          rem -= ci * bs[d];
          oa += ci * a.strides[d];
          ob += ci * b.strides[d];
        }
        offs[2 * i] = oa;
        offs[2 * i + 1] = ob;
      }
      const meta = ctx.meta(
        new Int32Array([
          M,
          N,
          K,
          a.strides[r - 2],
          a.strides[r - 1],
          b.strides[r - 2],
          b.strides[r - 1],
        ]),
      );
      const table = ctx.meta(offs);
      const p = ctx.pipeline("matmul", code);
      if (nb > 65535) throw new RangeError("webgpu matmul: more than 65535 batch entries");
      ctx.dispatch(p, [buf(a), buf(b), buf(c), meta, table], [
        Math.ceil(N / BN),
        Math.ceil(M / BM),
        nb,
      ]);
    },
  };
}

/** Every kernel of the plugin, by op name, bound to a context. */
export function makeKernels(ctx: GpuContext): Record<string, KernelEntry> {
  const k: Record<string, KernelEntry> = {};
  for (const [op, e] of Object.entries(UNARY)) k[op] = elementwise(ctx, op, e);
  for (const [op, e] of Object.entries(BINARY)) k[op] = elementwise(ctx, op, e);
  k.copy = copyKernel(ctx);
  for (const op of Object.keys(REDUCE)) k[op] = reduceKernel(ctx, op);
  k.softmax = softmaxKernel(ctx, false);
  k.logSoftmax = softmaxKernel(ctx, true);
  k.matmul = matmulKernel(ctx);
  return k;
}
