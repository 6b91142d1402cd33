/**
 * conv2d and its input gradient as implicit GEMMs on the shared 128×128 tile body
 * (gemm_tile.ts), one group per z of the grid. Nothing is materialized: the B tile is gathered
 * from the image (forward) or from the output gradient (input gradient), zero outside it.
 *
 * - Forward: out[n, g·Og + m, q] = Σ_k W[g·Og + m, k] · x-patch[k, (n, q)] + bias[g·Og + m], with
 *   k = (ci, kh, kw) over the group's input channels and the window and (n, q) over images and
 *   output pixels; x-patch reads x[n, g·Cg + ci, oh·sh − pt + kh·dh, ow·sw − pl + kw·dw].
 * - Input gradient: dx[n, g·Cg + m, q] = Σ_k W[g·Og + o, m, kh, kw] · g[n, g·Og + o, oh, ow], with
 *   k = (o, kh, kw) and (n, q = (h, w)) over input pixels, where oh·sh = h + pt − kh·dh (taps that
 *   land between output pixels of a strided conv contribute nothing).
 *
 * KH, KW (and the strides, for the gradient) are compiled in, so splitting k costs multiplies.
 * Each thread gathers the same 4 columns of every K step: their (n, h, w) decomposition is
 * computed once before the K loop. Weights must be contiguous (the caller checks).
 *
 * @module
 */
import type { KernelCall, TensorView } from "../../../core/backend/plugin.ts";
import type { Conv2dAttrs } from "../../../core/backend/attrs.ts";
import type { DType } from "../../../core/dtype.ts";
import type { GpuContext } from "../context.ts";
import {
  BK,
  BM,
  BN,
  type Load,
  loadTileA,
  operand,
  storeTileA,
  storeTileB,
  tiledGemmCode,
  tileElem,
} from "./gemm_tile.ts";
import { off, prmDecl, stOf } from "./wgsl.ts";

/** Metadata layout (i32 words). */
const Q = {
  NP: 0, // columns: images × pixels of the output plane
  plane: 1, // pixels per output plane
  pw: 2, // output plane width
  M: 3, // rows per group
  K: 4,
  ch: 5, // channels of the output
  SH: 6, // gathered tensor's height and width
  SW: 7,
  sh: 8,
  sw: 9,
  pt: 10,
  pl: 11,
  dh: 12,
  dw: 13,
  src: 14, // gathered tensor: offset, 4 strides
  srcG: 19, // channels of the gathered tensor per group
  w: 20, // weights: offset, 4 strides
  bias: 25, // flag, offset, stride
  out: 28,
} as const;

/** Which product: the forward conv or its input gradient. */
export type ConvGemmOp = "conv2d" | "conv2dBackwardInput";

/** Compile-time choices of one kernel. */
interface Plan {
  op: ConvGemmOp;
  KH: number;
  KW: number;
  /** The gradient's strides (1 for the forward conv: its strides are metadata). */
  SY: number;
  SX: number;
  ma: Load;
  guard: boolean;
  vecOut: boolean;
}

