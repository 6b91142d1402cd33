/**
 * Coalesced packed matvec of the GPU decoder: `Y[m, n] = Σ_k X[m, k] · W[n, k]` with W read in its
 * storage type (Q4_0, Q8_0, Q4_K, Q6_K, f16, bf16, f32) so that consecutive threads load
 * consecutive words of a weight row.
 *
 * A row is cut into units of 8 elements. Quantized blocks of 32 hold 4 units: unit `q` of a Q4_0
 * block is the word of quants at byte 2 + 4q (elements 4q..4q+3 in its low nibbles, 16+4q..19+4q
 * in its high ones); of a Q8_0 block the two words at byte 2 + 8q (elements 8q..8q+7); a K-quant
 * super-block of 256 holds 32 units (scales decoded per unit). A f16/bf16 unit is 4 words, a f32
 * unit 8. `lanes` threads (32 to 256) share a weight row, lane `l` taking units `l, l + lanes,
 * ...`, so one load instruction of 32 lanes reads 8 consecutive blocks (144 bytes of Q4_0) instead
 * of 32 blocks 18 bytes apart. 256 / lanes rows per workgroup of 256 threads; the lanes of a
 * row are summed by a tree in workgroup memory. Accumulators are scalars per activation row (up to
 * `mr`, unrolled), never a dynamically indexed array (which the NVIDIA compiler puts in local
 * memory).
 *
 * Options fuse the neighbours of a matvec into it:
 * - `norm`: X is RMS-normalized on the fly (one activation row): the workgroup sums X² itself, the
 *   loop dots W with X · NW (the norm weight) and the sum is scaled by rsqrt(mean(X²) + eps) — the
 *   separate RMSNorm dispatch disappears.
 * - `pair`: each output reads two rows, n and n + N (gate and up stored back to back) and writes
 *   silu(gate) · up — the SwiGLU dispatch disappears.
 * - `acc`: the product is added to Y (the residual).
 *
 * Bindings: X (array<vec4<f32>>), W (u32 words), Y (f32), [NW (array<vec4<f32>>) with `norm`], then
 * the decoder's `prm`/`stp`. prm: [M, N, K, wByte, rowBytes, units (K / 8), eps bits, nwOff (f32
 * index, multiple of 4), yOff (Y element offset)]. Dispatch (⌈N / (256 / lanes)⌉, ⌈M / mr⌉).
 * Needs K % 8 = 0 (K % 32 for Q4_0/Q8_0, 256 for Q4_K/Q6_K), X rows at 0 with stride K, and rows
 * aligned as {@link matvecFits} checks.
 *
 * @module
 */

/**
 * Threads per workgroup.
 *
 * @example
 * ```ts ignore
 * const rowsPerWorkgroup = WG / 128; // 2 weight rows at 128 lanes
 * ```
 */
export const WG = 256;

/**
 * Weight types the coalesced matvec reads.
 *
 * @example
 * ```ts ignore
 * console.log(MATVEC_TYPES.includes("q4_0")); // true
 * ```
 */
export const MATVEC_TYPES: readonly string[] = [
  "q4_0",
  "q8_0",
  "q4_k",
  "q6_k",
  "f16",
  "bf16",
  "f32",
];

/**
 * Options of {@link matvecCode}.
 *
 * @example
 * ```ts ignore
 * const o: MatvecOptions = { dt: "q8_0", mr: 1, norm: true, lanes: 128 };
 * ```
 */
export interface MatvecOptions {
  /** Weight storage type. */
  dt: string;
  /** Activation rows per workgroup (accumulators per thread). */
  mr: number;
  /** Add the product to Y. */
  acc?: boolean;
  /** RMS-normalize X first (mr must be 1). */
  norm?: boolean;
  /** Two rows per output, silu(first) · second. */
  pair?: boolean;
  /** Threads per weight row (32, 64, 128 or 256; default 32): {@link WG} / lanes rows per workgroup. */
  lanes?: number;
}

/**
 * Whether a [n, k] weight of type `dt` at byte `base` fits the coalesced kernel.
 *
 * @example
 * ```ts ignore
 * console.log(matvecFits("q4_0", 2048, 0), matvecFits("f16", 172, 0)); // true false
 * ```
 */
export function matvecFits(dt: string, k: number, base: number): boolean {
  if (!MATVEC_TYPES.includes(dt)) return false;
  if (dt === "q4_0" || dt === "q8_0") return k % 32 === 0 && base % 2 === 0;
  if (dt === "q4_k" || dt === "q6_k") return k % 256 === 0 && base % (dt === "q4_k" ? 4 : 2) === 0;
  return k % 8 === 0 && base % 4 === 0;
}

