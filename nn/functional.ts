/**
 * Functional forms of the layers (PyTorch's `torch.nn.functional`): the same computations as
 * the modules, with weights passed explicitly. Everything is composed of core ops, so gradients
 * flow through it.
 *
 * @example
 * ```ts
 * import { nn, randn } from "@aprender/compute";
 * const F = nn.functional;
 * const x = randn([4, 3]);
 * const h = F.relu(F.linear(x, randn([5, 3]), randn([5])));
 * console.log(F.softmax(h, -1).shape); // [4, 5]
 * ```
 *
 * @module
 */
import { DTypeError, fmtShape, ShapeError } from "../core/errors.ts";
import type { Conv1dOptions, Conv2dOptions } from "../core/ops/conv.ts";
import * as core from "../core/ops/conv.ts";
import { abs, add, clip, div, mul, neg, softplus } from "../core/ops/elementwise.ts";
import { where } from "../core/ops/indexing.ts";
import { reshape } from "../core/ops/view.ts";
import type { Generator } from "../core/random.ts";
import type { Tensor } from "../core/tensor.ts";
import * as ops from "./layer_ops.ts";

export {
  avgPool2d,
  type AvgPool2dOptions,
  type Conv1dOptions,
  type Conv2dOptions,
  maxPool2d,
  type MaxPool2dOptions,
} from "../core/ops/conv.ts";
export {
  elu,
  gelu,
  hardswish,
  leakyRelu,
  mish,
  relu,
  selu,
  sigmoid,
  silu,
  softplus,
  tanh,
} from "../core/ops/elementwise.ts";
export { logSoftmax, softmax } from "../core/ops/reduce.ts";

/**
 * y = x·Wᵀ + b over the last axis (PyTorch's `F.linear`): x (*, in), weight (out, in), bias
 * (out,).
 *
 * @example
 * ```ts
 * import { nn, ones } from "@aprender/compute";
 * console.log(nn.functional.linear(ones([1, 2]), ones([3, 2]), ones([3])).toArraySync());
 * // [[3, 3, 3]]
 * ```
 */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  return ops.linear("linear", x, weight, bias);
}

/**
 * 1-D convolution (PyTorch's `F.conv1d`): x (N, C_in, L), weight (C_out, C_in / groups, K).
 *
 * @example
 * ```ts
 * import { nn, ones } from "@aprender/compute";
 * console.log(nn.functional.conv1d(ones([1, 1, 5]), ones([1, 1, 3])).toArraySync());
 * // [[[3, 3, 3]]]
 * ```
 */
export function conv1d(x: Tensor, weight: Tensor, options: Conv1dOptions = {}): Tensor {
  return core.conv1d(x, weight, options);
}

/**
 * 2-D convolution (PyTorch's `F.conv2d`): x (N, C_in, H, W), weight (C_out, C_in / groups, KH,
 * KW).
 *
 * @example
 * ```ts
 * import { nn, ones } from "@aprender/compute";
 * console.log(nn.functional.conv2d(ones([1, 1, 3, 3]), ones([2, 1, 2, 2])).shape);
 * // [1, 2, 2, 2]
 * ```
 */
export function conv2d(x: Tensor, weight: Tensor, options: Conv2dOptions = {}): Tensor {
  return core.conv2d(x, weight, options);
}

/** Options of {@link convTranspose2d}. */
export interface ConvTranspose2dOptions {
  /** Added to each output channel: shape (C_out,). */
  bias?: Tensor | null;
  /** Stride of the convolution this transposes (default 1). */
  stride?: number | readonly [number, number];
  /** Padding of the convolution this transposes (default 0). */
  padding?: number | readonly [number, number];
  /** Extra size on one side of the output (default 0). */
  outputPadding?: number | readonly [number, number];
  /** Channel groups (default 1). */
  groups?: number;
  /** Spacing between kernel taps (default 1). */
  dilation?: number | readonly [number, number];
}

/**
 * Transposed 2-D convolution (PyTorch's `F.conv_transpose2d`): x (N, C_in, H, W), weight
 * (C_in, C_out / groups, KH, KW).
 *
 * @example
 * ```ts
 * import { nn, ones } from "@aprender/compute";
 * const y = nn.functional.convTranspose2d(ones([1, 1, 2, 2]), ones([1, 1, 2, 2]), { stride: 2 });
 * console.log(y.shape); // [1, 1, 4, 4]
 * ```
 */
export function convTranspose2d(
  x: Tensor,
  weight: Tensor,
  options: ConvTranspose2dOptions = {},
): Tensor {
  return ops.convTranspose2d("convTranspose2d", x, weight, {
    bias: options.bias ?? null,
    stride: ops.pair(options.stride ?? 1),
    padding: ops.pair(options.padding ?? 0),
    outputPadding: ops.pair(options.outputPadding ?? 0),
    groups: options.groups ?? 1,
    dilation: ops.pair(options.dilation ?? 1),
  });
}

