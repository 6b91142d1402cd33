/**
 * Learning-rate schedulers (PyTorch's `torch.optim.lr_scheduler`): `StepLR`, `MultiStepLR`,
 * `ExponentialLR`, `CosineAnnealingLR`, `LinearLR`, `OneCycleLR`, `ReduceLROnPlateau` and
 * `SequentialLR`, with PyTorch's recursive (chainable) formulas, so the sequences equal
 * PyTorch's, and its `stepCount`/`lastEpoch` bookkeeping.
 *
 * Creating a scheduler sets each group's `lr` to its first value (and records `initialLr`). Call
 * `optimizer.step()` then `scheduler.step()` once per epoch (or per batch for `OneCycleLR`).
 *
 * @module
 */
import { type Optimizer, OptimizerError, type ParamGroup } from "./optimizer.ts";

/** A scheduler's state: plain JSON-able values (numbers, arrays, nested scheduler states). */
export type SchedulerState = Record<string, unknown>;

/** What every scheduler offers (so a checkpoint can save any of them). */
export interface Scheduler {
  /** The learning rates the last step set, one per parameter group. */
  getLastLr(): number[];
  /** The scheduler's state (JSON-able). */
  stateDict(): SchedulerState;
  /** Restore a state saved by `stateDict()`. */
  loadStateDict(state: SchedulerState): void;
}

function groupsOf(opt: Optimizer): ParamGroup[] {
  return opt.paramGroups as ParamGroup[];
}

/** Copy a state, arrays included, so later steps do not change a saved state. */
function copyState(s: SchedulerState): SchedulerState {
  return JSON.parse(
    JSON.stringify(
      s,
      (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? { $number: String(v) } : v),
    ),
    (_k, v) => (v && typeof v === "object" && "$number" in v ? Number(v.$number) : v),
  );
}

/**
 * Base class of the epoch-based schedulers. A subclass sets its fields and then calls
 * `initialStep()` at the end of its constructor (PyTorch's `super().__init__` does it).
 *
 * @example
 * ```ts
 * import { optim, tensor } from "@aprender/compute";
 * // A custom schedule: halve the learning rate every epoch.
 * class Halving extends optim.LRScheduler {
 *   constructor(opt: optim.Optimizer) {
 *     super(opt);
 *     this.initialStep();
 *   }
 *   getLr(): number[] {
 *     return this.baseLrs.map((lr) => lr * 0.5 ** this.lastEpoch);
 *   }
 * }
 * const opt = new optim.SGD([tensor([1]).requireGrad()], { lr: 1 });
 * const s = new Halving(opt);
 * s.step();
 * console.log(s.getLastLr()); // [0.5]
 * ```
 */
export abstract class LRScheduler implements Scheduler {
  /** The optimizer whose learning rates this scheduler sets. */
  readonly optimizer: Optimizer;
  /** The learning rates the schedule starts from (each group's `initialLr`). */
  baseLrs: number[];
  /** Index of the last epoch (step) taken; -1 before the first. */
  lastEpoch: number;
  /** How many times `step()` ran (the constructor's initial step included). */
  stepCount = 0;
  /** The learning rates the last step set. */
  lastLr: number[] = [];
  /** True during the constructor's initial step. */
  protected isInitial = false;

  /**
   * Create it; omitted options take PyTorch's defaults.
   *
   * @param optimizer the optimizer to schedule
   * @param lastEpoch the last epoch taken when resuming (default -1: start fresh)
   */
  constructor(optimizer: Optimizer, lastEpoch = -1) {
    this.optimizer = optimizer;
    const groups = groupsOf(optimizer);
    if (lastEpoch === -1) {
      for (const g of groups) if (g.initialLr === undefined) g.initialLr = g.lr;
    } else {
      groups.forEach((g, i) => {
        if (g.initialLr === undefined) {
          throw new OptimizerError(
            `${this.constructor.name}: paramGroups[${i}] has no initialLr, which resuming with ` +
              `lastEpoch >= 0 needs. Hint: load the optimizer's state dict first.`,
          );
        }
      });
    }
    this.baseLrs = groups.map((g) => g.initialLr as number);
    this.lastEpoch = lastEpoch;
  }

  /** The constructor's first step (sets the first learning rates). */
  initialStep(): void {
    this.stepCount = 0;
    this.isInitial = true;
    try {
      this.step();
    } finally {
      this.isInitial = false;
    }
  }

  /** The next learning rates (the chainable form: from the groups' current `lr`). */
  abstract getLr(): number[];

