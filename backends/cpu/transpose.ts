/**
 * Batched 2-D transposes of 4-byte elements on the WASM heap (src/transpose.c): the copy that
 * a permutation like NCHW → NHWC reduces to once its axes are merged. SIMD 4×4 blocks instead
 * of the strided copy kernel's element gathers.
 *
 * @module
 */
import { beginJob, JOB_IA, KIND, plan, runPar, W } from "./jobs.ts";
import { PAR_MIN_CHEAP } from "./elementwise.ts";
import { ShapeError } from "../../core/errors.ts";

/**
 * `b` matrices of `r` × `c` 4-byte elements at heap byte address `a` (contiguous) transposed to
 * `b` matrices of `c` × `r` at `out` (contiguous, not overlapping `a`). Raw bit copies.
 *
 * @example
 * ```ts
 * // x: a (2, 3, 5) f32 tensor in the heap, y: an empty (2, 5, 3) one
 * // runTranspose2d(2, 3, 5, address(y), address(x));
 * ```
 */
export function runTranspose2d(b: number, r: number, c: number, out: number, a: number): void {
  if (![b, r, c].every((v) => Number.isInteger(v) && v >= 0) || b * r * c >= 2 ** 31) {
    throw new ShapeError(
      `wasm transpose: batches ${b}, rows ${r}, columns ${c} are not valid counts. ` +
        `Hint: non-negative integers with fewer than 2^31 elements in all.`,
    );
  }
  if (b * r * c === 0) return;
  const bands = b * Math.ceil(c / 4);
  const v = beginJob(KIND.transpose);
  v.i32[JOB_IA.transpose.b] = b;
  v.i32[JOB_IA.transpose.r] = r;
  v.i32[JOB_IA.transpose.c] = c;
  v.i32[W.total] = c === 3 ? b : bands;
  v.i32[W.ptr] = out;
  v.i32[W.ptr + 1] = a;
  const p = plan(b * r * c, PAR_MIN_CHEAP);
  runPar(v, Math.min(p.slots, c === 3 ? b : bands), p.threads);
}
