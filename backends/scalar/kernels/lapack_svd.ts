/**
 * One-sided (Hestenes) Jacobi SVD and the kernels built on it: `linalg.svd`, `linalg.pinv`,
 * `linalg.matrixRank`, `linalg.lstsq` (minimum-norm least squares through the SVD, like gelsd).
 *
 * @module
 */
import type { KernelCall } from "../../../core/backend/plugin.ts";
import { readF64, writeF64 } from "../util.ts";
import { allFinite, batchOf, EPS, epsOf, nrm2 } from "./lapack_common.ts";

interface Svd {
  /** Singular values, descending (length k = min(m, n)). */
  s: Float64Array;
  /** Left vectors of the tall problem: `cols` columns of length `len`, column-major. */
  u: Float64Array;
  /** Right vectors of the tall problem: k columns of length k, column-major. */
  v: Float64Array;
  /** 0, or 1 when the sweeps did not converge. */
  info: number;
}

/**
 * One-sided Jacobi SVD of the tall matrix given column-major as `k` columns of length `len`
 * (len ≥ k). With `cols` > k, the left basis is completed to `cols` orthonormal columns; with
 * `wantU` false only s is meaningful.
 */
function jacobiSvd(g: Float64Array, len: number, k: number, cols: number, wantU: boolean): Svd {
  const v = new Float64Array(k * k);
  for (let i = 0; i < k; i++) v[i * k + i] = 1;
  let info = 1;
  const tol = Math.max(Math.sqrt(len), 2) * EPS;
  const frob = nrm2(g, 0, len * k, 1);
  for (let sweep = 0; sweep < 80; sweep++) {
    let rotated = false;
    for (let p = 0; p < k - 1; p++) {
      for (let q = p + 1; q < k; q++) {
        let alpha = 0, beta = 0, gamma = 0;
        const op = p * len, oq = q * len;
        for (let i = 0; i < len; i++) {
          const x = g[op + i], y = g[oq + i];
          alpha += x * x;
          beta += y * y;
          gamma += x * y;
        }
        // Skip when the columns are orthogonal to the rounding of their dot product (~√len·eps,
        // dgesvj's rule), or when the rotation would move them by less than eps·‖A‖ (below the
        // backward error; rotating a noise-level column against a large one never settles).
        const ag = Math.abs(gamma);
        if (
          ag === 0 || ag <= tol * Math.sqrt(alpha) * Math.sqrt(beta) ||
          ag <= EPS * frob * Math.sqrt(Math.max(alpha, beta))
        ) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.abs(zeta) > 1e150
          ? 1 / (2 * zeta)
          : (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t), s = c * t;
        for (let i = 0; i < len; i++) {
          const x = g[op + i], y = g[oq + i];
          g[op + i] = c * x - s * y;
          g[oq + i] = s * x + c * y;
        }
        for (let i = 0; i < k; i++) {
          const x = v[p * k + i], y = v[q * k + i];
          v[p * k + i] = c * x - s * y;
          v[q * k + i] = s * x + c * y;
        }
      }
    }
    if (!rotated) {
      info = 0;
      break;
    }
  }
  const sv = new Float64Array(k);
  for (let j = 0; j < k; j++) sv[j] = nrm2(g, j * len, len, 1);
  const order = [...Array(k).keys()].sort((x, y) => sv[y] - sv[x] || x - y);
  const s = Float64Array.from(order, (j) => sv[j]);
  const vs = new Float64Array(k * k);
  order.forEach((j, c) => vs.set(v.subarray(j * k, (j + 1) * k), c * k));
  if (!wantU) return { s, u: new Float64Array(0), v: vs, info };
  const u = new Float64Array(len * cols);
  const have = new Uint8Array(cols);
  // Normalize the columns, largest first, and re-orthogonalize each against the previous ones:
  // a column at noise level (rank deficiency) is not orthogonal to the others; it is dropped and
  // replaced by a completion vector (its singular value is below eps·‖A‖ anyway).
  order.forEach((j, c) => {
    if (!(s[c] > 0)) return;
    const o = c * len;
    for (let i = 0; i < len; i++) u[o + i] = g[j * len + i] / s[c];
    for (let pass = 0; pass < 2; pass++) {
      for (let p = 0; p < c; p++) {
        if (!have[p]) continue;
        let d = 0;
        for (let i = 0; i < len; i++) d += u[p * len + i] * u[o + i];
        for (let i = 0; i < len; i++) u[o + i] -= d * u[p * len + i];
      }
    }
    const nr = nrm2(u, o, len, 1);
    if (nr > 0.5) {
      for (let i = 0; i < len; i++) u[o + i] /= nr;
      have[c] = 1;
    } else {
      u.fill(0, o, o + len);
    }
  });
  completeBasis(u, len, cols, have);
  return { s, u, v: vs, info };
}