  /** The closed form at `lastEpoch`, for schedulers that have one. */
  closedFormLr?(): number[];

  /** The current learning rates of the groups. */
  protected groupLrs(): number[] {
    return groupsOf(this.optimizer).map((g) => g.lr);
  }

  /** Advance one epoch and set the groups' learning rates. */
  step(): void {
    this.stepCount++;
    this.updateLr();
  }

  /** Set the learning rates for the next epoch, or (closed form) for epoch `epoch`. */
  updateLr(epoch?: number): void {
    let values: number[];
    if (epoch === undefined) {
      this.lastEpoch++;
      values = this.getLr();
    } else {
      this.lastEpoch = epoch;
      values = this.closedFormLr ? this.closedFormLr() : this.getLr();
    }
    groupsOf(this.optimizer).forEach((g, i) => (g.lr = values[i]));
    this.lastLr = this.groupLrs();
  }

  /** The learning rates the last step set, one per parameter group. */
  getLastLr(): number[] {
    return [...this.lastLr];
  }

  /** Every field but the optimizer (like PyTorch's `state_dict()`), as JSON-able values. */
  stateDict(): SchedulerState {
    const out: SchedulerState = {};
    for (const [k, v] of Object.entries(this)) if (k !== "optimizer") out[k] = v;
    return copyState(out);
  }

  /** Restore the fields saved by {@link LRScheduler.stateDict}. */
  loadStateDict(state: SchedulerState): void {
    Object.assign(this, copyState(state));
  }
}

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

/** Options of {@link OneCycleLR} (PyTorch's, in camelCase). */
export interface OneCycleLROptions {
  /** Peak learning rate (one for all groups, or one per group). */
  maxLr: number | readonly number[];
  /** Steps of the whole cycle (or give `epochs` and `stepsPerEpoch`). */
  totalSteps?: number;
  /** Epochs (with `stepsPerEpoch`, instead of `totalSteps`). */
  epochs?: number;
  /** Steps per epoch (with `epochs`). */
  stepsPerEpoch?: number;
  /** Fraction of the cycle spent increasing the learning rate (default 0.3). */
  pctStart?: number;
  /** "cos" (default) or "linear" annealing. */
  annealStrategy?: "cos" | "linear";
  /** Cycle the momentum (SGD's momentum, Adam's beta1) inversely to the lr (default true). */
  cycleMomentum?: boolean;
  /** Lowest momentum (default 0.85). */
  baseMomentum?: number | readonly number[];
  /** Highest momentum (default 0.95). */
  maxMomentum?: number | readonly number[];
  /** initial lr = maxLr / divFactor (default 25). */
  divFactor?: number;
  /** min lr = initial lr / finalDivFactor (default 1e4). */
  finalDivFactor?: number;
  /** Use three phases (up, down to the initial lr, annihilate) instead of two (default false). */
  threePhase?: boolean;
  /** The last step taken when resuming (default -1). */
  lastEpoch?: number;
}

interface Phase {
  endStep: number;
  startLr: string;
  endLr: string;
  startMomentum: string;
  endMomentum: string;
}

function perGroup(name: string, opt: Optimizer, v: number | readonly number[]): number[] {
  const n = opt.paramGroups.length;
  if (typeof v === "number") return new Array(n).fill(v);
  if (v.length !== n) {
    throw new OptimizerError(
      `OneCycleLR: ${name} has ${v.length} values, the optimizer has ${n} parameter groups.`,
    );
  }
  return [...v];
}

/**
 * The 1cycle policy: the learning rate rises from `maxLr/divFactor` to `maxLr`, then anneals to
 * `initialLr/finalDivFactor` (cos or linear), stepping once per batch; the momentum (SGD's
 * `momentum` or Adam's `betas[0]`) moves the opposite way between `maxMomentum` and
 * `baseMomentum`.
 *
 * @example
 * ```ts
 * import { optim, tensor } from "@aprender/compute";
 * const opt = new optim.SGD([tensor([1]).requireGrad()], { lr: 0.1, momentum: 0.9 });
 * const s = new optim.OneCycleLR(opt, { maxLr: 1, totalSteps: 10 });
 * console.log(s.getLastLr(), opt.paramGroups[0].momentum); // [0.040000000000000036] 0.95
 * ```
 */
