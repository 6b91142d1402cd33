/**
 * `SequentialLR` (PyTorch's): schedulers run one after another, switching at milestones.
 *
 * @module
 */
import { type Optimizer, OptimizerError } from "./optimizer.ts";
import { LRScheduler, type Scheduler, type SchedulerState } from "./lr_scheduler.ts";
import { copyState, groupsOf } from "./lr_state.ts";

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
