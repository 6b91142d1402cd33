/**
 * Model loading and generation: {@link loadModel}.
 *
 * @module
 */
export {
  ContextLimitError,
  type EmbedOptions,
  type GenerateOptions,
  type GenerationStats,
  loadModel,
  type LoadModelOptions,
  Model,
} from "./model.ts";
export { type ModelConfig, type RopeOrder, SUPPORTED_ARCHITECTURES } from "./config.ts";
export type { LoadProgress } from "./weights.ts";
export { type BatchSequence, forwardBatch, type ForwardBatchOptions } from "./batch.ts";
export { CACHE_TYPES, type CacheType, KVCache } from "./kv_cache.ts";
export { shiftContext } from "./shift.ts";