export class OneCycleLR extends LRScheduler {
  /** Steps of the whole cycle. */
  totalSteps: number;
  /** The phases: their last step and which group keys they anneal between. */
  schedulePhases: Phase[];
  /** "cos" or "linear". */
  annealStrategy: "cos" | "linear";
  /** Whether the momentum cycles. */
  cycleMomentum: boolean;
  /** Whether the momentum is Adam's beta1 (else SGD's/RMSprop's momentum). */
  useBeta1 = false;

  /**
   * Create it; omitted options take PyTorch's defaults.
   *
   * @param optimizer the optimizer
   * @param options see {@link OneCycleLROptions}
   */
  constructor(optimizer: Optimizer, options: OneCycleLROptions) {
    const lastEpoch = options.lastEpoch ?? -1;
    let total: number;
    if (options.totalSteps !== undefined) {
      if (!Number.isInteger(options.totalSteps) || options.totalSteps <= 0) {
        throw new OptimizerError(
          `OneCycleLR: expected a positive integer totalSteps, got ${options.totalSteps}.`,
        );
      }
      total = options.totalSteps;
    } else if (options.epochs !== undefined && options.stepsPerEpoch !== undefined) {
      if (!Number.isInteger(options.epochs) || options.epochs <= 0) {
        throw new OptimizerError(`OneCycleLR: expected positive integer epochs.`);
      }
      if (!Number.isInteger(options.stepsPerEpoch) || options.stepsPerEpoch <= 0) {
        throw new OptimizerError(`OneCycleLR: expected positive integer stepsPerEpoch.`);
      }
      total = options.epochs * options.stepsPerEpoch;
    } else {
      throw new OptimizerError(
        `OneCycleLR: give either totalSteps, or epochs and stepsPerEpoch.`,
      );
    }
    const pct = options.pctStart ?? 0.3;
    if (!(pct >= 0 && pct <= 1)) {
      throw new OptimizerError(`OneCycleLR: pctStart must be in [0, 1], got ${pct}.`);
    }
    const strategy = options.annealStrategy ?? "cos";
    if (strategy !== "cos" && strategy !== "linear") {
      throw new OptimizerError(
        `OneCycleLR: annealStrategy must be "cos" or "linear", got ${JSON.stringify(strategy)}.`,
      );
    }
    const divFactor = options.divFactor ?? 25;
    const finalDivFactor = options.finalDivFactor ?? 1e4;
    const groups = groupsOf(optimizer);
    const maxLrs = perGroup("maxLr", optimizer, options.maxLr);
    if (lastEpoch === -1) {
      groups.forEach((g, i) => {
        g.initialLr = maxLrs[i] / divFactor;
        g.maxLr = maxLrs[i];
        g.minLr = (g.initialLr as number) / finalDivFactor;
      });
    }
    const cycle = options.cycleMomentum ?? true;
    let useBeta1 = false;
    if (cycle) {
      const d = optimizer.defaults as Record<string, unknown>;
      if (!("momentum" in d) && !("betas" in d)) {
        throw new OptimizerError(
          `OneCycleLR: cycleMomentum needs an optimizer with momentum or betas (SGD, RMSprop, ` +
            `Adam); ${optimizer.constructor.name} has neither. Hint: cycleMomentum: false.`,
        );
      }
      useBeta1 = "betas" in d;
      const maxM = perGroup("maxMomentum", optimizer, options.maxMomentum ?? 0.95);
      const baseM = perGroup("baseMomentum", optimizer, options.baseMomentum ?? 0.85);
      if (lastEpoch === -1) {
        groups.forEach((g, i) => {
          if (useBeta1) g.betas = [maxM[i], (g.betas as number[])[1]];
          else g.momentum = maxM[i];
          g.maxMomentum = maxM[i];
          g.baseMomentum = baseM[i];
        });
      }
    }
    super(optimizer, lastEpoch);
    this.totalSteps = total;
    this.annealStrategy = strategy;
    this.cycleMomentum = cycle;
    this.useBeta1 = useBeta1;
    this.schedulePhases = options.threePhase
      ? [
        {
          endStep: pct * total - 1,
          startLr: "initialLr",
          endLr: "maxLr",
          startMomentum: "maxMomentum",
          endMomentum: "baseMomentum",
        },
        {
          endStep: 2 * pct * total - 2,
          startLr: "maxLr",
          endLr: "initialLr",
          startMomentum: "baseMomentum",
          endMomentum: "maxMomentum",
        },
        {
          endStep: total - 1,
          startLr: "initialLr",
          endLr: "minLr",
          startMomentum: "maxMomentum",
          endMomentum: "maxMomentum",
        },
      ]
      : [
        {
          endStep: pct * total - 1,
          startLr: "initialLr",
          endLr: "maxLr",
          startMomentum: "maxMomentum",
          endMomentum: "baseMomentum",
        },
        {
          endStep: total - 1,
          startLr: "maxLr",
          endLr: "minLr",
          startMomentum: "baseMomentum",
          endMomentum: "maxMomentum",
        },
      ];
    this.initialStep();
  }

