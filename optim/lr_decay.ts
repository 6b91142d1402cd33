/**
 * The decaying epoch schedules (PyTorch's): `StepLR`, `MultiStepLR`, `ExponentialLR`,
 * `CosineAnnealingLR` and `LinearLR`, each in PyTorch's recursive (chainable) form.
 *
 * @module
 */
import { type Optimizer, OptimizerError } from "./optimizer.ts";
import { LRScheduler } from "./lr_scheduler.ts";

/**
 * Multiply the learning rate by `gamma` every `stepSize` epochs.
 *
 * @example
 * ```ts
 * import { optim, tensor } from "@aprender/compute";
 * const opt = new optim.SGD([tensor([1]).requireGrad()], { lr: 1 });
 * const s = new optim.StepLR(opt, { stepSize: 2, gamma: 0.5 });
 * const lrs = [];
 * for (let i = 0; i < 5; i++) {
 *   lrs.push(s.getLastLr()[0]);
 *   opt.step();
 *   s.step();
 * }
 * console.log(lrs); // [1, 1, 0.5, 0.5, 0.25]
 * ```
 */
export class StepLR extends LRScheduler {
  /** Epochs between decays. */
  stepSize: number;
  /** Decay factor. */
  gamma: number;
  /**
   * Create it; omitted options take PyTorch's defaults.
   *
   * @param optimizer the optimizer
   * @param options `stepSize` (required), `gamma` (default 0.1), `lastEpoch` (default -1)
   */
  constructor(
    optimizer: Optimizer,
    options: { stepSize: number; gamma?: number; lastEpoch?: number },
  ) {
    super(optimizer, options.lastEpoch);
    this.stepSize = options.stepSize;
    this.gamma = options.gamma ?? 0.1;
    this.initialStep();
  }
  /** The chainable form. */
  getLr(): number[] {
    if (this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0) return this.groupLrs();
    return this.groupLrs().map((lr) => lr * this.gamma);
  }
  /** The closed form. */
  override closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * this.gamma ** Math.floor(this.lastEpoch / this.stepSize));
  }
}

/**
 * Multiply the learning rate by `gamma` at each milestone epoch (a milestone listed twice
 * multiplies twice).
 *
 * @example
 * ```ts
 * import { optim, tensor } from "@aprender/compute";
 * const opt = new optim.SGD([tensor([1]).requireGrad()], { lr: 1 });
 * const s = new optim.MultiStepLR(opt, { milestones: [1, 3], gamma: 0.1 });
 * const lrs = [];
 * for (let i = 0; i < 4; i++) {
 *   lrs.push(s.getLastLr()[0]);
 *   s.step();
 * }
 * console.log(lrs); // [1, 0.1, 0.1, 0.010000000000000002]
 * ```
 */
export class MultiStepLR extends LRScheduler {
  /** The milestone epochs, sorted (with repeats). */
  milestones: number[];
  /** Decay factor. */
  gamma: number;
  /**
   * Create it; omitted options take PyTorch's defaults.
   *
   * @param optimizer the optimizer
   * @param options `milestones` (required), `gamma` (default 0.1), `lastEpoch` (default -1)
   */
  constructor(
    optimizer: Optimizer,
    options: { milestones: readonly number[]; gamma?: number; lastEpoch?: number },
  ) {
    super(optimizer, options.lastEpoch);
    this.milestones = [...options.milestones].sort((a, b) => a - b);
    this.gamma = options.gamma ?? 0.1;
    this.initialStep();
  }
  /** The chainable form. */
  getLr(): number[] {
    const count = this.milestones.filter((m) => m === this.lastEpoch).length;
    if (count === 0) return this.groupLrs();
    return this.groupLrs().map((lr) => lr * this.gamma ** count);
  }
  /** The closed form. */
  override closedFormLr(): number[] {
    const passed = this.milestones.filter((m) => m <= this.lastEpoch).length;
    return this.baseLrs.map((b) => b * this.gamma ** passed);
  }
}

/**
 * Multiply the learning rate by `gamma` every epoch.
 *
 * @example
 * ```ts
 * import { optim, tensor } from "@aprender/compute";
 * const opt = new optim.SGD([tensor([1]).requireGrad()], { lr: 1 });
 * const s = new optim.ExponentialLR(opt, { gamma: 0.5 });
 * s.step();
 * s.step();
 * console.log(s.getLastLr()); // [0.25]
 * ```
 */
export class ExponentialLR extends LRScheduler {
  /** Decay factor per epoch. */
  gamma: number;
  /**
   * Create it; omitted options take PyTorch's defaults.
   *
   * @param optimizer the optimizer
   * @param options `gamma` (required), `lastEpoch` (default -1)
   */
  constructor(optimizer: Optimizer, options: { gamma: number; lastEpoch?: number }) {
    super(optimizer, options.lastEpoch);
    this.gamma = options.gamma;
    this.initialStep();
  }
  /** The chainable form. */
  getLr(): number[] {
    if (this.isInitial) return this.groupLrs();
    return this.groupLrs().map((lr) => lr * this.gamma);
  }
  /** The closed form. */
  override closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * this.gamma ** this.lastEpoch);
  }
}