function code(p: Plan, dSrc: DType, dw: DType, db: DType, dOut: DType, access: string): string {
  const { KH, KW, SY, SX } = p, KHW = KH * KW, back = p.op !== "conv2d";
  const cols: string[] = [];
  for (let h = 0; h < 2; h++) {
    for (let q = 0; q < 4; q++) {
      const s = `${h}${q}`;
      // Forward: the window's top-left (oh·sh − pt, ow·sw − pl); gradient: (h + pt, w + pl).
      cols.push(`  let c${s} = col0 + ((lid + ${h * 256}u) % 32u) * 4u + ${q}u;
  let n${s} = i32(c${s} / plane); let r${s} = i32(c${s} % plane);
  let y${s} = select(${back ? "-1073741824" : "1073741824"}, ${
        back ? `r${s} / pw + pt` : `(r${s} / pw) * sh - pt`
      }, c${s} < NP);
  let x${s} = ${back ? `r${s} % pw + pl` : `(r${s} % pw) * sw - pl`};
  let b${s} = sb + n${s} * sN;`);
    }
  }
  // One lane of the B gather: source pixel (yy, xx) of column s, channel offset ko.
  const lane = (h: number, q: number) => {
    const s = `${h}${q}`;
    if (!back) {
      return `{ let yy = y${s} + dy; let xx = x${s} + dxx; if (u32(yy) < u32(SH) && u32(xx) < u32(SW)) { rb${h}[${q}] = ld1S(u32(b${s} + ko + yy * sH + xx * sW)); } }`;
    }
    const exact = (v: string, st: number) => st === 1 ? "true" : `${v} % ${st} == 0`;
    return `{ let ty = y${s} - dy; let tx_ = x${s} - dxx;
        if (ty >= 0 && tx_ >= 0 && ${exact("ty", SY)} && ${exact("tx_", SX)}) {
          let yy = ty / ${SY}; let xx = tx_ / ${SX};
          if (yy < SH && xx < SW) { rb${h}[${q}] = ld1S(u32(b${s} + ko + yy * sH + xx * sW)); } } }`;
  };
  const loadB = (h: number) =>
    `{ let gk = k0 + ${tileElem(h)} / 32u; rb${h} = vec4<f32>(0.0);
    ${p.guard ? "if (gk < K) {" : "{"}
      let ch = i32(gk / ${KHW}u); let rr = gk % ${KHW}u;
      let dy = i32(rr / ${KW}u) * dh; let dxx = i32(rr % ${KW}u) * dwd;
      let ko = ch * sC;
      ${[0, 1, 2, 3].map((q) => lane(h, q)).join("\n      ")}
    } }`;
  // Gradient's A: row m = input channel, k = (o, kh, kw) → W[g·Og + o, m, kh, kw].
  const loadA = back
    ? (h: number) => {
      const e = tileElem(h);
      return `{ let m = ${e} / 4u; let kq = (${e} % 4u) * 4u; let gm = row0 + m;
      ${
        [0, 1, 2, 3].map((q) =>
          `{ let gk = k0 + kq + ${q}u; ra${h}[${q}] = select(0.0, ld1A(offA + (gk / ${KHW}u) * so + gm * sam + gk % ${KHW}u), gm < M && gk < K); }`
        ).join("\n      ")
      } }`;
    }
    : (h: number) => loadTileA(p.ma, p.guard, h);
  // f16 output (vecOut only: 4 consecutive halves are 2 whole words): packed like the copy kernel.
  const half = dOut === "f16";
  const store = (row: string, col: string, v: string) =>
    p.vecOut
      ? `{ let m = ${row}; let c = ${col}; if (m < M && c < NP) { let oc = g * M + m; let img = c / plane;
    out[(offO + (img * CH + oc) * plane + c % plane) >> 2u] = ${
        half ? `pk4(${v} + biasOf(oc))` : `${v} + biasOf(oc)`
      }; } }`
      : `{ let m = ${row}; let c = ${col}; if (m < M) { let oc = g * M + m; let bv = biasOf(oc);
    for (var q = 0u; q < 4u; q++) { let cq = c + q; if (cq < NP) {
      out[offO + (cq / plane * CH + oc) * plane + cq % plane] = ${v}[q] + bv; } } } }`;
  return tiledGemmCode({
    decls: `${operand("S", 0, dSrc, "elem", access[0])}
${operand("A", 1, dw, back ? "elem" : p.ma, access[1])}
${operand("Bi", 2, db, "elem", access[2])}
@group(0) @binding(3) var<storage, read_write> out: array<${
      half ? "vec2<u32>" : p.vecOut ? "vec4<f32>" : "f32"
    }>;
${prmDecl(4)}
fn pk4(v: vec4<f32>) -> vec2<u32> { return vec2<u32>(pack2x16float(v.xy), pack2x16float(v.zw)); }
fn q(i: u32) -> i32 { return prm[i]; }
fn biasOf(oc: u32) -> f32 {
  if (q(${Q.bias}u) == 1) { return ld1Bi(u32(q(${Q.bias + 1}u) + i32(oc) * q(${Q.bias + 2}u))); }
  return 0.0;
}`,
    prologue: `  let g = wid.z;
  let NP = u32(q(${Q.NP}u)); let plane = u32(q(${Q.plane}u)); let pw = q(${Q.pw}u);
  let M = u32(q(${Q.M}u)); let kBeg = 0u; let K = u32(q(${Q.K}u)); let CH = u32(q(${Q.ch}u));
  let SH = q(${Q.SH}u); let SW = q(${Q.SW}u);
  let sh = q(${Q.sh}u); let sw = q(${Q.sw}u); let pt = q(${Q.pt}u); let pl = q(${Q.pl}u);
  let dh = q(${Q.dh}u); let dwd = q(${Q.dw}u);
  let sN = q(${Q.src + 1}u); let sC = q(${Q.src + 2}u); let sH = q(${Q.src + 3}u); let sW = q(${
      Q.src + 4
    }u);
  let sb = q(${Q.src}u) + i32(g) * q(${Q.srcG}u) * sC;
  let so = u32(q(${Q.w + 1}u));
  let sam = u32(q(${back ? Q.w + 2 : Q.w + 1}u)); let sak = 1u;
  let offA = u32(q(${Q.w}u)) + g * u32(q(${back ? Q.srcG : Q.M}u)) * so;
  let offO = u32(q(${Q.out}u));
  let row0 = wid.y * ${BM}u; let col0 = wid.x * ${BN}u;
${cols.join("\n")}`,
    loadA,
    storeA: (h) => storeTileA(back ? "elem" : p.ma, h),
    loadB,
    storeB: (h) => storeTileB("row", h),
    store,
  });
}

