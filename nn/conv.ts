/**
 * Convolution layers: `Conv1d`, `Conv2d`, `ConvTranspose2d`.
 *
 * @module
 */
import type { DType } from "../core/dtype.ts";
import { ShapeError } from "../core/errors.ts";
import { conv1d, conv2d } from "../core/ops/conv.ts";
import { pad } from "../core/ops/join.ts";
import type { Generator } from "../core/random.ts";
import type { Tensor } from "../core/tensor.ts";
import { Module } from "./module.ts";
import { checkSpatialInput, convTranspose2d, newParameter, pair } from "./layer_ops.ts";
import { calculateFans, kaimingUniform, uniform } from "./init.ts";

/** How a convolution pads its input: zeros, or PyTorch's other `padding_mode`s. */
export type PaddingMode = "zeros" | "reflect" | "replicate" | "circular";

/** Options shared by the convolution layers. */
export interface ConvOptions {
  /** Learn a per-output-channel bias (default true). */
  bias?: boolean;
  /** Split channels into independent groups (default 1). */
  groups?: number;
  /** Parameter dtype (default "f32"). */
  dtype?: DType;
  /** Random source of the initial weights (default: the global generator). */
  generator?: Generator;
}

/** Options of {@link Conv2d}. */
export interface Conv2dLayerOptions extends ConvOptions {
  /** Step between output positions (default 1). */
  stride?: number | readonly [number, number];
  /** Padding on both sides (default 0), or "valid" / "same". */
  padding?: number | readonly [number, number] | "same" | "valid";
  /** Spacing between kernel taps (default 1). */
  dilation?: number | readonly [number, number];
  /** What the padding holds (default "zeros"). */
  paddingMode?: PaddingMode;
}

/** Options of {@link Conv1d}. */
export interface Conv1dLayerOptions extends ConvOptions {
  /** Step between output positions (default 1). */
  stride?: number;
  /** Padding on both ends (default 0), or "valid" / "same". */
  padding?: number | "same" | "valid";
  /** Spacing between kernel taps (default 1). */
  dilation?: number;
  /** What the padding holds (default "zeros"). */
  paddingMode?: PaddingMode;
}

/** Options of {@link ConvTranspose2d}. */
export interface ConvTranspose2dLayerOptions extends ConvOptions {
  /** Step of the (forward) convolution this transposes (default 1). */
  stride?: number | readonly [number, number];
  /** Padding of the convolution this transposes: trims the output (default 0). */
  padding?: number | readonly [number, number];
  /** Extra rows/columns added to one side of the output (default 0; < stride or dilation). */
  outputPadding?: number | readonly [number, number];
  /** Spacing between kernel taps (default 1). */
  dilation?: number | readonly [number, number];
}

const PAD_MODES = { reflect: "reflect", replicate: "edge", circular: "wrap" } as const;

/** Reset a conv weight and bias like PyTorch's `_ConvNd.reset_parameters`. */
function resetConv(weight: Tensor, bias: Tensor | null, generator?: Generator): void {
  kaimingUniform(weight, { a: Math.sqrt(5), generator });
  if (bias) {
    const { fanIn } = calculateFans(weight);
    const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
    uniform(bias, -bound, bound, { generator });
  }
}

function checkGroups(label: string, cin: number, cout: number, groups: number): void {
  if (!Number.isInteger(groups) || groups < 1 || cin % groups || cout % groups) {
    throw new ShapeError(
      `${label}: groups=${groups} must divide both inChannels (${cin}) and outChannels (${cout}).`,
    );
  }
}

/**
 * Pad the spatial axes explicitly for a non-zero padding mode: per spatial axis, a number (both
 * sides) or "same" for a kernel span (the extra on the right, like PyTorch).
 */
