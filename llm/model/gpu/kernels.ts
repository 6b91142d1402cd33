/**
 * WGSL kernels of the GPU decoder (llm/model/gpu/decoder.ts), besides the packed matvec it takes
 * from the WebGPU plugin (backends/webgpu/kernels/quant_linear.ts).
 *
 * Every kernel binds its buffers read-write at bindings 0.., then `prm` (static i32/f32 words of the
 * dispatch: sizes, offsets) and `stp` (the step: [pos]) as read-only storage with dynamic offsets,
 * so one bind group per dispatch is built once per model and reused every token. A dispatch covers
 * `rows` consecutive positions from `pos` (workgroup id y is the row): one in decode, a chunk of the
 * prompt in prefill; row r's activations are at r × (row size) in each buffer.
 *
 * @module
 */

/** Threads per workgroup of the row kernels. */
export const T = 256;

const rw = (names: string[], ty = "array<f32>") =>
  names.map((n, i) => `@group(0) @binding(${i}) var<storage, read_write> ${n}: ${ty};`).join("\n");
const params = (n: number) =>
  `@group(0) @binding(${n}) var<storage, read> prm: array<i32, 64>;
@group(0) @binding(${n + 1}) var<storage, read> stp: array<u32, 64>;`;

/** Sum of `v` over the workgroup's T threads (all threads must call it); result in every thread. */
const REDUCE = `
var<workgroup> red: array<f32, ${T}>;
fn wgSum(v: f32, t: u32) -> f32 {
  red[t] = v;
  workgroupBarrier();
  for (var h = ${T / 2}u; h > 0u; h >>= 1u) {
    if (t < h) { red[t] += red[t + h]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
fn wgMax(v: f32, t: u32) -> f32 {
  red[t] = v;
  workgroupBarrier();
  for (var h = ${T / 2}u; h > 0u; h >>= 1u) {
    if (t < h) { red[t] = max(red[t], red[t + h]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}`;

/**
 * Embedding row of token `ids[pos]` from an f32 table E [vocab, dim] into H. prm: [dim].
 * Dispatch ⌈dim / T⌉ workgroups.
 */
export const EMBED = `
${rw(["E", "H"])}
@group(0) @binding(2) var<storage, read_write> ids: array<u32>;
${params(3)}
@compute @workgroup_size(${T})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let dim = u32(prm[0]);
  let i = gid.x; let r = gid.y;
  if (i >= dim) { return; }
  H[r * dim + i] = E[ids[stp[0] + r] * dim + i];
}`;

/**
 * RMSNorm of X [dim] into Y: `x · rsqrt(mean(x²) + eps) · w`, w at word `wOff` of Wn. prm: [dim,
 * eps (f32 bits), wOff].
 * One workgroup.
 */
export const RMSNORM = `
${rw(["X", "Wn", "Y"])}
${params(3)}
${REDUCE}
@compute @workgroup_size(${T})
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let dim = u32(prm[0]); let eps = bitcast<f32>(prm[1]); let wo = u32(prm[2]);
  let t = lid.x; let x0 = wid.y * dim;
  var s = 0.0;
  for (var i = t; i < dim; i += ${T}u) { s = fma(X[x0 + i], X[x0 + i], s); }
  let r = inverseSqrt(wgSum(s, t) / f32(dim) + eps);
  for (var i = t; i < dim; i += ${T}u) { Y[x0 + i] = X[x0 + i] * r * Wn[wo + i]; }
}`;

/**
 * Attention of row r's query (position pos + r) over cache positions 0..pos + r (causal): one
 * workgroup per head and row, scores in workgroup memory, softmax, then the weighted sum of values.
 * Q [rows, heads, hd], KC/VC [ctx, kvHeads, hd|vd], O [rows, heads, vd]. prm: [heads, kvHeads, hd, vd, scale (f32 bits)]. Scores
 * take 4 bytes of workgroup memory per position up to `maxContext`.
 */
