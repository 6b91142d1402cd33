/**
 * Reductions on the GPU: sum, mean, prod, max, min, any, all, var, std, logsumexp, norm, argmax,
 * argmin; `reduceKernels` also binds the softmax family (`softmax.ts`) and the scans (`scan.ts`).
 *
 * Reductions read their input in place through its strides. Few long reductions use workgroup
 * trees (256 threads per output, partial results combined pairwise in workgroup memory) and, when
 * there are too few outputs to fill the GPU, split each reduced line over several workgroups
 * whose partials a second pass combines. Many short reductions use one thread per output.
 * var/std and logsumexp take two passes (the mean or the max first). Accumulation is f32 in a
 * tree (pairwise-like error growth); the scalar reference accumulates in float64, so sums agree
 * to about 1e-6 relative. argmax/argmin write i64 (two words, high word 0).
 *
 * @module
 */
import { coalesceAxes } from "../../../core/shape.ts";
import { viaF32 } from "./f32_output.ts";
import type {
  KernelCall,
  KernelEntry,
  OpKernelTable,
  TensorView,
} from "../../../core/backend/plugin.ts";
import type { Chunk, GpuContext } from "../context.ts";
import type { ReduceAttrs, ReduceOp } from "../../../core/ops/contracts/mod.ts";
import {
  decl,
  grid,
  isFloatDt,
  loadable,
  loadFn,
  off,
  PRELUDE,
  prmDecl,
  stOf,
  THREAD,
  TID,
  WG,
} from "./wgsl.ts";
import { scan } from "./scan.ts";
import { softmax } from "./softmax.ts";

/** An f32 reduction: per-element transform, associative combine, identity, finish. */
interface RedOp {
  /** Transform of an element `v` (may use the per-output auxiliary value `m` and `p`). */
  pre: string;
  /** Combine of two partial results `a`, `b`. */
  comb: string;
  /** Identity of `comb`. */
  init: string;
  /** Finish from `acc`, the reduced count `nf` (f32), `p` and `q` (f32 parameters). */
  fin: string;
}

const ADD = "a + b";
const MUL = "a * b";
const MAX = "select(select(a, b, b > a || isnanf(b)), a, isnanf(a))";
const MIN = "select(select(a, b, b < a || isnanf(b)), a, isnanf(a))";

const RED: Record<string, RedOp> = {
  sum: { pre: "v", comb: ADD, init: "0.0", fin: "acc" },
  mean: { pre: "v", comb: ADD, init: "0.0", fin: "acc / nf" },
  prod: { pre: "v", comb: MUL, init: "1.0", fin: "acc" },
  max: { pre: "v", comb: MAX, init: "-inff()", fin: "acc" },
  min: { pre: "v", comb: MIN, init: "inff()", fin: "acc" },
  any: { pre: "select(0.0, 1.0, !(v == 0.0))", comb: "max(a, b)", init: "0.0", fin: "acc" },
  all: { pre: "select(0.0, 1.0, !(v == 0.0))", comb: "min(a, b)", init: "1.0", fin: "acc" },
  // Second passes, with the first pass's result per output in `m`.
  varPass: { pre: "(v - m) * (v - m)", comb: ADD, init: "0.0", fin: "acc / max(nf - p, 0.0)" },
  stdPass: {
    pre: "(v - m) * (v - m)",
    comb: ADD,
    init: "0.0",
    fin: "sqrt(acc / max(nf - p, 0.0))",
  },
  lsePass: {
    pre: "exp(v - select(0.0, m, isfinitef(m)))",
    comb: ADD,
    init: "0.0",
    fin: "log(acc) + select(0.0, m, isfinitef(m))",
  },
  norm2: { pre: "v * v", comb: ADD, init: "0.0", fin: "sqrt(acc)" },
  norm1: { pre: "abs(v)", comb: ADD, init: "0.0", fin: "acc" },
  normInf: { pre: "abs(v)", comb: MAX, init: "0.0", fin: "acc" },
  normNegInf: { pre: "abs(v)", comb: MIN, init: "inff()", fin: "acc" },
  norm0: { pre: "select(0.0, 1.0, v != 0.0)", comb: ADD, init: "0.0", fin: "acc" },
  normP: { pre: "pow(abs(v), p)", comb: ADD, init: "0.0", fin: "pow(acc, 1.0 / p)" },
  // Stage 2 of a split reduction: partials are already transformed.
  "": { pre: "v", comb: ADD, init: "0.0", fin: "acc" },
};

