/**
 * Contracts of matmul, einsum, linear (core/ops/matmul.ts, fused.ts) and the `linalg`
 * decompositions (core/ops/linalg_factor.ts, linalg_spectral.ts).
 *
 * @module
 */
import type { Binary, Contracts, NoAttrs, Op, Unary } from "./contract.ts";

/** Attributes of `einsum`: operands come first, then the output's label count. */
export interface EinsumAttrs {
  /** Number of output axes. */
  nOut: number;
}

/** The matmul and linalg families: kernel name → contract. */
export interface LinalgOps {
  /** Batched matrix product. */
  matmul: Binary;
  /** Einstein summation over the operands. */
  einsum: Op<"variadic", EinsumAttrs>;
  /** x·Wᵀ (+ bias when a third input is given). */
  linear: Op<"variadic", NoAttrs>;
  /** Solution of A·X = B (with LAPACK info). */
  "linalg.solve": Binary;
  /** Inverse (with LAPACK info). */
  "linalg.inv": Unary;
  /** Determinant. */
  "linalg.det": Unary;
  /** Sign and log |det|. */
  "linalg.slogdet": Unary;
  /** Cholesky factor, lower or upper. */
  "linalg.cholesky": Unary<{ upper: boolean }>;
  /** QR factorization. */
  "linalg.qr": Unary<{ mode: "reduced" | "complete" | "r" }>;
  /** Eigenvalues and vectors of a symmetric/Hermitian matrix. */
  "linalg.eigh": Unary<{ uplo: "L" | "U" }>;
  /** Eigenvalues and vectors of a general matrix (real and imaginary parts). */
  "linalg.eig": Unary;
  /** Singular value decomposition. */
  "linalg.svd": Unary<{ fullMatrices: boolean; computeUV: boolean }>;
  /** Least-squares solution, residuals, rank, singular values. */
  "linalg.lstsq": Binary<{ rcond: number }>;
  /** Pseudo-inverse. */
  "linalg.pinv": Unary<{ rcond: number }>;
  /** Numerical rank. */
  "linalg.matrixRank": Unary<{ tol: number | null; rtol: number | null }>;
}

/** The matmul and linalg families' contracts at run time. */
export const LINALG_OPS: Contracts<LinalgOps> = {
  matmul: 2,
  einsum: "variadic",
  linear: "variadic",
  "linalg.solve": 2,
  "linalg.inv": 1,
  "linalg.det": 1,
  "linalg.slogdet": 1,
  "linalg.cholesky": 1,
  "linalg.qr": 1,
  "linalg.eigh": 1,
  "linalg.eig": 1,
  "linalg.svd": 1,
  "linalg.lstsq": 2,
  "linalg.pinv": 1,
  "linalg.matrixRank": 1,
};
