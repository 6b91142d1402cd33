/**
 * Reverse-mode automatic differentiation over a dynamic graph (PyTorch eager style).
 *
 * Recording: when grad mode is on and an op's input requires a gradient, the op's outputs get a
 * {@link GradNode} holding the op's name, its inputs (graph edges), views of the tensors its
 * backward rule needs (saved with the node), and the rule. Rules are registered once per op name
 * with {@link registerGradient} and written with other ops, so every backend shares them. Kernel
 * calls are recorded by the dispatcher (`core/op.ts`); view ops and ops composed of in-place
 * copies record themselves under their own names.
 *
 * Saved tensors are ordinary tensors: inside `tidy()` they are freed with the scope, so call
 * `backward()` before the scope that ran the forward pass ends. `backward()` frees them as soon as
 * they are used, unless `retainGraph` is set.
 *
 * @module
 */
import { DisposedError, DTypeError, ShapeError } from "./errors.ts";
import { keep } from "./memory.ts";
import type { Tensor } from "./tensor.ts";

// ---- grad mode ----------------------------------------------------------------------------

let disabled = 0;

/**
 * Whether ops record the graph now (false inside {@link noGrad}).
 *
 * @example
 * ```ts
 * import { isGradEnabled, noGrad } from "@aprender/compute";
 * console.log(isGradEnabled(), noGrad(() => isGradEnabled())); // true false
 * ```
 */
export function isGradEnabled(): boolean {
  return disabled === 0;
}

/**
 * Run `fn` without recording the graph (inference, optimizer updates, metric computation).
 *
 * @example
 * ```ts
 * import { noGrad, tensor } from "@aprender/compute";
 * const w = tensor([1, 2]).requireGrad();
 * const y = noGrad(() => w.mul(2));
 * console.log(y.requiresGrad); // false
 * ```
 */
export function noGrad<T>(fn: () => T): T {
  disabled++;
  try {
    return fn();
  } finally {
    disabled--;
  }
}

/**
 * Run `fn` with graph recording on, even inside {@link noGrad} or a backward rule (PyTorch's
 * `enable_grad`): `checkpoint` recomputes its segment this way during backward.
 */
export function enableGrad<T>(fn: () => T): T {
  const saved = disabled;
  disabled = 0;
  try {
    return fn();
  } finally {
    disabled = saved;
  }
}

// ---- rules ---------------------------------------------------------------------------------

/** What a backward rule receives besides the output gradients. */
export interface GradContext<A = Record<string, unknown>> {
  /** Views of the op's inputs, as they were (the rule may read them). */
  readonly inputs: readonly Tensor[];
  /** Views of the op's outputs. */
  readonly outputs: readonly Tensor[];
  /** The op's attributes. */
  readonly attrs: A;
  /** Which inputs need a gradient (a rule may skip the others and return null). */
  readonly needs: readonly boolean[];
}

/**
 * A backward rule: from the gradients of the outputs (null for an output nothing depends on),
 * compute the gradient of each input (null where none is needed or the input is not
 * differentiable). Each returned gradient must have its input's shape.
 */
// deno-lint-ignore no-explicit-any
export type GradRule<A = any> = (
  grads: readonly (Tensor | null)[],
  ctx: GradContext<A>,
) => (Tensor | null)[];

const rules = new Map<string, GradRule>();

/**
 * Register the backward rule of an op (by the name it calls its kernel with). One rule serves
 * every backend.
 *
 * @example
 * ```ts
 * import { registerGradient } from "@aprender/compute";
 * // The rule of a user op "double" (y = 2x) would be:
 * registerGradient("double", ([g]) => [g!.mul(2)]);
 * ```
 */
export function registerGradient(op: string, rule: GradRule): void {
  rules.set(op, rule);
}

// ---- the graph ------------------------------------------------------------------------------

