/**
 * Fused batch normalization on the GPU (f32, contiguous operands; contract in
 * backends/scalar/kernels/norm.ts): `batchNormTrain` is a per-channel statistics kernel (one
 * workgroup per channel: the sum, then Σ(x − mean)² in a second pass over the same values, f32
 * tree reductions) and one normalize-and-scale pass; `batchNormBackward` a per-channel kernel
 * for Σgy and Σgy·x̂ (written as dbias and dweight) and one pass for dx. Four dispatches per
 * layer and step where the composed form takes ~25.
 *
 * @module
 */
import type { BatchNormAttrs, BatchNormRunningAttrs } from "../../../core/backend/attrs.ts";
import type { KernelCall, OpKernelTable, TensorView } from "../../../core/backend/plugin.ts";
import type { GpuContext } from "../context.ts";
import { decl, grid, off, prmDecl, stOf, THREAD, TID, WG } from "./wgsl.ts";

/** Threads per channel (row) of the statistics kernels. */
export const RT = 256;

/** WGSL of a workgroup sum of `v` into `red[0]` (all threads call it; uses `red`, `lid`). */
export const wgSum = (v: string, out: string): string => `
  red[lid] = ${v};
  workgroupBarrier();
  for (var h = ${RT / 2}u; h > 0u; h = h >> 1u) {
    if (lid < h) { red[lid] = red[lid] + red[lid + h]; }
    workgroupBarrier();
  }
  let ${out} = red[0];
  workgroupBarrier();`;

/**
 * Metadata (i32 words): [C, S, count, eps (f32 bits), hasWeight, hasBias, then the element
 * offsets of the operands in binding order].
 */
export const HEAD = (names: string[], access: string): string => `
${names.map((n, j) => decl(n, j, access[j])).join("\n")}
${prmDecl(names.length)}
fn at(b: u32, i: u32) -> u32 { return u32(prm[6u + b]) + i; }
fn idx(c: u32, i: u32) -> u32 { let S = u32(prm[1]); return ((i / S) * u32(prm[0]) + c) * S + i % S; }`;

/** Per-channel statistics: mean and biased variance (two passes). */
function statsCode(access: string): string {
  return HEAD(["X", "Mo", "Vo"], access) + `
var<workgroup> red: array<f32, ${RT}>;
@compute @workgroup_size(${RT})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nw: vec3u) {
  let c = wid.x + wid.y * nw.x; let cnt = u32(prm[2]);
  if (c >= u32(prm[0])) { return; }
  var s = 0.0;
  for (var i = lid; i < cnt; i += ${RT}u) { s += bitcast<f32>(X[at(0u, idx(c, i))]); }
  ${wgSum("s", "tot")}
  let mu = tot / f32(cnt);
  var q = 0.0;
  for (var i = lid; i < cnt; i += ${RT}u) { let d = bitcast<f32>(X[at(0u, idx(c, i))]) - mu; q += d * d; }
  ${wgSum("q", "qt")}
  if (lid == 0u) { Mo[at(1u, c)] = bitcast<u32>(mu); Vo[at(2u, c)] = bitcast<u32>(qt / f32(cnt)); }
}`;
}

/** y = (x − mean)·(var + eps)^−½·w + b, one thread per element. */
function applyCode(access: string): string {
  return HEAD(["X", "M", "V", "Wt", "Bi", "Y"], access) + `
@compute @workgroup_size(${WG})
fn main(${THREAD}) {
  let i = ${TID};
  let n = u32(prm[2]) * u32(prm[0]);
  if (i >= n) { return; }
  let c = (i / u32(prm[1])) % u32(prm[0]);
  var k = inverseSqrt(bitcast<f32>(V[at(2u, c)]) + bitcast<f32>(prm[3]));
  if (prm[4] == 1) { k = k * bitcast<f32>(Wt[at(3u, c)]); }
  var b = 0.0;
  if (prm[5] == 1) { b = bitcast<f32>(Bi[at(4u, c)]); }
  Y[at(5u, i)] = bitcast<u32>((bitcast<f32>(X[at(0u, i)]) - bitcast<f32>(M[at(1u, c)])) * k + b);
}`;
}

