/**
 * Writing a trained {@link Llama} as a GGUF file llama.cpp loads: `general.architecture =
 * llama`, every `llama.*` hyper-parameter key, the tokenizer metadata, and the weights in F32
 * under GGUF's tensor names (the output projection is tied to `token_embd.weight`, which
 * llama.cpp uses when `output.weight` is absent). Quantized copies come from `quantizeGguf`.
 *
 * @module
 */
import { saveGguf } from "../../io/gguf/write.ts";
import type { GgufValueInput } from "../../io/gguf/write.ts";
import type { Llama } from "./llama.ts";

/** Options of {@link exportLlamaGguf}. */
export interface ExportOptions {
  /** `tokenizer.*` keys (e.g. from `bpeMetadata`). */
  tokenizer: Record<string, unknown>;
  /** `general.name` (default "aprender-lm"). */
  name?: string;
  /** More metadata, written after the standard keys. */
  extra?: Record<string, GgufValueInput>;
}

/** GGUF tensor name of a state-dict key (`layers.3.attn_q.weight` → `blk.3.attn_q.weight`). */
export function ggufName(key: string): string {
  return key.replace(/^layers\./, "blk.");
}

/**
 * The GGUF metadata of a model: architecture, hyper-parameters, tokenizer.
 *
 * @example
 * ```ts
 * import { Llama, llamaMetadata } from "@aprender/compute/llm/train";
 * const m = new Llama({ vocabSize: 64, dim: 32, layers: 1, heads: 4, kvHeads: 2, ffn: 64, context: 16 });
 * console.log(llamaMetadata(m, { tokenizer: {} })["llama.attention.head_count_kv"]); // 2
 * ```
 */
export function llamaMetadata(
  model: Llama,
  options: ExportOptions,
): Record<string, GgufValueInput> {
  const c = model.config;
  return {
    "general.architecture": "llama",
    "general.name": options.name ?? "aprender-lm",
    "general.file_type": 0, // all F32
    "llama.vocab_size": c.vocabSize,
    "llama.context_length": c.context,
    "llama.embedding_length": c.dim,
    "llama.block_count": c.layers,
    "llama.feed_forward_length": c.ffn,
    "llama.attention.head_count": c.heads,
    "llama.attention.head_count_kv": c.kvHeads,
    "llama.rope.dimension_count": c.dim / c.heads,
    "llama.rope.freq_base": { type: "f32", value: c.ropeBase },
    "llama.attention.layer_norm_rms_epsilon": { type: "f32", value: c.normEps },
    ...(options.tokenizer as Record<string, GgufValueInput>),
    ...options.extra,
  };
}

/**
 * Write `model` to `path` as an F32 GGUF file.
 *
 * @example
 * ```ts
 * import { Llama, bpeMetadata, exportLlamaGguf, trainBpe } from "@aprender/compute/llm/train";
 * const bpe = trainBpe("in the beginning", { vocabSize: 260 });
 * const m = new Llama({ vocabSize: 260, dim: 32, layers: 1, heads: 4, kvHeads: 2, ffn: 64, context: 16 });
 * await exportLlamaGguf(await Deno.makeTempFile({ suffix: ".gguf" }), m, { tokenizer: bpeMetadata(bpe) });
 * ```
 */
export async function exportLlamaGguf(
  path: string | URL,
  model: Llama,
  options: ExportOptions,
): Promise<void> {
  const sd = model.stateDict();
  const order = ["token_embd.weight"];
  for (let i = 0; i < model.config.layers; i++) {
    for (
      const n of [
        "attn_norm",
        "attn_q",
        "attn_k",
        "attn_v",
        "attn_output",
        "ffn_norm",
        "ffn_gate",
        "ffn_up",
        "ffn_down",
      ]
    ) order.push(`layers.${i}.${n}.weight`);
  }
  order.push("output_norm.weight");
  const tensors = order.map((k) => {
    const t = sd[k];
    return {
      name: ggufName(k),
      shape: t.shape,
      type: "f32" as const,
      data: () => Float32Array.from(t.dataSync() as Float32Array),
    };
  });
  await saveGguf(path, { metadata: llamaMetadata(model, options), tensors });
}
