/**
 * Loss functions as functions (PyTorch's `torch.nn.functional` losses: `crossEntropy`,
 * `mseLoss`, ...), with PyTorch's formulas, defaults and reductions (`"mean"`, `"sum"`,
 * `"none"`); `loss_modules.ts` wraps each as a module.
 *
 * Every loss is composed of core ops (logSoftmax, gather, where, softplus, sums), so autograd
 * differentiates it with the ops' own rules and any backend runs it. Numerically stable forms are
 * used: cross entropy through `logSoftmax`, binary cross entropy with logits through `softplus`
 * (the log-sigmoid form), BCE's logs clamped at -100 like PyTorch.
 *
 * Deliberate differences from PyTorch: the regression losses (MSE, L1, SmoothL1, Huber, BCE,
 * KLDiv) require the target to have the input's exact shape (PyTorch broadcasts some of them with
 * a warning, which is almost always a bug), and integer or bool targets of these losses are cast
 * to the input's dtype instead of being rejected. `bceLoss` does not check that the input lies in
 * [0, 1] (PyTorch raises; values outside give NaN here), and at inputs exactly 0 or 1 its
 * gradient is the derivative of the clamped formula (PyTorch's backward uses
 * `(x - t) / max(x·(1 - x), 1e-12)` there). Class indices are range-checked where the target is
 * readable synchronously (host memory).
 *
 * @module
 */
import { noGrad } from "../core/autograd.ts";
import { type Own, scoped } from "../core/dispose.ts";
import { isFloat } from "../core/dtype.ts";
import { ComputeError, DTypeError, fmtShape } from "../core/errors.ts";
import { asTensor } from "../core/ops/creation.ts";
import { add, clip, log, log1p, mul, neg, softplus, sub } from "../core/ops/elementwise.ts";
import { where } from "../core/ops/indexing.ts";
import { logSoftmax, sum } from "../core/ops/reduce.ts";
import { reshape } from "../core/ops/view.ts";
import { Tensor, type TensorLike } from "../core/tensor.ts";
import {
  checkReduction,
  classIndexArgs,
  classWeight,
  elementWeight,
  floatInput,
  nllParts,
  reduce,
  sameShape,
  sameShapeTarget,
  unbatch,
} from "./loss_args.ts";

/**
 * How a loss reduces its per-element values: their mean (default), their sum, or none (the
 * per-element losses).
 */
export type Reduction = "mean" | "sum" | "none";

// ---- class-index losses ----------------------------------------------------------------------

/** Options of {@link nllLoss} and {@link NLLLoss}. */
export interface NLLLossOptions {
  /** A weight per class, shape (C) (default: all 1). */
  weight?: TensorLike | null;
  /** A target value that contributes nothing, not even to the mean's denominator (default -100). */
  ignoreIndex?: number;
  /** `"mean"` (weighted mean over non-ignored targets, default), `"sum"` or `"none"`. */
  reduction?: Reduction;
}

/**
 * Negative log-likelihood of log-probabilities `input` (N, C), (N, C, d1, ...) or (C) at the
 * integer class indices `target` (N), (N, d1, ...) or (), PyTorch's `nll_loss`:
 * `l = -weight[t]·input[n, t]`. The mean divides by the sum of the weights of the non-ignored
 * targets (NaN when every target is ignored, like PyTorch).
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * const logp = tensor([[-0.5, -1.0], [-2.0, -0.1]]);
 * console.log(nn.nllLoss(logp, tensor([0, 1], { dtype: "i64" })).item()); // 0.30000001192092896
 * ```
 */
