/**
 * The tokenizer of a GGUF model: `encode`/`decode` with llama.cpp's ids and text.
 *
 * @module
 */
import { IndexError } from "../../core/errors.ts";
import { BpeModel, byteLevelDecode } from "./bpe.ts";
import { spmSegment } from "./spm.ts";
import { StreamDecoder } from "./stream.ts";
import { WpmModel } from "./wpm.ts";
import { type GgufVocab, parseVocab, TokenAttr, type Vocab } from "./vocab.ts";

/**
 * Options of {@link Tokenizer.encode}.
 *
 * @example
 * ```ts
 * import type { EncodeOptions } from "@aprender/compute/llm";
 * const o: EncodeOptions = { addSpecial: true, parseSpecial: true };
 * console.log(o.addSpecial); // true
 * ```
 */
export interface EncodeOptions {
  /** Add BOS/EOS as the vocabulary asks (`add_bos_token`/`add_eos_token`). Default true. */
  addSpecial?: boolean;
  /** Match control tokens (`<|eot_id|>`, `<s>`, ...) spelled in the text. Default false. */
  parseSpecial?: boolean;
}

/**
 * Options of {@link Tokenizer.decode}.
 *
 * @example
 * ```ts
 * import type { DecodeOptions } from "@aprender/compute/llm";
 * const o: DecodeOptions = { special: true };
 * console.log(o.special); // true
 * ```
 */
export interface DecodeOptions {
  /** Render control tokens' text (else they decode to nothing). Default false. */
  special?: boolean;
  /** Drop a leading BOS and trailing EOS the vocabulary adds. Default false. */
  removeSpecial?: boolean;
  /**
   * llama.cpp's `clean_up_tokenization_spaces` (" ," → ","; " 's" → "'s", ...). Default: what
   * llama.cpp does for this vocabulary (on for `llama-bpe` and `default`, off for qwen2, gpt-4o
   * and SentencePiece). Pass false for an exact round trip.
   */
  cleanSpaces?: boolean;
}

const SPECIAL_PARSED = TokenAttr.Control | TokenAttr.UserDefined | TokenAttr.Unknown;
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
const utf8 = new TextEncoder();

/** Raw text fragments and matched token ids, in order. */
type Fragment = string | number;

/**
 * A tokenizer built from a GGUF vocabulary: SentencePiece (`llama`), byte-level BPE (`gpt2`) or
 * WordPiece (`bert`).
 * Its ids equal llama.cpp's `llama_tokenize` and its text `llama_detokenize`.
 *
 * @example
 * ```ts
 * import { Tokenizer } from "@aprender/compute/llm";
 * const tok = new Tokenizer({
 *   "tokenizer.ggml.model": "llama",
 *   "tokenizer.ggml.tokens": ["<unk>", "<s>", "</s>", "▁", "h", "i", "▁h", "▁hi"],
 *   "tokenizer.ggml.scores": [0, 0, 0, -1, -2, -2, -3, -4],
 *   "tokenizer.ggml.token_type": [2, 3, 3, 1, 1, 1, 1, 1],
 * });
 * const ids = tok.encode("hi"); // [1, 7]: BOS, "▁hi"
 * console.log(tok.decode(ids.slice(1))); // "hi"
 * console.log(JSON.stringify(tok.decode(ids))); // " hi": after BOS the space stays (llama.cpp)
 * ```
 */
export class Tokenizer {
  /** The checked vocabulary. */
  readonly vocab: Vocab;
  private readonly bpe: BpeModel | null;
  private readonly wpm: WpmModel | null;
  private readonly special: number[];
  private readonly pieces: (Uint8Array | undefined)[];
  private readonly cleanSpaces: boolean;
  private readonly addBos: boolean;

  /**
   * Build from the GGUF metadata values.
   *
   * @param meta the `tokenizer.ggml.*` keys (a GGUF reader's metadata map works as it is)
   * @throws FormatError for a missing, mistyped or inconsistent key
   */
  constructor(meta: GgufVocab | Record<string, unknown>) {
    this.vocab = parseVocab(meta);
    const v = this.vocab;
    this.bpe = v.kind === "bpe" ? new BpeModel(v) : null;
    this.wpm = v.kind === "wpm" ? new WpmModel(v) : null;
    const m = meta as Record<string, unknown>;
    this.addBos = typeof m["tokenizer.ggml.add_bos_token"] === "boolean"
      ? v.addBos
      : (this.bpe ? this.bpe.config.addBos : v.addBos);
    this.cleanSpaces = this.bpe ? this.bpe.config.cleanSpaces : this.wpm !== null;
    const special: number[] = [];
    for (let i = 0; i < v.tokens.length; i++) if (v.attrs[i] & SPECIAL_PARSED) special.push(i);
    // longest text first, as llama.cpp's special-token cache (ties by id: std::sort is unstable
    // there, so equal-length overlapping specials are ambiguous in llama.cpp itself)
    special.sort((a, b) => utf8Len(v.tokens[b]) - utf8Len(v.tokens[a]) || a - b);
    this.special = special;
    this.pieces = new Array(v.tokens.length);
  }

