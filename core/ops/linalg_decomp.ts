/**
 * Matrix decompositions and solvers with NumPy's `np.linalg` semantics, gathered in the
 * {@link linalg} namespace: solve, inv, det, slogdet, cholesky, qr, eigh, eig, svd, lstsq, pinv,
 * matrixRank.
 *
 * Every function works on the last two axes and loops over the leading (batch) axes, like
 * NumPy's gufuncs (except `lstsq`, 2-D only as in NumPy). f32 stays f32 and f64 stays f64; ints
 * and bool compute in f64 (NumPy's rule); f16/bf16 are refused with a DTypeError, as NumPy
 * refuses float16. The kernels are `linalg.*` (contracts in `backends/scalar/kernels/lapack.ts`),
 * shaped after LAPACK routines so a LAPACK plugin can provide them.
 *
 * Errors: a singular matrix in `solve`/`inv`, a matrix that is not positive definite in
 * `cholesky`, and an iteration that does not converge raise {@link LinAlgError} naming the op and
 * the matrix; a non-square matrix where a square one is needed raises {@link ShapeError}. NaN
 * propagates like NumPy: `solve`, `inv`, `det`, `slogdet`, `qr`, `cholesky` and `eigh` give NaN
 * results; `eig` refuses Inf/NaN input; the SVD family (`svd`, `pinv`, `matrixRank`, `lstsq`)
 * raises "did not converge" for it.
 *
 * @module
 */
import { norm } from "./reduce.ts";
import { matmul } from "./linalg.ts";
import type { DType } from "../dtype.ts";
import { ComputeError, DTypeError, fmtShape, LinAlgError, ShapeError } from "../errors.ts";
import { finfo } from "../finfo.ts";
import { type OutSpec, runKernel } from "../op.ts";
import { broadcastShapesFor, contiguousStrides } from "../shape.ts";
import { Tensor, type TensorLike } from "../tensor.ts";
import { asTensor } from "./creation.ts";
import { astype, broadcastTo, unsqueeze } from "./view.ts";

// ---- public types ----------------------------------------------------------------------------

/** Result of {@link Linalg.slogdet}: `det = sign · exp(logabsdet)`. */
export interface SlogdetResult {
  /** 1 or -1 (0 for a singular matrix). */
  sign: Tensor;
  /** Natural log of |det| (-Infinity for a singular matrix). */
  logabsdet: Tensor;
}

/** Options of {@link Linalg.cholesky}. */
export interface CholeskyOptions {
  /** Return the upper factor U (a = Uᵀ·U), reading the upper triangle. Default false (lower). */
  upper?: boolean;
}

/** Options of {@link Linalg.qr}. */
export interface QROptions {
  /** "reduced" (default): q (m, k), r (k, n); "complete": q (m, m), r (m, n); "r": r only. */
  mode?: "reduced" | "complete" | "r";
}

/** Result of {@link Linalg.qr}: a = q·r, q with orthonormal columns, r upper triangular. */
export interface QRResult {
  /** Orthonormal factor. */
  q: Tensor;
  /** Upper-triangular factor. */
  r: Tensor;
}

/** Options of {@link Linalg.eigh}. */
export interface EighOptions {
  /** Which triangle to read: "L" (default) or "U". */
  uplo?: "L" | "U";
}

/** Result of {@link Linalg.eigh}. */
export interface EighResult {
  /** Eigenvalues in ascending order, shape (..., n). */
  eigenvalues: Tensor;
  /** Orthonormal eigenvectors as columns, shape (..., n, n): column j belongs to eigenvalue j. */
  eigenvectors: Tensor;
}

/**
 * Result of {@link Linalg.eig}: complex eigenvalues and eigenvectors as separate real and
 * imaginary parts. Eigenvalue j is `eigenvaluesReal[j] + i·eigenvaluesImag[j]`, its eigenvector
 * column j of `eigenvectorsReal + i·eigenvectorsImag` (Euclidean norm 1, largest component real,
 * like LAPACK's geev). Order unspecified (as in NumPy); conjugate pairs are adjacent, positive
 * imaginary part first. For real eigenvalues the imaginary parts are exactly 0.
 */
