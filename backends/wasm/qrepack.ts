/**
 * Q4_0 weights repacked in place for the WASM `quantLinear` kernel (backends/cpu/src/qrepack.c):
 * the same bytes in the order the tiled integer kernels stream (four weight rows × four blocks
 * interleaved word by word, scales of a group together), so no product transposes or converts a
 * weight group again. The tensor keeps its shape, dtype and size (no second copy: resident memory
 * is unchanged), but its bytes are no longer GGUF's: only this plugin's `quantLinear` reads it,
 * in "ggml" and "f32" mode, with the bits the GGUF layout gives. Anything else that reads the
 * bytes (dequantize, `dataSync`, copies, other backends) needs {@link unrepackQ4_0} first; the
 * LLM engine repacks only its linear weights, never an embedding.
 *
 * @module
 */
import type { TensorView } from "../../core/backend/plugin.ts";
import type { StorageDType } from "../../core/dtype.ts";
import { byteLength } from "../../core/dtype.ts";
import { ShapeError } from "../../core/errors.ts";
import { loadRuntime } from "../cpu/runtime.ts";
import { address, heapScratch } from "../cpu/jobs.ts";
import { inWasmHeap } from "./gemm.ts";

/** Repacked storages, with the view (offset, rows, columns) that was repacked. */
const REPACKED = new WeakMap<object, { offset: number; n: number; k: number }>();

/**
 * Whether {@link repackQ4_0} can repack `w`: a contiguous 2-D Q4_0 weight in the WASM heap whose
 * row length is a multiple of 128 and that has at least four rows.
 *
 * @example
 * ```ts
 * import { fromBlocks } from "../../core/ops/creation.ts";
 * import { canRepackQ4_0 } from "./qrepack.ts";
 * const w = fromBlocks(new Uint8Array(4 * 4 * 18), "q4_0", [4, 128]);
 * console.log(canRepackQ4_0(w)); // true where the WASM runtime holds CPU tensors
 * ```
 */
export function canRepackQ4_0(w: TensorView<StorageDType>): boolean {
  return w.dtype === "q4_0" && w.ndim === 2 && w.isContiguous && w.shape[0] >= 4 &&
    w.shape[1] % 128 === 0 && w.shape[1] > 0 && !REPACKED.has(w.storage) &&
    inWasmHeap(w as TensorView);
}

/** The repacked view of `w`'s storage, or null when it is in the GGUF layout. */
export function repackedQ4_0(
  w: TensorView<StorageDType>,
): { offset: number; n: number; k: number } | null {
  const r = REPACKED.get(w.storage);
  if (!r) return null;
  if (r.offset !== w.offset || r.n !== w.shape[0] || r.k !== w.shape[1] || w.dtype !== "q4_0") {
    throw new ShapeError(
      `quantLinear: the weight's storage was repacked as [${r.n}, ${r.k}] Q4_0 at element ` +
        `${r.offset}, but this view is ${w.dtype} [${w.shape}] at ${w.offset}. Hint: run ` +
        `products on the repacked weight itself, or unrepackQ4_0 it first.`,
    );
  }
  return r;
}

function run(w: TensorView<StorageDType>, fn: "qrepack_q4_0" | "qunpack_q4_0"): void {
  const rt = loadRuntime();
  const [n, k] = w.shape;
  const tmp = heapScratch(4 * byteLength("q4_0", k));
  try {
    rt.exports[fn](address(w as TensorView), n, k, tmp.ptr);
  } finally {
    tmp.free();
  }
}

/**
 * Repack a Q4_0 weight in place for the WASM `quantLinear` kernel; returns false (and leaves it
 * alone) when {@link canRepackQ4_0} says no. See the module notes for what may read it after.
 *
 * @example
 * ```ts
 * import { fromBlocks } from "../../core/ops/creation.ts";
 * import { repackQ4_0, unrepackQ4_0 } from "./qrepack.ts";
 * const w = fromBlocks(new Uint8Array(4 * 4 * 18), "q4_0", [4, 128]);
 * repackQ4_0(w); // quantLinear(x, w, ...) now streams it
 * unrepackQ4_0(w); // GGUF layout again
 * ```
 */
export function repackQ4_0(w: TensorView<StorageDType>): boolean {
  if (!canRepackQ4_0(w)) return false;
  run(w, "qrepack_q4_0");
  REPACKED.set(w.storage, { offset: w.offset, n: w.shape[0], k: w.shape[1] });
  return true;
}

/**
 * Restore the GGUF layout of a weight repacked by {@link repackQ4_0}; returns false when it was
 * not repacked.
 *
 * @example
 * ```ts
 * import { fromBlocks } from "../../core/ops/creation.ts";
 * import { repackQ4_0, unrepackQ4_0 } from "./qrepack.ts";
 * const w = fromBlocks(new Uint8Array(4 * 4 * 18), "q4_0", [4, 128]);
 * repackQ4_0(w);
 * console.log(unrepackQ4_0(w)); // true
 * ```
 */
export function unrepackQ4_0(w: TensorView<StorageDType>): boolean {
  if (!repackedQ4_0(w)) return false;
  run(w, "qunpack_q4_0");
  REPACKED.delete(w.storage);
  return true;
}
