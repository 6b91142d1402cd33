/**
 * conv2d's weight gradient as an implicit GEMM on the shared tile body (gemm_tile.ts):
 * dW[g·Og + o, (ci, kh, kw)] = Σ_(n, oh, ow) gy[n, g·Og + o, oh, ow] ·
 * x[n, g·Cg + ci, oh·sh − pt + kh·dh, ow·sw − pl + kw·dw] (zero outside x). The reduction runs
 * over every image and output pixel (for a ResNet layer at batch 128, 131072 terms per output),
 * the output is small (O × Cg·KH·KW), so K is split over workgroups (z = split · groups + group)
 * whose partials a second kernel sums. Nothing is materialized: the A tile reads gy in place (its
 * pixel plane must be contiguous), the B tile gathers the input patches; each thread's 4 B
 * columns (ci, kh, kw) are decomposed once before the K loop. KH, KW are compiled in.
 *
 * @module
 */
import type { KernelCall, TensorView } from "../../../core/backend/plugin.ts";
import type { Conv2dAttrs } from "../../../core/backend/attrs.ts";
import type { DType } from "../../../core/dtype.ts";
import type { GpuContext } from "../context.ts";
import {
  BM,
  BN,
  kSplits,
  operand,
  runSplitSum,
  storeTileA,
  storeTileB,
  tiledGemmCode,
  tileElem,
} from "./gemm_tile.ts";
import { off, prmDecl, stOf } from "./wgsl.ts";

/** Metadata layout (i32 words). */
const Q = {
  M: 0, // rows per group (Og)
  NC: 1, // columns: Cg·KH·KW
  K: 2, // images × output pixels
  plane: 3,
  OW: 4,
  H: 5,
  W: 6,
  sh: 7,
  sw: 8,
  pt: 9,
  pl: 10,
  dh: 11,
  dw: 12,
  x: 13, // offset, 4 strides
  g: 18, // offset, image stride, channel stride
  Cg: 21,
  G: 22,
  kc: 23, // K per split
  O: 24,
  out: 25,
} as const;

function code(KH: number, KW: number, dx: DType, dg: DType, access: string): string {
  const KHW = KH * KW;
  const cols: string[] = [];
  for (let h = 0; h < 2; h++) {
    for (let t = 0; t < 4; t++) {
      const s = `${h}${t}`;
      cols.push(`  let c${s} = col0 + ((lid + ${h * 256}u) % 32u) * 4u + ${t}u;
  let r${s} = c${s} % ${KHW}u;
  let cs${s} = i32(c${s} / ${KHW}u) * sC;
  let dy${s} = select(1073741824, i32(r${s} / ${KW}u) * dh, c${s} < NC);
  let dx${s} = i32(r${s} % ${KW}u) * dwd;`);
    }
  }
  // A: row o, 4 consecutive k = (n, pixel) of gy; the plane is contiguous.
  const loadA = (h: number) => {
    const e = tileElem(h);
    const lanes = [0, 1, 2, 3].map((t) =>
      `ra${h}[${t}] = select(0.0, ld1A(u32(rowA + i32(n) * gN + i32(pix))), ok && gk + ${t}u < K);
      pix += 1u; if (pix == plane) { pix = 0u; n += 1u; }`
    ).join("\n      ");
    return `{ let m = ${e} / 4u; let gm = row0 + m; let gk = k0 + (${e} % 4u) * 4u;
      let ok = gm < M; let rowA = gOff + i32(grp * M + gm) * gC;
      var n = gk / plane; var pix = gk % plane;
      ${lanes} }`;
  };
  // B: one k = (n, oh, ow), 4 consecutive columns (ci, kh, kw) gathered from x.
  const loadB = (h: number) => {
    const lanes = [0, 1, 2, 3].map((t) => {
      const s = `${h}${t}`;
      return `{ let yy = y0 + dy${s}; let xx = x0 + dx${s}; if (u32(yy) < u32(H) && u32(xx) < u32(W)) { rb${h}[${t}] = ld1X(u32(base + cs${s} + yy * sH + xx * sW)); } }`;
    }).join("\n      ");
    return `{ let gk = k0 + ${tileElem(h)} / 32u; rb${h} = vec4<f32>(0.0);
    if (gk < K) {
      let n = i32(gk / plane); let r = i32(gk % plane);
      let y0 = (r / OW) * sh - pt; let x0 = (r % OW) * sw - pl;
      let base = xg + n * sN;
      ${lanes}
    } }`;
  };
  return tiledGemmCode({
    decls: `${operand("X", 0, dx, "elem", access[0])}
${operand("A", 1, dg, "elem", access[1])}
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
${prmDecl(3)}
fn q(i: u32) -> i32 { return prm[i]; }`,
    prologue: `  let G = u32(q(${Q.G}u)); let grp = wid.z % G; let kz = wid.z / G;
  let kc = u32(q(${Q.kc}u)); let kBeg = kz * kc; let K = min(u32(q(${Q.K}u)), kBeg + kc);
  let M = u32(q(${Q.M}u)); let NC = u32(q(${Q.NC}u)); let plane = u32(q(${Q.plane}u));
  let OW = q(${Q.OW}u); let H = q(${Q.H}u); let W = q(${Q.W}u);
  let sh = q(${Q.sh}u); let sw = q(${Q.sw}u); let pt = q(${Q.pt}u); let pl = q(${Q.pl}u);
  let dh = q(${Q.dh}u); let dwd = q(${Q.dw}u);
  let sN = q(${Q.x + 1}u); let sC = q(${Q.x + 2}u); let sH = q(${Q.x + 3}u); let sW = q(${
      Q.x + 4
    }u);
  let xg = q(${Q.x}u) + i32(grp) * q(${Q.Cg}u) * sC;
  let gOff = q(${Q.g}u); let gN = q(${Q.g + 1}u); let gC = q(${Q.g + 2}u);
  let offO = u32(q(${Q.out}u)) + kz * u32(q(${Q.O}u)) * NC;
  let row0 = wid.y * ${BM}u; let col0 = wid.x * ${BN}u;
${cols.join("\n")}`,
    loadA,
    storeA: (h) => storeTileA("elem", h),
    loadB,
    storeB: (h) => storeTileB("row", h),
    store: (row, col, v) =>
      `{ let m = ${row}; let c = ${col}; if (m < M) { for (var t = 0u; t < 4u; t++) { if (c + t < NC) {
    out[offO + (grp * M + m) * NC + c + t] = ${v}[t]; } } } }`,
  });
}

