/**
 * `loadModel` and the {@link Model} it returns: a GGUF decoder (llama, qwen2, qwen3, gemma3, phi3,
 * gpt2) or encoder (bert, nomic-bert: for embeddings) with its
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
import { forward, forwardSeqs } from "./forward.ts";
import { CACHE_TYPES, type CacheType, KVCache } from "./kv_cache.ts";
import {
  chunkReader,
  type LoadProgress,
  loadWeights,
  type ModelWeights,
  weightTensors,
} from "./weights.ts";
import { shiftContext } from "./shift.ts";
import { repackLinearWeights } from "./repack.ts";

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
  /**
   * Element type of the KV cache: "f32" (default), "f16" (half the memory, llama.cpp's default)
   * or "q8_0" (~27% of f32; head sizes must be multiples of 32).
   */
  cacheType?: CacheType;
  /**
   * Repack Q4_0 projection weights in place at load into the layout the WASM kernels stream
   * (backends/wasm/qrepack.ts: same bytes, no copy, the same results bit for bit). Default: on
   * with `activations: "ggml"`, off with "f32". Repacked weights are read only by the WASM
   * `quantLinear` kernel, so leave it off to read `model.weights` bytes yourself.
   */
  repack?: boolean;
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
  /**
   * When the context is full, drop the oldest half of the tokens after the first `keep` and
   * re-rotate the kept keys to their new positions (llama.cpp's context shift), instead of the
   * default `ContextLimitError`.
   */
  contextShift?: boolean;
  /** Tokens kept at the start by a context shift (default: 1 when the prompt starts with BOS). */
  keep?: number;
}

/**
 * Options of {@link Model.embed}.
 *
 * @example
 * ```ts
 * import type { EmbedOptions } from "@aprender/compute/llm";
 * const opts: EmbedOptions = { pooling: "last", normalize: false };
 * console.log(opts.pooling); // "last"
 * ```
 */
export interface EmbedOptions {
  /**
   * How positions are pooled: their mean, the first ("cls") or the last ("last"). Default: the
   * file's `<arch>.pooling_type` (e.g. a BERT embedding model's), else the mean.
   */
  pooling?: "mean" | "cls" | "last";
  /** Scale each vector to unit L2 norm (default true). */
  normalize?: boolean;
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
  /** @internal the weights (for `forwardBatch`). */
  readonly weights: ModelWeights;
  /** Activation rounding of quantized products ("f32" or "ggml"). */
  readonly activations: "f32" | "ggml";
  private readonly tokenMeta: Record<string, unknown>;
  private template: ChatTemplate | null = null;
  private disposed = false;