export function nllLoss(
  input: TensorLike,
  target: TensorLike,
  options: NLLLossOptions = {},
): Tensor {
  const { ignoreIndex = -100, reduction = "mean" } = options;
  checkReduction("nllLoss", reduction);
  return scoped((k) => {
    const x0 = floatInput("nllLoss", input, k);
    const t0 = asTensor(target, target instanceof Tensor ? undefined : "i64", x0.device);
    if (t0 !== target) k(t0);
    const { x, t, unbatched, numClasses } = classIndexArgs("nllLoss", x0, t0, ignoreIndex, k);
    const w = classWeight("nllLoss", options.weight, x0, numClasses, k);
    const { losses, weights } = nllParts(x, t, w, ignoreIndex, k);
    if (reduction === "none") return unbatch(losses, unbatched, k);
    k(losses);
    if (reduction === "sum") return sum(losses);
    return k(sum(losses)).div(k(sum(weights)));
  });
}

/** Options of {@link crossEntropy} and {@link CrossEntropyLoss}. */
export interface CrossEntropyOptions extends NLLLossOptions {
  /**
   * Mix the target with the uniform distribution: `(1 - ε)·target + ε/C` (default 0), in
   * [0, 1].
   */
  labelSmoothing?: number;
}

/**
 * Cross entropy between logits `input` (N, C), (N, C, d1, ...) or (C) and a target, PyTorch's
 * `cross_entropy`: `logSoftmax` over the class axis (1, or 0 for an unbatched input), then
 *
 * - class indices (an integer target of the input's shape without the class axis): the
 *   negative log-likelihood with `weight` and `ignoreIndex` (see {@link nllLoss}); with label
 *   smoothing ε, `(1 - ε)·nll + ε/C·smooth` where `smooth = -Σ_c weight[c]·logp[c]` per
 *   position (0 where ignored), its mean divided by the same weight sum as the nll's;
 * - class probabilities (a float target of the input's shape): `-Σ_c weight[c]·p[c]·logp[c]`
 *   per position, the mean dividing by the number of positions (N·d1·...), with label smoothing
 *   applied to the probabilities.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * const logits = tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]]);
 * const y = tensor([0, 2], { dtype: "i64" });
 * console.log(nn.crossEntropy(logits, y).item()); // 0.17545637488365173
 * console.log(nn.crossEntropy(logits, y, { labelSmoothing: 0.1 }).item()); // 0.3454563617706299
 * ```
 */
export function crossEntropy(
  input: TensorLike,
  target: TensorLike,
  options: CrossEntropyOptions = {},
): Tensor {
  const { ignoreIndex = -100, reduction = "mean", labelSmoothing = 0 } = options;
  const loss = "crossEntropy";
  checkReduction(loss, reduction);
  if (!(labelSmoothing >= 0 && labelSmoothing <= 1)) {
    throw new ComputeError(`${loss}: labelSmoothing must be in [0, 1], got ${labelSmoothing}.`);
  }
  return scoped((k) => {
    const x0 = floatInput(loss, input, k);
    let t0 = asTensor(target, undefined, x0.device);
    if (t0 !== target) {
      k(t0);
      if (!sameShape(t0.shape, x0.shape)) t0 = k(asTensor(target, "i64", x0.device));
    }
    if (sameShape(t0.shape, x0.shape) && x0.ndim > 0) {
      return probabilityCE(x0, t0, options, k);
    }
    const { x, t, unbatched, numClasses } = classIndexArgs(loss, x0, t0, ignoreIndex, k);
    const w = classWeight(loss, options.weight, x0, numClasses, k);
    const logp = k(logSoftmax(x, 1));
    const { losses, weights, mask } = nllParts(logp, t, w, ignoreIndex, k);
    const nll = reduction === "none"
      ? losses
      : reduction === "sum"
      ? k(sum(k(losses)))
      : k(k(sum(k(losses))).div(k(sum(weights))));
    if (labelSmoothing === 0) return unbatch(nll, unbatched, k);
    k(nll);
    // smooth = -Σ_c w[c]·logp[c], 0 at ignored positions
    const wl = w
      ? k(mul(logp, k(reshape(w, [1, numClasses, ...x.shape.slice(2).map(() => 1)]))))
      : logp;
    const smooth = k(where(mask, k(neg(k(sum(wl, 1)))), 0));
    let s: Tensor;
    if (reduction === "none") s = smooth;
    else if (reduction === "sum") s = k(sum(smooth));
    else s = k(k(sum(smooth)).div(k(sum(weights))));
    const out = add(k(mul(nll, 1 - labelSmoothing)), k(mul(s, labelSmoothing / numClasses)));
    return unbatch(out, unbatched, k);
  });
}

