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
 *
 * @module
 */
import type { KernelCall, KernelFn, TensorView } from "../../../core/backend/plugin.ts";
import { readF64, writeF64 } from "../util.ts";

const EPS = 2.220446049250313e-16;
const SAFE_MIN = 2.2250738585072014e-308;

/** Machine epsilon of the dtype a kernel works for (NumPy's `finfo(dtype).eps`). */
function epsOf(t: TensorView): number {
  return t.dtype === "f32" ? 1.1920928955078125e-7 : EPS;
}

/** Number of matrices in a batch: product of all axes but the last `core`. */
function batchOf(t: TensorView, core = 2): number {
  let b = 1;
  for (let i = 0; i < t.ndim - core; i++) b *= t.shape[i];
  return b;
}

function allFinite(a: Float64Array, off: number, len: number): boolean {
  for (let i = off; i < off + len; i++) if (!Number.isFinite(a[i])) return false;
  return true;
}

// ---- LU --------------------------------------------------------------------------------------

/**
 * In-place LU with partial pivoting of the row-major n×n matrix `w`: `piv[j]` is the row swapped
 * with row j at step j. Returns LAPACK's info (first exactly-zero pivot, 1-based, or 0).
 */
function luFactor(w: Float64Array, n: number, piv: Int32Array): number {
  let info = 0;
  for (let j = 0; j < n; j++) {
    let p = j, max = Math.abs(w[j * n + j]);
    for (let i = j + 1; i < n; i++) {
      const v = Math.abs(w[i * n + j]);
      if (v > max) max = v, p = i;
    }
    piv[j] = p;
    const pivot = w[p * n + j];
    if (pivot !== 0) {
      if (p !== j) {
        for (let c = 0; c < n; c++) {
          const t = w[j * n + c];
          w[j * n + c] = w[p * n + c];
          w[p * n + c] = t;
        }
      }
      if (Math.abs(pivot) >= SAFE_MIN) {
        const r = 1 / pivot;
        for (let i = j + 1; i < n; i++) w[i * n + j] *= r;
      } else {
        for (let i = j + 1; i < n; i++) w[i * n + j] /= pivot;
      }
    } else if (info === 0) {
      info = j + 1;
    }
    for (let i = j + 1; i < n; i++) {
      const l = w[i * n + j];
      const ri = i * n, rj = j * n;
      for (let c = j + 1; c < n; c++) w[ri + c] -= l * w[rj + c];
    }
  }
  return info;
}

/** Solve LU·x = P·b in place for the row-major n×k right-hand sides `b`. */
function luSolve(w: Float64Array, n: number, piv: Int32Array, b: Float64Array, k: number): void {
  for (let j = 0; j < n; j++) {
    const p = piv[j];
    if (p !== j) {
      for (let c = 0; c < k; c++) {
        const t = b[j * k + c];
        b[j * k + c] = b[p * k + c];
        b[p * k + c] = t;
      }
    }
  }
  for (let i = 1; i < n; i++) {
    for (let j = 0; j < i; j++) {
      const l = w[i * n + j];
      for (let c = 0; c < k; c++) b[i * k + c] -= l * b[j * k + c];
    }
  }
  for (let i = n - 1; i >= 0; i--) {
    for (let j = i + 1; j < n; j++) {
      const u = w[i * n + j];
      for (let c = 0; c < k; c++) b[i * k + c] -= u * b[j * k + c];
    }
    const d = w[i * n + i];
    for (let c = 0; c < k; c++) b[i * k + c] /= d;
  }
}

/** Sign and log|det| from an LU factorization, the way NumPy's slogdet accumulates them. */
function luSlogdet(w: Float64Array, n: number, piv: Int32Array, info: number): [number, number] {
  if (info > 0) return [0, -Infinity];
  let sign = 1, logdet = 0;
  for (let j = 0; j < n; j++) {
    if (piv[j] !== j) sign = -sign;
    let d = w[j * n + j];
    if (d < 0) sign = -sign, d = -d;
    logdet += Math.log(d);
  }
  return [sign, logdet];
}

