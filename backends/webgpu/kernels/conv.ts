/**
 * Convolution and pooling on the GPU (NCHW, any strides): `conv2d` as an implicit GEMM per group
 * (out-channels × (batch·output pixels) × (in-channels·taps), 64×64 tiles, 4×4 per thread, the
 * input patch gathered on the fly with zero padding, bias fused), `maxPool2d`, `avgPool2d` and
 * their gradients `maxPool2dBackward`, `avgPool2dBackward` (one thread per input element, which
 * gathers from the windows covering it: no atomics). f32 math; f16/bf16 inputs are widened on
 * load, and written back through a conversion.
 *
 * @module
 */
import { viaF32 } from "./f32_output.ts";
import { convGemmPlan, convGemmWrites, runConvGemm } from "./conv_gemm.ts";
import { convWgradApplies, runConvWgrad } from "./conv_wgrad.ts";
import type {
  KernelCall,
  KernelEntry,
  OpKernelTable,
  TensorView,
} from "../../../core/backend/plugin.ts";
import type { GpuContext } from "../context.ts";
import type { OpName } from "../../../core/ops/contracts/mod.ts";
import type { Conv2dAttrs, PoolAttrs } from "../../../core/backend/attrs.ts";

/** Attributes the window kernels read: conv2d's and the pooling ops'. */
type WindowAttrs =
  & Partial<Conv2dAttrs>
  & Partial<PoolAttrs>
  & Pick<Conv2dAttrs, "stride" | "padding" | "dilation">;
import {
  decl,
  grid,
  isFloatDt,
  loadFn,
  off,
  PRELUDE,
  prmDecl,
  stOf,
  THREAD,
  TID,
  WG,
} from "./wgsl.ts";

/** Metadata layout (i32 words) shared by the kernels here. */
const P = {
  N: 0,
  C: 1,
  H: 2,
  W: 3,
  O: 4,
  Cg: 5,
  KH: 6,
  KW: 7,
  OH: 8,
  OW: 9,
  sh: 10,
  sw: 11,
  pt: 12,
  pl: 13,
  dh: 14,
  dw: 15,
  Og: 16,
  bias: 17,
  x: 18, // offset, 4 strides
  w: 23, // offset, 4 strides (conv) / g offset, 4 strides (pool backward)
  b: 28, // offset, stride
  out: 30,
  cip: 31,
} as const;

const head = (dx: string, dw: string, db: string, access: string) => `
${decl("X", 0, access[0])}
${decl("Wt", 1, access[1])}
${decl("Bi", 2, access[2])}
${decl("out", 3, "w")}
${prmDecl(4)}
${PRELUDE}
${loadFn("X", dx as never, "f")}
${loadFn("Wt", dw as never, "f")}
${loadFn("Bi", db as never, "f")}
fn p(i: u32) -> i32 { return prm[i]; }
fn xat(n: i32, c: i32, h: i32, w: i32) -> f32 {
  return ld_X(p(${P.x}u) + n * p(${P.x + 1}u) + c * p(${P.x + 2}u) + h * p(${P.x + 3}u) + w * p(${
  P.x + 4
}u));
}
`;