export interface EigResult {
  /** Real parts of the eigenvalues, shape (..., n). */
  eigenvaluesReal: Tensor;
  /** Imaginary parts of the eigenvalues, shape (..., n). */
  eigenvaluesImag: Tensor;
  /** Real parts of the eigenvectors (columns), shape (..., n, n). */
  eigenvectorsReal: Tensor;
  /** Imaginary parts of the eigenvectors (columns), shape (..., n, n). */
  eigenvectorsImag: Tensor;
}

/** Options of {@link Linalg.svd}. */
export interface SVDOptions {
  /** u (m, m) and vh (n, n) when true (default); u (m, k) and vh (k, n) when false. */
  fullMatrices?: boolean;
  /** Compute u and vh (default true); false returns only s. */
  computeUV?: boolean;
}

/** Result of {@link Linalg.svd}: a = u · diag(s) · vh. */
export interface SVDResult {
  /** Left singular vectors (columns). */
  u: Tensor;
  /** Singular values, descending, shape (..., min(m, n)). */
  s: Tensor;
  /** Right singular vectors (rows). */
  vh: Tensor;
}

/** Options of {@link Linalg.lstsq}. */
export interface LstsqOptions {
  /** Singular values ≤ rcond·max(s) count as zero. Default: f64 eps·max(m, n) (NumPy 2). */
  rcond?: number;
}

/** Result of {@link Linalg.lstsq}. */
export interface LstsqResult {
  /** The least-squares (minimum-norm) solution, shape (n,) or (n, k). */
  solution: Tensor;
  /** Squared residual norms per column, shape (k,) or (1,); empty (0,) when rank < n or m ≤ n. */
  residuals: Tensor;
  /** Effective rank of `a`. */
  rank: number;
  /** Singular values of `a`, descending, shape (min(m, n),). */
  singularValues: Tensor;
}

/** Options of {@link Linalg.pinv}. */
export interface PinvOptions {
  /** Singular values ≤ rcond·max(s) count as zero (default 1e-15, NumPy's). */
  rcond?: number;
  /** NumPy 2's name for the same cutoff; give at most one of rcond and rtol. */
  rtol?: number;
}

/** Options of {@link Linalg.matrixRank}. */
export interface MatrixRankOptions {
  /** Absolute threshold: singular values > tol count. */
  tol?: number;
  /** Relative threshold (times the largest singular value); default max(m, n)·eps(dtype). */
  rtol?: number;
}

