/**
 * The `Optimizer` base class (PyTorch's `torch.optim.Optimizer`): parameter groups with
 * per-group options, `zeroGrad`, `step`, and `stateDict`/`loadStateDict` in PyTorch's structure.
 *
 * Parameters are updated in place: each optimizer computes the new value with core ops under
 * `noGrad()` and writes it into the parameter's own storage with `copyInto`, so modules keep
 * referencing the same tensors. Every temporary is disposed (each parameter's update runs in a
 * `tidy()` scope), so a training loop holds steady memory.
 *
 * Gradient accumulation works as in PyTorch: `backward()` adds into `.grad`, so call
 * `backward()` on several micro-batches (each loss divided by their number) before one `step()`,
 * then `zeroGrad()`.
 *
 * @module
 */
import { noGrad } from "../core/autograd.ts";
import { ComputeError, fmtShape } from "../core/errors.ts";
import { keep, tidy } from "../core/memory.ts";
import { copyInto } from "../core/ops/view.ts";
import { Tensor } from "../core/tensor.ts";
import { mismatchOf } from "./lr_state.ts";

/**
 * Bad use of an optimizer or scheduler: a non-leaf or duplicated parameter, an invalid option,
 * a state dict that does not fit.
 *
 * @example
 * ```ts
 * import { optim, tensor } from "@aprender/compute";
 * const w = tensor([1, 2]).requireGrad();
 * try {
 *   new optim.SGD([w.mul(2)], { lr: 0.1 });
 * } catch (e) {
 *   console.log(e instanceof optim.OptimizerError); // true
 * }
 * ```
 */
export class OptimizerError extends ComputeError {}

/** One value of a parameter's optimizer state: a tensor (moment buffers) or a number (`step`). */
export type StateValue = Tensor | number;

/** The optimizer state of one parameter, e.g. `{ step: 3, expAvg, expAvgSq }`. */
export type ParamState = Record<string, StateValue>;

/**
 * A parameter group: its parameters and its options (`lr` and the optimizer's others; schedulers
 * add keys such as `initialLr`).
 */
export interface ParamGroup {
  /** The parameters of the group. */
  params: Tensor[];
  /** Learning rate. */
  lr: number;
  /** The optimizer's other options, and keys schedulers add. */
  [option: string]: unknown;
}

/** A parameter group as given to a constructor: parameters and any options to override. */
export type ParamGroupInput<O> = Partial<O> & { params: Iterable<Tensor> };

/** What optimizers accept: parameters (e.g. `model.parameters()`), or parameter groups. */
export type Params<O> = Iterable<Tensor> | readonly ParamGroupInput<O>[];

/** A parameter group inside a state dict: options, and parameter indices instead of tensors. */
export type PackedParamGroup = { params: number[] } & Record<string, unknown>;

/**
 * An optimizer's state dict, in PyTorch's structure: `state` keyed by parameter index (counting
 * through the groups in order), and the groups' options with the parameters replaced by their
 * indices. State tensors are the optimizer's own (not copies).
 */
export interface OptimizerStateDict {
  /** Per-parameter state by index (parameters without state are absent). */
  state: Record<number, ParamState>;
  /** The groups' options; `params` lists indices. */
  paramGroups: PackedParamGroup[];
}

/** Options of {@link Optimizer.zeroGrad}. */
export interface ZeroGradOptions {
  /** Free the gradients and set them to null (default), instead of filling them with zeros. */
  setToNone?: boolean;
}

/** Throw unless `x` is a finite number ≥ 0 (PyTorch's "Invalid ... value" checks). */
export function checkNonNegative(op: string, name: string, x: unknown): void {
  if (typeof x !== "number" || !(x >= 0)) {
    throw new OptimizerError(`${op}: invalid ${name} ${String(x)}; expected a number >= 0.`);
  }
}

function isTensorList(params: unknown): boolean {
  return Array.isArray(params) && (params.length === 0 || params[0] instanceof Tensor);
}

/**
 * Base class of optimizers. Subclasses give their defaults and implement `update` for one
 * parameter; the base class runs it for every parameter with a gradient, in place.
 *
 * @typeParam O the optimizer's options (`lr` and the rest)
 *
 * @example
 * ```ts
 * import { optim, tensor } from "@aprender/compute";
 * const w = tensor([1, 2]).requireGrad();
 * const opt = new optim.SGD([w], { lr: 0.5 });
 * w.square().sum().backward(); // grad = 2w
 * opt.step();
 * console.log(w.toArraySync()); // [0, 0]
 * ```
 */
