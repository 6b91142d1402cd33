/**
 * The eigen and SVD members of the `linalg` namespace: `eigh`, `eig`, `svd`, and what is built
 * on the SVD: `lstsq`, `pinv`, `matrixRank`.
 *
 * @module
 */
import { finfo } from "../finfo.ts";
import { scoped } from "../dispose.ts";
import { ComputeError, fmtShape, ShapeError } from "../errors.ts";
import { type OutSpec, runKernel } from "../op.ts";
import { Tensor, type TensorLike } from "../tensor.ts";
import { asTensor } from "./creation.ts";
import { unsqueeze } from "./view.ts";
import type {
  EighOptions,
  EighResult,
  EigResult,
  LstsqOptions,
  LstsqResult,
  MatrixRankOptions,
  PinvOptions,
  SVDOptions,
  SVDResult,
} from "./linalg.ts";
import {
  castTo,
  checkInfo,
  input,
  linalgDtype,
  matrixDims,
  squareInput,
  svdFailure,
} from "./linalg_args.ts";

export function eigh(a: TensorLike, options: EighOptions = {}): EighResult {
  const uplo = options.uplo ?? "L";
  if (uplo !== "L" && uplo !== "U") {
    throw new ComputeError(`eigh: uplo must be "L" or "U", got ${JSON.stringify(uplo)}.`);
  }
  return scoped((own) => {
    const [t, n, d] = squareInput("eigh", a, own);
    const batch = t.shape.slice(0, -2);
    const [w, v, info] = runKernel("linalg.eigh", [t], { uplo }, [
      { shape: [...batch, n], dtype: d },
      { shape: t.shape, dtype: d },
      { shape: batch, dtype: "i32" },
    ]);
    checkInfo("eigh", info, t.shape, [w, v], () => "did not converge (eigenvalue iteration)");
    return { eigenvalues: w, eigenvectors: v };
  });
}

export function eig(a: TensorLike): EigResult {
  return scoped((own) => {
    const [t, n, d] = squareInput("eig", a, own);
    const batch = t.shape.slice(0, -2);
    const vals: OutSpec = { shape: [...batch, n], dtype: d };
    const vecs: OutSpec = { shape: t.shape, dtype: d };
    const [wr, wi, vr, vi, info] = runKernel("linalg.eig", [t], {}, [
      vals,
      vals,
      vecs,
      vecs,
      { shape: batch, dtype: "i32" },
    ]);
    checkInfo(
      "eig",
      info,
      t.shape,
      [wr, wi, vr, vi],
      (c) =>
        c < 0
          ? "holds Inf or NaN; eig needs finite values (like NumPy). Hint: check the input."
          : "did not converge (QR iteration for the eigenvalues)",
    );
    return { eigenvaluesReal: wr, eigenvaluesImag: wi, eigenvectorsReal: vr, eigenvectorsImag: vi };
  });
}

export function svd(a: TensorLike, options: SVDOptions & { computeUV: false }): { s: Tensor };
export function svd(a: TensorLike, options?: SVDOptions): SVDResult;
export function svd(a: TensorLike, options: SVDOptions = {}): SVDResult | { s: Tensor } {
  const fullMatrices = options.fullMatrices ?? true, computeUV = options.computeUV ?? true;
  return scoped((own) => {
    const t0 = input("svd", a, own);
    const [m, n] = matrixDims("svd", t0, false);
    const d = linalgDtype(t0);
    const t = castTo(t0, d, own);
    const batch = t.shape.slice(0, -2), k = Math.min(m, n);
    const sSpec: OutSpec = { shape: [...batch, k], dtype: d };
    const infoSpec: OutSpec = { shape: batch, dtype: "i32" };
    const attrs = { fullMatrices, computeUV };
    if (!computeUV) {
      const [s, info] = runKernel("linalg.svd", [t], attrs, [sSpec, infoSpec]);
      checkInfo("svd", info, t.shape, [s], svdFailure);
      return { s };
    }
    const uc = fullMatrices ? m : k, vr = fullMatrices ? n : k;
    const [u, s, vh, info] = runKernel("linalg.svd", [t], attrs, [
      { shape: [...batch, m, uc], dtype: d },
      sSpec,
      { shape: [...batch, vr, n], dtype: d },
      infoSpec,
    ]);
    checkInfo("svd", info, t.shape, [u, s, vh], svdFailure);
    return { u, s, vh };
  });
}