function solveKernel(call: KernelCall): void {
  const [a, b] = call.inputs;
  const [x, infoOut] = call.outputs;
  const n = a.shape[a.ndim - 1], k = b.shape[b.ndim - 1];
  const batch = batchOf(a);
  const A = readF64(a), B = readF64(b);
  const X = new Float64Array(batch * n * k), info = new Int32Array(batch);
  const w = new Float64Array(n * n), piv = new Int32Array(n);
  for (let bi = 0; bi < batch; bi++) {
    w.set(A.subarray(bi * n * n, (bi + 1) * n * n));
    const rhs = X.subarray(bi * n * k, (bi + 1) * n * k);
    rhs.set(B.subarray(bi * n * k, (bi + 1) * n * k));
    info[bi] = luFactor(w, n, piv);
    if (info[bi] === 0) luSolve(w, n, piv, rhs, k);
  }
  writeF64(x, X);
  writeF64(infoOut, info);
}

function invKernel(call: KernelCall): void {
  const [a] = call.inputs;
  const [out, infoOut] = call.outputs;
  const n = a.shape[a.ndim - 1], batch = batchOf(a);
  const A = readF64(a);
  const X = new Float64Array(batch * n * n), info = new Int32Array(batch);
  const w = new Float64Array(n * n), piv = new Int32Array(n);
  for (let bi = 0; bi < batch; bi++) {
    w.set(A.subarray(bi * n * n, (bi + 1) * n * n));
    const rhs = X.subarray(bi * n * n, (bi + 1) * n * n);
    for (let i = 0; i < n; i++) rhs[i * n + i] = 1;
    info[bi] = luFactor(w, n, piv);
    if (info[bi] === 0) luSolve(w, n, piv, rhs, n);
  }
  writeF64(out, X);
  writeF64(infoOut, info);
}

function slogdetBatch(a: TensorView): { sign: Float64Array; logdet: Float64Array } {
  const n = a.shape[a.ndim - 1], batch = batchOf(a);
  const A = readF64(a);
  const sign = new Float64Array(batch), logdet = new Float64Array(batch);
  const w = new Float64Array(n * n), piv = new Int32Array(n);
  for (let bi = 0; bi < batch; bi++) {
    w.set(A.subarray(bi * n * n, (bi + 1) * n * n));
    const info = luFactor(w, n, piv);
    [sign[bi], logdet[bi]] = luSlogdet(w, n, piv, info);
  }
  return { sign, logdet };
}

function detKernel(call: KernelCall): void {
  const { sign, logdet } = slogdetBatch(call.inputs[0]);
  const det = new Float64Array(sign.length);
  for (let i = 0; i < det.length; i++) det[i] = sign[i] * Math.exp(logdet[i]);
  writeF64(call.outputs[0], det);
}

function slogdetKernel(call: KernelCall): void {
  const { sign, logdet } = slogdetBatch(call.inputs[0]);
  writeF64(call.outputs[0], sign);
  writeF64(call.outputs[1], logdet);
}

// ---- Cholesky --------------------------------------------------------------------------------

function choleskyKernel(call: KernelCall<{ upper: boolean }>): void {
  const [a] = call.inputs;
  const [out, infoOut] = call.outputs;
  const upper = call.attrs.upper;
  const n = a.shape[a.ndim - 1], batch = batchOf(a);
  const A = readF64(a);
  const R = new Float64Array(batch * n * n), info = new Int32Array(batch);
  const L = new Float64Array(n * n);
  for (let bi = 0; bi < batch; bi++) {
    const o = bi * n * n;
    L.fill(0);
    // The lower triangle of `a` (or of aᵀ when reading the upper one).
    const at = (i: number, j: number) => upper ? A[o + j * n + i] : A[o + i * n + j];
    for (let j = 0; j < n && info[bi] === 0; j++) {
      let s = at(j, j);
      for (let c = 0; c < j; c++) s -= L[j * n + c] * L[j * n + c];
      if (s <= 0) {
        info[bi] = j + 1;
        break;
      }
      const d = Math.sqrt(s);
      L[j * n + j] = d;
      for (let i = j + 1; i < n; i++) {
        let t = at(i, j);
        for (let c = 0; c < j; c++) t -= L[i * n + c] * L[j * n + c];
        L[i * n + j] = t / d;
      }
    }
    for (let i = 0; i < n; i++) {
      for (let j = 0; j <= i; j++) {
        if (upper) R[o + j * n + i] = L[i * n + j];
        else R[o + i * n + j] = L[i * n + j];
      }
    }
  }
  writeF64(out, R);
  writeF64(infoOut, info);
}

// ---- QR --------------------------------------------------------------------------------------

