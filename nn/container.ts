/**
 * Containers: `Sequential` and `ModuleList`.
 *
 * @module
 */
import { IndexError } from "../core/errors.ts";
import { type AnyModule, Module } from "./module.ts";

function isModuleRecord(v: unknown): v is Record<string, AnyModule> {
  return typeof v === "object" && v !== null && !(v instanceof Module);
}

/**
 * A chain of modules: `forward(x)` feeds x through each in order, PyTorch's `nn.Sequential`.
 * Children are named "0", "1", ... (or by the keys of an object given instead), so state-dict
 * keys read like PyTorch's ("0.weight"). Intermediate outputs are disposed as the chain goes
 * (autograd keeps what it needs).
 *
 * @example
 * ```ts
 * import { nn, randn } from "@aprender/compute";
 * const net = new nn.Sequential(new nn.Linear(4, 8), new nn.ReLU(), new nn.Linear(8, 1));
 * console.log(net.call(randn([5, 4])).shape, net.length); // [5, 1] 3
 * const named = new nn.Sequential({ fc: new nn.Linear(2, 2), act: new nn.Tanh() });
 * console.log(Object.keys(named.stateDict())); // ["fc.weight", "fc.bias"]
 * ```
 */
// deno-lint-ignore no-explicit-any
export class Sequential extends Module<[any], any> {
  /**
   * @param modules the modules in order, or one object of named modules
   */
  constructor(...modules: AnyModule[] | [Record<string, AnyModule>]) {
    super();
    if (modules.length === 1 && isModuleRecord(modules[0])) {
      for (const [k, m] of Object.entries(modules[0])) this.registerModule(k, m);
    } else (modules as AnyModule[]).forEach((m) => this.append(m));
  }

  /** Number of modules. */
  get length(): number {
    return this.children().length;
  }

  /**
   * The module at position `i` (negative counts from the end); the type argument is an unchecked
   * cast for convenience (`seq.at<Linear>(0).weight`).
   */
  at<M extends AnyModule = AnyModule>(i: number): M {
    const kids = this.children() as M[];
    const j = i < 0 ? i + kids.length : i;
    if (!Number.isInteger(j) || j < 0 || j >= kids.length) {
      throw new IndexError(`Sequential.at: index ${i} is out of range for ${kids.length} modules.`);
    }
    return kids[j];
  }

  /** Add a module at the end (named by its position). Returns this. */
  append(module: AnyModule): this {
    this.registerModule(String(this.length), module);
    return this;
  }

  /** Iterate over the modules in order. */
  [Symbol.iterator](): Iterator<AnyModule> {
    return this.children()[Symbol.iterator]();
  }

  /** Feed x through every module in order. */
  // deno-lint-ignore no-explicit-any
  forward(x: any): any {
    let cur = x;
    for (const m of this.children()) {
      const next = m.call(cur);
      if (cur !== x && cur !== next && typeof cur?.dispose === "function") cur.dispose();
      cur = next;
    }
    return cur;
  }
}

/**
 * A list of submodules registered under "0", "1", ..., PyTorch's `nn.ModuleList`: it holds
 * layers a parent module calls itself (it has no `forward`).
 *
 * @example
 * ```ts
 * import { nn } from "@aprender/compute";
 * const layers = new nn.ModuleList([new nn.Linear(4, 4), new nn.Linear(4, 4)]);
 * layers.append(new nn.Linear(4, 2));
 * console.log(layers.length, layers.at(-1).outFeatures); // 3 2
 * ```
 */
export class ModuleList<M extends AnyModule = AnyModule> extends Module<[], never> {
  /** @param modules the initial modules */
  constructor(modules: Iterable<M> = []) {
    super();
    for (const m of modules) this.append(m);
  }

  /** Number of modules. */
  get length(): number {
    return this.children().length;
  }

  /** The module at position `i` (negative counts from the end). */
  at(i: number): M {
    const kids = this.children() as M[];
    const j = i < 0 ? i + kids.length : i;
    if (!Number.isInteger(j) || j < 0 || j >= kids.length) {
      throw new IndexError(`ModuleList.at: index ${i} is out of range for ${kids.length} modules.`);
    }
    return kids[j];
  }

  /** Add a module at the end. Returns this. */
  append(module: M): this {
    this.registerModule(String(this.length), module);
    return this;
  }

  /** Add several modules at the end. Returns this. */
  extend(modules: Iterable<M>): this {
    for (const m of modules) this.append(m);
    return this;
  }

  /** Iterate over the modules in order. */
  [Symbol.iterator](): Iterator<M> {
    return (this.children() as M[])[Symbol.iterator]();
  }

  /** A ModuleList is not callable: iterate over it in the parent's forward. */
  forward(): never {
    throw new TypeError(
      "ModuleList has no forward(): call its modules from the parent module's forward().",
    );
  }
}