/** The functions of the {@link linalg} namespace. */
export interface Linalg {
  /**
   * Solve a·x = b for x. `a` is (..., n, n); `b` is (n,) (one right-hand side for every matrix)
   * or (..., n, k) (NumPy 2's rule: any b with 2+ axes is a stack of matrices), batch axes
   * broadcasting. Singular `a` raises LinAlgError.
   *
   * @example
   * ```ts
   * import { linalg, tensor } from "@aprender/compute";
   * const x = linalg.solve(tensor([[3, 1], [1, 2]]), tensor([9, 8]));
   * console.log(x.toArraySync()); // [2, 3]
   * ```
   */
  solve(a: TensorLike, b: TensorLike): Tensor;
  /**
   * The inverse of each square matrix; singular input raises LinAlgError.
   *
   * @example
   * ```ts
   * import { linalg, tensor } from "@aprender/compute";
   * console.log(linalg.inv(tensor([[2, 0], [0, 4]])).toArraySync()); // [[0.5, 0], [0, 0.25]]
   * ```
   */
  inv(a: TensorLike): Tensor;
  /**
   * The determinant of each square matrix (0 for a singular one, no error), shape (...).
   *
   * @example
   * ```ts
   * import { linalg, tensor } from "@aprender/compute";
   * console.log(linalg.det(tensor([[1, 2], [3, 4]], { dtype: "f64" })).item()); // -2.0000000000000004
   * ```
   */
  det(a: TensorLike): Tensor;
  /**
   * Sign and natural log of |det| of each square matrix (no overflow for large matrices).
   *
   * @example
   * ```ts
   * import { linalg, tensor } from "@aprender/compute";
   * const { sign, logabsdet } = linalg.slogdet(tensor([[0, 1], [1, 0]]));
   * console.log(sign.item(), logabsdet.item()); // -1 0
   * ```
   */
  slogdet(a: TensorLike): SlogdetResult;
  /**
   * Cholesky factor of each symmetric positive-definite matrix: lower L with a = L·Lᵀ (reading
   * the lower triangle), or upper U with a = Uᵀ·U. Not positive definite → LinAlgError.
   *
   * @example
   * ```ts
   * import { linalg, tensor } from "@aprender/compute";
   * console.log(linalg.cholesky(tensor([[4, 2], [2, 2]])).toArraySync()); // [[2, 0], [1, 1]]
   * ```
   */
  cholesky(a: TensorLike, options?: CholeskyOptions): Tensor;
  /**
   * QR decomposition a = q·r by Householder reflections (signs as LAPACK: r's diagonal may be
   * negative). With `mode: "r"` only r is computed.
   *
   * @example
   * ```ts
   * import { linalg, tensor } from "@aprender/compute";
   * const { q, r } = linalg.qr(tensor([[3, 0], [4, 5]]));
   * console.log(q.shape, r.toArraySync()); // [2, 2] [[-5, -4], [0, 3]]
   * ```
   */
  qr(a: TensorLike, options: { mode: "r" }): { r: Tensor };
  /** See the overload above: `mode` "reduced" (default) or "complete". */
  qr(a: TensorLike, options?: QROptions): QRResult;
  /**
   * Eigenvalues (ascending) and orthonormal eigenvectors of each symmetric matrix; only the
   * `uplo` triangle is read.
   *
   * @example
   * ```ts
   * import { linalg, tensor } from "@aprender/compute";
   * const { eigenvalues } = linalg.eigh(tensor([[2, 1], [1, 2]]));
   * console.log(eigenvalues.toArraySync()); // [1, 3]
   * ```
   */
  eigh(a: TensorLike, options?: EighOptions): EighResult;
  /**
   * Eigenvalues and right eigenvectors of each general real square matrix, as separate real and
   * imaginary parts (see {@link EigResult} for the form). Inf/NaN input raises LinAlgError.
   *
   * @example
   * ```ts
   * import { linalg, tensor } from "@aprender/compute";
   * const r = linalg.eig(tensor([[0, -1], [1, 0]])); // a rotation: eigenvalues ±i
   * console.log(r.eigenvaluesReal.toArraySync(), r.eigenvaluesImag.toArraySync()); // [0, 0] [1, -1]
   * ```
   */
  eig(a: TensorLike): EigResult;
  /**
   * Singular value decomposition a = u·diag(s)·vh, s descending. With `computeUV: false` only s.
   *
   * @example
   * ```ts
   * import { linalg, tensor } from "@aprender/compute";
   * const { s } = linalg.svd(tensor([[3, 0], [0, -4]]), { computeUV: false });
   * console.log(s.toArraySync()); // [4, 3]
   * ```
   */
  svd(a: TensorLike, options: SVDOptions & { computeUV: false }): { s: Tensor };
  /** See the overload above: with u and vh (`computeUV` true, the default). */
  svd(a: TensorLike, options?: SVDOptions): SVDResult;
  /**
   * Least-squares solution of a·x ≈ b (minimum norm when rank-deficient), for 2-D `a` (m, n) and
   * `b` (m,) or (m, k), like NumPy.
   *
   * @example
   * ```ts
   * import { linalg, tensor } from "@aprender/compute";
   * const a = tensor([[0, 1], [1, 1], [2, 1], [3, 1]], { dtype: "f64" });
   * const r = linalg.lstsq(a, tensor([-1, 0.2, 0.9, 2.1], { dtype: "f64" }));
   * console.log(r.solution.toArraySync(), r.rank); // [1.0000000000000002, -0.9500000000000002] 2
   * ```
   */
  lstsq(a: TensorLike, b: TensorLike, options?: LstsqOptions): LstsqResult;
  /**
   * Moore–Penrose pseudo-inverse of each matrix (..., m, n) → (..., n, m), via the SVD.
   *
   * @example
   * ```ts
   * import { linalg, tensor } from "@aprender/compute";
   * console.log(linalg.pinv(tensor([[1, 0], [0, 0]])).toArraySync()); // [[1, 0], [0, 0]]
   * ```
   */
  pinv(a: TensorLike, options?: PinvOptions): Tensor;
  /**
   * Rank of each matrix: the number of singular values above the tolerance (an i64 tensor of
   * the batch shape). For 0-D/1-D input, 1 unless all elements are 0 (NumPy's rule).
   *
   * @example
   * ```ts
   * import { linalg, tensor } from "@aprender/compute";
   * console.log(linalg.matrixRank(tensor([[1, 2], [2, 4]])).item()); // 1
   * ```
   */
  matrixRank(a: TensorLike, options?: MatrixRankOptions): Tensor;
  /**
   * Vector and matrix norms, NumPy's `np.linalg.norm` (the same function as the top-level
   * {@link norm}).
   *
   * @example
   * ```ts
   * import { linalg, tensor } from "@aprender/compute";
   * console.log(linalg.norm(tensor([3, 4])).item()); // 5
   * ```
   */
  norm: typeof norm;
  /**
   * Matrix product with NumPy semantics (the same function as the top-level {@link matmul}).
   *
   * @example
   * ```ts
   * import { linalg, tensor } from "@aprender/compute";
   * console.log(linalg.matmul(tensor([[1, 2]]), tensor([[3], [4]])).toArraySync()); // [[11]]
   * ```
   */
  matmul: typeof matmul;
}

