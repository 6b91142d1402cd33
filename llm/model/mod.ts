/**
 * Model loading and generation: {@link loadModel}.
 *
 * @module
 */
export {
  ContextLimitError,
  type GenerateOptions,
  type GenerationStats,
  loadModel,
  type LoadModelOptions,
  Model,
} from "./model.ts";
export { type ModelConfig, type RopeOrder, SUPPORTED_ARCHITECTURES } from "./config.ts";
export type { LoadProgress } from "./weights.ts";