/** Stage-2 form of an op: same combine and finish, identity transform. */
const stage2 = (r: RedOp): RedOp => ({ ...r, pre: "v" });

/** Reduction geometry: kept axes (output order) and reduced axes, both coalesced. */
interface Geo {
  nOut: number;
  nRed: number;
  base: number;
  kShape: number[];
  kStr: number[];
  rShape: number[];
  rStr: number[];
}

function geometry(x: TensorView, axes: readonly number[]): Geo {
  const red = new Set(axes);
  const ks: number[] = [], kst: number[] = [], rs: number[] = [], rst: number[] = [];
  x.shape.forEach((d, i) => {
    if (red.has(i)) {
      rs.push(d);
      rst.push(x.strides[i]);
    } else {
      ks.push(d);
      kst.push(x.strides[i]);
    }
  });
  const k = coalesceAxes(ks, [kst]), r = coalesceAxes(rs, [rst]);
  return {
    nOut: ks.reduce((a, b) => a * b, 1),
    nRed: rs.reduce((a, b) => a * b, 1),
    base: off(x),
    kShape: k.shape,
    kStr: k.strides[0],
    rShape: r.shape,
    rStr: r.strides[0],
  };
}

/**
 * Metadata: [nOut, nRed, base, S, L, p, nf, auxOff, outOff, kShape, kStr, rShape, rStr].
 * `S` workgroups split each line into pieces of `L` elements.
 */
const H = 9;

/** WGSL: offset of output `o`'s first element (`ob`) and of reduced element `j` (`rj`). */
function offsets(kr: number, rr: number): string {
  let s = `fn outBase(o: u32) -> i32 {\n  var r = o;\n  var ob = prm[2];\n`;
  for (let d = kr - 1; d >= 0; d--) {
    s += `  { let len = u32(prm[${H + d}]); ob += i32(r % len) * prm[${
      H + kr + d
    }]; r = r / len; }\n`;
  }
  s += `  return ob;\n}\nfn redOff(j: u32) -> i32 {\n  var r = j;\n  var o = 0;\n`;
  const R = H + 2 * kr;
  for (let d = rr - 1; d >= 0; d--) {
    s += `  { let len = u32(prm[${R + d}]); o += i32(r % len) * prm[${
      R + rr + d
    }]; r = r / len; }\n`;
  }
  return s + `  return o;\n}\n`;
}

/**
 * The entry point of a workgroup-tree reduction: workgroup `wid` reduces items `j0..j1` of output
 * `o`, each output split over `S` workgroups (prm[3]) of prm[4] items.
 */
function splitMain(T: number): string {
  return `@compute @workgroup_size(${T})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3u,
        @builtin(num_workgroups) nw: vec3u) {
  let wid = wg.x + wg.y * nw.x;
  let S = u32(prm[3]);
  if (wid >= u32(prm[0]) * S) { return; }
  let o = wid / S;
  let j0 = (wid % S) * u32(prm[4]);
  let j1 = min(j0 + u32(prm[4]), u32(prm[1]));`;
}

