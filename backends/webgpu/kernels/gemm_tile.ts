/**
 * The tiled GEMM body shared by `matmul` and `conv2d` (implicit GEMM): a 128×128 output tile per
 * workgroup of 256 threads, each thread an 8×8 register block (two 4×4 quadrants 64 apart, so
 * workgroup-memory reads are conflict-free vec4 loads), BK = 16, and double-buffered workgroup
 * tiles: the next tile's global loads are issued before the current tile's FMAs, so one barrier
 * per K step suffices.
 *
 * The caller supplies how the A tile ([BM rows m][BK k]) and the B tile ([BK k][BN n]) are read
 * from global memory into registers (`ra0`, `ra1`, `rb0`, `rb1`: two vec4 per thread each) and how
 * the 8×8 result block is written; the standard strided loaders for a matrix operand are here
 * ({@link loadTileA}, {@link loadTileB}), a convolution's input-patch gather is in conv.ts.
 *
 * @module
 */
import type { TensorView } from "../../../core/backend/plugin.ts";
import type { DType } from "../../../core/dtype.ts";
import type { GpuContext } from "../context.ts";
import { grid, off, prmDecl, THREAD, TID, WG } from "./wgsl.ts";

/** Tile sizes: output rows and columns per workgroup, and the K step. */
export const BM = 128, BN = 128, BK = 16;
const LANES = [0, 1, 2, 3];
const XYZW = "xyzw";

/** How an operand tile is read: vec4 along rows ("row"), along columns ("col"), or elements. */
export type Load = "row" | "col" | "elem";

/**
 * Vectorizable axis of a [R, C] matrix operand view (its last two strides), given the batch
 * strides: "row" when C is contiguous, "col" when R is.
 */
export function loadMode(t: TensorView, batchStrides: readonly number[], dt: DType): Load {
  const r = t.ndim, sr = t.strides[r - 2], sc = t.strides[r - 1];
  const R = t.shape[r - 2], C = t.shape[r - 1];
  const aligned = (off(t) % 4 === 0) && batchStrides.every((s) => s % 4 === 0);
  if (!aligned || (dt !== "f32" && dt !== "f16")) return "elem";
  if ((sc === 1 || C === 1) && sr % 4 === 0 && C % 4 === 0) return "row";
  if ((sr === 1 || R === 1) && sc % 4 === 0 && R % 4 === 0) return "col";
  return "elem";
}

/** WGSL binding and element (`ld1X`) or vec4 (`ld4X`) loader of operand `X`. */
export function operand(X: string, binding: number, dt: DType, mode: Load, access: string): string {
  const acc = access === "r" ? "read" : "read_write";
  if (mode !== "elem" && dt === "f32") {
    return `@group(0) @binding(${binding}) var<storage, ${acc}> ${X}: array<vec4<f32>>;
fn ld4${X}(e: u32) -> vec4<f32> { return ${X}[e >> 2u]; }`;
  }
  if (mode !== "elem" && dt === "f16") {
    return `@group(0) @binding(${binding}) var<storage, ${acc}> ${X}: array<vec2<u32>>;
fn ld4${X}(e: u32) -> vec4<f32> { let w = ${X}[e >> 2u]; return vec4<f32>(unpack2x16float(w.x), unpack2x16float(w.y)); }`;
  }
  const one = dt === "f32"
    ? `bitcast<f32>(${X}[e])`
    : dt === "f16"
    ? `unpack2x16float(${X}[e >> 1u])[e & 1u]`
    : `bitcast<f32>(((${X}[e >> 1u] >> ((e & 1u) * 16u)) & 0xffffu) << 16u)`;
  return `@group(0) @binding(${binding}) var<storage, ${acc}> ${X}: array<u32>;
fn ld1${X}(e: u32) -> f32 { return ${one}; }`;
}

/** `v` or, with edge guards, `cond ? v : zero`. */
const sel = (guard: boolean, cond: string, v: string, zero: string) =>
  guard ? `select(${zero}, ${v}, ${cond})` : v;

