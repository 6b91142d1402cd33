/**
 * Training our own small language model: a byte-level BPE trainer, a trainable llama decoder
 * built from `nn`, and its GGUF export.
 *
 * @example
 * ```ts
 * import { Llama, trainBpe } from "@aprender/compute/llm/train";
 * const bpe = trainBpe("in the beginning", { vocabSize: 260 });
 * const m = new Llama({ vocabSize: bpe.tokens.length, dim: 32, layers: 1, heads: 4, kvHeads: 2, ffn: 64, context: 16 });
 * console.log(m.countParameters() > 0); // true
 * ```
 *
 * @module
 */
export {
  bpeMetadata,
  preTokenize,
  trainBpe,
  type TrainBpeOptions,
  type TrainedBpe,
} from "./bpe_train.ts";
export { Llama, LlamaBlock, type LlamaConfig } from "./llama.ts";
export { exportLlamaGguf, type ExportOptions, ggufName, llamaMetadata } from "./export.ts";
export { type LoadedLlama, loadLlamaGguf } from "./import.ts";
