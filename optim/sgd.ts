/**
 * Stochastic gradient descent with momentum, dampening, Nesterov momentum, weight decay and
 * maximize (PyTorch's `torch.optim.SGD`, same defaults and update).
 *
 * @module
 */
import type { Tensor } from "../core/tensor.ts";
import {
  checkNonNegative,
  Optimizer,
  OptimizerError,
  type ParamGroup,
  type Params,
  type ParamState,
} from "./optimizer.ts";

/** Options of {@link SGD} (PyTorch's, in camelCase). */
export interface SGDOptions {
  /** Learning rate (default 1e-3). */
  lr: number;
  /** Momentum factor (default 0). */
  momentum: number;
  /** Dampening of the momentum (default 0). */
  dampening: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay: number;
  /** Nesterov momentum (default false; needs momentum > 0 and dampening 0). */
  nesterov: boolean;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize: boolean;
}

/**
 * SGD, as PyTorch computes it: with `g = ±grad + weightDecay·p`, the momentum buffer
 * `b = momentum·b + (1 − dampening)·g` (the first step sets `b = g`), `g = g + momentum·b`
 * (Nesterov) or `g = b`, then `p = p − lr·g`. State: `momentumBuffer` when momentum ≠ 0.
 *
 * @example
 * ```ts
 * import { optim, tensor } from "@aprender/compute";
 * const w = tensor([1, -1]).requireGrad();
 * const opt = new optim.SGD([w], { lr: 0.1, momentum: 0.9 });
 * for (let i = 0; i < 2; i++) {
 *   opt.zeroGrad();
 *   w.square().sum().backward();
 *   opt.step();
 * }
 * console.log(w.toArraySync()); // [0.46, -0.46] (approximately)
 * ```
 */
export class SGD extends Optimizer<SGDOptions> {
  /**
   * Create it; omitted options take PyTorch's defaults.
   *
   * @param params parameters or parameter groups
   * @param options options of every group (PyTorch's defaults where omitted)
   */
  constructor(params: Params<SGDOptions>, options: Partial<SGDOptions> = {}) {
    super(params, {
      lr: 1e-3,
      momentum: 0,
      dampening: 0,
      weightDecay: 0,
      nesterov: false,
      maximize: false,
      ...options,
    });
  }

  /** Check the group's options (PyTorch's checks). */
  protected override validateGroup(g: ParamGroup & SGDOptions): void {
    super.validateGroup(g);
    checkNonNegative(this.name, "momentum", g.momentum);
    checkNonNegative(this.name, "weightDecay", g.weightDecay);
    if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0)) {
      throw new OptimizerError(
        `SGD: Nesterov momentum requires a momentum > 0 and zero dampening (got momentum ` +
          `${g.momentum}, dampening ${g.dampening}).`,
      );
    }
  }

  /** One parameter's update (see the class docs for the formula). */
  protected update(p: Tensor, grad: Tensor, g: ParamGroup & SGDOptions, s: ParamState): void {
    let d = g.maximize ? grad.neg() : grad;
    if (g.weightDecay !== 0) d = d.add(p.mul(g.weightDecay));
    if (g.momentum !== 0) {
      let buf = s.momentumBuffer as Tensor | undefined;
      if (!buf) s.momentumBuffer = buf = this.newState(d.clone());
      else this.assign(buf, buf.mul(g.momentum).add(d.mul(1 - g.dampening)));
      d = g.nesterov ? d.add(buf.mul(g.momentum)) : buf;
    }
    this.assign(p, p.add(d.mul(-g.lr)));
  }
}