/** Cross entropy with class-probability targets (the target has the input's shape). */
function probabilityCE(
  x0: Tensor,
  t0: Tensor,
  options: CrossEntropyOptions,
  k: Own,
): Tensor {
  const { reduction = "mean", labelSmoothing = 0, ignoreIndex = -100 } = options;
  const loss = "crossEntropy";
  if (!isFloat(t0.dtype)) {
    throw new DTypeError(
      `${loss}: a target of the input's shape ${fmtShape(x0.shape)} holds class ` +
        `probabilities and must be float, got ${t0.dtype}. Hint: class indices have shape ` +
        `${fmtShape(x0.ndim === 1 ? [] : [x0.shape[0], ...x0.shape.slice(2)])}.`,
    );
  }
  if (ignoreIndex >= 0) {
    throw new ComputeError(
      `${loss}: ignoreIndex (${ignoreIndex}) is not supported with class-probability targets.`,
    );
  }
  const unbatched = x0.ndim === 1;
  const x = unbatched ? k(x0.unsqueeze(0)) : x0;
  let t = unbatched ? k(t0.unsqueeze(0)) : t0;
  if (t.dtype !== x.dtype) t = k(t.astype(x.dtype));
  const numClasses = x.shape[1];
  const w = classWeight(loss, options.weight, x0, numClasses, k);
  const logp = k(logSoftmax(x, 1));
  if (labelSmoothing > 0) {
    t = k(add(k(mul(t, 1 - labelSmoothing)), labelSmoothing / numClasses));
  }
  let prod = k(mul(logp, t));
  if (w) prod = k(mul(prod, k(reshape(w, [1, numClasses, ...x.shape.slice(2).map(() => 1)]))));
  if (reduction === "none") return unbatch(neg(k(sum(prod, 1))), unbatched, k);
  const total = k(neg(k(sum(prod))));
  if (reduction === "sum") return total;
  return total.div(x.size / numClasses);
}

// ---- elementwise losses ----------------------------------------------------------------------

/** Options of the losses that take only a reduction. */
export interface ReductionOptions {
  /** `"mean"` (default), `"sum"` or `"none"`. */
  reduction?: Reduction;
}

/** An elementwise loss `f(input, target)` followed by its reduction. */
function elementwise(
  loss: string,
  input: TensorLike,
  target: TensorLike,
  reduction: Reduction,
  f: (x: Tensor, y: Tensor, k: Own) => Tensor,
): Tensor {
  checkReduction(loss, reduction);
  return scoped((k) => {
    const x = floatInput(loss, input, k);
    const y = sameShapeTarget(loss, x, target, k);
    return reduce(f(x, y, k), reduction, k);
  });
}

/**
 * Mean squared error `(input - target)²`, PyTorch's `mse_loss`. The target must have the input's
 * shape.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * console.log(nn.mseLoss(tensor([1, 2, 3]), tensor([1, 0, 0])).item()); // 4.333333492279053
 * ```
 */
export function mseLoss(
  input: TensorLike,
  target: TensorLike,
  options: ReductionOptions = {},
): Tensor {
  return elementwise("mseLoss", input, target, options.reduction ?? "mean", (x, y, k) => {
    return k(sub(x, y)).square();
  });
}

/**
 * Mean absolute error `|input - target|`, PyTorch's `l1_loss` (its gradient at 0 is 0).
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * console.log(nn.l1Loss(tensor([1, 2, 3]), tensor([1, 0, 0])).item()); // 1.6666666269302368
 * ```
 */
