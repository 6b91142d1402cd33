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
  /** Sum over axes. */
  sum: Unary<ReduceAttrs>;
  /** Product over axes. */
  prod: Unary<ReduceAttrs>;
  /** Mean over axes. */
  mean: Unary<ReduceAttrs>;
  /** Variance over axes (ddof). */
  var: Unary<ReduceAttrs>;
  /** Standard deviation over axes (ddof). */
  std: Unary<ReduceAttrs>;
  /** Maximum over axes. */
  max: Unary<ReduceAttrs>;
  /** Minimum over axes. */
  min: Unary<ReduceAttrs>;
  /** Index of the maximum along one axis. */
  argmax: Unary<ReduceAttrs>;
  /** Index of the minimum along one axis. */
  argmin: Unary<ReduceAttrs>;
  /** Whether any element is true. */
  any: Unary<ReduceAttrs>;
  /** Whether every element is true. */
  all: Unary<ReduceAttrs>;
  /** log Σ eˣ over axes. */
  logsumexp: Unary<ReduceAttrs>;
  /** Vector norm of order `ord` over axes. */
  norm: Unary<ReduceAttrs>;
  /** Cumulative sum along an axis (or the flat array). */
  cumsum: Unary<LineAttrs>;
  /** Cumulative product along an axis (or the flat array). */
  cumprod: Unary<LineAttrs>;
  /** Softmax along an axis. */
  softmax: Unary<SoftmaxAttrs>;
  /** Log-softmax along an axis. */
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
