/**
 * The operator table: one function per ONNX operator, run on our ops, plus attribute and
 * shape-input helpers shared by the operator files.
 *
 * @module
 */
import { DeviceError, FormatError, ShapeError } from "../../../core/errors.ts";
import { type DType, fromBF16Bits } from "../../../core/dtype.ts";
import { full } from "../../../core/ops/creation.ts";
import type { Tensor } from "../../../core/tensor.ts";
import type { AttrValue, OnnxGraph, OnnxNode } from "../graph.ts";

/** What an operator sees besides its inputs. */
export interface OpContext {
  /** The node being run. */
  readonly node: OnnxNode;
  /** Opset version of the node's domain. */
  readonly opset: number;
  /** Run a subgraph with `feeds` bound to its inputs; returns its outputs in order. */
  runGraph(g: OnnxGraph, feeds: readonly Tensor[]): Tensor[];
}

/** An operator: inputs (undefined where omitted) to outputs. */
export type OpFn = (inputs: (Tensor | undefined)[], ctx: OpContext) => Tensor[];

/** Operators of the default domain by name. */
export const OPS: Map<string, OpFn> = new Map();

/** Register operators (each file of ops/ calls this once). */
export function defineOps(table: Record<string, OpFn>): void {
  for (const [k, v] of Object.entries(table)) OPS.set(k, v);
}

function where(ctx: OpContext): string {
  return `${ctx.node.opType} "${ctx.node.name}"`;
}

/** A number attribute, or `dflt`. */
export function attrNum(ctx: OpContext, name: string, dflt: number): number;
export function attrNum(ctx: OpContext, name: string): number | undefined;
export function attrNum(ctx: OpContext, name: string, dflt?: number): number | undefined {
  const v = ctx.node.attrs.get(name);
  if (v === undefined) return dflt;
  if (typeof v !== "number") {
    throw new FormatError(`${where(ctx)}: attribute "${name}" should be a number, got ${kind(v)}.`);
  }
  return v;
}

/** A list-of-numbers attribute, or `dflt`. */
export function attrNums(ctx: OpContext, name: string, dflt: number[]): number[];
export function attrNums(ctx: OpContext, name: string): number[] | undefined;
export function attrNums(ctx: OpContext, name: string, dflt?: number[]): number[] | undefined {
  const v = ctx.node.attrs.get(name);
  if (v === undefined) return dflt;
  if (!Array.isArray(v) || v.some((x) => typeof x !== "number")) {
    throw new FormatError(`${where(ctx)}: attribute "${name}" should be numbers, got ${kind(v)}.`);
  }
  return v as number[];
}

/** A string attribute, or `dflt`. */
export function attrStr(ctx: OpContext, name: string, dflt: string): string {
  const v = ctx.node.attrs.get(name);
  if (v === undefined) return dflt;
  if (typeof v !== "string") {
    throw new FormatError(`${where(ctx)}: attribute "${name}" should be a string, got ${kind(v)}.`);
  }
  return v;
}

/** A graph attribute (required). */
export function attrGraph(ctx: OpContext, name: string): OnnxGraph {
  const v = ctx.node.attrs.get(name);
  if (v === undefined || typeof v !== "object" || Array.isArray(v) || !("nodes" in v)) {
    throw new FormatError(`${where(ctx)}: needs a graph attribute "${name}".`);
  }
  return v as OnnxGraph;
}

/** A tensor attribute, or undefined. */
export function attrTensor(ctx: OpContext, name: string): Tensor | undefined {
  const v = ctx.node.attrs.get(name);
  if (v === undefined) return undefined;
  if (typeof v !== "object" || Array.isArray(v) || "nodes" in v) {
    throw new FormatError(`${where(ctx)}: attribute "${name}" should be a tensor.`);
  }
  return v as Tensor;
}

function kind(v: AttrValue): string {
  return Array.isArray(v) ? "a list" : typeof v === "object" ? "a tensor or graph" : typeof v;
}

/** Input `i`, which must be present. */
export function need(inputs: (Tensor | undefined)[], i: number, ctx: OpContext): Tensor {
  const t = inputs[i];
  if (t === undefined) {
    throw new FormatError(`${where(ctx)}: input #${i} is required but missing.`);
  }
  return t;
}

/** Tensors whose values never change (a session's constants): their `ints` are cached. */
const frozen = new WeakMap<Tensor, number>();
const frozenInts = new WeakMap<Tensor, readonly number[]>();
let nextFrozen = 0;

/** Mark `t` as never changing (a session's initializer, folded or memoized value); returns it. */
export function freeze(t: Tensor): Tensor {
  if (!frozen.has(t)) frozen.set(t, nextFrozen++);
  return t;
}

/** A number naming `t` while it lives, if it was frozen (its values then never change). */
export function frozenId(t: Tensor): number | undefined {
  return frozen.get(t);
}

/** The values of a small integer tensor (shapes, axes, pads) as numbers. */
export function ints(t: Tensor): number[] {
  if (t.device !== "cpu") throw hostOnly(t);
  if (frozen.has(t)) {
    let v = frozenInts.get(t);
    if (v === undefined) {
      v = Array.from(t.dataSync() as ArrayLike<number | bigint>, Number);
      frozenInts.set(t, v);
    }
    return v.slice();
  }
  return Array.from(t.dataSync() as ArrayLike<number | bigint>, Number);
}

/** Shape-like inputs are read on the CPU: one computed on a device cannot be. */
function hostOnly(t: Tensor): DeviceError {
  return new DeviceError(
    `onnx run: a ${t.dtype} input of shape ${JSON.stringify(t.shape)} that the operator reads ` +
      `as numbers (a shape, axes, pads or counts) lives on "${t.device}". Hint: on a GPU session ` +
      `such values must be computed on the CPU (from Shape, constants or integer inputs); run ` +
      `this model on the CPU.`,
  );
}

/** The values of a small float tensor as numbers. */
export function floats(t: Tensor): number[] {
  if (t.device !== "cpu") throw hostOnly(t);
  // bf16 storage reads back as its bit patterns.
  if (t.dtype === "bf16") return Array.from(t.dataSync() as ArrayLike<number>, fromBF16Bits);
  return Array.from(t.dataSync() as ArrayLike<number | bigint>, Number);
}

/** Normalize a possibly negative axis against rank `r`. */
export function axisOf(a: number, r: number, ctx: OpContext): number {
  const ax = a < 0 ? a + r : a;
  if (!Number.isInteger(ax) || ax < 0 || ax >= Math.max(r, 1)) {
    throw new ShapeError(`${where(ctx)}: axis ${a} is out of range for rank ${r}.`);
  }
  return ax;
}

/** A 0-d tensor of `x`'s dtype holding `v` (broadcasts against anything). */
export function scalarOf(x: Tensor, v: number): Tensor {
  return full([], x.dtype === "bool" ? v !== 0 : v, { dtype: x.dtype as DType, device: x.device });
}
