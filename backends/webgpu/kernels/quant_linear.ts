/**
 * `quantLinear` on the GPU (contract in core/ops/quant_linear.ts): `y = x · wᵀ` with the weight
 * read in its storage type, without a dequantized copy. Weight types: Q4_0, Q8_0 (GGUF blocks of
 * 32), f16, bf16 and f32; other block types are declined (the registry reports them).
 *
 * One workgroup of 256 threads computes 8 weight rows (32 lanes each) for up to {@link MR}
 * activation rows: lane `l` decodes blocks `l, l + 32, ...` of its weight row once into registers
 * and dots them with every activation row, so a decode step (one activation row) reads each weight
 * byte once and a prefill of T rows reads the weights ⌈T / MR⌉ times. Lanes of a row are summed by
 * a tree in workgroup memory. Activations are read as vec4 where their offset allows.
 *
 * Block layouts (ggml): Q4_0 is an f16 scale `d` and 16 bytes of nibbles, element `j < 16` the low
 * nibble of byte `j` and element `j + 16` its high nibble, value `d · (q − 8)`; Q8_0 is `d` and
 * 32 signed bytes, value `d · q`. Blocks are 18 and 34 bytes, so a block starts on a 2-byte
 * boundary: a lane loads the words covering it and realigns them by 16 bits where needed.
 *
 * Arithmetic is f32: per block `d · Σ q·x` (the scalar reference dots decoded f32 weights in
 * float64), so results agree to about k·2⁻²⁴ relative to `Σ |w·x|`.
 *
 * @module
 */
import type { KernelCall, KernelEntry, OpKernelTable } from "../../../core/backend/plugin.ts";
import type { QuantLinearAttrs } from "../../../core/backend/attrs.ts";
import { byteOffset } from "../../../core/dtype.ts";
import type { GpuContext } from "../context.ts";
import { off, prmDecl, stOf } from "./wgsl.ts";

/** Activation rows per workgroup (accumulators per thread). */
export const MR = 8;
/** Weight rows per workgroup; lanes per weight row. */
export const RPW = 8, LANES = 32;

/** Weight types with a GPU kernel. */
export const QUANT_LINEAR_TYPES: readonly string[] = ["q4_0", "q8_0", "f16", "bf16", "f32"];

/**
 * How one lane handles one "chunk" of a weight row: `per` elements, decoded to `vec4` groups
 * `wv0..` whose elements pair with activation groups at element offsets `xo` (relative to the
 * chunk's first element), and the chunk's scale expression.
 */
export interface Chunk {
  /** Elements per chunk. */
  per: number;
  /** WGSL that decodes chunk `c` of the row starting at byte `rb` into `wv0..`, and `d`. */
  decode: string;
  /** Element offsets (in the chunk) of each `wv_i`'s 4 elements. */
  xo: number[];
}

/** Words `u0..u{n-1}` from byte `s` (even) realigned into `v0..v{n-2}` (bytes s..). */
function realign(n: number): string {
  let code = `let wi = s >> 2u; let odd = (s & 2u) != 0u;\n`;
  for (let j = 0; j < n; j++) code += `let u${j} = W[wi + ${j}u];\n`;
  for (let j = 0; j < n - 1; j++) {
    code += `let v${j} = select(u${j}, (u${j} >> 16u) | (u${j + 1} << 16u), odd);\n`;
  }
  return code;
}

/** Word `j` of the quants that follow the 2-byte scale (bytes 2 + 4j ..). */
const qword = (j: number) => `((v${j} >> 16u) | (v${j + 1} << 16u))`;

