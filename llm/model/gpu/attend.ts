/**
 * Decode-step attention split over cache positions (flash-decoding) and the RoPE + KV-cache append
 * reading one buffer of Q, K and V, for the GPU decoder (llm/model/gpu/decoder.ts). Bindings and
 * parameters follow llm/model/gpu/kernels.ts (read-write buffers, then `prm` and `stp`).
 *
 * @module
 */

/**
 * Cache positions per attention workgroup.
 *
 * @example
 * ```ts ignore
 * const chunks = Math.ceil(contextLength / CHUNK);
 * ```
 */
export const CHUNK = 32;
/** Threads per attention workgroup. */
const AT = 256;
/**
 * Workgroup memory (bytes) of {@link attnPart} for head dimensions hd and vd.
 *
 * @example
 * ```ts ignore
 * console.log(attnPartBytes(64, 64)); // 2304
 * ```
 */
export const attnPartBytes = (hd: number, _vd: number): number => 4 * (hd + 2 * AT);

const params = (n: number) =>
  `@group(0) @binding(${n}) var<storage, read> prm: array<i32, 64>;
@group(0) @binding(${n + 1}) var<storage, read> stp: array<u32, 64>;`;

/**
 * Partial attention of the query at position pos over cache positions c·CHUNK .. (c+1)·CHUNK − 1
 * (those ≤ pos), workgroup (h, c): the chunk's max score m, Σ exp(s − m) and the value sums
 * Σ exp(s − m) · v, written to P[(h · chunks + c) · (vd + 2) ..] as [o_0 .. o_{vd−1}, m, l].
 * Workgroups whose chunk starts past pos write nothing. RoPE and the cache append are fused in:
 * X holds the step's [q | k | v] unrotated (q at 0, k at kO, v at vO); each workgroup rotates its
 * query and, for position pos, the new key itself (so no workgroup reads a cache row being
 * written), and the workgroups of the first query head of each KV head write the new K and V into
 * the caches. Scores are dotted 8 threads per position (consecutive threads, consecutive key
 * elements); values summed 256 / vd threads per dimension. KC/VC [ctx, kvHeads, hd|vd],
 * TAB the RoPE table (cos, sin per position and pair; pairs (2i, 2i+1) or NeoX (i, i + half));
 * workgroup memory {@link attnPartBytes}. prm: [heads, kvHeads, hd, vd, scale (f32 bits), chunks,
 * ropeDims, neox (0|1), kO, vO].
 *
 * @example
 * ```ts ignore
 * const wgsl = attnPart(64, 64); // dispatched as (heads, chunks)
 * ```
 */
