/**
 * A model's hyper-parameters, read from the `<arch>.*` keys of a GGUF file the way llama.cpp's
 * `llm_load_hparams` reads them, for the architectures the engine runs.
 *
 * @module
 */
import { FormatError } from "../../core/errors.ts";

/** The values of `general.architecture` the engine runs. */
export const SUPPORTED_ARCHITECTURES: readonly string[] = [
  "llama",
  "qwen2",
  "qwen3",
  "gemma3",
  "phi3",
  "gpt2",
  "bert",
  "nomic-bert",
];

/** Pair order of rotary embeddings: ggml's "normal" (x[2i], x[2i+1]) or NeoX (x[i], x[i+d/2]). */
export type RopeOrder = "normal" | "neox";

/** Hyper-parameters of a decoder-only transformer. */
export interface ModelConfig {
  /** `general.architecture`. */
  arch: string;
  /** Training context length (`<arch>.context_length`). */
  contextLength: number;
  /** Hidden size. */
  dim: number;
  /** Number of transformer blocks. */
  layers: number;
  /** Feed-forward hidden size. */
  ffn: number;
  /** Query heads. */
  heads: number;
  /** Key/value heads (GQA when fewer than `heads`). */
  kvHeads: number;
  /** Per-head size of keys and queries (`attention.key_length`, default dim / heads). */
  headDim: number;
  /** Per-head size of values (`attention.value_length`, default headDim). */
  valueDim: number;
  /** RMSNorm (LayerNorm for gpt2/bert) epsilon. */
  eps: number;
  /** RoPE base frequency. */
  ropeBase: number;
  /** Dimensions rotated per head (`rope.dimension_count`, default headDim). */
  ropeDims: number;
  /** Linear position scaling factor (`rope.scaling.type = linear`), 1 otherwise. */
  ropeScale: number;
  /** Pair order of the rotation. */
  ropeOrder: RopeOrder;
  /** Vocabulary size (rows of the token embedding). */
  vocab: number;
  /** Factor of the token embeddings (gemma3: √dim), 1 otherwise. */
  embedScale: number;
  /** Activation of the gated feed-forward: SwiGLU ("silu") or GeGLU ("gelu", tanh form). */
  ffnAct: "silu" | "gelu";
  /** Factor of the attention scores (1/√headDim). */
  attnScale: number;
  /** Sliding-window size of the local layers (gemma3), 0 when every layer sees everything. */
  slidingWindow: number;
  /** Every `swaPattern`-th layer is global, the others local (gemma3: 6); 0 when none is local. */
  swaPattern: number;
  /** RoPE base and linear scale of the local (sliding-window) layers. */
  ropeBaseLocal: number;
  /** Linear position scale of the local layers. */
  ropeScaleLocal: number;
  /** Training context before LongRoPE extension (phi3), 0 when none. */
  ropeOrigContext: number;
  /** Factor of cos/sin (LongRoPE's attention factor), 1 otherwise. */
  ropeAttnFactor: number;
  /** Causal attention (`<arch>.attention.causal`, default true; false for bert encoders). */
  causal: boolean;
  /** Pooling of embeddings the file asks for (`<arch>.pooling_type`), null when none. */
  pooling: "mean" | "cls" | "last" | null;
  /** Rows of the token-type embedding (`tokenizer.ggml.token_type_count`, bert; default 2). */
  tokenTypes: number;
}

/** Whether layer `l` of `cfg` attends through a sliding window (llama.cpp's swa pattern). */
export function isLocalLayer(cfg: ModelConfig, l: number): boolean {
  return cfg.slidingWindow > 0 && cfg.swaPattern > 0 && l % cfg.swaPattern < cfg.swaPattern - 1;
}

