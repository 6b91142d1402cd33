/**
 * The losses as modules (PyTorch's `torch.nn` loss modules: `CrossEntropyLoss`, `MSELoss`, ...):
 * each holds its options (constant tensors such as class weights as buffers) and calls the
 * function of the same name in `loss_functional.ts`.
 *
 * @module
 */
import { keep } from "../core/memory.ts";
import { asTensor } from "../core/ops/creation.ts";
import type { Tensor, TensorLike } from "../core/tensor.ts";
import { Module } from "./module.ts";
import { checkReduction } from "./loss_args.ts";
import {
  bceLoss,
  type BCELossOptions,
  bceWithLogitsLoss,
  type BCEWithLogitsLossOptions,
  crossEntropy,
  type CrossEntropyOptions,
  huberLoss,
  type HuberLossOptions,
  klDivLoss,
  type KLDivLossOptions,
  l1Loss,
  mseLoss,
  nllLoss,
  type NLLLossOptions,
  type Reduction,
  type ReductionOptions,
  smoothL1Loss,
  type SmoothL1LossOptions,
} from "./loss_functional.ts";

/** A loss's constant tensor argument kept as a buffer (owned by the module, outside tidy scopes). */
function ownBuffer(w: TensorLike | null | undefined): Tensor | null {
  if (w === null || w === undefined) return null;
  const t = asTensor(w);
  return keep(t === w ? t.clone() : t);
}

/** Base of the loss modules: `forward(input, target)` and the reduction. */
abstract class Loss extends Module<[TensorLike, TensorLike], Tensor> {
  /** How the per-element losses are reduced. */
  readonly reduction: Reduction;
  constructor(reduction: Reduction = "mean") {
    super();
    this.reduction = reduction;
  }
  /** `reduction="…"` */
  override extraRepr(): string {
    return `reduction="${this.reduction}"`;
  }
}

/**
 * {@link crossEntropy} as a module (PyTorch's `nn.CrossEntropyLoss`); `weight` is a buffer.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * const loss = new nn.CrossEntropyLoss({ labelSmoothing: 0.1 });
 * const l = loss.call(tensor([[2.0, 0.5, -1.0]]), tensor([0], { dtype: "i64" }));
 * console.log(l.item()); // 0.39131128787994385
 * ```
 */
export class CrossEntropyLoss extends Loss {
  /** The per-class weight (a buffer), or null. */
  declare readonly weight: Tensor | null;
  /** The ignored target value. */
  readonly ignoreIndex: number;
  /** The label smoothing ε. */
  readonly labelSmoothing: number;
  /**
   * Create the loss.
   *
   * @param options weight, ignoreIndex (-100), reduction ("mean"), labelSmoothing (0)
   */
  constructor(options: CrossEntropyOptions = {}) {
    super(options.reduction);
    checkReduction("CrossEntropyLoss", this.reduction);
    this.registerBuffer("weight", ownBuffer(options.weight));
    this.ignoreIndex = options.ignoreIndex ?? -100;
    this.labelSmoothing = options.labelSmoothing ?? 0;
  }
  /** The loss of logits `input` against `target` (class indices or probabilities). */
  forward(input: TensorLike, target: TensorLike): Tensor {
    return crossEntropy(input, target, {
      weight: this.weight,
      ignoreIndex: this.ignoreIndex,
      reduction: this.reduction,
      labelSmoothing: this.labelSmoothing,
    });
  }
}

/**
 * {@link nllLoss} as a module (PyTorch's `nn.NLLLoss`); `weight` is a buffer.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * const loss = new nn.NLLLoss();
 * console.log(loss.call(tensor([[-0.5, -1.0]]), tensor([1], { dtype: "i64" })).item()); // 1
 * ```
 */
export class NLLLoss extends Loss {
  /** The per-class weight (a buffer), or null. */
  declare readonly weight: Tensor | null;
  /** The ignored target value. */
  readonly ignoreIndex: number;
  /**
   * Create the loss.
   *
   * @param options weight, ignoreIndex (-100), reduction ("mean")
   */
  constructor(options: NLLLossOptions = {}) {
    super(options.reduction);
    checkReduction("NLLLoss", this.reduction);
    this.registerBuffer("weight", ownBuffer(options.weight));
    this.ignoreIndex = options.ignoreIndex ?? -100;
  }
  /** The loss of log-probabilities `input` against class indices `target`. */
  forward(input: TensorLike, target: TensorLike): Tensor {
    return nllLoss(input, target, {
      weight: this.weight,
      ignoreIndex: this.ignoreIndex,
      reduction: this.reduction,
    });
  }
}

/**
 * {@link mseLoss} as a module (PyTorch's `nn.MSELoss`).
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * console.log(new nn.MSELoss().call(tensor([1, 2]), tensor([0, 0])).item()); // 2.5
 * ```
 */
export class MSELoss extends Loss {
  /**
   * Create the loss.
   *
   * @param options reduction ("mean")
   */
  constructor(options: ReductionOptions = {}) {
    super(options.reduction);
    checkReduction("MSELoss", this.reduction);
  }
  /** The loss of `input` against `target` (same shape). */
  forward(input: TensorLike, target: TensorLike): Tensor {
    return mseLoss(input, target, { reduction: this.reduction });
  }
}

/**
 * {@link l1Loss} as a module (PyTorch's `nn.L1Loss`).
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * console.log(new nn.L1Loss().call(tensor([1, -2]), tensor([0, 0])).item()); // 1.5
 * ```
 */