function modePad(x: Tensor, mode: PaddingMode, padding: number[], span?: number[]): Tensor {
  const dims = padding.length;
  const widths = x.shape.map((_, i) => {
    const s = i - (x.ndim - dims);
    if (s < 0) return [0, 0];
    if (span) return [span[s] >> 1, span[s] - (span[s] >> 1)];
    return [padding[s], padding[s]];
  });
  return pad(x, widths, { mode: PAD_MODES[mode as keyof typeof PAD_MODES] });
}

/**
 * 2-D convolution over (N, C_in, H, W) inputs, PyTorch's `nn.Conv2d` (cross-correlation, as
 * every framework). `weight` has shape (C_out, C_in / groups, KH, KW); initialization is
 * PyTorch's (kaiming uniform with a = √5, bias U(-1/√fanIn, 1/√fanIn)).
 *
 * @example
 * ```ts
 * import { nn, randn } from "@aprender/compute";
 * const conv = new nn.Conv2d(1, 8, 3, { padding: 1 });
 * console.log(conv.call(randn([2, 1, 28, 28])).shape); // [2, 8, 28, 28]
 * ```
 */
export class Conv2d extends Module {
  /** Weight of shape (C_out, C_in / groups, KH, KW). */
  weight: Tensor;
  /** Bias of shape (C_out,), or null. */
  bias: Tensor | null;
  /** Input channels. */
  readonly inChannels: number;
  /** Output channels. */
  readonly outChannels: number;
  /** Kernel size [KH, KW]. */
  readonly kernelSize: [number, number];
  /** Stride [sH, sW]. */
  readonly stride: [number, number];
  /** Padding [pH, pW] or "same" / "valid". */
  readonly padding: [number, number] | "same" | "valid";
  /** Dilation [dH, dW]. */
  readonly dilation: [number, number];
  /** Channel groups. */
  readonly groups: number;
  /** What the padding holds. */
  readonly paddingMode: PaddingMode;

  /**
   * @param inChannels input channels
   * @param outChannels output channels
   * @param kernelSize kernel size (one number or [KH, KW])
   * @param options stride, padding, dilation, groups, bias, paddingMode, dtype, generator
   */
  constructor(
    inChannels: number,
    outChannels: number,
    kernelSize: number | readonly [number, number],
    options: Conv2dLayerOptions = {},
  ) {
    super();
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelSize = pair(kernelSize);
    this.stride = pair(options.stride ?? 1);
    const p = options.padding ?? 0;
    this.padding = typeof p === "string" ? p : pair(p);
    this.dilation = pair(options.dilation ?? 1);
    this.groups = options.groups ?? 1;
    this.paddingMode = options.paddingMode ?? "zeros";
    checkGroups("Conv2d", inChannels, outChannels, this.groups);
    if (!(this.paddingMode in PAD_MODES) && this.paddingMode !== "zeros") {
      throw new ShapeError(`Conv2d: unknown paddingMode ${JSON.stringify(this.paddingMode)}.`);
    }
    this.weight = newParameter(
      [outChannels, inChannels / this.groups, ...this.kernelSize],
      options.dtype,
    );
    this.bias = options.bias === false ? null : newParameter([outChannels], options.dtype);
    this.resetParameters(options.generator);
  }

  /** Re-draw the initial weights. */
  resetParameters(generator?: Generator): void {
    resetConv(this.weight, this.bias, generator);
  }

  /** Convolve x of shape (N, C_in, H, W) or (C_in, H, W). */
  forward(x: Tensor): Tensor {
    checkSpatialInput(
      `Conv2d(${this.inChannels}, ${this.outChannels}, kernelSize=${
        JSON.stringify(this.kernelSize)
      })`,
      x,
      2,
      this.inChannels,
    );
    const opts = {
      bias: this.bias,
      stride: this.stride,
      dilation: this.dilation,
      groups: this.groups,
    };
    if (this.paddingMode === "zeros" || this.padding === "valid") {
      return conv2d(x, this.weight, { ...opts, padding: this.padding });
    }
    const same = this.padding === "same";
    const xp = modePad(
      x,
      this.paddingMode,
      same ? [0, 0] : this.padding as number[],
      same ? [0, 1].map((a) => this.dilation[a] * (this.kernelSize[a] - 1)) : undefined,
    );
    try {
      return conv2d(xp, this.weight, opts);
    } finally {
      xp.dispose();
    }
  }