  /** @internal use {@link loadModel} */
  constructor(
    config: ModelConfig,
    tokenizer: Tokenizer,
    tokenMeta: Record<string, unknown>,
    weights: ModelWeights,
    contextLength: number,
    activations: "f32" | "ggml",
    cacheType: CacheType = "f32",
  ) {
    this.weights = weights;
    this.activations = activations;
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

  /** Element type of the KV cache. */
  get cacheType(): CacheType {
    return this.cache.dtype;
  }

  /**
   * A new, empty KV cache for one more sequence of this model (for `forwardBatch`); the caller
   * disposes it.
   *
   * @param size positions (default: the model's context length)
   * @param dtype element type (default: the model's cache type)
   */
  newCache(size: number = this.cache.size, dtype: CacheType = this.cache.dtype): KVCache {
    this.check();
    return new KVCache(this.config, size, dtype);
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

  /** Throw for an encoder (bert): it has no output layer to predict tokens with. */
  private checkDecoder(op: string): void {
    if (this.weights.ln && this.weights.ln.output === null) {
      throw new ComputeError(
        `Model.${op}: this ${this.config.arch} model is an encoder (bidirectional, no output ` +
          `layer): it embeds text but does not generate. Hint: model.embed(texts).`,
      );
    }
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
    this.checkDecoder("logits");
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
    this.checkDecoder("generate");
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
        if (this.cache.length + 1 > this.cache.size && options.contextShift) {
          if (this.weights.ln) {
            throw new ContextLimitError(
              `Model.generate: ${this.config.arch} has learned positions: its context of ` +
                `${this.cache.size} cannot be shifted. Hint: a smaller maxTokens.`,
            );
          }
          const keep = options.keep ?? (ids[0] === this.tokenizer.bos ? 1 : 0);
          const discard = Math.floor((this.cache.length - keep) / 2);
          if (!Number.isSafeInteger(keep) || keep < 0 || discard < 1) {
            throw new ContextLimitError(
              `Model.generate: cannot shift the context of ${this.cache.size}: keep = ${keep} ` +
                `leaves nothing to drop. Hint: a smaller keep.`,
            );
          }
          shiftContext(this, this.cache, keep, discard);
        }
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

  /**
   * Embeddings of texts (tokenized with BOS/EOS as the vocabulary asks) or of token id lists:
   * the final-normed hidden states of every position, pooled (mean by default) and L2-normalized
   * unless `normalize: false`. Inputs run together as one batch, each with its own cache; the
   * model's generation cache is untouched.
   *
   * @example
   * ```ts ignore
   * const [a, b] = await model.embed(["a cat", "a dog"]);
   * console.log(a.length === model.config.dim); // true
   * ```
   */
  // deno-lint-ignore require-await
  async embed(
    input: string | readonly string[] | readonly (readonly number[])[],
    options: EmbedOptions = {},
  ): Promise<Float32Array[]> {
    this.check();
    const pooling = options.pooling ?? this.config.pooling ?? "mean";
    if (!["mean", "cls", "last"].includes(pooling)) {
      throw new ComputeError(
        `Model.embed: pooling ${JSON.stringify(pooling)} is not "mean", "cls" or "last".`,
      );
    }
    const items = typeof input === "string" ? [input] : input;
    const seqs = items.map((x, i) => {
      const ids = typeof x === "string" ? this.tokenizer.encode(x, { addSpecial: true }) : [...x];
      if (ids.length === 0) {
        throw new ComputeError(`Model.embed: input ${i} has no tokens. Hint: pass some text.`);
      }
      return ids;
    });
    const D = this.config.dim;
    const out: Float32Array[] = [];
    // batches of at most ~512 rows, each input with a cache of its own length
    for (let i = 0; i < seqs.length;) {
      let j = i, rows = 0;
      while (j < seqs.length && (j === i || rows + seqs[j].length <= 512)) rows += seqs[j++].length;
      const batch = seqs.slice(i, j).map((tokens) => ({
        tokens,
        cache: new KVCache(this.config, tokens.length, "f32"),
      }));
      try {
        const t = forwardSeqs(this.weights, this.config, batch, "hidden", this.activations);
        let h: Float32Array;
        try {
          h = t.dataSync() as Float32Array;
        } finally {
          t.dispose();
        }
        let r = 0;
        for (const { tokens } of batch) {
          const v = new Float32Array(D);
          const T = tokens.length;
          const [from, to] = pooling === "cls" ? [0, 1] : pooling === "last" ? [T - 1, T] : [0, T];
          for (let p = from; p < to; p++) {
            for (let d = 0; d < D; d++) v[d] += h[(r + p) * D + d];
          }
          for (let d = 0; d < D; d++) v[d] /= to - from;
          if (options.normalize ?? true) {
            let ss = 0;
            for (let d = 0; d < D; d++) ss += v[d] * v[d];
            const inv = ss > 0 ? 1 / Math.sqrt(ss) : 0;
            for (let d = 0; d < D; d++) v[d] *= inv;
          }
          out.push(v);
          r += T;
        }
      } finally {
        for (const b of batch) b.cache.dispose();
      }
      i = j;
    }
    return out;
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
 * Load a GGUF model (llama, qwen2, qwen3, gemma3, phi3, gpt2, bert, nomic-bert), reading
 * tensors one by one (never the whole file);
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
    if (options.cacheType !== undefined && !CACHE_TYPES.includes(options.cacheType)) {
      throw new ComputeError(
        `loadModel: cacheType ${JSON.stringify(options.cacheType)} is not one of ` +
          `${CACHE_TYPES.join(", ")}.`,
      );
    }
    if (!Number.isSafeInteger(ctx) || ctx <= 0) {
      throw new ContextLimitError(`loadModel: contextLength must be an integer > 0, got ${ctx}.`);
    }
    const reader = chunkReader(path);
    let w: ModelWeights;
    try {
      w = loadWeights(f, cfg, options.onProgress, reader);
    } finally {
      reader.close();
    }
    try {
      if (options.repack ?? (options.activations === "ggml")) {
        repackLinearWeights(w, options.activations ?? "f32");
      }
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
