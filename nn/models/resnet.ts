/**
 * ResNet-18/34/50/101/152 (He et al. 2015) laid out exactly as torchvision's `resnet*` modules, so
 * a torchvision (or timm `tv_in1k`) state dict saved as safetensors loads with `loadStateDict`
 * under the same keys: `conv1`, `bn1`, `layer1.0.conv1`, `layer2.0.downsample.0`, …, `fc`.
 * Bottleneck blocks stride in their 3×3 convolution (torchvision's "ResNet v1.5").
 *
 * @module
 */
import type { Tensor } from "../../core/tensor.ts";
import { add } from "../../core/ops/elementwise.ts";
import { ArgumentError } from "../../core/errors.ts";
import { Module } from "../module.ts";
import { Conv2d } from "../conv.ts";
import { BatchNorm2d } from "../normalization.ts";
import { ReLU } from "../activation.ts";
import { AdaptiveAvgPool2d, MaxPool2d } from "../pooling.ts";
import { Linear } from "../linear.ts";
import { Sequential } from "../container.ts";
import { constant, kaimingNormal } from "../init.ts";

const conv3x3 = (cin: number, cout: number, stride = 1, groups = 1) =>
  new Conv2d(cin, cout, 3, { stride, padding: 1, bias: false, groups });
const conv1x1 = (cin: number, cout: number, stride = 1) =>
  new Conv2d(cin, cout, 1, { stride, bias: false });

/** A residual block of ResNet-18/34: two 3×3 convolutions. */
export class BasicBlock extends Module {
  /** Output channels per input channel of the block's width. */
  static readonly expansion = 1;
  conv1: Conv2d;
  bn1: BatchNorm2d;
  relu: ReLU = new ReLU();
  conv2: Conv2d;
  bn2: BatchNorm2d;
  downsample: Sequential | null;

  /**
   * @param inplanes input channels
   * @param planes output channels
   * @param stride stride of the first convolution
   * @param downsample the shortcut's projection when shapes change
   */
  constructor(inplanes: number, planes: number, stride = 1, downsample: Sequential | null = null) {
    super();
    this.conv1 = conv3x3(inplanes, planes, stride);
    this.bn1 = new BatchNorm2d(planes);
    this.conv2 = conv3x3(planes, planes);
    this.bn2 = new BatchNorm2d(planes);
    this.downsample = downsample;
  }

  /** relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)). */
  forward(x: Tensor): Tensor {
    let out = this.relu.call(this.bn1.call(this.conv1.call(x)));
    out = this.bn2.call(this.conv2.call(out));
    const identity = this.downsample ? this.downsample.call(x) : x;
    return this.relu.call(add(out, identity));
  }
}

/** A residual block of ResNet-50/101/152: 1×1 down, 3×3 (strided), 1×1 up by 4. */
export class Bottleneck extends Module {
  /** Output channels per channel of the block's width. */
  static readonly expansion = 4;
  conv1: Conv2d;
  bn1: BatchNorm2d;
  conv2: Conv2d;
  bn2: BatchNorm2d;
  conv3: Conv2d;
  bn3: BatchNorm2d;
  relu: ReLU = new ReLU();
  downsample: Sequential | null;

  /**
   * @param inplanes input channels
   * @param planes width of the block (output is `4 * planes`)
   * @param stride stride of the 3×3 convolution
   * @param downsample the shortcut's projection when shapes change
   */
  constructor(inplanes: number, planes: number, stride = 1, downsample: Sequential | null = null) {
    super();
    this.conv1 = conv1x1(inplanes, planes);
    this.bn1 = new BatchNorm2d(planes);
    this.conv2 = conv3x3(planes, planes, stride);
    this.bn2 = new BatchNorm2d(planes);
    this.conv3 = conv1x1(planes, planes * 4);
    this.bn3 = new BatchNorm2d(planes * 4);
    this.downsample = downsample;
  }

  /** The bottleneck path plus the shortcut, then ReLU. */
  forward(x: Tensor): Tensor {
    let out = this.relu.call(this.bn1.call(this.conv1.call(x)));
    out = this.relu.call(this.bn2.call(this.conv2.call(out)));
    out = this.bn3.call(this.conv3.call(out));
    const identity = this.downsample ? this.downsample.call(x) : x;
    return this.relu.call(add(out, identity));
  }
}

/** Options of {@link ResNet}. */
export interface ResNetOptions {
  /** Size of the final classifier (default 1000, ImageNet). */
  numClasses?: number;
  /** Zero the last BatchNorm scale of each block, as torchvision's option (default false). */
  zeroInitResidual?: boolean;
  /**
   * Channels of the stem and the first stage (default 64, torchvision's); the stages have 1, 2, 4
   * and 8 times as many. Smaller values make the same layout cheap (tests, small images).
   */
  baseWidth?: number;
}

type Block = typeof BasicBlock | typeof Bottleneck;