/** The chunk form of weight type `dt`. */
export function chunkOf(dt: string, vec: boolean): Chunk {
  switch (dt) {
    case "q4_0": {
      let decode = `let s = rb + c * 18u;\n${realign(6)}let d = unpack2x16float(v0).x;\n`;
      const xo: number[] = [];
      for (let j = 0; j < 4; j++) {
        decode += `let q${j} = vec4<u32>(${qword(j)}) >> vec4<u32>(0u, 8u, 16u, 24u);\n` +
          `let wv${j} = vec4<f32>(q${j} & vec4<u32>(15u)) - 8.0;\n` +
          `let wv${j + 4} = vec4<f32>((q${j} >> vec4<u32>(4u)) & vec4<u32>(15u)) - 8.0;\n`;
      }
      for (let j = 0; j < 4; j++) xo[j] = 4 * j;
      for (let j = 0; j < 4; j++) xo[j + 4] = 16 + 4 * j;
      return { per: 32, decode, xo };
    }
    case "q8_0": {
      let decode = `let s = rb + c * 34u;\n${realign(10)}let d = unpack2x16float(v0).x;\n`;
      const xo: number[] = [];
      for (let j = 0; j < 8; j++) {
        decode += `let wv${j} = vec4<f32>(bitcast<vec4<i32>>(vec4<u32>(${qword(j)}) << ` +
          `vec4<u32>(24u, 16u, 8u, 0u)) >> vec4<u32>(24u));\n`;
        xo[j] = 4 * j;
      }
      return { per: 32, decode, xo };
    }
    case "f16":
    case "bf16": {
      const half = (w: string) =>
        dt === "f16"
          ? `unpack2x16float(${w})`
          : `vec2<f32>(bitcast<f32>(${w} << 16u), bitcast<f32>(${w} & 0xffff0000u))`;
      if (!vec) {
        // One element per chunk: any offset and length.
        return {
          per: 1,
          decode: `let e = (rb >> 1u) + c; let h = ${
            half("W[e >> 1u]")
          }[e & 1u]; let wv0 = vec4<f32>(h, 0.0, 0.0, 0.0); let d = 1.0;\n`,
          xo: [0],
        };
      }
      let decode = `let wi = (rb >> 2u) + c * 4u; let d = 1.0;\n`;
      for (let j = 0; j < 4; j += 2) {
        decode += `let wv${j / 2} = vec4<f32>(${half(`W[wi + ${j}u]`)}, ${
          half(`W[wi + ${j + 1}u]`)
        });\n`;
      }
      return { per: 8, decode, xo: [0, 4] };
    }
    default: { // f32
      if (!vec) {
        return {
          per: 1,
          decode: `let wv0 = vec4<f32>(bitcast<f32>(W[(rb >> 2u) + c]), 0.0, 0.0, 0.0); ` +
            `let d = 1.0;\n`,
          xo: [0],
        };
      }
      return {
        per: 4,
        decode: `let wi = (rb >> 2u) + c * 4u; let d = 1.0;\n` +
          `let wv0 = bitcast<vec4<f32>>(vec4<u32>(W[wi], W[wi + 1u], W[wi + 2u], W[wi + 3u]));\n`,
        xo: [0],
      };
    }
  }
}

/**
 * The kernel source for weight type `dt` (`vec`: whole chunks, else element by element; `xvec`:
 * vec4 activation loads; `access`: the bindings' access letters as in `GpuContext.access`).
 * Bindings: X (f32), W (words), Y (f32), metadata [M, N, K, offX (elements), wByte (byte offset of
 * w), offY, rowBytes, chunks per row]. With `accumulate` the product is added to Y (a residual).
 */
