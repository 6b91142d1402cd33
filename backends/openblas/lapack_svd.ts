/**
 * The OpenBLAS plugin's SVD-family LAPACK kernels: `linalg.svd`, `pinv`, `matrixRank` (gesdd)
 * and `lstsq`.
 *
 * @module
 */
import { finfo } from "../../core/finfo.ts";
import type { HostStorage } from "../../core/backend/host.ts";
import { CblasNoTrans, CblasRowMajor } from "./ffi.ts";
import { lib, ptr, view } from "./shared.ts";
import {
  allFinite,
  args,
  arr,
  batchCount,
  char,
  fn,
  int,
  L1,
  lapackKernel,
  loadMatrix,
  lworkOf,
  matrixOffsets,
  native,
  outAt,
  outInt,
  type Prec,
  precOf,
  type Real,
  real,
  SINGLE,
  storeRowMajor,
  toColMajor,
  writeInfo,
} from "./lapack_util.ts";

// ---- SVD family ------------------------------------------------------------------------------

/** A gesdd runner for m × n matrices with `jobz` "A" / "S" / "N"; work arrays sized once. */
function gesddRunner(p: Prec, m: number, n: number, jobz: "A" | "S" | "N") {
  const k = Math.min(m, n);
  const uc = jobz === "A" ? m : jobz === "S" ? k : 0;
  const vr = jobz === "A" ? n : jobz === "S" ? k : 0;
  const mat = arr(p, m * n), s = arr(p, k);
  const u = arr(p, Math.max(1, m * uc)), vt = arr(p, Math.max(1, vr * n));
  const iwork = native(Int32Array, 8 * k);
  const gesdd = fn(p, "gesdd");
  const run = (work: Real, lwork: number) => {
    args();
    gesdd(
      char(jobz),
      int(m),
      int(n),
      ptr(mat),
      int(m),
      ptr(s),
      ptr(u),
      int(uc ? m : 1),
      ptr(vt),
      int(Math.max(1, vr)),
      ptr(work),
      int(lwork),
      ptr(iwork),
      outInt(),
      L1,
    );
    return outAt();
  };
  const q = arr(p, 1);
  run(q, -1);
  const work = arr(p, lworkOf(q));
  return { mat, s, u, vt, uc, vr, k, run: () => run(work, work.length) };
}

export const svd = lapackKernel((call) => {
  const [a] = call.inputs;
  const { fullMatrices, computeUV } = call.attrs as { fullMatrices: boolean; computeUV: boolean };
  const p = precOf(a);
  const m = a.shape[a.ndim - 2], n = a.shape[a.ndim - 1], nb = batchCount(a);
  const ad = view(a), offs = matrixOffsets(a);
  const g = gesddRunner(p, m, n, computeUV ? (fullMatrices ? "A" : "S") : "N");
  const [uOut, sOut, vhOut, infoOut] = computeUV
    ? call.outputs
    : [null, call.outputs[0], null, call.outputs[1]];
  const sd = view(sOut), ud = uOut ? view(uOut) : null, vd = vhOut ? view(vhOut) : null;
  for (let bi = 0; bi < nb; bi++) {
    loadMatrix(a, ad, offs, bi, g.mat);
    if (!allFinite(g.mat, m * n)) {
      writeInfo(infoOut, bi, -1);
      continue;
    }
    const info = g.run();
    writeInfo(infoOut, bi, info);
    for (let i = 0; i < g.k; i++) sd[sOut.offset + bi * g.k + i] = g.s[i];
    if (ud && vd && uOut && vhOut) {
      storeRowMajor(ud, uOut.offset + bi * m * g.uc, m, g.uc, g.u, m);
      storeRowMajor(vd, vhOut.offset + bi * g.vr * n, g.vr, n, g.vt, g.vr);
    }
  }
});

export const pinv = lapackKernel((call) => {
  const [a] = call.inputs;
  const [out, infoOut] = call.outputs;
  const rcond = call.attrs.rcond as number;
  const p = precOf(a);
  const m = a.shape[a.ndim - 2], n = a.shape[a.ndim - 1], nb = batchCount(a);
  const ad = view(a), od = view(out), offs = matrixOffsets(a);
  const g = gesddRunner(p, m, n, "S");
  const k = g.k;
  const pm = arr(p, n * m);
  const s = lib().symbols, gemm = p === SINGLE ? s.cblas_sgemm : s.cblas_dgemm;
  for (let bi = 0; bi < nb; bi++) {
    loadMatrix(a, ad, offs, bi, g.mat);
    const o = out.offset + bi * n * m;
    if (!allFinite(g.mat, m * n)) {
      writeInfo(infoOut, bi, -1);
      continue;
    }
    const info = g.run();
    writeInfo(infoOut, bi, info);
    // VT (k × n, column-major) is V (n × k) row-major: scale its column c by 1/s[c] (or 0),
    // then P (n × m) = V·S⁺ · Uᵀ, where U (m × k column-major) is Uᵀ (k × m) row-major.
    const cutoff = rcond * (k ? g.s[0] : 0);
    for (let c = 0; c < k; c++) {
      const f = g.s[c] > cutoff ? 1 / g.s[c] : 0;
      for (let i = 0; i < n; i++) g.vt[c + i * k] *= f;
    }
    gemm(
      CblasRowMajor,
      CblasNoTrans,
      CblasNoTrans,
      n,
      m,
      k,
      1,
      ptr(g.vt),
      k,
      ptr(g.u),
      m,
      0,
      ptr(pm),
      m,
    );
    for (let i = 0; i < n * m; i++) od[o + i] = pm[i];
  }
});

