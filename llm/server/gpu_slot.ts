/**
 * The server's single slot on the GPU (`deno task serve --backend webgpu`): which requests the
 * GPU decoder (llm/model/gpu/decoder.ts) takes — greedy, or seeded top-k ≤ 64 → top-p → min-p →
 * temperature sampling as llm/model/gpu/sample.ts draws it — and the end-of-generation ids it
 * stops at. Requests with penalties, logit bias, typical sampling, a grammar or logprobs run on
 * the CPU (they need the logits on the host at every step).
 *
 * @module
 */
import type { SamplerOptions } from "../sampling/sampler.ts";
import { type GpuSampling, MAX_TOP_K } from "../model/gpu/sample.ts";
import type { Tokenizer } from "../tokenizer/tokenizer.ts";

/**
 * The GPU sampling of a request made with sampler options `o` (`{}` = greedy), or why it must run
 * on the CPU.
 *
 * @example
 * ```ts ignore
 * const g = gpuSamplingOf({ temperature: 0 }); // {} (greedy)
 * const h = gpuSamplingOf({ temperature: 0.8, topK: 0 }); // "top_k 0 (the GPU takes 1..64)"
 * ```
 */
export function gpuSamplingOf(
  o: SamplerOptions | undefined,
): { sampling?: GpuSampling } | string {
  if (!o) return "no sampler settings";
  const penalties = (o.repeatPenalty ?? 1) !== 1 || (o.frequencyPenalty ?? 0) !== 0 ||
    (o.presencePenalty ?? 0) !== 0;
  if (penalties && (o.penaltyLastN ?? 64) > 0) return "repetition penalties";
  const bias = o.logitBias instanceof Map
    ? o.logitBias.size
    : Object.keys(o.logitBias ?? {}).length;
  if (bias) return "logit_bias";
  if ((o.typicalP ?? 1) < 1) return "typical sampling";
  const temperature = o.temperature ?? 0.8;
  if (temperature <= 0) return {};
  const topK = o.topK ?? 40;
  if (!(topK >= 1 && topK <= MAX_TOP_K)) return `top_k ${topK} (the GPU takes 1..${MAX_TOP_K})`;
  const seed = typeof o.seed === "bigint" ? o.seed : BigInt(o.seed ?? 0);
  if (seed < 0n || seed > BigInt(Number.MAX_SAFE_INTEGER)) return `seed ${seed}`;
  return {
    sampling: {
      temperature,
      topK,
      topP: o.topP ?? 0.95,
      minP: o.minP ?? 0.05,
      seed: Number(seed),
      minKeep: o.minKeep ?? 0,
    },
  };
}

/**
 * Every id of `tok`'s vocabulary of `vocab` entries that ends a generation.
 *
 * @example
 * ```ts ignore
 * const stop = eogIds(model.tokenizer, model.config.vocab);
 * ```
 */
export function eogIds(tok: Tokenizer, vocab: number): number[] {
  const out: number[] = [];
  for (let id = 0; id < vocab; id++) if (tok.isEog(id)) out.push(id);
  return out;
}
