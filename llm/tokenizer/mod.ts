/**
 * Tokenizers from GGUF vocabularies: SentencePiece, byte-level BPE and WordPiece with llama.cpp's
 * ids.
 *
 * @module
 */
export { type GgufVocab, parseVocab, TokenAttr, type Vocab } from "./vocab.ts";
export { type DecodeOptions, type EncodeOptions, Tokenizer } from "./tokenizer.ts";
export { type PieceSource, StreamDecoder } from "./stream.ts";
export { supportedPreTokenizers } from "./bpe.ts";
export { wpmWords } from "./wpm.ts";
