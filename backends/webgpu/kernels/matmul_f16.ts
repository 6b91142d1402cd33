/**
 * The f16 GEMM for devices with `shader-f16`: both operands f16, read with vec4<f16> loads along
 * a contiguous axis, kept as f16 in workgroup memory (half the bytes of the f32 kernel's tiles),
 * and multiplied in f16 (`vec4<f16>` FMAs: two packed half2 FMAs where the f32 kernel issues
 * four). Products are summed in f16 only within chunks of `chunk` terms (a divisor of the K tile,
 * or a multiple of it: then folded every chunk / tile tiles); each chunk's partial sums are then
 * added into f32 accumulators, so the rounding error grows with the chunk, not with K. The result
 * is rounded once to the output dtype.
 *
 * Same tile geometry as the f32 kernel (matmul.ts): 128×128 per workgroup of 256 threads, an 8×8
 * register block per thread (two 4×4 quadrants 64 apart), double-buffered tiles with one barrier
 * per K step (a K tile of 16 or 32 terms), and the same metadata words.
 *
 * @module
 */

import { ArgumentError } from "../../../core/errors.ts";

const XYZW = "xyzw";
const LANES = [0, 1, 2, 3];

/** How an operand tile is read: vec4 along rows ("row") or along columns ("col"). */
export type VecLoad = "row" | "col";

/** WGSL source of the f16 GEMM (operand read modes, edge guards, vec4 output stores). */
export function matmulF16Code(
  ma: VecLoad,
  mb: VecLoad,
  guard: boolean,
  vecC: boolean,
  access: string,
  chunk = 16,
  BK = 16,
): string {
  checkF16Gemm(chunk, BK);
  /** vec4 loads per thread per operand tile, and vec4 groups along k in a row. */
  const NL = BK / 8, KQ = BK / 4;
  const z = "vec4<f16>(0.0h)";
  const ld = (X: string, h: number, r: string, idx: string, cond: string) =>
    guard
      ? `if (${cond}) { ${r}${h} = ${X}[(${idx}) >> 2u]; } else { ${r}${h} = ${z}; }`
      : `${r}${h} = ${X}[(${idx}) >> 2u];`;
  // A tile: [128 m][16 k], stored k-major As[k][m / 4]; B tile: [16 k][128 n] as Bs[k][n / 4].
  const loadA = (h: number) => {
    const e = `(lid + ${h * 256}u)`;
    if (ma === "row") {
      return `{ let m = ${e} / ${KQ}u; let gm = row0 + m; let gk = k0 + (${e} % ${KQ}u) * 4u;
      ${ld("A", h, "ra", "offA + gm * sam + gk", "gm < M && gk < K")} }`;
    }
    return `{ let gm = row0 + (${e} % 32u) * 4u; let gk = k0 + ${e} / 32u;
      ${ld("A", h, "ra", "offA + gm + gk * sak", "gm < M && gk < K")} }`;
  };
  const storeA = (h: number) => {
    const e = `(lid + ${h * 256}u)`;
    if (ma === "col") return `As[buf + (${e} / 32u) * 32u + ${e} % 32u] = ra${h};`;
    return `{ let m = ${e} / ${KQ}u; let kq = (${e} % ${KQ}u) * 4u; ${
      LANES.map((q) => `As[buf + (kq + ${q}u) * 32u + m / 4u][m % 4u] = ra${h}.${XYZW[q]};`)
        .join(" ")
    } }`;
  };
  const loadB = (h: number) => {
    const e = `(lid + ${h * 256}u)`;
    if (mb === "row") {
      return `{ let gk = k0 + ${e} / 32u; let gn = col0 + (${e} % 32u) * 4u;
      ${ld("B", h, "rb", "offB + gk * sbk + gn", "gk < K && gn < N")} }`;
    }
    return `{ let gn = col0 + ${e} / ${KQ}u; let gk = k0 + (${e} % ${KQ}u) * 4u;
      ${ld("B", h, "rb", "offB + gk + gn * sbn", "gk < K && gn < N")} }`;
  };
  const storeB = (h: number) => {
    const e = `(lid + ${h * 256}u)`;
    if (mb === "row") return `Bs[buf + (${e} / 32u) * 32u + ${e} % 32u] = rb${h};`;
    return `{ let n = ${e} / ${KQ}u; let kq = (${e} % ${KQ}u) * 4u; ${
      LANES.map((q) => `Bs[buf + (kq + ${q}u) * 32u + n / 4u][n % 4u] = rb${h}.${XYZW[q]};`)
        .join(" ")
    } }`;
  };
  const hs = Array.from({ length: NL }, (_, h) => h);
  const loads = [...hs.map(loadA), ...hs.map(loadB)].join("\n  ");
  const stores = [...hs.map(storeA), ...hs.map(storeB)].join("\n  ");
  const cs: string[] = [];
  for (let i = 0; i < 8; i++) for (let h = 0; h < 2; h++) cs.push(`${i}_${h}`);
  // Each chunk's f16 partial sums go into the f32 accumulators.
  const fold = cs.map((c) => `    c${c} += vec4<f32>(h${c}); h${c} = ${z};`).join("\n");
  let inner = "";
  for (let kk = 0; kk < BK; kk++) {
    inner += `    { let a0 = As[cur + ${kk * 32}u + ty]; let a1 = As[cur + ${kk * 32 + 16}u + ty];
      let b0 = Bs[cur + ${kk * 32}u + tx]; let b1 = Bs[cur + ${kk * 32 + 16}u + tx];\n`;
    for (let i = 0; i < 8; i++) {
      const a = `vec4<f16>(a${i >> 2}.${XYZW[i & 3]})`;
      inner += `      h${i}_0 = fma(${a}, b0, h${i}_0); h${i}_1 = fma(${a}, b1, h${i}_1);\n`;
    }
    inner += `    }\n`;
    if (chunk <= BK && (kk + 1) % chunk === 0) inner += fold + "\n";
  }
  // Chunks longer than a K tile: fold every chunk / BK tiles (and once after the last tile).
  if (chunk > BK) inner += `    if ((t + 1u) % ${chunk / BK}u == 0u) {\n${fold}\n    }\n`;
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
  const acc = (i: number) => (access[i] === "r" ? "read" : "read_write");
  return `enable f16;
@group(0) @binding(0) var<storage, ${acc(0)}> A: array<vec4<f16>>;
@group(0) @binding(1) var<storage, ${acc(1)}> B: array<vec4<f16>>;
@group(0) @binding(2) var<storage, read_write> C: array<${vecC ? "vec4<f32>" : "f32"}>;
@group(0) @binding(3) var<storage, read> prm: array<i32, 64>;
var<workgroup> As: array<vec4<f16>, ${2 * BK * 32}>;
var<workgroup> Bs: array<vec4<f16>, ${2 * BK * 32}>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u) {
  let M = u32(prm[0]); let N = u32(prm[1]); let K = u32(prm[2]);
  let sam = u32(prm[3]); let sak = u32(prm[4]); let sbk = u32(prm[5]); let sbn = u32(prm[6]);
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
  let row0 = wid.y * 128u; let col0 = wid.x * 128u;
  let tx = lid % 16u; let ty = lid / 16u;
${cs.map((c) => `  var c${c} = vec4<f32>(0.0);\n  var h${c} = ${z};`).join("\n")}
  ${hs.map((h) => `var ra${h}: vec4<f16>; var rb${h}: vec4<f16>;`).join(" ")}
  let nt = (K + ${BK - 1}u) / ${BK}u;
  var k0 = 0u;
  var buf = 0u;
  ${loads}
  ${stores}
  workgroupBarrier();
  for (var t = 0u; t < nt; t++) {
    let cur = (t % 2u) * ${BK * 32}u;
    let more = t + 1u < nt;
    if (more) {
      k0 = (t + 1u) * ${BK}u;
      ${loads}
    }
${inner}
    if (more) {
      buf = ((t + 1u) % 2u) * ${BK * 32}u;
      ${stores}
    }
    workgroupBarrier();
  }
${chunk > BK ? fold : ""}
${epi}
}`;
}

