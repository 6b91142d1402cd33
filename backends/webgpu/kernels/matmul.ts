/**
 * Batched matmul C = A·B on the GPU: a 128×128 tile per workgroup of 256 threads, each thread an
 * 8×8 register block (two 4×4 quadrants 64 apart, so workgroup-memory reads are conflict-free
 * vec4 loads), BK = 16, and double-buffered workgroup tiles: the next tile's global loads are
 * issued before the current tile's FMAs, so one barrier per K step suffices.
 *
 * Operands are read in place through their strides (transposed views need no copy). An operand
 * contiguous along one of its two matrix axes (row-major, or a transposed view) with 4-aligned
 * offsets and strides is read with vec4 loads along that axis; any other layout is read element
 * by element into the same tiles. Tile-edge guards are only compiled in when M, N or K are not
 * multiples of the tile. bf16 operands, and f16 ones without `shader-f16` or without vec4 loads,
 * are widened to f32 on load and accumulated in f32, the result rounded once. Two f16 operands on
 * a device with `shader-f16` take the f16-math kernel (matmul_f16.ts: f16 products summed in f16
 * within 16-term K tiles, tiles summed in f32).
 *
 * @module
 */
import { viaF32 } from "./f32_output.ts";
import type {
  KernelCall,
  KernelEntry,
  OpKernelTable,
  TensorView,
} from "../../../core/backend/plugin.ts";
import { coalesceAxes } from "../../../core/shape.ts";
import type { DType } from "../../../core/dtype.ts";
import type { GpuContext } from "../context.ts";
import { isFloatDt, off, prmDecl, stOf } from "./wgsl.ts";
import { matmulF16Code } from "./matmul_f16.ts";

const BM = 128, BN = 128, BK = 16;
const LANES = [0, 1, 2, 3];
const XYZW = "xyzw";

/** How an operand tile is read: vec4 along rows ("row"), along columns ("col"), or elements. */
type Load = "row" | "col" | "elem";

/**
 * Vectorizable axis of a [R, C] matrix operand view (its last two strides), given the batch
 * strides: "row" when C is contiguous, "col" when R is.
 */
function loadMode(t: TensorView, batchStrides: readonly number[], dt: DType): Load {
  const r = t.ndim, sr = t.strides[r - 2], sc = t.strides[r - 1];
  const R = t.shape[r - 2], C = t.shape[r - 1];
  const aligned = (off(t) % 4 === 0) && batchStrides.every((s) => s % 4 === 0);
  if (!aligned || (dt !== "f32" && dt !== "f16")) return "elem";
  if ((sc === 1 || C === 1) && sr % 4 === 0 && C % 4 === 0) return "row";
  if ((sr === 1 || R === 1) && sc % 4 === 0 && R % 4 === 0) return "col";
  return "elem";
}