export function quantLinearCode(
  dt: string,
  vec: boolean,
  xvec: boolean,
  access: string,
  accumulate = false,
): string {
  const ch = chunkOf(dt, vec);
  const acc = (a: string) => (a === "r" ? "read" : "read_write");
  const xdecl = xvec
    ? `@group(0) @binding(0) var<storage, ${acc(access[0])}> X: array<vec4<f32>>;
fn ldx(e: u32) -> vec4<f32> { return X[e >> 2u]; }`
    : `@group(0) @binding(0) var<storage, ${acc(access[0])}> X: array<f32>;
fn ldx(e: u32) -> vec4<f32> { return vec4<f32>(X[e], X[e + 1u], X[e + 2u], X[e + 3u]); }`;
  // A one-element chunk dots only lane 0 of its vec4 (the others are zero): read one element.
  const ld = (e: string) => ch.per === 1 ? `vec4<f32>(XS(${e}), 0.0, 0.0, 0.0)` : `ldx(${e})`;
  const xs = xvec ? `X[(e) >> 2u][(e) & 3u]` : `X[e]`;
  const dots = ch.xo.map((o, i) => `dot(wv${i}, ${ld(`xb + ${o}u`)})`).join(" + ");
  return `
${xdecl}
fn XS(e: u32) -> f32 { return ${xs}; }
@group(0) @binding(1) var<storage, ${acc(access[1])}> W: array<u32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
${prmDecl(3)}
var<workgroup> red: array<f32, ${MR * RPW * LANES}>;
@compute @workgroup_size(${RPW * LANES})
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let M = u32(prm[0]); let N = u32(prm[1]); let K = u32(prm[2]);
  let offX = u32(prm[3]); let wByte = u32(prm[4]); let offY = u32(prm[5]);
  let rowBytes = u32(prm[6]); let chunks = u32(prm[7]);
  let lane = lid.x % ${LANES}u;
  let n = wid.x * ${RPW}u + lid.x / ${LANES}u;
  let m0 = wid.y * ${MR}u;
  let mr = min(${MR}u, M - m0);
  var acc: array<f32, ${MR}>;
  if (n < N) {
    let rb = wByte + n * rowBytes;
    for (var c = lane; c < chunks; c += ${LANES}u) {
${ch.decode}
      for (var i = 0u; i < mr; i++) {
        let xb = offX + (m0 + i) * K + c * ${ch.per}u;
        acc[i] = fma(d, ${dots}, acc[i]);
      }
    }
  }
  for (var i = 0u; i < ${MR}u; i++) { red[i * ${RPW * LANES}u + lid.x] = acc[i]; }
  workgroupBarrier();
  for (var h = ${LANES / 2}u; h > 0u; h >>= 1u) {
    if (lane < h) {
      for (var i = 0u; i < mr; i++) {
        let a = i * ${RPW * LANES}u + lid.x;
        red[a] += red[a + h];
      }
    }
    workgroupBarrier();
  }
  if (lane == 0u && n < N) {
    for (var i = 0u; i < mr; i++) {
      let at = offY + (m0 + i) * N + n;
      Y[at] = red[i * ${RPW * LANES}u + lid.x]${accumulate ? " + Y[at]" : ""};
    }
  }
}`;
}

/**
 * The simple form (software adapters, see `GpuContext.simpleKernels`: the unrolled decoders take
 * minutes to compile under llvmpipe's GL driver): one thread per output, a plain loop over k that
 * decodes one weight element at a time. Same bindings and metadata as {@link quantLinearCode};
 * dispatched as (⌈N / 64⌉, M).
 */
export function quantLinearSimpleCode(dt: string, access: string, accumulate = false): string {
  const acc = (a: string) => (a === "r" ? "read" : "read_write");
  const el: Record<string, string> = {
    q4_0: `let s = rb + (e >> 5u) * 18u; let j = e & 31u;
  let b = byteAt(s + 2u + (j & 15u));
  return halfAt(s) * (f32(select(b & 15u, b >> 4u, j >= 16u)) - 8.0);`,
    q8_0: `let s = rb + (e >> 5u) * 34u;
  return halfAt(s) * f32(bitcast<i32>(byteAt(s + 2u + (e & 31u)) << 24u) >> 24u);`,
    f16: `return halfAt(rb + 2u * e);`,
    bf16:
      `let i = rb + 2u * e; return bitcast<f32>(((W[i >> 2u] >> ((i & 2u) * 8u)) & 0xffffu) << 16u);`,
    f32: `return bitcast<f32>(W[(rb >> 2u) + e]);`,
  };
  return `
@group(0) @binding(0) var<storage, ${acc(access[0])}> X: array<f32>;
@group(0) @binding(1) var<storage, ${acc(access[1])}> W: array<u32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
${prmDecl(3)}
fn byteAt(i: u32) -> u32 { return (W[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu; }
fn halfAt(i: u32) -> f32 { return unpack2x16float(W[i >> 2u] >> ((i & 2u) * 8u)).x; }
fn wel(rb: u32, e: u32) -> f32 {
  ${el[dt]}
}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let M = u32(prm[0]); let N = u32(prm[1]); let K = u32(prm[2]);
  let n = gid.x; let m = gid.y;
  if (n >= N || m >= M) { return; }
  let rb = u32(prm[4]) + n * u32(prm[6]);
  let xb = u32(prm[3]) + m * K;
  var acc = 0.0;
  for (var e = 0u; e < K; e++) { acc = fma(wel(rb, e), X[xb + e], acc); }
  let at = u32(prm[5]) + m * N + n;
  Y[at] = acc${accumulate ? " + Y[at]" : ""};
}`;
}