export const attention = (maxContext: number): string => `
${rw(["Q", "KC", "VC", "O"])}
${params(4)}
${REDUCE}
var<workgroup> sc: array<f32, ${maxContext}>;
@compute @workgroup_size(${T})
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let heads = u32(prm[0]); let kvh = u32(prm[1]); let hd = u32(prm[2]); let vd = u32(prm[3]);
  let scale = bitcast<f32>(prm[4]);
  let S = stp[0] + wid.y + 1u;
  let h = wid.x; let t = lid.x;
  let qb = wid.y * heads * hd; let ob = wid.y * heads * vd;
  let kh = h / (heads / kvh);
  let q0 = qb + h * hd;
  var mx = -3.0e38;
  for (var s = t; s < S; s += ${T}u) {
    let k0 = (s * kvh + kh) * hd;
    var a = 0.0;
    for (var d = 0u; d < hd; d++) { a = fma(Q[q0 + d], KC[k0 + d], a); }
    a *= scale;
    sc[s] = a;
    mx = max(mx, a);
  }
  mx = wgMax(mx, t);
  var sum = 0.0;
  for (var s = t; s < S; s += ${T}u) {
    let e = exp(sc[s] - mx);
    sc[s] = e;
    sum += e;
  }
  sum = wgSum(sum, t);
  workgroupBarrier();
  // Thread t sums positions part, part + parts, ... of value dimension d.
  let parts = max(1u, ${T}u / vd);
  let d = t % vd; let part = t / vd;
  for (var d0 = 0u; d0 < vd; d0 += ${T}u) {
    var acc = 0.0;
    let dd = d0 + t;
    if (vd > ${T}u) {
      if (dd < vd) {
        for (var s = 0u; s < S; s++) { acc = fma(sc[s], VC[(s * kvh + kh) * vd + dd], acc); }
        O[ob + h * vd + dd] = acc / sum;
      }
    } else {
      if (part < parts) {
        for (var s = part; s < S; s += parts) { acc = fma(sc[s], VC[(s * kvh + kh) * vd + d], acc); }
      }
      red[t] = acc;
      workgroupBarrier();
      if (part == 0u) {
        var tot = 0.0;
        for (var p = 0u; p < parts; p++) { tot += red[p * vd + d]; }
        O[ob + h * vd + d] = tot / sum;
      }
      workgroupBarrier();
    }
  }
}`;

/** SwiGLU: A = silu(G) · U over n elements. prm: [n]. Dispatch ⌈n / T⌉ workgroups. */
export const SWIGLU = `
${rw(["G", "U", "A"])}
${params(3)}
@compute @workgroup_size(${T})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i >= u32(prm[0])) { return; }
  let g = G[i];
  A[i] = g / (1.0 + exp(-g)) * U[i];
}`;

/**
 * Greedy sampling: the index of the largest of L [n] (the first on ties; NaN never wins) into
 * ids[pos + 1]. prm: [n]. One workgroup.
 */
export const ARGMAX = `
${rw(["L"])}
@group(0) @binding(1) var<storage, read_write> ids: array<u32>;
${params(2)}
var<workgroup> bv: array<f32, ${T}>;
var<workgroup> bi: array<u32, ${T}>;
@compute @workgroup_size(${T})
fn main(@builtin(local_invocation_id) lid: vec3u) {
  let n = u32(prm[0]); let t = lid.x;
  var v = -3.4e38; var k = 0xffffffffu;
  for (var i = t; i < n; i += ${T}u) {
    let x = L[i];
    if (x > v || (k == 0xffffffffu && x == v)) { v = x; k = i; }
  }
  bv[t] = v; bi[t] = k;
  workgroupBarrier();
  for (var h = ${T / 2}u; h > 0u; h >>= 1u) {
    if (t < h) {
      let ov = bv[t + h]; let oi = bi[t + h];
      if (ov > bv[t] || (ov == bv[t] && oi < bi[t])) { bv[t] = ov; bi[t] = oi; }
    }
    workgroupBarrier();
  }
  if (t == 0u) { ids[stp[0] + 1u] = select(bi[0], 0u, bi[0] == 0xffffffffu); }
}`;
