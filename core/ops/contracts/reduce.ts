/**
 * Contracts of the reduction family (core/ops/reduce.ts): reductions over axes, scans and
 * softmax along one axis.
 *
 * @module
 */
import type { Contracts, Unary } from "./contract.ts";

/** Attributes of the reductions: sorted, unique, non-negative axes to reduce. */
export interface ReduceAttrs {
  /** Axes to reduce. */
  axes: number[];
  /** var/std: delta degrees of freedom. */
  ddof?: number;
  /** norm: its order. */
  ord?: number;
}

/** Attributes of the scans: the axis, or null for cumsum/cumprod over the flat array. */
export interface LineAttrs {
  /** The axis, or null (scans over the flattened array). */
  axis: number | null;
}

/** Attributes of softmax/logSoftmax: the (non-negative) axis. */
export interface SoftmaxAttrs {
  /** The axis normalized over. */
  axis: number;
}

/** The reduction family: kernel name → contract. */
export interface ReduceOps {
  sum: Unary<ReduceAttrs>;
  prod: Unary<ReduceAttrs>;
  mean: Unary<ReduceAttrs>;
  var: Unary<ReduceAttrs>;
  std: Unary<ReduceAttrs>;
  max: Unary<ReduceAttrs>;
  min: Unary<ReduceAttrs>;
  argmax: Unary<ReduceAttrs>;
  argmin: Unary<ReduceAttrs>;
  any: Unary<ReduceAttrs>;
  all: Unary<ReduceAttrs>;
  logsumexp: Unary<ReduceAttrs>;
  norm: Unary<ReduceAttrs>;
  cumsum: Unary<LineAttrs>;
  cumprod: Unary<LineAttrs>;
  softmax: Unary<SoftmaxAttrs>;
  logSoftmax: Unary<SoftmaxAttrs>;
}

/** The reduction family's contracts at run time. */
export const REDUCE_OPS: Contracts<ReduceOps> = {
  sum: 1,
  prod: 1,
  mean: 1,
  var: 1,
  std: 1,
  max: 1,
  min: 1,
  argmax: 1,
  argmin: 1,
  any: 1,
  all: 1,
  logsumexp: 1,
  norm: 1,
  cumsum: 1,
  cumprod: 1,
  softmax: 1,
  logSoftmax: 1,
};

/** A reduction's kernel name (the ops taking {@link ReduceAttrs}). */
export type ReduceOp = {
  [N in keyof ReduceOps]: ReduceOps[N]["attrs"] extends ReduceAttrs ? N : never;
}[keyof ReduceOps];
/** A per-line op's kernel name (scans and softmax). */
export type LineOp = Exclude<keyof ReduceOps, ReduceOp>;