/**
 * Adaptive average pooling to `outputSize` (PyTorch's `F.adaptive_avg_pool2d`).
 *
 * @example
 * ```ts
 * import { arange, nn } from "@aprender/compute";
 * const x = arange(16).astype("f32").reshape([1, 1, 4, 4]);
 * console.log(nn.functional.adaptiveAvgPool2d(x, 1).toArraySync()); // [[[[7.5]]]]
 * ```
 */
export function adaptiveAvgPool2d(
  x: Tensor,
  outputSize: number | null | readonly [number | null, number | null],
): Tensor {
  const size: [number | null, number | null] = Array.isArray(outputSize)
    ? [outputSize[0], outputSize[1]]
    : [outputSize as number | null, outputSize as number | null];
  return ops.adaptiveAvgPool2d("adaptiveAvgPool2d", x, size);
}

/** Options of {@link batchNorm}. */
export interface BatchNormFnOptions {
  /** Per-channel scale. */
  weight?: Tensor | null;
  /** Per-channel shift. */
  bias?: Tensor | null;
  /** Use (and update) batch statistics (default false: use the running ones). */
  training?: boolean;
  /** Running-average factor (default 0.1). */
  momentum?: number;
  /** Added to the variance (default 1e-5). */
  eps?: number;
}

/**
 * Batch normalization over axis 1 (PyTorch's `F.batch_norm`). In training the running
 * statistics, when given, are updated in place.
 *
 * @example
 * ```ts
 * import { nn, ones, tensor, zeros } from "@aprender/compute";
 * const x = tensor([[1, 2], [3, 6]]);
 * const y = nn.functional.batchNorm(x, zeros([2]), ones([2]), { training: true });
 * console.log(y.shape); // [2, 2]
 * ```
 */
export function batchNorm(
  x: Tensor,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  options: BatchNormFnOptions = {},
): Tensor {
  return ops.batchNorm("batchNorm", x, {
    runningMean,
    runningVar,
    weight: options.weight ?? null,
    bias: options.bias ?? null,
    training: options.training ?? false,
    momentum: options.momentum ?? 0.1,
    eps: options.eps ?? 1e-5,
  });
}

/** Options of {@link layerNorm} and {@link groupNorm}. */
export interface NormFnOptions {
  /** Scale. */
  weight?: Tensor | null;
  /** Shift. */
  bias?: Tensor | null;
  /** Added to the variance (default 1e-5). */
  eps?: number;
}

/**
 * Layer normalization over the trailing `normalizedShape` axes (PyTorch's `F.layer_norm`).
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * console.log(nn.functional.layerNorm(tensor([[1, 3]]), [2], { eps: 0 }).toArraySync());
 * // [[-1, 1]]
 * ```
 */
export function layerNorm(
  x: Tensor,
  normalizedShape: number | readonly number[],
  options: NormFnOptions = {},
): Tensor {
  const shape = typeof normalizedShape === "number" ? [normalizedShape] : normalizedShape;
  return ops.layerNorm(
    "layerNorm",
    x,
    shape,
    options.weight ?? null,
    options.bias ?? null,
    options.eps ?? 1e-5,
  );
}

/** Options of {@link rmsNorm}. */
export interface RMSNormFnOptions {
  /** Scale. */
  weight?: Tensor | null;
  /** Added to the mean square (default: the dtype's machine epsilon). */
  eps?: number | null;
}

/**
 * RMS normalization over the trailing axes (PyTorch's `F.rms_norm`).
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * console.log(nn.functional.rmsNorm(tensor([[3, 4]]), [2], { eps: 0 }).shape); // [1, 2]
 * ```
 */
export function rmsNorm(
  x: Tensor,
  normalizedShape: number | readonly number[],
  options: RMSNormFnOptions = {},
): Tensor {
  const shape = typeof normalizedShape === "number" ? [normalizedShape] : normalizedShape;
  return ops.rmsNorm("rmsNorm", x, shape, options.weight ?? null, options.eps ?? null);
}

/**
 * Group normalization (PyTorch's `F.group_norm`).
 *
 * @example
 * ```ts
 * import { nn, randn } from "@aprender/compute";
 * console.log(nn.functional.groupNorm(randn([2, 4, 3]), 2).shape); // [2, 4, 3]
 * ```
 */
export function groupNorm(x: Tensor, numGroups: number, options: NormFnOptions = {}): Tensor {
  return ops.groupNorm(
    "groupNorm",
    x,
    numGroups,
    options.weight ?? null,
    options.bias ?? null,
    options.eps ?? 1e-5,
  );
}

/** Options of {@link dropout}. */
export interface DropoutFnOptions {
  /** Probability of zeroing an element (default 0.5). */
  p?: number;
  /** Apply dropout (default true); false returns an alias of x. */
  training?: boolean;
  /** Random source (default: the global generator). */
  generator?: Generator;
}