export const matrixRank = lapackKernel((call) => {
  const [a] = call.inputs;
  const [out, infoOut] = call.outputs;
  const { tol, rtol } = call.attrs as { tol: number | null; rtol: number | null };
  const p = precOf(a);
  const m = a.shape[a.ndim - 2], n = a.shape[a.ndim - 1], nb = batchCount(a);
  const ad = view(a), offs = matrixOffsets(a);
  const g = gesddRunner(p, m, n, "N");
  const so = out.storage as HostStorage;
  const od = new BigInt64Array(so.buffer, so.byteOffset, so.byteLength >> 3);
  const rt = rtol ?? Math.max(m, n) * finfo(a.dtype).eps;
  for (let bi = 0; bi < nb; bi++) {
    loadMatrix(a, ad, offs, bi, g.mat);
    if (!allFinite(g.mat, m * n)) {
      writeInfo(infoOut, bi, -1);
      continue;
    }
    writeInfo(infoOut, bi, g.run());
    // Compare in the dtype's precision, as NumPy does with its f32 singular values.
    const sv = a.dtype === "f32" ? Array.from(g.s, Math.fround) : Array.from(g.s);
    const t = tol ?? (sv.length ? sv[0] : 0) * rt;
    let rank = 0;
    for (const x of sv) if (x > t) rank++;
    od[out.offset + bi] = BigInt(rank);
  }
});

export const lstsq = lapackKernel((call) => {
  const [a, b] = call.inputs;
  const [xOut, resOut, rankOut, sOut, infoOut] = call.outputs;
  const p = precOf(a);
  const m = a.shape[0], n = a.shape[1], k = b.shape[1], mn = Math.min(m, n);
  const ldb = Math.max(m, n);
  const am = arr(p, m * n), bm = arr(p, ldb * k), s = arr(p, mn);
  loadMatrix(a, view(a), [a.offset], 0, am);
  loadMatrix(b, view(b), [b.offset], 0, bm, ldb);
  const xd = view(xOut), rd = view(resOut), sd = view(sOut);
  if (!allFinite(am, m * n) || !allFinite(bm, ldb * k)) {
    writeInfo(infoOut, 0, -1);
    return;
  }
  // NumPy computes in float64 for f32 too, so LAPACK's "machine precision" is f64's.
  const rcond = (call.attrs.rcond as number) < 0 ? finfo("f64").eps : call.attrs.rcond as number;
  const gelsd = fn(p, "gelsd");
  const q = arr(p, 1), qi = native(Int32Array, 1);
  const run = (work: Real, lwork: number, iwork: Int32Array) => {
    args();
    gelsd(
      int(m),
      int(n),
      int(k),
      ptr(am),
      int(m),
      ptr(bm),
      int(ldb),
      ptr(s),
      real(p, rcond),
      outInt(),
      ptr(work),
      int(lwork),
      ptr(iwork),
      outInt(),
    );
    return { rank: outAt(0), info: outAt(1) };
  };
  run(q, -1, qi);
  const r = run(arr(p, lworkOf(q)), lworkOf(q), native(Int32Array, Math.max(1, qi[0])));
  writeInfo(infoOut, 0, r.info);
  writeInfo(rankOut, 0, r.rank);
  for (let i = 0; i < mn; i++) sd[sOut.offset + i] = s[i];
  // x: the first n rows of B; residuals ‖b − a·x‖² per column from the original operands.
  const X = new Float64Array(n * k); // JS-side only, like A64 and B64
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < k; c++) X[i * k + c] = bm[i + c * ldb];
  }
  for (let i = 0; i < n * k; i++) xd[xOut.offset + i] = X[i];
  const A64 = new Float64Array(m * n), B64 = new Float64Array(m * k);
  toColMajor(view(a), a.offset, m, n, a.strides[0], a.strides[1], A64, m);
  toColMajor(view(b), b.offset, m, k, b.strides[0], b.strides[1], B64, m);
  for (let c = 0; c < k; c++) {
    let ss = 0;
    for (let i = 0; i < m; i++) {
      let d = B64[i + c * m];
      for (let j = 0; j < n; j++) d -= A64[i + j * m] * X[j * k + c];
      ss += d * d;
    }
    rd[resOut.offset + c] = ss;
  }
});
