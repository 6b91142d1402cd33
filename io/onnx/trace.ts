/**
 * The exporter's tracer: runs a forward call with core's trace hook installed
 * (`setTraceHook`, which sees every op the dispatcher records and every view or composite op
 * that records itself) and keeps the ops that read a traced value, in call order. Tensors the
 * call reads that were not produced by a traced op (parameters, buffers, constants made inside
 * the call, and anything computed from those alone) become constants, snapshotted when first
 * read.
 *
 * @module
 */
import { enableGrad, setTraceHook } from "../../core/autograd.ts";
import { FormatError } from "../../core/errors.ts";
import { noGrad } from "../../core/autograd.ts";
import { clone } from "../../core/ops/view.ts";
import type { DType } from "../../core/dtype.ts";
import type { Shape } from "../../core/shape.ts";
import type { Tensor } from "../../core/tensor.ts";

/** An op input: a traced value (by id) or a constant (by index). */
export type Operand = { v: number } | { c: number };

/** One traced op. */
export interface TracedOp {
  /** The name the op recorded itself under (`conv2d`, `view.reshape`, ...). */
  op: string;
  /** Its inputs. */
  inputs: Operand[];
  /** Value ids of its outputs. */
  outputs: number[];
  /** Its attributes, as recorded. */
  attrs: Record<string, unknown>;
}

/** The ops of one forward call and what they read. */
export interface Trace {
  /** Ops in call order. */
  ops: TracedOp[];
  /** Shape and dtype of every value by id (graph inputs first). */
  values: { shape: Shape; dtype: DType }[];
  /** Constant snapshots with their preferred names (parameter names where known). */
  consts: { tensor: Tensor; name: string | null }[];
  /** Value ids of the call's outputs. */
  outputs: number[];
}

/**
 * Trace `fn(...inputs)`: float inputs are marked as requiring gradients (on detached views, so
 * the caller's tensors are untouched) so that every op reading them is recorded. `names` gives
 * constants (parameters, buffers) their names.
 */
export function traceCall(
  fn: (...xs: Tensor[]) => Tensor | Tensor[],
  inputs: readonly Tensor[],
  names: Map<Tensor, string>,
): Trace {
  const ids = new Map<Tensor, number>();
  const constIds = new Map<Tensor, number>();
  const derived = new WeakSet<Tensor>();
  const t: Trace = { ops: [], values: [], consts: [], outputs: [] };
  const value = (x: Tensor) => {
    ids.set(x, t.values.length);
    t.values.push({ shape: [...x.shape], dtype: x.dtype as DType });
    return t.values.length - 1;
  };
  const constant = (x: Tensor, op: string): number => {
    const known = constIds.get(x);
    if (known !== undefined) return known;
    if (x.gradFn !== null && !derived.has(x)) {
      throw new FormatError(
        `exportOnnx: op "${op}" reads a tensor of shape ${JSON.stringify(x.shape)} computed ` +
          `by op "${x.gradFn.op}" outside the trace (e.g. under noGrad). Hint: do not switch ` +
          `grad mode off inside forward().`,
      );
    }
    const snap = noGrad(() => clone(x.detach()));
    constIds.set(x, t.consts.length);
    t.consts.push({ tensor: snap, name: names.get(x) ?? null });
    return t.consts.length - 1;
  };
  const feeds = inputs.map((x) => {
    const v = x.detach();
    const f = v.dtype === "f32" || v.dtype === "f64" || v.dtype === "f16" ? v.requireGrad() : v;
    value(f);
    return f;
  });
  const prev = setTraceHook((op, ins, outs, attrs) => {
    if (!ins.some((x) => ids.has(x))) {
      for (const o of outs) derived.add(o);
      return;
    }
    const operands = ins.map((x): Operand => {
      const v = ids.get(x);
      return v !== undefined ? { v } : { c: constant(x, op) };
    });
    t.ops.push({
      op,
      inputs: operands,
      outputs: outs.map(value),
      attrs: { ...(attrs as Record<string, unknown>) },
    });
  });
  let result: Tensor | Tensor[];
  try {
    result = enableGrad(() => fn(...feeds));
  } finally {
    setTraceHook(prev);
  }
  const outs = Array.isArray(result) ? result : [result];
  for (const o of outs) {
    const v = ids.get(o);
    if (v === undefined) {
      throw new FormatError(
        `exportOnnx: an output of shape ${JSON.stringify(o.shape)} does not depend on the ` +
          `inputs (nothing traced produced it). Hint: export a module whose outputs are ` +
          `computed from its inputs.`,
      );
    }
    t.outputs.push(v);
  }
  for (const o of outs) if (!feeds.includes(o)) o.dispose();
  return t;
}

/** Free a trace's constant snapshots. */
export function disposeTrace(t: Trace): void {
  for (const c of t.consts) c.tensor.dispose();
}
