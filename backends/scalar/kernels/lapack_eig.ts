/**
 * `linalg.eig`: the general eigenproblem by Householder reduction to Hessenberg form, Francis
 * double-shift QR to real Schur form, and back-substitution for the eigenvectors (geev's
 * normalisation).
 *
 * @module
 */
import type { KernelCall } from "../../../core/backend/plugin.ts";
import { readF64, writeF64 } from "../util.ts";
import { allFinite, batchOf, EPS, nrm2, SAFE_MIN } from "./lapack_common.ts";

/** Reduce row-major n×n `h` to upper Hessenberg form in place, accumulating Z (= I on entry). */
function hessenberg(h: Float64Array, n: number, z: Float64Array): void {
  const v = new Float64Array(n);
  for (let k = 0; k < n - 2; k++) {
    const tail = nrm2(h, (k + 2) * n + k, n - k - 2, n);
    if (tail === 0) continue;
    const x0 = h[(k + 1) * n + k];
    const alpha = -(x0 >= 0 ? 1 : -1) * Math.hypot(x0, tail);
    // P = I - 2 v vᵀ / (vᵀv) on indices k+1..n-1 maps x to alpha·e₁.
    v[k + 1] = x0 - alpha;
    let vv = v[k + 1] * v[k + 1];
    for (let i = k + 2; i < n; i++) {
      v[i] = h[i * n + k];
      vv += v[i] * v[i];
    }
    const f = 2 / vv;
    for (let c = k; c < n; c++) {
      let d = 0;
      for (let i = k + 1; i < n; i++) d += v[i] * h[i * n + c];
      d *= f;
      for (let i = k + 1; i < n; i++) h[i * n + c] -= d * v[i];
    }
    for (let r = 0; r < n; r++) {
      let d = 0;
      for (let i = k + 1; i < n; i++) d += h[r * n + i] * v[i];
      d *= f;
      for (let i = k + 1; i < n; i++) h[r * n + i] -= d * v[i];
      d = 0;
      for (let i = k + 1; i < n; i++) d += z[r * n + i] * v[i];
      d *= f;
      for (let i = k + 1; i < n; i++) z[r * n + i] -= d * v[i];
    }
    h[(k + 1) * n + k] = alpha;
    for (let i = k + 2; i < n; i++) h[i * n + k] = 0;
  }
}

/**
 * Apply the reflector I − f·v·vᵀ (v of length `len` ≤ 3, on indices k..k+len−1) to the Schur
 * iteration: rows of H from the left (columns c0..n−1), columns of H from the right (rows
 * 0..r1), and columns of Z.
 */
function applyReflector(
  h: Float64Array,
  z: Float64Array,
  n: number,
  k: number,
  len: number,
  v: Float64Array,
  f: number,
  c0: number,
  r1: number,
): void {
  for (let c = c0; c < n; c++) {
    let d = 0;
    for (let i = 0; i < len; i++) d += v[i] * h[(k + i) * n + c];
    d *= f;
    for (let i = 0; i < len; i++) h[(k + i) * n + c] -= d * v[i];
  }
  for (let r = 0; r <= r1; r++) {
    let d = 0;
    for (let i = 0; i < len; i++) d += h[r * n + k + i] * v[i];
    d *= f;
    for (let i = 0; i < len; i++) h[r * n + k + i] -= d * v[i];
  }
  for (let r = 0; r < n; r++) {
    let d = 0;
    for (let i = 0; i < len; i++) d += z[r * n + k + i] * v[i];
    d *= f;
    for (let i = 0; i < len; i++) z[r * n + k + i] -= d * v[i];
  }
}

/** Rotate rows/columns p, p+1 of H (and columns of Z) by the Givens rotation [[c, −s], [s, c]]. */
function applyRotation(
  h: Float64Array,
  z: Float64Array,
  n: number,
  p: number,
  c: number,
  s: number,
): void {
  const q = p + 1;
  for (let j = p; j < n; j++) {
    const x = h[p * n + j], y = h[q * n + j];
    h[p * n + j] = c * x + s * y;
    h[q * n + j] = -s * x + c * y;
  }
  for (let r = 0; r <= q; r++) {
    const x = h[r * n + p], y = h[r * n + q];
    h[r * n + p] = c * x + s * y;
    h[r * n + q] = -s * x + c * y;
  }
  for (let r = 0; r < n; r++) {
    const x = z[r * n + p], y = z[r * n + q];
    z[r * n + p] = c * x + s * y;
    z[r * n + q] = -s * x + c * y;
  }
}