export function l1Loss(
  input: TensorLike,
  target: TensorLike,
  options: ReductionOptions = {},
): Tensor {
  return elementwise("l1Loss", input, target, options.reduction ?? "mean", (x, y, k) => {
    return k(sub(x, y)).abs();
  });
}

/** Options of {@link smoothL1Loss}. */
export interface SmoothL1LossOptions extends ReductionOptions {
  /** Where the loss turns from quadratic to linear (default 1; 0 gives the L1 loss). */
  beta?: number;
}

/**
 * Smooth L1 loss, PyTorch's `smooth_l1_loss`: with `z = |input - target|`, `0.5·z²/beta` where
 * `z < beta`, else `z - 0.5·beta`; `beta = 0` is the L1 loss.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * const l = nn.smoothL1Loss(tensor([0.5, 3]), tensor([0, 0]), { reduction: "none" });
 * console.log(l.toArraySync()); // [0.125, 2.5]
 * ```
 */
export function smoothL1Loss(
  input: TensorLike,
  target: TensorLike,
  options: SmoothL1LossOptions = {},
): Tensor {
  const beta = options.beta ?? 1;
  if (!(beta >= 0)) throw new ComputeError(`smoothL1Loss: beta must be ≥ 0, got ${beta}.`);
  return elementwise("smoothL1Loss", input, target, options.reduction ?? "mean", (x, y, k) => {
    const z = k(k(sub(x, y)).abs());
    if (beta === 0) return z.clone();
    const quad = k(k(z.square()).mul(0.5 / beta));
    return where(k(noGrad(() => z.lt(beta))), quad, k(z.sub(0.5 * beta)));
  });
}

/** Options of {@link huberLoss}. */
export interface HuberLossOptions extends ReductionOptions {
  /** Where the loss turns from quadratic to linear (default 1, must be > 0). */
  delta?: number;
}

/**
 * Huber loss, PyTorch's `huber_loss`: with `z = |input - target|`, `0.5·z²` where `z < delta`,
 * else `delta·(z - 0.5·delta)` (SmoothL1 scaled by `delta`).
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * const l = nn.huberLoss(tensor([0.5, 3]), tensor([0, 0]), { delta: 2, reduction: "none" });
 * console.log(l.toArraySync()); // [0.125, 4]
 * ```
 */
export function huberLoss(
  input: TensorLike,
  target: TensorLike,
  options: HuberLossOptions = {},
): Tensor {
  const delta = options.delta ?? 1;
  if (!(delta > 0)) throw new ComputeError(`huberLoss: delta must be > 0, got ${delta}.`);
  return elementwise("huberLoss", input, target, options.reduction ?? "mean", (x, y, k) => {
    const z = k(k(sub(x, y)).abs());
    const quad = k(k(z.square()).mul(0.5));
    return where(k(noGrad(() => z.lt(delta))), quad, k(k(z.sub(0.5 * delta)).mul(delta)));
  });
}

/** Options of {@link bceLoss}. */
export interface BCELossOptions extends ReductionOptions {
  /** A weight per element, broadcast to the input's shape (default: none). */
  weight?: TensorLike | null;
}

/**
 * Binary cross entropy of probabilities `input` (in [0, 1]) and targets, PyTorch's
 * `binary_cross_entropy`: `-weight·(t·log(x) + (1 - t)·log(1 - x))`, each log clamped at -100 so
 * that 0 and 1 give finite losses. For logits, {@link bceWithLogitsLoss} is more stable.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * console.log(nn.bceLoss(tensor([0.9, 0.2]), tensor([1, 0])).item()); // 0.16425204277038574
 * ```
 */
export function bceLoss(
  input: TensorLike,
  target: TensorLike,
  options: BCELossOptions = {},
): Tensor {
  return elementwise("bceLoss", input, target, options.reduction ?? "mean", (x, y, k) => {
    const w = elementWeight("bceLoss", "weight", options.weight, x, k);
    // PyTorch's form: (t - 1)·max(log1p(-x), -100) - t·max(log(x), -100)
    const logX = k(clip(k(log(x)), -100, null));
    const log1mX = k(clip(k(log1p(k(neg(x)))), -100, null));
    const l = sub(k(mul(k(sub(y, 1)), log1mX)), k(mul(y, logX)));
    return w ? mul(k(l), w) : l;
  });
}

