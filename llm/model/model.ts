/**
 * `loadModel` and the {@link Model} it returns: a GGUF decoder (llama, qwen2, qwen3) with its
 * tokenizer and chat template, batched prefill, cached decode and streaming generation.
 *
 * @module
 */
import { ComputeError } from "../../core/errors.ts";
import type { Tensor } from "../../core/tensor.ts";
import { openGguf } from "../../io/gguf/read.ts";
import type { GgufFile } from "../../io/gguf/read.ts";
import { type ChatMessage, chatPrompt, type ChatRenderOptions, ChatTemplate } from "../chat.ts";
import { Sampler, type SamplerOptions } from "../sampling/sampler.ts";
import { StopMatcher } from "../stop.ts";
import { Tokenizer } from "../tokenizer/tokenizer.ts";
import { type ModelConfig, readConfig } from "./config.ts";
import { forward, KVCache } from "./forward.ts";
import { type LoadProgress, loadWeights, type ModelWeights, weightTensors } from "./weights.ts";

/**
 * Thrown when a prompt plus the tokens asked for do not fit the model's context.
 *
 * @example
 * ```ts
 * import { ContextLimitError } from "@aprender/compute/llm";
 * console.log(new ContextLimitError("full").name); // "ContextLimitError"
 * ```
 */
export class ContextLimitError extends ComputeError {}

/** Options of {@link loadModel}. */
export interface LoadModelOptions {
  /** Positions the KV cache holds (default: the model's context length, at most 4096). */
  contextLength?: number;
  /** Called as tensor bytes are read: `(loaded, total)`. */
  onProgress?: LoadProgress;
  /**
   * Activation rounding of quantized products: "f32" (default, exact) or "ggml" (rounded like
   * llama.cpp's CPU path: Q8_0/Q8_K activations, to reproduce its numbers).
   */
  activations?: "f32" | "ggml";
  /** Element type of the KV cache: "f32" (default) or "f16" (half the memory, llama.cpp's default). */
  cacheType?: "f32" | "f16";
}

/** Options of {@link Model.generate}: sampling (see `SamplerOptions`) plus the stopping rules. */
export interface GenerateOptions extends SamplerOptions {
  /** Most tokens to generate (default 256). */
  maxTokens?: number;
  /** Strings that end the answer (not included in the output). */
  stop?: readonly string[];
  /** Cancels the generation: the stream ends after the current token. */
  signal?: AbortSignal;
  /** Match control tokens spelled in a text prompt (default false; chat turns them on). */
  parseSpecial?: boolean;
}

/** Timings and token counts of the last generation. */
export interface GenerationStats {
  /** Prompt tokens. */
  promptTokens: number;
  /** Milliseconds of the prefill. */
  promptMs: number;
  /** Tokens generated. */
  decodeTokens: number;
  /** Milliseconds of decoding (after the first token). */
  decodeMs: number;
  /** Why it ended. */
  stopReason: "eos" | "stop" | "length" | "abort";
  /** The generated token ids. */
  tokens: number[];
}

/** Metadata values (arrays as their items) of the keys starting with `prefix`. */
function metaObject(f: GgufFile, prefix: string): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const k of f.metadata.keys()) if (k.startsWith(prefix)) o[k] = f.get(k);
  return o;
}

/**
 * A loaded model. Create with {@link loadModel}; free with `dispose()`.
 *
 * @example
 * ```ts ignore
 * import { loadModel } from "@aprender/compute/llm";
 * const model = await loadModel("stories260K.gguf");
 * for await (const piece of model.generate("Once upon a time", { maxTokens: 32, temperature: 0 })) {
 *   console.log(piece);
 * }
 * model.dispose();
 * ```
 */
export class Model {
  /** Hyper-parameters. */
  readonly config: ModelConfig;
  /** The tokenizer from the file's vocabulary. */
  readonly tokenizer: Tokenizer;
  /** Statistics of the last `generate`. */
  stats: GenerationStats | null = null;
  private readonly cache: KVCache;
  private readonly tokenMeta: Record<string, unknown>;
  private template: ChatTemplate | null = null;
  private disposed = false;

  /** @internal use {@link loadModel} */
  constructor(
    config: ModelConfig,
    tokenizer: Tokenizer,
    tokenMeta: Record<string, unknown>,
    private readonly weights: ModelWeights,
    contextLength: number,
    private readonly activations: "f32" | "ggml",
    cacheType: "f32" | "f16" = "f32",
  ) {
    this.config = config;
    this.tokenizer = tokenizer;
    this.tokenMeta = tokenMeta;
    this.cache = new KVCache(config, contextLength, cacheType);
  }

  /** Positions the KV cache holds. */
  get contextLength(): number {
    return this.cache.size;
  }

  /** Bytes of the KV cache. */
  get cacheBytes(): number {
    return this.cache.bytes;
  }

  /** The chat template of the file (`tokenizer.chat_template`) or a built-in fallback. */
  get chatTemplate(): ChatTemplate {
    this.template ??= ChatTemplate.fromGguf(this.tokenMeta);
    return this.template;
  }

  /** Throw once disposed. */
  private check(): void {
    if (this.disposed) throw new ComputeError("Model: the model was disposed.");
  }

  /** Forward `tokens` after the cached ones; logits of every new position or of the last. */
  private run(tokens: readonly number[], all: boolean): Float32Array {
    if (this.cache.length + tokens.length > this.cache.size) {
      throw new ContextLimitError(
        `Model: ${this.cache.length} tokens in context + ${tokens.length} new exceed the ` +
          `context of ${this.cache.size}. Hint: loadModel(path, { contextLength: N }) with a ` +
          `larger N (the model was trained on ${this.config.contextLength}), or a shorter prompt.`,
      );
    }
    const t: Tensor = forward(this.weights, this.config, this.cache, tokens, {
      allLogits: all,
      activations: this.activations,
    });
    try {
      return (t.dataSync() as Float32Array).slice();
    } finally {
      t.dispose();
    }
  }