function convCode(dx: string, dw: string, db: string, access: string): string {
  return head(dx, dw, db, access) + `
var<workgroup> As: array<f32, ${16 * 64}>;
var<workgroup> Bs: array<f32, ${16 * 64}>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u) {
  let C = p(${P.C}u); let H = p(${P.H}u); let W = p(${P.W}u); let O = p(${P.O}u);
  let Cg = p(${P.Cg}u); let KH = p(${P.KH}u); let KW = p(${P.KW}u);
  let OH = p(${P.OH}u); let OW = p(${P.OW}u); let Og = p(${P.Og}u);
  let g = i32(wid.z);
  let Kt = Cg * KH * KW;
  let Pn = p(${P.N}u) * OH * OW;
  let m0 = i32(wid.y) * 64; let n0 = i32(wid.x) * 64;
  let tx = i32(lid % 16u); let ty = i32(lid / 16u);
  var acc: array<f32, 16>;
  for (var k0 = 0; k0 < Kt; k0 += 16) {
    for (var l = 0; l < 4; l++) {
      let e = i32(lid) * 4 + l;
      // A: weights [Og rows][16 k]
      let am = e / 16; let ak = e % 16;
      let oc = m0 + am; let kk = k0 + ak;
      var av = 0.0;
      if (oc < Og && kk < Kt) {
        let ci = kk / (KH * KW); let r = kk % (KH * KW);
        let occ = g * Og + oc;
        av = ld_Wt(p(${P.w}u) + occ * p(${P.w + 1}u) + ci * p(${P.w + 2}u) + (r / KW) * p(${
    P.w + 3
  }u) + (r % KW) * p(${P.w + 4}u));
      }
      As[ak * 64 + am] = av;
      // B: input patches [16 k][64 columns (n, oh, ow)]
      let bk = e / 64; let bn = e % 64;
      let kb = k0 + bk; let col = n0 + bn;
      var bv = 0.0;
      if (kb < Kt && col < Pn) {
        let ci = kb / (KH * KW); let r = kb % (KH * KW);
        let n = col / (OH * OW); let q = col % (OH * OW);
        let h = (q / OW) * p(${P.sh}u) - p(${P.pt}u) + (r / KW) * p(${P.dh}u);
        let w = (q % OW) * p(${P.sw}u) - p(${P.pl}u) + (r % KW) * p(${P.dw}u);
        if (h >= 0 && h < H && w >= 0 && w < W) { bv = xat(n, g * Cg + ci, h, w); }
      }
      Bs[bk * 64 + bn] = bv;
    }
    workgroupBarrier();
    for (var kk = 0; kk < 16; kk++) {
      let a = vec4<f32>(As[kk * 64 + ty * 4], As[kk * 64 + ty * 4 + 1], As[kk * 64 + ty * 4 + 2], As[kk * 64 + ty * 4 + 3]);
      let b = vec4<f32>(Bs[kk * 64 + tx * 4], Bs[kk * 64 + tx * 4 + 1], Bs[kk * 64 + tx * 4 + 2], Bs[kk * 64 + tx * 4 + 3]);
      for (var i = 0; i < 4; i++) {
        for (var j = 0; j < 4; j++) { acc[i * 4 + j] = fma(a[i], b[j], acc[i * 4 + j]); }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0; i < 4; i++) {
    let oc = m0 + ty * 4 + i;
    if (oc >= Og) { break; }
    let occ = g * Og + oc;
    var bias = 0.0;
    if (p(${P.bias}u) == 1) { bias = ld_Bi(p(${P.b}u) + occ * p(${P.b + 1}u)); }
    for (var j = 0; j < 4; j++) {
      let col = n0 + tx * 4 + j;
      if (col < Pn) {
        let n = col / (OH * OW); let q = col % (OH * OW);
        out[u32(p(${P.out}u) + (n * O + occ) * OH * OW + q)] = bitcast<u32>(acc[i * 4 + j] + bias);
      }
    }
  }
}`;
}

/**
 * The simple conv: one thread per output element (n, oc, oh, ow), a loop over the group's input
 * channels and taps (small convolutions and software adapters: `GpuContext.simpleKernels`).
 */
function convSimpleCode(dx: string, dw: string, db: string, access: string): string {
  return head(dx, dw, db, access) + `
@compute @workgroup_size(${WG})
fn main(${THREAD}) {
  let t = i32(${TID});
  let C = p(${P.C}u); let H = p(${P.H}u); let W = p(${P.W}u); let O = p(${P.O}u);
  let Cg = p(${P.Cg}u); let KH = p(${P.KH}u); let KW = p(${P.KW}u);
  let OH = p(${P.OH}u); let OW = p(${P.OW}u); let Og = p(${P.Og}u);
  if (t >= p(${P.N}u) * O * OH * OW) { return; }
  let ow = t % OW; let oh = (t / OW) % OH; let oc = (t / (OW * OH)) % O; let n = t / (OW * OH * O);
  let g = oc / Og;
  let h0 = oh * p(${P.sh}u) - p(${P.pt}u); let w0 = ow * p(${P.sw}u) - p(${P.pl}u);
  var acc = 0.0;
  for (var ci = 0; ci < Cg; ci++) {
    for (var kh = 0; kh < KH; kh++) {
      let h = h0 + kh * p(${P.dh}u);
      if (h < 0 || h >= H) { continue; }
      for (var kw = 0; kw < KW; kw++) {
        let w = w0 + kw * p(${P.dw}u);
        if (w < 0 || w >= W) { continue; }
        let wv = ld_Wt(p(${P.w}u) + oc * p(${P.w + 1}u) + ci * p(${P.w + 2}u) + kh * p(${
    P.w + 3
  }u) + kw * p(${P.w + 4}u));
        acc = fma(xat(n, g * Cg + ci, h, w), wv, acc);
      }
    }
  }
  if (p(${P.bias}u) == 1) { acc += ld_Bi(p(${P.b}u) + oc * p(${P.b + 1}u)); }
  out[u32(p(${P.out}u) + t)] = bitcast<u32>(acc);
}`;
}

