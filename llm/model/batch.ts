/**
 * Continuous batching: one forward step for several independent sequences (each with its own KV
 * cache and position), stacked so every linear layer runs once over all their new tokens;
 * attention runs per sequence. For a server that decodes many requests together.
 *
 * @module
 */
import { ComputeError } from "../../core/errors.ts";
import { forwardSeqs } from "./forward.ts";
import type { KVCache } from "./kv_cache.ts";
import type { Model } from "./model.ts";

/**
 * One sequence of a batched step.
 *
 * @example
 * ```ts ignore
 * const seq: BatchSequence = { cache: model.newCache(512), tokens: [1, 403] };
 * ```
 */
export interface BatchSequence {
  /** Its KV cache (from `model.newCache()`); `length` is the position of the first new token. */
  cache: KVCache;
  /** Token ids appended after the cached ones (a prompt chunk or one decoded token). */
  tokens: readonly number[];
}

/**
 * Options of {@link forwardBatch}.
 *
 * @example
 * ```ts
 * import type { ForwardBatchOptions } from "@aprender/compute/llm";
 * const opts: ForwardBatchOptions = { allLogits: true };
 * console.log(opts.allLogits); // true
 * ```
 */
export interface ForwardBatchOptions {
  /** Logits of every new position (flat `[T_i · vocab]` per sequence) instead of the last. */
  allLogits?: boolean;
}

/**
 * Run one step of several sequences together and return each one's logits: `vocab` floats of its
 * last new token (or of every new token with `allLogits`). Every cache advances by its tokens.
 * The logits equal those of separate `forward` calls per sequence.
 *
 * @example
 * ```ts ignore
 * import { forwardBatch, loadModel } from "@aprender/compute/llm";
 * const model = await loadModel("stories260K.gguf");
 * const a = model.newCache(256), b = model.newCache(256);
 * const [la, lb] = forwardBatch(model, [
 *   { cache: a, tokens: [1, 403, 407] }, // a prompt
 *   { cache: b, tokens: [1] },
 * ]);
 * console.log(la.length === model.config.vocab); // true
 * a.dispose(), b.dispose();
 * ```
 */
export function forwardBatch(
  model: Model,
  seqs: readonly BatchSequence[],
  options: ForwardBatchOptions = {},
): Float32Array[] {
  if (seqs.length === 0) return [];
  for (const [i, s] of seqs.entries()) {
    if (s.cache.kvHeads !== model.config.kvHeads || s.cache.headDim !== model.config.headDim) {
      throw new ComputeError(
        `forwardBatch: sequence ${i}'s cache was made for another model. Hint: model.newCache().`,
      );
    }
  }
  const all = options.allLogits ?? false;
  const t = forwardSeqs(model.weights, model.config, seqs, all ? "all" : "last", model.activations);
  let flat: Float32Array;
  try {
    flat = t.dataSync() as Float32Array;
  } finally {
    t.dispose();
  }
  const V = model.config.vocab;
  const out: Float32Array[] = [];
  let r = 0;
  for (const s of seqs) {
    const rows = all ? s.tokens.length : 1;
    out.push(flat.slice(r * V, (r + rows) * V));
    r += rows;
  }
  return out;
}
