/**
 * WordPiece (`tokenizer.ggml.model = "bert"`) as llama.cpp's WPM tokenizer runs it: each code
 * point is replaced by the first code point of its NFD form (accents dropped), lowercased;
 * whitespace splits words, control characters and combining marks vanish, punctuation, ASCII symbols and CJK
 * ideographs become one-character words; each word, prefixed with "▁", is cut into the longest
 * vocabulary pieces from the left (the converter turned `##` continuations into plain pieces and
 * word starts into "▁" pieces), and a word with an unmatched rest becomes the unknown token.
 *
 * @module
 */
import { FormatError } from "../../core/errors.ts";
import type { Vocab } from "./vocab.ts";

/** llama.cpp's whitespace code points (the Unicode White_Space property). */
const WHITESPACE = new Set([
  0x09,
  0x0a,
  0x0b,
  0x0c,
  0x0d,
  0x20,
  0x85,
  0xa0,
  0x1680,
  ...Array.from({ length: 11 }, (_, i) => 0x2000 + i),
  0x2028,
  0x2029,
  0x202f,
  0x205f,
  0x3000,
]);
// llama.cpp (node-llama-cpp 3.22.1's build) drops control characters and combining marks
const DROPPED = /[\p{Cc}\p{Cf}\p{Co}\p{Cs}\p{M}]/u;
const PUNCT = /\p{P}/u;
const SYMBOL = /\p{S}/u;

/** CJK ideograph ranges of BERT's `_is_chinese_char`, with llama.cpp's 0x2B920 start. */
function isChinese(c: number): boolean {
  return (c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3400 && c <= 0x4dbf) ||
    (c >= 0x20000 && c <= 0x2a6df) || (c >= 0x2a700 && c <= 0x2b73f) ||
    (c >= 0x2b740 && c <= 0x2b81f) || (c >= 0x2b920 && c <= 0x2ceaf) ||
    (c >= 0xf900 && c <= 0xfaff) || (c >= 0x2f800 && c <= 0x2fa1f);
}

/** Per-code-point class: 0 append, 1 whitespace, 2 dropped, 3 a word of its own. */
interface CharInfo {
  kind: 0 | 1 | 2 | 3;
  text: string;
}
const INFO = new Map<number, CharInfo>();

function charInfo(cp: number): CharInfo {
  let r = INFO.get(cp);
  if (r) return r;
  // llama.cpp's NFD table keeps one code point: the first of the decomposition
  const c = String.fromCodePoint(cp).normalize("NFD").codePointAt(0)!;
  const ch = String.fromCodePoint(c);
  const lower = String.fromCodePoint(ch.toLowerCase().codePointAt(0)!);
  if (WHITESPACE.has(c)) r = { kind: 1, text: "" };
  else if (c === 0 || c === 0xfffd || DROPPED.test(ch)) r = { kind: 2, text: "" };
  else if (PUNCT.test(ch) || (c < 0x7f && SYMBOL.test(ch)) || isChinese(c)) {
    r = { kind: 3, text: lower };
  } else r = { kind: 0, text: lower };
  if (INFO.size < 65536) INFO.set(cp, r);
  return r;
}

/**
 * The words llama.cpp's WPM pre-processing makes of `text` (normalized, lowercased).
 *
 * @example
 * ```ts
 * import { wpmWords } from "@aprender/compute/llm";
 * console.log(wpmWords("Héllo, World!")); // ["hello", ",", "world", "!"]
 * ```
 */
export function wpmWords(text: string): string[] {
  const words: string[] = [];
  let cur = "";
  for (const ch of text) {
    const { kind, text: t } = charInfo(ch.codePointAt(0)!);
    if (kind === 0) cur += t;
    else if (kind === 1 || kind === 3) {
      if (cur) words.push(cur);
      cur = "";
      if (kind === 3) words.push(t);
    }
  }
  if (cur) words.push(cur);
  return words;
}

/** Greedy longest-match WordPiece over a checked `bert` vocabulary. */
export class WpmModel {
  private readonly vocab: Vocab;
  private readonly maxLen: number;

  /**
   * @param vocab a `bert` vocabulary (pieces in llama.cpp's "▁" form)
   * @throws FormatError when the vocabulary has no unknown token
   */
  constructor(vocab: Vocab) {
    if (vocab.unk === null) {
      throw new FormatError(
        "tokenizer: a 'bert' vocabulary needs an unknown token (tokenizer.ggml.unknown_token_id, " +
          "default 100); this one has none.",
      );
    }
    this.vocab = vocab;
    let m = 1;
    for (const t of vocab.tokens) m = Math.max(m, [...t].length);
    this.maxLen = m;
  }

  /** Tokenize one fragment of raw text; append the ids. */
  encode(text: string, out: number[]): void {
    const ids = this.vocab.ids;
    for (const word of wpmWords(text)) {
      const cps = ["\u2581", ...word];
      const start = out.length;
      for (let i = 0; i < cps.length;) {
        let j = Math.min(cps.length, i + this.maxLen);
        let id: number | undefined;
        for (; j > i; j--) {
          id = ids.get(cps.slice(i, j).join(""));
          if (id !== undefined) break;
        }
        if (id === undefined) {
          out.length = start; // llama.cpp drops the word's pieces and emits one unknown token
          break;
        }
        out.push(id);
        i = j;
      }
      if (out.length === start) out.push(this.vocab.unk!);
    }
  }
}
