/**
 * `linalg.qr`: Householder QR with LAPACK's reflector convention (dlarfg), so Q and R match
 * LAPACK's signs.
 *
 * @module
 */
import type { KernelCall } from "../../../core/backend/plugin.ts";
import { readF64, writeF64 } from "../util.ts";
import { batchOf, nrm2 } from "./lapack_common.ts";

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

export function qrKernel(call: KernelCall<{ mode: "reduced" | "complete" | "r" }>): void {
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
