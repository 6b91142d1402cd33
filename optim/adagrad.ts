/**
 * Adagrad (PyTorch's `torch.optim.Adagrad`, same defaults and update, incl. lrDecay and
 * initialAccumulatorValue).
 *
 * @module
 */
import { fullLike } from "../core/ops/creation.ts";
import type { Tensor } from "../core/tensor.ts";
import {
  checkNonNegative,
  Optimizer,
  type ParamGroup,
  type ParamGroupInput,
  type Params,
  type ParamState,
} from "./optimizer.ts";

/** Options of {@link Adagrad} (PyTorch's, in camelCase). */
export interface AdagradOptions {
  /** Learning rate (default 1e-2). */
  lr: number;
  /** Learning-rate decay: step t uses `lr / (1 + (t − 1)·lrDecay)` (default 0). */
  lrDecay: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay: number;
  /** Starting value of the squared-gradient sums (default 0). */
  initialAccumulatorValue: number;
  /** Added to the denominator for numerical stability (default 1e-10). */
  eps: number;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize: boolean;
}

/**
 * Adagrad, as PyTorch computes it: `g = ±grad + wd·p`, `clr = lr / (1 + (t − 1)·lrDecay)`,
 * `s ← s + g²`, `p ← p − clr·g/(√s + eps)`. State (created with the optimizer, as in PyTorch):
 * `step`, `sum`.
 *
 * @example
 * ```ts
 * import { optim, tensor } from "@aprender/compute";
 * const w = tensor([1, -2]).requireGrad();
 * const opt = new optim.Adagrad([w], { lr: 0.1 });
 * w.square().sum().backward();
 * opt.step();
 * console.log(w.toArraySync()); // [0.9, -1.9] (approximately)
 * ```
 */
export class Adagrad extends Optimizer<AdagradOptions> {
  /**
   * Create it; omitted options take PyTorch's defaults.
   *
   * @param params parameters or parameter groups
   * @param options options of every group (PyTorch's defaults where omitted)
   */
  constructor(params: Params<AdagradOptions>, options: Partial<AdagradOptions> = {}) {
    super(params, {
      lr: 1e-2,
      lrDecay: 0,
      weightDecay: 0,
      initialAccumulatorValue: 0,
      eps: 1e-10,
      maximize: false,
      ...options,
    });
  }

  /** Add a parameter group; its state (`step` 0, `sum` filled) is created at once, like PyTorch. */
  override addParamGroup(group: ParamGroupInput<AdagradOptions>): void {
    super.addParamGroup(group);
    const g = this.paramGroups[this.paramGroups.length - 1];
    for (const p of g.params) {
      this.state.set(p, { step: 0, sum: this.newState(fullLike(p, g.initialAccumulatorValue)) });
    }
  }

  /** Check the group's options (PyTorch's checks). */
  protected override validateGroup(g: ParamGroup & AdagradOptions): void {
    super.validateGroup(g);
    checkNonNegative(this.name, "lrDecay", g.lrDecay);
    checkNonNegative(this.name, "weightDecay", g.weightDecay);
    checkNonNegative(this.name, "initialAccumulatorValue", g.initialAccumulatorValue);
    checkNonNegative(this.name, "eps", g.eps);
  }

  /** One parameter's update (see the class docs for the formula). */
  protected update(p: Tensor, grad: Tensor, g: ParamGroup & AdagradOptions, s: ParamState): void {
    if (s.sum === undefined) s.sum = this.newState(fullLike(p, g.initialAccumulatorValue));
    const step = ((s.step as number | undefined) ?? 0) + 1;
    s.step = step;
    let d = g.maximize ? grad.neg() : grad;
    if (g.weightDecay !== 0) d = d.add(p.mul(g.weightDecay));
    const clr = g.lr / (1 + (step - 1) * g.lrDecay);
    const sum = s.sum as Tensor;
    this.assign(sum, sum.add(d.mul(d)));
    const std = sum.sqrt().add(g.eps);
    this.assign(p, p.add(d.div(std).mul(-clr)));
  }
}