/** Euclidean norm without overflow or harmful underflow (like dnrm2). */
function nrm2(x: Float64Array, off: number, n: number, stride: number): number {
  let scale = 0, ssq = 1;
  for (let i = 0, o = off; i < n; i++, o += stride) {
    const v = x[o];
    if (v !== 0) {
      const av = Math.abs(v);
      if (Number.isNaN(av)) return NaN;
      if (scale < av) {
        ssq = 1 + ssq * (scale / av) ** 2;
        scale = av;
      } else ssq += (av / scale) ** 2;
    }
  }
  return scale * Math.sqrt(ssq);
}

/**
 * Householder QR of the row-major m×n `w` in place (LAPACK's geqr2): R in the upper triangle,
 * reflector j's vector below the diagonal of column j (implicit 1 on the diagonal), `tau[j]`.
 */
function householderQR(w: Float64Array, m: number, n: number, tau: Float64Array): void {
  const k = Math.min(m, n);
  for (let j = 0; j < k; j++) {
    const alpha = w[j * n + j];
    const xnorm = nrm2(w, (j + 1) * n + j, m - j - 1, n);
    if (xnorm === 0) {
      tau[j] = 0;
      continue;
    }
    const beta = -(alpha >= 0 ? 1 : -1) * Math.hypot(alpha, xnorm);
    tau[j] = (beta - alpha) / beta;
    const scale = 1 / (alpha - beta);
    for (let i = j + 1; i < m; i++) w[i * n + j] *= scale;
    w[j * n + j] = beta;
    const t = tau[j];
    for (let c = j + 1; c < n; c++) {
      let s = w[j * n + c];
      for (let i = j + 1; i < m; i++) s += w[i * n + j] * w[i * n + c];
      s *= t;
      w[j * n + c] -= s;
      for (let i = j + 1; i < m; i++) w[i * n + c] -= s * w[i * n + j];
    }
  }
}

/** The first `qc` columns of Q = H₀·H₁·…·H_{k−1} (LAPACK's orgqr), row-major m×qc. */
function formQ(
  w: Float64Array,
  m: number,
  n: number,
  tau: Float64Array,
  qc: number,
): Float64Array {
  const k = Math.min(m, n);
  const q = new Float64Array(m * qc);
  for (let i = 0; i < Math.min(m, qc); i++) q[i * qc + i] = 1;
  for (let j = k - 1; j >= 0; j--) {
    const t = tau[j];
    if (t === 0) continue;
    for (let c = j; c < qc; c++) {
      let s = q[j * qc + c];
      for (let i = j + 1; i < m; i++) s += w[i * n + j] * q[i * qc + c];
      s *= t;
      q[j * qc + c] -= s;
      for (let i = j + 1; i < m; i++) q[i * qc + c] -= s * w[i * n + j];
    }
  }
  return q;
}

function qrKernel(call: KernelCall<{ mode: "reduced" | "complete" | "r" }>): void {
  const [a] = call.inputs;
  const mode = call.attrs.mode;
  const m = a.shape[a.ndim - 2], n = a.shape[a.ndim - 1], k = Math.min(m, n);
  const batch = batchOf(a);
  const A = readF64(a);
  const qc = mode === "complete" ? m : k;
  const rr = mode === "complete" ? m : k;
  const Q = new Float64Array(batch * m * qc), R = new Float64Array(batch * rr * n);
  const w = new Float64Array(m * n), tau = new Float64Array(k);
  for (let bi = 0; bi < batch; bi++) {
    w.set(A.subarray(bi * m * n, (bi + 1) * m * n));
    householderQR(w, m, n, tau);
    const ro = bi * rr * n;
    for (let i = 0; i < Math.min(rr, m); i++) {
      for (let j = i; j < n; j++) R[ro + i * n + j] = w[i * n + j];
    }
    if (mode !== "r") Q.set(formQ(w, m, n, tau, qc), bi * m * qc);
  }
  if (mode === "r") {
    writeF64(call.outputs[0], R);
  } else {
    writeF64(call.outputs[0], Q);
    writeF64(call.outputs[1], R);
  }
}

// ---- symmetric eigen (cyclic Jacobi) ---------------------------------------------------------

/**
 * Eigen-decomposition of the symmetric row-major n×n `s` (destroyed) by cyclic Jacobi rotations:
 * eigenvalues into `w` (ascending), eigenvectors into the columns of `v`. Returns 0, or 1 when
 * the sweeps did not converge.
 */
