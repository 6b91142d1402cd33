/**
 * The OpenBLAS plugin's LAPACK kernels of the LU family (`linalg.solve`, `inv`, `det`,
 * `slogdet`), Cholesky and QR, and the eigenproblems (`linalg.eigh`, `eig`).
 *
 * @module
 */
import type { TensorView } from "../../core/backend/plugin.ts";
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
  ONE,
  outAt,
  outInt,
  type Prec,
  precOf,
  type Real,
  storeRowMajor,
  writeInfo,
} from "./lapack_util.ts";

// ---- LU family -------------------------------------------------------------------------------

/**
 * Run `f` (a kernel's loop of LU factorizations: getrf, gesv) with OpenBLAS on one thread. Its threaded getrf
 * (`getrf_parallel`) recurses with a 540 KB stack frame per level: three or four levels overflow
 * the 2 MiB stack of the thread that runs JavaScript under `deno test` (a segfault in ~1 of 8 runs
 * of the linalg tests, found with gdb). The one-thread path has small frames.
 */
function serialLU<T>(f: () => T): T {
  const syms = lib().symbols;
  const before = syms.openblas_get_num_threads();
  if (before === 1) return f();
  syms.openblas_set_num_threads(1);
  try {
    return f();
  } finally {
    syms.openblas_set_num_threads(before);
  }
}

/**
 * LU-factor matrix `bi` of `a` into `w` (n × n column-major); returns getrf's INFO. Callers run
 * it inside {@link serialLU}.
 */
function getrf(p: Prec, w: Real, n: number, ipiv: Int32Array): number {
  args();
  fn(p, "getrf")(int(n), int(n), ptr(w), int(n), ptr(ipiv), outInt());
  return outAt();
}

export const solve = lapackKernel((call) => {
  const [a, b] = call.inputs;
  const [x, infoOut] = call.outputs;
  const p = precOf(a);
  const n = a.shape[a.ndim - 1], k = b.shape[b.ndim - 1], nb = batchCount(a);
  const ad = view(a), bd = view(b), xd = view(x);
  const aOffs = matrixOffsets(a), bOffs = matrixOffsets(b);
  const w = arr(p, n * n), rhs = arr(p, n * k), ipiv = native(Int32Array, n);
  const gesv = fn(p, "gesv");
  serialLU(() => {
    for (let bi = 0; bi < nb; bi++) {
      loadMatrix(a, ad, aOffs, bi, w);
      loadMatrix(b, bd, bOffs, bi, rhs);
      args();
      gesv(int(n), int(k), ptr(w), int(n), ptr(ipiv), ptr(rhs), int(n), outInt());
      writeInfo(infoOut, bi, outAt());
      storeRowMajor(xd, x.offset + bi * n * k, n, k, rhs, n);
    }
  });
});

export const inv = lapackKernel((call) => {
  const [a] = call.inputs;
  const [out, infoOut] = call.outputs;
  const p = precOf(a);
  const n = a.shape[a.ndim - 1], nb = batchCount(a);
  const ad = view(a), od = view(out), offs = matrixOffsets(a);
  const w = arr(p, n * n), ipiv = native(Int32Array, n);
  const getri = fn(p, "getri");
  let work = arr(p, 1);
  args();
  getri(int(n), ptr(w), int(n), ptr(ipiv), ptr(work), int(-1), outInt());
  work = arr(p, lworkOf(work));
  serialLU(() => {
    for (let bi = 0; bi < nb; bi++) {
      loadMatrix(a, ad, offs, bi, w);
      let info = getrf(p, w, n, ipiv);
      if (info === 0) {
        args();
        getri(int(n), ptr(w), int(n), ptr(ipiv), ptr(work), int(work.length), outInt());
        info = outAt();
      }
      writeInfo(infoOut, bi, info);
      storeRowMajor(od, out.offset + bi * n * n, n, n, w, n);
    }
  });
});

/** Sign and log|det| of each matrix of `a`, from getrf (like NumPy's slogdet). */
function slogdetBatch(a: TensorView): { sign: Float64Array; logdet: Float64Array } {
  const p = precOf(a);
  const n = a.shape[a.ndim - 1], nb = batchCount(a);
  const ad = view(a), offs = matrixOffsets(a);
  const w = arr(p, n * n), ipiv = native(Int32Array, n);
  const sign = new Float64Array(nb), logdet = new Float64Array(nb); // JS-side only
  serialLU(() => {
    for (let bi = 0; bi < nb; bi++) {
      loadMatrix(a, ad, offs, bi, w);
      if (getrf(p, w, n, ipiv) > 0) {
        sign[bi] = 0;
        logdet[bi] = -Infinity;
        continue;
      }
      let sg = 1, ld = 0;
      for (let j = 0; j < n; j++) {
        if (ipiv[j] !== j + 1) sg = -sg;
        let d = w[j * n + j];
        if (d < 0) sg = -sg, d = -d;
        ld += Math.log(d);
      }
      sign[bi] = sg;
      logdet[bi] = ld;
    }
  });
  return { sign, logdet };
}

