/**
 * Index kernels on the GPU: `take` (also behind indexSelect and embedding lookups), `gather`,
 * `scatter` and `scatterAdd`, for 4- and 8-byte element dtypes (f32, i32, u32, i64, f64: moved as
 * raw words, so exact), with i32 or i64 index tensors of any layout.
 *
 * An out-of-range index cannot throw when the kernel is recorded: the kernel writes 0 there and
 * raises a flag that the next readback turns into an IndexError naming the op (see context.ts).
 * `scatter` with repeated targets keeps one of the writes (unspecified which, as the op documents);
 * `scatterAdd` accumulates with atomics (f32 by a compare-exchange loop), so the rounding of
 * repeated f32 additions depends on their order.
 *
 * @module
 */
import type {
  KernelCall,
  KernelEntry,
  OpKernelTable,
  TensorView,
} from "../../../core/backend/plugin.ts";
import { elementBytes } from "../../../core/dtype.ts";
import { type GpuContext, INDEX_OPS } from "../context.ts";
import { copyPlan, runMap } from "./elementwise.ts";
import { decl, grid, off, prmDecl, stOf, THREAD, TID, WG } from "./wgsl.ts";
import type { AxisAttrs } from "../../../core/ops/contracts/mod.ts";
import { coalesceAxes } from "../../../core/shape.ts";

const MAXR = 8;

/** WGSL: index value at element offset `o` of buffer `I` (i32 or i64), and whether it is valid. */
function idxLoad(dt: string): string {
  return dt === "i64"
    ? `fn ldIdx(o: i32) -> vec2<i32> {
  let lo = bitcast<i32>(I[2 * o]);
  let hi = bitcast<i32>(I[2 * o + 1]);
  return vec2<i32>(lo, select(0, 1, hi == select(0, -1, lo < 0)));
}`
    : `fn ldIdx(o: i32) -> vec2<i32> { return vec2<i32>(bitcast<i32>(I[o]), 1); }`;
}

/** WGSL: resolve index `v` (negative counts from the end) on an axis of length `len`, or -1. */
const RESOLVE = `
fn resolve(v: vec2<i32>, len: i32) -> i32 {
  var k = v.x;
  if (k < 0) { k += len; }
  if (v.y == 0 || k < 0 || k >= len) { return -1; }
  return k;
}`;

/** WGSL: move one element (1 or 2 words) from `X` at element `s` to `out` at element `d`. */
function move(words: number, valid: string): string {
  if (words === 1) return `out[d] = select(0u, X[s], ${valid});`;
  return `out[2 * d] = select(0u, X[2 * s], ${valid}); out[2 * d + 1] = select(0u, X[2 * s + 1], ${valid});`;
}

/** Decomposition of `j` over shape words at `sh` into offsets with strides at `st...`. */
function decomp(v: string, j: string, rank: number, sh: number, sts: number[], outs: string[]) {
  let s = `  var ${v} = ${j};\n`;
  for (let d = rank - 1; d >= 0; d--) {
    s += `  { let len = u32(prm[${sh + d}]); let c = i32(${v} % len); ${v} = ${v} / len;`;
    sts.forEach((st, q) => s += ` ${outs[q]} += c * prm[${st + d}];`);
    s += ` }\n`;
  }
  return s;
}

/**
 * take: out[(o, k, i)] = x[outer(o) + idx[k]·sa + inner(i)]. Metadata: [n, nk, ni, len, sa, xOff,
 * idxOff, outOff, code, ro, ri, rk, oShape, oStr, iShape, iStr, kShape, kStr].
 */