/** The flat element this thread loads in half `h` of a tile (two vec4 per thread). */
export const tileElem = (h: number) => `(lid + ${h * 256}u)`;

/**
 * Load half `h` of the A tile into `ra{h}` from operand `A` (metadata names in scope: M, K, sam,
 * sak, offA, row0, k0).
 */
export function loadTileA(ma: Load, guard: boolean, h: number): string {
  const e = tileElem(h);
  if (ma === "row") {
    // 4 vec4 (16 k) per row m.
    return `{ let m = ${e} / 4u; let kq = (${e} % 4u) * 4u; let gm = row0 + m; let gk = k0 + kq;
      ${
      guard
        ? `if (gm < M && gk < K) { ra${h} = ld4A(offA + gm * sam + gk); } else { ra${h} = vec4<f32>(0.0); }`
        : `ra${h} = ld4A(offA + gm * sam + gk);`
    } }`;
  }
  if (ma === "col") {
    // 32 vec4 (128 m) per k.
    return `{ let k = ${e} / 32u; let mq = (${e} % 32u) * 4u; let gm = row0 + mq; let gk = k0 + k;
      ${
      guard
        ? `if (gm < M && gk < K) { ra${h} = ld4A(offA + gm + gk * sak); } else { ra${h} = vec4<f32>(0.0); }`
        : `ra${h} = ld4A(offA + gm + gk * sak);`
    } }`;
  }
  return `{ let m = ${e} / 4u; let kq = (${e} % 4u) * 4u; let gm = row0 + m; let gk = k0 + kq;
      ${
    LANES.map((q) =>
      `ra${h}.${XYZW[q]} = ${
        sel(guard, `gm < M && gk + ${q}u < K`, `ld1A(offA + gm * sam + (gk + ${q}u) * sak)`, "0.0")
      };`
    ).join(" ")
  } }`;
}

/** Store `ra{h}` into the k-major A tile (As[k][m]). */
export function storeTileA(ma: Load, h: number): string {
  const e = tileElem(h);
  if (ma === "col") {
    return `{ let k = ${e} / 32u; let mq = ${e} % 32u; As[buf + k * 32u + mq] = ra${h}; }`;
  }
  return `{ let m = ${e} / 4u; let kq = (${e} % 4u) * 4u;
      ${
    LANES.map((q) => `As[buf + (kq + ${q}u) * 32u + m / 4u][m % 4u] = ra${h}.${XYZW[q]};`)
      .join(" ")
  } }`;
}

/**
 * Load half `h` of the B tile into `rb{h}` from operand `B` (names in scope: N, K, sbk, sbn, offB,
 * col0, k0). "row" and "elem" read 4 consecutive n of one k; "col" 4 consecutive k of one n.
 */
export function loadTileB(mb: Load, guard: boolean, h: number): string {
  const e = tileElem(h);
  if (mb === "row") {
    return `{ let k = ${e} / 32u; let nq = (${e} % 32u) * 4u; let gk = k0 + k; let gn = col0 + nq;
      ${
      guard
        ? `if (gk < K && gn < N) { rb${h} = ld4B(offB + gk * sbk + gn); } else { rb${h} = vec4<f32>(0.0); }`
        : `rb${h} = ld4B(offB + gk * sbk + gn);`
    } }`;
  }
  if (mb === "col") {
    return `{ let n = ${e} / 4u; let kq = (${e} % 4u) * 4u; let gk = k0 + kq; let gn = col0 + n;
      ${
      guard
        ? `if (gk < K && gn < N) { rb${h} = ld4B(offB + gk + gn * sbn); } else { rb${h} = vec4<f32>(0.0); }`
        : `rb${h} = ld4B(offB + gk + gn * sbn);`
    } }`;
  }
  return `{ let k = ${e} / 32u; let nq = (${e} % 32u) * 4u; let gk = k0 + k; let gn = col0 + nq;
      ${
    LANES.map((q) =>
      `rb${h}.${XYZW[q]} = ${
        sel(guard, `gk < K && gn + ${q}u < N`, `ld1B(offB + gk * sbk + (gn + ${q}u) * sbn)`, "0.0")
      };`
    ).join(" ")
  } }`;
}