/**
 * WGSL decoding unit `u` of the row at byte `rb` (names suffixed `s`) into `d{s}` (scale),
 * `w{s}a`/`w{s}b` (two vec4 of weights) and `e{s}a`/`e{s}b` (their first element indices). The
 * kernel must declare `W: array<u32>` and `bt(byte)`.
 *
 * @example
 * ```ts ignore
 * const wgsl = `let rb = 0u; let u = 3u; {\n${decodeUnit("q4_0", "u", "A")}}`; // dA, wAa, eAa, ...
 * ```
 */
export function decodeUnit(dt: string, u: string, s: string): string {
  const realign = (a: string, n: number) => {
    let c = `let i${s} = ${a} >> 2u; let o${s} = (${a} & 2u) != 0u;\n`;
    for (let j = 0; j <= n; j++) c += `let r${s}${j} = W[i${s} + ${j}u];\n`;
    for (let j = 0; j < n; j++) {
      c += `let v${s}${j} = select(r${s}${j}, (r${s}${j} >> 16u) | (r${s}${
        j + 1
      } << 16u), o${s});\n`;
    }
    return c;
  };
  const blockHead = (bytes: number) =>
    `let b${s} = ${u} >> 2u; let q${s} = ${u} & 3u; let s${s} = rb + b${s} * ${bytes}u;\n` +
    `let h${s} = W[s${s} >> 2u];\n` +
    `let d${s} = unpack2x16float(select(h${s}, h${s} >> 16u, (s${s} & 2u) != 0u)).x;\n`;
  switch (dt) {
    case "q4_0":
      return blockHead(18) + realign(`s${s} + 2u + 4u * q${s}`, 1) +
        `let n${s} = vec4<u32>(v${s}0) >> vec4<u32>(0u, 8u, 16u, 24u);\n` +
        `let w${s}a = vec4<f32>(n${s} & vec4<u32>(15u)) - 8.0;\n` +
        `let w${s}b = vec4<f32>((n${s} >> vec4<u32>(4u)) & vec4<u32>(15u)) - 8.0;\n` +
        `let e${s}a = b${s} * 32u + 4u * q${s}; let e${s}b = e${s}a + 16u;\n`;
    case "q8_0": {
      const sx = (v: string) =>
        `vec4<f32>(bitcast<vec4<i32>>(vec4<u32>(${v}) << vec4<u32>(24u, 16u, 8u, 0u)) >> vec4<u32>(24u))`;
      return blockHead(34) + realign(`s${s} + 2u + 8u * q${s}`, 2) +
        `let w${s}a = ${sx(`v${s}0`)};\nlet w${s}b = ${sx(`v${s}1`)};\n` +
        `let e${s}a = b${s} * 32u + 8u * q${s}; let e${s}b = e${s}a + 4u;\n`;
    }
    case "q4_k": {
      // 144-byte super-blocks of 256: d, dmin (f16), 12 bytes of 6-bit scales/mins for 8
      // sub-blocks of 32, 128 bytes of nibbles (sub-blocks 2j and 2j+1 share bytes j·32..).
      const x = s;
      return `let b${x} = ${u} >> 5u; let v${x} = ${u} & 31u; let sb${x} = v${x} >> 2u;
let s${x} = rb + b${x} * 144u; let dd${x} = unpack2x16float(W[s${x} >> 2u]);
let c${x} = s${x} + 4u;
var sc${x}: u32; var mn${x}: u32;
if (sb${x} < 4u) { sc${x} = bt(c${x} + sb${x}) & 63u; mn${x} = bt(c${x} + sb${x} + 4u) & 63u; } else {
  sc${x} = (bt(c${x} + sb${x} + 4u) & 15u) | ((bt(c${x} + sb${x} - 4u) >> 6u) << 4u);
  mn${x} = (bt(c${x} + sb${x} + 4u) >> 4u) | ((bt(c${x} + sb${x}) >> 6u) << 4u);
}
let qa${x} = (s${x} + 16u + (sb${x} >> 1u) * 32u + (v${x} & 3u) * 8u) >> 2u;
let sh${x} = vec4<u32>(0u, 8u, 16u, 24u) + vec4<u32>((sb${x} & 1u) * 4u);
let ds${x} = dd${x}.x * f32(sc${x}); let dm${x} = dd${x}.y * f32(mn${x});
let w${x}a = vec4<f32>((vec4<u32>(W[qa${x}]) >> sh${x}) & vec4<u32>(15u)) * ds${x} - dm${x};
let w${x}b = vec4<f32>((vec4<u32>(W[qa${x} + 1u]) >> sh${x}) & vec4<u32>(15u)) * ds${x} - dm${x};
let d${x} = 1.0; let e${x}a = b${x} * 256u + v${x} * 8u; let e${x}b = e${x}a + 4u;
`;
    }
    case "q6_k": {
      // 210-byte super-blocks of 256: ql[128], qh[64], int8 scales[16], d (f16). Element l'' of
      // half h (128 each), group g = l'' / 32, l = l'' % 32: low nibble of ql[64h + 32(g&1) + l]
      // (high nibble for g ≥ 2), 2 bits of qh[32h + l] at 2g, scale 8h + l / 16 + 2g; q − 32.
      const x = s;
      let c = `let b${x} = ${u} >> 5u; let v${x} = ${u} & 31u; let hf${x} = v${x} >> 4u;
let s${x} = rb + b${x} * 210u; let l8${x} = (v${x} & 15u) * 8u;
let g${x} = l8${x} >> 5u; let l${x} = l8${x} & 31u;
let qlb${x} = s${x} + 64u * hf${x} + (g${x} & 1u) * 32u + l${x}; let q4${x} = (g${x} >> 1u) * 4u;
let qhb${x} = s${x} + 128u + 32u * hf${x} + l${x}; let q2${x} = 2u * g${x};
let dw${x} = W[(s${x} + 208u) >> 2u];
let dh${x} = unpack2x16float(select(dw${x}, dw${x} >> 16u, ((s${x} + 208u) & 2u) != 0u)).x;
let sv${x} = bitcast<i32>(bt(s${x} + 192u + 8u * hf${x} + (l${x} >> 4u) + 2u * g${x}) << 24u) >> 24u;
let ds${x} = dh${x} * f32(sv${x});
`;
      const q = (i: number) =>
        `f32(i32(((bt(qlb${x} + ${i}u) >> q4${x}) & 15u) | (((bt(qhb${x} + ${i}u) >> q2${x}) & 3u) << 4u)) - 32)`;
      c += `let w${x}a = vec4<f32>(${q(0)}, ${q(1)}, ${q(2)}, ${q(3)}) * ds${x};
`;
      c += `let w${x}b = vec4<f32>(${q(4)}, ${q(5)}, ${q(6)}, ${q(7)}) * ds${x};
`;
      return c + `let d${x} = 1.0; let e${x}a = b${x} * 256u + v${x} * 8u; let e${x}b = e${x}a + 4u;
`;
    }
    case "f16":
    case "bf16": {
      const h = (w: string) =>
        dt === "f16"
          ? `unpack2x16float(${w})`
          : `vec2<f32>(bitcast<f32>(${w} << 16u), bitcast<f32>(${w} & 0xffff0000u))`;
      const wd = (j: number) => `W[(rb >> 2u) + ${u} * 4u + ${j}u]`;
      return `let d${s} = 1.0;\n` +
        `let w${s}a = vec4<f32>(${h(wd(0))}, ${h(wd(1))});\n` +
        `let w${s}b = vec4<f32>(${h(wd(2))}, ${h(wd(3))});\n` +
        `let e${s}a = ${u} * 8u; let e${s}b = e${s}a + 4u;\n`;
    }
    default: {
      const wd = (j: number) => `W[(rb >> 2u) + ${u} * 8u + ${j}u]`;
      const v4 = (j: number) =>
        `bitcast<vec4<f32>>(vec4<u32>(${wd(j)}, ${wd(j + 1)}, ${wd(j + 2)}, ${wd(j + 3)}))`;
      return `let d${s} = 1.0;\nlet w${s}a = ${v4(0)};\nlet w${s}b = ${v4(4)};\n` +
        `let e${s}a = ${u} * 8u; let e${s}b = e${s}a + 4u;\n`;
    }
  }
}