function takeCode(words: number, dt: string, ro: number, ri: number, rk: number, access: string) {
  const B = 12;
  const oS = B, oT = B + ro, iS = B + 2 * ro, iT = iS + ri, kS = iT + ri, kT = kS + rk;
  return `
${decl("X", 0, access[0])}
${decl("I", 1, access[1])}
${decl("out", 2, "w")}
${decl("err", 3, "a")}
${prmDecl(4)}
${idxLoad(dt)}
${RESOLVE}
@compute @workgroup_size(${WG})
fn main(${THREAD}) {
  let t = ${TID};
  if (t >= u32(prm[0])) { return; }
  let nk = u32(prm[1]); let ni = u32(prm[2]);
  let i = t % ni; let k = (t / ni) % nk; let o = t / (ni * nk);
  var xo = prm[5];
  var io = prm[6];
${decomp("ro_", "o", ro, oS, [oT], ["xo"])}${decomp("ri_", "i", ri, iS, [iT], ["xo"])}${
    decomp("rk_", "k", rk, kS, [kT], ["io"])
  }  let kk = resolve(ldIdx(io), prm[3]);
  if (kk < 0) { atomicMax(&err[0], u32(prm[8])); }
  let s = xo + max(kk, 0) * prm[4];
  let d = prm[7] + i32(t);
  ${move(words, "kk >= 0")}
}`;
}

/**
 * gather / scatter / scatterAdd over the index's positions p: target = base(p without axis) +
 * idx[p]·sa. Metadata: [n, len, sa, xOff, idxOff, srcOff/outOff, code, rank, shape(R), xStr(R)
 * (stride 0 on the axis), idxStr(R), srcStr(R)].
 */
function alongCode(
  kind: "gather" | "scatter" | "scatterAdd",
  words: number,
  dt: string,
  vdt: string,
  rank: number,
  access: string,
): string {
  const B = 8;
  const S = B, XS = B + rank, IS = B + 2 * rank, SS = B + 3 * rank;
  let body: string;
  if (kind === "gather") {
    body = `  let s = xo + max(kk, 0) * prm[2];
  let d = prm[5] + i32(t);
  ${move(words, "kk >= 0")}`;
  } else {
    const tgt = `xo + kk * prm[2]`;
    if (kind === "scatter") {
      body = `  if (kk < 0) { return; }
  let d = ${tgt};
  ${words === 1 ? "out[d] = X[so];" : "out[2 * d] = X[2 * so]; out[2 * d + 1] = X[2 * so + 1];"}`;
    } else if (vdt === "f32") {
      body = `  if (kk < 0) { return; }
  let d = ${tgt};
  let add = bitcast<f32>(X[so]);
  var old = atomicLoad(&out[d]);
  loop {
    let r = atomicCompareExchangeWeak(&out[d], old, bitcast<u32>(bitcast<f32>(old) + add));
    if (r.exchanged) { break; }
    old = r.old_value;
  }`;
    } else {
      body = `  if (kk < 0) { return; }
  atomicAdd(&out[${tgt}], X[so]);`;
    }
  }
  return `
${decl("X", 0, access[0])}
${decl("I", 1, access[1])}
${decl("out", 2, kind === "scatterAdd" ? "a" : "w")}
${decl("err", 3, "a")}
${prmDecl(4)}
${idxLoad(dt)}
${RESOLVE}
@compute @workgroup_size(${WG})
fn main(${THREAD}) {
  let t = ${TID};
  if (t >= u32(prm[0])) { return; }
  var xo = prm[3];
  var io = prm[4];
  var so = prm[5];
${
    decomp("r_", "t", rank, S, [XS, IS, SS], ["xo", "io", "so"])
  }  let kk = resolve(ldIdx(io), prm[1]);
  if (kk < 0) { atomicMax(&err[0], u32(prm[6])); }
${body}
}`;
}

const words = (t: TensorView) => elementBytes(t.dtype) / 4;
const okValue = (t: TensorView) => elementBytes(t.dtype) >= 4;
const okIndex = (t: TensorView) => t.dtype === "i32" || t.dtype === "i64";