/** Options of {@link bceWithLogitsLoss}. */
export interface BCEWithLogitsLossOptions extends BCELossOptions {
  /**
   * A weight of the positive examples, broadcast along the last axis (one per class), like
   * PyTorch's `pos_weight` (default: none).
   */
  posWeight?: TensorLike | null;
}

/**
 * Binary cross entropy of logits, PyTorch's `binary_cross_entropy_with_logits`, computed stably
 * in the log-sigmoid form `(1 - t)·x - (1 + (posWeight - 1)·t)·logσ(x)` with
 * `logσ(x) = -softplus(-x)`, times `weight`.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * console.log(nn.bceWithLogitsLoss(tensor([30, -30, 0]), tensor([1, 0, 1])).item()); // 0.2310490608215332
 * ```
 */
export function bceWithLogitsLoss(
  input: TensorLike,
  target: TensorLike,
  options: BCEWithLogitsLossOptions = {},
): Tensor {
  const loss = "bceWithLogitsLoss";
  return elementwise(loss, input, target, options.reduction ?? "mean", (x, y, k) => {
    const w = elementWeight(loss, "weight", options.weight, x, k);
    const pw = elementWeight(loss, "posWeight", options.posWeight, x, k);
    // softplus(-x) = -logσ(x); an infinite threshold keeps the exact stable form everywhere.
    let sp = k(softplus(k(neg(x)), 1, Infinity));
    if (pw) sp = k(mul(sp, k(add(k(mul(k(sub(pw, 1)), y)), 1))));
    const l = add(k(mul(k(neg(k(sub(y, 1)))), x)), sp);
    return w ? mul(k(l), w) : l;
  });
}

/** Options of {@link klDivLoss}. */
export interface KLDivLossOptions {
  /**
   * `"mean"` (over all elements, default, as PyTorch), `"batchmean"` (the sum divided by the
   * batch size: the true KL divergence per sample), `"sum"` or `"none"`.
   */
  reduction?: Reduction | "batchmean";
  /** Whether the target holds log-probabilities (default false: probabilities). */
  logTarget?: boolean;
}

/**
 * Kullback-Leibler divergence loss of log-probabilities `input` against a target distribution,
 * PyTorch's `kl_div`: `t·(log t - input)` (0 where t = 0), or with `logTarget`
 * `exp(t)·(t - input)`.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * const logq = tensor([[0.25, 0.75]]).log();
 * const p = tensor([[0.5, 0.5]]);
 * console.log(nn.klDivLoss(logq, p, { reduction: "batchmean" }).item()); // 0.14384102821350098
 * ```
 */
export function klDivLoss(
  input: TensorLike,
  target: TensorLike,
  options: KLDivLossOptions = {},
): Tensor {
  const loss = "klDivLoss";
  const reduction = options.reduction ?? "mean";
  checkReduction(loss, reduction, ["batchmean"]);
  return scoped((k) => {
    const x = floatInput(loss, input, k);
    const t = sameShapeTarget(loss, x, target, k);
    let l: Tensor;
    if (options.logTarget) l = mul(k(t.exp()), k(sub(t, x)));
    else {
      // xlogy(t, t) - t·x: log(1) stands in at t = 0, so 0·log(0) is 0 and no NaN reaches
      // the gradient.
      const safe = k(where(k(noGrad(() => t.eq(0))), 1, t));
      l = sub(k(mul(t, k(log(safe)))), k(mul(t, x)));
    }
    if (reduction !== "batchmean") return reduce(l, reduction, k);
    k(l);
    const total = k(sum(l));
    return total.div(x.ndim === 0 ? 1 : x.shape[0]);
  });
}
