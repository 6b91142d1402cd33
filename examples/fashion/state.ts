/**
 * Saving and restoring a training run: model, optimizer and scheduler through the library's
 * checkpoint format, plus the example's own progress (global step, loss history, accuracy per
 * epoch, the loss EMA) and the settings that must not change across a resume.
 *
 * @module
 */
import { loadCheckpoint, type nn, type optim, saveCheckpoint } from "../../mod.ts";
import type { TrainArgs } from "./args.ts";
import type { AccuracyPoint } from "./svg.ts";

/** The example's own progress, saved with the checkpoint. */
export interface RunState {
  /** Optimizer steps taken since the start of training. */
  step: number;
  /** Train loss of every step. */
  losses: number[];
  /** Test accuracy after each completed epoch. */
  accuracy: AccuracyPoint[];
  /** The progress bar's loss EMA. */
  ema: { v: number; n: number };
}

/** What is trained. */
export interface Trainees {
  /** The model. */
  model: nn.Module;
  /** Its optimizer. */
  opt: optim.Optimizer;
  /** Its learning-rate scheduler. */
  sched: optim.Scheduler;
}

/** Settings a resumed run must share with the run that wrote the checkpoint. */
const FIXED = ["epochs", "batchSize", "lr", "seed", "trainLimit"] as const;

/** Save everything to `path` (written to a temporary file first, then renamed into place). */
export async function saveTrainingState(
  path: string,
  args: TrainArgs,
  t: Trainees,
  st: RunState,
  epoch: number,
): Promise<void> {
  const settings = Object.fromEntries(FIXED.map((k) => [k, args[k]]));
  const tmp = `${path}.tmp-${Deno.pid}`;
  await saveCheckpoint(tmp, {
    model: t.model,
    optimizer: t.opt,
    scheduler: t.sched,
    epoch,
    extra: { run: { ...st, settings } },
  });
  await Deno.rename(tmp, path);
}

/** Restore model, optimizer and scheduler from `path`; returns the saved run progress. */
export async function loadTrainingState(
  path: string,
  args: TrainArgs,
  t: Trainees,
): Promise<RunState> {
  const ck = await loadCheckpoint(path, { model: t.model, optimizer: t.opt, scheduler: t.sched });
  const saved = ck.extra?.run as (RunState & { settings: Record<string, unknown> }) | undefined;
  if (!saved || typeof saved !== "object" || !Array.isArray(saved.losses)) {
    throw new Error(`${path} is not a train:fashion checkpoint (no "run" extra).`);
  }
  const diff = FIXED.filter((k) => saved.settings?.[k] !== args[k]);
  if (diff.length) {
    throw new Error(
      `${path} was written with different settings (${
        diff.map((k) => `${k}: ${saved.settings?.[k]} there, ${args[k]} now`).join("; ")
      }). Hint: resume with the same --epochs, --batch-size, --lr, --seed and --train-limit.`,
    );
  }
  return {
    step: saved.step,
    losses: saved.losses,
    accuracy: saved.accuracy,
    ema: saved.ema,
  };
}
