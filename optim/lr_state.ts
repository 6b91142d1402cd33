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

/** The JSON kind of a value: what `checkLike` compares. */
function kindOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v;
}

/**
 * Check a loaded value against the live one it will replace, returning what is wrong (or null):
 * the same JSON kind (number, string, boolean, array, object, null), a number finite wherever
 * the live one is, arrays element by element against the live array's first element, objects
 * key by key for the keys the live object has. A value the live side does not have is not
 * checked (options a newer version added). This is how every saved option and scheduler field is
 * validated at load time, before anything changes, instead of failing inside `step()`.
 */
export function mismatchOf(live: unknown, saved: unknown, path: string): string | null {
  const lk = kindOf(live), sk = kindOf(saved);
  if (lk === "undefined" || lk === "function") return null;
  if (lk === "null") return null; // an unset optional value (e.g. a best metric not yet seen)
  if (lk !== sk) {
    return `${path} is ${sk === "string" ? JSON.stringify(saved) : sk}, expected a ${lk}` +
      (lk === "number" ? ` (like ${live})` : "");
  }
  if (lk === "number") {
    if (Number.isFinite(live) && !Number.isFinite(saved)) {
      return `${path} is ${saved}, expected a finite number`;
    }
    return null;
  }
  if (lk === "array") {
    const l = live as unknown[], s = saved as unknown[];
    if (l.length === 0) return null;
    for (let i = 0; i < s.length; i++) {
      const m = mismatchOf(l[Math.min(i, l.length - 1)], s[i], `${path}[${i}]`);
      if (m) return m;
    }
    return null;
  }
  if (lk === "object") {
    for (const k of Object.keys(live as object)) {
      if (!Object.hasOwn(saved as object, k)) continue;
      const m = mismatchOf(
        (live as Record<string, unknown>)[k],
        (saved as Record<string, unknown>)[k],
        `${path}.${k}`,
      );
      if (m) return m;
    }
  }
  return null;
}