/**
 * Inverted dropout (PyTorch's `F.dropout`): zero each element with probability p and scale the
 * rest by 1/(1-p).
 *
 * @example
 * ```ts
 * import { nn, ones } from "@aprender/compute";
 * console.log(nn.functional.dropout(ones([3]), { training: false }).toArraySync()); // [1, 1, 1]
 * ```
 */
export function dropout(x: Tensor, options: DropoutFnOptions = {}): Tensor {
  return ops.dropout(
    "dropout",
    x,
    options.p ?? 0.5,
    options.training ?? true,
    options.generator,
  );
}

/** Options of {@link embedding}. */
export interface EmbeddingFnOptions {
  /** A row that receives no gradient. */
  paddingIdx?: number | null;
}

/**
 * Rows of `weight` at integer `indices` (PyTorch's `F.embedding`): shape
 * `indices.shape + [dim]`.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * const w = tensor([[0, 0], [1, 2], [3, 4]]);
 * console.log(nn.functional.embedding(tensor([2, 1], { dtype: "i32" }), w).toArraySync());
 * // [[3, 4], [1, 2]]
 * ```
 */
export function embedding(
  indices: Tensor,
  weight: Tensor,
  options: EmbeddingFnOptions = {},
): Tensor {
  return ops.embedding("embedding", indices, weight, options.paddingIdx ?? null);
}

// ---- activations composed of core ops ------------------------------------------------------

/**
 * `min(max(x, minVal), maxVal)` (PyTorch's `F.hardtanh`, default [-1, 1]).
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * console.log(nn.functional.hardtanh(tensor([-2, 0.5, 2])).toArraySync()); // [-1, 0.5, 1]
 * ```
 */
export function hardtanh(x: Tensor, minVal = -1, maxVal = 1): Tensor {
  return clip(x, minVal, maxVal);
}

/**
 * `min(max(x, 0), 6)` (PyTorch's `F.relu6`).
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * console.log(nn.functional.relu6(tensor([-1, 3, 9])).toArraySync()); // [0, 3, 6]
 * ```
 */
export function relu6(x: Tensor): Tensor {
  return clip(x, 0, 6);
}

/**
 * `clip(x / 6 + 1/2, 0, 1)` (PyTorch's `F.hardsigmoid`).
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * console.log(nn.functional.hardsigmoid(tensor([-4, 0, 4])).toArraySync()); // [0, 0.5, 1]
 * ```
 */
export function hardsigmoid(x: Tensor): Tensor {
  const a = div(x, 6);
  const b = add(a, 0.5);
  a.dispose();
  const r = clip(b, 0, 1);
  b.dispose();
  return r;
}

/**
 * `x / (1 + |x|)` (PyTorch's `F.softsign`).
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * console.log(nn.functional.softsign(tensor([-1, 3])).toArraySync()); // [-0.5, 0.75]
 * ```
 */
export function softsign(x: Tensor): Tensor {
  const a = abs(x);
  const d = add(a, 1);
  a.dispose();
  const r = div(x, d);
  d.dispose();
  return r;
}

/**
 * `log(sigmoid(x)) = -softplus(-x)` (PyTorch's `F.logsigmoid`), stable for large |x|.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * console.log(nn.functional.logSigmoid(tensor([0])).toArraySync()); // [-0.6931471824645996]
 * ```
 */
export function logSigmoid(x: Tensor): Tensor {
  const n = neg(x);
  const s = softplus(n);
  n.dispose();
  const r = neg(s);
  s.dispose();
  return r;
}

/**
 * Parametric ReLU (PyTorch's `F.prelu`): `x` where `x ≥ 0`, else `weight · x`; `weight` has one
 * element, or one per channel (axis 1).
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * console.log(nn.functional.prelu(tensor([-2, 2]), tensor([0.25])).toArraySync()); // [-0.5, 2]
 * ```
 */
export function prelu(x: Tensor, weight: Tensor): Tensor {
  if (weight.ndim !== 1) {
    throw new ShapeError(`prelu: weight of shape ${fmtShape(weight.shape)} must be 1-D.`);
  }
  let w = weight;
  if (weight.size !== 1) {
    if (x.ndim < 2 || x.shape[1] !== weight.size) {
      throw new ShapeError(
        `prelu: weight of shape ${fmtShape(weight.shape)} needs an input with ${weight.size} ` +
          `channels on axis 1, got shape ${fmtShape(x.shape)}.`,
      );
    }
    const shape = x.shape.map((d, i) => (i === 1 ? d : 1));
    w = reshape(weight, shape);
  }
  if (x.dtype === "bool") throw new DTypeError(`prelu: input must be numeric, got bool.`);
  const scaled = mul(x, w);
  const cond = x.ge(0);
  const r = where(cond, x, scaled);
  for (const t of [scaled, cond]) t.dispose();
  if (w !== weight) w.dispose();
  return r;
}
