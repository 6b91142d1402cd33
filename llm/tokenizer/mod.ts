/**
 * Tokenizers from GGUF vocabularies: SentencePiece and byte-level BPE with llama.cpp's ids.
 *
 * @module
 */
export { type GgufVocab, parseVocab, TokenAttr, type Vocab } from "./vocab.ts";
export { type DecodeOptions, type EncodeOptions, Tokenizer } from "./tokenizer.ts";
export { type PieceSource, StreamDecoder } from "./stream.ts";
export { supportedPreTokenizers } from "./bpe.ts";