/** WGSL binding and element/vec4 loaders of operand `X` (dtype `dt`, read mode `mode`). */
function operand(X: string, binding: number, dt: DType, mode: Load, access: string): string {
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

/**
 * The kernel source. Metadata: [M, N, K, sam, sak, sbk, sbn, offA, offB, offC, nb(batch rank),
 * bshape(4), bsA(4), bsB(4)].
 */
function matmulCode(
  da: DType,
  db: DType,
  ma: Load,
  mb: Load,
  guard: boolean,
  vecC: boolean,
  access: string,
): string {
  const g = (
    cond: string,
    v: string,
    zero: string,
  ) => (guard ? `select(${zero}, ${v}, ${cond})` : v);
  // Tile loads into registers ra0, ra1 (A) and rb0, rb1 (B), as vec4, two per thread.
  // A tile: [BM rows m][BK k]; stored k-major as As[k][m].
  const loadA = (h: number) => {
    const e = `(lid + ${h * 256}u)`;
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
          g(`gm < M && gk + ${q}u < K`, `ld1A(offA + gm * sam + (gk + ${q}u) * sak)`, "0.0")
        };`
      ).join(" ")
    } }`;
  };
  const storeA = (h: number) => {
    const e = `(lid + ${h * 256}u)`;
    if (ma === "col") {
      return `{ let k = ${e} / 32u; let mq = ${e} % 32u; As[buf + k * 32u + mq] = ra${h}; }`;
    }
    return `{ let m = ${e} / 4u; let kq = (${e} % 4u) * 4u;
      ${
      LANES.map((q) => `As[buf + (kq + ${q}u) * 32u + m / 4u][m % 4u] = ra${h}.${XYZW[q]};`)
        .join(" ")
    } }`;
  };
  // B tile: [BK k][BN n]; stored k-major as Bs[k][n].
  const loadB = (h: number) => {
    const e = `(lid + ${h * 256}u)`;
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
          g(`gk < K && gn + ${q}u < N`, `ld1B(offB + gk * sbk + (gn + ${q}u) * sbn)`, "0.0")
        };`
      ).join(" ")
    } }`;
  };
  const storeB = (h: number) => {
    const e = `(lid + ${h * 256}u)`;
    if (mb === "col") {
      return `{ let n = ${e} / 4u; let kq = (${e} % 4u) * 4u;
      ${
        LANES.map((q) => `Bs[buf + (kq + ${q}u) * 32u + n / 4u][n % 4u] = rb${h}.${XYZW[q]};`)
          .join(" ")
      } }`;
    }
    return `{ let k = ${e} / 32u; let nq = ${e} % 32u; Bs[buf + k * 32u + nq] = rb${h}; }`;
  };
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
      const col = `col0 + ${h ? "64u + " : ""}tx * 4u`;
      const v = `c${i}_${h}`;
      if (vecC) {
        epi += guard
          ? `  { let r = ${row}; let c = ${col}; if (r < M && c < N) { C[(offC + r * N + c) >> 2u] = ${v}; } }\n`
          : `  C[(offC + (${row}) * N + ${col}) >> 2u] = ${v};\n`;
      } else {
        epi +=
          `  { let r = ${row}; let c = ${col}; if (r < M) { for (var q = 0u; q < 4u; q++) { if (c + q < N) { C[offC + r * N + c + q] = ${v}[q]; } } } }\n`;
      }
    }
  }
  return `
${operand("A", 0, da, ma, access[0])}
${operand("B", 1, db, mb, access[1])}
@group(0) @binding(2) var<storage, read_write> C: array<${vecC ? "vec4<f32>" : "f32"}>;
${prmDecl(3)}
var<workgroup> As: array<vec4<f32>, ${2 * BK * BM / 4}>;
var<workgroup> Bs: array<vec4<f32>, ${2 * BK * BN / 4}>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u) {
  let M = u32(prm[0]); let N = u32(prm[1]); let K = u32(prm[2]);
  let sam = u32(prm[3]); let sak = u32(prm[4]); let sbk = u32(prm[5]); let sbn = u32(prm[6]);
  // Batch offsets from the batch index (up to 4 coalesced batch axes).
  var bi = wid.z;
  var offA = u32(prm[7]); var offB = u32(prm[8]);
  for (var d = prm[10] - 1; d >= 0; d--) {
    let len = u32(prm[11 + d]);
    let c = bi % len;
    bi = bi / len;
    offA += c * u32(prm[15 + d]);
    offB += c * u32(prm[19 + d]);
  }
  let offC = u32(prm[9]) + wid.z * M * N;
  let row0 = wid.y * ${BM}u; let col0 = wid.x * ${BN}u;
  let tx = lid % 16u; let ty = lid / 16u;
${acc.map((c) => `  var ${c} = vec4<f32>(0.0);`).join("\n")}
  var ra0: vec4<f32>; var ra1: vec4<f32>; var rb0: vec4<f32>; var rb1: vec4<f32>;
  let nt = (K + ${BK - 1}u) / ${BK}u;
  var k0 = 0u;
  var buf = 0u;
  ${loadA(0)}
  ${loadA(1)}
  ${loadB(0)}
  ${loadB(1)}
  ${storeA(0)}
  ${storeA(1)}
  ${storeB(0)}
  ${storeB(1)}
  workgroupBarrier();
  for (var t = 0u; t < nt; t++) {
    let cur = (t % 2u) * ${BK * 32}u;
    let more = t + 1u < nt;
    if (more) {
      k0 = (t + 1u) * ${BK}u;
      ${loadA(0)}
      ${loadA(1)}
      ${loadB(0)}
      ${loadB(1)}
    }
${inner}
    if (more) {
      buf = ((t + 1u) % 2u) * ${BK * 32}u;
      ${storeA(0)}
      ${storeA(1)}
      ${storeB(0)}
      ${storeB(1)}
    }
    workgroupBarrier();
  }
${epi}
}`;
}

/**
 * The simple form: one thread per output element, a plain loop over K with element loads through
 * the strides (small products, and software adapters: see `GpuContext.simpleKernels`). Same
 * metadata as the tiled kernel; dispatched as (⌈N/64⌉, M, batches).
 */
function matmulSimpleCode(da: DType, db: DType, access: string): string {
  return `
${operand("A", 0, da, "elem", access[0])}
${operand("B", 1, db, "elem", access[1])}
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
${prmDecl(3)}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let M = u32(prm[0]); let N = u32(prm[1]); let K = u32(prm[2]);
  let n = gid.x; let m = gid.y;
  if (n >= N || m >= M) { return; }
  var bi = gid.z;
  var offA = u32(prm[7]); var offB = u32(prm[8]);
  for (var d = prm[10] - 1; d >= 0; d--) {
    let len = u32(prm[11 + d]);
    let c = bi % len;
    bi = bi / len;
    offA += c * u32(prm[15 + d]);
    offB += c * u32(prm[19 + d]);
  }
  let ra = offA + m * u32(prm[3]); let sak = u32(prm[4]);
  let cb = offB + n * u32(prm[6]); let sbk = u32(prm[5]);
  var acc = 0.0;
  for (var k = 0u; k < K; k++) { acc = fma(ld1A(ra + k * sak), ld1B(cb + k * sbk), acc); }
  C[u32(prm[9]) + gid.z * M * N + m * N + n] = acc;
}`;
}

