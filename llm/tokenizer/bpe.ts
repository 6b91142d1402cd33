/**
 * Byte-level BPE (`tokenizer.ggml.model = "gpt2"`): the pre-tokenizer llama.cpp runs for each
 * `tokenizer.ggml.pre`, GPT-2's byte↔unicode table, and the merges done by the BPE model of
 * `npm:@huggingface/tokenizers` fed from the GGUF vocabulary.
 *
 * The pre-tokenizer regexes are llama.cpp's (its adapted forms: `(?i:...)` spelled out, GPT-4o's
 * case classes as `(?=\p{L})[^a-z]`), and `\s` is llama.cpp's whitespace set (which has U+0085
 * and lacks U+FEFF, unlike JavaScript's), so splits follow llama.cpp rather than Python.
 *
 * @module
 */
import { BPE } from "@huggingface/tokenizers";
import { FormatError } from "../../core/errors.ts";
import { show, type Vocab } from "./vocab.ts";

/** llama.cpp's whitespace code points (unicode-data.cpp), as a character-class body. */
const WS = "\\t-\\r \\x85\\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000";

/** Replace `\s`/`\S` by llama.cpp's whitespace set, inside and outside brackets. */
function withWs(src: string): RegExp {
  let out = "", inside = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === "\\" && i + 1 < src.length) {
      const d = src[i + 1];
      if (d === "s") out += inside ? WS : `[${WS}]`;
      else if (d === "S") out += `[^${WS}]`; // never used inside brackets here
      else out += c + d;
      i++;
      continue;
    }
    if (c === "[") inside = true;
    else if (c === "]") inside = false;
    out += c;
  }
  return new RegExp(out, "gu");
}

const CONTRACTIONS = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";
const TAIL = "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** One pre-tokenizer family: its regexes (applied in sequence) and llama.cpp's flags. */
interface PreConfig {
  regexes: RegExp[];
  ignoreMerges: boolean;
  cleanSpaces: boolean;
  addBos: boolean;
}

const LLAMA3 =
  `${CONTRACTIONS}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|${TAIL}`;
const QWEN2 =
  `${CONTRACTIONS}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|${TAIL}`;
const QWEN35 =
  `${CONTRACTIONS}|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|${TAIL}`;
const UPPER = "(?:(?=\\p{L})[^a-z])";
const LOWER = "(?:(?=\\p{L})[^A-Z])";
const GPT4O = `[^\\r\\n\\p{L}\\p{N}]?${UPPER}*${LOWER}+${CONTRACTIONS}?|` +
  `[^\\r\\n\\p{L}\\p{N}]?${UPPER}+${LOWER}*${CONTRACTIONS}?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|${TAIL}`;
const GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
const DEFAULT = ["[\\p{P}\\$\\+<=>\\^~\\|]+", GPT2, "\\p{N}+", "[0-9][0-9][0-9]"];

/** `tokenizer.ggml.pre` names → [regexes, ignore_merges, clean_spaces, add_bos default]. */
const PRE: Record<string, [string[], boolean, boolean, boolean]> = {};
for (const name of ["default", ""]) PRE[name] = [DEFAULT, false, true, false];
for (
  const name of [
    "llama3",
    "llama-v3",
    "llama-bpe",
    "falcon3",
    "falcon-h1",
    "pixtral",
    "midm-2.0",
    "lfm2",
    "jina-v5-nano",
  ]
) PRE[name] = [[LLAMA3], true, true, true];
for (const name of ["qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2"]) {
  PRE[name] = [[QWEN2], false, false, false];
}
PRE["megrez"] = [[QWEN2], false, true, false];
PRE["gpt-2"] = [[GPT2], false, true, false];
PRE["qwen35"] = [[QWEN35], false, false, false];
for (const name of ["gpt-4o", "llama4", "kanana2", "talkie"]) {
  PRE[name] = [[GPT4O], false, false, false];
}

/**
 * The pre-tokenizer names this library implements.
 *
 * @example
 * ```ts
 * import { supportedPreTokenizers } from "@aprender/compute/llm";
 * console.log(supportedPreTokenizers().includes("qwen2")); // true
 * ```
 */
export function supportedPreTokenizers(): string[] {
  return Object.keys(PRE).filter((k) => k !== "");
}

