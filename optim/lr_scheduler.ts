/**
 * Learning-rate schedulers (PyTorch's `torch.optim.lr_scheduler`): what every scheduler offers
 * (`Scheduler`) and the base class of the epoch-based ones (`LRScheduler`), with PyTorch's
 * `stepCount`/`lastEpoch` bookkeeping. The schedules themselves are in `lr_decay.ts` (`StepLR`,
 * `MultiStepLR`, `ExponentialLR`, `CosineAnnealingLR`, `LinearLR`), `lr_one_cycle.ts`
 * (`OneCycleLR`), `lr_sequential.ts` (`SequentialLR`) and `lr_plateau.ts`
 * (`ReduceLROnPlateau`); all use PyTorch's recursive (chainable) formulas, so the sequences
 * equal PyTorch's.
 *
 * Creating a scheduler sets each group's `lr` to its first value (and records `initialLr`). Call
 * `optimizer.step()` then `scheduler.step()` once per epoch (or per batch for `OneCycleLR`).
 *
 * @module
 */
import { type Optimizer, OptimizerError } from "./optimizer.ts";
import { copyState, fieldsState, groupsOf, mismatchOf } from "./lr_state.ts";

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
    return fieldsState(this);
  }

  /** Restore the fields saved by {@link LRScheduler.stateDict}. */
  loadStateDict(state: SchedulerState): void {
    if (state === null || typeof state !== "object" || Array.isArray(state)) {
      throw new OptimizerError(
        `${this.constructor.name}.loadStateDict: expected the object stateDict() returns, got ` +
          `${state === null ? "null" : typeof state}.`,
      );
    }
    const m = mismatchOf(fieldsState(this), state, "state");
    if (m) throw new OptimizerError(`${this.constructor.name}.loadStateDict: ${m}.`);
    Object.assign(this, copyState(state));
  }
}