function take(ctx: GpuContext): KernelEntry {
  return {
    supports: (call: KernelCall) => {
      const [x, idx] = call.inputs;
      return okValue(x) && okIndex(idx) && x.ndim <= MAXR && idx.ndim <= MAXR;
    },
    run(call: KernelCall<AxisAttrs>) {
      const [x, idx] = call.inputs, [out] = call.outputs;
      if (out.size === 0) return;
      const a = call.attrs.axis;
      const o = coalesceAxes(x.shape.slice(0, a), [x.strides.slice(0, a)]);
      const i = coalesceAxes(x.shape.slice(a + 1), [x.strides.slice(a + 1)]);
      const k = coalesceAxes(idx.shape, [idx.strides]);
      const bufs = [ctx.input(stOf(x)), ctx.input(stOf(idx))];
      const ob = ctx.output(stOf(out), out.offset === 0);
      const access = ctx.access(bufs, [ob]) + "w";
      const ro = o.shape.length, ri = i.shape.length, rk = k.shape.length;
      const kern = ctx.kernel(
        `take:${words(x)}:${idx.dtype}:${ro}:${ri}:${rk}`,
        access,
        () => takeCode(words(x), idx.dtype, ro, ri, rk, access),
      );
      const m = ctx.slot(), M = ctx.mi;
      const ni = x.shape.slice(a + 1).reduce((p, q) => p * q, 1);
      const vals = [
        out.size,
        idx.size,
        ni,
        x.shape[a],
        x.strides[a],
        off(x),
        off(idx),
        off(out),
        INDEX_OPS.indexOf("take") + 1,
        ro,
        ri,
        rk,
        ...o.shape,
        ...o.strides[0],
        ...i.shape,
        ...i.strides[0],
        ...k.shape,
        ...k.strides[0],
      ];
      vals.forEach((v, j) => M[m + j] = v);
      const [gx, gy] = grid(out.size);
      ctx.run(kern, [...bufs, ob, ctx.errBuf], gx, gy);
    },
  };
}

function along(ctx: GpuContext, kind: "gather" | "scatter" | "scatterAdd"): KernelEntry {
  return {
    supports: (call: KernelCall) => {
      const [x, idx, s] = call.inputs;
      if (!okValue(x) || !okIndex(idx) || x.ndim > MAXR) return false;
      if (kind === "scatterAdd") {
        return (x.dtype === "f32" || x.dtype === "i32") && s.dtype === x.dtype;
      }
      return kind === "gather" || s.dtype === x.dtype;
    },
    run(call: KernelCall<AxisAttrs>) {
      const [x, idx, s] = call.inputs, [out] = call.outputs;
      const a = call.attrs.axis;
      if (kind !== "gather") runMap(ctx, copyPlan(x.dtype, x.dtype)!, [x], out);
      const n = idx.size;
      if (n === 0) return;
      // Target tensor (x for gather, out for scatter) with the axis stride zeroed.
      const tgt = kind === "gather" ? x : out;
      const ts = tgt.strides.map((v, d) => (d === a ? 0 : v));
      const ss = kind === "gather" ? idx.shape.map(() => 0) : s.strides;
      const c = { shape: [...idx.shape], strides: [ts, [...idx.strides], [...ss]] };
      const rank = Math.max(1, c.shape.length);
      if (c.shape.length === 0) {
        c.shape = [1];
        c.strides = [[0], [0], [0]];
      }
      const src = kind === "gather" ? x : s;
      const bufs = [ctx.input(stOf(src)), ctx.input(stOf(idx))];
      const ob = ctx.output(stOf(out), kind === "gather" && out.offset === 0);
      const access = ctx.access(bufs, [ob]) + "w";
      const w = words(x);
      const kern = ctx.kernel(
        `${kind}:${w}:${idx.dtype}:${x.dtype}:${rank}`,
        access,
        () => alongCode(kind, w, idx.dtype, x.dtype, rank, access),
      );
      const m = ctx.slot(), M = ctx.mi;
      const vals = [
        n,
        tgt.shape[a],
        tgt.strides[a],
        off(tgt),
        off(idx),
        kind === "gather" ? off(out) : off(s),
        INDEX_OPS.indexOf(call.attrs.op === "scatterAdd" ? "scatterAdd" : kind) + 1,
        rank,
        ...c.shape,
        ...c.strides[0],
        ...c.strides[1],
        ...c.strides[2],
      ];
      vals.forEach((v, j) => M[m + j] = v);
      const [gx, gy] = grid(n);
      ctx.run(kern, [...bufs, ob, ctx.errBuf], gx, gy);
    },
  };
}

/** The index kernels bound to a context. */
export function indexingKernels(ctx: GpuContext): OpKernelTable {
  return {
    take: take(ctx),
    gather: along(ctx, "gather"),
    scatter: along(ctx, "scatter"),
    scatterAdd: along(ctx, "scatterAdd"),
  };
}

/** The index ops with a GPU kernel. */
export const INDEXING_OPS: readonly string[] = ["take", "gather", "scatter", "scatterAdd"];