/** One recorded op: the edges to its inputs and what its backward rule needs. */
export class GradNode {
  /** Saved views (freed after backward unless the graph is retained). */
  #saved: { inputs: Tensor[]; outputs: Tensor[] } | null;
  /**
   * Output tensors (their gradients are looked up by identity). Plain references: a WeakRef keeps
   * its target alive until the current job ends, so a synchronous training loop would pile up
   * every step's tensors and graph nodes until its next await.
   */
  readonly outputs: readonly Tensor[];
  /**
   * Record one op: keeps the edges and saves views of its inputs and outputs.
   *
   * @param op the op's name (its rule's key)
   * @param inputs the op's inputs (edges of the graph)
   * @param outputs the op's outputs
   * @param attrs the op's attributes
   * @param rule the backward rule
   */
  constructor(
    readonly op: string,
    readonly inputs: readonly Tensor[],
    outputs: readonly Tensor[],
    readonly attrs: unknown,
    readonly rule: GradRule,
  ) {
    this.outputs = [...outputs];
    this.#saved = {
      inputs: inputs.map((t) => t._view(t.shape, t.strides, t.offset)),
      outputs: outputs.map((t) => t._view(t.shape, t.strides, t.offset)),
    };
  }

  /** The saved views, or an error if they were freed. */
  saved(): { inputs: Tensor[]; outputs: Tensor[] } {
    const s = this.#saved;
    if (!s || s.inputs.some((t) => t.disposed) || s.outputs.some((t) => t.disposed)) {
      throw new ShapeError(
        `backward: the tensors saved by "${this.op}" were freed. Hint: backward() runs once per ` +
          `graph unless you pass { retainGraph: true }, and must run before the tidy() scope ` +
          `of the forward pass ends.`,
      );
    }
    return s;
  }

  /** Free the saved views. */
  release(): void {
    if (!this.#saved) return;
    for (const t of [...this.#saved.inputs, ...this.#saved.outputs]) t.dispose();
    this.#saved = null;
  }
}

/** Whether any input needs a gradient while grad mode is on. */
export function needsGrad(inputs: readonly Tensor[]): boolean {
  if (disabled > 0) return false;
  for (const t of inputs) if (t.requiresGrad) return true;
  return false;
}

/** Sees every op {@link record} is given while grad mode is on (the ONNX exporter's tracer). */
export type TraceHook = (
  op: string,
  inputs: readonly Tensor[],
  outputs: readonly Tensor[],
  attrs: unknown,
) => void;

let traceHook: TraceHook | null = null;

/**
 * Install `hook` (or remove it with null) and return the previous one. While installed and grad
 * mode is on, every op the dispatcher runs on inputs that require gradients, and every view or
 * composite op that records itself, is reported to it with its inputs, outputs and attributes
 * (before autograd's own checks), so a forward pass can be traced. Off (null), it costs one
 * comparison per recorded op.
 *
 * @example
 * ```ts
 * import { tensor } from "@aprender/compute";
 * import { setTraceHook } from "@aprender/compute/internal";
 * const seen: string[] = [];
 * const prev = setTraceHook((op) => seen.push(op));
 * tensor([1, 2]).requireGrad().mul(2);
 * setTraceHook(prev);
 * console.log(seen); // ["mul"]
 * ```
 */
export function setTraceHook(hook: TraceHook | null): TraceHook | null {
  const prev = traceHook;
  traceHook = hook;
  return prev;
}

/**
 * Record an op on the graph if grad mode is on and an input requires a gradient: its float
 * outputs then require gradients too. `op` must have a registered rule, else the outputs get a
 * node whose backward raises a clear error (so a missing rule is never a silent zero).
 */
export function record(
  op: string,
  inputs: readonly Tensor[],
  outputs: readonly Tensor[],
  attrs: unknown = {},
): void {
  if (traceHook !== null && disabled === 0) traceHook(op, inputs, outputs, attrs);
  if (!needsGrad(inputs) || !outputs.some(isDifferentiable)) return;
  const rule = rules.get(op) ?? missingRule(op);
  const node = new GradNode(op, inputs, outputs, attrs, rule);
  for (const o of outputs) if (isDifferentiable(o)) o._setGradFn(node);
}

function missingRule(op: string): GradRule {
  return () => {
    throw new DTypeError(
      `backward: op "${op}" has no gradient rule. Hint: compute it under noGrad(), or detach() ` +
        `its inputs, if no gradient should flow through it.`,
    );
  };
}

/** Float dtypes carry gradients; integer and bool results never do. */
export function isDifferentiable(t: Tensor): boolean {
  return t.dtype === "f32" || t.dtype === "f64" || t.dtype === "f16" || t.dtype === "bf16";
}

// ---- backward -------------------------------------------------------------------------------

/** Options of `Tensor.backward`. */
export interface BackwardOptions {
  /** Keep the saved tensors so backward can run again through the same graph. */
  retainGraph?: boolean;
}

/** Topological order (inputs before outputs) of the nodes reachable from `root`. */
function topoOrder(root: GradNode): GradNode[] {
  const order: GradNode[] = [];
  const seen = new Set<GradNode>();
  const stack: [GradNode, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [node, i] = top;
    if (i < node.inputs.length) {
      top[1]++;
      const next = node.inputs[i].gradFn;
      if (next && !seen.has(next)) {
        seen.add(next);
        stack.push([next, 0]);
      }
    } else {
      stack.pop();
      order.push(node);
    }
  }
  return order;
}

/**
 * Backpropagate from `root` with seed gradient `seed`: accumulate into `.grad` of every leaf
 * that requires a gradient (and of non-leaves that called `retainGrad()`).
 */
export function backward(root: Tensor, seed: Tensor, options: BackwardOptions = {}): void {
  const node = root.gradFn;
  if (!node) {
    if (root.requiresGrad) accumulate(root, seed.clone());
    return;
  }
  const order = topoOrder(node);
  // Every tensor that will receive a gradient must still be alive: checked before any rule runs,
  // so that nothing is half-accumulated.
  for (const n of order) {
    for (const t of n.inputs) {
      if (t.disposed && t.requiresGrad && (!t.gradFn || t._retainsGrad)) {
        throw disposedLeaf(t, n.op);
      }
    }
  }
  const grads = new Map<Tensor, Tensor>([[root, seed]]);
  noGrad(() => {
    try {
      for (let k = order.length - 1; k >= 0; k--) {
        const n = order[k];
        const outs = n.outputs;
        const g = outs.map((o) => grads.get(o) ?? null);
        for (const o of outs) grads.delete(o);
        if (g.every((x) => x === null)) continue;
        const saved = n.saved();
        const needs = n.inputs.map((t) => t.requiresGrad);
        const inGrads = n.rule(g, {
          inputs: saved.inputs,
          outputs: saved.outputs,
          attrs: n.attrs,
          needs,
        });
        for (const x of g) if (x && x !== seed) x.dispose();
        if (!options.retainGraph) n.release();
        n.inputs.forEach((t, i) => {
          const gi = inGrads[i];
          if (!gi || !needs[i]) {
            gi?.dispose();
            return;
          }
          if (gi.shape.length !== t.shape.length || gi.shape.some((d, j) => d !== t.shape[j])) {
            throw new ShapeError(
              `backward: the rule of "${n.op}" returned a gradient of shape ` +
                `${JSON.stringify(gi.shape)} for an input of shape ${JSON.stringify(t.shape)}.`,
            );
          }
          if (t.gradFn && !t._retainsGrad) {
            const prev = grads.get(t);
            grads.set(t, prev ? addInto(prev, gi) : gi);
          } else if (t.gradFn) {
            // A non-leaf that called retainGrad(): keep a copy, and pass the gradient on.
            accumulate(t, gi.clone());
            const prev = grads.get(t);
            grads.set(t, prev ? addInto(prev, gi) : gi);
          } else accumulate(t, gi);
        });
      }
    } finally {
      for (const g of grads.values()) if (g !== seed) g.dispose();
    }
  });
}

function addInto(a: Tensor, b: Tensor): Tensor {
  const s = a.add(b);
  a.dispose();
  b.dispose();
  return s;
}

function disposedLeaf(t: Tensor, op: string): DisposedError {
  return new DisposedError(
    `backward: a tensor that requires grad (shape ${JSON.stringify(t.shape)}, ${t.dtype}, an ` +
      `input of "${op}") was disposed before backward(); its gradient has nowhere to go. Hint: ` +
      `dispose parameters only after the last backward() that uses them.`,
  );
}

/** Add `g` into `t.grad` (taking ownership of `g`); grads are kept out of tidy scopes. */
function accumulate(t: Tensor, g: Tensor): void {
  if (t.disposed) {
    g.dispose();
    throw disposedLeaf(t, "backward");
  }
  // A gradient sharing its storage with another live tensor (rules pass views on: add's two
  // inputs get views of one gradient) is copied, so that `.grad` is the leaf's own (clipping
  // and optimizers may write into it).
  const gc = g.dtype !== t.dtype ? g.astype(t.dtype) : g.storage.refs > 1 ? g.clone() : g;
  if (gc !== g) g.dispose();
  const prev = t.grad;
  if (prev) {
    t.grad = keep(prev.add(gc));
    prev.dispose();
    gc.dispose();
  } else t.grad = keep(gc);
}