// ---- helpers ---------------------------------------------------------------------------------

/** Convert an argument, refusing f16/bf16 (NumPy refuses float16 in linalg). */
function input(op: string, x: TensorLike, owned: Tensor[]): Tensor {
  const t = asTensor(x);
  if (t !== x) owned.push(t);
  if (t.dtype === "f16" || t.dtype === "bf16") {
    throw new DTypeError(
      `${op}: dtype ${t.dtype} is not supported by linalg (NumPy refuses float16 too); ` +
        `linalg works in f32 or f64. Hint: convert first, e.g. a.astype("f32").`,
    );
  }
  return t;
}

/** NumPy's result type of linalg: f32 when every input is f32, else f64 (ints and bool too). */
function linalgDtype(...ts: Tensor[]): "f32" | "f64" {
  return ts.every((t) => t.dtype === "f32") ? "f32" : "f64";
}

function castTo(t: Tensor, d: DType, owned: Tensor[]): Tensor {
  if (t.dtype === d) return t;
  const c = astype(t, d);
  owned.push(c);
  return c;
}

/** Check for a (stack of) matrices, square when `square`; returns [m, n]. */
function matrixDims(op: string, t: Tensor, square: boolean): [number, number] {
  if (t.ndim < 2) {
    throw new ShapeError(
      `${op}: expected a matrix or a stack of matrices (at least 2 axes), got shape ` +
        `${fmtShape(t.shape)}. Hint: reshape a vector to a (n, 1) or (1, n) matrix.`,
    );
  }
  const m = t.shape[t.ndim - 2], n = t.shape[t.ndim - 1];
  if (square && m !== n) {
    throw new ShapeError(
      `${op}: the last two axes must be square, got shape ${fmtShape(t.shape)} (${m}×${n} ` +
        `matrices). Hint: for non-square systems use linalg.lstsq or linalg.pinv.`,
    );
  }
  return [m, n];
}

/** "matrix (3, 3)" or "matrix [1, 0] of the stack (2, 2, 3, 3)". */
function whichMatrix(shape: readonly number[], flat: number): string {
  const batch = shape.slice(0, -2);
  if (batch.length === 0) return `matrix ${fmtShape(shape)}`;
  const idx = new Array<number>(batch.length);
  for (let i = batch.length - 1; i >= 0; i--) {
    idx[i] = flat % batch[i];
    flat = Math.floor(flat / batch[i]);
  }
  return `matrix [${idx.join(", ")}] of the stack ${fmtShape(shape)}`;
}

