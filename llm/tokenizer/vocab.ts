/**
 * The tokenizer's view of a GGUF file: the `tokenizer.ggml.*` metadata values, checked.
 *
 * Reading the file is the GGUF reader's job; this module takes the metadata values as plain
 * JavaScript values (a GGUF reader's key/value map can be passed as it is) and validates every
 * count, id and type before anything is built from them.
 *
 * @module
 */
import { FormatError } from "../../core/errors.ts";

/**
 * The GGUF metadata keys a tokenizer is built from, exactly as GGUF names them.
 *
 * Integer values may be `number` or `bigint` (GGUF readers return u64 as bigint); arrays may be
 * plain arrays or typed arrays.
 *
 * @example
 * ```ts
 * import type { GgufVocab } from "@aprender/compute/llm";
 * const vocab: GgufVocab = {
 *   "tokenizer.ggml.model": "llama",
 *   "tokenizer.ggml.tokens": ["<unk>", "<s>", "</s>", "▁a"],
 *   "tokenizer.ggml.scores": [0, 0, 0, -1],
 *   "tokenizer.ggml.token_type": [2, 3, 3, 1],
 * };
 * console.log(vocab["tokenizer.ggml.model"]); // "llama"
 * ```
 */
export interface GgufVocab {
  /** `"llama"` (SentencePiece), `"gpt2"` (byte-level BPE) or `"bert"` (WordPiece). */
  "tokenizer.ggml.model": string;
  /** The BPE pre-tokenizer (`llama-bpe`, `qwen2`, `gpt-4o`, `default`, ...). */
  "tokenizer.ggml.pre"?: string;
  /** Token texts, one per id. */
  "tokenizer.ggml.tokens": readonly string[];
  /** SentencePiece scores, one per id. */
  "tokenizer.ggml.scores"?: ArrayLike<number>;
  /** Token types, one per id: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte. */
  "tokenizer.ggml.token_type"?: ArrayLike<number>;
  /** BPE merges, `"left right"`, highest priority first. */
  "tokenizer.ggml.merges"?: readonly string[];
  /** Begin-of-sequence token id. */
  "tokenizer.ggml.bos_token_id"?: number | bigint;
  /** End-of-sequence token id. */
  "tokenizer.ggml.eos_token_id"?: number | bigint;
  /** Unknown token id. */
  "tokenizer.ggml.unknown_token_id"?: number | bigint;
  /** Padding token id. */
  "tokenizer.ggml.padding_token_id"?: number | bigint;
  /** Separator token id (WordPiece: appended after the text, default 102). */
  "tokenizer.ggml.seperator_token_id"?: number | bigint;
  /** End-of-turn token id (an end-of-generation token). */
  "tokenizer.ggml.eot_token_id"?: number | bigint;
  /** End-of-message token id (an end-of-generation token). */
  "tokenizer.ggml.eom_token_id"?: number | bigint;
  /** Whether `encode(..., {addSpecial: true})` prepends BOS. */
  "tokenizer.ggml.add_bos_token"?: boolean;
  /** Whether `encode(..., {addSpecial: true})` appends EOS. */
  "tokenizer.ggml.add_eos_token"?: boolean;
  /** SentencePiece: prefix raw text with a space (default true for `llama`). */
  "tokenizer.ggml.add_space_prefix"?: boolean;
  /** The Jinja chat template, when the file has one. */
  "tokenizer.chat_template"?: string;
}

/**
 * Token attributes (llama.cpp's `llama_token_attr` for the GGUF token types).
 *
 * @example
 * ```ts
 * import { TokenAttr } from "@aprender/compute/llm";
 * console.log(TokenAttr.Control); // 8
 * ```
 */
export const TokenAttr = {
  Undefined: 0,
  Unknown: 1,
  Unused: 2,
  Normal: 4,
  Control: 8,
  UserDefined: 16,
  Byte: 32,
} as const;

/** GGUF token type (1..6) → attribute. */
const TYPE_ATTR: Record<number, number> = {
  0: TokenAttr.Undefined,
  1: TokenAttr.Normal,
  2: TokenAttr.Unknown,
  3: TokenAttr.Control,
  4: TokenAttr.UserDefined,
  5: TokenAttr.Unused,
  6: TokenAttr.Byte,
};

