/**
 * Reading a llama GGUF file (ours, or any F32/quantized llama file of the same layout with a
 * tied or separate output) back into a trainable {@link Llama}: the hyper-parameters from the
 * `llama.*` keys, the weights dequantized to f32, and the `tokenizer.*` metadata kept as typed
 * values so an export after fine-tuning writes them unchanged.
 *
 * @module
 */
import { FormatError } from "../../core/errors.ts";
import { openGguf } from "../../io/gguf/read.ts";
import { readAsF32 } from "../../io/gguf/quantize.ts";
import type { GgufValue } from "../../io/gguf/types.ts";
import { noGrad } from "../../core/autograd.ts";
import { fromTyped } from "../../core/ops/creation.ts";
import { copyInto } from "../../core/ops/view.ts";
import { ggufName } from "./export.ts";
import { Llama } from "./llama.ts";

/** What {@link loadLlamaGguf} returns. */
export interface LoadedLlama {
  /** The model, weights in f32. */
  model: Llama;
  /** The file's `tokenizer.*` keys, typed. */
  tokenizer: Record<string, GgufValue>;
  /** The same keys as plain values (arrays as their items): what `Tokenizer` takes. */
  vocab: Record<string, unknown>;
  /** `general.name`, if any. */
  name: string | undefined;
}

/**
 * Load a llama GGUF file into a trainable model.
 *
 * @example
 * ```ts
 * import { Llama, bpeMetadata, exportLlamaGguf, loadLlamaGguf, trainBpe } from "@aprender/compute/llm/train";
 * const bpe = trainBpe("in the beginning", { vocabSize: 260 });
 * const m = new Llama({ vocabSize: 260, dim: 32, layers: 1, heads: 4, kvHeads: 2, ffn: 64, context: 16 });
 * const path = await Deno.makeTempFile({ suffix: ".gguf" });
 * await exportLlamaGguf(path, m, { tokenizer: bpeMetadata(bpe) });
 * const { model } = await loadLlamaGguf(path);
 * console.log(model.config.kvHeads); // 2
 * ```
 */
export async function loadLlamaGguf(path: string | URL): Promise<LoadedLlama> {
  using f = await openGguf(path);
  const arch = f.get("general.architecture");
  if (arch !== "llama") {
    throw new FormatError(
      `loadLlamaGguf: ${path} has general.architecture ${JSON.stringify(arch)}, not "llama".`,
    );
  }
  const num = (k: string, fallback?: number): number => {
    const v = f.get(`llama.${k}`);
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== "number" && typeof v !== "bigint") {
      throw new FormatError(`loadLlamaGguf: ${path}: llama.${k} is missing or not a number.`);
    }
    return Number(v);
  };
  const embd = f.tensorInfo("token_embd.weight");
  const vocabSize = embd.shape[0];
  const model = new Llama({
    vocabSize: num("vocab_size", vocabSize),
    dim: num("embedding_length"),
    layers: num("block_count"),
    heads: num("attention.head_count"),
    kvHeads: num("attention.head_count_kv", num("attention.head_count")),
    ffn: num("feed_forward_length"),
    context: num("context_length"),
    normEps: num("attention.layer_norm_rms_epsilon", 1e-5),
    ropeBase: num("rope.freq_base", 10000),
  });
  if (f.tensors.some((t) => t.name === "output.weight")) {
    model.dispose();
    throw new FormatError(
      `loadLlamaGguf: ${path} has a separate output.weight; this trainer ties the output to ` +
        `token_embd.weight.`,
    );
  }
  noGrad(() => {
    for (const [k, t] of Object.entries(model.stateDict())) {
      const w = readAsF32(f, ggufName(k));
      if (w.length !== t.size) {
        throw new FormatError(
          `loadLlamaGguf: ${path}: ${ggufName(k)} has ${w.length} values, the model needs ` +
            `${t.size} (shape [${t.shape.join(", ")}]).`,
        );
      }
      const src = fromTyped(w, t.shape, "f32");
      copyInto(t, src);
      src.dispose();
    }
  });
  const tokenizer: Record<string, GgufValue> = {}, vocab: Record<string, unknown> = {};
  for (const [k, v] of f.metadata) {
    if (k.startsWith("tokenizer.")) tokenizer[k] = v, vocab[k] = f.get(k);
  }
  const name = f.get("general.name");
  return { model, tokenizer, vocab, name: typeof name === "string" ? name : undefined };
}
