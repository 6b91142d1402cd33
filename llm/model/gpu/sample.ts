/**
 * Seeded sampling on the GPU for the decoder: top-k → top-p → min-p → temperature → draw, the
 * CPU `Sampler`'s chain (llm/sampling/sampler.ts) without penalties, logit bias or typical
 * sampling, for 1 ≤ top-k ≤ {@link MAX_TOP_K}. Draw `d` uses the same Philox4x32-10 block as the
 * CPU (counter (d, 0, 0x736D706C, 0), key = the seed's 32-bit halves), so the same seed gives the
 * same uniform numbers — here rounded to 24 bits — and the same choices except where a probability
 * sum lands within float rounding of a boundary (the GPU sums the draw in f32, the CPU in float64;
 * its `exp` and division may differ by an ulp): equality is close, not exact.
 *
 * @module
 */

import { ShapeError } from "../../../core/errors.ts";

/** Largest top-k the GPU sampler takes. */
export const MAX_TOP_K = 64;

/** Host-side parameters of {@link SAMPLE} (see {@link samplePrm}). */
export interface GpuSampling {
  /** Temperature (> 0). */
  temperature: number;
  /** Candidates kept by top-k, 1..{@link MAX_TOP_K}. */
  topK: number;
  /** Nucleus mass (≥ 1: off). */
  topP: number;
  /** Min-p (≤ 0: off). */
  minP: number;
  /** Seed (safe integer). */
  seed: number;
  /** Fewest candidates top-p and min-p keep. */
  minKeep?: number;
}

/**
 * `s` when it is in range for the GPU sampler, else a ShapeError naming the field.
 *
 * @example
 * ```ts ignore
 * checkSampling({ temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05, seed: 7 });
 * ```
 */
export function checkSampling(s: GpuSampling): GpuSampling {
  const bad = (f: string, v: unknown, want: string) =>
    new ShapeError(`GpuDecoder sampling: ${f} is ${v}, expected ${want}.`);
  if (!(s.temperature > 0)) throw bad("temperature", s.temperature, "> 0 (0: leave sampling out)");
  if (!Number.isInteger(s.topK) || s.topK < 1 || s.topK > MAX_TOP_K) {
    throw bad("topK", s.topK, `an integer in [1, ${MAX_TOP_K}] on the GPU; use the CPU for more`);
  }
  if (!(s.topP > 0)) throw bad("topP", s.topP, "> 0");
  if (!(s.minP >= 0 && s.minP < 1)) throw bad("minP", s.minP, "in [0, 1)");
  if (!Number.isSafeInteger(s.seed)) throw bad("seed", s.seed, "a safe integer");
  const mk = s.minKeep ?? 0;
  if (!Number.isInteger(mk) || mk < 0) throw bad("minKeep", mk, "an integer ≥ 0");
  return s;
}

const f32bits = (v: number) => new Int32Array(new Float32Array([v]).buffer)[0];

/**
 * The prm words of {@link SAMPLE} for vocabulary `n`, options `s` and the first draw's position
 * `base` (draw d = position − base): [n, k, topP, log(minP) (f32 bits; minP ≤ 0: 0 words and flag
 * 0), temperature, key0, key1, base, minKeep, minP flag].
 *
 * @example
 * ```ts ignore
 * const prm = samplePrm(32000, { temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05, seed: 1 }, 5);
 * ```
 */
export function samplePrm(n: number, s: GpuSampling, base: number): number[] {
  const seed = BigInt.asUintN(64, BigInt(s.seed));
  const key0 = Number(seed & 0xffffffffn) | 0, key1 = Number(seed >> 32n) | 0;
  const logp = s.minP > 0 ? Math.fround(Math.log(s.minP)) : 0;
  return [
    n,
    s.topK,
    f32bits(Math.min(s.topP, 1)),
    f32bits(logp),
    f32bits(s.temperature),
    key0,
    key1,
    base,
    s.minKeep ?? 0,
    s.minP > 0 ? 1 : 0,
  ];
}

/**
 * One workgroup: the top-k logits of L [n] by k rounds of a workgroup argmax in (value desc, id
 * asc) order (NaN never chosen), then thread 0 applies top-p, min-p and temperature to the sorted
 * candidates and draws with Philox, writing the id to ids[pos + 1]. prm: {@link samplePrm}.
 *
 * @example
 * ```ts ignore
 * device.createShaderModule({ code: SAMPLE }); // dispatched as (1)
 * ```
 */
