/**
 * Matrix decompositions and solvers with NumPy's `np.linalg` semantics, gathered in the
 * {@link linalg} namespace: solve, inv, det, slogdet, cholesky, qr, eigh, eig, svd, lstsq, pinv,
 * matrixRank. This file declares the namespace, its options and results; the functions are in
 * `linalg_factor.ts` (LU, Cholesky, QR) and `linalg_spectral.ts` (eigen, SVD and what builds on it).
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
import { matmul } from "./matmul.ts";
import type { Tensor, TensorLike } from "../tensor.ts";
import { cholesky, det, inv, qr, slogdet, solve } from "./linalg_factor.ts";
import { eig, eigh, lstsq, matrixRank, pinv, svd } from "./linalg_spectral.ts";

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
