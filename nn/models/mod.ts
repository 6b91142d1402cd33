/**
 * Vision models with torchvision's module layout (so torchvision state dicts saved as
 * safetensors load by key) and ImageNet preprocessing.
 *
 * @example
 * ```ts
 * import { nn } from "@aprender/compute";
 * const net = nn.models.resnet18({ numClasses: 10 });
 * console.log(net.fc.outFeatures); // 10
 * ```
 *
 * @module
 */
export {
  BasicBlock,
  Bottleneck,
  ResNet,
  resnet18,
  resnet34,
  resnet50,
  type ResNetOptions,
} from "./resnet.ts";
export {
  InvertedResidual,
  makeDivisible,
  MobileNetV2,
  mobilenetV2,
  type MobileNetV2Options,
} from "./mobilenet_v2.ts";
export {
  IMAGENET_MEAN,
  IMAGENET_STD,
  imagenetPreprocess,
  type ImagePixels,
  type PreprocessOptions,
  resizeWeights,
} from "./preprocess.ts";