/**
 * The checked vocabulary every tokenizer part works from ({@link parseVocab}'s result).
 *
 * @example
 * ```ts
 * import { Tokenizer } from "@aprender/compute/llm";
 * const tok = new Tokenizer({
 *   "tokenizer.ggml.model": "llama",
 *   "tokenizer.ggml.tokens": ["<unk>", "<s>", "</s>"],
 * });
 * console.log(tok.vocab.kind, tok.vocab.bos); // "spm" 1
 * ```
 */
export interface Vocab {
  /** SentencePiece, byte-level BPE or WordPiece. */
  kind: "spm" | "bpe" | "wpm";
  /** The pre-tokenizer name (`"default"` when the file names none). */
  pre: string;
  /** Token texts by id (an empty text becomes `[EMPTY_<id>]`, as in llama.cpp). */
  tokens: readonly string[];
  /** Scores by id (0 when the file has none). */
  scores: Float32Array;
  /** {@link TokenAttr} bits by id. */
  attrs: Uint8Array;
  /** Token text → id; on duplicate texts the last id wins, as in llama.cpp. */
  ids: Map<string, number>;
  /** BPE merges (empty for SentencePiece). */
  merges: readonly string[];
  /** Begin-of-sequence id, or null. */
  bos: number | null;
  /** End-of-sequence id, or null. */
  eos: number | null;
  /** Unknown-token id, or null. */
  unk: number | null;
  /** Padding id, or null. */
  pad: number | null;
  /** Separator id (WordPiece), or null. */
  sep: number | null;
  /** Ids that end generation (llama.cpp's `special_eog_ids`). */
  eog: ReadonlySet<number>;
  /** `add_bos_token` as stored (the tokenizer applies llama.cpp's per-pre default). */
  addBos: boolean;
  /** `add_eos_token`. */
  addEos: boolean;
  /** SentencePiece's space prefix. */
  addSpacePrefix: boolean;
}

/** A value for an error message (JSON, but bigint-safe and bounded). */
export function show(v: unknown): string {
  if (typeof v === "bigint") return `${v}n`;
  if (v === undefined) return "undefined";
  try {
    const j = JSON.stringify(v, (_k, x) => typeof x === "bigint" ? `${x}n` : x);
    return j.length > 80 ? `${j.slice(0, 77)}...` : j;
  } catch {
    return String(v);
  }
}

function where(key: string): string {
  return `tokenizer: GGUF key '${key}'`;
}

function optId(meta: Record<string, unknown>, key: string, n: number, dflt: number | null) {
  const v = meta[key];
  if (v === undefined) return dflt !== null && dflt < n ? dflt : null;
  const id = typeof v === "bigint" ? Number(v) : v;
  if (typeof id !== "number" || !Number.isInteger(id) || id < 0) {
    throw new FormatError(
      `${where(key)} must be a non-negative integer token id, got ${String(v)}`,
    );
  }
  // llama.cpp warns and keeps its default for an id past the vocabulary; so do we.
  return id < n ? id : (dflt !== null && dflt < n ? dflt : null);
}

function optBool(meta: Record<string, unknown>, key: string, dflt: boolean): boolean {
  const v = meta[key];
  if (v === undefined) return dflt;
  if (typeof v !== "boolean") {
    throw new FormatError(`${where(key)} must be a boolean, got ${typeof v} ${String(v)}`);
  }
  return v;
}

function numbers(meta: Record<string, unknown>, key: string, n: number): ArrayLike<number> | null {
  const v = meta[key];
  if (v === undefined) return null;
  if (typeof v !== "object" || v === null || typeof (v as ArrayLike<number>).length !== "number") {
    throw new FormatError(`${where(key)} must be an array of numbers, got ${typeof v}`);
  }
  const a = v as ArrayLike<number>;
  if (a.length < n) {
    throw new FormatError(
      `${where(key)} has ${a.length} entries for ${n} tokens; hint: one entry per token`,
    );
  }
  return a;
}

