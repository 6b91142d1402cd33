/**
 * `linalg.eigh`: the symmetric eigenproblem by cyclic Jacobi rotations (accurate to high
 * relative precision).
 *
 * @module
 */
import type { KernelCall } from "../../../core/backend/plugin.ts";
import { readF64, writeF64 } from "../util.ts";
import { batchOf, EPS, nrm2 } from "./lapack_common.ts";

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

export function eighKernel(call: KernelCall<{ uplo: "L" | "U" }>): void {
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
