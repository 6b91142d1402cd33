/**
 * `linalg.cholesky`: the Cholesky factor by columns (potrf's contract).
 *
 * @module
 */
import type { KernelCall } from "../../../core/backend/plugin.ts";
import { readF64, writeF64 } from "../util.ts";
import { batchOf } from "./lapack_common.ts";

export function choleskyKernel(call: KernelCall<{ upper: boolean }>): void {
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
