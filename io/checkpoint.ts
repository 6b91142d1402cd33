/**
 * Training checkpoints: a model's state dict, an optimizer's state, a scheduler's state, the
 * epoch and any JSON extras, in ONE `.safetensors` file.
 *
 * Layout: model tensors under `model.<name>`, optimizer state tensors under
 * `optim.<param index>.<key>` (e.g. `optim.0.expAvg`), and in the metadata (strings):
 * `format` = `"aprender.checkpoint"`, `format_version`, `optim` (JSON: the optimizer's class,
 * parameter groups and numeric state such as `step`), `scheduler` (JSON: class and state),
 * `epoch`, `extra` (JSON). Numbers JSON cannot hold (Infinity, NaN) are written as
 * `{"$number": "Infinity"}`.
 *
 * `loadCheckpoint` also accepts a plain state dict file (no checkpoint metadata), such as one
 * written by `safetensors.torch.save_file(model.state_dict(), path)`: its keys are the model's.
 *
 * @module
 */
import { mismatchOf } from "../optim/lr_state.ts";
import { ComputeError, fmtShape } from "../core/errors.ts";
import { Tensor } from "../core/tensor.ts";
import { loadSafetensors, saveSafetensors } from "./safetensors.ts";
import { checkJsonDepth } from "./budget.ts";

const FORMAT = "aprender.checkpoint";
const VERSION = "1";

/** What a checkpoint needs of a model (`nn.Module` has it). */
export interface CheckpointModel {
  /** Parameters and buffers by dotted name (views the caller may dispose). */
  stateDict(): Record<string, Tensor>;
  /** Copy values in by name (strict key checks). */
  loadStateDict(stateDict: Record<string, Tensor>, options?: { strict?: boolean }): unknown;
}

/** A parameter's optimizer state: tensors (moment buffers) and numbers (`step`). */
export type CheckpointParamState = Record<string, Tensor | number>;

/** An optimizer's state dict (`optim.Optimizer.stateDict()`'s structure). */
export interface CheckpointOptimizerState {
  /** Per-parameter state by index. */
  state: Record<number, CheckpointParamState>;
  /** The groups' options, parameters as indices. */
  paramGroups: ({ params: number[] } & Record<string, unknown>)[];
}

/** What a checkpoint needs of an optimizer (every `optim.Optimizer` has it). */
export interface CheckpointOptimizer {
  /** The parameter groups. */
  readonly paramGroups: readonly { readonly params: readonly Tensor[] }[];
  /** The state in PyTorch's structure. */
  stateDict(): CheckpointOptimizerState;
  /** Restore a state. */
  loadStateDict(stateDict: CheckpointOptimizerState): void;
}

/** What a checkpoint needs of a scheduler (every `optim` scheduler has it). */
export interface CheckpointScheduler {
  /** The scheduler's state (JSON-able). */
  stateDict(): Record<string, unknown>;
  /** Restore a state. */
  loadStateDict(state: Record<string, unknown>): void;
}

/** What {@link saveCheckpoint} saves. */
export interface CheckpointContents {
  /** The model (its `stateDict()`). */
  model: CheckpointModel;
  /** The optimizer (its state tensors and parameter groups). */
  optimizer?: CheckpointOptimizer;
  /** The learning-rate scheduler. */
  scheduler?: CheckpointScheduler;
  /** The epoch (or step) reached. */
  epoch?: number;
  /** Anything else JSON can hold (metrics, configuration, RNG seeds). */
  extra?: Record<string, unknown>;
}

/** What {@link loadCheckpoint} restores into. */
export interface CheckpointTargets {
  /** The model to load the weights into (same architecture). */
  model: CheckpointModel;
  /** The optimizer to restore (same parameter groups); omit to load weights only. */
  optimizer?: CheckpointOptimizer;
  /** The scheduler to restore (same class). */
  scheduler?: CheckpointScheduler;
  /** The size budget of the load (see {@link loadSafetensors}'s `maxBytes`). */
  maxBytes?: number;
}

/** What {@link loadCheckpoint} returns besides restoring the targets. */
export interface LoadedCheckpoint {
  /** The saved epoch, or null. */
  epoch: number | null;
  /** The saved extras, or null. */
  extra: Record<string, unknown> | null;
  /** The file's raw metadata strings. */
  metadata: Record<string, string>;
}