/** Read the hyper-parameters of `arch` from metadata `get`. */
export function readConfig(
  get: (key: string) => unknown,
  file: string,
  vocab: number,
): ModelConfig {
  const arch = get("general.architecture");
  if (typeof arch !== "string") {
    throw new FormatError(
      `loadModel: ${file} has no general.architecture string; is it a model GGUF file? ` +
        `Supported architectures: ${SUPPORTED_ARCHITECTURES.join(", ")}.`,
    );
  }
  if (!SUPPORTED_ARCHITECTURES.includes(arch)) {
    throw new FormatError(
      `loadModel: ${file}: architecture "${arch}" is not supported; supported: ` +
        `${SUPPORTED_ARCHITECTURES.join(", ")}.`,
    );
  }
  const num = (key: string, fallback?: number): number => {
    const v = get(`${arch}.${key}`);
    if (v === undefined && fallback !== undefined) return fallback;
    const x = typeof v === "bigint" ? Number(v) : v;
    if (typeof x !== "number" || !Number.isFinite(x)) {
      throw new FormatError(
        `loadModel: ${file}: "${arch}.${key}" is ${v === undefined ? "missing" : String(v)}; ` +
          `expected a number. Hint: the file may be truncated or from another converter.`,
      );
    }
    return x;
  };
  const posInt = (key: string, fallback?: number): number => {
    const x = num(key, fallback);
    if (!Number.isSafeInteger(x) || x <= 0) {
      throw new FormatError(
        `loadModel: ${file}: "${arch}.${key}" is ${x}; expected an integer > 0.`,
      );
    }
    return x;
  };
  const dim = posInt("embedding_length");
  const heads = posInt("attention.head_count");
  const kvHeads = posInt("attention.head_count_kv", heads);
  if (heads % kvHeads !== 0) {
    throw new FormatError(
      `loadModel: ${file}: ${heads} query heads are not a multiple of ${kvHeads} key/value heads.`,
    );
  }
  const headDim = posInt("attention.key_length", Math.floor(dim / heads));
  const scaling = get(`${arch}.rope.scaling.type`);
  const ropeScale = scaling === "linear" ? 1 / num("rope.scaling.factor", 1) : 1;
  if (scaling !== undefined && scaling !== "linear" && scaling !== "none") {
    throw new FormatError(
      `loadModel: ${file}: rope scaling "${String(scaling)}" is not supported (linear and ` +
        `Llama 3's frequency factors, rope_freqs.weight, are).`,
    );
  }
  const ropeDims = posInt("rope.dimension_count", headDim);
  if (ropeDims % 2 !== 0 || ropeDims > headDim) {
    throw new FormatError(
      `loadModel: ${file}: rope.dimension_count ${ropeDims} is odd or > ${headDim}.`,
    );
  }
  const isGemma = arch === "gemma3";
  const slidingWindow = isGemma ? num("attention.sliding_window", 0) : 0;
  if (!Number.isSafeInteger(slidingWindow) || slidingWindow < 0) {
    throw new FormatError(
      `loadModel: ${file}: "${arch}.attention.sliding_window" is ${slidingWindow}; expected an ` +
        `integer >= 0.`,
    );
  }
  const layers = posInt("block_count");
  // gpt2/bert normalize with LayerNorm, whose epsilon has its own key
  const isLn = arch === "gpt2" || arch === "bert" || arch === "nomic-bert";
  const causal = get(`${arch}.attention.causal`) ?? true;
  if (typeof causal !== "boolean") {
    throw new FormatError(
      `loadModel: ${file}: "${arch}.attention.causal" is ${String(causal)}; expected a boolean.`,
    );
  }
  // llama.cpp's pooling types 1 mean, 2 cls, 3 last; none (0) and rank (4) give no default
  const pooling = ([null, "mean", "cls", "last"] as const)[num("pooling_type", 0)] ?? null;
  const ttc = get("tokenizer.ggml.token_type_count") ?? 2;
  const tokenTypes = typeof ttc === "bigint" ? Number(ttc) : ttc;
  if (typeof tokenTypes !== "number" || !Number.isSafeInteger(tokenTypes) || tokenTypes < 1) {
    throw new FormatError(
      `loadModel: ${file}: "tokenizer.ggml.token_type_count" is ${String(ttc)}; expected an ` +
        `integer >= 1.`,
    );
  }
  return {
    arch,
    contextLength: posInt("context_length"),
    dim,
    layers,
    ffn: posInt("feed_forward_length"),
    heads,
    kvHeads,
    headDim,
    valueDim: posInt("attention.value_length", headDim),
    eps: isLn ? num("attention.layer_norm_epsilon") : num("attention.layer_norm_rms_epsilon", 1e-5),
    ropeBase: num("rope.freq_base", 10000),
    ropeDims,
    ropeScale,
    ropeOrder: arch === "llama" ? "normal" : "neox",
    vocab,
    embedScale: isGemma ? Math.sqrt(dim) : 1,
    ffnAct: isGemma ? "gelu" : "silu",
    // llama.cpp: Gemma 3 27B (62 layers) scales by 1/√(dim/heads), the others by 1/√headDim
    attnScale: 1 / Math.sqrt(isGemma && layers === 62 ? dim / heads : headDim),
    // llama.cpp: gemma3's local layers use base 10000, unscaled; phi3's window is ignored
    slidingWindow,
    swaPattern: isGemma ? 6 : 0,
    ropeBaseLocal: isGemma ? 10000 : num("rope.freq_base", 10000),
    ropeScaleLocal: isGemma ? 1 : ropeScale,
    ropeOrigContext: num("rope.scaling.original_context_length", 0),
    ropeAttnFactor: num("rope.scaling.attn_factor", 1),
    causal,
    pooling,
    tokenTypes,
  };
}