export abstract class Optimizer<O extends { lr: number } = { lr: number }> {
  /** The options every group starts from. */
  readonly defaults: Readonly<O>;
  /** The parameter groups (their options may be changed between steps, e.g. by schedulers). */
  readonly paramGroups: (ParamGroup & O)[] = [];
  /** Per-parameter state (moment buffers, step counts). */
  readonly state: Map<Tensor, ParamState> = new Map();

  /**
   * Create it; omitted options take PyTorch's defaults.
   *
   * @param params parameters, or parameter groups with per-group options
   * @param defaults the options of every group (a group may override them)
   */
  constructor(params: Params<O>, defaults: O) {
    this.defaults = Object.freeze({ ...defaults });
    const list = [...(params as Iterable<unknown>)];
    if (list.length === 0) {
      throw new OptimizerError(
        `${this.constructor.name}: got an empty parameter list. Hint: pass model.parameters().`,
      );
    }
    const groups = isTensorList(list)
      ? [{ params: list as Tensor[] } as unknown as ParamGroupInput<O>]
      : (list as ParamGroupInput<O>[]);
    for (const g of groups) this.addParamGroup(g);
  }

  /** The optimizer's name in error messages. */
  protected get name(): string {
    return this.constructor.name;
  }

  /**
   * Add a parameter group (e.g. layers unfrozen during fine-tuning); options it omits come from
   * the defaults. Parameters must be leaf tensors, each in one group only.
   */
  addParamGroup(group: ParamGroupInput<O>): void {
    if (group === null || typeof group !== "object" || !("params" in group)) {
      throw new OptimizerError(
        `${this.name}: a parameter group must be an object with "params", got ${String(group)}.`,
      );
    }
    const params = group.params instanceof Tensor ? [group.params] : [...group.params];
    let index = this.paramGroups.reduce((n, g) => n + g.params.length, 0);
    const existing = new Set(this.paramGroups.flatMap((g) => g.params));
    const seen = new Set<Tensor>();
    for (const p of params) {
      if (!(p instanceof Tensor)) {
        throw new OptimizerError(
          `${this.name}: parameter ${index} is not a Tensor (${typeof p}); optimizers update ` +
            `tensors only.`,
        );
      }
      if (!p.isLeaf) {
        throw new OptimizerError(
          `${this.name}: parameter ${index} (shape ${fmtShape(p.shape)}) is not a leaf tensor: ` +
            `it is the output of "${p.gradFn!.op}", so it cannot be optimized in place. Hint: ` +
            `use t.detach() (and set requiresGrad) to make a leaf parameter.`,
        );
      }
      if (p.disposed) {
        throw new OptimizerError(`${this.name}: parameter ${index} was disposed.`);
      }
      if (seen.has(p) || existing.has(p)) {
        throw new OptimizerError(
          `${this.name}: parameter ${index} appears more than once in the parameter groups. ` +
            `Hint: each tensor may belong to one group only.`,
        );
      }
      seen.add(p);
      index++;
    }
    const full = { ...this.defaults, ...group, params } as unknown as ParamGroup & O;
    this.validateGroup(full);
    this.paramGroups.push(full);
  }

  /** Check a group's options (subclasses throw OptimizerError for invalid ones). */
  protected validateGroup(group: ParamGroup & O): void {
    checkNonNegative(this.name, "learning rate", group.lr);
  }

