/**
 * Adam and AdamW (PyTorch's `torch.optim.Adam` and `torch.optim.AdamW`, same defaults and
 * update, incl. AMSGrad and maximize).
 *
 * @module
 */
import { maximum } from "../core/ops/elementwise.ts";
import { zerosLike } from "../core/ops/creation.ts";
import { adamStep } from "../core/ops/fused.ts";
import type { Tensor } from "../core/tensor.ts";
import {
  checkNonNegative,
  Optimizer,
  OptimizerError,
  type ParamGroup,
  type Params,
  type ParamState,
} from "./optimizer.ts";

/** Options of {@link Adam} and {@link AdamW} (PyTorch's, in camelCase). */
export interface AdamOptions {
  /** Learning rate (default 1e-3). */
  lr: number;
  /** Decay rates of the first and second moment averages (default [0.9, 0.999]). */
  betas: [number, number];
  /** Added to the denominator for numerical stability (default 1e-8). */
  eps: number;
  /** Weight decay (default 0 for Adam: L2 added to the gradient; 1e-2 for AdamW: decoupled). */
  weightDecay: number;
  /** Use the AMSGrad variant (the running maximum of the second moment; default false). */
  amsgrad: boolean;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize: boolean;
  /** Decay the weights directly (`p ← p·(1 − lr·wd)`) as AdamW does (Adam default false). */
  decoupledWeightDecay: boolean;
}

/**
 * Adam, as PyTorch computes it (step `t` counted per parameter): `g = ±grad` (+ `wd·p` unless
 * decoupled; decoupled: `p ← p·(1 − lr·wd)`), `m ← m + (1 − β1)(g − m)`,
 * `v ← β2·v + (1 − β2)·g²`, (AMSGrad: `v̂ ← max(v̂, v)`),
 * `p ← p − lr/(1 − β1^t) · m / (√v / √(1 − β2^t) + eps)`. State: `step`, `expAvg`, `expAvgSq`,
 * `maxExpAvgSq` (AMSGrad).
 *
 * @example
 * ```ts
 * import { optim, tensor } from "@aprender/compute";
 * const w = tensor([1, -2]).requireGrad();
 * const opt = new optim.Adam([w], { lr: 0.1 });
 * w.square().sum().backward();
 * opt.step(); // the first Adam step moves each weight by lr against its gradient's sign
 * console.log(w.toArraySync()); // [0.9, -1.9] (approximately)
 * ```
 */
export class Adam extends Optimizer<AdamOptions> {
  /**
   * Create it; omitted options take PyTorch's defaults.
   *
   * @param params parameters or parameter groups
   * @param options options of every group (PyTorch's defaults where omitted)
   */
  constructor(params: Params<AdamOptions>, options: Partial<AdamOptions> = {}) {
    super(params, {
      lr: 1e-3,
      betas: [0.9, 0.999],
      eps: 1e-8,
      weightDecay: 0,
      amsgrad: false,
      maximize: false,
      decoupledWeightDecay: false,
      ...options,
    });
  }

  /** Check the group's options (PyTorch's checks). */
  protected override validateGroup(g: ParamGroup & AdamOptions): void {
    super.validateGroup(g);
    checkNonNegative(this.name, "eps", g.eps);
    checkNonNegative(this.name, "weightDecay", g.weightDecay);
    if (!Array.isArray(g.betas) || g.betas.length !== 2) {
      throw new OptimizerError(`${this.name}: betas must be a pair [beta1, beta2].`);
    }
    g.betas.forEach((b, i) => {
      if (!(b >= 0 && b < 1)) {
        throw new OptimizerError(
          `${this.name}: invalid beta parameter at index ${i}: ${b}; expected 0 <= beta < 1.`,
        );
      }
    });
  }

  /** One parameter's update (see the class docs for the formula). */
  protected update(p: Tensor, grad: Tensor, g: ParamGroup & AdamOptions, s: ParamState): void {
    const [beta1, beta2] = g.betas;
    if (s.step === undefined) {
      s.step = 0;
      s.expAvg = this.newState(zerosLike(p));
      s.expAvgSq = this.newState(zerosLike(p));
      if (g.amsgrad) s.maxExpAvgSq = this.newState(zerosLike(p));
    }
    const step = (s.step as number) + 1;
    s.step = step;
    const bc1 = 1 - beta1 ** step;
    const bc2 = 1 - beta2 ** step;
    const stepSize = g.lr / bc1;
    const bc2Sqrt = Math.sqrt(bc2);
    // A state loaded from a non-AMSGrad run has no maximum yet.
    if (g.amsgrad && !s.maxExpAvgSq) s.maxExpAvgSq = this.newState(zerosLike(p));
    const m = s.expAvg as Tensor, v = s.expAvgSq as Tensor;
    const vmax = g.amsgrad ? s.maxExpAvgSq as Tensor : null;
    // One fused kernel where the device has it; the same update composed of ops otherwise.
    const fused = adamStep(p, grad, m, v, vmax, {
      lr: g.lr,
      weightDecay: g.weightDecay,
      decay: g.weightDecay === 0 ? "none" : g.decoupledWeightDecay ? "decoupled" : "l2",
      beta1,
      beta2,
      eps: g.eps,
      stepSize,
      bc2Sqrt,
      maximize: g.maximize,
    });
    if (fused) return;
    let d = g.maximize ? grad.neg() : grad;
    if (g.weightDecay !== 0) {
      if (g.decoupledWeightDecay) this.assign(p, p.mul(1 - g.lr * g.weightDecay));
      else d = d.add(p.mul(g.weightDecay));
    }
    this.assign(m, m.add(d.sub(m).mul(1 - beta1)));
    this.assign(v, v.mul(beta2).add(d.mul(d).mul(1 - beta2)));
    let second = v;
    if (vmax) {
      this.assign(vmax, maximum(vmax, v));
      second = vmax;
    }
    const denom = second.sqrt().div(bc2Sqrt).add(g.eps);
    this.assign(p, p.add(m.div(denom).mul(-stepSize)));
  }
}

/**
 * AdamW: Adam with decoupled weight decay (`p ← p·(1 − lr·wd)` before the Adam step), default
 * `weightDecay` 1e-2, like PyTorch's `torch.optim.AdamW`.
 *
 * @example
 * ```ts
 * import { optim, tensor } from "@aprender/compute";
 * const w = tensor([1, -2]).requireGrad();
 * const opt = new optim.AdamW([w], { lr: 0.1, weightDecay: 0.1 });
 * w.square().sum().backward();
 * opt.step();
 * console.log(w.toArraySync()); // [0.89, -1.88] (approximately)
 * ```
 */
export class AdamW extends Adam {
  /**
   * Create it; omitted options take PyTorch's defaults.
   *
   * @param params parameters or parameter groups
   * @param options options of every group (PyTorch's AdamW defaults where omitted)
   */
  constructor(params: Params<AdamOptions>, options: Partial<AdamOptions> = {}) {
    super(params, { weightDecay: 1e-2, ...options, decoupledWeightDecay: true });
  }
}