/** Per-channel Σgy (→ dbias) and Σgy·x̂ (→ dweight). */
function gradStatsCode(access: string): string {
  return HEAD(["G", "X", "M", "V", "DW", "DB"], access) + `
var<workgroup> red: array<f32, ${RT}>;
@compute @workgroup_size(${RT})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nw: vec3u) {
  let c = wid.x + wid.y * nw.x; let cnt = u32(prm[2]);
  if (c >= u32(prm[0])) { return; }
  let mu = bitcast<f32>(M[at(2u, c)]);
  let inv = inverseSqrt(bitcast<f32>(V[at(3u, c)]) + bitcast<f32>(prm[3]));
  var s = 0.0; var sx = 0.0;
  for (var i = lid; i < cnt; i += ${RT}u) {
    let e = idx(c, i);
    let g = bitcast<f32>(G[at(0u, e)]);
    s += g;
    sx += g * (bitcast<f32>(X[at(1u, e)]) - mu) * inv;
  }
  ${wgSum("s", "sg")}
  ${wgSum("sx", "sgx")}
  if (lid == 0u) { DW[at(4u, c)] = bitcast<u32>(sgx); DB[at(5u, c)] = bitcast<u32>(sg); }
}`;
}

/** dx = w·inv·(gy − Σgy/count − x̂·Σ(gy·x̂)/count), one thread per element. */
function gradApplyCode(access: string): string {
  return HEAD(["G", "X", "M", "V", "Wt", "DW", "DB", "DX"], access) + `
@compute @workgroup_size(${WG})
fn main(${THREAD}) {
  let i = ${TID};
  let n = u32(prm[2]) * u32(prm[0]);
  if (i >= n) { return; }
  let c = (i / u32(prm[1])) % u32(prm[0]);
  let cnt = f32(prm[2]);
  let inv = inverseSqrt(bitcast<f32>(V[at(3u, c)]) + bitcast<f32>(prm[3]));
  var k = inv;
  if (prm[4] == 1) { k = k * bitcast<f32>(Wt[at(4u, c)]); }
  let xh = (bitcast<f32>(X[at(1u, i)]) - bitcast<f32>(M[at(2u, c)])) * inv;
  let mg = bitcast<f32>(DB[at(6u, c)]) / cnt; let mgx = bitcast<f32>(DW[at(5u, c)]) / cnt;
  DX[at(7u, i)] = bitcast<u32>(k * (bitcast<f32>(G[at(0u, i)]) - mg - xh * mgx));
}`;
}

/** The running statistics' update in place (one thread per channel). */
const RUNNING = (access: string) => `
${["BM", "BV", "RM", "RV"].map((n, j) => decl(n, j, access[j])).join("\n")}
${prmDecl(4)}
@compute @workgroup_size(${WG})
fn main(${THREAD}) {
  let c = ${TID};
  if (c >= u32(prm[0])) { return; }
  let m = bitcast<f32>(prm[1]); let ub = bitcast<f32>(prm[2]);
  let rm = u32(prm[5]) + c; let rv = u32(prm[6]) + c;
  RM[rm] = bitcast<u32>((1.0 - m) * bitcast<f32>(RM[rm]) + m * bitcast<f32>(BM[u32(prm[3]) + c]));
  RV[rv] = bitcast<u32>((1.0 - m) * bitcast<f32>(RV[rv]) + m * bitcast<f32>(BV[u32(prm[4]) + c]) * ub);
}`;

/** What the norm kernels' metadata holds besides the dims: eps and which operands exist. */
export interface NormMeta {
  eps: number;
  hasWeight: boolean;
  hasBias: boolean;
}

/**
 * Run kernel `name` with inputs `ins` and outputs `outs` (views): metadata [dims (3), eps,
 * hasWeight, hasBias, element offsets of the operands in binding order], `groups` workgroups of
 * one per channel/row (split over x and y past 65535), or one thread per element of `threads`.
 */