function poolCode(isMax: boolean, dx: string, access: string): string {
  return head(dx, "f32", "f32", access) + `
@compute @workgroup_size(${WG})
fn main(${THREAD}) {
  let t = i32(${TID});
  let C = p(${P.C}u); let H = p(${P.H}u); let W = p(${P.W}u);
  let KH = p(${P.KH}u); let KW = p(${P.KW}u); let OH = p(${P.OH}u); let OW = p(${P.OW}u);
  if (t >= p(${P.N}u) * C * OH * OW) { return; }
  let ow = t % OW; let oh = (t / OW) % OH; let c = (t / (OW * OH)) % C; let n = t / (OW * OH * C);
  let h0 = oh * p(${P.sh}u) - p(${P.pt}u);
  let w0 = ow * p(${P.sw}u) - p(${P.pl}u);
${
    isMax
      ? `  var m = -inff();
  for (var kh = 0; kh < KH; kh++) {
    let h = h0 + kh * p(${P.dh}u);
    if (h < 0 || h >= H) { continue; }
    for (var kw = 0; kw < KW; kw++) {
      let w = w0 + kw * p(${P.dw}u);
      if (w < 0 || w >= W) { continue; }
      let v = xat(n, c, h, w);
      if (v > m || isnanf(v)) { m = v; }
      if (isnanf(m)) { break; }
    }
    if (isnanf(m)) { break; }
  }
  out[u32(p(${P.out}u) + t)] = bitcast<u32>(m);`
      : `  let hEnd = min(h0 + KH, H + p(${P.pt}u)); let wEnd = min(w0 + KW, W + p(${P.pl}u));
  let padded = (hEnd - h0) * (wEnd - w0);
  let ha = max(h0, 0); let hb = min(hEnd, H); let wa = max(w0, 0); let wb = min(wEnd, W);
  var s = 0.0;
  for (var h = ha; h < hb; h++) { for (var w = wa; w < wb; w++) { s += xat(n, c, h, w); } }
  let div = select((hb - ha) * (wb - wa), padded, p(${P.cip}u) == 1);
  out[u32(p(${P.out}u) + t)] = bitcast<u32>(s / f32(div));`
  }
}`;
}

/**
 * Pool gradients, one thread per input element (n, c, h, w): the windows (oh, ow) covering it are
 * those with oh·sh - ph + kh·dh = h for some tap kh (likewise for w).
 */
function poolBackCode(isMax: boolean, dx: string, dg: string, access: string): string {
  return head(dx, dg, "f32", access) + `
fn gat(n: i32, c: i32, h: i32, w: i32) -> f32 {
  return ld_Wt(p(${P.w}u) + n * p(${P.w + 1}u) + c * p(${P.w + 2}u) + h * p(${P.w + 3}u) + w * p(${
    P.w + 4
  }u));
}
@compute @workgroup_size(${WG})
fn main(${THREAD}) {
  let t = i32(${TID});
  let C = p(${P.C}u); let H = p(${P.H}u); let W = p(${P.W}u);
  let KH = p(${P.KH}u); let KW = p(${P.KW}u); let OH = p(${P.OH}u); let OW = p(${P.OW}u);
  let sh = p(${P.sh}u); let sw = p(${P.sw}u); let ph = p(${P.pt}u); let pw = p(${P.pl}u);
  let dh = p(${P.dh}u); let dw = p(${P.dw}u);
  if (t >= p(${P.N}u) * C * H * W) { return; }
  let w = t % W; let h = (t / W) % H; let c = (t / (W * H)) % C; let n = t / (W * H * C);
  var acc = 0.0;
  for (var kh = 0; kh < KH; kh++) {
    let th = h + ph - kh * dh;
    if (th < 0 || th % sh != 0 || th / sh >= OH) { continue; }
    let oh = th / sh;
    for (var kw = 0; kw < KW; kw++) {
      let tw = w + pw - kw * dw;
      if (tw < 0 || tw % sw != 0 || tw / sw >= OW) { continue; }
      let ow = tw / sw;
      let h0 = oh * sh - ph; let w0 = ow * sw - pw;
${
    isMax
      ? `      // The window's first maximum (a NaN wins), found as the forward pass does.
      var m = -inff(); var ah = -1; var aw = -1;
      for (var qh = 0; qh < KH; qh++) {
        let hh = h0 + qh * dh;
        if (hh < 0 || hh >= H) { continue; }
        for (var qw = 0; qw < KW; qw++) {
          let ww = w0 + qw * dw;
          if (ww < 0 || ww >= W) { continue; }
          if (ah < 0) { ah = hh; aw = ww; }
          let v = xat(n, c, hh, ww);
          if (v > m || isnanf(v)) { m = v; ah = hh; aw = ww; }
          if (isnanf(m)) { break; }
        }
        if (isnanf(m)) { break; }
      }
      if (ah == h && aw == w) { acc += gat(n, c, oh, ow); }`
      : `      let hEnd = min(h0 + KH, H + ph); let wEnd = min(w0 + KW, W + pw);
      let ha = max(h0, 0); let hb = min(hEnd, H); let wa = max(w0, 0); let wb = min(wEnd, W);
      let div = select((hb - ha) * (wb - wa), (hEnd - h0) * (wEnd - w0), p(${P.cip}u) == 1);
      acc += gat(n, c, oh, ow) / f32(div);`
  }
    }
  }
  out[u32(p(${P.out}u) + t)] = bitcast<u32>(acc);
}`;
}