export const det = lapackKernel((call) => {
  const [out] = call.outputs;
  const { sign, logdet } = slogdetBatch(call.inputs[0]);
  const od = view(out);
  for (let i = 0; i < sign.length; i++) od[out.offset + i] = sign[i] * Math.exp(logdet[i]);
});

export const slogdet = lapackKernel((call) => {
  const [so, lo] = call.outputs;
  const { sign, logdet } = slogdetBatch(call.inputs[0]);
  const sd = view(so), ld = view(lo);
  for (let i = 0; i < sign.length; i++) {
    sd[so.offset + i] = sign[i];
    ld[lo.offset + i] = logdet[i];
  }
});

// ---- Cholesky, QR ----------------------------------------------------------------------------

export const cholesky = lapackKernel((call) => {
  const [a] = call.inputs;
  const [out, infoOut] = call.outputs;
  const upper = !!call.attrs.upper;
  const p = precOf(a);
  const n = a.shape[a.ndim - 1], nb = batchCount(a);
  const ad = view(a), od = view(out), offs = matrixOffsets(a);
  const w = arr(p, n * n);
  const potrf = fn(p, "potrf");
  for (let bi = 0; bi < nb; bi++) {
    loadMatrix(a, ad, offs, bi, w);
    args();
    potrf(char(upper ? "U" : "L"), int(n), ptr(w), int(n), outInt(), L1);
    writeInfo(infoOut, bi, outAt());
    const o = out.offset + bi * n * n;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) od[o + i * n + j] = (upper ? j >= i : j <= i) ? w[i + j * n] : 0;
    }
  }
});

export const qr = lapackKernel((call) => {
  const [a] = call.inputs;
  const mode = call.attrs.mode as "reduced" | "complete" | "r";
  const p = precOf(a);
  const m = a.shape[a.ndim - 2], n = a.shape[a.ndim - 1], k = Math.min(m, n), nb = batchCount(a);
  const qc = mode === "complete" ? m : k, rr = mode === "complete" ? m : k;
  const [qOut, rOut] = mode === "r" ? [null, call.outputs[0]] : call.outputs;
  const ad = view(a), offs = matrixOffsets(a), rd = view(rOut), qd = qOut ? view(qOut) : null;
  const cols = Math.max(n, qc);
  const w = arr(p, m * cols), tau = arr(p, k);
  const geqrf = fn(p, "geqrf"), orgqr = fn(p, "orgqr");
  // Workspace: the larger of the two queries.
  const q = arr(p, 1);
  args();
  geqrf(int(m), int(n), ptr(w), int(m), ptr(tau), ptr(q), int(-1), outInt());
  let lwork = lworkOf(q);
  if (qd) {
    args();
    orgqr(int(m), int(qc), int(k), ptr(w), int(m), ptr(tau), ptr(q), int(-1), outInt());
    lwork = Math.max(lwork, lworkOf(q));
  }
  const work = arr(p, lwork);
  for (let bi = 0; bi < nb; bi++) {
    w.fill(0);
    loadMatrix(a, ad, offs, bi, w, m);
    args();
    geqrf(int(m), int(n), ptr(w), int(m), ptr(tau), ptr(work), int(lwork), outInt());
    const ro = rOut.offset + bi * rr * n;
    for (let i = 0; i < rr; i++) {
      for (let j = 0; j < n; j++) rd[ro + i * n + j] = i < m && j >= i ? w[i + j * m] : 0;
    }
    if (qd && qOut) {
      args();
      orgqr(int(m), int(qc), int(k), ptr(w), int(m), ptr(tau), ptr(work), int(lwork), outInt());
      storeRowMajor(qd, qOut.offset + bi * m * qc, m, qc, w, m);
    }
  }
});

// ---- eigenproblems ---------------------------------------------------------------------------

