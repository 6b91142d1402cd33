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
import type { KernelCall, OpKernelTable, TensorView } from "../../../core/backend/plugin.ts";
import { coalesceAxes } from "../../../core/shape.ts";
import type { DType } from "../../../core/dtype.ts";
import type { GpuContext } from "../context.ts";
import { isFloatDt, off, prmDecl, stOf } from "./wgsl.ts";
import {
  BK,
  BM,
  BN,
  kSplits,
  type Load,
  loadMode,
  loadTileA,
  loadTileB,
  operand,
  runSplitSum,
  storeTileA,
  storeTileB,
  tiledGemmCode,
} from "./gemm_tile.ts";
import { matmulF16Code } from "./matmul_f16.ts";

/**
 * The kernel source. Metadata: [M, N, K, sam, sak, sbk, sbn, offA, offB, offC, nb(batch rank),
 * bshape(4), bsA(4), bsB(4), batches, K per split]. With a split K (z = split · batches + batch)
 * each split writes its partial product to its own slice after offC, summed by `splitSumCode`.
 */
function matmulCode(
  da: DType,
  db: DType,
  ma: Load,
  mb: Load,
  guard: boolean,
  vecC: boolean,
  access: string,
  bias: DType | null = null,
): string {
  // With a bias (linear): y = A·B + bias[column], the bias bound after B.
  const bv = (c: string) =>
    bias ? ` + vec4<f32>(ldb(${c}), ldb(${c} + 1u), ldb(${c} + 2u), ldb(${c} + 3u))` : "";
  return tiledGemmCode({
    decls: `${operand("A", 0, da, ma, access[0])}
${operand("B", 1, db, mb, access[1])}
${biasDecl(bias, access)}
@group(0) @binding(${bias ? 3 : 2}) var<storage, read_write> C: array<${
      vecC ? "vec4<f32>" : "f32"
    }>;
${prmDecl(bias ? 4 : 3)}`,
    prologue: `  let M = u32(prm[0]); let N = u32(prm[1]);
  let sam = u32(prm[3]); let sak = u32(prm[4]); let sbk = u32(prm[5]); let sbn = u32(prm[6]);
  // z = split · batches + batch: this workgroup sums k in [kBeg, K) of its batch's product.
  let kc = u32(prm[24]); let kBeg = (wid.z / u32(prm[23])) * kc;
  let K = min(u32(prm[2]), kBeg + kc);
  // Batch offsets from the batch index (up to 4 coalesced batch axes).
  var bi = wid.z % u32(prm[23]);
  var offA = u32(prm[7]); var offB = u32(prm[8]);
  for (var d = prm[10] - 1; d >= 0; d--) {
    let len = u32(prm[11 + d]);
    let c = bi % len;
    bi = bi / len;
    offA += c * u32(prm[15 + d]);
    offB += c * u32(prm[19 + d]);
  }
  let offC = u32(prm[9]) + wid.z * M * N;
  let row0 = wid.y * ${BM}u; let col0 = wid.x * ${BN}u;`,
    loadA: (h) => loadTileA(ma, guard, h),
    storeA: (h) => storeTileA(ma, h),
    loadB: (h) => loadTileB(mb, guard, h),
    storeB: (h) => storeTileB(mb, h),
    store: (row, col, v) =>
      vecC
        ? guard
          ? `{ let r = ${row}; let c = ${col}; if (r < M && c < N) { C[(offC + r * N + c) >> 2u] = ${v}${
            bv("c")
          }; } }`
          : `{ let c = ${col}; C[(offC + ${row} * N + c) >> 2u] = ${v}${bv("c")}; }`
        : `{ let r = ${row}; let c = ${col}; if (r < M) { let o = ${v}${
          bv("c")
        }; for (var q = 0u; q < 4u; q++) { if (c + q < N) { C[offC + r * N + c + q] = o[q]; } } } }`,
  });
}

/**
 * Binding 2 and loader `ldb(column)` of a linear kernel's bias (element offset and stride in
 * metadata words 25, 26); nothing without a bias.
 */
function biasDecl(bias: DType | null, access: string): string {
  if (!bias) return "";
  return `${operand("Bi", 2, bias, "elem", access[2])}
fn ldb(c: u32) -> f32 { return ld1Bi(u32(prm[25]) + c * u32(prm[26])); }`;
}

/**
 * The simple form: one thread per output element, a plain loop over K with element loads through
 * the strides (small products, and software adapters: see `GpuContext.simpleKernels`). Same
 * metadata as the tiled kernel; dispatched as (⌈N/64⌉, M, batches).
 */
function matmulSimpleCode(
  da: DType,
  db: DType,
  access: string,
  bias: DType | null = null,
): string {
  return `
${operand("A", 0, da, "elem", access[0])}
${operand("B", 1, db, "elem", access[1])}
${biasDecl(bias, access)}
@group(0) @binding(${bias ? 3 : 2}) var<storage, read_write> C: array<f32>;
${prmDecl(bias ? 4 : 3)}
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
  C[u32(prm[9]) + gid.z * M * N + m * N + n] = acc${bias ? " + ldb(n)" : ""};
}`;
}

/**
 * Record C = A·B (+ bias[column]) for matrix views (batch axes in front, already broadcast) into
 * the f32 view `c`.
 */