/** Source of a value reduction (threads per output `T`: 1 or {@link WG}). */
function reduceCode(
  r: RedOp,
  dt: string,
  kr: number,
  rr: number,
  T: number,
  final: boolean,
  access: string,
): string {
  const head = `
${decl("src", 0, access[0])}
${decl("aux", 1, access[1])}
${decl("out", 2, "w")}
${prmDecl(3)}
${PRELUDE}
${loadFn("src", dt as never, "f")}
${offsets(kr, rr)}
fn comb(a: f32, b: f32) -> f32 { return ${r.comb}; }
fn prep(v: f32, m: f32, p: f32) -> f32 { return ${r.pre}; }
fn finish(acc: f32, nf: f32, p: f32, m: f32) -> f32 { return ${r.fin}; }
`;
  const store = final
    ? `out[u32(prm[8]) + o] = bitcast<u32>(finish(acc, bitcast<f32>(prm[6]), p, m));`
    : `out[u32(prm[8]) + wid] = bitcast<u32>(acc);`;
  const mExpr = `select(0.0, bitcast<f32>(aux[u32(prm[7]) + o]), prm[7] >= 0)`;
  if (T === 1) {
    return head + `
@compute @workgroup_size(${WG})
fn main(${THREAD}) {
  let o = ${TID};
  if (o >= u32(prm[0])) { return; }
  let nred = u32(prm[1]);
  let p = bitcast<f32>(prm[5]);
  let m = ${mExpr};
  let ob = outBase(o);
  var acc: f32 = ${r.init};
  for (var j = 0u; j < nred; j++) { acc = comb(acc, prep(ld_src(ob + redOff(j)), m, p)); }
  let wid = o;
  ${store}
}`;
  }
  return head + `
var<workgroup> sh: array<f32, ${T}>;
${splitMain(T)}
  let p = bitcast<f32>(prm[5]);
  let m = ${mExpr};
  let ob = outBase(o);
  var acc: f32 = ${r.init};
  for (var j = j0 + lid; j < j1; j += ${T}u) { acc = comb(acc, prep(ld_src(ob + redOff(j)), m, p)); }
  sh[lid] = acc;
  workgroupBarrier();
  for (var s = ${T / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) { sh[lid] = comb(sh[lid], sh[lid + s]); }
    workgroupBarrier();
  }
  if (lid == 0u) {
    acc = sh[0];
    ${store}
  }
}`;
}

/** Source of argmax/argmin: (value, index) pairs, first extreme wins, the first NaN wins. */
function argCode(
  isMax: boolean,
  dt: string,
  kr: number,
  rr: number,
  T: number,
  final: boolean,
  access: string,
): string {
  const better = isMax ? "vb > va" : "vb < va";
  const head = `
${decl("src", 0, access[0])}
${decl("aux", 1, access[1])}
${decl("out", 2, "w")}
${prmDecl(3)}
${PRELUDE}
${loadFn("src", dt as never, "f")}
${offsets(kr, rr)}
// Whether (vb, ib) wins over (va, ia).
fn wins(va: f32, ia: u32, vb: f32, ib: u32) -> bool {
  let na = isnanf(va);
  let nb = isnanf(vb);
  if (na || nb) { return nb && (!na || ib < ia); }
  return ${better} || (vb == va && ib < ia);
}
`;
  const storeFinal = `out[2u * (u32(prm[8]) + o)] = bi; out[2u * (u32(prm[8]) + o) + 1u] = 0u;`;
  const storePart = `out[2u * (u32(prm[8]) + wid)] = bitcast<u32>(bv); ` +
    `out[2u * (u32(prm[8]) + wid) + 1u] = bi;`;
  const init = isMax ? "-inff()" : "inff()";
  if (T === 1) {
    return head + `
@compute @workgroup_size(${WG})
fn main(${THREAD}) {
  let o = ${TID};
  if (o >= u32(prm[0])) { return; }
  let nred = u32(prm[1]);
  let ob = outBase(o);
  var bv: f32 = ${init};
  var bi: u32 = 0xffffffffu;
  for (var j = 0u; j < nred; j++) {
    let v = ld_src(ob + redOff(j));
    if (wins(bv, bi, v, j)) { bv = v; bi = j; }
  }
  let wid = o;
  ${final ? storeFinal : storePart}
}`;
  }
  // Partial pairs live in src as (value bits, index) when prm[5] == 1.
  return head + `
var<workgroup> shv: array<f32, ${T}>;
var<workgroup> shi: array<u32, ${T}>;
${splitMain(T)}
  let pairs = prm[5] == 1;
  let ob = outBase(o);
  var bv: f32 = ${init};
  var bi: u32 = 0xffffffffu;
  for (var j = j0 + lid; j < j1; j += ${T}u) {
    let at = ob + redOff(j);
    var v: f32;
    var i: u32;
    if (pairs) { v = bitcast<f32>(src[2 * at]); i = src[2 * at + 1]; } else { v = ld_src(at); i = j; }
    if (wins(bv, bi, v, i)) { bv = v; bi = i; }
  }
  shv[lid] = bv;
  shi[lid] = bi;
  workgroupBarrier();
  for (var s = ${T / 2}u; s > 0u; s >>= 1u) {
    if (lid < s && wins(shv[lid], shi[lid], shv[lid + s], shi[lid + s])) {
      shv[lid] = shv[lid + s];
      shi[lid] = shi[lid + s];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    bv = shv[0];
    bi = shi[0];
    ${final ? storeFinal : storePart}
  }
}`;
}