export const eigh = lapackKernel((call) => {
  const [a] = call.inputs;
  const [wOut, vOut, infoOut] = call.outputs;
  const uplo = call.attrs.uplo === "U" ? "U" : "L";
  const p = precOf(a);
  const n = a.shape[a.ndim - 1], nb = batchCount(a);
  const ad = view(a), offs = matrixOffsets(a), wd = view(wOut), vd = view(vOut);
  const mat = arr(p, n * n), w = arr(p, n);
  const syevd = fn(p, "syevd");
  const qw = arr(p, 1), qi = native(Int32Array, 1);
  args();
  syevd(
    char("V"),
    char(uplo),
    int(n),
    ptr(mat),
    int(n),
    ptr(w),
    ptr(qw),
    int(-1),
    ptr(qi),
    int(-1),
    outInt(),
    L1,
    L1,
  );
  const work = arr(p, lworkOf(qw)), iwork = native(Int32Array, Math.max(1, qi[0]));
  for (let bi = 0; bi < nb; bi++) {
    loadMatrix(a, ad, offs, bi, mat);
    // Only the triangle LAPACK reads decides finiteness (like the scalar reference).
    let finite = true;
    for (let j = 0; j < n && finite; j++) {
      for (let i = uplo === "L" ? j : 0; i < (uplo === "L" ? n : j + 1); i++) {
        if (!Number.isFinite(mat[i + j * n])) finite = false;
      }
    }
    const wo = wOut.offset + bi * n, vo = vOut.offset + bi * n * n;
    if (!finite) {
      wd.fill(NaN, wo, wo + n);
      vd.fill(NaN, vo, vo + n * n);
      writeInfo(infoOut, bi, 0);
      continue;
    }
    args();
    syevd(
      char("V"),
      char(uplo),
      int(n),
      ptr(mat),
      int(n),
      ptr(w),
      ptr(work),
      int(work.length),
      ptr(iwork),
      int(iwork.length),
      outInt(),
      L1,
      L1,
    );
    writeInfo(infoOut, bi, outAt());
    for (let i = 0; i < n; i++) wd[wo + i] = w[i];
    storeRowMajor(vd, vo, n, n, mat, n);
  }
});

export const eig = lapackKernel((call) => {
  const [a] = call.inputs;
  const [wrOut, wiOut, vrOut, viOut, infoOut] = call.outputs;
  const p = precOf(a);
  const n = a.shape[a.ndim - 1], nb = batchCount(a);
  const ad = view(a), offs = matrixOffsets(a);
  const wrd = view(wrOut), wid = view(wiOut), vrd = view(vrOut), vid = view(viOut);
  const mat = arr(p, n * n),
    wr = arr(p, n),
    wi = arr(p, n),
    vr = arr(p, n * n);
  const geev = fn(p, "geev");
  const q = arr(p, 1);
  const call1 = (work: Real, lwork: number) => {
    args();
    geev(
      char("N"),
      char("V"),
      int(n),
      ptr(mat),
      int(n),
      ptr(wr),
      ptr(wi),
      ptr(ONE),
      int(1),
      ptr(vr),
      int(n),
      ptr(work),
      int(lwork),
      outInt(),
      L1,
      L1,
    );
    return outAt();
  };
  call1(q, -1);
  const work = arr(p, lworkOf(q));
  for (let bi = 0; bi < nb; bi++) {
    loadMatrix(a, ad, offs, bi, mat);
    const wo = bi * n, vo = bi * n * n;
    if (!allFinite(mat, n * n)) {
      writeInfo(infoOut, bi, -1);
      continue;
    }
    const info = call1(work, work.length);
    writeInfo(infoOut, bi, info);
    if (info !== 0) continue;
    for (let j = 0; j < n; j++) {
      wrd[wrOut.offset + wo + j] = wr[j];
      wid[wiOut.offset + wo + j] = wi[j];
    }
    // geev packs a conjugate pair (j, j+1) as VR[:, j] ± i·VR[:, j+1].
    for (let j = 0; j < n; j++) {
      const pair = wi[j] !== 0 && j + 1 < n;
      for (let i = 0; i < n; i++) {
        const re = vr[i + j * n], im = pair ? vr[i + (j + 1) * n] : 0;
        vrd[vrOut.offset + vo + i * n + j] = re;
        vid[viOut.offset + vo + i * n + j] = im;
        if (pair) {
          vrd[vrOut.offset + vo + i * n + j + 1] = re;
          vid[viOut.offset + vo + i * n + j + 1] = -im;
        }
      }
      if (pair) j++;
    }
  }
});