/**
 * Fill the columns of the column-major `u` (`cols` columns of length `len`) not marked in `have`
 * with unit vectors orthogonal to all others: each time the standard basis vector with the
 * largest component outside the current span, orthogonalized twice (Gram–Schmidt).
 */
function completeBasis(u: Float64Array, len: number, cols: number, have: Uint8Array): void {
  const r = new Float64Array(len), best = new Float64Array(len);
  const project = (x: Float64Array) => {
    for (let pass = 0; pass < 2; pass++) {
      for (let c = 0; c < cols; c++) {
        if (!have[c]) continue;
        let d = 0;
        for (let i = 0; i < len; i++) d += u[c * len + i] * x[i];
        for (let i = 0; i < len; i++) x[i] -= d * u[c * len + i];
      }
    }
  };
  for (let c = 0; c < cols; c++) {
    if (have[c]) continue;
    let bestNorm = -1;
    for (let e = 0; e < len; e++) {
      r.fill(0);
      r[e] = 1;
      project(r);
      const nr = nrm2(r, 0, len, 1);
      if (nr > bestNorm) bestNorm = nr, best.set(r);
    }
    for (let i = 0; i < len; i++) u[c * len + i] = best[i] / bestNorm;
    have[c] = 1;
  }
}

/**
 * SVD of the row-major m×n matrix at `A[off..]`: U (m×uc), s, Vᵀ (vr×n), row-major, where
 * uc, vr are k (reduced) or m, n (full).
 */
function svdOne(
  A: Float64Array,
  off: number,
  m: number,
  n: number,
  full: boolean,
  wantUV: boolean,
): { u: Float64Array; s: Float64Array; vh: Float64Array; info: number } {
  const k = Math.min(m, n), len = Math.max(m, n);
  const g = new Float64Array(k * len);
  // Columns of the tall problem: columns of A when m ≥ n, else rows of A (the SVD of Aᵀ).
  if (m >= n) {
    for (let j = 0; j < n; j++) for (let i = 0; i < m; i++) g[j * m + i] = A[off + i * n + j];
  } else {
    g.set(A.subarray(off, off + m * n));
  }
  const cols = full ? len : k;
  const r = jacobiSvd(g, len, k, cols, wantUV);
  if (!wantUV) return { u: r.u, s: r.s, vh: r.v, info: r.info };
  const uc = full ? m : k, vr = full ? n : k;
  const u = new Float64Array(m * uc), vh = new Float64Array(vr * n);
  if (m >= n) {
    // A = (tall U)·S·Vᵀ.
    for (let c = 0; c < uc; c++) for (let i = 0; i < m; i++) u[i * uc + c] = r.u[c * m + i];
    for (let c = 0; c < k; c++) for (let i = 0; i < n; i++) vh[c * n + i] = r.v[c * k + i];
  } else {
    // Aᵀ = (tall U)·S·Vᵀ, so A = V·S·(tall U)ᵀ.
    for (let c = 0; c < k; c++) for (let i = 0; i < m; i++) u[i * uc + c] = r.v[c * k + i];
    for (let c = 0; c < vr; c++) for (let i = 0; i < n; i++) vh[c * n + i] = r.u[c * n + i];
  }
  return { u, s: r.s, vh, info: r.info };
}

export function svdKernel(call: KernelCall<{ fullMatrices: boolean; computeUV: boolean }>): void {
  const [a] = call.inputs;
  const { fullMatrices, computeUV } = call.attrs;
  const m = a.shape[a.ndim - 2], n = a.shape[a.ndim - 1], k = Math.min(m, n);
  const batch = batchOf(a);
  const A = readF64(a);
  const uc = fullMatrices ? m : k, vr = fullMatrices ? n : k;
  const U = new Float64Array(computeUV ? batch * m * uc : 0);
  const VH = new Float64Array(computeUV ? batch * vr * n : 0);
  const S = new Float64Array(batch * k), info = new Int32Array(batch);
  for (let bi = 0; bi < batch; bi++) {
    const o = bi * m * n;
    if (!allFinite(A, o, m * n)) {
      info[bi] = -1;
      continue;
    }
    const r = svdOne(A, o, m, n, fullMatrices, computeUV);
    info[bi] = r.info;
    S.set(r.s, bi * k);
    if (computeUV) {
      U.set(r.u, bi * m * uc);
      VH.set(r.vh, bi * vr * n);
    }
  }
  const outs = call.outputs;
  if (computeUV) {
    writeF64(outs[0], U);
    writeF64(outs[1], S);
    writeF64(outs[2], VH);
    writeF64(outs[3], info);
  } else {
    writeF64(outs[0], S);
    writeF64(outs[1], info);
  }
}

