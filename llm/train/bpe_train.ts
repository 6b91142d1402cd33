/**
 * Training a byte-level BPE tokenizer (GPT-2 style, `tokenizer.ggml.model = "gpt2"`) on a text
 * corpus: the text is split by the pre-tokenizer that llama.cpp runs for the chosen
 * `tokenizer.ggml.pre` (the same regexes our `Tokenizer` uses), every piece is mapped to GPT-2's
 * printable byte characters, and the most frequent adjacent pair is merged until the vocabulary
 * is full. Ties go to the pair whose merged text sorts first, so the result depends only on the
 * text and the settings.
 *
 * @module
 */
import { ComputeError } from "../../core/errors.ts";
import { preConfig, splitIsolated } from "../tokenizer/bpe.ts";
import type { GgufVocab } from "../tokenizer/vocab.ts";

/** Options of {@link trainBpe}. */
export interface TrainBpeOptions {
  /** Total tokens: 256 bytes + merges + special tokens (at least 257 + specials). */
  vocabSize: number;
  /** The `tokenizer.ggml.pre` whose regexes split the text (default "qwen2"). */
  pre?: string;
  /** Control tokens appended after the merges (default ["<|endoftext|>"]); the first is BOS/EOS. */
  special?: readonly string[];
}

/** A trained byte-level BPE vocabulary. */
export interface TrainedBpe {
  /** Token texts in GPT-2's byte-character form, one per id. */
  tokens: string[];
  /** GGUF token types (1 normal, 3 control). */
  tokenTypes: number[];
  /** Merges, `"left right"`, highest priority first. */
  merges: string[];
  /** The pre-tokenizer name. */
  pre: string;
  /** Id of the first special token (end of text), used as BOS and EOS. */
  eos: number;
}

/** GPT-2's byte → printable character table. */
function byteChars(): string[] {
  const enc: string[] = new Array(256);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    enc[b] = String.fromCodePoint(printable ? b : 256 + n++);
  }
  return enc;
}

/** Split `text` at every match of each regex in turn, keeping matches and gaps. */
export function preTokenize(text: string, regexes: readonly RegExp[]): string[] {
  return regexes.reduce((pieces, re) => splitIsolated(pieces, re), [text]);
}

/**
 * Train a byte-level BPE vocabulary on `text`.
 *
 * @example
 * ```ts
 * import { trainBpe } from "@aprender/compute/llm/train";
 * const bpe = trainBpe("the cat and the hat and the bat", { vocabSize: 262 });
 * console.log(bpe.tokens.length, bpe.merges[0]); // 262 "Ġ t"
 * ```
 */
export function trainBpe(text: string, options: TrainBpeOptions): TrainedBpe {
  const pre = options.pre ?? "qwen2";
  const special = options.special ?? ["<|endoftext|>"];
  const { vocabSize } = options;
  if (!Number.isInteger(vocabSize) || vocabSize < 256 + special.length) {
    throw new ComputeError(
      `trainBpe: vocabSize ${vocabSize} must be an integer ≥ ${256 + special.length} ` +
        `(256 bytes + ${special.length} special token(s)).`,
    );
  }
  if (special.length === 0) {
    throw new ComputeError("trainBpe: give at least one special token (the end of text).");
  }
  const { regexes } = preConfig(pre);
  const chars = byteChars();
  const utf8 = new TextEncoder();
  // distinct pieces with their counts
  const counts = new Map<string, number>();
  for (const p of preTokenize(text, regexes)) counts.set(p, (counts.get(p) ?? 0) + 1);
  const words: number[][] = [], freq: number[] = [];
  for (const [p, c] of [...counts].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    words.push(Array.from(utf8.encode(p)));
    freq.push(c);
  }
  const tokens = chars.slice();
  const merges: string[] = [];
  const nMerges = vocabSize - 256 - special.length;
  const K = 1 << 16; // ids < vocabSize ≤ 65536: a pair is a * K + b
  if (vocabSize > K) throw new ComputeError(`trainBpe: vocabSize ${vocabSize} exceeds ${K}.`);
  const pairs = new Map<number, number>();
  for (let w = 0; w < words.length; w++) {
    const s = words[w];
    for (let i = 0; i + 1 < s.length; i++) {
      const key = s[i] * K + s[i + 1];
      pairs.set(key, (pairs.get(key) ?? 0) + freq[w]);
    }
  }
  const bump = (a: number, b: number, d: number) => {
    const key = a * K + b, v = (pairs.get(key) ?? 0) + d;
    if (v === 0) pairs.delete(key);
    else pairs.set(key, v);
  };
  for (let m = 0; m < nMerges; m++) {
    let best = -1, bestCount = 0, bestText = "";
    for (const [key, c] of pairs) {
      if (c < bestCount) continue;
      const t = tokens[Math.floor(key / K)] + tokens[key % K];
      if (c > bestCount || t < bestText || (t === bestText && key < best)) {
        best = key, bestCount = c, bestText = t;
      }
    }
    if (best < 0) break; // every piece is one token already
    const a = Math.floor(best / K), b = best % K, id = tokens.length;
    tokens.push(bestText);
    merges.push(`${tokens[a]} ${tokens[b]}`);
    for (let w = 0; w < words.length; w++) {
      const s = words[w], f = freq[w];
      if (s.length < 2) continue;
      let changed = false;
      for (let i = 0; i + 1 < s.length; i++) {
        if (s[i] !== a || s[i + 1] !== b) continue;
        // remove the pairs around (a, b), merge, add the new neighbours
        if (i > 0) bump(s[i - 1], a, -f), bump(s[i - 1], id, f);
        if (i + 2 < s.length) bump(b, s[i + 2], -f), bump(id, s[i + 2], f);
        bump(a, b, -f);
        s.splice(i, 2, id);
        changed = true;
      }
      if (changed) words[w] = s;
    }
  }
  const tokenTypes = tokens.map(() => 1);
  const eos = tokens.length;
  for (const s of special) {
    tokens.push(s);
    tokenTypes.push(3);
  }
  return { tokens, tokenTypes, merges, pre, eos };
}

/**
 * The GGUF `tokenizer.*` metadata of a trained vocabulary (what our `Tokenizer` and llama.cpp
 * read): model "gpt2", the pre-tokenizer, tokens, token types, merges, BOS = EOS = end of text,
 * no BOS added by default.
 *
 * @example
 * ```ts
 * import { Tokenizer } from "@aprender/compute/llm";
 * import { bpeMetadata, trainBpe } from "@aprender/compute/llm/train";
 * const tok = new Tokenizer(bpeMetadata(trainBpe("to be or not to be", { vocabSize: 260 })));
 * console.log(tok.decode(tok.encode("to be"))); // "to be"
 * ```
 */
export function bpeMetadata(bpe: TrainedBpe): GgufVocab & Record<string, unknown> {
  return {
    "tokenizer.ggml.model": "gpt2",
    "tokenizer.ggml.pre": bpe.pre,
    "tokenizer.ggml.tokens": bpe.tokens,
    "tokenizer.ggml.token_type": bpe.tokenTypes,
    "tokenizer.ggml.merges": bpe.merges,
    "tokenizer.ggml.bos_token_id": bpe.eos,
    "tokenizer.ggml.eos_token_id": bpe.eos,
    "tokenizer.ggml.add_bos_token": false,
  };
}