  #anneal(start: number, end: number, pct: number): number {
    if (this.annealStrategy === "cos") {
      return end + (start - end) / 2 * (Math.cos(Math.PI * pct) + 1);
    }
    return (end - start) * pct + start;
  }

  /** The learning rates at `lastEpoch` (and the momentum, set on the groups). */
  getLr(): number[] {
    const stepNum = this.lastEpoch;
    if (stepNum > this.totalSteps) {
      throw new OptimizerError(
        `OneCycleLR: tried to step ${stepNum} times; the schedule has ${this.totalSteps} steps.`,
      );
    }
    return groupsOf(this.optimizer).map((g) => {
      let start = 0;
      let lr = 0, momentum = 0;
      const phases = this.schedulePhases;
      for (let i = 0; i < phases.length; i++) {
        const ph = phases[i];
        if (stepNum <= ph.endStep || i === phases.length - 1) {
          const pct = (stepNum - start) / (ph.endStep - start);
          lr = this.#anneal(g[ph.startLr] as number, g[ph.endLr] as number, pct);
          if (this.cycleMomentum) {
            momentum = this.#anneal(
              g[ph.startMomentum] as number,
              g[ph.endMomentum] as number,
              pct,
            );
          }
          break;
        }
        start = ph.endStep;
      }
      if (this.cycleMomentum) {
        if (this.useBeta1) g.betas = [momentum, (g.betas as number[])[1]];
        else g.momentum = momentum;
      }
      return lr;
    });
  }
}

/**
 * Run schedulers one after another: `schedulers[i]` from `milestones[i - 1]` on (each restarts
 * from its own epoch 0 at its milestone).
 *
 * @example
 * ```ts
 * import { optim, tensor } from "@aprender/compute";
 * const opt = new optim.SGD([tensor([1]).requireGrad()], { lr: 1 });
 * const warmup = new optim.LinearLR(opt, { startFactor: 0.5, totalIters: 2 });
 * const decay = new optim.ExponentialLR(opt, { gamma: 0.5 });
 * const s = new optim.SequentialLR(opt, { schedulers: [warmup, decay], milestones: [2] });
 * const lrs = [];
 * for (let i = 0; i < 5; i++) {
 *   lrs.push(s.getLastLr()[0]);
 *   s.step();
 * }
 * console.log(lrs); // [0.5, 0.75, 1, 0.5, 0.25]
 * ```
 */
export class SequentialLR implements Scheduler {
  /** The optimizer. */
  readonly optimizer: Optimizer;
  /** The schedulers, in order. */
  readonly schedulers: LRScheduler[];
  /** The epochs at which the next scheduler takes over. */
  milestones: number[];
  /** Index of the last epoch taken. */
  lastEpoch: number;
  /** The learning rates the last step set. */
  lastLr: number[];

  /**
   * Create it; omitted options take PyTorch's defaults.
   *
   * @param optimizer the optimizer (every scheduler must belong to it)
   * @param options `schedulers`, `milestones` (one fewer than schedulers), `lastEpoch`
   */
  constructor(
    optimizer: Optimizer,
    options: {
      schedulers: readonly LRScheduler[];
      milestones: readonly number[];
      lastEpoch?: number;
    },
  ) {
    const { schedulers, milestones } = options;
    if (schedulers.length < 1) {
      throw new OptimizerError(`SequentialLR: expects at least one scheduler.`);
    }
    schedulers.forEach((s, i) => {
      if (!(s instanceof LRScheduler)) {
        throw new OptimizerError(
          `SequentialLR: scheduler ${i} (${(s as object)?.constructor?.name}) is not an ` +
            `epoch-based LRScheduler (ReduceLROnPlateau needs a metric and cannot be sequenced).`,
        );
      }
      if (s.optimizer !== optimizer) {
        throw new OptimizerError(
          `SequentialLR: scheduler ${i} (${s.constructor.name}) belongs to another optimizer.`,
        );
      }
    });
    if (milestones.length !== schedulers.length - 1) {
      throw new OptimizerError(
        `SequentialLR: expects one milestone fewer than schedulers, got ${schedulers.length} ` +
          `schedulers and ${milestones.length} milestones.`,
      );
    }
    this.optimizer = optimizer;
    this.schedulers = [...schedulers];
    this.milestones = [...milestones];
    this.lastEpoch = (options.lastEpoch ?? -1) + 1;
    for (const g of groupsOf(optimizer)) g.lr = g.initialLr as number;
    for (const s of this.schedulers) s.lastEpoch -= 1;
    const idx = bisectRight(this.milestones, 0);
    this.schedulers[idx].initialStep();
    this.lastLr = this.schedulers[idx].getLastLr();
  }