/**
 * The 2×2 diagonal block at (p, p+1) of a deflated H: a real pair is split by a rotation (so the
 * block becomes upper triangular), a complex pair kept. Writes the eigenvalues.
 */
function splitBlock(
  h: Float64Array,
  z: Float64Array,
  n: number,
  p: number,
  wr: Float64Array,
  wi: Float64Array,
): void {
  const q = p + 1;
  const a = h[p * n + p], b = h[p * n + q], c = h[q * n + p], d = h[q * n + q];
  const half = 0.5 * (a - d);
  const disc = half * half + b * c;
  if (disc >= 0) {
    // Real eigenvalues: rotate an eigenvector of λ onto e₁.
    const root = Math.sqrt(disc);
    const lambda = d + half + (half >= 0 ? root : -root);
    let u0 = b, u1 = lambda - a;
    const alt0 = lambda - d, alt1 = c;
    if (Math.hypot(alt0, alt1) > Math.hypot(u0, u1)) u0 = alt0, u1 = alt1;
    const r = Math.hypot(u0, u1);
    if (r !== 0) applyRotation(h, z, n, p, u0 / r, u1 / r);
    h[q * n + p] = 0;
    wr[p] = h[p * n + p];
    wr[q] = h[q * n + q];
    wi[p] = wi[q] = 0;
  } else {
    const im = Math.sqrt(-disc);
    wr[p] = wr[q] = 0.5 * (a + d);
    wi[p] = im;
    wi[q] = -im;
  }
}

/**
 * Francis double-shift QR on the upper Hessenberg `h` (in place → real Schur form T, with 2×2
 * blocks only for complex pairs), accumulating Z. Returns 0, or 1 when an eigenvalue did not
 * converge.
 */
function schur(
  h: Float64Array,
  n: number,
  z: Float64Array,
  wr: Float64Array,
  wi: Float64Array,
): number {
  let norm = 0;
  for (let i = 0; i < n * n; i++) norm = Math.max(norm, Math.abs(h[i]));
  const v = new Float64Array(3);
  let hi = n - 1, iter = 0;
  const maxIter = 30 * Math.max(10, n);
  while (hi >= 0) {
    let l = hi;
    for (; l > 0; l--) {
      let s = Math.abs(h[(l - 1) * n + l - 1]) + Math.abs(h[l * n + l]);
      if (s === 0) s = norm;
      if (Math.abs(h[l * n + l - 1]) <= EPS * s) {
        h[l * n + l - 1] = 0;
        break;
      }
    }
    if (l === hi) {
      wr[hi] = h[hi * n + hi];
      wi[hi] = 0;
      hi--;
      iter = 0;
      continue;
    }
    if (l === hi - 1) {
      splitBlock(h, z, n, hi - 1, wr, wi);
      hi -= 2;
      iter = 0;
      continue;
    }
    if (++iter > maxIter) return 1;
    let s: number, t: number;
    const hmm = h[(hi - 1) * n + hi - 1], hmn = h[(hi - 1) * n + hi];
    const hnm = h[hi * n + hi - 1], hnn = h[hi * n + hi];
    if (iter % 11 === 10) {
      // Exceptional shift: break a possible cycle with a complex pair near H[hi][hi].
      const e = Math.abs(hnm) + Math.abs(h[(hi - 1) * n + hi - 2]);
      const x = hnn + 0.75 * e;
      s = 2 * x;
      t = x * x + 0.4375 * e * e;
    } else {
      s = hmm + hnn;
      t = hmm * hnn - hmn * hnm;
    }
    // First column of (H − σ₁)(H − σ₂) restricted to rows l..l+2.
    const h00 = h[l * n + l], h01 = h[l * n + l + 1], h10 = h[(l + 1) * n + l];
    const h11 = h[(l + 1) * n + l + 1], h21 = h[(l + 2) * n + l + 1];
    let x = h00 * h00 + h01 * h10 - s * h00 + t;
    let y = h10 * (h00 + h11 - s);
    let zz = h10 * h21;
    for (let k = l; k <= hi - 1; k++) {
      const len = k < hi - 1 ? 3 : 2;
      const tail = len === 3 ? Math.hypot(y, zz) : Math.abs(y);
      if (tail !== 0) {
        const alpha = -(x >= 0 ? 1 : -1) * Math.hypot(x, tail);
        v[0] = x - alpha;
        v[1] = y;
        v[2] = len === 3 ? zz : 0;
        const vv = v[0] * v[0] + v[1] * v[1] + v[2] * v[2];
        const c0 = k > l ? k - 1 : l;
        applyReflector(h, z, n, k, len, v, 2 / vv, c0, Math.min(k + 3, hi));
        if (k > l) {
          h[k * n + k - 1] = alpha;
          h[(k + 1) * n + k - 1] = 0;
          if (len === 3) h[(k + 2) * n + k - 1] = 0;
        }
      }
      if (k < hi - 1) {
        x = h[(k + 1) * n + k];
        y = h[(k + 2) * n + k];
        zz = k < hi - 2 ? h[(k + 3) * n + k] : 0;
      }
    }
  }
  return 0;
}