/**
 * Check an f16 GEMM configuration: the K tile is 16 or 32, and the chunk of f16 sums divides the
 * tile or is a multiple of it.
 */
export function checkF16Gemm(chunk: number, tile: number): void {
  if (tile !== 16 && tile !== 32) {
    throw new ArgumentError(
      `matmul: f16 GEMM K tile ${tile} is not supported. Hint: GpuContext.f16GemmTile is 16 or 32.`,
    );
  }
  if (
    !(Number.isInteger(chunk) && chunk > 0 &&
      (chunk <= tile ? tile % chunk === 0 : chunk % tile === 0))
  ) {
    throw new ArgumentError(
      `matmul: f16 GEMM chunk ${chunk} must divide the K tile ${tile} or be a multiple of it. ` +
        `Hint: GpuContext.f16GemmChunk 4, 8, 16, 32 or 64 (0: f32 math).`,
    );
  }
}

/** `APRENDER_WEBGPU_F16_GEMM` as a chunk length (see GpuContext.f16GemmChunk; 32 when unset). */
export function f16ChunkFromEnv(): number {
  let v: string | undefined;
  try {
    v = Deno.env.get("APRENDER_WEBGPU_F16_GEMM");
  } catch {
    v = undefined;
  }
  if (v === "f32") return 0;
  return v === "4" || v === "8" || v === "16" || v === "32" || v === "64" ? Number(v) : 32;
}