/**
 * The configuration llama.cpp uses for a pre-tokenizer name.
 *
 * @param pre the `tokenizer.ggml.pre` value
 * @throws FormatError for a name not implemented, listing those that are
 */
export function preConfig(pre: string): PreConfig {
  const p = PRE[pre];
  if (!p) {
    throw new FormatError(
      `tokenizer: unknown pre-tokenizer 'tokenizer.ggml.pre' = ${show(pre)}; ` +
        `supported: ${supportedPreTokenizers().join(", ")}`,
    );
  }
  return { regexes: p[0].map(withWs), ignoreMerges: p[1], cleanSpaces: p[2], addBos: p[3] };
}

/** Split every piece at each match of `re`, keeping matches and gaps (HF's "Isolated"). */
export function splitIsolated(pieces: string[], re: RegExp): string[] {
  const out: string[] = [];
  for (const s of pieces) {
    let at = 0;
    re.lastIndex = 0;
    for (let m = re.exec(s); m !== null; m = re.exec(s)) {
      if (m[0].length === 0) {
        re.lastIndex++;
        continue;
      }
      if (m.index > at) out.push(s.slice(at, m.index));
      out.push(m[0]);
      at = m.index + m[0].length;
    }
    if (at < s.length) out.push(s.slice(at));
  }
  return out;
}

/** GPT-2's byte → printable character table, and its inverse. */
function byteTables(): [string[], Map<string, number>] {
  const enc: string[] = new Array(256);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    enc[b] = String.fromCodePoint(printable ? b : 256 + n++);
  }
  return [enc, new Map(enc.map((c, b) => [c, b]))];
}
const [BYTE_ENC, BYTE_DEC] = byteTables();
const utf8 = new TextEncoder();

/** Byte-level BPE over a checked vocabulary. */
export class BpeModel {
  readonly config: PreConfig;
  private readonly model: BPE;
  private readonly vocab: Vocab;

  /**
   * @param vocab a `gpt2` vocabulary
   * @throws FormatError for an unknown pre-tokenizer or a malformed merge
   */
  constructor(vocab: Vocab) {
    this.vocab = vocab;
    this.config = preConfig(vocab.pre);
    const merges: [string, string][] = new Array(vocab.merges.length);
    for (let i = 0; i < vocab.merges.length; i++) {
      const m = vocab.merges[i];
      const sp = typeof m === "string" ? m.indexOf(" ", 1) : -1;
      if (sp <= 0 || sp === m.length - 1) {
        throw new FormatError(
          `tokenizer: 'tokenizer.ggml.merges'[${i}] = ${show(m)} is not "left right"`,
        );
      }
      merges[i] = [m.slice(0, sp), m.slice(sp + 1)];
    }
    const v: Record<string, number> = Object.create(null);
    vocab.tokens.forEach((t, i) => v[t] = i);
    this.model = new BPE(
      {
        type: "BPE",
        vocab: v,
        merges,
        ignore_merges: this.config.ignoreMerges,
      } as unknown as ConstructorParameters<typeof BPE>[0],
    );
  }

  /** Pre-tokenize, byte-encode and merge one fragment of raw text; append the ids. */
  encode(text: string, out: number[]): void {
    let words = [text];
    for (const re of this.config.regexes) words = splitIsolated(words, re);
    const mapped = words.map((w) => {
      let s = "";
      for (const b of utf8.encode(w)) s += BYTE_ENC[b];
      return s;
    });
    for (const t of this.model.encode(mapped)) {
      const id = this.vocab.ids.get(t);
      if (id !== undefined) out.push(id);
    }
  }
}

/**
 * The bytes of a byte-level token text (each character back through GPT-2's table); characters
 * outside the table come out as llama.cpp writes them, `[UNK_BYTE_0x..<text>]`.
 */
export function byteLevelDecode(text: string): Uint8Array {
  const out: number[] = [];
  for (const ch of text) {
    const b = BYTE_DEC.get(ch);
    if (b !== undefined) out.push(b);
    else {
      const hex = Array.from(utf8.encode(ch), (x) => x.toString(16).padStart(2, "0")).join("");
      out.push(...utf8.encode(`[UNK_BYTE_0x${hex}${text}]`));
    }
  }
  return new Uint8Array(out);
}
