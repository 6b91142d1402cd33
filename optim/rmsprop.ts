/**
 * RMSprop (PyTorch's `torch.optim.RMSprop`, same defaults and update, incl. centered and
 * momentum).
 *
 * @module
 */
import { zerosLike } from "../core/ops/creation.ts";
import type { Tensor } from "../core/tensor.ts";
import {
  checkNonNegative,
  Optimizer,
  type ParamGroup,
  type Params,
  type ParamState,
} from "./optimizer.ts";

/** Options of {@link RMSprop} (PyTorch's, in camelCase). */
export interface RMSpropOptions {
  /** Learning rate (default 1e-2). */
  lr: number;
  /** Smoothing constant of the squared-gradient average (default 0.99). */
  alpha: number;
  /** Added to the denominator for numerical stability (default 1e-8). */
  eps: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay: number;
  /** Momentum factor (default 0). */
  momentum: number;
  /** Normalize by the estimated variance instead of the raw second moment (default false). */
  centered: boolean;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize: boolean;
}

/**
 * RMSprop, as PyTorch computes it: `g = ±grad + wd·p`, `v ← α·v + (1 − α)·g²`, centered:
 * `ḡ ← ḡ + (1 − α)(g − ḡ)` and `a = √(v − ḡ²) + eps`, else `a = √v + eps`; with momentum
 * `b ← μ·b + g/a`, `p ← p − lr·b`, else `p ← p − lr·g/a`. State: `step`, `squareAvg`,
 * `momentumBuffer` (momentum > 0), `gradAvg` (centered).
 *
 * @example
 * ```ts
 * import { optim, tensor } from "@aprender/compute";
 * const w = tensor([1, -2]).requireGrad();
 * const opt = new optim.RMSprop([w], { lr: 0.01 });
 * w.square().sum().backward();
 * opt.step();
 * console.log(w.toArraySync()); // [0.9, -1.9] (approximately)
 * ```
 */
export class RMSprop extends Optimizer<RMSpropOptions> {
  /**
   * Create it; omitted options take PyTorch's defaults.
   *
   * @param params parameters or parameter groups
   * @param options options of every group (PyTorch's defaults where omitted)
   */
  constructor(params: Params<RMSpropOptions>, options: Partial<RMSpropOptions> = {}) {
    super(params, {
      lr: 1e-2,
      alpha: 0.99,
      eps: 1e-8,
      weightDecay: 0,
      momentum: 0,
      centered: false,
      maximize: false,
      ...options,
    });
  }

  /** Check the group's options (PyTorch's checks). */
  protected override validateGroup(g: ParamGroup & RMSpropOptions): void {
    super.validateGroup(g);
    checkNonNegative(this.name, "eps", g.eps);
    checkNonNegative(this.name, "momentum", g.momentum);
    checkNonNegative(this.name, "weightDecay", g.weightDecay);
    checkNonNegative(this.name, "alpha", g.alpha);
  }

  /** One parameter's update (see the class docs for the formula). */
  protected update(p: Tensor, grad: Tensor, g: ParamGroup & RMSpropOptions, s: ParamState): void {
    if (s.step === undefined) {
      s.step = 0;
      s.squareAvg = this.newState(zerosLike(p));
    }
    if (g.momentum > 0 && !s.momentumBuffer) s.momentumBuffer = this.newState(zerosLike(p));
    if (g.centered && !s.gradAvg) s.gradAvg = this.newState(zerosLike(p));
    s.step = (s.step as number) + 1;
    let d = g.maximize ? grad.neg() : grad;
    if (g.weightDecay !== 0) d = d.add(p.mul(g.weightDecay));
    const v = s.squareAvg as Tensor;
    this.assign(v, v.mul(g.alpha).add(d.mul(d).mul(1 - g.alpha)));
    let avg: Tensor;
    if (g.centered) {
      const ga = s.gradAvg as Tensor;
      this.assign(ga, ga.add(d.sub(ga).mul(1 - g.alpha)));
      avg = v.sub(ga.mul(ga)).sqrt();
    } else avg = v.sqrt();
    avg = avg.add(g.eps);
    if (g.momentum > 0) {
      const buf = s.momentumBuffer as Tensor;
      this.assign(buf, buf.mul(g.momentum).add(d.div(avg)));
      this.assign(p, p.add(buf.mul(-g.lr)));
    } else {
      this.assign(p, p.add(d.div(avg).mul(-g.lr)));
    }
  }
}