interface RunRed {
  kind: "value" | "arg";
  op: RedOp;
  isMax?: boolean;
  p?: number;
  aux?: TensorView | null;
}

/** One full reduction of `x` over `axes` into the contiguous `out` (f32 or, for arg, i64). */
function reduceInto(
  ctx: GpuContext,
  x: TensorView,
  axes: readonly number[],
  out: TensorView,
  r: RunRed,
) {
  const g = geometry(x, axes);
  if (g.nOut === 0) return;
  const T = g.nRed <= 32 || g.nOut >= 4096 ? 1 : WG;
  const S = T === 1 || g.nOut >= 512
    ? 1
    : Math.max(1, Math.min(Math.ceil(g.nRed / 4096), Math.ceil(1024 / g.nOut)));
  const L = Math.ceil(g.nRed / S);
  const pw = r.kind === "arg" ? 2 : 1;
  const part: Chunk | null = S > 1 ? ctx.scratch(g.nOut * S * 4 * pw) : null;
  const src = ctx.input(stOf(x));
  const aux = r.aux ? ctx.input(stOf(r.aux)) : src;
  const outBuf = part ? part.buffer : ctx.output(stOf(out), out.offset === 0);
  const access = ctx.access([src, aux], [outBuf]);
  const kr = g.kShape.length, rr = g.rShape.length;
  const code = (final: boolean, dt: string, kr: number, rr: number, T: number, acc: string) =>
    r.kind === "arg"
      ? argCode(r.isMax!, dt, kr, rr, T, final, acc)
      : reduceCode(r.op, dt, kr, rr, T, final, acc);
  const name = r.kind === "arg"
    ? `arg${r.isMax ? "max" : "min"}`
    : `${r.op.pre}|${r.op.comb}|${r.op.init}|${r.op.fin}`;
  const k1 = ctx.kernel(
    `red:${name}:${x.dtype}:${kr}:${rr}:${T}:${S === 1}`,
    access,
    () => code(S === 1, x.dtype, kr, rr, T, access),
  );
  const fill = (o: number, gg: Geo, s: number, l: number, auxOff: number, outOff: number) => {
    const M = ctx.mi, F = ctx.mf;
    M[o] = gg.nOut;
    M[o + 1] = gg.nRed;
    M[o + 2] = gg.base;
    M[o + 3] = s;
    M[o + 4] = l;
    F[o + 5] = r.p ?? 0;
    F[o + 6] = g.nRed;
    M[o + 7] = auxOff;
    M[o + 8] = outOff;
    let w = o + H;
    for (const v of [...gg.kShape, ...gg.kStr, ...gg.rShape, ...gg.rStr]) M[w++] = v;
  };
  let o = ctx.slot();
  fill(o, g, S, L, r.aux ? off(r.aux) : -1, part ? part.base / (4 * pw) : off(out));
  if (r.kind === "arg") ctx.mi[o + 5] = 0;
  if (T === 1) {
    const [gx, gy] = grid(g.nOut);
    ctx.run(k1, [src, aux, outBuf], gx, gy);
  } else {
    const [gx, gy] = grid(g.nOut * S, 1);
    ctx.run(k1, [src, aux, outBuf], gx, gy);
  }
  if (!part) return;
  // Stage 2: combine the S partials of each output (contiguous [nOut, S]).
  const ob = ctx.output(stOf(out), out.offset === 0);
  const acc2 = ctx.access([part.buffer, aux], [ob]);
  const g2: Geo = {
    nOut: g.nOut,
    nRed: S,
    base: part.base / (4 * pw),
    kShape: [g.nOut],
    kStr: [S],
    rShape: [S],
    rStr: [1],
  };
  const k2 = r.kind === "arg"
    ? ctx.kernel(`red2:${name}`, acc2, () => argCode(r.isMax!, "f32", 1, 1, WG, true, acc2))
    : ctx.kernel(`red2:${name}`, acc2, () => reduceCode(stage2(r.op), "f32", 1, 1, WG, true, acc2));
  o = ctx.slot();
  fill(o, g2, 1, S, r.aux ? off(r.aux) : -1, off(out));
  if (r.kind === "arg") ctx.mi[o + 5] = 1;
  const [gx, gy] = grid(g.nOut, 1);
  ctx.run(k2, [part.buffer, aux, ob], gx, gy);
  ctx.release(part);
}