function fillMeta(ctx: GpuContext, call: KernelCall<WindowAttrs>, out: TensorView, o: number) {
  const M = ctx.mi;
  const a = call.attrs;
  const [x, w, b] = call.inputs;
  const isConv = call.op === "conv2d";
  const back = call.op.endsWith("Backward");
  const [N, C, H, W] = x.shape;
  const kern = isConv ? [w.shape[2], w.shape[3]] : a.kernel!;
  const [OH, OW] = back ? [w.shape[2], w.shape[3]] : [out.shape[2], out.shape[3]];
  const vals = [
    N,
    C,
    H,
    W,
    isConv ? w.shape[0] : C,
    isConv ? w.shape[1] : 1,
    kern[0],
    kern[1],
    OH,
    OW,
    a.stride[0],
    a.stride[1],
    a.padding[0],
    a.padding[2],
    a.dilation?.[0] ?? 1,
    a.dilation?.[1] ?? 1,
    isConv ? w.shape[0] / (a.groups ?? 1) : 0,
    a.hasBias ? 1 : 0,
  ];
  vals.forEach((v, i) => M[o + i] = v);
  M[o + P.x] = off(x);
  for (let d = 0; d < 4; d++) M[o + P.x + 1 + d] = x.strides[d];
  if (w) {
    M[o + P.w] = off(w);
    for (let d = 0; d < 4; d++) M[o + P.w + 1 + d] = w.strides[d];
  }
  if (b && a.hasBias) {
    M[o + P.b] = off(b);
    M[o + P.b + 1] = b.strides[0];
  }
  M[o + P.out] = off(out);
  M[o + P.cip] = a.countIncludePad ? 1 : 0;
}

