/**
 * `Module`: the base class of every layer and model (PyTorch's `torch.nn.Module`).
 *
 * A module owns parameters (leaf float tensors with `requiresGrad`), buffers (tensors that are
 * state but not trained, like BatchNorm's running statistics) and submodules. They are found
 * the way PyTorch finds them: assign them to properties in the constructor
 * (`this.fc = new Linear(4, 2)`, `this.weight = ...`), or register them explicitly with
 * {@link Module.registerParameter}, {@link Module.registerBuffer} and
 * {@link Module.registerModule}. Names are the property names, in assignment order, so
 * `namedParameters()` and `stateDict()` keys ("layer.0.weight") equal PyTorch's for the same
 * model.
 *
 * Discovery rules: an own enumerable property holding a `Module` is a submodule; one holding a
 * `Tensor` is a parameter, unless it was registered as a buffer. `null`/`undefined` values
 * (e.g. `bias` when `bias: false`) are skipped. Keep tensors that are neither parameters nor
 * buffers in `#private` fields.
 *
 * @module
 */
import { noGrad } from "../core/autograd.ts";
import type { DType } from "../core/dtype.ts";
import { ComputeError, fmtShape } from "../core/errors.ts";
import { keep } from "../core/memory.ts";
import { astype, copyInto } from "../core/ops/view.ts";
import { Tensor } from "../core/tensor.ts";

/**
 * A module of any signature (what containers such as `Sequential` and `ModuleList` hold).
 */
// deno-lint-ignore no-explicit-any
export type AnyModule = Module<any[], any>;

/** A state dict: tensors by dotted name (an object, or a Map). */
export type StateDict = Record<string, Tensor> | Map<string, Tensor>;

/** Options of {@link Module.loadStateDict}. */
export interface LoadStateDictOptions {
  /**
   * Require the keys of the state dict to match the module's exactly (default true). Shape
   * mismatches are errors either way, like PyTorch.
   */
  strict?: boolean;
}

/** What {@link Module.loadStateDict} reports when not strict. */
export interface LoadStateDictResult {
  /** Keys the module expects that the state dict lacks (left unchanged). */
  missingKeys: string[];
  /** Keys of the state dict the module has no place for (ignored). */
  unexpectedKeys: string[];
}

/** A key whose tensor has a different shape from the module's. */
export interface ShapeMismatch {
  /** The dotted name. */
  key: string;
  /** The module's shape. */
  expected: number[];
  /** The state dict's shape. */
  got: number[];
}

/**
 * `loadStateDict` found keys that do not fit the module: the message lists every missing,
 * unexpected and mis-shaped key, and the fields hold them. Nothing was loaded.
 *
 * @example
 * ```ts
 * import { nn, zeros } from "@aprender/compute";
 * const m = new nn.Linear(2, 3);
 * try {
 *   m.loadStateDict({ weight: zeros([3, 4]) });
 * } catch (e) {
 *   console.log((e as nn.StateDictError).missingKeys); // ["bias"]
 * }
 * ```
 */
export class StateDictError extends ComputeError {
  /**
   * @param message the full listing
   * @param missingKeys keys the module expects that the state dict lacks
   * @param unexpectedKeys keys of the state dict the module does not have
   * @param mismatched keys whose shapes differ
   */
  constructor(
    message: string,
    readonly missingKeys: string[],
    readonly unexpectedKeys: string[],
    readonly mismatched: ShapeMismatch[],
  ) {
    super(message);
  }
}

/** Options of {@link Module.registerBuffer}. */
export interface BufferOptions {
  /** Include the buffer in `stateDict()` (default true). */
  persistent?: boolean;
}

function checkName(kind: string, name: string): void {
  if (typeof name !== "string" || name === "" || name.includes(".")) {
    throw new ComputeError(
      `register${kind}: name must be a non-empty string without ".", got ${JSON.stringify(name)}.`,
    );
  }
}

/**
 * Base class of layers and models. Subclasses assign parameters, buffers and submodules in the
 * constructor and implement `forward`; call the module with `call(...)` (PyTorch's
 * `module(x)`).
 *
 * @typeParam I the argument list of `forward`
 * @typeParam O what `forward` returns
 *
 * @example
 * ```ts
 * import { nn, randn, type Tensor } from "@aprender/compute";
 * class MLP extends nn.Module {
 *   fc1 = new nn.Linear(4, 8);
 *   act = new nn.ReLU();
 *   fc2 = new nn.Linear(8, 2);
 *   forward(x: Tensor): Tensor {
 *     return this.fc2.call(this.act.call(this.fc1.call(x)));
 *   }
 * }
 * const m = new MLP();
 * console.log(Object.keys(m.stateDict()));
 * // ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
 * console.log(m.call(randn([3, 4])).shape); // [3, 2]
 * ```
 */