function normOp(ord: number): [RedOp, number] {
  if (ord === 2) return [RED.norm2, 0];
  if (ord === 1) return [RED.norm1, 0];
  if (ord === Infinity) return [RED.normInf, 0];
  if (ord === -Infinity) return [RED.normNegInf, 0];
  if (ord === 0) return [RED.norm0, 0];
  return [RED.normP, ord];
}

const floatIn = (call: KernelCall) => call.inputs.every((t) => isFloatDt(t.dtype));

function reduction(ctx: GpuContext, op: string): KernelEntry {
  return {
    supports(call: KernelCall) {
      const [x] = call.inputs, [out] = call.outputs;
      if (!out || !loadable(x.dtype, "f") || x.ndim > 8) return false;
      if (op === "argmax" || op === "argmin") return out.dtype === "i64" && floatIn(call);
      if (op === "any" || op === "all") return out.dtype === "bool";
      return isFloatDt(out.dtype) && floatIn(call);
    },
    run(call: KernelCall<ReduceAttrs>) {
      const [x] = call.inputs, [out] = call.outputs;
      const axes = call.attrs.axes;
      if (op === "argmax" || op === "argmin") {
        reduceInto(ctx, x, axes, out, { kind: "arg", op: RED.sum, isMax: op === "argmax" });
        return;
      }
      viaF32(ctx, out, (o) => {
        if (op === "var" || op === "std" || op === "logsumexp") {
          const first = ctx.scratchView(o.shape, "f32");
          try {
            reduceInto(ctx, x, axes, first, {
              kind: "value",
              op: op === "logsumexp" ? RED.max : RED.mean,
            });
            const second = op === "var" ? RED.varPass : op === "std" ? RED.stdPass : RED.lsePass;
            reduceInto(ctx, x, axes, o, {
              kind: "value",
              op: second,
              aux: first,
              p: call.attrs.ddof ?? 0,
            });
          } finally {
            first.dispose();
          }
          return;
        }
        if (op === "norm") {
          const [r, p] = normOp(call.attrs.ord ?? 2);
          reduceInto(ctx, x, axes, o, { kind: "value", op: r, p });
          return;
        }
        reduceInto(ctx, x, axes, o, { kind: "value", op: RED[op] });
      });
    },
  };
}

/** The reduction, scan and softmax kernels bound to a context. */
export function reduceKernels(ctx: GpuContext): OpKernelTable {
  const k: OpKernelTable = {};
  for (const op of REDUCE_OPS) (k as Record<ReduceOp, KernelEntry>)[op] = reduction(ctx, op);
  k.softmax = softmax(ctx, false);
  k.logSoftmax = softmax(ctx, true);
  k.cumsum = scan(ctx, false);
  k.cumprod = scan(ctx, true);
  return k;
}

/** The reductions with a GPU kernel. */
export const REDUCE_OPS: readonly ReduceOp[] = [
  "sum",
  "mean",
  "prod",
  "max",
  "min",
  "any",
  "all",
  "var",
  "std",
  "logsumexp",
  "norm",
  "argmax",
  "argmin",
];