export function dispatch(
  ctx: GpuContext,
  name: string,
  code: (access: string) => string,
  ins: TensorView[],
  outs: TensorView[],
  dims: [number, number, number],
  a: NormMeta,
  launch: { groups: number } | { threads: number },
): void {
  const ib = ins.map((t) => ctx.input(stOf(t)));
  const ob = outs.map((t) => ctx.output(stOf(t), false));
  const access = ctx.access(ib, ob);
  const k = ctx.kernel(name, access, () => code(access));
  const o = ctx.slot(), M = ctx.mi;
  dims.forEach((d, j) => M[o + j] = d);
  ctx.mf[o + 3] = a.eps;
  M[o + 4] = a.hasWeight ? 1 : 0;
  M[o + 5] = a.hasBias ? 1 : 0;
  [...ins, ...outs].forEach((t, j) => M[o + 6 + j] = off(t));
  const [gx, gy] = "groups" in launch ? grid(launch.groups, 1) : grid(launch.threads);
  ctx.run(k, [...ib, ...ob], gx, gy);
}

/** [C, S, count] of a batch norm's x (N, C, *). */
function bnDims(x: TensorView): [number, number, number] {
  const [N, C] = x.shape;
  const S = x.size / (N * C);
  return [C, S, N * S];
}

/** Whether every operand is f32 and contiguous (what the norm kernels take). */
export const f32Contiguous = (ts: readonly TensorView[]): boolean =>
  ts.every((t) => t.dtype === "f32" && t.isContiguous);

/** The batch-norm kernels bound to a context. */
export function normKernels(ctx: GpuContext): OpKernelTable {
  return {
    batchNormTrain: {
      supports: (call: KernelCall<BatchNormAttrs>) =>
        f32Contiguous([...call.inputs, ...call.outputs]) && call.inputs[0].shape[1] <= 65535,
      run: (call: KernelCall<BatchNormAttrs>) => {
        const a = call.attrs;
        const [x] = call.inputs;
        const w = a.hasWeight ? call.inputs[1] : x;
        const b = a.hasBias ? call.inputs[a.hasWeight ? 2 : 1] : x;
        const [y, mean, v] = call.outputs;
        if (x.size === 0) return;
        const d = bnDims(x);
        dispatch(ctx, "bn:stats", statsCode, [x], [mean, v], d, a, { groups: d[0] });
        dispatch(ctx, "bn:apply", applyCode, [x, mean, v, w, b], [y], d, a, { threads: x.size });
      },
    },
    batchNormRunning: {
      supports: (call: KernelCall<BatchNormRunningAttrs>) =>
        f32Contiguous([...call.inputs, ...call.outputs]),
      run: (call: KernelCall<BatchNormRunningAttrs>) => {
        const ts = [...call.inputs, ...call.outputs];
        const C = call.outputs[0].size;
        if (C === 0) return;
        const ib = call.inputs.map((t) => ctx.input(stOf(t)));
        const ob = call.outputs.map((t) => ctx.output(stOf(t), false));
        const access = ctx.access(ib, ob);
        const k = ctx.kernel("bn:running", access, () => RUNNING(access));
        const o = ctx.slot();
        ctx.mi[o] = C;
        ctx.mf[o + 1] = call.attrs.momentum;
        ctx.mf[o + 2] = call.attrs.count / (call.attrs.count - 1);
        ts.forEach((t, j) => ctx.mi[o + 3 + j] = off(t));
        const [gx, gy] = grid(C);
        ctx.run(k, [...ib, ...ob], gx, gy);
      },
    },
    batchNormBackward: {
      supports: (call: KernelCall<BatchNormAttrs>) =>
        f32Contiguous([...call.inputs, ...call.outputs]) && call.inputs[1].shape[1] <= 65535,
      run: (call: KernelCall<BatchNormAttrs>) => {
        const a = call.attrs;
        const [g, x, mean, v] = call.inputs;
        const w = a.hasWeight ? call.inputs[4] : x;
        const [dx, dw, db] = call.outputs;
        if (x.size === 0) return;
        const d = bnDims(x);
        dispatch(ctx, "bn:gstats", gradStatsCode, [g, x, mean, v], [dw, db], d, a, {
          groups: d[0],
        });
        dispatch(ctx, "bn:gapply", gradApplyCode, [g, x, mean, v, w, dw, db], [dx], d, a, {
          threads: x.size,
        });
      },
    },
  };
}
