/**
 * Normalization layers: `BatchNorm1d`, `BatchNorm2d`, `LayerNorm`, `RMSNorm`, `GroupNorm`.
 *
 * @module
 */
import { noGrad } from "../core/autograd.ts";
import type { DType } from "../core/dtype.ts";
import { fmtShape, ShapeError } from "../core/errors.ts";
import { add } from "../core/ops/elementwise.ts";
import { copyInto } from "../core/ops/view.ts";
import type { Tensor } from "../core/tensor.ts";
import { Module } from "./module.ts";
import { batchNorm, groupNorm, layerNorm, newBuffer, newParameter, rmsNorm } from "./layer_ops.ts";
import { ones as initOnes, zeros as initZeros } from "./init.ts";

/** Options of {@link BatchNorm1d} and {@link BatchNorm2d}. */
export interface BatchNormOptions {
  /** Added to the variance for stability (default 1e-5). */
  eps?: number;
  /**
   * Weight of each new batch statistic in the running averages (default 0.1); `null` gives the
   * cumulative average over all batches (factor 1/numBatchesTracked).
   */
  momentum?: number | null;
  /** Learn a per-channel scale and shift (default true). */
  affine?: boolean;
  /** Keep running statistics for eval mode (default true); without, eval uses batch statistics. */
  trackRunningStats?: boolean;
  /** Parameter and statistics dtype (default "f32"). */
  dtype?: DType;
}

/** Shared code of BatchNorm1d and BatchNorm2d (PyTorch's `_BatchNorm`). */
abstract class BatchNormBase extends Module {
  /** Scale of shape (C,) (ones), or null when not affine. */
  weight: Tensor | null;
  /** Shift of shape (C,) (zeros), or null when not affine. */
  bias: Tensor | null;
  /** Number of channels C. */
  readonly numFeatures: number;
  /** Added to the variance. */
  readonly eps: number;
  /** Running-average factor, or null for the cumulative average. */
  momentum: number | null;
  /** Whether scale and shift are learned. */
  readonly affine: boolean;
  /** Whether running statistics are kept. */
  readonly trackRunningStats: boolean;

  constructor(numFeatures: number, options: BatchNormOptions) {
    super();
    this.numFeatures = numFeatures;
    this.eps = options.eps ?? 1e-5;
    this.momentum = options.momentum === undefined ? 0.1 : options.momentum;
    this.affine = options.affine ?? true;
    this.trackRunningStats = options.trackRunningStats ?? true;
    const dtype = options.dtype ?? "f32";
    this.weight = this.affine ? initOnes(newParameter([numFeatures], dtype)) : null;
    this.bias = this.affine ? newParameter([numFeatures], dtype) : null;
    if (this.trackRunningStats) {
      this.registerBuffer("running_mean", newBuffer([numFeatures], dtype, 0));
      this.registerBuffer("running_var", newBuffer([numFeatures], dtype, 1));
      this.registerBuffer("num_batches_tracked", newBuffer([], "i64", 0));
    }
  }

  /** Running mean of shape (C,) (the `running_mean` buffer), or null. */
  get runningMean(): Tensor | null {
    return (this as unknown as Record<string, Tensor | undefined>).running_mean ?? null;
  }
  /** Running (unbiased) variance of shape (C,) (the `running_var` buffer), or null. */
  get runningVar(): Tensor | null {
    return (this as unknown as Record<string, Tensor | undefined>).running_var ?? null;
  }
  /** Number of training batches seen (the i64 `num_batches_tracked` buffer), or null. */
  get numBatchesTracked(): Tensor | null {
    return (this as unknown as Record<string, Tensor | undefined>).num_batches_tracked ?? null;
  }

  /** Reset the running statistics to mean 0, variance 1, no batches. */
  resetRunningStats(): void {
    if (this.runningMean) initZeros(this.runningMean);
    if (this.runningVar) initOnes(this.runningVar);
    if (this.numBatchesTracked) initZeros(this.numBatchesTracked);
  }

  /** Reset the running statistics, scale to 1 and shift to 0. */
  resetParameters(): void {
    this.resetRunningStats();
    if (this.weight) initOnes(this.weight);
    if (this.bias) initZeros(this.bias);
  }

  protected abstract checkInput(x: Tensor): void;

  /** A description for error messages. */
  protected get label(): string {
    return `${this.constructor.name}(${this.numFeatures})`;
  }

  /**
   * Normalize with the batch statistics in training (updating the running ones) or the running
   * statistics in eval mode.
   */
  forward(x: Tensor): Tensor {
    this.checkInput(x);
    let factor = this.momentum ?? 0;
    const nbt = this.numBatchesTracked;
    if (this.training && nbt) {
      noGrad(() => {
        const n = add(nbt, 1);
        copyInto(nbt, n);
        n.dispose();
      });
      if (this.momentum === null) factor = 1 / Number(nbt.item());
    }
    return batchNorm(this.label, x, {
      runningMean: this.runningMean,
      runningVar: this.runningVar,
      weight: this.weight,
      bias: this.bias,
      training: this.training || !this.runningMean,
      momentum: factor,
      eps: this.eps,
    });
  }