  /** Number of tokens in the vocabulary. */
  get size(): number {
    return this.vocab.tokens.length;
  }

  /** Begin-of-sequence id, or null. */
  get bos(): number | null {
    return this.vocab.bos;
  }

  /** End-of-sequence id, or null. */
  get eos(): number | null {
    return this.vocab.eos;
  }

  /** Whether `encode(..., {addSpecial: true})` prepends BOS (llama.cpp's `add_bos`). */
  get addsBos(): boolean {
    return this.addBos && this.vocab.bos !== null;
  }

  /** Whether `encode(..., {addSpecial: true})` appends EOS (llama.cpp's `add_eos`). */
  get addsEos(): boolean {
    return this.vocab.addEos && this.vocab.eos !== null;
  }

  /**
   * Whether `id` ends generation (EOS, end-of-turn and the other end-of-generation tokens
   * llama.cpp recognises, e.g. `<|eot_id|>`, `<|im_end|>`, `<end_of_turn>`).
   *
   * @param id a token id
   * @returns true for an end-of-generation token
   */
  isEog(id: number): boolean {
    return this.vocab.eog.has(id);
  }

  /**
   * Token ids of `text`, as llama.cpp's `llama_tokenize(text, addSpecial, parseSpecial)`.
   *
   * @param text the text
   * @param options BOS/EOS and special-token parsing
   * @returns the ids
   */
  encode(text: string, options: EncodeOptions = {}): number[] {
    const addSpecial = options.addSpecial ?? true;
    const v = this.vocab;
    const frags = text.length > 0 ? this.partition(text, options.parseSpecial ?? false) : [];
    const out: number[] = [];
    if (this.wpm) {
      // llama.cpp: WordPiece always wraps the text in bos ([CLS]) and sep ([SEP])
      if (addSpecial && v.bos !== null) out.push(v.bos);
      for (const f of frags) {
        if (typeof f === "number") out.push(f);
        else this.wpm.encode(f, out);
      }
      if (addSpecial && v.sep !== null) out.push(v.sep);
      return out;
    }
    if (addSpecial && this.addBos && v.bos !== null) out.push(v.bos);
    if (this.bpe === null) {
      let prevSpecial = true;
      for (const f of frags) {
        if (typeof f === "number") {
          out.push(f);
          prevSpecial = true;
          continue;
        }
        const t = (v.addSpacePrefix && prevSpecial ? " " : "") + f;
        spmSegment(v, t.replaceAll(" ", "\u2581"), out);
        prevSpecial = false;
      }
    } else {
      for (const f of frags) {
        if (typeof f === "number") out.push(f);
        else this.bpe.encode(f, out);
      }
    }
    if (addSpecial && v.addEos && v.eos !== null) out.push(v.eos);
    return out;
  }

  /** Split raw text at special tokens: longest first, every occurrence, left to right. */
  private partition(text: string, parseSpecial: boolean): Fragment[] {
    const v = this.vocab;
    let frags: Fragment[] = [text];
    for (const id of this.special) {
      const a = v.attrs[id];
      if (!parseSpecial && (a & (TokenAttr.Control | TokenAttr.Unknown))) continue;
      const s = v.tokens[id];
      const next: Fragment[] = [];
      for (const f of frags) {
        if (typeof f === "number" || !f.includes(s)) {
          next.push(f);
          continue;
        }
        let at = 0;
        for (let k = f.indexOf(s); k !== -1; k = f.indexOf(s, at)) {
          if (k > at) next.push(f.slice(at, k));
          next.push(id);
          at = k + s.length;
        }
        if (at < f.length) next.push(f.slice(at));
      }
      frags = next;
    }
    return frags;
  }