/** Whether the weight of `call` is read in whole chunks (vector form) or element by element. */
function vectorWeight(call: KernelCall<QuantLinearAttrs>): boolean {
  const w = call.inputs[1];
  const k = w.shape[1];
  const base = stOf(w).base + byteOffset(w.dtype, w.offset);
  if (w.dtype === "f16" || w.dtype === "bf16") return k % 8 === 0 && base % 4 === 0;
  if (w.dtype === "f32") return k % 4 === 0;
  return true;
}

function quantLinearKernel(ctx: GpuContext): KernelEntry<QuantLinearAttrs> {
  return {
    supports(call: KernelCall<QuantLinearAttrs>) {
      const [x, w] = call.inputs, [y] = call.outputs;
      if (!y || y.dtype !== "f32" || x.dtype !== "f32") return false;
      if (call.attrs.activations !== "f32" && w.dtype !== "f32") return false;
      if (!QUANT_LINEAR_TYPES.includes(w.dtype)) return false;
      const m = x.shape[0], n = w.shape[0];
      return Math.ceil(n / 64) <= 65535 && Math.ceil(m / MR) <= 65535;
    },
    run(call: KernelCall<QuantLinearAttrs>) {
      const [x, w] = call.inputs, [y] = call.outputs;
      const m = x.shape[0], k = x.shape[1], n = w.shape[0];
      if (y.size === 0) return;
      if (k === 0) {
        ctx.clean(stOf(y));
        return;
      }
      const vec = vectorWeight(call);
      const xvec = off(x) % 4 === 0 && k % 4 === 0;
      const bx = ctx.input(stOf(x)), bw = ctx.input(stOf(w));
      const by = ctx.output(stOf(y), y.offset === 0);
      const access = ctx.access([bx, bw], [by]);
      const simple = ctx.simpleKernels && m <= 65535;
      const kern = simple
        ? ctx.kernel(
          `quantLinear:simple:${w.dtype}`,
          access,
          () => quantLinearSimpleCode(w.dtype, access),
        )
        : ctx.kernel(
          `quantLinear:${w.dtype}:${vec}:${xvec}`,
          access,
          () => quantLinearCode(w.dtype, vec, xvec, access),
        );
      const per = chunkOf(w.dtype, vec).per;
      const o = ctx.slot(), Mi = ctx.mi;
      Mi[o] = m;
      Mi[o + 1] = n;
      Mi[o + 2] = k;
      Mi[o + 3] = off(x);
      Mi[o + 4] = stOf(w).base + byteOffset(w.dtype, w.offset);
      Mi[o + 5] = off(y);
      Mi[o + 6] = byteOffset(w.dtype, k);
      Mi[o + 7] = Math.ceil(k / per);
      if (simple) ctx.run(kern, [bx, bw, by], Math.ceil(n / 64), m);
      else ctx.run(kern, [bx, bw, by], Math.ceil(n / RPW), Math.ceil(m / MR));
    },
  };
}

/** The quantized-linear kernel bound to a context. */
export function quantLinearKernels(ctx: GpuContext): OpKernelTable {
  return { quantLinear: quantLinearKernel(ctx) };
}