/**
 * Whether the implicit-GEMM weight gradient applies: inputs (x, gy) of rank 4, gy's pixel plane
 * contiguous, ≥ 32 output channels per group (most of a 128-row tile busy).
 */
export function convWgradApplies(call: KernelCall<Conv2dAttrs>): boolean {
  const [x, gy] = call.inputs;
  if (x.ndim !== 4 || gy.ndim !== 4) return false;
  const G = call.attrs.groups ?? 1;
  const [, O, , OW] = gy.shape;
  return O / G >= 32 && gy.strides[3] === 1 && (gy.shape[2] === 1 || gy.strides[2] === OW);
}

/** Record the weight gradient of `call` into `out` (f32, contiguous, fully overwritten). */
export function runConvWgrad(ctx: GpuContext, call: KernelCall<Conv2dAttrs>, out: TensorView) {
  const [x, gy] = call.inputs;
  const a = call.attrs, G = a.groups ?? 1;
  const [O, Cg, KH, KW] = out.shape;
  const [N, , OH, OW] = gy.shape;
  const M = O / G, NC = Cg * KH * KW, K = N * OH * OW;
  const { splits, kc } = kSplits(M, NC, K, G);
  const part = splits > 1 ? ctx.scratchView([splits, O, NC], "f32") : null;
  const bx = ctx.input(stOf(x)), bg = ctx.input(stOf(gy));
  const ob = ctx.output(stOf(out), out.offset === 0);
  const target = part ? ctx.output(stOf(part), true) : ob;
  const access = ctx.access([bx, bg], [target]);
  const k = ctx.kernel(
    `conv2dBackwardWeight:gemm:${x.dtype}:${gy.dtype}:${KH}:${KW}`,
    access,
    () => code(KH, KW, x.dtype, gy.dtype, access),
  );
  const o = ctx.slot(), Mi = ctx.mi;
  const vals = [
    M,
    NC,
    K,
    OH * OW,
    OW,
    x.shape[2],
    x.shape[3],
    a.stride[0],
    a.stride[1],
    a.padding[0],
    a.padding[2],
    a.dilation[0],
    a.dilation[1],
  ];
  vals.forEach((v, i) => Mi[o + i] = v);
  Mi[o + Q.x] = off(x);
  for (let d = 0; d < 4; d++) Mi[o + Q.x + 1 + d] = x.strides[d];
  Mi[o + Q.g] = off(gy);
  Mi[o + Q.g + 1] = gy.strides[0];
  Mi[o + Q.g + 2] = gy.strides[1];
  Mi[o + Q.Cg] = Cg;
  Mi[o + Q.G] = G;
  Mi[o + Q.kc] = kc;
  Mi[o + Q.O] = O;
  Mi[o + Q.out] = part ? 0 : off(out);
  ctx.run(k, [bx, bg, target], Math.ceil(NC / BN), Math.ceil(M / BM), G * splits);
  if (part) {
    runSplitSum(ctx, target, ob, O * NC, splits, off(out));
    part.dispose();
  }
}