/**
 * A checkpoint does not fit what it is loaded into: the message lists every missing,
 * unexpected and mis-shaped key (with its `model.`/`optim.` prefix), and the fields hold them.
 * Nothing was loaded.
 *
 * @example
 * ```ts
 * import { CheckpointError } from "@aprender/compute";
 * const e = new CheckpointError("loadCheckpoint: ...", ["model.bias"], [], []);
 * console.log(e.missingKeys); // ["model.bias"]
 * ```
 */
export class CheckpointError extends ComputeError {
  /**
   * Create the error (loadCheckpoint does).
   *
   * @param message the full listing
   * @param missingKeys keys the targets expect that the file lacks
   * @param unexpectedKeys keys of the file that fit nothing
   * @param mismatched keys whose shapes differ, with both shapes
   */
  constructor(
    message: string,
    readonly missingKeys: string[],
    readonly unexpectedKeys: string[],
    readonly mismatched: { key: string; expected: number[]; got: number[] }[],
  ) {
    super(message);
  }
}

/**
 * What is wrong with a parsed metadata record (or null): it must be an object with a string
 * `class` and, where present, each named field of the named kind.
 */
function shapeProblem(
  v: unknown,
  what: string,
  ...fields: [string, "array" | "object"][]
): string | null {
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    return `metadata "${what}" is ${
      v === null ? "null" : Array.isArray(v) ? "an array" : typeof v
    }, ` +
      `not an object (the file is corrupt or was not written by saveCheckpoint).`;
  }
  const o = v as Record<string, unknown>;
  if (typeof o.class !== "string") {
    return `metadata "${what}" has no class name (its "class" is ${JSON.stringify(o.class)}).`;
  }
  for (const [k, kind] of fields) {
    const x = o[k];
    if (x === undefined) continue;
    const ok = kind === "array"
      ? Array.isArray(x)
      : x !== null && typeof x === "object" && !Array.isArray(x);
    if (!ok) return `metadata "${what}" field "${k}" is ${JSON.stringify(x)}, not an ${kind}.`;
  }
  return null;
}

/** JSON that keeps Infinity and NaN. */
function toJson(v: unknown): string {
  return JSON.stringify(
    v,
    (_k, x) => typeof x === "number" && !Number.isFinite(x) ? { $number: String(x) } : x,
  );
}

function fromJson(s: string, what: string, name: string): unknown {
  checkJsonDepth(s, (why) => {
    throw new CheckpointError(`loadCheckpoint: ${name}: metadata "${what}" ${why}`, [], [], []);
  });
  try {
    return JSON.parse(
      s,
      (_k, x) =>
        x && typeof x === "object" && !Array.isArray(x) && Object.keys(x).length === 1 &&
          typeof x.$number === "string"
          ? Number(x.$number)
          : x,
    );
  } catch (e) {
    throw new CheckpointError(
      `loadCheckpoint: ${name}: metadata "${what}" is not valid JSON: ${(e as Error).message}`,
      [],
      [],
      [],
    );
  }
}

/**
 * Save a model, and optionally an optimizer, a scheduler, the epoch and JSON extras, to one
 * `.safetensors` file (see the module docs for the layout). Works for tensors on any device.
 *
 * @example
 * ```ts
 * import { copyInto, loadCheckpoint, optim, saveCheckpoint, tensor, type Tensor } from "@aprender/compute";
 * // Any object with stateDict()/loadStateDict() works; nn.Module has both.
 * const w = tensor([1, 2]).requireGrad();
 * const model = {
 *   stateDict: () => ({ w: w.detach() }),
 *   loadStateDict: (sd: Record<string, Tensor>) => copyInto(w, sd.w),
 * };
 * const opt = new optim.Adam([w], { lr: 0.1 });
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await saveCheckpoint(path, { model, optimizer: opt, epoch: 3, extra: { best: 0.9 } });
 * const info = await loadCheckpoint(path, { model, optimizer: opt });
 * console.log(info.epoch, info.extra); // 3 { best: 0.9 }
 * ```
 */
