/**
 * The LLM engine's model-independent parts: tokenizers built from GGUF metadata, chat
 * templates and sampling.
 *
 * @module
 */
import "../backends/runtime.ts";

export * from "./tokenizer/mod.ts";
export * from "./chat.ts";
export * from "./sampling/mod.ts";
export { ComputeError, FormatError, IndexError } from "../core/errors.ts";
export { StopMatcher } from "./stop.ts";
export * from "./model/mod.ts";
export { DEFAULT_MODEL } from "./default_model.ts";
export { GpuDecoder, type GpuGenerateOptions, type StepProfile } from "./model/gpu/decoder.ts";
export type { GpuSampling } from "./model/gpu/sample.ts";