/** Store `rb{h}` into the k-major B tile (Bs[k][n]); "row" and "elem" loads hold 4 n of one k. */
export function storeTileB(mb: Load, h: number): string {
  const e = tileElem(h);
  if (mb === "col") {
    return `{ let n = ${e} / 4u; let kq = (${e} % 4u) * 4u;
      ${
      LANES.map((q) => `Bs[buf + (kq + ${q}u) * 32u + n / 4u][n % 4u] = rb${h}.${XYZW[q]};`)
        .join(" ")
    } }`;
  }
  return `{ let k = ${e} / 32u; let nq = ${e} % 32u; Bs[buf + k * 32u + nq] = rb${h}; }`;
}

/** What a tiled GEMM kernel is made of, besides the shared body. */
export interface GemmParts {
  /** Bindings and helper functions (the operands, the output, the metadata). */
  decls: string;
  /**
   * Code at the start of `main` (builtins `lid: u32`, `wid: vec3u` in scope) that defines the K
   * range `kBeg`…`K` (u32; kBeg a multiple of BK) and the tile origin `row0`, `col0` (u32), and
   * whatever the loaders and `store` need.
   */
  prologue: string;
  /** Load half `h` (0 or 1) of the A tile into `ra{h}` (k0 in scope). */
  loadA(h: number): string;
  /** Store `ra{h}` into As. */
  storeA(h: number): string;
  /** Load half `h` of the B tile into `rb{h}` (k0 in scope). */
  loadB(h: number): string;
  /** Store `rb{h}` into Bs. */
  storeB(h: number): string;
  /** Write the vec4 `v` of results for output row `row` and columns `col`…`col + 3`. */
  store(row: string, col: string, v: string): string;
}

/** The full WGSL source of a tiled GEMM kernel from its parts. */
export function tiledGemmCode(p: GemmParts): string {
  const acc: string[] = [];
  for (let i = 0; i < 8; i++) for (let h = 0; h < 2; h++) acc.push(`c${i}_${h}`);
  let inner = "";
  for (let kk = 0; kk < BK; kk++) {
    inner += `    { let a0 = As[cur + ${kk * 32}u + ty]; let a1 = As[cur + ${kk * 32 + 16}u + ty];
      let b0 = Bs[cur + ${kk * 32}u + tx]; let b1 = Bs[cur + ${kk * 32 + 16}u + tx];\n`;
    for (let i = 0; i < 8; i++) {
      const a = `a${i >> 2}.${"xyzw"[i & 3]}`;
      inner +=
        `      c${i}_0 = fma(vec4<f32>(${a}), b0, c${i}_0); c${i}_1 = fma(vec4<f32>(${a}), b1, c${i}_1);\n`;
    }
    inner += `    }\n`;
  }
  let epi = "";
  for (let i = 0; i < 8; i++) {
    const row = `row0 + ${i < 4 ? "" : "64u + "}ty * 4u + ${i & 3}u`;
    for (let h = 0; h < 2; h++) {
      epi += `  ${p.store(`(${row})`, `(col0 + ${h ? "64u + " : ""}tx * 4u)`, `c${i}_${h}`)}\n`;
    }
  }
  const both = (f: (h: number) => string) => `${f(0)}\n  ${f(1)}`;
  return `
${p.decls}
var<workgroup> As: array<vec4<f32>, ${2 * BK * BM / 4}>;
var<workgroup> Bs: array<vec4<f32>, ${2 * BK * BN / 4}>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u) {
${p.prologue}
  let tx = lid % 16u; let ty = lid / 16u;
${acc.map((c) => `  var ${c} = vec4<f32>(0.0);`).join("\n")}
  var ra0: vec4<f32>; var ra1: vec4<f32>; var rb0: vec4<f32>; var rb1: vec4<f32>;
  let nt = (K - kBeg + ${BK - 1}u) / ${BK}u;
  var k0 = kBeg;
  var buf = 0u;
  ${both(p.loadA)}
  ${both(p.loadB)}
  ${both(p.storeA)}
  ${both(p.storeB)}
  workgroupBarrier();
  for (var t = 0u; t < nt; t++) {
    let cur = (t % 2u) * ${BK * 32}u;
    let more = t + 1u < nt;
    if (more) {
      k0 = kBeg + (t + 1u) * ${BK}u;
      ${both(p.loadA)}
      ${both(p.loadB)}
    }
${inner}
    if (more) {
      buf = ((t + 1u) % 2u) * ${BK * 32}u;
      ${both(p.storeA)}
      ${both(p.storeB)}
    }
    workgroupBarrier();
  }
${epi}
}`;
}