function matmulKernel(ctx: GpuContext): KernelEntry {
  return {
    supports(call: KernelCall) {
      const [a, b] = call.inputs, [c] = call.outputs;
      if (!c || !isFloatDt(a.dtype) || !isFloatDt(b.dtype) || !isFloatDt(c.dtype)) return false;
      const batch = c.shape.slice(0, -2);
      const nb = batch.reduce((x, y) => x * y, 1);
      const bc = coalesceAxes(batch, [a.strides.slice(0, -2), b.strides.slice(0, -2)]);
      return nb <= 65535 && bc.shape.length <= 4;
    },
    run(call: KernelCall) {
      const [a, b] = call.inputs;
      viaF32(ctx, call.outputs[0], (c) => {
        if (c.size === 0) return;
        const r = a.ndim;
        const M = a.shape[r - 2], K = a.shape[r - 1], N = b.shape[r - 1];
        const batch = c.shape.slice(0, r - 2);
        const nb = batch.reduce((x, y) => x * y, 1);
        const bc = coalesceAxes(batch, [a.strides.slice(0, r - 2), b.strides.slice(0, r - 2)]);
        const nbr = batch.length === 0 ? 0 : bc.shape.length;
        const ma = loadMode(a, bc.strides[0], a.dtype), mb = loadMode(b, bc.strides[1], b.dtype);
        const guard = M % BM !== 0 || N % BN !== 0 || K % BK !== 0;
        const vecC = N % 4 === 0 && off(c) % 4 === 0;
        if (K === 0) {
          // Empty inner axis: the output is zeros (the dispatcher's zero-filled allocation).
          ctx.clean(stOf(c));
          return;
        }
        const ba = ctx.input(stOf(a)), bb = ctx.input(stOf(b));
        const bcb = ctx.output(stOf(c), c.offset === 0);
        const access = ctx.access([ba, bb], [bcb]);
        const simple = M <= 65535 && (ctx.simpleKernels || M < 32 || N < 32);
        // f16 × f16 with vec4 loads on a device with shader-f16: the f16-math kernel.
        const chunk = ctx.f16GemmChunk, tile = ctx.f16GemmTile;
        const half = !simple && chunk > 0 && ctx.hasF16 && a.dtype === "f16" &&
          b.dtype === "f16" && ma !== "elem" && mb !== "elem";
        const guardH = M % BM !== 0 || N % BN !== 0 || K % tile !== 0;
        const k = half
          ? ctx.kernel(
            `matmul:f16math:${ma}:${mb}:${guardH}:${vecC}:${chunk}:${tile}`,
            access,
            () => matmulF16Code(ma as "row", mb as "row", guardH, vecC, access, chunk, tile),
          )
          : simple
          ? ctx.kernel(
            `matmul:simple:${a.dtype}:${b.dtype}`,
            access,
            () => matmulSimpleCode(a.dtype, b.dtype, access),
          )
          : ctx.kernel(
            `matmul:${a.dtype}:${b.dtype}:${ma}:${mb}:${guard}:${vecC}`,
            access,
            () => matmulCode(a.dtype, b.dtype, ma, mb, guard, vecC, access),
          );
        const o = ctx.slot(), Mi = ctx.mi;
        const vals = [
          M,
          N,
          K,
          a.strides[r - 2],
          a.strides[r - 1],
          b.strides[r - 2],
          b.strides[r - 1],
          off(a),
          off(b),
          off(c),
          nbr,
        ];
        vals.forEach((v, i) => Mi[o + i] = v);
        for (let d = 0; d < 4; d++) {
          Mi[o + 11 + d] = d < nbr ? bc.shape[d] : 1;
          Mi[o + 15 + d] = d < nbr ? bc.strides[0][d] : 0;
          Mi[o + 19 + d] = d < nbr ? bc.strides[1][d] : 0;
        }
        if (simple) ctx.run(k, [ba, bb, bcb], Math.ceil(N / 64), M, nb);
        else ctx.run(k, [ba, bb, bcb], Math.ceil(N / BN), Math.ceil(M / BM), nb);
      });
    },
  };
}

/** The matmul kernel bound to a context. */
export function matmulKernels(ctx: GpuContext): OpKernelTable {
  return { matmul: matmulKernel(ctx) };
}