function windowKernel(ctx: GpuContext, op: string): KernelEntry {
  return {
    supports(call: KernelCall) {
      const out = call.outputs[0];
      return !!out && call.inputs.every((t) => isFloatDt(t.dtype) && t.ndim <= 4) &&
        isFloatDt(out.dtype) && out.size < 2 ** 31;
    },
    run(call: KernelCall<WindowAttrs>) {
      const ins = call.inputs;
      const groups = call.attrs.groups ?? 1;
      const simpleFor = (out: TensorView) =>
        op === "conv2d" &&
        (ctx.simpleKernels || ins[1].shape[0] / groups < 16 || out.size / out.shape[1] < 64);
      const gemmFor = (out: TensorView) =>
        op === "conv2d" && !simpleFor(out)
          ? convGemmPlan("conv2d", call as KernelCall<Conv2dAttrs>, out)
          : null;
      // The implicit GEMM stores f16 itself (mixed precision); other kernels stage through f32.
      const out0 = call.outputs[0];
      const direct = out0.size > 0 && out0.dtype === "f16" ? gemmFor(out0) : null;
      if (direct && convGemmWrites(direct, out0)) {
        return runConvGemm(ctx, direct, call as KernelCall<Conv2dAttrs>, out0);
      }
      viaF32(ctx, out0, (out) => {
        if (out.size === 0) return;
        const x = ins[0];
        const w = ins[1] ?? x, b = ins[2] ?? x;
        const simple = simpleFor(out);
        const gemm = gemmFor(out);
        if (gemm) return runConvGemm(ctx, gemm, call as KernelCall<Conv2dAttrs>, out);
        const bufs = [ctx.input(stOf(x)), ctx.input(stOf(w)), ctx.input(stOf(b))];
        const ob = ctx.output(stOf(out), out.offset === 0);
        const access = ctx.access(bufs, [ob]);
        const key = `${op}${simple ? ":simple" : ""}:${x.dtype}:${w.dtype}:${b.dtype}`;
        const k = ctx.kernel(
          key,
          access,
          () =>
            simple
              ? convSimpleCode(x.dtype, w.dtype, b.dtype, access)
              : op === "conv2d"
              ? convCode(x.dtype, w.dtype, b.dtype, access)
              : op === "maxPool2d" || op === "avgPool2d"
              ? poolCode(op === "maxPool2d", x.dtype, access)
              : poolBackCode(op === "maxPool2dBackward", x.dtype, w.dtype, access),
        );
        const o = ctx.slot();
        fillMeta(ctx, call, out, o);
        const all = [...bufs, ob];
        if (op === "conv2d" && !simple) {
          const [N, , OH, OW] = out.shape;
          const Og = ins[1].shape[0] / groups;
          ctx.run(k, all, Math.ceil((N * OH * OW) / 64), Math.ceil(Og / 64), groups);
        } else {
          const [gx, gy] = grid(out.size);
          ctx.run(k, all, gx, gy);
        }
      });
    },
  };
}

/**
 * conv2d's input gradient, where the implicit GEMM applies (tiled kernels, contiguous weights,
 * ≥ 32 input channels per group); elsewhere the autograd rule composes it from core ops.
 */
function convBackwardInputKernel(ctx: GpuContext): KernelEntry {
  return {
    supports(call: KernelCall<Conv2dAttrs>) {
      const out = call.outputs[0];
      return !!out && !ctx.simpleKernels && out.size < 2 ** 31 &&
        call.inputs.every((t) => isFloatDt(t.dtype) && t.ndim === 4) && isFloatDt(out.dtype) &&
        convGemmPlan("conv2dBackwardInput", call, out) !== null;
    },
    run(call: KernelCall<Conv2dAttrs>) {
      const out0 = call.outputs[0];
      if (out0.size === 0) return;
      const plan = convGemmPlan("conv2dBackwardInput", call, out0)!;
      // f16 (mixed precision) is stored by the kernel itself where it can; else staged in f32.
      if (convGemmWrites(plan, out0)) return runConvGemm(ctx, plan, call, out0);
      viaF32(ctx, out0, (out) => {
        runConvGemm(ctx, convGemmPlan("conv2dBackwardInput", call, out)!, call, out);
      });
    },
  };
}

/** conv2d's weight gradient, where the implicit GEMM applies (conv_wgrad.ts). */
function convBackwardWeightKernel(ctx: GpuContext): KernelEntry {
  return {
    supports(call: KernelCall<Conv2dAttrs>) {
      const out = call.outputs[0];
      return !!out && !ctx.simpleKernels && out.size < 2 ** 31 && out.ndim === 4 &&
        call.inputs.every((t) => isFloatDt(t.dtype) && t.size < 2 ** 31) &&
        isFloatDt(out.dtype) && convWgradApplies(call);
    },
    run(call: KernelCall<Conv2dAttrs>) {
      viaF32(ctx, call.outputs[0], (out) => {
        if (out.size > 0) runConvWgrad(ctx, call, out);
      });
    },
  };
}

/** The conv and pooling kernels bound to a context. */
export function convKernels(ctx: GpuContext): OpKernelTable {
  const k: OpKernelTable = {};
  for (const op of CONV_OPS) (k as Record<OpName, KernelEntry>)[op] = windowKernel(ctx, op);
  k.conv2dBackwardInput = convBackwardInputKernel(ctx);
  k.conv2dBackwardWeight = convBackwardWeightKernel(ctx);
  return k;
}

/** The conv-family ops with a GPU kernel. */
export const CONV_OPS = [
  "conv2d",
  "maxPool2d",
  "avgPool2d",
  "maxPool2dBackward",
  "avgPool2dBackward",
] as const;