/** Pseudo-inverse V·diag(1/s)·Uᵀ of a reduced SVD (m×k U, k×n Vᵀ), as row-major n×m. */
function pinvFromSvd(
  u: Float64Array,
  s: Float64Array,
  vh: Float64Array,
  m: number,
  n: number,
  cutoff: number,
): Float64Array {
  const k = s.length;
  const p = new Float64Array(n * m);
  for (let c = 0; c < k; c++) {
    if (!(s[c] > cutoff)) continue;
    const inv = 1 / s[c];
    for (let i = 0; i < n; i++) {
      const f = vh[c * n + i] * inv;
      for (let j = 0; j < m; j++) p[i * m + j] += f * u[j * k + c];
    }
  }
  return p;
}

export function pinvKernel(call: KernelCall<{ rcond: number }>): void {
  const [a] = call.inputs;
  const [out, infoOut] = call.outputs;
  const m = a.shape[a.ndim - 2], n = a.shape[a.ndim - 1], batch = batchOf(a);
  const A = readF64(a);
  const P = new Float64Array(batch * n * m), info = new Int32Array(batch);
  for (let bi = 0; bi < batch; bi++) {
    const o = bi * m * n;
    if (!allFinite(A, o, m * n)) {
      info[bi] = -1;
      continue;
    }
    const r = svdOne(A, o, m, n, false, true);
    info[bi] = r.info;
    const smax = r.s.length ? r.s[0] : 0;
    P.set(pinvFromSvd(r.u, r.s, r.vh, m, n, call.attrs.rcond * smax), bi * n * m);
  }
  writeF64(out, P);
  writeF64(infoOut, info);
}

export function matrixRankKernel(
  call: KernelCall<{ tol: number | null; rtol: number | null }>,
): void {
  const [a] = call.inputs;
  const [out, infoOut] = call.outputs;
  const m = a.shape[a.ndim - 2], n = a.shape[a.ndim - 1], batch = batchOf(a);
  const A = readF64(a);
  const R = new Float64Array(batch), info = new Int32Array(batch);
  const rtol = call.attrs.rtol ?? Math.max(m, n) * epsOf(a);
  for (let bi = 0; bi < batch; bi++) {
    const o = bi * m * n;
    if (!allFinite(A, o, m * n)) {
      info[bi] = -1;
      continue;
    }
    const r = svdOne(A, o, m, n, false, false);
    info[bi] = r.info;
    // Compare in the dtype's precision, as NumPy does with its f32 singular values.
    const s = a.dtype === "f32" ? r.s.map(Math.fround) : r.s;
    const tol = call.attrs.tol ?? (s.length ? s[0] : 0) * rtol;
    let rank = 0;
    for (const x of s) if (x > tol) rank++;
    R[bi] = rank;
  }
  writeF64(out, R);
  writeF64(infoOut, info);
}

export function lstsqKernel(call: KernelCall<{ rcond: number }>): void {
  const [a, b] = call.inputs;
  const [xOut, resOut, rankOut, sOut, infoOut] = call.outputs;
  const m = a.shape[0], n = a.shape[1], k = b.shape[1], mn = Math.min(m, n);
  const A = readF64(a), B = readF64(b);
  const X = new Float64Array(n * k), res = new Float64Array(k);
  let rank = 0, info = 0;
  let s: Float64Array = new Float64Array(mn);
  if (!allFinite(A, 0, m * n) || !allFinite(B, 0, m * k)) {
    info = -1;
  } else {
    const r = svdOne(A, 0, m, n, false, true);
    info = r.info;
    s = r.s;
    // NumPy computes in float64 for f32 too, so LAPACK's "machine precision" is f64's.
    const rcond = call.attrs.rcond < 0 ? EPS : call.attrs.rcond;
    const cutoff = rcond * (mn ? s[0] : 0);
    for (const x of s) if (x > cutoff) rank++;
    const p = pinvFromSvd(r.u, r.s, r.vh, m, n, cutoff);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < m; j++) {
        const f = p[i * m + j];
        for (let c = 0; c < k; c++) X[i * k + c] += f * B[j * k + c];
      }
    }
    for (let i = 0; i < m; i++) {
      for (let c = 0; c < k; c++) {
        let d = B[i * k + c];
        for (let j = 0; j < n; j++) d -= A[i * n + j] * X[j * k + c];
        res[c] += d * d;
      }
    }
  }
  writeF64(xOut, X);
  writeF64(resOut, res);
  writeF64(rankOut, [rank]);
  writeF64(sOut, s);
  writeF64(infoOut, [info]);
}