  /** `numFeatures, eps=…, momentum=…, affine=…, trackRunningStats=…` */
  override extraRepr(): string {
    return `${this.numFeatures}, eps=${this.eps}, momentum=${this.momentum}, affine=${this.affine}` +
      `, trackRunningStats=${this.trackRunningStats}`;
  }
}

function checkChannels(label: string, x: Tensor, ranks: number[], expected: string, c: number) {
  if (!ranks.includes(x.ndim)) {
    throw new ShapeError(
      `${label}: input of shape ${fmtShape(x.shape)} has ${x.ndim} axes; expected ${expected}.`,
    );
  }
  if (x.shape[1] !== c) {
    throw new ShapeError(
      `${label}: input of shape ${fmtShape(x.shape)} has ${x.shape[1]} channels on axis 1, ` +
        `expected ${c} (${expected}).`,
    );
  }
}

/**
 * Batch normalization of (N, C) or (N, C, L) inputs over N (and L), PyTorch's
 * `nn.BatchNorm1d`: y = (x - mean) / √(var + eps) · weight + bias, with batch statistics in
 * training (the running mean/variance updated by `momentum`, the variance unbiased) and the
 * running statistics in eval mode.
 *
 * @example
 * ```ts
 * import { nn, randn } from "@aprender/compute";
 * const bn = new nn.BatchNorm1d(4);
 * bn.call(randn([16, 4]));
 * console.log(Object.keys(bn.stateDict()));
 * // ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
 * ```
 */
export class BatchNorm1d extends BatchNormBase {
  /**
   * @param numFeatures channels C
   * @param options eps, momentum, affine, trackRunningStats, dtype
   */
  constructor(numFeatures: number, options: BatchNormOptions = {}) {
    super(numFeatures, options);
  }
  protected checkInput(x: Tensor): void {
    checkChannels(
      this.label,
      x,
      [2, 3],
      `(N, ${this.numFeatures}) or (N, ${this.numFeatures}, L)`,
      this.numFeatures,
    );
  }
}

/**
 * Batch normalization of (N, C, H, W) inputs over N, H and W, PyTorch's `nn.BatchNorm2d` (see
 * {@link BatchNorm1d}).
 *
 * @example
 * ```ts
 * import { nn, randn } from "@aprender/compute";
 * const bn = new nn.BatchNorm2d(3);
 * const y = bn.call(randn([2, 3, 4, 4]));
 * bn.eval(); // now normalizes with the running statistics
 * console.log(y.shape); // [2, 3, 4, 4]
 * ```
 */
export class BatchNorm2d extends BatchNormBase {
  /**
   * @param numFeatures channels C
   * @param options eps, momentum, affine, trackRunningStats, dtype
   */
  constructor(numFeatures: number, options: BatchNormOptions = {}) {
    super(numFeatures, options);
  }
  protected checkInput(x: Tensor): void {
    checkChannels(this.label, x, [4], `(N, ${this.numFeatures}, H, W)`, this.numFeatures);
  }
}

/** Options of {@link LayerNorm}. */
export interface LayerNormOptions {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Learn a scale (and shift) of the normalized shape (default true). */
  elementwiseAffine?: boolean;
  /** Learn the shift too (default true; only with elementwiseAffine). */
  bias?: boolean;
  /** Parameter dtype (default "f32"). */
  dtype?: DType;
}

function normShape(s: number | readonly number[]): number[] {
  return typeof s === "number" ? [s] : [...s];
}

/**
 * Layer normalization over the trailing `normalizedShape` axes, PyTorch's `nn.LayerNorm`:
 * y = (x - mean) / √(var + eps) · weight + bias (biased variance; weight ones, bias zeros).
 *
 * @example
 * ```ts
 * import { nn, randn } from "@aprender/compute";
 * const ln = new nn.LayerNorm(8);
 * const y = ln.call(randn([2, 5, 8]));
 * console.log(y.shape); // [2, 5, 8]
 * ```
 */
export class LayerNorm extends Module {
  /** Scale of the normalized shape, or null. */
  weight: Tensor | null;
  /** Shift of the normalized shape, or null. */
  bias: Tensor | null;
  /** The trailing shape normalized over. */
  readonly normalizedShape: readonly number[];
  /** Added to the variance. */
  readonly eps: number;

  /**
   * @param normalizedShape the trailing axes' lengths (a number for one axis)
   * @param options eps, elementwiseAffine, bias, dtype
   */
  constructor(normalizedShape: number | readonly number[], options: LayerNormOptions = {}) {
    super();
    this.normalizedShape = normShape(normalizedShape);
    this.eps = options.eps ?? 1e-5;
    const affine = options.elementwiseAffine ?? true;
    this.weight = affine ? initOnes(newParameter(this.normalizedShape, options.dtype)) : null;
    this.bias = affine && options.bias !== false
      ? newParameter(this.normalizedShape, options.dtype)
      : null;
  }

  /** Normalize over the trailing axes; x has shape (*, ...normalizedShape). */
  forward(x: Tensor): Tensor {
    return layerNorm(
      `LayerNorm(${fmtShape(this.normalizedShape)})`,
      x,
      this.normalizedShape,
      this.weight,
      this.bias,
      this.eps,
    );
  }