export abstract class Module<I extends unknown[] = [Tensor], O = Tensor> {
  /** Whether the module is in training mode (`train()`) or evaluation mode (`eval()`). */
  training = true;
  #buffers = new Set<string>();
  #nonPersistent = new Set<string>();

  /** The computation; called by {@link Module.call}. */
  abstract forward(...args: I): O;

  /** Run the module: `forward(...args)` (PyTorch's `module(...)`). */
  call(...args: I): O {
    return this.forward(...args);
  }

  // ---- registration ------------------------------------------------------------------------

  /**
   * Add (or replace, or with `null` remove) a parameter under `name`. It is set as a property, so
   * `this[name]` reads it. The tensor should be a float leaf; `requiresGrad` is set on it.
   */
  registerParameter(name: string, param: Tensor | null): void {
    checkName("Parameter", name);
    if (param && param.isLeaf && !param.requiresGrad) param.requiresGrad = true;
    this.#buffers.delete(name);
    this.#nonPersistent.delete(name);
    this.#set(name, param);
  }

  /**
   * Add (or replace) a buffer: a tensor that is part of the module's state but is not trained
   * (running statistics). Persistent buffers (default) are in `stateDict()`.
   */
  registerBuffer(name: string, tensor: Tensor | null, options: BufferOptions = {}): void {
    checkName("Buffer", name);
    this.#buffers.add(name);
    if (options.persistent === false) this.#nonPersistent.add(name);
    else this.#nonPersistent.delete(name);
    this.#set(name, tensor);
  }

  /** Add (or replace, or with `null` remove) a submodule under `name`. */
  registerModule(name: string, module: AnyModule | null): void {
    checkName("Module", name);
    this.#set(name, module);
  }

