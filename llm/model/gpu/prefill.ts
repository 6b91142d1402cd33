/**
 * Prompt (prefill) kernels of the GPU decoder (llm/model/gpu/decoder.ts): a tiled matmul that
 * reads packed weights (every decoded weight serves {@link PM} prompt positions from workgroup
 * memory) and a tiled causal flash attention (a workgroup per head and block of {@link FQ} query
 * rows, K/V tiles in workgroup memory, online softmax). Bindings and parameters follow
 * llm/model/gpu/kernels.ts (read-write buffers, then `prm` and `stp`).
 *
 * @module
 */
import { decodeUnit } from "./matvec.ts";

/**
 * Tile of {@link tiledCode}: activation rows (prompt positions), weight rows (outputs) and
 * elements of k per step.
 *
 * @example
 * ```ts ignore
 * const grid = [Math.ceil(n / PN), Math.ceil(rows / PM)];
 * ```
 */
export const PM = 64, PN = 64, PK = 32;

/**
 * Workgroup memory (bytes) of {@link tiledCode}: the activation tile and one weight tile per part.
 *
 * @example
 * ```ts ignore
 * console.log(tiledBytes(true)); // 24576
 * ```
 */
export const tiledBytes = (pair: boolean): number => 4 * PK * (PM + PN * (pair ? 2 : 1));

/**
 * Tiled matmul of a prompt chunk, `Y[m, n] (+)= Σ_k X[m, k] · W[n, k]`, W packed (the types of
 * matvec.ts). A workgroup of 256 threads computes a 64 × 64 tile of Y (positions × weight rows),
 * each thread a 4 × 4 block held as four vec4 accumulators (per part). k advances 32 at a time:
 * each thread decodes one 8-element unit of one weight row (thread t: row t % 64, unit t / 64, so a
 * warp writes 32 consecutive columns of the k-major tile) and half the threads load four vec4 of X
 * (four rows, transposed in registers into k-major vec4 of four positions). The next step's loads
 * and decodes are issued before the current step's 32 fully unrolled multiply-adds, so their
 * latency overlaps the arithmetic; two barriers per step. f32 accumulation. `pair`: outputs n
 * read weight rows n and n + N (gate and up stored back to back) and write silu(gate) · up. Same
 * bindings and prm as matvec.ts's matvecCode (no `norm`): [M, N, K, wByte, rowBytes, units, eps,
 * nwOff, yOff]. K % 32 = 0. Dispatch (⌈N / 64⌉, ⌈M / 64⌉); rows past M read row M − 1.
 *
 * @example
 * ```ts ignore
 * const wgsl = tiledCode({ dt: "q4_0", pair: true });
 * ```
 */
