/**
 * Transpose of a CPU tensor of 4-byte elements as a batched 2-D transpose (one SIMD WASM job)
 * when its permutation, with length-1 axes dropped and axes that stay adjacent merged, is
 * (B, R, C) → (B, C, R): NCHW ↔ NHWC and every plain matrix transpose. Anything else, or a
 * tensor outside the WASM heap, returns null (the caller copies through the view).
 *
 * @module
 */
import { Tensor } from "../../../core/tensor.ts";
import { transposeInHeap } from "../../../backends/runtime.ts";

/**
 * [B, R, C] when permuting axes `perm` of `shape` moves a block of R·C elements' first group of
 * axes behind the second, else null.
 *
 * @example
 * ```ts
 * asMatrices([1, 32, 16, 16], [0, 2, 3, 1]); // [1, 32, 256]
 * ```
 */
export function asMatrices(
  shape: readonly number[],
  perm: readonly number[],
): [number, number, number] | null {
  const keep = perm.filter((a) => shape[a] !== 1);
  // Runs of input axes that stay adjacent, in output order.
  const runs: number[][] = [];
  for (const a of keep) {
    const last = runs.at(-1);
    if (last !== undefined && a === last[last.length - 1] + 1) last.push(a);
    else runs.push([a]);
  }
  const size = (run: number[]) => run.reduce((p, a) => p * shape[a], 1);
  if (runs.length === 2 && runs[1][0] < runs[0][0]) return [1, size(runs[1]), size(runs[0])];
  if (runs.length === 3 && runs[0][0] < runs[2][0] && runs[2][0] < runs[1][0]) {
    return [size(runs[0]), size(runs[2]), size(runs[1])];
  }
  return null;
}

/** `x` permuted by `perm` into a new contiguous tensor by the WASM transpose job, or null. */
export function transposeFast(x: Tensor, perm: readonly number[]): Tensor | null {
  if (x.device !== "cpu" || !x.isContiguous || x.requiresGrad) return null;
  if (x.dtype !== "f32" && x.dtype !== "i32") return null;
  // Not a permutation of x's axes: the view path raises the error.
  if (perm.length !== x.ndim || new Set(perm).size !== x.ndim) return null;
  if (!perm.every((a) => Number.isInteger(a) && a >= 0 && a < x.ndim)) return null;
  const m = asMatrices(x.shape, perm);
  if (m === null) return null;
  const y = Tensor.empty(perm.map((a) => x.shape[a]), x.dtype, "cpu", false, "onnx");
  if (transposeInHeap(y, x, m[0], m[1], m[2])) return y;
  y.dispose();
  return null;
}