export const attnPart = (hd: number, _vd: number): string => `
@group(0) @binding(0) var<storage, read_write> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> KC: array<f32>;
@group(0) @binding(2) var<storage, read_write> VC: array<f32>;
@group(0) @binding(3) var<storage, read_write> TAB: array<f32>;
@group(0) @binding(4) var<storage, read_write> P: array<f32>;
${params(5)}
var<workgroup> qt: array<f32, ${hd}>;
var<workgroup> sc: array<f32, ${AT}>;
var<workgroup> red: array<f32, ${AT}>;
/** Value element d of cache position s (the new one from X). */
fn vAt(s: u32, d: u32, kh: u32, pos: u32) -> f32 {
  let kvh = u32(prm[1]); let vd = u32(prm[3]);
  if (s == pos) { return X[u32(prm[9]) + kh * vd + d]; }
  return VC[(s * kvh + kh) * vd + d];
}
/** Element d of the head vector at X[base ..] rotated for position pos. */
fn rot(base: u32, d: u32, pos: u32) -> f32 {
  let rd = u32(prm[6]); let neox = prm[7] != 0; let half = rd / 2u;
  if (d >= rd) { return X[base + d]; }
  let i = select(d / 2u, d % half, neox);
  let second = select((d & 1u) == 1u, d >= half, neox);
  let a = base + select(2u * i, i, neox);
  let b = a + select(1u, half, neox);
  let c = TAB[(pos * half + i) * 2u]; let s = TAB[(pos * half + i) * 2u + 1u];
  let x0 = X[a]; let x1 = X[b];
  return select(x0 * c - x1 * s, x0 * s + x1 * c, second);
}
@compute @workgroup_size(${AT})
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let heads = u32(prm[0]); let kvh = u32(prm[1]); let hd = u32(prm[2]); let vd = u32(prm[3]);
  let scale = bitcast<f32>(prm[4]); let chunks = u32(prm[5]);
  let kO = u32(prm[8]); let vO = u32(prm[9]);
  let pos = stp[0]; let S = pos + 1u;
  let h = wid.x; let c = wid.y; let t = lid.x;
  let s0 = c * ${CHUNK}u;
  if (s0 >= S) { return; }
  let group = heads / kvh;
  let kh = h / group;
  let writer = h % group == 0u;
  let n = min(${CHUNK}u, S - s0);
  if (writer && pos >= s0 && pos < s0 + n) {
    if (t < hd) { KC[(pos * kvh + kh) * hd + t] = rot(kO + kh * hd, t, pos); }
    if (t < vd) { VC[(pos * kvh + kh) * vd + t] = X[vO + kh * vd + t]; }
  }
  if (t < hd) { qt[t] = rot(h * hd, t, pos); }
  workgroupBarrier();
  // Scores: position j = t / 8, dimensions t % 8, + 8, ... (the new key rotated from X).
  let j = t / 8u; let pp = t % 8u;
  var a = 0.0;
  if (j < n) {
    let s = s0 + j;
    if (s == pos) {
      for (var d = pp; d < hd; d += 8u) { a = fma(qt[d], rot(kO + kh * hd, d, pos), a); }
    } else {
      let k0 = (s * kvh + kh) * hd;
      for (var d = pp; d < hd; d += 8u) { a = fma(qt[d], KC[k0 + d], a); }
    }
  }
  sc[t] = a;
  workgroupBarrier();
  var e = 0.0;
  if (t < n) {
    var s = 0.0;
    for (var i = 0u; i < 8u; i++) { s += sc[t * 8u + i]; }
    e = s * scale;
  }
  workgroupBarrier();
  sc[t] = e;
  workgroupBarrier();
  var m = -3.0e38;
  for (var i = 0u; i < n; i++) { m = max(m, sc[i]); }
  var l = 0.0;
  for (var i = 0u; i < n; i++) { l += exp(sc[i] - m); }
  workgroupBarrier();
  if (t < n) { sc[t] = exp(e - m); }
  workgroupBarrier();
  let pb = (h * chunks + c) * (vd + 2u);
  if (t == 0u) { P[pb + vd] = m; P[pb + vd + 1u] = l; }
  if (vd <= ${AT}u) {
    // 256 / vd threads per value dimension, each over every (256 / vd)-th position.
    let parts = ${AT}u / vd; let part = t / vd; let d = t % vd;
    var o = 0.0;
    if (part < parts) {
      for (var i = part; i < n; i += parts) { o = fma(sc[i], vAt(s0 + i, d, kh, pos), o); }
    }
    red[t] = o;
    workgroupBarrier();
    if (t < vd) {
      var sum = 0.0;
      for (var q = 0u; q < parts; q++) { sum += red[q * vd + t]; }
      P[pb + t] = sum;
    }
  } else {
    for (var d = t; d < vd; d += ${AT}u) {
      var o = 0.0;
      for (var i = 0u; i < n; i++) { o = fma(sc[i], vAt(s0 + i, d, kh, pos), o); }
      P[pb + d] = o;
    }
  }
}`;

/**
 * Combine of {@link attnPart}'s chunks of head h (workgroup h) into O [heads, vd]:
 * Σ_c e^{m_c − M} o_c / Σ_c e^{m_c − M} l_c with M the largest m_c. prm as attnPart's; at most
 * 256 chunks per head.
 *
 * @example
 * ```ts ignore
 * device.createShaderModule({ code: ATTN_COMBINE }); // dispatched as (heads)
 * ```
 */