/**
 * A ResNet with torchvision's module names; see {@link resnet18}, {@link resnet34},
 * {@link resnet50} for the standard depths.
 *
 * @example
 * ```ts
 * import { nn, randn } from "@aprender/compute";
 * const net = new nn.models.ResNet("basic", [1, 1, 1, 1], { numClasses: 10 }).eval();
 * console.log(net.call(randn([1, 3, 32, 32])).shape); // [1, 10]
 * ```
 */
export class ResNet extends Module {
  conv1: Conv2d;
  bn1: BatchNorm2d;
  relu: ReLU = new ReLU();
  maxpool: MaxPool2d = new MaxPool2d(3, { stride: 2, padding: 1 });
  layer1: Sequential;
  layer2: Sequential;
  layer3: Sequential;
  layer4: Sequential;
  avgpool: AdaptiveAvgPool2d = new AdaptiveAvgPool2d([1, 1]);
  fc: Linear;
  #inplanes = 64;

  /**
   * @param block "basic" (ResNet-18/34) or "bottleneck" (ResNet-50 and deeper)
   * @param layers blocks in each of the four stages
   * @param options classifier size and initialization
   */
  constructor(
    block: "basic" | "bottleneck",
    layers: readonly [number, number, number, number],
    options: ResNetOptions = {},
  ) {
    super();
    const B: Block = block === "basic" ? BasicBlock : Bottleneck;
    const w = options.baseWidth ?? 64;
    if (!Number.isInteger(w) || w < 1) {
      throw new ArgumentError(
        `ResNet: baseWidth must be an integer ≥ 1, got ${w}. Hint: 64 is torchvision's width.`,
      );
    }
    this.#inplanes = w;
    this.conv1 = new Conv2d(3, w, 7, { stride: 2, padding: 3, bias: false });
    this.bn1 = new BatchNorm2d(w);
    this.layer1 = this.#makeLayer(B, w, layers[0], 1);
    this.layer2 = this.#makeLayer(B, 2 * w, layers[1], 2);
    this.layer3 = this.#makeLayer(B, 4 * w, layers[2], 2);
    this.layer4 = this.#makeLayer(B, 8 * w, layers[3], 2);
    this.fc = new Linear(8 * w * B.expansion, options.numClasses ?? 1000);
    // torchvision's initialization: He normal (fan out) for convolutions, BN scale 1 shift 0.
    for (const m of this.modules()) {
      if (m instanceof Conv2d) kaimingNormal(m.weight, { mode: "fanOut", nonlinearity: "relu" });
    }
    if (options.zeroInitResidual) {
      for (const m of this.modules()) {
        if (m instanceof Bottleneck && m.bn3.weight) constant(m.bn3.weight, 0);
        if (m instanceof BasicBlock && m.bn2.weight) constant(m.bn2.weight, 0);
      }
    }
  }

  #makeLayer(B: Block, planes: number, blocks: number, stride: number): Sequential {
    let down: Sequential | null = null;
    if (stride !== 1 || this.#inplanes !== planes * B.expansion) {
      down = new Sequential(
        conv1x1(this.#inplanes, planes * B.expansion, stride),
        new BatchNorm2d(planes * B.expansion),
      );
    }
    const mods: Module[] = [new B(this.#inplanes, planes, stride, down)];
    this.#inplanes = planes * B.expansion;
    for (let i = 1; i < blocks; i++) mods.push(new B(this.#inplanes, planes));
    return new Sequential(...mods);
  }

  /** Features before the classifier: (N, C) after global average pooling. */
  features(x: Tensor): Tensor {
    x = this.maxpool.call(this.relu.call(this.bn1.call(this.conv1.call(x))));
    x = this.layer4.call(this.layer3.call(this.layer2.call(this.layer1.call(x))));
    return this.avgpool.call(x).flatten(1);
  }

  /** Logits (N, numClasses) of images (N, 3, H, W). */
  forward(x: Tensor): Tensor {
    return this.fc.call(this.features(x));
  }
}

/**
 * ResNet-18 (11.7 M parameters at 1000 classes), torchvision's `resnet18` layout.
 *
 * @example
 * ```ts
 * import { nn } from "@aprender/compute";
 * const net = nn.models.resnet18({ numClasses: 10 });
 * console.log(Object.keys(net.stateDict())[0]); // "conv1.weight"
 * ```
 */
export function resnet18(options: ResNetOptions = {}): ResNet {
  return new ResNet("basic", [2, 2, 2, 2], options);
}

/**
 * ResNet-34, torchvision's `resnet34` layout.
 *
 * @example
 * ```ts
 * import { nn } from "@aprender/compute";
 * console.log(nn.models.resnet34().layer3.length); // 6
 * ```
 */
export function resnet34(options: ResNetOptions = {}): ResNet {
  return new ResNet("basic", [3, 4, 6, 3], options);
}

/**
 * ResNet-50 (25.6 M parameters), torchvision's `resnet50` layout (v1.5: stride in the 3×3).
 *
 * @example
 * ```ts
 * import { nn } from "@aprender/compute";
 * console.log(nn.models.resnet50().fc.inFeatures); // 2048
 * ```
 */
export function resnet50(options: ResNetOptions = {}): ResNet {
  return new ResNet("bottleneck", [3, 4, 6, 3], options);
}
