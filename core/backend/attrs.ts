/**
 * Attribute types of kernels that several plugins implement, declared once in core (each op in
 * `core/ops/` passes these to its kernels; plugins import them from here, never from another
 * plugin), with the helpers deriving kernel scalars from them.
 *
 * @module
 */

/** Attributes of the 2-D window ops: per-axis [h, w] values; padding [top, bottom, left, right]. */
export interface WindowAttrs {
  /** Step between windows. */
  stride: [number, number];
  /** Implicit padding: top, bottom, left, right. */
  padding: [number, number, number, number];
  /** Spacing between kernel taps. */
  dilation: [number, number];
}

/** Attributes of `conv2d`. */
export interface Conv2dAttrs extends WindowAttrs {
  /** Channel groups. */
  groups: number;
  /** Whether inputs[2] is a bias of shape (C_out,). */
  hasBias: boolean;
}

/** Attributes of the pooling kernels. */
export interface PoolAttrs extends WindowAttrs {
  /** Window size [kh, kw]. */
  kernel: [number, number];
  /** avgPool2d: count padded positions in the divisor. */
  countIncludePad?: boolean;
}

/** Attributes of `reluBackward`: leakyRelu passes its slope; relu passes none. */
export interface ReluBackwardAttrs {
  /** Slope for x ≤ 0 (leakyRelu); without it the gradient there is 0. */
  negativeSlope?: number;
}

/** Attributes of `batchNormTrain` and `batchNormBackward`. */
export interface BatchNormAttrs {
  /** Added to the variance before its square root. */
  eps: number;
  /** Whether a per-channel weight (scale) operand is present. */
  hasWeight: boolean;
  /** Whether a per-channel bias operand is present (batchNormTrain only). */
  hasBias: boolean;
}

/** Attributes of `layerNorm` and `layerNormBackward` (the normalized size is the weight's). */
export interface LayerNormAttrs {
  /** Added to the variance before its square root. */
  eps: number;
  /** Elements per normalized row (the product of the normalized shape). */
  size: number;
  /** Whether a weight operand is present. */
  hasWeight: boolean;
  /** Whether a bias operand is present (layerNorm only). */
  hasBias: boolean;
}

/** Attributes of `batchNormRunning`. */
export interface BatchNormRunningAttrs {
  /** Weight of the batch statistic in the running average. */
  momentum: number;
  /** Values per channel the batch statistics came from (the variance is made unbiased). */
  count: number;
}

/** Attributes of `adamStep` (the per-step scalars are computed by the caller). */
export interface AdamStepAttrs {
  /** Learning rate. */
  lr: number;
  /** Weight decay coefficient. */
  weightDecay: number;
  /** How the weight decay applies: not at all, as L2 in the gradient, or decoupled (AdamW). */
  decay: "none" | "l2" | "decoupled";
  /** First-moment decay rate. */
  beta1: number;
  /** Second-moment decay rate. */
  beta2: number;
  /** Added to the denominator. */
  eps: number;
  /** `lr / (1 − β1^t)`. */
  stepSize: number;
  /** `√(1 − β2^t)`. */
  bc2Sqrt: number;
  /** Ascend instead of descend. */
  maximize: boolean;
}

/**
 * The step's scalars as the kernels use them, each computed in f64 as PyTorch computes its
 * Python scalars: [1 − lr·wd, wd, 1 − β1, β2, 1 − β2, eps, −stepSize, √bc2].
 */
export function adamScalars(a: AdamStepAttrs): number[] {
  return [
    1 - a.lr * a.weightDecay,
    a.weightDecay,
    1 - a.beta1,
    a.beta2,
    1 - a.beta2,
    a.eps,
    -a.stepSize,
    a.bc2Sqrt,
  ];
}

/** Attributes of `quantLinear`. */
export interface QuantLinearAttrs {
  /** "f32": activations as they are; "ggml": rounded like llama.cpp's CPU matmul rounds them. */
  activations: "f32" | "ggml";
}

/** Attributes of `rope` (core/ops/llm.ts). */
export interface RopeAttrs {
  /** Pair order: "normal" rotates (x[2i], x[2i+1]); "neox" rotates (x[i], x[i + dims/2]). */
  order: "normal" | "neox";
  /** Leading features of each head that rotate (even, ≤ the head size); the rest pass through. */
  dims: number;
}

/** Attributes of `rmsNorm` (core/ops/llm.ts). */
export interface RmsNormAttrs {
  /** Added to the mean of squares before the square root. */
  eps: number;
}
