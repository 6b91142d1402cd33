/**
 * Fast paths of the ONNX sessions on the WASM heap, for io/onnx through backends/runtime.ts
 * (the layers above never import a plugin): a batched 2-D transpose of 4-byte elements
 * (src/transpose.c), the copy that a permutation like NCHW → NHWC reduces to once its axes are
 * merged (SIMD 4×4 blocks instead of the strided copy kernel's element gathers), and a residual
 * block's add and Relu in one pass (binary op ADD_RELU). Each checks that its tensors lie in the
 * loaded heap and reports false, touching nothing, when they do not.
 *
 * @module
 */
import type { HostStorage } from "../../core/backend/host.ts";
import type { TensorView } from "../../core/backend/plugin.ts";
import { address, beginJob, JOB_IA, KIND, plan, runPar, W } from "./jobs.ts";
import { ADD_RELU, PAR_MIN_CHEAP, runElementwise, UNARY_OPS } from "./elementwise.ts";
import { currentRuntime } from "./runtime.ts";
import { ShapeError } from "../../core/errors.ts";

/** Every view contiguous, f32 or i32, in the loaded WASM heap, under 2^31 elements. */
function inHeap(ts: readonly TensorView[]): boolean {
  const rt = currentRuntime();
  return rt !== null &&
    ts.every((t) =>
      t.device === "cpu" && (t.dtype === "f32" || t.dtype === "i32") && t.isContiguous &&
      (t.storage as Partial<HostStorage>).allocator === rt.heap && t.size < 2 ** 31
    );
}

/**
 * `x` (B·R·C elements, read as B matrices R × C) transposed into `out` (B matrices C × R), when
 * both are contiguous 4-byte tensors of one dtype in the WASM heap; false otherwise.
 *
 * @example
 * ```ts
 * // x: (1, 32, 16, 16) f32, y: an empty (1, 16, 16, 32) f32 tensor: NCHW → NHWC
 * // transposeInHeap(y, x, 1, 32, 256);
 * ```
 */
export function transposeInHeap(
  out: TensorView,
  x: TensorView,
  b: number,
  r: number,
  c: number,
): boolean {
  if (!inHeap([out, x]) || out.dtype !== x.dtype || out.size !== x.size) return false;
  if (b * r * c !== x.size) return false;
  runTranspose2d(b, r, c, address(out), address(x));
  return true;
}

/**
 * A residual block's add and Relu in place: y (N, C, H, W) f32 gets max(y + r, 0) in its first
 * Cr channels, r (N, Cr ≤ C, H, W) f32, and max(y, 0) in the others (one job each, relu's NaN
 * and -0 rules), when both are contiguous in the WASM heap; false, touching nothing, otherwise.
 *
 * @example
 * ```ts
 * // y: a conv output (1, 28, 64, 64), r: the skip path (1, 24, 64, 64)
 * // addReluInHeap(y, r); // y = relu(y + concat([r, zeros], 1))
 * ```
 */
export function addReluInHeap(y: TensorView, r: TensorView): boolean {
  if (!inHeap([y, r]) || y.dtype !== "f32" || r.dtype !== "f32") return false;
  if (y.shape.length !== 4 || r.shape.length !== 4) return false;
  const [N, C, H, W] = y.shape, P = H * W, Cr = r.shape[1];
  if (r.shape[0] !== N || r.shape[2] !== H || r.shape[3] !== W || Cr > C) return false;
  const yo = address(y);
  runElementwise("binary", ADD_RELU, "f32", [N, Cr * P], [yo, yo, address(r)], [
    [C * P, 1],
    [C * P, 1],
    [Cr * P, 1],
  ], false);
  if (Cr < C) {
    const t = yo + Cr * P * 4;
    runElementwise("unary", UNARY_OPS.relu, "f32", [N, (C - Cr) * P], [t, t], [
      [C * P, 1],
      [C * P, 1],
    ], false);
  }
  return true;
}

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
