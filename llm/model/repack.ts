/**
 * Load-time repacking of a model's Q4_0 linear weights for the WASM `quantLinear` kernel
 * (backends/wasm/qrepack.ts): in place, same bytes, no second copy. Only the projections the
 * forward pass multiplies by are repacked (never the embedding, which is read row by row, nor a
 * tied output), and only where the WASM kernel is the one that runs the model's products.
 *
 * @module
 */
import { traceKernels } from "../../core/backend/registry.ts";
import type { StorageDType } from "../../core/dtype.ts";
import { fromTyped } from "../../core/ops/creation.ts";
import { quantLinear } from "../../core/ops/quant_linear.ts";
import type { Tensor } from "../../core/tensor.ts";
import { canRepackQ4_0, repackQ4_0 } from "../../backends/runtime.ts";
import type { ModelWeights } from "./weights.ts";

/** Whether the WASM plugin runs quantLinear on `w` in this process (one 1-row product). */
function wasmRunsQuantLinear(w: Tensor<StorageDType>, activations: "f32" | "ggml"): boolean {
  const x = fromTyped(new Float32Array(w.shape[1]), [1, w.shape[1]], "f32");
  try {
    const { result, trace } = traceKernels(() => quantLinear(x, w, { activations }));
    result.dispose();
    return trace.length > 0 && trace.every((t) => t.op !== "quantLinear" || t.backend === "wasm");
  } finally {
    x.dispose();
  }
}

/**
 * Repack the Q4_0 projections of `w` (attention, feed-forward, an untied output) in place for
 * the WASM kernel; returns how many were repacked (0 when the WASM kernel does not run them).
 *
 * @example
 * ```ts
 * import { repackLinearWeights } from "./repack.ts";
 * // w: weights as loadWeights returns them (llm/model/weights.ts)
 * // const n = repackLinearWeights(w, "ggml");
 * ```
 */
export function repackLinearWeights(w: ModelWeights, activations: "f32" | "ggml"): number {
  if (w.ln) return 0;
  const list: Tensor<StorageDType>[] = [];
  for (const l of w.layers) list.push(l.wq, l.wk, l.wv, l.wo, l.gate, l.up, l.down);
  if (!w.tied) list.push(w.output);
  const todo = list.filter((t) => t !== w.embed && canRepackQ4_0(t));
  if (todo.length === 0 || !wasmRunsQuantLinear(todo[0], activations)) return 0;
  let n = 0;
  for (const t of new Set(todo)) if (repackQ4_0(t)) n++;
  return n;
}