  /** PyTorch-like summary of the arguments. */
  override extraRepr(): string {
    return `${this.inChannels}, ${this.outChannels}, kernelSize=${
      JSON.stringify(this.kernelSize)
    }, stride=${JSON.stringify(this.stride)}, padding=${JSON.stringify(this.padding)}` +
      (this.groups !== 1 ? `, groups=${this.groups}` : "") +
      (this.bias ? "" : ", bias=false");
  }
}

/**
 * 1-D convolution over (N, C_in, L) inputs, PyTorch's `nn.Conv1d`. `weight` has shape
 * (C_out, C_in / groups, K).
 *
 * @example
 * ```ts
 * import { nn, randn } from "@aprender/compute";
 * const conv = new nn.Conv1d(4, 6, 3, { stride: 2 });
 * console.log(conv.call(randn([2, 4, 11])).shape); // [2, 6, 5]
 * ```
 */
export class Conv1d extends Module {
  /** Weight of shape (C_out, C_in / groups, K). */
  weight: Tensor;
  /** Bias of shape (C_out,), or null. */
  bias: Tensor | null;
  /** Input channels. */
  readonly inChannels: number;
  /** Output channels. */
  readonly outChannels: number;
  /** Kernel size. */
  readonly kernelSize: number;
  /** Stride. */
  readonly stride: number;
  /** Padding, or "same" / "valid". */
  readonly padding: number | "same" | "valid";
  /** Dilation. */
  readonly dilation: number;
  /** Channel groups. */
  readonly groups: number;
  /** What the padding holds. */
  readonly paddingMode: PaddingMode;

  /**
   * @param inChannels input channels
   * @param outChannels output channels
   * @param kernelSize kernel length
   * @param options stride, padding, dilation, groups, bias, paddingMode, dtype, generator
   */
  constructor(
    inChannels: number,
    outChannels: number,
    kernelSize: number,
    options: Conv1dLayerOptions = {},
  ) {
    super();
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelSize = kernelSize;
    this.stride = options.stride ?? 1;
    this.padding = options.padding ?? 0;
    this.dilation = options.dilation ?? 1;
    this.groups = options.groups ?? 1;
    this.paddingMode = options.paddingMode ?? "zeros";
    checkGroups("Conv1d", inChannels, outChannels, this.groups);
    if (!(this.paddingMode in PAD_MODES) && this.paddingMode !== "zeros") {
      throw new ShapeError(`Conv1d: unknown paddingMode ${JSON.stringify(this.paddingMode)}.`);
    }
    this.weight = newParameter([outChannels, inChannels / this.groups, kernelSize], options.dtype);
    this.bias = options.bias === false ? null : newParameter([outChannels], options.dtype);
    this.resetParameters(options.generator);
  }

  /** Re-draw the initial weights. */
  resetParameters(generator?: Generator): void {
    resetConv(this.weight, this.bias, generator);
  }

  /** Convolve x of shape (N, C_in, L) or (C_in, L). */
  forward(x: Tensor): Tensor {
    checkSpatialInput(
      `Conv1d(${this.inChannels}, ${this.outChannels}, kernelSize=${this.kernelSize})`,
      x,
      1,
      this.inChannels,
    );
    const opts = {
      bias: this.bias,
      stride: this.stride,
      dilation: this.dilation,
      groups: this.groups,
    };
    if (this.paddingMode === "zeros" || this.padding === "valid") {
      return conv1d(x, this.weight, { ...opts, padding: this.padding });
    }
    const same = this.padding === "same";
    const xp = modePad(
      x,
      this.paddingMode,
      [same ? 0 : this.padding as number],
      same ? [this.dilation * (this.kernelSize - 1)] : undefined,
    );
    try {
      return conv1d(xp, this.weight, opts);
    } finally {
      xp.dispose();
    }
  }