  /**
   * Clear the gradients of every parameter: free them and set `.grad` to null (default, like
   * PyTorch's `set_to_none=True`), or fill them with zeros.
   */
  zeroGrad(options: ZeroGradOptions = {}): void {
    const setToNone = options.setToNone ?? true;
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        if (!p.grad) continue;
        if (setToNone) {
          p.grad.dispose();
          p.grad = null;
        } else {
          fillZero(p.grad);
        }
      }
    }
  }

  /**
   * Update every parameter that has a gradient, in place. `closure`, if given, recomputes the
   * loss (with `backward()`) first; its value is returned.
   */
  step(closure?: () => number): number | undefined {
    const loss = closure ? closure() : undefined;
    noGrad(() => {
      for (const group of this.paramGroups) {
        this.prepareGroup(group);
        for (const p of group.params) {
          const grad = p.grad;
          if (!grad) continue;
          let st = this.state.get(p);
          if (!st) this.state.set(p, st = {});
          const state = st;
          tidy(() => this.update(p, grad, group, state));
        }
      }
    });
    return loss;
  }

  /** Hook run once per group before its parameters are updated. */
  protected prepareGroup(_group: ParamGroup & O): void {}

  /**
   * Update one parameter in place (runs under `noGrad()` inside a `tidy()` scope: temporaries are
   * freed; create persistent state with {@link Optimizer.newState}).
   */
  protected abstract update(
    param: Tensor,
    grad: Tensor,
    group: ParamGroup & O,
    state: ParamState,
  ): void;

  /** Keep a tensor created during `update` as state (outside the tidy scope). */
  protected newState(t: Tensor): Tensor {
    return keep(t);
  }

  /** Write `value` into `target` (a parameter or a state buffer) in place. */
  protected assign(target: Tensor, value: Tensor): void {
    copyInto(target, value);
  }

  /**
   * The state and options in PyTorch's structure: `{ state: {index: {...}}, paramGroups: [...] }`
   * (indices count the parameters through the groups in order). The tensors are the optimizer's
   * own state, not copies: save or clone them before further steps if needed.
   */
  stateDict(): OptimizerStateDict {
    const ids = new Map<Tensor, number>();
    let next = 0;
    const paramGroups = this.paramGroups.map((g) => {
      const packed: PackedParamGroup = { ...copyOptions(g), params: [] };
      for (const p of g.params) {
        if (!ids.has(p)) ids.set(p, next++);
        packed.params.push(ids.get(p)!);
      }
      return packed;
    });
    const state: Record<number, ParamState> = {};
    for (const [p, s] of this.state) {
      const i = ids.get(p);
      if (i !== undefined && Object.keys(s).length) state[i] = { ...s };
    }
    return { state, paramGroups };
  }

  /**
   * Restore state and options saved by {@link Optimizer.stateDict} (of an optimizer over
   * parameters with the same group sizes and shapes). State tensors are copied (cast to each
   * parameter's dtype), so the source may be disposed afterwards.
   */
  loadStateDict(stateDict: OptimizerStateDict): void {
    const saved = stateDict?.paramGroups;
    if (!Array.isArray(saved) || typeof stateDict.state !== "object") {
      throw new OptimizerError(
        `${this.name}.loadStateDict: expected { state, paramGroups }, got ${typeof stateDict}.`,
      );
    }
    if (saved.length !== this.paramGroups.length) {
      throw new OptimizerError(
        `${this.name}.loadStateDict: the state dict has ${saved.length} parameter groups, the ` +
          `optimizer has ${this.paramGroups.length}.`,
      );
    }
    const idMap = new Map<number, Tensor>();
    const groupOf = new Map<number, number>();
    saved.forEach((sg, gi) => {
      if (sg === null || typeof sg !== "object" || Array.isArray(sg)) {
        throw new OptimizerError(
          `${this.name}.loadStateDict: parameter group ${gi} is ${kindName(sg)}, not an object.`,
        );
      }
      const own = this.paramGroups[gi].params;
      if (!Array.isArray(sg.params) || sg.params.length !== own.length) {
        throw new OptimizerError(
          `${this.name}.loadStateDict: parameter group ${gi} has ${sg.params?.length} ` +
            `parameters in the state dict and ${own.length} in the optimizer.`,
        );
      }
      sg.params.forEach((id, j) => {
        idMap.set(id, own[j]);
        groupOf.set(id, gi);
      });
    });
    // Validate everything before changing anything: every option a group will use, against the
    // live group's kinds and the optimizer's own checks, and every parameter's state.
    saved.forEach((sg, gi) => {
      const live = this.paramGroups[gi] as unknown as Record<string, unknown>;
      for (const key of Object.keys(live)) {
        if (key === "params") continue;
        if (!Object.hasOwn(sg, key)) {
          // Keys a scheduler added to the live group (initialLr, ...) may be absent.
          if (!Object.hasOwn(this.defaults, key)) continue;
          throw new OptimizerError(
            `${this.name}.loadStateDict: parameter group ${gi} has no "${key}" (the state ` +
              `dict is incomplete).`,
          );
        }
        const m = mismatchOf(live[key], (sg as unknown as Record<string, unknown>)[key], key);
        if (m) {
          throw new OptimizerError(`${this.name}.loadStateDict: parameter group ${gi}: ${m}.`);
        }
      }
      const candidate = { ...live, ...copyOptions(sg), params: live.params };
      try {
        this.validateGroup(candidate as unknown as ParamGroup & O);
      } catch (e) {
        if (!(e instanceof OptimizerError)) throw e;
        throw new OptimizerError(
          `${this.name}.loadStateDict: parameter group ${gi}: ${e.message}`,
          { cause: e },
        );
      }
    });
    const stateObj = stateDict.state as Record<string, unknown>;
    // Parameters of one group share options, so their states hold the same keys.
    const keySets = new Map<number, string>();
    for (const [k, s] of Object.entries(stateObj)) {
      if (s === null || typeof s !== "object" || Array.isArray(s) || s instanceof Tensor) {
        throw new OptimizerError(
          `${this.name}.loadStateDict: the state of parameter ${k} is ${kindName(s)}, not an ` +
            `object of tensors and numbers.`,
        );
      }
      const keys = Object.keys(s).sort().join(", ");
      const gi = groupOf.get(Number(k)) ?? -1;
      const keySet = keySets.get(gi) ?? keys;
      keySets.set(gi, keySet);
      if (keys !== keySet) {
        throw new OptimizerError(
          `${this.name}.loadStateDict: the state of parameter ${k} has {${keys}}, another ` +
            `parameter's of its group has {${keySet}} (the state dict is incomplete).`,
        );
      }
      const step = (s as Record<string, unknown>).step;
      const stepN = step instanceof Tensor ? Number(noGrad(() => step.item())) : step;
      if (step !== undefined && !(Number.isSafeInteger(stepN) && (stepN as number) >= 0)) {
        throw new OptimizerError(
          `${this.name}.loadStateDict: state "step" of parameter ${k} is ${stepN}, expected a ` +
            `whole number ≥ 0.`,
        );
      }
    }
    for (const [k, s] of Object.entries(stateDict.state)) {
      const p = idMap.get(Number(k));
      if (!p) {
        throw new OptimizerError(
          `${this.name}.loadStateDict: state for parameter ${k}, which no group lists.`,
        );
      }
      for (const [key, v] of Object.entries(s)) {
        if (v instanceof Tensor && key !== "step") {
          if (v.ndim !== p.ndim || v.shape.some((d, i) => d !== p.shape[i])) {
            throw new OptimizerError(
              `${this.name}.loadStateDict: state "${key}" of parameter ${k} has shape ` +
                `${fmtShape(v.shape)}, the parameter has ${fmtShape(p.shape)}.`,
            );
          }
        } else if (typeof v === "number" && !Number.isFinite(v)) {
          throw new OptimizerError(
            `${this.name}.loadStateDict: state "${key}" of parameter ${k} is ${v}, expected a ` +
              `finite number.`,
          );
        } else if (typeof v !== "number" && !(v instanceof Tensor)) {
          throw new OptimizerError(
            `${this.name}.loadStateDict: state "${key}" of parameter ${k} is neither a tensor ` +
              `nor a number.`,
          );
        }
      }
    }
    this.disposeState();
    for (const [k, s] of Object.entries(stateDict.state)) {
      const p = idMap.get(Number(k))!;
      const st: ParamState = {};
      for (const [key, v] of Object.entries(s)) {
        if (typeof v === "number") st[key] = v;
        else if (key === "step") st[key] = Number(noGrad(() => v.item()));
        else st[key] = keep(noGrad(() => v.astype(p.dtype)));
      }
      this.state.set(p, st);
    }
    saved.forEach((sg, gi) => {
      const g = this.paramGroups[gi] as Record<string, unknown>;
      for (const key of Object.keys(g)) if (key !== "params") delete g[key];
      for (const [key, v] of Object.entries(copyOptions(sg))) g[key] = v;
    });
  }

  /** Free every state tensor and clear the state. */
  disposeState(): void {
    for (const s of this.state.values()) {
      for (const v of Object.values(s)) if (v instanceof Tensor) v.dispose();
    }
    this.state.clear();
  }
}

/** A group's options without `params`, arrays copied (betas). */
function kindName(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "an array" : `a ${typeof v}`;
}

function copyOptions(g: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(g)) {
    if (k === "params") continue;
    out[k] = Array.isArray(v) ? [...v] : v;
  }
  return out;
}

/** Fill a tensor with zeros in place (a new tensor is zero-filled on every backend). */
function fillZero(t: Tensor): void {
  noGrad(() => {
    const z = Tensor.empty([], t.dtype, t.device);
    copyInto(t, z);
    z.dispose();
  });
}