  #set(name: string, value: unknown): void {
    Object.defineProperty(this, name, {
      value,
      writable: true,
      enumerable: true,
      configurable: true,
    });
  }

  /** Own entries of one kind, in property order. */
  #own(kind: "param" | "buffer" | "module"): [string, Tensor | AnyModule][] {
    const out: [string, Tensor | AnyModule][] = [];
    for (const key of Object.keys(this)) {
      const v = (this as Record<string, unknown>)[key];
      if (v instanceof Module) {
        if (kind === "module") out.push([key, v]);
      } else if (v instanceof Tensor) {
        const isBuf = this.#buffers.has(key);
        if ((kind === "buffer") === isBuf && kind !== "module") out.push([key, v]);
      }
    }
    return out;
  }

  // ---- traversal -----------------------------------------------------------------------------

  /** Direct submodules with their names. */
  namedChildren(): [string, AnyModule][] {
    return this.#own("module") as [string, AnyModule][];
  }

  /** Direct submodules. */
  children(): AnyModule[] {
    return this.namedChildren().map(([, m]) => m);
  }

  /**
   * This module and every submodule (depth first, each once) with dotted names; this module's
   * name is `prefix` ("" by default).
   */
  namedModules(prefix = ""): [string, AnyModule][] {
    const out: [string, AnyModule][] = [];
    const seen = new Set<AnyModule>();
    const walk = (m: AnyModule, p: string) => {
      if (seen.has(m)) return;
      seen.add(m);
      out.push([p, m]);
      for (const [n, c] of m.namedChildren()) walk(c, p ? `${p}.${n}` : n);
    };
    walk(this as AnyModule, prefix);
    return out;
  }

  /** This module and every submodule. */
  modules(): AnyModule[] {
    return this.namedModules().map(([, m]) => m);
  }

  #named(kind: "param" | "buffer", recurse: boolean, persistentOnly = false): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    const mods: [string, AnyModule][] = recurse ? this.namedModules() : [["", this as AnyModule]];
    for (const [p, m] of mods) {
      for (const [n, t] of m.#own(kind) as [string, Tensor][]) {
        if (persistentOnly && m.#nonPersistent.has(n)) continue;
        if (seen.has(t)) continue;
        seen.add(t);
        out.push([p ? `${p}.${n}` : n, t]);
      }
    }
    return out;
  }

  /**
   * Every parameter with its dotted name ("0.weight", "encoder.layers.1.norm1.bias"), own
   * parameters first, then each submodule's; a shared tensor is listed once.
   */
  namedParameters(recurse = true): [string, Tensor][] {
    return this.#named("param", recurse);
  }

  /** Every parameter (what an optimizer trains). */
  parameters(recurse = true): Tensor[] {
    return this.namedParameters(recurse).map(([, t]) => t);
  }

  /** Every buffer with its dotted name. */
  namedBuffers(recurse = true): [string, Tensor][] {
    return this.#named("buffer", recurse);
  }

  /** Every buffer. */
  buffers(recurse = true): Tensor[] {
    return this.namedBuffers(recurse).map(([, t]) => t);
  }

  /**
   * Call `fn` on every submodule (depth first: children before their parent) and then on this
   * module, e.g. to initialize weights. Returns this module.
   */
  apply(fn: (m: AnyModule) => void): this {
    for (const c of this.children()) c.apply(fn);
    fn(this as AnyModule);
    return this;
  }

  // ---- modes and gradients -------------------------------------------------------------------

  /** Set training mode (default true) on this module and every submodule. Returns this. */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  /** Evaluation mode: `train(false)`. Returns this. */
  eval(): this {
    return this.train(false);
  }

  /** Free the `.grad` of every parameter and set it to null (PyTorch's `set_to_none=True`). */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Set `requiresGrad` on every parameter (false freezes the module). Returns this. */
  requireGrad(value = true): this {
    for (const p of this.parameters()) p.requiresGrad = value;
    return this;
  }

  /** Number of parameter elements. */
  countParameters(): number {
    return this.parameters().reduce((s, p) => s + p.size, 0);
  }

  // ---- moving and converting -----------------------------------------------------------------

  /** Replace every parameter and buffer `t` (in every submodule) by `fn(t)`, disposing `t`. */
  #mapTensors(fn: (t: Tensor) => Tensor | Promise<Tensor>): Promise<void> | void {
    const jobs: Promise<void>[] = [];
    const done = new Map<Tensor, Tensor | Promise<Tensor>>();
    for (const m of this.modules()) {
      for (const key of Object.keys(m)) {
        const t = (m as unknown as Record<string, unknown>)[key];
        if (!(t instanceof Tensor)) continue;
        let r = done.get(t);
        if (r === undefined) {
          r = fn(t);
          done.set(t, r);
        }
        const finish = (n: Tensor) => {
          if (n === t) return;
          (m as unknown as Record<string, unknown>)[key] = n;
        };
        if (r instanceof Promise) jobs.push(r.then(finish));
        else finish(r);
      }
    }
    const cleanup = () => {
      for (const [t, r] of done) {
        if (r !== t) t.dispose();
      }
    };
    if (jobs.length) return Promise.all(jobs).then(cleanup);
    cleanup();
  }

  /**
   * Move every parameter and buffer to `device` ("cpu", "gpu"); gradients are dropped. Returns
   * this module once the copies are done.
   */
  async to(device: string): Promise<this> {
    await this.#mapTensors((t) => {
      if (t.device === device) return t;
      return noGrad(() => t.to(device)).then((n) => {
        if (t.requiresGrad) n.requiresGrad = true;
        return keep(n);
      });
    });
    return this;
  }

  /**
   * Convert floating-point parameters and buffers to `dtype` (e.g. "f64" for gradcheck);
   * integer buffers (BatchNorm's counter) stay as they are. Returns this.
   */
  astype(dtype: DType): this {
    this.#mapTensors((t) => {
      const isFloat = t.dtype === "f32" || t.dtype === "f64" || t.dtype === "f16" ||
        t.dtype === "bf16";
      if (!isFloat || t.dtype === dtype) return t;
      const n = keep(noGrad(() => astype(t, dtype)));
      if (t.requiresGrad) n.requiresGrad = true;
      return n;
    });
    return this;
  }

  // ---- state ---------------------------------------------------------------------------------

  /**
   * Parameters and persistent buffers by dotted name, in PyTorch's `state_dict()` order and
   * naming. The values are detached views sharing the module's storage (no copy): dispose them
   * (or call it inside `tidy()`) when done.
   */
  stateDict(): Record<string, Tensor> {
    const out: Record<string, Tensor> = {};
    for (const [p, m] of this.namedModules()) {
      const pre = p ? `${p}.` : "";
      for (const [n, t] of m.#own("param") as [string, Tensor][]) out[pre + n] = t.detach();
      for (const [n, t] of m.#own("buffer") as [string, Tensor][]) {
        if (!m.#nonPersistent.has(n)) out[pre + n] = t.detach();
      }
    }
    return out;
  }

  /**
   * Copy values from a state dict into the module's parameters and buffers (cast to their
   * dtypes). Every key is checked before anything is copied: mis-shaped keys always throw a
   * {@link StateDictError}; missing and unexpected keys throw when `strict` (default), and are
   * returned otherwise.
   */
  loadStateDict(stateDict: StateDict, options: LoadStateDictOptions = {}): LoadStateDictResult {
    const strict = options.strict ?? true;
    const src = stateDict instanceof Map ? stateDict : new Map(Object.entries(stateDict));
    const own = new Map<string, Tensor>();
    for (const [p, m] of this.namedModules()) {
      const pre = p ? `${p}.` : "";
      for (const [n, t] of m.#own("param") as [string, Tensor][]) own.set(pre + n, t);
      for (const [n, t] of m.#own("buffer") as [string, Tensor][]) {
        if (!m.#nonPersistent.has(n)) own.set(pre + n, t);
      }
    }
    const missingKeys = [...own.keys()].filter((k) => !src.has(k));
    const unexpectedKeys = [...src.keys()].filter((k) => !own.has(k));
    const mismatched: ShapeMismatch[] = [];
    for (const [k, t] of own) {
      const s = src.get(k);
      if (!s) continue;
      if (!(s instanceof Tensor)) {
        mismatched.push({ key: k, expected: [...t.shape], got: [] });
        continue;
      }
      if (s.ndim !== t.ndim || s.shape.some((d, i) => d !== t.shape[i])) {
        mismatched.push({ key: k, expected: [...t.shape], got: [...s.shape] });
      }
    }
    if (mismatched.length || (strict && (missingKeys.length || unexpectedKeys.length))) {
      const lines: string[] = [];
      if (strict && missingKeys.length) {
        lines.push(`missing keys (${missingKeys.length}): ${missingKeys.join(", ")}`);
      }
      if (strict && unexpectedKeys.length) {
        lines.push(`unexpected keys (${unexpectedKeys.length}): ${unexpectedKeys.join(", ")}`);
      }
      for (const m of mismatched) {
        lines.push(
          `size mismatch for ${m.key}: the state dict has shape ${fmtShape(m.got)}, the module ` +
            `has ${fmtShape(m.expected)}`,
        );
      }
      throw new StateDictError(
        `loadStateDict: the state dict does not fit ${this.constructor.name}:\n  ` +
          lines.join("\n  ") +
          (strict && (missingKeys.length || unexpectedKeys.length) && !mismatched.length
            ? `\nHint: pass { strict: false } to load the matching keys only.`
            : ""),
        missingKeys,
        unexpectedKeys,
        mismatched,
      );
    }
    noGrad(() => {
      for (const [k, t] of own) {
        const s = src.get(k);
        if (s && s !== t) copyInto(t, s);
      }
    });
    return { missingKeys, unexpectedKeys };
  }

  /** Dispose every parameter and buffer of this module and its submodules (and their grads). */
  dispose(): void {
    for (const m of this.modules()) {
      for (const key of Object.keys(m)) {
        const t = (m as unknown as Record<string, unknown>)[key];
        if (t instanceof Tensor) t.dispose();
      }
    }
  }

  /** `using m = new Linear(...)` disposes the parameters at the end of the block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  // ---- printing ------------------------------------------------------------------------------

  /** The arguments shown in `toString()`, e.g. "in=4, out=2, bias=true" (override it). */
  extraRepr(): string {
    return "";
  }

  /** A PyTorch-like summary: the class, `extraRepr()`, and the submodules indented. */
  toString(): string {
    const kids = this.namedChildren();
    const head = `${this.constructor.name}(${this.extraRepr()}`;
    if (!kids.length) return `${head})`;
    const body = kids.map(([n, c]) => `  (${n}): ${String(c).replaceAll("\n", "\n  ")}`);
    return `${head}\n${body.join("\n")}\n)`;
  }
}
