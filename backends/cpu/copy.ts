/**
 * Copy jobs of the CPU runtime's WASM module (src/copy.c) on raw heap addresses: strided raw
 * copies and dtype conversions, shared by the WASM plugin's `copy` kernel and both CPU plugins'
 * conv gradients.
 *
 * @module
 */
import { beginJob, KIND, MAXDIM, plan, runPar, W } from "./jobs.ts";

/** Elements from which the pool is used. */
const PAR_MIN = 1 << 18;

/**
 * A copy job on raw heap addresses: `conv` is a code of src/copy.c (0..3: raw copies of 1, 2, 4,
 * 8-byte elements), `dims` at most {@link MAXDIM} axes, strides in elements of each side.
 */
export function runCopy(
  conv: number,
  dims: readonly number[],
  dstAddr: number,
  dstStrides: readonly number[],
  srcAddr: number,
  srcStrides: readonly number[],
): void {
  const total = dims.reduce((a, b) => a * b, 1);
  if (total === 0) return;
  const v = beginJob(KIND.copy);
  const w = v.i32;
  w[W.op] = conv;
  w[W.ndim] = dims.length;
  w[W.total] = total;
  w[W.ptr] = dstAddr;
  w[W.ptr + 1] = srcAddr;
  for (let d = 0; d < dims.length; d++) {
    w[W.shape + d] = dims[d];
    w[W.strides + d] = dstStrides[d];
    w[W.strides + MAXDIM + d] = srcStrides[d];
  }
  const p = plan(total, PAR_MIN);
  runPar(v, p.slots, p.threads);
}