  /**
   * Logits after each of `tokens` (from an empty context): one Float32Array of `vocab` per
   * position.
   */
  logits(tokens: readonly number[]): Float32Array[] {
    this.check();
    this.cache.length = 0;
    const flat = this.run(tokens, true);
    const V = this.config.vocab;
    return tokens.map((_, i) => flat.slice(i * V, (i + 1) * V));
  }

  /**
   * Generate a continuation of `prompt` (text, tokenized with BOS as the vocabulary asks, or token
   * ids), streaming decoded text pieces. Ends at EOS/EOG, a stop string, `maxTokens` or the
   * signal; `stats` then says which and how fast.
   */
  async *generate(
    prompt: string | readonly number[],
    options: GenerateOptions = {},
  ): AsyncGenerator<string, void, undefined> {
    this.check();
    const ids = typeof prompt === "string"
      ? this.tokenizer.encode(prompt, { addSpecial: true, parseSpecial: options.parseSpecial })
      : [...prompt];
    if (ids.length === 0) {
      throw new ComputeError("Model.generate: the prompt is empty (no tokens). Hint: pass text.");
    }
    const maxTokens = options.maxTokens ?? 256;
    const sampler = new Sampler(options);
    const stream = this.tokenizer.streamDecoder();
    const stops = new StopMatcher(options.stop ?? []);
    const stats: GenerationStats = {
      promptTokens: ids.length,
      promptMs: 0,
      decodeTokens: 0,
      decodeMs: 0,
      stopReason: "length",
      tokens: [],
    };
    this.stats = stats;
    for (const id of ids) sampler.accept(id);
    this.cache.length = 0;
    const t0 = performance.now();
    let logits = this.run(ids, false);
    stats.promptMs = performance.now() - t0;
    const t1 = performance.now();
    for (let n = 0; n < maxTokens; n++) {
      if (options.signal?.aborted) {
        stats.stopReason = "abort";
        break;
      }
      const tok = sampler.sample(logits);
      sampler.accept(tok);
      if (this.tokenizer.isEog(tok)) {
        stats.stopReason = "eos";
        break;
      }
      stats.tokens.push(tok);
      stats.decodeTokens++;
      const { text, stop } = stops.push(stream.push(tok));
      if (text) yield text;
      if (stop !== null) {
        stats.stopReason = "stop";
        break;
      }
      if (n + 1 < maxTokens) {
        if (this.cache.length + 1 > this.cache.size) {
          throw new ContextLimitError(
            `Model.generate: the context of ${this.cache.size} positions is full after ` +
              `${stats.decodeTokens} generated tokens. Hint: a smaller maxTokens, or ` +
              `loadModel(path, { contextLength: N }).`,
          );
        }
        logits = this.run([tok], false);
        // let timers and signal handlers run (Ctrl-C in the chat CLI)
        if (options.signal) await new Promise((r) => setTimeout(r, 0));
      }
    }
    stats.decodeMs = performance.now() - t1;
    if (stats.stopReason !== "stop") {
      const rest = stops.push(stream.flush()).text + stops.flush();
      if (rest) yield rest;
    }
  }

  /**
   * Answer a conversation with the file's chat template (the assistant turn is opened for you).
   */
  chat(
    messages: readonly ChatMessage[],
    options: GenerateOptions & { template?: ChatRenderOptions } = {},
  ): AsyncGenerator<string, void, undefined> {
    this.check();
    const { ids } = chatPrompt(this.tokenizer, this.chatTemplate, messages, {
      addGenerationPrompt: true,
      ...options.template,
    });
    return this.generate(ids, options);
  }

  /** Free the weights and the KV cache. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.cache.dispose();
    for (const t of weightTensors(this.weights)) t.dispose();
  }

  /** `using model = await loadModel(p)`. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * Load a GGUF model (llama, qwen2, qwen3), reading tensors one by one (never the whole file);
 * quantized weights stay packed.
 *
 * @example
 * ```ts ignore
 * import { loadModel } from "@aprender/compute/llm";
 * const model = await loadModel("stories260K.gguf", { contextLength: 256 });
 * console.log(model.config.arch, model.tokenizer.size); // "llama" 512
 * model.dispose();
 * ```
 */
export async function loadModel(
  path: string | URL,
  options: LoadModelOptions = {},
): Promise<Model> {
  const f = await openGguf(path);
  try {
    const tokenMeta = metaObject(f, "tokenizer.");
    const tokenizer = new Tokenizer(tokenMeta);
    const cfg = readConfig((k) => f.get(k), f.name, f.tensorInfo("token_embd.weight").shape[0]);
    const ctx = options.contextLength ?? Math.min(cfg.contextLength, 4096);
    if (!Number.isSafeInteger(ctx) || ctx <= 0) {
      throw new ContextLimitError(`loadModel: contextLength must be an integer > 0, got ${ctx}.`);
    }
    const w = loadWeights(f, cfg, options.onProgress);
    try {
      return new Model(
        cfg,
        tokenizer,
        tokenMeta,
        w,
        ctx,
        options.activations ?? "f32",
        options.cacheType ?? "f32",
      );
    } catch (e) {
      for (const t of weightTensors(w)) t.dispose();
      throw e;
    }
  } finally {
    f.close();
  }
}
