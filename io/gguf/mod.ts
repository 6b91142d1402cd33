/**
 * GGUF, llama.cpp's model format: a lazy, checked reader ({@link openGguf}) and a streaming
 * writer ({@link saveGguf}) for versions 2 and 3, every metadata value type and every tensor
 * type of the dtype table (block types decoded and encoded by `core/quant`).
 *
 * @module
 */
export * from "./types.ts";
export * from "./read.ts";
export * from "./write.ts";
export * from "./encode.ts";
export * from "./quantize.ts";
export * from "./hf.ts";