function jacobiEigh(s: Float64Array, n: number, w: Float64Array, v: Float64Array): number {
  v.fill(0);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  const frob = nrm2(s, 0, n * n, 1);
  let converged = n < 2;
  for (let sweep = 0; sweep < 100 && !converged; sweep++) {
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = s[p * n + q];
        const app = s[p * n + p], aqq = s[q * n + q];
        const a = Math.abs(apq);
        // Negligible relative to the diagonal (relative accuracy) or to the whole matrix.
        if (a <= EPS * Math.sqrt(Math.abs(app) * Math.abs(aqq)) || a <= 1e-3 * EPS * frob) {
          continue;
        }
        rotated = true;
        const theta = (aqq - app) / (2 * apq);
        const t = Math.abs(theta) > 1e150
          ? 1 / (2 * theta)
          : (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), sn = t * c;
        for (let r = 0; r < n; r++) {
          const x = s[r * n + p], y = s[r * n + q];
          s[r * n + p] = c * x - sn * y;
          s[r * n + q] = sn * x + c * y;
        }
        for (let r = 0; r < n; r++) {
          const x = s[p * n + r], y = s[q * n + r];
          s[p * n + r] = c * x - sn * y;
          s[q * n + r] = sn * x + c * y;
        }
        s[p * n + q] = 0;
        s[q * n + p] = 0;
        for (let r = 0; r < n; r++) {
          const x = v[r * n + p], y = v[r * n + q];
          v[r * n + p] = c * x - sn * y;
          v[r * n + q] = sn * x + c * y;
        }
      }
    }
    converged = !rotated;
  }
  // Sort ascending (selection sort on columns: n is small next to the O(n³) sweeps).
  for (let i = 0; i < n; i++) w[i] = s[i * n + i];
  for (let i = 0; i < n - 1; i++) {
    let m = i;
    for (let j = i + 1; j < n; j++) if (w[j] < w[m]) m = j;
    if (m !== i) {
      [w[i], w[m]] = [w[m], w[i]];
      for (let r = 0; r < n; r++) {
        const t = v[r * n + i];
        v[r * n + i] = v[r * n + m];
        v[r * n + m] = t;
      }
    }
  }
  return converged ? 0 : 1;
}

function eighKernel(call: KernelCall<{ uplo: "L" | "U" }>): void {
  const [a] = call.inputs;
  const [wOut, vOut, infoOut] = call.outputs;
  const lower = call.attrs.uplo !== "U";
  const n = a.shape[a.ndim - 1], batch = batchOf(a);
  const A = readF64(a);
  const W = new Float64Array(batch * n), V = new Float64Array(batch * n * n);
  const info = new Int32Array(batch);
  const s = new Float64Array(n * n), w = new Float64Array(n), v = new Float64Array(n * n);
  for (let bi = 0; bi < batch; bi++) {
    const o = bi * n * n;
    let finite = true;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j <= i; j++) {
        const x = lower ? A[o + i * n + j] : A[o + j * n + i];
        if (!Number.isFinite(x)) finite = false;
        s[i * n + j] = x;
        s[j * n + i] = x;
      }
    }
    if (!finite) {
      W.fill(NaN, bi * n, (bi + 1) * n);
      V.fill(NaN, o, o + n * n);
      continue;
    }
    info[bi] = jacobiEigh(s, n, w, v);
    W.set(w, bi * n);
    V.set(v, o);
  }
  writeF64(wOut, W);
  writeF64(vOut, V);
  writeF64(infoOut, info);
}

// ---- general eigen (Hessenberg + Francis double-shift QR) ------------------------------------

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

function eigKernel(call: KernelCall): void {
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

// ---- SVD (one-sided Jacobi) ------------------------------------------------------------------

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

function svdKernel(call: KernelCall<{ fullMatrices: boolean; computeUV: boolean }>): void {
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

function pinvKernel(call: KernelCall<{ rcond: number }>): void {
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

function matrixRankKernel(call: KernelCall<{ tol: number | null; rtol: number | null }>): void {
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

function lstsqKernel(call: KernelCall<{ rcond: number }>): void {
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

/** The scalar backend's linalg kernels, by op name. */
export const kernels: Record<string, KernelFn> = {
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
};