export const ATTN_COMBINE = `
@group(0) @binding(0) var<storage, read_write> P: array<f32>;
@group(0) @binding(1) var<storage, read_write> O: array<f32>;
${params(2)}
var<workgroup> wt: array<f32, ${AT}>;
var<workgroup> lt: array<f32, ${AT}>;
@compute @workgroup_size(${AT})
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let vd = u32(prm[3]); let chunks = u32(prm[5]);
  let S = stp[0] + 1u;
  let h = wid.x; let t = lid.x;
  let nc = (S + ${CHUNK - 1}u) / ${CHUNK}u;
  if (t < nc) {
    let pb = (h * chunks + t) * (vd + 2u);
    wt[t] = P[pb + vd]; lt[t] = P[pb + vd + 1u];
  }
  workgroupBarrier();
  var M = -3.0e38;
  for (var c = 0u; c < nc; c++) { M = max(M, wt[c]); }
  var den = 0.0;
  for (var c = 0u; c < nc; c++) { den = fma(exp(wt[c] - M), lt[c], den); }
  workgroupBarrier();
  if (t < nc) { wt[t] = exp(wt[t] - M); }
  workgroupBarrier();
  for (var d = t; d < vd; d += ${AT}u) {
    var num = 0.0;
    for (var c = 0u; c < nc; c++) { num = fma(wt[c], P[(h * chunks + c) * (vd + 2u) + d], num); }
    O[h * vd + d] = num / den;
  }
}`;

/**
 * Rotary embedding and KV-cache append reading Q, K and V of row r from one buffer X: Q element j
 * at qS·r + j, K at kO + kS·r + j, V at vO + vS·r + j (one row-interleaved [q | k | v] layout from
 * the fused QKV matvec, or three regions). Q rotated into QR [rows, heads, hd]; K and V appended
 * to KC/VC [ctx, kvHeads, hd|vd] at pos + r. TAB holds cos and sin per position and pair. Pairs are
 * (2i, 2i+1) or (i, i + half) (NeoX); dimensions past ropeDims pass through. prm: [heads, kvHeads,
 * hd, vd, ropeDims, neox (0|1), qS, kO, kS, vO, vS]. Dispatch ⌈((heads + kvHeads) · hd + kvHeads ·
 * vd) / 256⌉ workgroups × rows.
 *
 * @example
 * ```ts ignore
 * device.createShaderModule({ code: ROPE_QKV });
 * ```
 */
export const ROPE_QKV = `
@group(0) @binding(0) var<storage, read_write> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> KC: array<f32>;
@group(0) @binding(2) var<storage, read_write> VC: array<f32>;
@group(0) @binding(3) var<storage, read_write> TAB: array<f32>;
@group(0) @binding(4) var<storage, read_write> QR: array<f32>;
${params(5)}
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let heads = u32(prm[0]); let kvh = u32(prm[1]); let hd = u32(prm[2]); let vd = u32(prm[3]);
  let rd = u32(prm[4]); let neox = prm[5] != 0; let half = rd / 2u;
  let qS = u32(prm[6]); let kO = u32(prm[7]); let kS = u32(prm[8]);
  let vO = u32(prm[9]); let vS = u32(prm[10]);
  let r = gid.y; let pos = stp[0] + r;
  let g = gid.x;
  let nq = heads * hd; let nk = kvh * hd;
  if (g < nq + nk) {
    let isQ = g < nq;
    let j = select(g - nq, g, isQ);
    let src = select(kO + r * kS, r * qS, isQ);
    let base = j - j % hd; let d = j % hd;
    var v: f32;
    if (d < rd) {
      let i = select(d / 2u, d % half, neox);
      let second = select((d & 1u) == 1u, d >= half, neox);
      let a = base + select(2u * i, i, neox);
      let b = a + select(1u, half, neox);
      let c = TAB[(pos * half + i) * 2u]; let s = TAB[(pos * half + i) * 2u + 1u];
      let x0 = X[src + a]; let x1 = X[src + b];
      v = select(x0 * c - x1 * s, x0 * s + x1 * c, second);
    } else {
      v = X[src + j];
    }
    if (isQ) { QR[r * nq + j] = v; } else { KC[pos * nk + j] = v; }
    return;
  }
  let j = g - nq - nk;
  if (j < kvh * vd) { VC[pos * kvh * vd + j] = X[vO + r * vS + j]; }
}`;