/**
 * Read a kernel's `info` output (and dispose it); on the first nonzero code dispose `outs` and
 * throw a LinAlgError "op: matrix ... <what(code)>".
 */
function checkInfo(
  op: string,
  info: Tensor,
  shape: readonly number[],
  outs: readonly Tensor[],
  what: (code: number) => string,
): void {
  let codes: Int32Array;
  try {
    codes = info.dataSync() as Int32Array;
  } finally {
    info.dispose();
  }
  for (let i = 0; i < codes.length; i++) {
    if (codes[i] !== 0) {
      for (const t of outs) t.dispose();
      throw new LinAlgError(`${op}: ${whichMatrix(shape, i)} ${what(codes[i])}`);
    }
  }
}

const svdFailure = (code: number) =>
  code < 0
    ? "holds Inf or NaN, so the SVD did not converge (NumPy raises too). Hint: check the " +
      "input for non-finite values."
    : "did not converge in the SVD iteration. Hint: the matrix may be extremely ill-scaled.";

/** Run `f` with a list that collects intermediates, disposing them afterwards. */
function scoped<T>(f: (owned: Tensor[]) => T): T {
  const owned: Tensor[] = [];
  try {
    return f(owned);
  } finally {
    for (const t of owned) t.dispose();
  }
}

/** A square-matrix input cast to its linalg dtype. */
function squareInput(op: string, x: TensorLike, owned: Tensor[]): [Tensor, number, DType] {
  const t = input(op, x, owned);
  const [, n] = matrixDims(op, t, true);
  const d = linalgDtype(t);
  return [castTo(t, d, owned), n, d];
}

// ---- the functions ---------------------------------------------------------------------------

function solve(a: TensorLike, b: TensorLike): Tensor {
  return scoped((owned) => {
    const ta = input("solve", a, owned), tb = input("solve", b, owned);
    const [, n] = matrixDims("solve", ta, true);
    const d = linalgDtype(ta, tb);
    if (tb.ndim === 0) {
      throw new ShapeError(
        `solve: b must have shape (n,) or (..., n, k), got a scalar (shape ()). Hint: wrap it ` +
          `in an array.`,
      );
    }
    const vector = tb.ndim === 1;
    const bm = vector ? unsqueeze(tb, 1) : tb;
    if (vector) owned.push(bm);
    const nb = bm.shape[bm.ndim - 2], k = bm.shape[bm.ndim - 1];
    if (nb !== n) {
      throw new ShapeError(
        `solve: a ${fmtShape(ta.shape)} and b ${fmtShape(tb.shape)} do not fit: b needs ${n} ` +
          `rows (the length of ${vector ? "its only axis" : "its second-to-last axis"}), got ` +
          `${nb}. b is a vector only when 1-D; a stack of vectors must be (..., n, 1) ` +
          `(NumPy 2's rule). Hint: unsqueeze b's last axis.`,
      );
    }
    const batch = broadcastShapesFor(
      "solve",
      ta.shape.slice(0, -2),
      bm.shape.slice(0, -2),
    );
    const av = broadcastTo(castTo(ta, d, owned), [...batch, n, n]);
    owned.push(av);
    const bv = broadcastTo(castTo(bm, d, owned), [...batch, n, k]);
    owned.push(bv);
    const [x, info] = runKernel("linalg.solve", [av, bv], {}, [
      { shape: [...batch, n, k], dtype: d },
      { shape: batch, dtype: "i32" },
    ]);
    checkInfo(
      "solve",
      info,
      [...batch, n, n],
      [x],
      (c) => `is singular (pivot ${c} is 0); hint: use lstsq or pinv`,
    );
    if (!vector) return x;
    owned.push(x);
    const shape = [...batch, n];
    return x.view(shape, contiguousStrides(shape), x.offset);
  });
}