/**
 * The kernel source for `opt` (see the module doc for bindings and parameters).
 *
 * @example
 * ```ts ignore
 * const wgsl = matvecCode({ dt: "q4_0", mr: 1, pair: true, norm: true, lanes: 128 });
 * device.createShaderModule({ code: wgsl });
 * ```
 */
export function matvecCode(opt: MatvecOptions): string {
  const { dt, mr, acc = false, norm = false, pair = false, lanes: LANES = 32 } = opt;
  const ROWS = WG / LANES;
  if (norm && mr !== 1) throw new Error("matvecCode: norm needs mr = 1");
  const parts = pair ? 2 : 1;
  const names: string[] = [];
  for (let i = 0; i < mr; i++) for (let p = 0; p < parts; p++) names.push(`a${i}_${p}`);
  const xAt = (e: string) =>
    norm ? `(X[(${e}) >> 2u] * NW[(nwOff + ${e}) >> 2u])` : `X[(xb + ${e}) >> 2u]`;
  // One unit: decode (rows n and, paired, n + N) then dot with every activation row.
  const unit = (u: string, s: string) => {
    let c = `{\n${decodeUnit(dt, u, `${s}0`)}`;
    if (pair) c += `let rb0 = rb;\n{ let rb = rb0 + pairOff;\n${decodeUnit(dt, u, `${s}1`)}`;
    const dots = (p: number) => {
      let d = "";
      for (let i = 0; i < mr; i++) {
        const guard = mr > 1 && i > 0 ? `if (${i}u < mr) ` : "";
        const xb = norm ? "" : `let xb = (m0 + ${i}u) * K; `;
        d += `${guard}{ ${xb}a${i}_${p} = fma(d${s}${p}, dot(w${s}${p}a, ${
          xAt(`e${s}${p}a`)
        }) + dot(w${s}${p}b, ${xAt(`e${s}${p}b`)}), a${i}_${p}); }\n`;
      }
      return d;
    };
    if (pair) c += dots(1) + "}\n";
    c += dots(0) + "}\n";
    return c;
  };
  const nw = norm ? `@group(0) @binding(3) var<storage, read_write> NW: array<vec4<f32>>;\n` : "";
  const base = norm ? 4 : 3;
  let red = "";
  names.forEach((a, j) => (red += `red[${j * WG}u + t] = ${a};\n`));
  let tree = "";
  names.forEach((_, j) => (tree += `red[${j * WG}u + t] += red[${j * WG}u + t + h];\n`));
  const normPro = norm
    ? `var ss = 0.0;
  for (var i = t; i < K / 4u; i += ${WG}u) { let v = X[i]; ss += dot(v, v); }
  nred[t] = ss;
  workgroupBarrier();
  for (var h = ${WG / 2}u; h > 0u; h >>= 1u) {
    if (t < h) { nred[t] += nred[t + h]; }
    workgroupBarrier();
  }
  let rs = inverseSqrt(nred[0] / f32(K) + eps);
`
    : "";
  let out = "";
  for (let i = 0; i < mr; i++) {
    const guard = i > 0 ? `if (${i}u < mr) ` : "";
    const v = (p: number) => `(red[${(i * parts + p) * WG}u + t]${norm ? " * rs" : ""})`;
    const val = pair ? `silu(${v(0)}) * ${v(1)}` : v(0);
    out += `${guard}{ let at = yOff + (m0 + ${i}u) * N + n; Y[at] = ${val}${
      acc ? " + Y[at]" : ""
    }; }\n`;
  }
  return `
@group(0) @binding(0) var<storage, read_write> X: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> W: array<u32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
fn bt(a: u32) -> u32 { return (W[a >> 2u] >> ((a & 3u) * 8u)) & 0xffu; }
${nw}@group(0) @binding(${base}) var<storage, read> prm: array<i32, 64>;
@group(0) @binding(${base + 1}) var<storage, read> stp: array<u32, 64>;
var<workgroup> red: array<f32, ${names.length * WG}>;
${norm ? `var<workgroup> nred: array<f32, ${WG}>;` : ""}
fn silu(g: f32) -> f32 { return g / (1.0 + exp(-g)); }
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let M = u32(prm[0]); let N = u32(prm[1]); let K = u32(prm[2]);
  let wByte = u32(prm[3]); let rowBytes = u32(prm[4]); let units = u32(prm[5]);
  let eps = bitcast<f32>(prm[6]); let nwOff = u32(prm[7]); let yOff = u32(prm[8]);
  let pairOff = N * rowBytes;
  let t = lid.x; let lane = t % ${LANES}u;
  let n = wid.x * ${ROWS}u + t / ${LANES}u;
  let m0 = wid.y * ${mr}u; let mr = min(${mr}u, M - m0);
  ${normPro}${names.map((a) => `var ${a} = 0.0;`).join(" ")}
  if (n < N) {
    let rb = wByte + n * rowBytes;
    var u = lane;
    for (; u + ${LANES}u < units; u += ${2 * LANES}u) {
      let u1 = u + ${LANES}u;
${unit("u", "A")}${unit("u1", "B")}
    }
    if (u < units) {
${unit("u", "A")}
    }
  }
${red}  workgroupBarrier();
  for (var h = ${LANES / 2}u; h > 0u; h >>= 1u) {
    if (lane < h) {
${tree}    }
    workgroupBarrier();
  }
  if (lane == 0u && n < N) {
${out}  }
}`;
}