/**
 * Eigenvector of the real quasi-triangular T for eigenvalue (lr, li) at position `k` (for a
 * complex pair, `k` is the first index of its 2×2 block), by back-substitution: x (xr, xi) has
 * zeros below the block.
 */
function schurVector(
  t: Float64Array,
  n: number,
  k: number,
  lr: number,
  li: number,
  smin: number,
  xr: Float64Array,
  xi: Float64Array,
): number {
  xr.fill(0);
  xi.fill(0);
  let top: number;
  if (li === 0) {
    xr[k] = 1;
    top = k;
  } else {
    // Eigenvector of the block [[a, b], [c, d]]: (b, λ − a).
    const a = t[k * n + k], b = t[k * n + k + 1];
    xr[k] = b;
    xr[k + 1] = lr - a;
    xi[k + 1] = li;
    top = k + 1;
  }
  const start = li === 0 ? k : k + 1;
  for (let i = start - (li === 0 ? 1 : 2); i >= 0; i--) {
    const inBlock = i > 0 && t[i * n + i - 1] !== 0;
    if (!inBlock) {
      let rr = 0, ri = 0;
      for (let j = i + 1; j <= top; j++) rr += t[i * n + j] * xr[j], ri += t[i * n + j] * xi[j];
      let dr = t[i * n + i] - lr, di = -li;
      if (Math.abs(dr) + Math.abs(di) < smin) dr = smin, di = 0;
      [xr[i], xi[i]] = cdiv(-rr, -ri, dr, di);
    } else {
      // Rows i−1, i form a 2×2 block: solve the complex 2×2 system.
      const p = i - 1;
      let r0r = 0, r0i = 0, r1r = 0, r1i = 0;
      for (let j = i + 1; j <= top; j++) {
        r0r += t[p * n + j] * xr[j], r0i += t[p * n + j] * xi[j];
        r1r += t[i * n + j] * xr[j], r1i += t[i * n + j] * xi[j];
      }
      const [y0, y1] = solve2(
        [t[p * n + p] - lr, -li],
        [t[p * n + i], 0],
        [t[i * n + p], 0],
        [t[i * n + i] - lr, -li],
        [-r0r, -r0i],
        [-r1r, -r1i],
        smin,
      );
      [xr[p], xi[p]] = y0;
      [xr[i], xi[i]] = y1;
      i--;
    }
    // Rescale to keep the vector in range (it is normalized at the end).
    let big = 0;
    for (let j = i; j <= top; j++) big = Math.max(big, Math.abs(xr[j]), Math.abs(xi[j]));
    if (big > 1e100) {
      for (let j = 0; j <= top; j++) xr[j] /= big, xi[j] /= big;
    }
  }
  return top;
}

/** Complex division (ar + i·ai) / (br + i·bi), scaled (Smith's method). */
function cdiv(ar: number, ai: number, br: number, bi: number): [number, number] {
  if (Math.abs(br) >= Math.abs(bi)) {
    const r = bi / br, d = br + r * bi;
    return [(ar + r * ai) / d, (ai - r * ar) / d];
  }
  const r = br / bi, d = bi + r * br;
  return [(r * ar + ai) / d, (r * ai - ar) / d];
}

type C = [number, number];