export function tiledCode(opt: { dt: string; acc?: boolean; pair?: boolean }): string {
  const { dt, acc = false, pair = false } = opt;
  const parts = pair ? 2 : 1;
  const P = Array.from({ length: parts }, (_, p) => p);
  const R4 = [0, 1, 2, 3];
  const C = "xyzw";
  // Registers of the next step: decoded weights (two vec4 and their k within the tile) and X.
  let regs = "";
  for (const p of P) {
    regs += `var pw${p}a = vec4<f32>(); var pw${p}b = vec4<f32>(); var pe${p}a = 0u; ` +
      `var pe${p}b = 0u;\n`;
  }
  regs += R4.map((i) => `var px${i} = vec4<f32>();`).join(" ") + "\n";
  const fetch = (kf: string) => {
    let c = `{ let kf = ${kf}; let u = kf / 8u + q;\n`;
    for (const p of P) {
      c +=
        `{ let rb = wByte + ${p ? "pairOff + " : ""}wrow * rowBytes;\n${
          decodeUnit(dt, "u", `S${p}`)
        }pw${p}a = dS${p} * wS${p}a; pw${p}b = dS${p} * wS${p}b; pe${p}a = eS${p}a - kf; ` +
        `pe${p}b = eS${p}b - kf; }\n`;
    }
    for (const i of R4) c += `px${i} = X[(xr${i} * K + kf) / 4u + xkq];\n`;
    return c + "}\n";
  };
  let store = "if (t < 128u) {\n";
  for (const j of R4) {
    store += `  xs[(4u * xkq + ${j}u) * 16u + xm4] = vec4<f32>(${
      R4.map((i) => `px${i}.${C[j]}`).join(", ")
    });\n`;
  }
  store += "}\n";
  for (const p of P) {
    for (const h of ["a", "b"]) {
      for (const j of R4) {
        store += `ws${p}[(pe${p}${h} + ${j}u) * 16u + (r >> 2u)][r & 3u] = pw${p}${h}.${C[j]};\n`;
      }
    }
  }
  let fmas = "";
  for (let kk = 0; kk < PK; kk++) {
    fmas += `{ let xv = xs[${kk * 16}u + tm];`;
    for (const p of P) fmas += ` let w${p} = ws${p}[${kk * 16}u + tn];`;
    for (const i of R4) {
      for (const p of P) fmas += ` a${i}_${p} = fma(vec4<f32>(xv.${C[i]}), w${p}, a${i}_${p});`;
    }
    fmas += " }\n";
  }
  let out = "";
  for (const i of R4) {
    out += `{ let m = m0 + tm * 4u + ${i}u;\n`;
    for (const j of R4) {
      const v = (p: number) => `a${i}_${p}.${C[j]}`;
      const val = pair ? `silu(${v(0)}) * ${v(1)}` : v(0);
      out += `  { let n = n0 + tn * 4u + ${j}u; if (m < M && n < N) { let at = yOff + m * N + n; ` +
        `Y[at] = ${val}${acc ? " + Y[at]" : ""}; } }\n`;
    }
    out += "}\n";
  }
  const accs = R4.flatMap((i) => P.map((p) => `var a${i}_${p} = vec4<f32>();`)).join(" ");
  return `
@group(0) @binding(0) var<storage, read_write> X: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> W: array<u32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
fn bt(a: u32) -> u32 { return (W[a >> 2u] >> ((a & 3u) * 8u)) & 0xffu; }
@group(0) @binding(3) var<storage, read> prm: array<i32, 64>;
@group(0) @binding(4) var<storage, read> stp: array<u32, 64>;
var<workgroup> xs: array<vec4<f32>, ${PK * PM / 4}>;
${P.map((p) => `var<workgroup> ws${p}: array<vec4<f32>, ${PK * PN / 4}>;`).join("\n")}
fn silu(g: f32) -> f32 { return g / (1.0 + exp(-g)); }
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let M = u32(prm[0]); let N = u32(prm[1]); let K = u32(prm[2]);
  let wByte = u32(prm[3]); let rowBytes = u32(prm[4]); let yOff = u32(prm[8]);
  let pairOff = N * rowBytes;
  let t = lid.x; let tn = t % 16u; let tm = t / 16u;
  let n0 = wid.x * ${PN}u; let m0 = wid.y * ${PM}u;
  // This thread's weight unit: row r of the tile, unit q of the step's 32 elements.
  let r = t % 64u; let q = t / 64u;
  let wrow = min(n0 + r, N - 1u);
  // Its X loads (threads t and t + 128 load the same): rows m0 + 4 xm4 + i, vec4 xkq of the step.
  let xm4 = t % 16u; let xkq = (t / 16u) % 8u;
${R4.map((i) => `  let xr${i} = min(m0 + 4u * xm4 + ${i}u, M - 1u);`).join("\n")}
  ${accs}
${regs}${fetch("0u")}
  for (var k0 = 0u; k0 < K; k0 += ${PK}u) {
${store}    workgroupBarrier();
${fetch(`min(k0 + ${PK}u, K - ${PK}u)`)}${fmas}    workgroupBarrier();
  }
${out}}`;
}

/**
 * Query rows and key positions per tile of {@link flashCode}.
 *
 * @example
 * ```ts ignore
 * const grid = [heads, Math.ceil(rows / FQ)];
 * ```
 */
export const FQ = 32, FK = 32;

/**
 * Workgroup memory (bytes) of {@link flashCode} for head dimensions hd and vd.
 *
 * @example
 * ```ts ignore
 * console.log(flashBytes(64, 64)); // 30080
 * ```
 */
export const flashBytes = (hd: number, vd: number): number =>
  16 * (FQ + FK) * (hd / 4 + 1) + 4 * FK * vd + 4 * FQ * (FK + 1);

