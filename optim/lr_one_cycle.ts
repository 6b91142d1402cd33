/**
 * `OneCycleLR` (PyTorch's): the 1cycle policy of Smith & Topin, stepped per batch, with its
 * momentum (or Adam's beta1) cycled opposite to the learning rate.
 *
 * @module
 */
import { type Optimizer, OptimizerError } from "./optimizer.ts";
import { LRScheduler } from "./lr_scheduler.ts";
import { groupsOf } from "./lr_state.ts";

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
    for (
      const [name, v] of [["divFactor", divFactor], ["finalDivFactor", finalDivFactor]] as const
    ) {
      if (!(Number.isFinite(v) && v > 0)) {
        throw new OptimizerError(`OneCycleLR: ${name} must be a finite number > 0, got ${v}.`);
      }
    }
    const groups = groupsOf(optimizer);
    const maxLrs = perGroup("maxLr", optimizer, options.maxLr);
    maxLrs.forEach((v, i) => {
      if (!(Number.isFinite(v) && v >= 0)) {
        throw new OptimizerError(
          `OneCycleLR: maxLr must be a finite number >= 0, got ${v} (group ${i}).`,
        );
      }
    });
    // The first phase anneals from step 0 to step pctStart × totalSteps - 1; when that is 0, step
    // 0 would anneal over 0/0 steps (a NaN learning rate; PyTorch raises ZeroDivisionError). Later
    // phases never see their zero width: the phase before them takes that step.
    if (pct * total - 1 === 0) {
      throw new OptimizerError(
        `OneCycleLR: the warm-up phase has zero width (pctStart ${pct} × totalSteps ${total} = 1 ` +
          `step); its learning rate at step 0 would be 0/0. Hint: change pctStart or totalSteps ` +
          `so that pctStart × totalSteps is not 1.`,
      );
    }
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