/** Solve the complex 2×2 system [[a, b], [c, d]]·y = (e, f) by pivoted elimination. */
function solve2(a: C, b: C, c: C, d: C, e: C, f: C, smin: number): [C, C] {
  const mag = (x: C) => Math.abs(x[0]) + Math.abs(x[1]);
  const mul = (x: C, y: C): C => [x[0] * y[0] - x[1] * y[1], x[0] * y[1] + x[1] * y[0]];
  const sub = (x: C, y: C): C => [x[0] - y[0], x[1] - y[1]];
  if (mag(c) > mag(a)) [a, b, e, c, d, f] = [c, d, f, a, b, e];
  if (mag(a) < smin) a = [smin, 0];
  const l = cdiv(c[0], c[1], a[0], a[1]);
  let d2 = sub(d, mul(l, b));
  const f2 = sub(f, mul(l, e));
  if (mag(d2) < smin) d2 = [smin, 0];
  const y1 = cdiv(f2[0], f2[1], d2[0], d2[1]);
  const r = sub(e, mul(b, y1));
  return [cdiv(r[0], r[1], a[0], a[1]), y1];
}

export function eigKernel(call: KernelCall): void {
  const [a] = call.inputs;
  const [wrOut, wiOut, vrOut, viOut, infoOut] = call.outputs;
  const n = a.shape[a.ndim - 1], batch = batchOf(a);
  const A = readF64(a);
  const WR = new Float64Array(batch * n), WI = new Float64Array(batch * n);
  const VR = new Float64Array(batch * n * n), VI = new Float64Array(batch * n * n);
  const info = new Int32Array(batch);
  const h = new Float64Array(n * n), z = new Float64Array(n * n);
  const wr = new Float64Array(n), wi = new Float64Array(n);
  const xr = new Float64Array(n), xi = new Float64Array(n);
  const ur = new Float64Array(n), ui = new Float64Array(n);
  for (let bi = 0; bi < batch; bi++) {
    const o = bi * n * n;
    if (!allFinite(A, o, n * n)) {
      info[bi] = -1;
      continue;
    }
    h.set(A.subarray(o, o + n * n));
    z.fill(0);
    for (let i = 0; i < n; i++) z[i * n + i] = 1;
    hessenberg(h, n, z);
    info[bi] = schur(h, n, z, wr, wi);
    if (info[bi] !== 0) continue;
    let tnorm = 0;
    for (let i = 0; i < n * n; i++) tnorm = Math.max(tnorm, Math.abs(h[i]));
    const smin = Math.max(EPS * tnorm, SAFE_MIN);
    for (let k = 0; k < n; k++) {
      if (wi[k] < 0) continue; // second of a pair: the conjugate of column k−1
      const top = schurVector(h, n, k, wr[k], wi[k], smin, xr, xi);
      // u = Z·x, then normalize: norm 1, largest component real (LAPACK's geev).
      let big = -1, bigAt = 0, ss = 0;
      for (let r = 0; r < n; r++) {
        let sr = 0, si = 0;
        for (let j = 0; j <= top; j++) sr += z[r * n + j] * xr[j], si += z[r * n + j] * xi[j];
        ur[r] = sr;
        ui[r] = si;
        const m2 = sr * sr + si * si;
        ss += m2;
        if (m2 > big) big = m2, bigAt = r;
      }
      let cr = 1 / Math.sqrt(ss), ci = 0;
      if (wi[k] !== 0) {
        // Multiply by conj(u[bigAt]) / |u[bigAt]| so that component becomes real and positive.
        const mod = Math.hypot(ur[bigAt], ui[bigAt]);
        cr = ur[bigAt] / mod / Math.sqrt(ss);
        ci = -ui[bigAt] / mod / Math.sqrt(ss);
      }
      for (let r = 0; r < n; r++) {
        const vr = ur[r] * cr - ui[r] * ci, vi = ur[r] * ci + ui[r] * cr;
        VR[o + r * n + k] = vr;
        VI[o + r * n + k] = vi;
        if (wi[k] !== 0) {
          VR[o + r * n + k + 1] = vr;
          VI[o + r * n + k + 1] = -vi;
        }
      }
    }
    WR.set(wr, bi * n);
    WI.set(wi, bi * n);
  }
  writeF64(wrOut, WR);
  writeF64(wiOut, WI);
  writeF64(vrOut, VR);
  writeF64(viOut, VI);
  writeF64(infoOut, info);
}
