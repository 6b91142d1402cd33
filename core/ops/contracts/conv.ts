/**
 * Contracts of the convolution and pooling family (core/ops/conv.ts, core/grads/conv.ts) and the
 * fused training kernels (core/ops/fused.ts).
 *
 * @module
 */
import type {
  AdamStepAttrs,
  BatchNormAttrs,
  BatchNormRunningAttrs,
  Conv2dAttrs,
  LayerNormAttrs,
  PoolAttrs,
  ReluBackwardAttrs,
} from "../../backend/attrs.ts";
import type { Binary, Contracts, Op, Unary } from "./contract.ts";

/** The conv, pooling and fused-training ops: kernel name → contract. */
export interface ConvOps {
  /** (x, w) or (x, w, bias). */
  conv2d: Op<"variadic", Conv2dAttrs>;
  /** 2-D max pooling. */
  maxPool2d: Unary<PoolAttrs>;
  /** 2-D average pooling. */
  avgPool2d: Unary<PoolAttrs>;
  /** Gradient of maxPool2d with respect to its input. */
  maxPool2dBackward: Binary<PoolAttrs>;
  /** Gradient of avgPool2d with respect to its input. */
  avgPool2dBackward: Binary<PoolAttrs>;
  /** Gradient of conv2d with respect to its input. */
  conv2dBackwardInput: Binary<Conv2dAttrs>;
  /** Gradient of conv2d with respect to its weight. */
  conv2dBackwardWeight: Binary<Conv2dAttrs>;
  /** relu's (or leakyRelu's) gradient from x and the output gradient. */
  reluBackward: Binary<ReluBackwardAttrs>;
  /** grad (and the parameter, moments as outputs written in place). */
  adamStep: Op<"variadic", AdamStepAttrs>;
  /** (x, [weight], [bias]) → y, batch mean, biased batch variance (per channel, axis 1). */
  batchNormTrain: Op<"variadic", BatchNormAttrs>;
  /** (gy, x, mean, var, [weight]) → dx, dweight, dbias. */
  batchNormBackward: Op<"variadic", BatchNormAttrs>;
  /** (batch mean, biased batch variance) → running mean, running variance, updated in place. */
  batchNormRunning: Op<"variadic", BatchNormRunningAttrs>;
  /** (x, [weight], [bias]) → y, mean and 1/√(var + eps) of each row (rows of `size`). */
  layerNorm: Op<"variadic", LayerNormAttrs>;
  /** (gy, x, mean, rstd, [weight]) → dx, dweight, dbias. */
  layerNormBackward: Op<"variadic", LayerNormAttrs>;
}

/** The conv, pooling and fused-training contracts at run time. */
export const CONV_OPS: Contracts<ConvOps> = {
  conv2d: "variadic",
  maxPool2d: 1,
  avgPool2d: 1,
  maxPool2dBackward: 2,
  avgPool2dBackward: 2,
  conv2dBackwardInput: 2,
  conv2dBackwardWeight: 2,
  reluBackward: 2,
  adamStep: "variadic",
  batchNormTrain: "variadic",
  batchNormBackward: "variadic",
  batchNormRunning: "variadic",
  layerNorm: "variadic",
  layerNormBackward: "variadic",
};