export async function saveCheckpoint(
  path: string | URL,
  contents: CheckpointContents,
): Promise<void> {
  const { model, optimizer, scheduler, epoch, extra } = contents;
  const sd = model.stateDict();
  const tensors: Record<string, Tensor> = {};
  const metadata: Record<string, string> = { format: FORMAT, format_version: VERSION };
  try {
    for (const [k, t] of Object.entries(sd)) tensors[`model.${k}`] = t;
    if (optimizer) {
      const osd = optimizer.stateDict();
      const numeric: Record<string, Record<string, number>> = {};
      for (const [i, st] of Object.entries(osd.state)) {
        for (const [key, v] of Object.entries(st)) {
          if (v instanceof Tensor) tensors[`optim.${i}.${key}`] = v;
          else (numeric[i] ??= {})[key] = v;
        }
      }
      metadata.optim = toJson({
        class: optimizer.constructor.name,
        paramGroups: osd.paramGroups,
        state: numeric,
      });
    }
    if (scheduler) {
      metadata.scheduler = toJson({
        class: scheduler.constructor.name,
        state: scheduler.stateDict(),
      });
    }
    if (epoch !== undefined) metadata.epoch = String(epoch);
    if (extra !== undefined) metadata.extra = toJson(extra);
    await saveSafetensors(path, tensors, metadata);
  } finally {
    for (const t of Object.values(sd)) t.dispose();
  }
}

/**
 * Restore a checkpoint written by {@link saveCheckpoint} (or a plain state dict file, e.g. from
 * `safetensors.torch.save_file`) into a model and optionally an optimizer and a scheduler.
 * Every key is checked before anything is loaded: missing, unexpected and mis-shaped model keys,
 * optimizer state that does not fit, and a missing optimizer/scheduler state that was asked
 * for, throw a {@link CheckpointError} listing them.
 *
 * @example
 * ```ts
 * import { loadCheckpoint, saveCheckpoint, tensor, type Tensor } from "@aprender/compute";
 * const w = tensor([1, 2]);
 * const model = { stateDict: () => ({ w: w.detach() }), loadStateDict: (_: unknown) => {} };
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await saveCheckpoint(path, { model, epoch: 7 });
 * console.log((await loadCheckpoint(path, { model })).epoch); // 7
 * ```
 */