  /** `normalizedShape, eps=…, elementwiseAffine=…` */
  override extraRepr(): string {
    return `${fmtShape(this.normalizedShape)}, eps=${this.eps}, elementwiseAffine=${
      this.weight !== null
    }`;
  }
}

/** Options of {@link RMSNorm}. */
export interface RMSNormOptions {
  /** Added to the mean square (default: the dtype's machine epsilon, like PyTorch). */
  eps?: number | null;
  /** Learn a scale (default true). */
  elementwiseAffine?: boolean;
  /** Parameter dtype (default "f32"). */
  dtype?: DType;
}

/**
 * Root-mean-square normalization over the trailing axes, PyTorch's `nn.RMSNorm`:
 * y = x / √(mean(x²) + eps) · weight.
 *
 * @example
 * ```ts
 * import { nn, randn } from "@aprender/compute";
 * const n = new nn.RMSNorm([16]);
 * console.log(n.call(randn([4, 16])).shape); // [4, 16]
 * ```
 */
export class RMSNorm extends Module {
  /** Scale of the normalized shape, or null. */
  weight: Tensor | null;
  /** The trailing shape normalized over. */
  readonly normalizedShape: readonly number[];
  /** Added to the mean square (null: machine epsilon of the input's dtype). */
  readonly eps: number | null;

  /**
   * @param normalizedShape the trailing axes' lengths
   * @param options eps, elementwiseAffine, dtype
   */
  constructor(normalizedShape: number | readonly number[], options: RMSNormOptions = {}) {
    super();
    this.normalizedShape = normShape(normalizedShape);
    this.eps = options.eps ?? null;
    this.weight = options.elementwiseAffine === false
      ? null
      : initOnes(newParameter(this.normalizedShape, options.dtype));
  }

  /** Normalize over the trailing axes. */
  forward(x: Tensor): Tensor {
    return rmsNorm(
      `RMSNorm(${fmtShape(this.normalizedShape)})`,
      x,
      this.normalizedShape,
      this.weight,
      this.eps,
    );
  }

  /** `normalizedShape, eps=…, elementwiseAffine=…` */
  override extraRepr(): string {
    return `${fmtShape(this.normalizedShape)}, eps=${this.eps}, elementwiseAffine=${
      this.weight !== null
    }`;
  }
}

/** Options of {@link GroupNorm}. */
export interface GroupNormOptions {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Learn a per-channel scale and shift (default true). */
  affine?: boolean;
  /** Parameter dtype (default "f32"). */
  dtype?: DType;
}

/**
 * Group normalization, PyTorch's `nn.GroupNorm`: the C channels of an (N, C, *) input are split
 * into `numGroups` groups, each normalized over its channels and positions, then scaled and
 * shifted per channel.
 *
 * @example
 * ```ts
 * import { nn, randn } from "@aprender/compute";
 * const gn = new nn.GroupNorm(2, 6);
 * console.log(gn.call(randn([3, 6, 5])).shape); // [3, 6, 5]
 * ```
 */
export class GroupNorm extends Module {
  /** Per-channel scale (C,), or null. */
  weight: Tensor | null;
  /** Per-channel shift (C,), or null. */
  bias: Tensor | null;
  /** Number of groups. */
  readonly numGroups: number;
  /** Number of channels C. */
  readonly numChannels: number;
  /** Added to the variance. */
  readonly eps: number;

  /**
   * @param numGroups groups (must divide numChannels)
   * @param numChannels channels C
   * @param options eps, affine, dtype
   */
  constructor(numGroups: number, numChannels: number, options: GroupNormOptions = {}) {
    super();
    if (!Number.isInteger(numGroups) || numGroups < 1 || numChannels % numGroups !== 0) {
      throw new ShapeError(
        `GroupNorm: numChannels (${numChannels}) must be divisible by numGroups (${numGroups}).`,
      );
    }
    this.numGroups = numGroups;
    this.numChannels = numChannels;
    this.eps = options.eps ?? 1e-5;
    const affine = options.affine ?? true;
    this.weight = affine ? initOnes(newParameter([numChannels], options.dtype)) : null;
    this.bias = affine ? newParameter([numChannels], options.dtype) : null;
  }

  /** Normalize each group of channels. */
  forward(x: Tensor): Tensor {
    const label = `GroupNorm(${this.numGroups}, ${this.numChannels})`;
    if (x.ndim < 2 || x.shape[1] !== this.numChannels) {
      throw new ShapeError(
        `${label}: input of shape ${fmtShape(x.shape)} must have ${this.numChannels} channels ` +
          `on axis 1; expected (N, ${this.numChannels}, *).`,
      );
    }
    return groupNorm(label, x, this.numGroups, this.weight, this.bias, this.eps);
  }

  /** `numGroups, numChannels, eps=…, affine=…` */
  override extraRepr(): string {
    return `${this.numGroups}, ${this.numChannels}, eps=${this.eps}, affine=${
      this.weight !== null
    }`;
  }
}
