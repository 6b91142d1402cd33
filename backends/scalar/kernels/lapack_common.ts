/**
 * What the scalar `linalg.*` kernels share: machine epsilons, batch counting, the finiteness check
 * and an overflow-safe Euclidean norm.
 *
 * @module
 */
import type { TensorView } from "../../../core/backend/plugin.ts";
import { finfo } from "../../../core/finfo.ts";

/** The kernels compute in f64: its epsilon and smallest normal number (LAPACK's dlamch). */
export const EPS = finfo("f64").eps;
export const SAFE_MIN = finfo("f64").smallestNormal;

/** Machine epsilon of the dtype a kernel works for (NumPy's `finfo(dtype).eps`). */
export function epsOf(t: TensorView): number {
  return finfo(t.dtype).eps;
}

/** Number of matrices in a batch: product of all axes but the last `core`. */
export function batchOf(t: TensorView, core = 2): number {
  let b = 1;
  for (let i = 0; i < t.ndim - core; i++) b *= t.shape[i];
  return b;
}

export function allFinite(a: Float64Array, off: number, len: number): boolean {
  for (let i = off; i < off + len; i++) if (!Number.isFinite(a[i])) return false;
  return true;
}

/** Euclidean norm without overflow or harmful underflow (like dnrm2). */
export function nrm2(x: Float64Array, off: number, n: number, stride: number): number {
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