  /** Advance one epoch with the scheduler whose turn it is. */
  step(): void {
    this.lastEpoch++;
    const idx = bisectRight(this.milestones, this.lastEpoch);
    const s = this.schedulers[idx];
    if (idx > 0 && this.milestones[idx - 1] === this.lastEpoch) s.updateLr(0);
    else s.step();
    this.lastLr = s.getLastLr();
  }

  /** The learning rates the last step set. */
  getLastLr(): number[] {
    return [...this.lastLr];
  }

  /** `{ milestones, lastEpoch, lastLr, schedulers: [each scheduler's state] }`. */
  stateDict(): SchedulerState {
    return copyState({
      milestones: this.milestones,
      lastEpoch: this.lastEpoch,
      lastLr: this.lastLr,
      schedulers: this.schedulers.map((s) => s.stateDict()),
    });
  }

  /** Restore a state saved by {@link SequentialLR.stateDict}. */
  loadStateDict(state: SchedulerState): void {
    const s = copyState(state);
    const subs = s.schedulers as SchedulerState[] | undefined;
    if (!Array.isArray(subs) || subs.length !== this.schedulers.length) {
      throw new OptimizerError(
        `SequentialLR.loadStateDict: the state has ${subs?.length} schedulers, this one has ` +
          `${this.schedulers.length}.`,
      );
    }
    this.milestones = s.milestones as number[];
    this.lastEpoch = s.lastEpoch as number;
    this.lastLr = s.lastLr as number[];
    subs.forEach((sub, i) => this.schedulers[i].loadStateDict(sub));
  }
}

