/**
 * LU with partial pivoting (dgetf2's order) and the kernels built on it: `linalg.solve`,
 * `linalg.inv`, `linalg.det`, `linalg.slogdet`.
 *
 * @module
 */
import type { KernelCall, TensorView } from "../../../core/backend/plugin.ts";
import { readF64, writeF64 } from "../util.ts";
import { batchOf, SAFE_MIN } from "./lapack_common.ts";

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

export function solveKernel(call: KernelCall): void {
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

export function invKernel(call: KernelCall): void {
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

export function detKernel(call: KernelCall): void {
  const { sign, logdet } = slogdetBatch(call.inputs[0]);
  const det = new Float64Array(sign.length);
  for (let i = 0; i < det.length; i++) det[i] = sign[i] * Math.exp(logdet[i]);
  writeF64(call.outputs[0], det);
}

export function slogdetKernel(call: KernelCall): void {
  const { sign, logdet } = slogdetBatch(call.inputs[0]);
  writeF64(call.outputs[0], sign);
  writeF64(call.outputs[1], logdet);
}