/**
 * Sum of the split-K partial products: C[offC + i] = Σ_s P[s·L + i] (+ bias[i mod N]).
 * Metadata: [L, S, offC, N, bias offset, bias stride].
 */
const splitSumCode = (access: string, bias: DType | null) => `
@group(0) @binding(0) var<storage, ${access[0] === "r" ? "read" : "read_write"}> P: array<f32>;
${bias ? operand("Bi", 1, bias, "elem", access[1]) : ""}
@group(0) @binding(${bias ? 2 : 1}) var<storage, read_write> C: array<f32>;
${prmDecl(bias ? 3 : 2)}
@compute @workgroup_size(${WG})
fn main(${THREAD}) {
  let i = ${TID}; let L = u32(prm[0]);
  if (i >= L) { return; }
  var acc = 0.0;
  for (var s = 0u; s < u32(prm[1]); s++) { acc += P[s * L + i]; }
  C[u32(prm[2]) + i] = acc${bias ? " + ld1Bi(u32(prm[4]) + (i % u32(prm[3])) * u32(prm[5]))" : ""};
}`;

/**
 * Record the sum of `splits` partial products of `L` elements each (contiguous in `part`) into
 * `c` at element offset `offC`, plus a bias over the last axis (length `n`) if given.
 */
export function runSplitSum(
  ctx: GpuContext,
  part: GPUBuffer,
  c: GPUBuffer,
  L: number,
  splits: number,
  offC: number,
  bias: { buffer: GPUBuffer; view: TensorView; n: number } | null = null,
): void {
  const ins = bias ? [part, bias.buffer] : [part];
  const access = ctx.access(ins, [c]);
  const bdt = bias ? bias.view.dtype : null;
  const k = ctx.kernel(`gemm:splitsum:${bdt}`, access, () => splitSumCode(access, bdt));
  const o = ctx.slot(), M = ctx.mi;
  M[o] = L;
  M[o + 1] = splits;
  M[o + 2] = offC;
  M[o + 3] = bias ? bias.n : 1;
  M[o + 4] = bias ? off(bias.view) : 0;
  M[o + 5] = bias ? bias.view.strides[0] : 0;
  const [gx, gy] = grid(L);
  ctx.run(k, [...ins, c], gx, gy);
}

/** Workgroups that fill the GPU (about two per SM of an H100; only used to size K splits). */
const FILL = 264;

/**
 * K splits of a product whose output tiles are too few to fill the GPU (a weight gradient with a
 * long inner axis, a BERT projection of 1024×768): each split sums ≥ 256 of K (a multiple of BK),
 * the partials are summed by a second kernel. 1 when the tiles alone fill the GPU or K is short.
 */
export function kSplits(
  M: number,
  N: number,
  K: number,
  nb: number,
): { splits: number; kc: number } {
  const tiles = Math.ceil(M / BM) * Math.ceil(N / BN) * nb;
  const want = Math.min(Math.ceil(FILL / tiles), Math.floor(K / 256), Math.floor(65535 / nb));
  if (tiles >= FILL / 2 || want < 2) return { splits: 1, kc: K };
  const kc = Math.ceil(K / want / BK) * BK;
  return { splits: Math.ceil(K / kc), kc };
}