function inv(a: TensorLike): Tensor {
  return scoped((owned) => {
    const [t, , d] = squareInput("inv", a, owned);
    const [out, info] = runKernel("linalg.inv", [t], {}, [
      { shape: t.shape, dtype: d },
      { shape: t.shape.slice(0, -2), dtype: "i32" },
    ]);
    checkInfo(
      "inv",
      info,
      t.shape,
      [out],
      (c) => `is singular (pivot ${c} is 0); hint: use pinv for a pseudo-inverse`,
    );
    return out;
  });
}

function det(a: TensorLike): Tensor {
  return scoped((owned) => {
    const [t, , d] = squareInput("det", a, owned);
    return runKernel("linalg.det", [t], {}, [{ shape: t.shape.slice(0, -2), dtype: d }])[0];
  });
}

function slogdet(a: TensorLike): SlogdetResult {
  return scoped((owned) => {
    const [t, , d] = squareInput("slogdet", a, owned);
    const spec: OutSpec = { shape: t.shape.slice(0, -2), dtype: d };
    const [sign, logabsdet] = runKernel("linalg.slogdet", [t], {}, [spec, spec]);
    return { sign, logabsdet };
  });
}

function cholesky(a: TensorLike, options: CholeskyOptions = {}): Tensor {
  return scoped((owned) => {
    const [t, , d] = squareInput("cholesky", a, owned);
    const upper = options.upper ?? false;
    const [out, info] = runKernel("linalg.cholesky", [t], { upper }, [
      { shape: t.shape, dtype: d },
      { shape: t.shape.slice(0, -2), dtype: "i32" },
    ]);
    checkInfo(
      "cholesky",
      info,
      t.shape,
      [out],
      (c) =>
        `is not positive definite (its leading ${c}×${c} minor is not); hint: a Cholesky ` +
        `factor needs a symmetric positive-definite matrix (for semi-definite ones try eigh, ` +
        `or add a small multiple of the identity)`,
    );
    return out;
  });
}

function qr(a: TensorLike, options: { mode: "r" }): { r: Tensor };
function qr(a: TensorLike, options?: QROptions): QRResult;
function qr(a: TensorLike, options: QROptions = {}): QRResult | { r: Tensor } {
  const mode = options.mode ?? "reduced";
  if (mode !== "reduced" && mode !== "complete" && mode !== "r") {
    throw new ComputeError(
      `qr: mode must be "reduced", "complete" or "r", got ${JSON.stringify(mode)}.`,
    );
  }
  return scoped((owned) => {
    const t0 = input("qr", a, owned);
    const [m, n] = matrixDims("qr", t0, false);
    const d = linalgDtype(t0);
    const t = castTo(t0, d, owned);
    const batch = t.shape.slice(0, -2), k = Math.min(m, n);
    if (mode === "r") {
      const [r] = runKernel("linalg.qr", [t], { mode }, [{ shape: [...batch, k, n], dtype: d }]);
      return { r };
    }
    const qc = mode === "complete" ? m : k;
    const [q, r] = runKernel("linalg.qr", [t], { mode }, [
      { shape: [...batch, m, qc], dtype: d },
      { shape: [...batch, qc, n], dtype: d },
    ]);
    return { q, r };
  });
}