  /** PyTorch-like summary of the arguments. */
  override extraRepr(): string {
    return `${this.inChannels}, ${this.outChannels}, kernelSize=${this.kernelSize}, stride=${this.stride}, padding=${
      JSON.stringify(this.padding)
    }` + (this.groups !== 1 ? `, groups=${this.groups}` : "") + (this.bias ? "" : ", bias=false");
  }
}

/**
 * Transposed 2-D convolution ("deconvolution"), PyTorch's `nn.ConvTranspose2d`: the gradient of
 * a `Conv2d` with respect to its input, used to upsample. `weight` has shape
 * (C_in, C_out / groups, KH, KW); the output size is
 * (H - 1)·stride - 2·padding + dilation·(KH - 1) + outputPadding + 1.
 *
 * @example
 * ```ts
 * import { nn, randn } from "@aprender/compute";
 * const up = new nn.ConvTranspose2d(8, 4, 2, { stride: 2 });
 * console.log(up.call(randn([1, 8, 7, 7])).shape); // [1, 4, 14, 14]
 * ```
 */
export class ConvTranspose2d extends Module {
  /** Weight of shape (C_in, C_out / groups, KH, KW). */
  weight: Tensor;
  /** Bias of shape (C_out,), or null. */
  bias: Tensor | null;
  /** Input channels. */
  readonly inChannels: number;
  /** Output channels. */
  readonly outChannels: number;
  /** Kernel size [KH, KW]. */
  readonly kernelSize: [number, number];
  /** Stride. */
  readonly stride: [number, number];
  /** Padding. */
  readonly padding: [number, number];
  /** Output padding. */
  readonly outputPadding: [number, number];
  /** Dilation. */
  readonly dilation: [number, number];
  /** Channel groups. */
  readonly groups: number;

  /**
   * @param inChannels input channels
   * @param outChannels output channels
   * @param kernelSize kernel size (one number or [KH, KW])
   * @param options stride, padding, outputPadding, dilation, groups, bias, dtype, generator
   */
  constructor(
    inChannels: number,
    outChannels: number,
    kernelSize: number | readonly [number, number],
    options: ConvTranspose2dLayerOptions = {},
  ) {
    super();
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelSize = pair(kernelSize);
    this.stride = pair(options.stride ?? 1);
    this.padding = pair(options.padding ?? 0);
    this.outputPadding = pair(options.outputPadding ?? 0);
    this.dilation = pair(options.dilation ?? 1);
    this.groups = options.groups ?? 1;
    checkGroups("ConvTranspose2d", inChannels, outChannels, this.groups);
    this.weight = newParameter(
      [inChannels, outChannels / this.groups, ...this.kernelSize],
      options.dtype,
    );
    this.bias = options.bias === false ? null : newParameter([outChannels], options.dtype);
    this.resetParameters(options.generator);
  }

  /** Re-draw the initial weights (fan-in from weight axis 1, as PyTorch). */
  resetParameters(generator?: Generator): void {
    resetConv(this.weight, this.bias, generator);
  }

  /** Transposed convolution of x of shape (N, C_in, H, W) or (C_in, H, W). */
  forward(x: Tensor): Tensor {
    return convTranspose2d(
      `ConvTranspose2d(${this.inChannels}, ${this.outChannels}, kernelSize=${
        JSON.stringify(this.kernelSize)
      })`,
      x,
      this.weight,
      {
        bias: this.bias,
        stride: this.stride,
        padding: this.padding,
        outputPadding: this.outputPadding,
        groups: this.groups,
        dilation: this.dilation,
      },
    );
  }

  /** PyTorch-like summary of the arguments. */
  override extraRepr(): string {
    return `${this.inChannels}, ${this.outChannels}, kernelSize=${
      JSON.stringify(this.kernelSize)
    }, stride=${JSON.stringify(this.stride)}, padding=${JSON.stringify(this.padding)}`;
  }
}