/**
 * The plan of an implicit-GEMM conv for `call`, or null where the caller's other kernels serve
 * better: non-contiguous weights, or fewer than 32 rows per group (most of a 128-row tile idle).
 */
export function convGemmPlan(
  op: ConvGemmOp,
  call: KernelCall<Conv2dAttrs>,
  out: TensorView,
): Plan | null {
  const w = call.inputs[1];
  const G = call.attrs.groups ?? 1;
  const [O, Cg, KH, KW] = w.shape;
  const contiguous = w.strides[3] === 1 && w.strides[2] === KW && w.strides[1] === KH * KW &&
    w.strides[0] === Cg * KH * KW;
  const M = op === "conv2d" ? O / G : Cg, K = (op === "conv2d" ? Cg : O / G) * KH * KW;
  if (!contiguous || M < 32 || K === 0) return null;
  const back = op !== "conv2d";
  const ma: Load = !back && K % 4 === 0 && off(w) % 4 === 0 &&
      (w.dtype === "f32" || w.dtype === "f16")
    ? "row"
    : "elem";
  const [, , PH, PW] = out.shape;
  return {
    op,
    KH,
    KW,
    SY: back ? call.attrs.stride[0] : 1,
    SX: back ? call.attrs.stride[1] : 1,
    ma,
    guard: M % BM !== 0 || K % BK !== 0,
    vecOut: (PH * PW) % 4 === 0 && off(out) % 4 === 0,
  };
}

/**
 * Whether {@link runConvGemm} writes `out` itself: f32, or f16 with vector stores (the caller
 * stages other dtypes through f32).
 */
export function convGemmWrites(plan: Plan, out: TensorView): boolean {
  return out.dtype === "f32" || (out.dtype === "f16" && plan.vecOut);
}

/**
 * Record the implicit-GEMM conv of `plan` (`out` is contiguous and fully overwritten; f32, or
 * f16 where {@link convGemmWrites} says so).
 */
export function runConvGemm(
  ctx: GpuContext,
  plan: Plan,
  call: KernelCall<Conv2dAttrs>,
  out: TensorView,
): void {
  const back = plan.op !== "conv2d";
  const [src, w] = call.inputs;
  const b = !back && call.attrs.hasBias ? call.inputs[2] : src;
  const a = call.attrs, G = a.groups ?? 1;
  const [O, Cg, KH, KW] = w.shape;
  const [N, CH, PH, PW] = out.shape;
  const bufs = [ctx.input(stOf(src)), ctx.input(stOf(w)), ctx.input(stOf(b))];
  const ob = ctx.output(stOf(out), out.offset === 0);
  const access = ctx.access(bufs, [ob]);
  const key = `${plan.op}:gemm:${src.dtype}:${w.dtype}:${b.dtype}:${out.dtype}:` +
    `${plan.KH}:${plan.KW}:${plan.SY}:${plan.SX}:${plan.ma}:${plan.guard}:${plan.vecOut}`;
  const k = ctx.kernel(
    key,
    access,
    () => code(plan, src.dtype, w.dtype, b.dtype, out.dtype, access),
  );
  const o = ctx.slot(), Mi = ctx.mi;
  const M = back ? Cg : O / G;
  const vals = [
    N * PH * PW,
    PH * PW,
    PW,
    M,
    (back ? O / G : Cg) * KH * KW,
    CH,
    src.shape[2],
    src.shape[3],
    a.stride[0],
    a.stride[1],
    a.padding[0],
    a.padding[2],
    a.dilation[0],
    a.dilation[1],
  ];
  vals.forEach((v, i) => Mi[o + i] = v);
  Mi[o + Q.src] = off(src);
  for (let d = 0; d < 4; d++) Mi[o + Q.src + 1 + d] = src.strides[d];
  Mi[o + Q.srcG] = back ? O / G : Cg;
  Mi[o + Q.w] = off(w);
  for (let d = 0; d < 4; d++) Mi[o + Q.w + 1 + d] = w.strides[d];
  Mi[o + Q.bias] = back || !a.hasBias ? 0 : 1;
  Mi[o + Q.bias + 1] = back || !a.hasBias ? 0 : off(b);
  Mi[o + Q.bias + 2] = back || !a.hasBias ? 0 : b.strides[0];
  Mi[o + Q.out] = off(out);
  ctx.run(k, [...bufs, ob], Math.ceil((N * PH * PW) / BN), Math.ceil(M / BM), G);
}