export async function loadCheckpoint(
  pathOrBytes: string | URL | Uint8Array,
  targets: CheckpointTargets,
): Promise<LoadedCheckpoint> {
  const file = await loadSafetensors(pathOrBytes, { maxBytes: targets.maxBytes });
  const name = pathOrBytes instanceof Uint8Array ? "<bytes>" : String(pathOrBytes);
  const { tensors, metadata } = file;
  try {
    return restore(tensors, metadata, targets, name);
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
}

function restore(
  tensors: Record<string, Tensor>,
  metadata: Record<string, string>,
  targets: CheckpointTargets,
  name: string,
): LoadedCheckpoint {
  const { model, optimizer, scheduler } = targets;
  const isCheckpoint = metadata.format === FORMAT;
  const problems: string[] = [];
  const missingKeys: string[] = [];
  const unexpectedKeys: string[] = [];
  const mismatched: { key: string; expected: number[]; got: number[] }[] = [];
  const prefix = isCheckpoint ? "model." : "";

  // Model keys.
  const modelSd = new Map<string, Tensor>();
  const optimTensors: [number, string, Tensor][] = [];
  for (const [k, t] of Object.entries(tensors)) {
    if (k.startsWith(prefix) && (!isCheckpoint || k.startsWith("model."))) {
      modelSd.set(k.slice(prefix.length), t);
      continue;
    }
    const m = /^optim\.(\d+)\.(.+)$/.exec(k);
    if (isCheckpoint && m) optimTensors.push([Number(m[1]), m[2], t]);
    else unexpectedKeys.push(k);
  }
  const own = model.stateDict();
  try {
    for (const [k, t] of Object.entries(own)) {
      const s = modelSd.get(k);
      if (!s) missingKeys.push(prefix + k);
      else if (s.ndim !== t.ndim || s.shape.some((d, i) => d !== t.shape[i])) {
        mismatched.push({ key: prefix + k, expected: [...t.shape], got: [...s.shape] });
      }
    }
    for (const k of modelSd.keys()) if (!Object.hasOwn(own, k)) unexpectedKeys.push(prefix + k);
  } finally {
    for (const t of Object.values(own)) t.dispose();
  }

  // Optimizer state.
  let osd: CheckpointOptimizerState | null = null;
  if (optimizer) {
    if (!isCheckpoint || metadata.optim === undefined) {
      problems.push(`the file holds no optimizer state (saved without one?)`);
    } else {
      const saved = fromJson(metadata.optim, "optim", name) as {
        class?: string;
        paramGroups?: CheckpointOptimizerState["paramGroups"];
        state?: Record<string, Record<string, number>>;
      };
      const bad = shapeProblem(saved, "optim", ["paramGroups", "array"], ["state", "object"]);
      if (bad) {
        throw new CheckpointError(`loadCheckpoint: ${name}: ${bad}`, [], [], []);
      }
      if (saved.class !== optimizer.constructor.name) {
        problems.push(
          `the optimizer state is ${saved.class}'s, the optimizer is ` +
            `${optimizer.constructor.name}`,
        );
      }
      const state: Record<number, CheckpointParamState> = {};
      for (const [i, st] of Object.entries(saved.state ?? {})) state[Number(i)] = { ...st };
      for (const [i, key, t] of optimTensors) (state[i] ??= {})[key] = t;
      osd = { state, paramGroups: saved.paramGroups ?? [] };
      const params = optimizer.paramGroups.flatMap((g) => g.params);
      if (saved.paramGroups?.length === optimizer.paramGroups.length) {
        for (const [i, key, t] of optimTensors) {
          const p = params[i];
          const k = `optim.${i}.${key}`;
          if (!p) unexpectedKeys.push(k);
          else if (
            key !== "step" && (t.ndim !== p.ndim || t.shape.some((d, j) => d !== p.shape[j]))
          ) {
            mismatched.push({ key: k, expected: [...p.shape], got: [...t.shape] });
          }
        }
      } else {
        problems.push(
          `the optimizer state has ${saved.paramGroups?.length ?? 0} parameter groups, the ` +
            `optimizer ${optimizer.paramGroups.length}`,
        );
      }
    }
  }

  // Scheduler state.
  let ssd: Record<string, unknown> | null = null;
  if (scheduler) {
    if (!isCheckpoint || metadata.scheduler === undefined) {
      problems.push(`the file holds no scheduler state (saved without one?)`);
    } else {
      const saved = fromJson(metadata.scheduler, "scheduler", name) as {
        class?: string;
        state?: Record<string, unknown>;
      };
      const bad = shapeProblem(saved, "scheduler", ["state", "object"]);
      if (bad) {
        throw new CheckpointError(`loadCheckpoint: ${name}: ${bad}`, [], [], []);
      }
      if (saved.class !== scheduler.constructor.name) {
        problems.push(
          `the scheduler state is ${saved.class}'s, the scheduler is ` +
            `${scheduler.constructor.name}`,
        );
      }
      ssd = saved.state ?? {};
      const m = mismatchOf(scheduler.stateDict(), ssd, "scheduler.state");
      if (m) problems.push(`metadata "scheduler": ${m}`);
    }
  }

  if (problems.length || missingKeys.length || unexpectedKeys.length || mismatched.length) {
    const lines = [...problems];
    if (missingKeys.length) {
      lines.push(`missing keys (${missingKeys.length}): ${missingKeys.join(", ")}`);
    }
    if (unexpectedKeys.length) {
      lines.push(`unexpected keys (${unexpectedKeys.length}): ${unexpectedKeys.join(", ")}`);
    }
    for (const m of mismatched) {
      lines.push(
        `size mismatch for ${m.key}: the file has shape ${fmtShape(m.got)}, expected ` +
          `${fmtShape(m.expected)}`,
      );
    }
    throw new CheckpointError(
      `loadCheckpoint: ${name} does not fit what it is loaded into (nothing was loaded):\n  ` +
        lines.join("\n  ") +
        `\nHint: build the model and optimizer exactly as when the checkpoint was saved.`,
      missingKeys,
      unexpectedKeys,
      mismatched,
    );
  }

  const epoch = metadata.epoch !== undefined ? Number(metadata.epoch) : null;
  if (epoch !== null && !Number.isFinite(epoch)) {
    throw new CheckpointError(
      `loadCheckpoint: ${name}: metadata "epoch" is ${JSON.stringify(metadata.epoch)}, not a ` +
        `number (nothing was loaded).`,
      [],
      [],
      [],
    );
  }
  const extra = metadata.extra !== undefined
    ? fromJson(metadata.extra, "extra", name) as Record<string, unknown>
    : null;
  // The optimizer validates its whole state before changing anything; it goes first so that a
  // bad state leaves the model untouched too.
  if (optimizer && osd) {
    try {
      optimizer.loadStateDict(osd);
    } catch (e) {
      if (!(e instanceof ComputeError)) throw e;
      throw new CheckpointError(
        `loadCheckpoint: ${name}: metadata "optim" (with the optim.* tensors): ${e.message} ` +
          `(nothing was loaded)`,
        [],
        [],
        [],
      );
    }
  }
  if (scheduler && ssd) scheduler.loadStateDict(ssd);
  model.loadStateDict(Object.fromEntries(modelSd), { strict: true });
  return { epoch, extra, metadata };
}