export const SAMPLE = `
@group(0) @binding(0) var<storage, read_write> L: array<f32>;
@group(0) @binding(1) var<storage, read_write> ids: array<u32>;
@group(0) @binding(2) var<storage, read> prm: array<i32, 64>;
@group(0) @binding(3) var<storage, read> stp: array<u32, 64>;
var<workgroup> bv: array<f32, 256>;
var<workgroup> bi: array<u32, 256>;
var<workgroup> cv: array<f32, ${MAX_TOP_K}>;
var<workgroup> ci: array<u32, ${MAX_TOP_K}>;
var<workgroup> got: u32;
fn mulhi(a: u32, b: u32) -> u32 {
  let a0 = a & 0xffffu; let a1 = a >> 16u; let b0 = b & 0xffffu; let b1 = b >> 16u;
  let p01 = a0 * b1; let p10 = a1 * b0;
  let mid = ((a0 * b0) >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  return a1 * b1 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u);
}
fn philox(ctr: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
  var c = ctr; var k = key;
  for (var r = 0u; r < 10u; r++) {
    if (r > 0u) { k = k + vec2<u32>(0x9E3779B9u, 0xBB67AE85u); }
    let hi0 = mulhi(0xD2511F53u, c.x); let lo0 = 0xD2511F53u * c.x;
    let hi1 = mulhi(0xCD9E8D57u, c.z); let lo1 = 0xCD9E8D57u * c.z;
    c = vec4<u32>(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
  }
  return c;
}
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_id) lid: vec3u) {
  let n = u32(prm[0]); let K = min(u32(prm[1]), ${MAX_TOP_K}u); let t = lid.x;
  var pv = 3.4e38; var pi = 0u; var first = true;
  if (t == 0u) { got = 0u; }
  for (var r = 0u; r < K; r++) {
    var v = -3.4e38; var k = 0xffffffffu;
    for (var i = t; i < n; i += 256u) {
      let x = L[i];
      let after = first || x < pv || (x == pv && i > pi);
      if (after && (x > v || (k == 0xffffffffu && x == v) || (x == v && i < k))) { v = x; k = i; }
    }
    bv[t] = v; bi[t] = k;
    workgroupBarrier();
    for (var h = 128u; h > 0u; h >>= 1u) {
      if (t < h) {
        let ov = bv[t + h]; let oi = bi[t + h];
        if (oi != 0xffffffffu && (bi[t] == 0xffffffffu || ov > bv[t] || (ov == bv[t] && oi < bi[t]))) {
          bv[t] = ov; bi[t] = oi;
        }
      }
      workgroupBarrier();
    }
    pv = bv[0]; pi = bi[0]; first = false;
    if (t == 0u && pi != 0xffffffffu) { cv[r] = pv; ci[r] = pi; got = r + 1u; }
    workgroupBarrier();
  }
  if (t != 0u) { return; }
  var size = got;
  if (size == 0u) { ids[stp[0] + 1u] = 0u; return; }
  let minKeep = u32(prm[8]);
  let topP = bitcast<f32>(prm[2]);
  if (topP < 1.0 && size > 1u) {
    let mx = cv[0];
    var sum = 0.0;
    for (var i = 0u; i < size; i++) { sum += exp(cv[i] - mx); }
    var cum = 0.0; var last = size;
    for (var i = 0u; i < size; i++) {
      cum += exp(cv[i] - mx) / sum;
      if (cum >= topP && i + 1u >= minKeep) { last = i + 1u; break; }
    }
    size = last;
  }
  if (prm[9] != 0) {
    let lo = cv[0] + bitcast<f32>(prm[3]);
    var m = 0u;
    for (var i = 0u; i < size; i++) { if (cv[i] >= lo) { m++; } }
    if (m > 0u && m >= minKeep) { size = m; } else {
      var i = 1u;
      for (; i < size; i++) { if (cv[i] < lo && i >= minKeep) { break; } }
      size = i;
    }
  }
  let temp = bitcast<f32>(prm[4]);
  var pick = ci[0];
  if (size > 1u) {
    let d = stp[0] - u32(prm[7]);
    let w = philox(vec4<u32>(d, 0u, 0x736D706Cu, 0u), vec2<u32>(u32(prm[5]), u32(prm[6])));
    let u = f32(w.x >> 8u) / 16777216.0;
    let mx = cv[0] / temp;
    var sum = 0.0;
    for (var i = 0u; i < size; i++) { sum += exp(cv[i] / temp - mx); }
    let goal = sum * u;
    var run = 0.0;
    pick = ci[size - 1u];
    for (var i = 0u; i < size; i++) {
      let e = exp(cv[i] / temp - mx);
      run += e;
      if (run >= goal && e > 0.0) { pick = ci[i]; break; }
    }
  }
  ids[stp[0] + 1u] = pick;
}`;
