/**
 * Streaming detokenization: text comes out only once its UTF-8 sequence is complete, so a
 * character split across byte tokens (`<0xE2>`, `<0x96>`, `<0x81>`) is never emitted in halves.
 *
 * @module
 */

/**
 * What a stream decoder needs from a tokenizer ({@link Tokenizer} is one).
 *
 * @example
 * ```ts
 * import { type PieceSource, Tokenizer } from "@aprender/compute/llm";
 * const src: PieceSource = new Tokenizer({
 *   "tokenizer.ggml.model": "llama",
 *   "tokenizer.ggml.tokens": ["<unk>", "<s>", "</s>", "\u2581hi"],
 * });
 * console.log(src.vocab.addSpacePrefix); // true
 * ```
 */
export interface PieceSource {
  /** The bytes of one token. */
  tokenToPiece(id: number, special?: boolean): Uint8Array;
  /** Whether the first piece's leading space is the space prefix (dropped). */
  readonly vocab: { addSpacePrefix: boolean };
}

/**
 * Turns ids into text incrementally. The concatenation of everything {@link push} and
 * {@link flush} return equals `tokenizer.decode(allIds, {cleanSpaces: false})`.
 *
 * @example
 * ```ts
 * import { Tokenizer } from "@aprender/compute/llm";
 * const tok = new Tokenizer({
 *   "tokenizer.ggml.model": "llama",
 *   "tokenizer.ggml.tokens": ["<unk>", "<s>", "</s>", "<0xC3>", "<0xA9>"],
 *   "tokenizer.ggml.token_type": [2, 3, 3, 6, 6],
 * });
 * const s = tok.streamDecoder();
 * console.log(JSON.stringify(s.push(3))); // "" (half of "é")
 * console.log(s.push(4)); // "é"
 * ```
 */
export class StreamDecoder {
  private readonly source: PieceSource;
  private readonly special: boolean;
  private readonly decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  private first = true;

  /**
   * A fresh decoder; {@link Tokenizer.streamDecoder} is the usual way to get one.
   *
   * @param source the tokenizer
   * @param special render control tokens' text
   */
  constructor(source: PieceSource, special: boolean) {
    this.source = source;
    this.special = special;
  }

  /**
   * Add one token; returns the text completed by it (possibly "").
   *
   * @param id the next token id
   * @returns newly complete text
   */
  push(id: number): string {
    let p = this.source.tokenToPiece(id, this.special);
    if (this.first && p.length > 0) {
      // llama.cpp drops the space SentencePiece's space prefix put before the first piece
      if (this.source.vocab.addSpacePrefix && p[0] === 0x20) p = p.subarray(1);
    }
    this.first = false;
    return this.decoder.decode(p, { stream: true });
  }

  /**
   * End of stream: returns what is left (an incomplete sequence becomes U+FFFD).
   *
   * @returns the remaining text
   */
  flush(): string {
    return this.decoder.decode();
  }
}
