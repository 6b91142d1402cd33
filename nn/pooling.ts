/**
 * Pooling layers: `MaxPool2d`, `AvgPool2d`, `AdaptiveAvgPool2d`.
 *
 * @module
 */
import { avgPool2d, maxPool2d, type SpatialArg } from "../core/ops/conv.ts";
import type { Tensor } from "../core/tensor.ts";
import { Module } from "./module.ts";
import { adaptiveAvgPool2d, checkSpatialInput } from "./layer_ops.ts";

/** Options of {@link MaxPool2d}. */
export interface MaxPool2dLayerOptions {
  /** Step between windows (default: the kernel size). */
  stride?: SpatialArg | null;
  /** Implicit -∞ padding on both sides, at most half the kernel (default 0). */
  padding?: SpatialArg;
  /** Spacing between window taps (default 1). */
  dilation?: SpatialArg;
  /** Round the output size up (default false). */
  ceilMode?: boolean;
}

/** Options of {@link AvgPool2d}. */
export interface AvgPool2dLayerOptions {
  /** Step between windows (default: the kernel size). */
  stride?: SpatialArg | null;
  /** Implicit zero padding on both sides, at most half the kernel (default 0). */
  padding?: SpatialArg;
  /** Round the output size up (default false). */
  ceilMode?: boolean;
  /** Count padded zeros in the divisor (default true). */
  countIncludePad?: boolean;
}

/**
 * Max over sliding windows of (N, C, H, W) inputs, PyTorch's `nn.MaxPool2d`.
 *
 * @example
 * ```ts
 * import { nn, randn } from "@aprender/compute";
 * console.log(new nn.MaxPool2d(2).call(randn([1, 3, 8, 8])).shape); // [1, 3, 4, 4]
 * ```
 */
export class MaxPool2d extends Module {
  /** Window size. */
  readonly kernelSize: SpatialArg;
  /** The other options. */
  readonly options: MaxPool2dLayerOptions;

  /**
   * @param kernelSize window size
   * @param options stride, padding, dilation, ceilMode
   */
  constructor(kernelSize: SpatialArg, options: MaxPool2dLayerOptions = {}) {
    super();
    this.kernelSize = kernelSize;
    this.options = { ...options };
  }

  /** Pool x of shape (N, C, H, W) or (C, H, W). */
  forward(x: Tensor): Tensor {
    checkSpatialInput(`MaxPool2d(kernelSize=${JSON.stringify(this.kernelSize)})`, x, 2, null);
    return maxPool2d(x, { kernelSize: this.kernelSize, ...this.options });
  }

  /** `kernelSize=…, …` */
  override extraRepr(): string {
    return `kernelSize=${JSON.stringify(this.kernelSize)}, stride=${
      JSON.stringify(this.options.stride ?? this.kernelSize)
    }, padding=${JSON.stringify(this.options.padding ?? 0)}`;
  }
}

/**
 * Mean over sliding windows of (N, C, H, W) inputs, PyTorch's `nn.AvgPool2d`.
 *
 * @example
 * ```ts
 * import { nn, ones } from "@aprender/compute";
 * console.log(new nn.AvgPool2d(2).call(ones([1, 1, 4, 4])).toArraySync()); // [[[[1, 1], [1, 1]]]]
 * ```
 */
export class AvgPool2d extends Module {
  /** Window size. */
  readonly kernelSize: SpatialArg;
  /** The other options. */
  readonly options: AvgPool2dLayerOptions;

  /**
   * @param kernelSize window size
   * @param options stride, padding, ceilMode, countIncludePad
   */
  constructor(kernelSize: SpatialArg, options: AvgPool2dLayerOptions = {}) {
    super();
    this.kernelSize = kernelSize;
    this.options = { ...options };
  }

  /** Pool x of shape (N, C, H, W) or (C, H, W). */
  forward(x: Tensor): Tensor {
    checkSpatialInput(`AvgPool2d(kernelSize=${JSON.stringify(this.kernelSize)})`, x, 2, null);
    return avgPool2d(x, { kernelSize: this.kernelSize, ...this.options });
  }

  /** `kernelSize=…, …` */
  override extraRepr(): string {
    return `kernelSize=${JSON.stringify(this.kernelSize)}, stride=${
      JSON.stringify(this.options.stride ?? this.kernelSize)
    }, padding=${JSON.stringify(this.options.padding ?? 0)}`;
  }
}

/**
 * Average pooling to a fixed output size, PyTorch's `nn.AdaptiveAvgPool2d`: output cell i
 * averages input rows ⌊i·H/out⌋ to ⌈(i+1)·H/out⌉ (and likewise for columns). `null` keeps an
 * axis's size; `[1, 1]` is global average pooling.
 *
 * @example
 * ```ts
 * import { nn, randn } from "@aprender/compute";
 * console.log(new nn.AdaptiveAvgPool2d(1).call(randn([2, 16, 7, 7])).shape); // [2, 16, 1, 1]
 * ```
 */
export class AdaptiveAvgPool2d extends Module {
  /** Output size [H, W] (null keeps the input's). */
  readonly outputSize: [number | null, number | null];

  /** @param outputSize one size for both axes, or [H, W] */
  constructor(outputSize: number | null | readonly [number | null, number | null]) {
    super();
    this.outputSize = Array.isArray(outputSize)
      ? [outputSize[0], outputSize[1]]
      : [outputSize as number | null, outputSize as number | null];
  }

  /** Pool x of shape (N, C, H, W) or (C, H, W) to (…, outH, outW). */
  forward(x: Tensor): Tensor {
    return adaptiveAvgPool2d(
      `AdaptiveAvgPool2d(${JSON.stringify(this.outputSize)})`,
      x,
      this.outputSize,
    );
  }

  /** `outputSize=…` */
  override extraRepr(): string {
    return `outputSize=${JSON.stringify(this.outputSize)}`;
  }
}
