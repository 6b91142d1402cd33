/**
 * MobileNetV2 (Sandler et al. 2018) laid out exactly as torchvision's `mobilenet_v2`, so its
 * state dict keys match: `features.0.0` (stem conv), `features.N.conv.*` (inverted residuals),
 * `features.18` (1×1 to 1280 channels), `classifier.1` (the linear layer after dropout).
 *
 * @module
 */
import type { Tensor } from "../../core/tensor.ts";
import { add } from "../../core/ops/elementwise.ts";
import { Module } from "../module.ts";
import { Conv2d } from "../conv.ts";
import { BatchNorm2d } from "../normalization.ts";
import { ReLU6 } from "../activation.ts";
import { Dropout } from "../dropout.ts";
import { Linear } from "../linear.ts";
import { Sequential } from "../container.ts";
import { adaptiveAvgPool2d } from "../functional.ts";
import { constant, kaimingNormal, normal } from "../init.ts";

/** Round `v` to a multiple of `divisor`, never more than 10% down (torchvision's rule). */
export function makeDivisible(v: number, divisor = 8): number {
  let n = Math.max(divisor, Math.floor(v + divisor / 2) - (Math.floor(v + divisor / 2) % divisor));
  if (n < 0.9 * v) n += divisor;
  return n;
}

/** Convolution, BatchNorm, ReLU6 (torchvision's `Conv2dNormActivation`): keys 0, 1. */
function convBnReLU6(cin: number, cout: number, kernel: number, stride = 1, groups = 1) {
  return new Sequential(
    new Conv2d(cin, cout, kernel, {
      stride,
      padding: (kernel - 1) >> 1,
      groups,
      bias: false,
    }),
    new BatchNorm2d(cout),
    new ReLU6(),
  );
}

/** An inverted residual block: expand (1×1), depthwise 3×3, project (1×1, linear). */
export class InvertedResidual extends Module {
  conv: Sequential;
  /** Whether the input is added to the output (stride 1, same channels). */
  readonly useResConnect: boolean;

  /**
   * @param inp input channels
   * @param oup output channels
   * @param stride stride of the depthwise convolution (1 or 2)
   * @param expandRatio hidden channels per input channel
   */
  constructor(inp: number, oup: number, stride: number, expandRatio: number) {
    super();
    const hidden = Math.round(inp * expandRatio);
    this.useResConnect = stride === 1 && inp === oup;
    const layers: Module[] = [];
    if (expandRatio !== 1) layers.push(convBnReLU6(inp, hidden, 1));
    layers.push(
      convBnReLU6(hidden, hidden, 3, stride, hidden),
      new Conv2d(hidden, oup, 1, { bias: false }),
      new BatchNorm2d(oup),
    );
    this.conv = new Sequential(...layers);
  }

  /** The block, plus the input when shapes allow. */
  forward(x: Tensor): Tensor {
    const y = this.conv.call(x);
    return this.useResConnect ? add(x, y) : y;
  }
}

/** Options of {@link mobilenetV2}. */
export interface MobileNetV2Options {
  /** Size of the classifier (default 1000). */
  numClasses?: number;
  /** Channel multiplier (default 1). */
  widthMult?: number;
  /** Dropout before the classifier in training (default 0.2). */
  dropout?: number;
}

/**
 * MobileNetV2 with torchvision's module names.
 *
 * @example
 * ```ts
 * import { nn, randn } from "@aprender/compute";
 * const net = new nn.models.MobileNetV2({ numClasses: 5 }).eval();
 * console.log(net.call(randn([1, 3, 32, 32])).shape); // [1, 5]
 * ```
 */
export class MobileNetV2 extends Module {
  features: Sequential;
  classifier: Sequential;
  /** Channels of the last feature map (1280 at width 1). */
  readonly lastChannel: number;

  /** @param options classifier size, width and dropout */
  constructor(options: MobileNetV2Options = {}) {
    super();
    const width = options.widthMult ?? 1;
    const settings: [number, number, number, number][] = [
      [1, 16, 1, 1],
      [6, 24, 2, 2],
      [6, 32, 3, 2],
      [6, 64, 4, 2],
      [6, 96, 3, 1],
      [6, 160, 3, 2],
      [6, 320, 1, 1],
    ];
    let input = makeDivisible(32 * width);
    this.lastChannel = makeDivisible(1280 * Math.max(1, width));
    const feats: Module[] = [convBnReLU6(3, input, 3, 2)];
    for (const [t, c, n, s] of settings) {
      const out = makeDivisible(c * width);
      for (let i = 0; i < n; i++) {
        feats.push(new InvertedResidual(input, out, i === 0 ? s : 1, t));
        input = out;
      }
    }
    feats.push(convBnReLU6(input, this.lastChannel, 1));
    this.features = new Sequential(...feats);
    this.classifier = new Sequential(
      new Dropout(options.dropout ?? 0.2),
      new Linear(this.lastChannel, options.numClasses ?? 1000),
    );
    // torchvision's initialization: He normal (fan out) convolutions, N(0, 0.01) linear weights.
    for (const m of this.modules()) {
      if (m instanceof Conv2d) kaimingNormal(m.weight, { mode: "fanOut" });
      if (m instanceof Linear) {
        normal(m.weight, 0, 0.01);
        if (m.bias) constant(m.bias, 0);
      }
    }
  }

  /** Pooled features (N, lastChannel). */
  forwardFeatures(x: Tensor): Tensor {
    return adaptiveAvgPool2d(this.features.call(x), [1, 1]).flatten(1);
  }

  /** Logits (N, numClasses) of images (N, 3, H, W). */
  forward(x: Tensor): Tensor {
    return this.classifier.call(this.forwardFeatures(x));
  }
}

/**
 * MobileNetV2 (3.5 M parameters at 1000 classes), torchvision's `mobilenet_v2` layout.
 *
 * @example
 * ```ts
 * import { nn } from "@aprender/compute";
 * console.log(Object.keys(nn.models.mobilenetV2().stateDict()).at(-1)); // "classifier.1.bias"
 * ```
 */
export function mobilenetV2(options: MobileNetV2Options = {}): MobileNetV2 {
  return new MobileNetV2(options);
}
