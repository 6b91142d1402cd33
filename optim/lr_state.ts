/**
 * What the learning-rate schedulers share internally: their optimizer's parameter groups, and
 * state dicts copied as JSON-able values (non-finite numbers included).
 *
 * @module
 */
import type { Optimizer, ParamGroup } from "./optimizer.ts";
import type { SchedulerState } from "./lr_scheduler.ts";

/** The optimizer's parameter groups, writable (schedulers set their `lr`). */
export function groupsOf(opt: Optimizer): ParamGroup[] {
  return opt.paramGroups as ParamGroup[];
}

/** Copy a state, arrays included, so later steps do not change a saved state. */
export function copyState(s: SchedulerState): SchedulerState {
  return JSON.parse(
    JSON.stringify(
      s,
      (_k, v) => (typeof v === "number" && !Number.isFinite(v) ? { $number: String(v) } : v),
    ),
    (_k, v) => (v && typeof v === "object" && "$number" in v ? Number(v.$number) : v),
  );
}

/** A scheduler's fields but its optimizer, copied as JSON-able values (its state dict). */
export function fieldsState(scheduler: object): SchedulerState {
  const out: SchedulerState = {};
  for (const [k, v] of Object.entries(scheduler)) if (k !== "optimizer") out[k] = v;
  return copyState(out);
}
