/**
 * `ReduceLROnPlateau` (PyTorch's): lower the learning rate when a metric stops improving.
 *
 * @module
 */
import { type Optimizer, OptimizerError } from "./optimizer.ts";
import type { Scheduler, SchedulerState } from "./lr_scheduler.ts";
import { copyState, fieldsState, groupsOf } from "./lr_state.ts";

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
    return fieldsState(this);
  }

  /** Restore the fields saved by {@link ReduceLROnPlateau.stateDict}. */
  loadStateDict(state: SchedulerState): void {
    Object.assign(this, copyState(state));
  }
}
