/**
 * Neural-network building blocks (PyTorch's `torch.nn`): `Module`, layers, containers,
 * activations, `init` and `functional`.
 *
 * @example
 * ```ts
 * import { nn, randn } from "@aprender/compute";
 * const model = new nn.Sequential(new nn.Linear(4, 8), new nn.ReLU(), new nn.Linear(8, 2));
 * console.log(model.call(randn([3, 4])).shape); // [3, 2]
 * console.log(Object.keys(model.stateDict())); // ["0.weight", "0.bias", "2.weight", "2.bias"]
 * ```
 *
 * @module
 */
import "../backends/runtime.ts";
export {
  type AnyModule,
  type BufferOptions,
  type LoadStateDictOptions,
  type LoadStateDictResult,
  Module,
  type ShapeMismatch,
  type StateDict,
  StateDictError,
} from "./module.ts";
export { Identity, Linear, type LinearOptions } from "./linear.ts";
export {
  Conv1d,
  type Conv1dLayerOptions,
  Conv2d,
  type Conv2dLayerOptions,
  type ConvOptions,
  ConvTranspose2d,
  type ConvTranspose2dLayerOptions,
  type PaddingMode,
} from "./conv.ts";
export {
  AdaptiveAvgPool2d,
  AvgPool2d,
  type AvgPool2dLayerOptions,
  MaxPool2d,
  type MaxPool2dLayerOptions,
} from "./pooling.ts";
export {
  BatchNorm1d,
  BatchNorm2d,
  type BatchNormOptions,
  GroupNorm,
  type GroupNormOptions,
  LayerNorm,
  type LayerNormOptions,
  RMSNorm,
  type RMSNormOptions,
} from "./normalization.ts";
export { Dropout, type DropoutOptions } from "./dropout.ts";
export { Embedding, type EmbeddingOptions } from "./embedding.ts";
export { Flatten, Unflatten } from "./flatten.ts";
export { ModuleList, Sequential } from "./container.ts";
export {
  ELU,
  GELU,
  Hardsigmoid,
  Hardswish,
  Hardtanh,
  LeakyReLU,
  LogSigmoid,
  LogSoftmax,
  Mish,
  PReLU,
  type PReLUOptions,
  ReLU,
  ReLU6,
  SELU,
  Sigmoid,
  SiLU,
  Softmax,
  Softplus,
  Softsign,
  Tanh,
} from "./activation.ts";
export * as init from "./init.ts";
export * as functional from "./functional.ts";
// Losses, attention and transformer layers (one line each):
export * from "./loss_functional.ts";
export * from "./loss_modules.ts";
export * from "./attention.ts";
export * from "./transformer.ts";
export * as models from "./models/mod.ts";