export class L1Loss extends Loss {
  /**
   * Create the loss.
   *
   * @param options reduction ("mean")
   */
  constructor(options: ReductionOptions = {}) {
    super(options.reduction);
    checkReduction("L1Loss", this.reduction);
  }
  /** The loss of `input` against `target` (same shape). */
  forward(input: TensorLike, target: TensorLike): Tensor {
    return l1Loss(input, target, { reduction: this.reduction });
  }
}

/**
 * {@link smoothL1Loss} as a module (PyTorch's `nn.SmoothL1Loss`).
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * console.log(new nn.SmoothL1Loss({ beta: 0.5 }).call(tensor([2]), tensor([0])).item()); // 1.75
 * ```
 */
export class SmoothL1Loss extends Loss {
  /** Where the loss turns linear. */
  readonly beta: number;
  /**
   * Create the loss.
   *
   * @param options reduction ("mean"), beta (1)
   */
  constructor(options: SmoothL1LossOptions = {}) {
    super(options.reduction);
    checkReduction("SmoothL1Loss", this.reduction);
    this.beta = options.beta ?? 1;
  }
  /** The loss of `input` against `target` (same shape). */
  forward(input: TensorLike, target: TensorLike): Tensor {
    return smoothL1Loss(input, target, { reduction: this.reduction, beta: this.beta });
  }
}

/**
 * {@link huberLoss} as a module (PyTorch's `nn.HuberLoss`).
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * console.log(new nn.HuberLoss({ delta: 0.5 }).call(tensor([2]), tensor([0])).item()); // 0.875
 * ```
 */
export class HuberLoss extends Loss {
  /** Where the loss turns linear. */
  readonly delta: number;
  /**
   * Create the loss.
   *
   * @param options reduction ("mean"), delta (1)
   */
  constructor(options: HuberLossOptions = {}) {
    super(options.reduction);
    checkReduction("HuberLoss", this.reduction);
    this.delta = options.delta ?? 1;
  }
  /** The loss of `input` against `target` (same shape). */
  forward(input: TensorLike, target: TensorLike): Tensor {
    return huberLoss(input, target, { reduction: this.reduction, delta: this.delta });
  }
}

/**
 * {@link bceLoss} as a module (PyTorch's `nn.BCELoss`); `weight` is a buffer.
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * console.log(new nn.BCELoss().call(tensor([0.5]), tensor([1])).item()); // 0.6931471824645996
 * ```
 */
export class BCELoss extends Loss {
  /** The per-element weight (a buffer), or null. */
  declare readonly weight: Tensor | null;
  /**
   * Create the loss.
   *
   * @param options weight, reduction ("mean")
   */
  constructor(options: BCELossOptions = {}) {
    super(options.reduction);
    checkReduction("BCELoss", this.reduction);
    this.registerBuffer("weight", ownBuffer(options.weight));
  }
  /** The loss of probabilities `input` against `target` (same shape). */
  forward(input: TensorLike, target: TensorLike): Tensor {
    return bceLoss(input, target, { reduction: this.reduction, weight: this.weight });
  }
}

/**
 * {@link bceWithLogitsLoss} as a module (PyTorch's `nn.BCEWithLogitsLoss`); `weight` and
 * `pos_weight` are buffers (PyTorch's state-dict names).
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * const loss = new nn.BCEWithLogitsLoss({ posWeight: tensor([2]) });
 * console.log(loss.call(tensor([[0]]), tensor([[1]])).item()); // 1.3862943649291992
 * ```
 */
export class BCEWithLogitsLoss extends Loss {
  /** The per-element weight (a buffer), or null. */
  declare readonly weight: Tensor | null;
  /** The weight of positive examples (a buffer named like PyTorch's), or null. */
  declare readonly pos_weight: Tensor | null;
  /**
   * Create the loss.
   *
   * @param options weight, posWeight, reduction ("mean")
   */
  constructor(options: BCEWithLogitsLossOptions = {}) {
    super(options.reduction);
    checkReduction("BCEWithLogitsLoss", this.reduction);
    this.registerBuffer("weight", ownBuffer(options.weight));
    this.registerBuffer("pos_weight", ownBuffer(options.posWeight));
  }
  /** The loss of logits `input` against `target` (same shape). */
  forward(input: TensorLike, target: TensorLike): Tensor {
    return bceWithLogitsLoss(input, target, {
      reduction: this.reduction,
      weight: this.weight,
      posWeight: this.pos_weight,
    });
  }
}

/**
 * {@link klDivLoss} as a module (PyTorch's `nn.KLDivLoss`).
 *
 * @example
 * ```ts
 * import { nn, tensor } from "@aprender/compute";
 * const loss = new nn.KLDivLoss({ reduction: "batchmean", logTarget: true });
 * console.log(loss.call(tensor([[-1, -1]]), tensor([[-1, -1]])).item()); // 0
 * ```
 */
export class KLDivLoss extends Module<[TensorLike, TensorLike], Tensor> {
  /** How the per-element losses are reduced. */
  readonly reduction: Reduction | "batchmean";
  /** Whether the target holds log-probabilities. */
  readonly logTarget: boolean;
  /**
   * Create the loss.
   *
   * @param options reduction ("mean"), logTarget (false)
   */
  constructor(options: KLDivLossOptions = {}) {
    super();
    this.reduction = options.reduction ?? "mean";
    checkReduction("KLDivLoss", this.reduction, ["batchmean"]);
    this.logTarget = options.logTarget ?? false;
  }
  /** The loss of log-probabilities `input` against `target` (same shape). */
  forward(input: TensorLike, target: TensorLike): Tensor {
    return klDivLoss(input, target, { reduction: this.reduction, logTarget: this.logTarget });
  }
  /** `reduction="…", logTarget=…` */
  override extraRepr(): string {
    return `reduction="${this.reduction}", logTarget=${this.logTarget}`;
  }
}