  /**
   * The bytes of one token, as llama.cpp's `llama_token_to_piece` (byte tokens give one byte,
   * which may be part of a UTF-8 sequence).
   *
   * @param id the token id
   * @param special render control/unknown tokens' text (else empty)
   * @returns the bytes
   * @throws IndexError for an id outside the vocabulary
   */
  tokenToPiece(id: number, special = false): Uint8Array {
    const v = this.vocab;
    if (!Number.isInteger(id) || id < 0 || id >= v.tokens.length) {
      throw new IndexError(
        `tokenizer.tokenToPiece: token id ${id} outside the vocabulary [0, ${v.tokens.length})`,
      );
    }
    const a = v.attrs[id];
    if (!special && (a & (TokenAttr.Control | TokenAttr.Unknown))) return new Uint8Array(0);
    let p = this.pieces[id];
    if (p === undefined) {
      p = this.piece(id);
      this.pieces[id] = p;
    }
    return p;
  }

  /** The bytes of token `id` regardless of its kind (uncached). */
  private piece(id: number): Uint8Array {
    const v = this.vocab;
    const a = v.attrs[id], t = v.tokens[id];
    if (a & SPECIAL_PARSED) return utf8.encode(t);
    if (a & TokenAttr.Normal) {
      return this.bpe ? byteLevelDecode(t) : utf8.encode(t.replaceAll("\u2581", " "));
    }
    if (a & TokenAttr.Byte) {
      if (this.bpe) return byteLevelDecode(t); // llama.cpp: token_to_byte, the table's inverse
      const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(t);
      return m ? new Uint8Array([parseInt(m[1], 16)]) : new Uint8Array(0);
    }
    return new Uint8Array(0); // unused/undefined tokens render as nothing, as in llama.cpp
  }

  /**
   * Text of `ids`, as llama.cpp's `llama_detokenize`. Invalid UTF-8 becomes U+FFFD.
   *
   * @param ids token ids
   * @param options special-token rendering and space clean-up
   * @returns the text
   */
  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    const v = this.vocab;
    let start = 0, end = ids.length;
    let removeSpace = v.addSpacePrefix;
    if (options.removeSpecial && this.addBos && end > 0 && ids[0] === v.bos) {
      removeSpace = false;
      start++;
    }
    if (options.removeSpecial && v.addEos && end > start && ids[end - 1] === v.eos) end--;
    const parts: Uint8Array[] = [];
    let total = 0;
    for (let i = start; i < end; i++) {
      let p = this.tokenToPiece(ids[i], options.special ?? false);
      if (removeSpace && p.length > 0 && p[0] === 0x20) p = p.subarray(1);
      removeSpace = false;
      parts.push(p);
      total += p.length;
    }
    let bytes: Uint8Array = new Uint8Array(total);
    let o = 0;
    for (const p of parts) {
      bytes.set(p, o);
      o += p.length;
    }
    if (options.cleanSpaces ?? this.cleanSpaces) bytes = cleanSpaces(bytes);
    return decoder.decode(bytes);
  }

  /**
   * A decoder for a stream of ids that yields text only once its UTF-8 is complete.
   *
   * @param options special-token rendering
   * @returns a fresh stream decoder
   */
  streamDecoder(options: { special?: boolean } = {}): StreamDecoder {
    return new StreamDecoder(this, options.special ?? false);
  }
}

function utf8Len(s: string): number {
  return utf8.encode(s).length;
}

/** llama.cpp's three clean-up passes over the detokenized bytes. */
function cleanSpaces(t: Uint8Array): Uint8Array {
  const SP = 0x20, Q = 0x27;
  const out = t.slice();
  let total = out.length;
  // pass 1: " ?", " !", " .", " ," lose the space
  let n = total ? 1 : 0;
  for (let i = 1; i < total; i++) {
    const x = out[i];
    if (out[i - 1] === SP && (x === 0x3f || x === 0x21 || x === 0x2e || x === 0x2c)) n--;
    out[n++] = x;
  }
  total = n;
  // pass 2: " ' " becomes "'"
  n = total ? 1 : 0;
  for (let i = 1; i < total; i++) {
    const x = out[i];
    if (x === Q && i + 1 < total && out[i - 1] === SP && out[i + 1] === SP) {
      n--;
      out[++i] = 0;
    }
    out[n++] = x;
  }
  total = n;
  // pass 3: " 's", " 'm", " 're", " 've" lose the space
  n = total ? 1 : 0;
  for (let i = 1; i < total; i++) {
    const x = out[i];
    if (out[i - 1] === SP && x === Q && i + 1 < total) {
      const x1 = out[i + 1];
      if (x1 === 0x73 || x1 === 0x6d) n--;
      else if (i + 2 < total) {
        const x2 = out[i + 2];
        if ((x1 === 0x72 && x2 === 0x65) || (x1 === 0x76 && x2 === 0x65)) n--;
      }
    }
    out[n++] = x;
  }
  return out.subarray(0, n);
}