function eigh(a: TensorLike, options: EighOptions = {}): EighResult {
  const uplo = options.uplo ?? "L";
  if (uplo !== "L" && uplo !== "U") {
    throw new ComputeError(`eigh: uplo must be "L" or "U", got ${JSON.stringify(uplo)}.`);
  }
  return scoped((owned) => {
    const [t, n, d] = squareInput("eigh", a, owned);
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

function eig(a: TensorLike): EigResult {
  return scoped((owned) => {
    const [t, n, d] = squareInput("eig", a, owned);
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

function svd(a: TensorLike, options: SVDOptions & { computeUV: false }): { s: Tensor };
function svd(a: TensorLike, options?: SVDOptions): SVDResult;
function svd(a: TensorLike, options: SVDOptions = {}): SVDResult | { s: Tensor } {
  const fullMatrices = options.fullMatrices ?? true, computeUV = options.computeUV ?? true;
  return scoped((owned) => {
    const t0 = input("svd", a, owned);
    const [m, n] = matrixDims("svd", t0, false);
    const d = linalgDtype(t0);
    const t = castTo(t0, d, owned);
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

function lstsq(a: TensorLike, b: TensorLike, options: LstsqOptions = {}): LstsqResult {
  return scoped((owned) => {
    const ta = input("lstsq", a, owned), tb = input("lstsq", b, owned);
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
    if (vector) owned.push(bm);
    const k = bm.shape[1];
    const rcond = options.rcond ?? finfo("f64").eps * Math.max(m, n); // NumPy's: f64, its compute type
    const [x, res, rankT, s, info] = runKernel(
      "linalg.lstsq",
      [castTo(ta, d, owned), castTo(bm, d, owned)],
      { rcond },
      [
        { shape: [n, k], dtype: d },
        { shape: [k], dtype: d },
        { shape: [], dtype: "i32" },
        { shape: [Math.min(m, n)], dtype: d },
        { shape: [], dtype: "i32" },
      ],
    );
    owned.push(rankT);
    checkInfo("lstsq", info, ta.shape, [x, res, s], svdFailure);
    const rank = Number(rankT.item());
    let residuals = res;
    if (rank !== n || m <= n) {
      owned.push(res);
      residuals = Tensor.empty([0], d, ta.device);
    }
    let solution = x;
    if (vector) {
      owned.push(x);
      solution = x.view([n], [k], x.offset);
    }
    return { solution, residuals, rank, singularValues: s };
  });
}

function pinv(a: TensorLike, options: PinvOptions = {}): Tensor {
  if (options.rcond !== undefined && options.rtol !== undefined) {
    throw new ComputeError("pinv: give rcond or rtol, not both (they are the same cutoff).");
  }
  const rcond = options.rcond ?? options.rtol ?? 1e-15;
  return scoped((owned) => {
    const t0 = input("pinv", a, owned);
    const [m, n] = matrixDims("pinv", t0, false);
    const d = linalgDtype(t0);
    const t = castTo(t0, d, owned);
    const batch = t.shape.slice(0, -2);
    const [p, info] = runKernel("linalg.pinv", [t], { rcond }, [
      { shape: [...batch, n, m], dtype: d },
      { shape: batch, dtype: "i32" },
    ]);
    checkInfo("pinv", info, t.shape, [p], svdFailure);
    return p;
  });
}

function matrixRank(a: TensorLike, options: MatrixRankOptions = {}): Tensor {
  if (options.tol !== undefined && options.rtol !== undefined) {
    throw new ComputeError("matrixRank: give tol or rtol, not both.");
  }
  return scoped((owned) => {
    const t0 = input("matrixRank", a, owned);
    if (t0.ndim < 2) {
      // NumPy: 1 unless every element is 0.
      const vals = t0.dataSync();
      let nz = 0;
      for (let i = 0; i < vals.length; i++) if (Number(vals[i]) !== 0) nz = 1;
      return asTensor(nz, "i64", t0.device);
    }
    const d = linalgDtype(t0);
    const t = castTo(t0, d, owned);
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

/**
 * Linear algebra with NumPy's `np.linalg` semantics (batched over leading axes): `solve`, `inv`,
 * `det`, `slogdet`, `cholesky`, `qr`, `eigh`, `eig`, `svd`, `lstsq`, `pinv`, `matrixRank`.
 *
 * @example
 * ```ts
 * import { linalg, tensor } from "@aprender/compute";
 * const a = tensor([[4, 1], [2, 3]], { dtype: "f64" });
 * console.log(linalg.det(a).item()); // 10.000000000000002
 * console.log(linalg.solve(a, tensor([1, 2], { dtype: "f64" })).toArraySync()); // [0.1, 0.6]
 * ```
 */
export const linalg: Linalg = {
  solve,
  inv,
  det,
  slogdet,
  cholesky,
  qr,
  eigh,
  eig,
  svd,
  lstsq,
  pinv,
  matrixRank,
  norm,
  matmul,
};