function runGemm(
  ctx: GpuContext,
  a: TensorView,
  b: TensorView,
  c: TensorView,
  bias: TensorView | null,
): void {
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
  if (K === 0 && !bias) {
    // Empty inner axis: the output is zeros (the dispatcher's zero-filled allocation).
    ctx.clean(stOf(c));
    return;
  }
  const ba = ctx.input(stOf(a)), bb = ctx.input(stOf(b));
  const bbias = bias ? [ctx.input(stOf(bias))] : [];
  const bcb = ctx.output(stOf(c), c.offset === 0);
  // Thin products take the one-thread-per-output kernel unless K is long enough that splitting
  // it over tiled workgroups does better (a conv's weight gradient).
  const split = ctx.simpleKernels ? { splits: 1, kc: K } : kSplits(M, N, K, nb);
  const thin = (M < 32 || N < 32) && (K < 4096 || split.splits === 1);
  const simple = M <= 65535 && (ctx.simpleKernels || thin || K === 0);
  // f16 × f16 with vec4 loads on a device with shader-f16: the f16-math kernel.
  const chunk = ctx.f16GemmChunk, tile = ctx.f16GemmTile;
  const half = !simple && !bias && chunk > 0 && ctx.hasF16 && a.dtype === "f16" &&
    b.dtype === "f16" && ma !== "elem" && mb !== "elem";
  const splits = simple || half ? 1 : split.splits;
  // Split K: the tiles write their partials to a scratch [splits, nb, M, N], summed into C (the
  // bias is added by the sum).
  const part = splits > 1 ? ctx.scratchView([splits, nb, M, N], "f32") : null;
  const out = part ? ctx.output(stOf(part), true) : bcb;
  const kb = part ? [] : bbias, bdt = part || !bias ? null : bias.dtype;
  const access = ctx.access([ba, bb, ...kb], [out]);
  const guardH = M % BM !== 0 || N % BN !== 0 || K % tile !== 0;
  const k = half
    ? ctx.kernel(
      `matmul:f16math:${ma}:${mb}:${guardH}:${vecC}:${chunk}:${tile}`,
      access,
      () => matmulF16Code(ma as "row", mb as "row", guardH, vecC, access, chunk, tile),
    )
    : simple
    ? ctx.kernel(
      `matmul:simple:${a.dtype}:${b.dtype}:${bdt}`,
      access,
      () => matmulSimpleCode(a.dtype, b.dtype, access, bdt),
    )
    : ctx.kernel(
      `matmul:${a.dtype}:${b.dtype}:${ma}:${mb}:${guard}:${vecC}:${bdt}`,
      access,
      () => matmulCode(a.dtype, b.dtype, ma, mb, guard, vecC, access, bdt),
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
    part ? 0 : off(c),
    nbr,
  ];
  vals.forEach((v, i) => Mi[o + i] = v);
  for (let d = 0; d < 4; d++) {
    Mi[o + 11 + d] = d < nbr ? bc.shape[d] : 1;
    Mi[o + 15 + d] = d < nbr ? bc.strides[0][d] : 0;
    Mi[o + 19 + d] = d < nbr ? bc.strides[1][d] : 0;
  }
  Mi[o + 23] = nb;
  Mi[o + 24] = splits > 1 ? split.kc : K;
  Mi[o + 25] = bias ? off(bias) : 0;
  Mi[o + 26] = bias ? bias.strides[0] : 0;
  if (simple) ctx.run(k, [ba, bb, ...kb, bcb], Math.ceil(N / 64), M, nb);
  else ctx.run(k, [ba, bb, ...kb, out], Math.ceil(N / BN), Math.ceil(M / BM), nb * splits);
  if (part) {
    const sb = bias ? { buffer: bbias[0], view: bias, n: N } : null;
    runSplitSum(ctx, out, bcb, nb * M * N, splits, off(c), sb);
    part.dispose();
  }
}

/** Whether every operand is a float tensor and the batch axes coalesce to ≤ 4 (≤ 65535 batches). */
function gemmSupports(a: TensorView, b: TensorView, c: TensorView | undefined): boolean {
  if (!c || !isFloatDt(a.dtype) || !isFloatDt(b.dtype) || !isFloatDt(c.dtype)) return false;
  const batch = c.shape.slice(0, -2);
  const nb = batch.reduce((x, y) => x * y, 1);
  const bc = coalesceAxes(batch, [a.strides.slice(0, -2), b.strides.slice(0, -2)]);
  return nb <= 65535 && bc.shape.length <= 4;
}

/** The transposed view Wᵀ (in, out) of a linear weight W (out, in). */
function transposed(w: TensorView): TensorView {
  return {
    storage: w.storage,
    shape: [w.shape[1], w.shape[0]],
    strides: [w.strides[1], w.strides[0]],
    offset: w.offset,
    dtype: w.dtype,
    device: w.device,
    ndim: 2,
    size: w.size,
    isContiguous: w.shape[0] <= 1 || w.shape[1] <= 1,
  };
}

/** The matmul kernel bound to a context. */
export function matmulKernels(ctx: GpuContext): OpKernelTable {
  return {
    matmul: {
      supports: (call: KernelCall) => gemmSupports(call.inputs[0], call.inputs[1], call.outputs[0]),
      run(call: KernelCall) {
        const [a, b] = call.inputs;
        viaF32(ctx, call.outputs[0], (c) => runGemm(ctx, a, b, c, null));
      },
    },
    // x (M, in) · Wᵀ + bias, the bias added in the product's epilogue (or in the split-K sum).
    linear: {
      supports: (call: KernelCall) =>
        call.inputs.every((t) => isFloatDt(t.dtype)) &&
        gemmSupports(call.inputs[0], transposed(call.inputs[1]), call.outputs[0]),
      run(call: KernelCall) {
        const [x, w, bias] = call.inputs;
        viaF32(ctx, call.outputs[0], (c) => runGemm(ctx, x, transposed(w), c, bias ?? null));
      },
    },
  };
}