/**
 * Cosine annealing from the base learning rate to `etaMin` over `tMax` epochs, with PyTorch's
 * recursive formula (which, past `tMax`, keeps following the cosine back up).
 *
 * @example
 * ```ts
 * import { optim, tensor } from "@aprender/compute";
 * const opt = new optim.SGD([tensor([1]).requireGrad()], { lr: 1 });
 * const s = new optim.CosineAnnealingLR(opt, { tMax: 2 });
 * s.step();
 * console.log(s.getLastLr()); // [0.5]
 * ```
 */
export class CosineAnnealingLR extends LRScheduler {
  /** Epochs of a half period. */
  tMax: number;
  /** The minimum learning rate. */
  etaMin: number;
  /**
   * Create it; omitted options take PyTorch's defaults.
   *
   * @param optimizer the optimizer
   * @param options `tMax` (required), `etaMin` (default 0), `lastEpoch` (default -1)
   */
  constructor(
    optimizer: Optimizer,
    options: { tMax: number; etaMin?: number; lastEpoch?: number },
  ) {
    super(optimizer, options.lastEpoch);
    this.tMax = options.tMax;
    this.etaMin = options.etaMin ?? 0;
    this.initialStep();
  }
  /** The chainable form (PyTorch's recursion). */
  getLr(): number[] {
    const { lastEpoch: e, tMax: T, etaMin } = this;
    if (this.isInitial) return this.groupLrs();
    if (this.stepCount === 1 && e > 0) {
      return this.baseLrs.map((b) => etaMin + (b - etaMin) * (1 + Math.cos(e * Math.PI / T)) / 2);
    }
    if ((((e - 1 - T) % (2 * T)) + 2 * T) % (2 * T) === 0) {
      return this.groupLrs().map((lr, i) =>
        lr + (this.baseLrs[i] - etaMin) * (1 - Math.cos(Math.PI / T)) / 2
      );
    }
    return this.groupLrs().map((lr) =>
      (1 + Math.cos(Math.PI * e / T)) / (1 + Math.cos(Math.PI * (e - 1) / T)) * (lr - etaMin) +
      etaMin
    );
  }
  /** The closed form. */
  override closedFormLr(): number[] {
    return this.baseLrs.map((b) =>
      this.etaMin + (b - this.etaMin) * (1 + Math.cos(Math.PI * this.lastEpoch / this.tMax)) / 2
    );
  }
}

/**
 * Scale the learning rate linearly from `startFactor` to `endFactor` over `totalIters` epochs.
 *
 * @example
 * ```ts
 * import { optim, tensor } from "@aprender/compute";
 * const opt = new optim.SGD([tensor([1]).requireGrad()], { lr: 1 });
 * const s = new optim.LinearLR(opt, { startFactor: 0.5, totalIters: 2 });
 * const lrs = [s.getLastLr()[0]];
 * s.step();
 * lrs.push(s.getLastLr()[0]);
 * s.step();
 * lrs.push(s.getLastLr()[0]);
 * console.log(lrs); // [0.5, 0.75, 1]
 * ```
 */
export class LinearLR extends LRScheduler {
  /** Factor of the first epoch. */
  startFactor: number;
  /** Factor from `totalIters` on. */
  endFactor: number;
  /** Epochs of the ramp. */
  totalIters: number;
  /**
   * Create it; omitted options take PyTorch's defaults.
   *
   * @param optimizer the optimizer
   * @param options `startFactor` (default 1/3), `endFactor` (default 1), `totalIters`
   *   (default 5), `lastEpoch` (default -1)
   */
  constructor(
    optimizer: Optimizer,
    options: { startFactor?: number; endFactor?: number; totalIters?: number; lastEpoch?: number } =
      {},
  ) {
    super(optimizer, options.lastEpoch);
    this.startFactor = options.startFactor ?? 1 / 3;
    this.endFactor = options.endFactor ?? 1;
    this.totalIters = options.totalIters ?? 5;
    if (this.startFactor > 1 || this.startFactor <= 0) {
      throw new OptimizerError(
        `LinearLR: startFactor must be in (0, 1], got ${this.startFactor}.`,
      );
    }
    if (this.endFactor > 1 || this.endFactor < 0) {
      throw new OptimizerError(`LinearLR: endFactor must be in [0, 1], got ${this.endFactor}.`);
    }
    this.initialStep();
  }
  /** The chainable form. */
  getLr(): number[] {
    const { startFactor: s, endFactor: f, totalIters: n, lastEpoch: e } = this;
    if (e === 0) return this.groupLrs().map((lr) => lr * s);
    if (this.isInitial || e > n) return this.groupLrs();
    return this.groupLrs().map((lr) => lr * (1 + (f - s) / (n * s + (e - 1) * (f - s))));
  }
  /** The closed form. */
  override closedFormLr(): number[] {
    const { startFactor: s, endFactor: f, totalIters: n, lastEpoch: e } = this;
    return this.baseLrs.map((b) => b * (s + (f - s) * Math.min(n, e) / n));
  }
}