/**
 * Causal attention of a prompt chunk, flash-style: workgroup (h, b) takes query rows b·32 ..
 * b·32 + 31 (positions pos + row) of head h, walks the cache in tiles of 32 positions up to the
 * block's last position (K and V tiles in workgroup memory, rows padded by one vec4 so the score
 * reads hit distinct banks) and keeps a running max, sum and output per row (online softmax).
 * Thread t works for row t / 8: its scores are keys t % 8 + 8i (4 per tile), its outputs vec4
 * t % 8 + 8c of the value. Positions past a row's own are masked. Q [rows, heads, hd] (rotated),
 * KC/VC [positions, kvHeads, hd|vd] (the chunk's rows already appended), O [rows, heads, vd].
 * prm: [heads, kvHeads, hd, vd, scale (f32 bits)]. hd and vd multiples of 4; the cache must hold
 * 31 positions past the chunk's last row (rows of a partial block read them, masked or unused).
 *
 * @example
 * ```ts ignore
 * const wgsl = flashCode(64, 64); // dispatched as (heads, ⌈rows / 32⌉)
 * ```
 */
export function flashCode(hd: number, vd: number): string {
  const H4 = hd / 4, S4 = H4 + 1, V4 = vd / 4, OJ = Math.ceil(V4 / 8), SS = FK + 1;
  const KI = [0, 1, 2, 3];
  const O = Array.from({ length: OJ }, (_, c) => c);
  return `
@group(0) @binding(0) var<storage, read_write> Q: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> KC: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> VC: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> O: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> prm: array<i32, 64>;
@group(0) @binding(5) var<storage, read> stp: array<u32, 64>;
var<workgroup> qs: array<vec4<f32>, ${FQ * S4}>;
var<workgroup> ks: array<vec4<f32>, ${FK * S4}>;
var<workgroup> vs: array<vec4<f32>, ${FK * V4}>;
var<workgroup> ss: array<f32, ${FQ * SS}>;
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let heads = u32(prm[0]); let kvh = u32(prm[1]); let scale = bitcast<f32>(prm[4]);
  let h = wid.x; let qb = wid.y * ${FQ}u; let t = lid.x;
  let kh = h / (heads / kvh);
  let pos0 = stp[0];
  let qi = t / 8u; let kq = t % 8u;
  let posq = pos0 + qb + qi;
  for (var i = t; i < ${FQ * H4}u; i += 256u) {
    let r = i / ${H4}u; let d = i % ${H4}u;
    qs[r * ${S4}u + d] = Q[((qb + r) * heads + h) * ${H4}u + d];
  }
  var m = -3.0e38; var l = 0.0;
  ${O.map((c) => `var o${c} = vec4<f32>();`).join(" ")}
  let last = pos0 + qb + ${FQ - 1}u;
  for (var s0 = 0u; s0 <= last; s0 += ${FK}u) {
    workgroupBarrier();
    for (var i = t; i < ${FK * H4}u; i += 256u) {
      let j = i / ${H4}u; let d = i % ${H4}u;
      ks[j * ${S4}u + d] = KC[((s0 + j) * kvh + kh) * ${H4}u + d];
    }
    for (var i = t; i < ${FK * V4}u; i += 256u) {
      let j = i / ${V4}u; let d = i % ${V4}u;
      vs[i] = VC[((s0 + j) * kvh + kh) * ${V4}u + d];
    }
    workgroupBarrier();
    ${KI.map((i) => `var c${i} = 0.0;`).join(" ")}
    for (var d = 0u; d < ${H4}u; d++) {
      let qv = qs[qi * ${S4}u + d];
${KI.map((i) => `      c${i} += dot(qv, ks[(kq + ${8 * i}u) * ${S4}u + d]);`).join("\n")}
    }
${
    KI.map((i) =>
      `    ss[qi * ${SS}u + kq + ${8 * i}u] = select(-3.0e38, c${i} * scale, s0 + kq + ${
        8 * i
      }u <= posq);`
    ).join("\n")
  }
    workgroupBarrier();
    var mt = m;
    for (var j = 0u; j < ${FK}u; j++) { mt = max(mt, ss[qi * ${SS}u + j]); }
    let corr = exp(m - mt);
    l *= corr; m = mt;
    ${O.map((c) => `o${c} *= corr;`).join(" ")}
    for (var j = 0u; j < ${FK}u; j++) {
      let p = exp(ss[qi * ${SS}u + j] - mt);
      l += p;
${
    O.map((c) =>
      `      o${c} = fma(vec4<f32>(p), vs[j * ${V4}u + min(kq + ${8 * c}u, ${V4 - 1}u)], o${c});`
    ).join("\n")
  }
    }
  }
${
    O.map((c) =>
      `  if (kq + ${8 * c}u < ${V4}u) { O[((qb + qi) * heads + h) * ${V4}u + kq + ${
        8 * c
      }u] = o${c} / l; }`
    ).join("\n")
  }
}`;
}