/** Texts llama.cpp treats as end-of-generation: such a token is made a control token. */
const EOG_TEXTS = [
  "<|eot_id|>",
  "<|im_end|>",
  "<|end|>",
  "<|return|>",
  "<|call|>",
  "<|flush|>",
  "<|calls|>",
  "<end_of_turn>",
  "<|endoftext|>",
  "</s>",
  "<|eom_id|>",
  "<EOT>",
  "_<EOT>",
  "[EOT]",
  "[EOS]",
  "<|end_of_text|>",
  "<end_of_utterance>",
  "<eos>",
  "<turn|>",
  "<|tool_response>",
  "<\uff5cend\u2581of\u2581sentence\uff5c>",
  "[e~[",
];

/** Fill-in-the-middle texts, made control tokens when the file names no id of that kind. */
const FIM_TEXTS: [string, string[]][] = [
  ["fim_pre", [
    "<|fim_prefix|>",
    "<fim-prefix>",
    "<fim_prefix>",
    "<\uff5cfim\u2581begin\uff5c>",
    "<PRE>",
    "\u2581<PRE>",
    "<|code_prefix|>",
    "<|prefix|>",
  ]],
  ["fim_suf", [
    "<|fim_suffix|>",
    "<fim-suffix>",
    "<fim_suffix>",
    "<\uff5cfim\u2581hole\uff5c>",
    "<SUF>",
    "\u2581<SUF>",
    "<|code_suffix|>",
    "<|suffix|>",
  ]],
  ["fim_mid", [
    "<|fim_middle|>",
    "<fim-middle>",
    "<fim_middle>",
    "<\uff5cfim\u2581end\uff5c>",
    "<MID>",
    "\u2581<MID>",
    "<|code_middle|>",
    "<|middle|>",
  ]],
  ["fim_pad", ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"]],
  ["fim_rep", ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"]],
  ["fim_sep", ["<|file_sep|>"]],
];

/**
 * llama.cpp's load-time fix-ups of token attributes by text (GGUF files often mark these
 * tokens normal): end-of-generation and fill-in-the-middle texts become control tokens, and
 * gpt-oss's channel markers user-defined (always rendered).
 */
function markSpecialByText(
  m: Record<string, unknown>,
  ids: Map<string, number>,
  attrs: Uint8Array,
): Set<number> {
  const eog = new Set<number>();
  for (const t of EOG_TEXTS) {
    const id = ids.get(t);
    if (id !== undefined) {
      attrs[id] |= TokenAttr.Control;
      eog.add(id);
    }
  }
  for (const [kind, texts] of FIM_TEXTS) {
    const ends = kind === "fim_pad" || kind === "fim_rep" || kind === "fim_sep";
    const given = optId(m, `tokenizer.ggml.${kind}_token_id`, attrs.length, null);
    if (given !== null) {
      if (ends) eog.add(given);
      continue;
    }
    for (const t of texts) {
      const id = ids.get(t);
      if (id !== undefined) {
        attrs[id] |= TokenAttr.Control;
        if (ends) eog.add(id);
        break; // one per kind, as llama.cpp (its hash map decides which when several exist)
      }
    }
  }
  for (const t of ["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"]) {
    const id = ids.get(t);
    if (id !== undefined) attrs[id] = TokenAttr.UserDefined;
  }
  return eog;
}

/**
 * Check the `tokenizer.ggml.*` values and build the vocabulary tables.
 *
 * @example
 * ```ts
 * import { parseVocab } from "@aprender/compute/llm";
 * const v = parseVocab({ "tokenizer.ggml.model": "gpt2", "tokenizer.ggml.tokens": ["a"], "tokenizer.ggml.merges": [] });
 * console.log(v.kind); // "bpe"
 * ```
 *
 * @param meta the GGUF metadata (at least the tokenizer keys)
 * @returns the checked vocabulary
 * @throws FormatError naming the key, the value and what was expected
 */
export function parseVocab(meta: GgufVocab | Record<string, unknown>): Vocab {
  const m = meta as Record<string, unknown>;
  const model = m["tokenizer.ggml.model"];
  if (model !== "llama" && model !== "gpt2" && model !== "bert") {
    throw new FormatError(
      `${where("tokenizer.ggml.model")} is ${show(model)}; supported: "llama" ` +
        `(SentencePiece), "gpt2" (byte-level BPE) and "bert" (WordPiece)`,
    );
  }
  const tokens = m["tokenizer.ggml.tokens"];
  if (!Array.isArray(tokens) || tokens.length === 0) {
    throw new FormatError(`${where("tokenizer.ggml.tokens")} must be a non-empty string array`);
  }
  const n = tokens.length;
  const ids = new Map<string, number>();
  const fixed: string[] = new Array(n);
  for (let i = 0; i < n; i++) {
    let t = tokens[i];
    if (typeof t !== "string") {
      throw new FormatError(`${where("tokenizer.ggml.tokens")}[${i}] is ${typeof t}, not a string`);
    }
    if (t === "") t = `[EMPTY_${i}]`; // llama.cpp's name for an empty token
    fixed[i] = t;
    ids.set(t, i);
  }
  const sc = numbers(m, "tokenizer.ggml.scores", n);
  const scores = new Float32Array(n);
  if (sc) { for (let i = 0; i < n; i++) scores[i] = sc[i]; }
  const ty = numbers(m, "tokenizer.ggml.token_type", n);
  const attrs = new Uint8Array(n).fill(TokenAttr.Normal);
  if (ty) { for (let i = 0; i < n; i++) attrs[i] = TYPE_ATTR[ty[i]] ?? TokenAttr.Undefined; }
  const eog = markSpecialByText(m, ids, attrs);
  const kind = model === "llama" ? "spm" : model === "gpt2" ? "bpe" : "wpm";
  let merges: readonly string[] = [];
  if (kind === "bpe") {
    const mg = m["tokenizer.ggml.merges"];
    if (!Array.isArray(mg)) {
      throw new FormatError(
        `${where("tokenizer.ggml.merges")} is missing or not a string array; a "gpt2" ` +
          `vocabulary needs its merges`,
      );
    }
    merges = mg as string[];
  }
  const preV = m["tokenizer.ggml.pre"];
  if (preV !== undefined && typeof preV !== "string") {
    throw new FormatError(`${where("tokenizer.ggml.pre")} must be a string, got ${typeof preV}`);
  }
  // llama.cpp's defaults: SentencePiece bos 1, eos 2, unk 0; GPT-2 bos = eos = 11; WordPiece
  // bos ([CLS]) 101, unk 100, sep 102, pad 0, no eos.
  const spm = kind === "spm", wpm = kind === "wpm";
  const eos = optId(m, "tokenizer.ggml.eos_token_id", n, spm ? 2 : wpm ? null : 11);
  for (const key of ["tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"]) {
    const id = optId(m, key, n, null);
    if (id !== null) eog.add(id);
  }
  if (eos !== null) eog.add(eos);
  // o200k_harmony / solar-open: "<|end|>" ends a message, not the generation
  const has = (t: string) => eog.has(ids.get(t) ?? -1);
  const call = has("<|call|>") || has("<|calls|>");
  if (has("<|end|>") && call && (has("<|return|>") || has("<|flush|>"))) {
    eog.delete(ids.get("<|end|>")!);
  }
  return {
    kind,
    pre: preV ?? "default",
    tokens: fixed,
    scores,
    attrs,
    ids,
    merges,
    bos: optId(m, "tokenizer.ggml.bos_token_id", n, spm ? 1 : wpm ? 101 : 11),
    eos,
    unk: optId(m, "tokenizer.ggml.unknown_token_id", n, spm ? 0 : wpm ? 100 : null),
    pad: optId(m, "tokenizer.ggml.padding_token_id", n, wpm ? 0 : null),
    sep: optId(m, "tokenizer.ggml.seperator_token_id", n, wpm ? 102 : null),
    eog,
    addBos: optBool(m, "tokenizer.ggml.add_bos_token", spm || wpm),
    addEos: optBool(m, "tokenizer.ggml.add_eos_token", false),
    addSpacePrefix: optBool(m, "tokenizer.ggml.add_space_prefix", spm),
  };
}