export function lstsq(a: TensorLike, b: TensorLike, options: LstsqOptions = {}): LstsqResult {
  return scoped((own) => {
    const ta = input("lstsq", a, own), tb = input("lstsq", b, own);
    if (ta.ndim !== 2 || (tb.ndim !== 1 && tb.ndim !== 2)) {
      throw new ShapeError(
        `lstsq: a must be 2-D and b 1-D or 2-D (like NumPy), got a ${fmtShape(ta.shape)} and ` +
          `b ${fmtShape(tb.shape)}. Hint: for stacks of systems loop over the batch, or use ` +
          `pinv(a) @ b.`,
      );
    }
    const [m, n] = ta.shape;
    if (tb.shape[0] !== m) {
      throw new ShapeError(
        `lstsq: a ${fmtShape(ta.shape)} and b ${fmtShape(tb.shape)} do not fit: b needs ${m} ` +
          `rows (one per row of a), got ${tb.shape[0]}.`,
      );
    }
    const d = linalgDtype(ta, tb);
    const vector = tb.ndim === 1;
    const bm = vector ? unsqueeze(tb, 1) : tb;
    if (vector) own(bm);
    const k = bm.shape[1];
    const rcond = options.rcond ?? finfo("f64").eps * Math.max(m, n); // NumPy's: f64, its compute type
    const [x, res, rankT, s, info] = runKernel(
      "linalg.lstsq",
      [castTo(ta, d, own), castTo(bm, d, own)],
      { rcond },
      [
        { shape: [n, k], dtype: d },
        { shape: [k], dtype: d },
        { shape: [], dtype: "i32" },
        { shape: [Math.min(m, n)], dtype: d },
        { shape: [], dtype: "i32" },
      ],
    );
    own(rankT);
    checkInfo("lstsq", info, ta.shape, [x, res, s], svdFailure);
    const rank = Number(rankT.item());
    let residuals = res;
    if (rank !== n || m <= n) {
      own(res);
      residuals = Tensor.empty([0], d, ta.device);
    }
    let solution = x;
    if (vector) {
      own(x);
      solution = x.view([n], [k], x.offset);
    }
    return { solution, residuals, rank, singularValues: s };
  });
}

export function pinv(a: TensorLike, options: PinvOptions = {}): Tensor {
  if (options.rcond !== undefined && options.rtol !== undefined) {
    throw new ComputeError("pinv: give rcond or rtol, not both (they are the same cutoff).");
  }
  const rcond = options.rcond ?? options.rtol ?? 1e-15;
  return scoped((own) => {
    const t0 = input("pinv", a, own);
    const [m, n] = matrixDims("pinv", t0, false);
    const d = linalgDtype(t0);
    const t = castTo(t0, d, own);
    const batch = t.shape.slice(0, -2);
    const [p, info] = runKernel("linalg.pinv", [t], { rcond }, [
      { shape: [...batch, n, m], dtype: d },
      { shape: batch, dtype: "i32" },
    ]);
    checkInfo("pinv", info, t.shape, [p], svdFailure);
    return p;
  });
}

export function matrixRank(a: TensorLike, options: MatrixRankOptions = {}): Tensor {
  if (options.tol !== undefined && options.rtol !== undefined) {
    throw new ComputeError("matrixRank: give tol or rtol, not both.");
  }
  return scoped((own) => {
    const t0 = input("matrixRank", a, own);
    if (t0.ndim < 2) {
      // NumPy: 1 unless every element is 0.
      const vals = t0.dataSync();
      let nz = 0;
      for (let i = 0; i < vals.length; i++) if (Number(vals[i]) !== 0) nz = 1;
      return asTensor(nz, "i64", t0.device);
    }
    const d = linalgDtype(t0);
    const t = castTo(t0, d, own);
    const batch = t.shape.slice(0, -2);
    const [r, info] = runKernel(
      "linalg.matrixRank",
      [t],
      { tol: options.tol ?? null, rtol: options.rtol ?? null },
      [{ shape: batch, dtype: "i64" }, { shape: batch, dtype: "i32" }],
    );
    checkInfo("matrixRank", info, t.shape, [r], svdFailure);
    return r;
  });
}
