/**
 * Scalar reference kernels of the `linalg.*` family (LU, Cholesky, QR, symmetric and general
 * eigenproblems, SVD, least squares). A LAPACK plugin provides kernels under the same names; the
 * contracts below are what every backend must honour.
 *
 * ## Common contract
 * - Inputs are f32 or f64 (the op casts ints/bool to f64 and refuses f16/bf16), with ANY strides
 *   and offset: transposed, sliced and broadcast (stride 0) views. Inputs are never written.
 * - Matrices are the last two axes; all leading axes are batch axes, already broadcast by the op
 *   so every input has the outputs' batch shape (`B...`). A LAPACK kernel copies each matrix into
 *   a column-major workspace (LAPACK overwrites its operand) and handles the batch by a loop.
 * - Outputs are allocated by the op, contiguous, with the dtype of the inputs unless stated;
 *   `info` outputs are i32 of shape `B...` and follow LAPACK's `INFO` (0 = success, `i > 0` = the
 *   routine's failure at step i, 1-based), except `-1`, which means "the input holds Inf or NaN"
 *   for the kernels that check (`eig` checks like NumPy; the SVD family reports non-finite input
 *   as a failure, where LAPACK's gesdd fails to converge). The op turns a nonzero `info` into a
 *   `LinAlgError` naming the op and the matrix.
 * - The scalar reference computes in float64 and rounds once on store (f32 results are the f64
 *   results rounded), which is what NumPy does too (its linalg casts f32 to f64 for LAPACK's
 *   `d*` routines). A plugin calling `s*` routines for f32 agrees to about cond(a)·1e-7.
 *
 * ## Kernels
 * | kernel | LAPACK | inputs | attrs | outputs |
 * |---|---|---|---|---|
 * | `linalg.solve` | getrf + getrs (gesv) | a (B, n, n), b (B, n, k) | — | x (B, n, k), info (B) — info = i > 0: U(i,i) is exactly 0 |
 * | `linalg.inv` | getrf + getri | a (B, n, n) | — | inv (B, n, n), info (B) as for solve |
 * | `linalg.det` | getrf | a (B, n, n) | — | det (B): sign · exp(Σ log│U(i,i)│) like NumPy; 0 when singular |
 * | `linalg.slogdet` | getrf | a (B, n, n) | — | sign (B), logabsdet (B); singular → 0, -inf |
 * | `linalg.cholesky` | potrf | a (B, n, n) | upper: boolean (read and return the upper triangle; else lower) | factor (B, n, n) with the other triangle 0, info (B) — i > 0: minor i not positive definite (a NaN pivot is NOT an error, like OpenBLAS's potrf) |
 * | `linalg.qr` | geqrf + orgqr | a (B, m, n) | mode: "reduced" / "complete" / "r" | reduced: q (B, m, k), r (B, k, n); complete: q (B, m, m), r (B, m, n); "r": r (B, k, n) only; k = min(m, n). Signs as LAPACK's dlarfg (R's diagonal may be negative) |
 * | `linalg.eigh` | syevd | a (B, n, n) | uplo: "L" / "U" (the triangle read) | w (B, n) ascending, v (B, n, n) (column j ↔ w[j]), info (B) — i > 0: no convergence. Non-finite input → NaN values and vectors, info 0 (as NumPy) |
 * | `linalg.eig` | geev (jobvl = N) | a (B, n, n) | — | wr, wi (B, n); vr, vi (B, n, n), info (B) — -1: Inf/NaN input; i > 0: QR did not converge |
 * | `linalg.svd` | gesdd | a (B, m, n) | fullMatrices, computeUV: boolean | computeUV: u (B, m, m│k), s (B, k), vh (B, n│k, n), info; else s (B, k), info. s descending; info ≠ 0: no convergence (or non-finite input) |
 * | `linalg.lstsq` | gelsd | a (m, n), b (m, k) (2-D only, like NumPy) | rcond: number (< 0: f64 machine epsilon, as gelsd in double) | x (n, k), residuals (k) = ‖b − a·x‖² per column (always; the op drops them when rank < n or m ≤ n), rank () i32, s (min(m, n)), info () |
 * | `linalg.pinv` | gesdd + gemm | a (B, m, n) | rcond: number (singular values ≤ rcond·max(s) count as 0) | p (B, n, m), info (B) as for svd |
 * | `linalg.matrixRank` | gesdd (jobz = N) | a (B, m, n) | tol: number │ null, rtol: number │ null | rank (B) i64: #(s > tol), tol = max(s)·(rtol ?? max(m, n)·eps(dtype)) when tol is null; info (B) as for svd |
 *
 * `eig` returns complex results as separate real and imaginary parts. Eigenvalues come in no
 * particular order (like LAPACK's and NumPy's); a complex conjugate pair is adjacent, positive
 * imaginary part first. Column j of `vr + i·vi` is the eigenvector of `wr[j] + i·wi[j]`,
 * normalized like LAPACK's geev: Euclidean norm 1, largest component real.
 *
 * ## Algorithms (scalar reference)
 * LU with partial pivoting (first largest pivot, like idamax; multipliers scaled by the
 * reciprocal pivot like dgetf2); Cholesky by columns; Householder QR with LAPACK's reflector
 * convention (so Q and R match LAPACK's signs); symmetric eigen by cyclic Jacobi rotations
 * (accurate to high relative precision); general eigen by Householder reduction to Hessenberg
 * form, Francis double-shift QR to real Schur form, and back-substitution for the eigenvectors;
 * SVD by one-sided (Hestenes) Jacobi, the left basis completed by Gram–Schmidt where needed.
 * Each has its file: `lapack_lu.ts`, `lapack_cholesky.ts`, `lapack_qr.ts`, `lapack_eigh.ts`,
 * `lapack_eig.ts`, `lapack_svd.ts` (with pinv, matrixRank and lstsq); this file maps op names to
 * them.
 *
 * @module
 */
import type { ScalarKernelTable } from "../../../core/backend/plugin.ts";
import { choleskyKernel } from "./lapack_cholesky.ts";
import { eigKernel } from "./lapack_eig.ts";
import { eighKernel } from "./lapack_eigh.ts";
import { detKernel, invKernel, slogdetKernel, solveKernel } from "./lapack_lu.ts";
import { qrKernel } from "./lapack_qr.ts";
import { lstsqKernel, matrixRankKernel, pinvKernel, svdKernel } from "./lapack_svd.ts";

/** The scalar backend's linalg kernels, by op name. */
export const kernels = {
  "linalg.solve": solveKernel,
  "linalg.inv": invKernel,
  "linalg.det": detKernel,
  "linalg.slogdet": slogdetKernel,
  "linalg.cholesky": choleskyKernel,
  "linalg.qr": qrKernel,
  "linalg.eigh": eighKernel,
  "linalg.eig": eigKernel,
  "linalg.svd": svdKernel,
  "linalg.lstsq": lstsqKernel,
  "linalg.pinv": pinvKernel,
  "linalg.matrixRank": matrixRankKernel,
} satisfies Partial<ScalarKernelTable>;