function bisectRight(a: readonly number[], x: number): number {
  let lo = 0, hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x < a[mid]) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Options of {@link ReduceLROnPlateau} (PyTorch's, in camelCase). */
export interface ReduceLROnPlateauOptions {
  /** "min" (default: the metric should decrease, e.g. a loss) or "max" (e.g. accuracy). */
  mode?: "min" | "max";
  /** Multiply the learning rate by this on a plateau (default 0.1; must be < 1). */
  factor?: number;
  /** Epochs without improvement tolerated before reducing (default 10). */
  patience?: number;
  /** Minimum change that counts as an improvement (default 1e-4). */
  threshold?: number;
  /** "rel" (default: relative to the best) or "abs". */
  thresholdMode?: "rel" | "abs";
  /** Epochs to wait after a reduction before counting again (default 0). */
  cooldown?: number;
  /** Lower bound of the learning rate (one, or one per group; default 0). */
  minLr?: number | readonly number[];
  /** Reductions smaller than this are skipped (default 1e-8). */
  eps?: number;
}

/**
 * Reduce the learning rate by `factor` when a metric stops improving for `patience` epochs.
 * `step(metric)` takes the epoch's metric.
 *
 * @example
 * ```ts
 * import { optim, tensor } from "@aprender/compute";
 * const opt = new optim.SGD([tensor([1]).requireGrad()], { lr: 1 });
 * const s = new optim.ReduceLROnPlateau(opt, { patience: 1, factor: 0.5 });
 * for (const loss of [3, 2, 2, 2, 2]) s.step(loss); // no improvement for 2 > patience epochs
 * console.log(s.getLastLr()); // [0.5]
 * ```
 */
export class ReduceLROnPlateau implements Scheduler {
  /** The optimizer. */
  readonly optimizer: Optimizer;
  /** Reduction factor. */
  factor: number;
  /** Per-group lower bounds. */
  minLrs: number[];
  /** The single lower bound, if one was given for all groups. */
  defaultMinLr: number | null;
  /** Epochs without improvement tolerated. */
  patience: number;
  /** Cooldown epochs after a reduction. */
  cooldown: number;
  /** Smallest reduction applied. */
  eps: number;
  /** Index of the last epoch. */
  lastEpoch = 0;
  /** "min" or "max". */
  mode: "min" | "max";
  /** Improvement threshold. */
  threshold: number;
  /** "rel" or "abs". */
  thresholdMode: "rel" | "abs";
  /** The best metric so far. */
  best: number;
  /** The worst possible metric (the initial best). */
  modeWorse: number;
  /** Epochs left in the cooldown. */
  cooldownCounter = 0;
  /** Consecutive epochs without improvement. */
  numBadEpochs = 0;
  /** The learning rates after the last step. */
  lastLr: number[];

  /**
   * Create it; omitted options take PyTorch's defaults.
   *
   * @param optimizer the optimizer
   * @param options see {@link ReduceLROnPlateauOptions}
   */
  constructor(optimizer: Optimizer, options: ReduceLROnPlateauOptions = {}) {
    this.factor = options.factor ?? 0.1;
    if (this.factor >= 1) {
      throw new OptimizerError(`ReduceLROnPlateau: factor should be < 1.0, got ${this.factor}.`);
    }
    this.optimizer = optimizer;
    const n = optimizer.paramGroups.length;
    const minLr = options.minLr ?? 0;
    if (typeof minLr === "number") {
      this.defaultMinLr = minLr;
      this.minLrs = new Array(n).fill(minLr);
    } else {
      if (minLr.length !== n) {
        throw new OptimizerError(`ReduceLROnPlateau: expected ${n} minLrs, got ${minLr.length}.`);
      }
      this.defaultMinLr = null;
      this.minLrs = [...minLr];
    }
    this.patience = options.patience ?? 10;
    this.cooldown = options.cooldown ?? 0;
    this.eps = options.eps ?? 1e-8;
    this.lastLr = groupsOf(optimizer).map((g) => g.lr);
    const mode = options.mode ?? "min";
    const thresholdMode = options.thresholdMode ?? "rel";
    if (mode !== "min" && mode !== "max") {
      throw new OptimizerError(`ReduceLROnPlateau: mode ${JSON.stringify(mode)} is unknown.`);
    }
    if (thresholdMode !== "rel" && thresholdMode !== "abs") {
      throw new OptimizerError(
        `ReduceLROnPlateau: thresholdMode ${JSON.stringify(thresholdMode)} is unknown.`,
      );
    }
    this.mode = mode;
    this.threshold = options.threshold ?? 1e-4;
    this.thresholdMode = thresholdMode;
    this.modeWorse = mode === "min" ? Infinity : -Infinity;
    this.best = this.modeWorse;
  }

  #isBetter(a: number, best: number): boolean {
    if (this.mode === "min" && this.thresholdMode === "rel") return a < best * (1 - this.threshold);
    if (this.mode === "min") return a < best - this.threshold;
    if (this.thresholdMode === "rel") return a > best * (this.threshold + 1);
    return a > best + this.threshold;
  }

  /** Record the epoch's metric, and reduce the learning rates after a plateau. */
  step(metric: number): void {
    const current = Number(metric);
    this.lastEpoch++;
    if (this.#isBetter(current, this.best)) {
      this.best = current;
      this.numBadEpochs = 0;
    } else this.numBadEpochs++;
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.numBadEpochs = 0;
    }
    if (this.numBadEpochs > this.patience) {
      this.#reduce();
      this.cooldownCounter = this.cooldown;
      this.numBadEpochs = 0;
    }
    this.lastLr = groupsOf(this.optimizer).map((g) => g.lr);
  }

  #reduce(): void {
    const groups = groupsOf(this.optimizer);
    if (groups.length !== this.minLrs.length) {
      if (this.defaultMinLr === null) {
        throw new OptimizerError(
          `ReduceLROnPlateau: the optimizer has ${groups.length} parameter groups but minLrs ` +
            `has ${this.minLrs.length}. Hint: set minLrs to one value per group.`,
        );
      }
      this.minLrs = new Array(groups.length).fill(this.defaultMinLr);
    }
    groups.forEach((g, i) => {
      const old = g.lr;
      const lr = Math.max(old * this.factor, this.minLrs[i]);
      if (old - lr > this.eps) g.lr = lr;
    });
  }

  /** The learning rates after the last step. */
  getLastLr(): number[] {
    return [...this.lastLr];
  }

  /** Every field but the optimizer, as JSON-able values. */
  stateDict(): SchedulerState {
    const out: SchedulerState = {};
    for (const [k, v] of Object.entries(this)) if (k !== "optimizer") out[k] = v;
    return copyState(out);
  }

  /** Restore the fields saved by {@link ReduceLROnPlateau.stateDict}. */
  loadStateDict(state: SchedulerState): void {
    Object.assign(this, copyState(state));
  }
}
