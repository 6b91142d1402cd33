/**
 * Contracts of the indexing and sorting families (core/ops/indexing.ts, sort.ts, view.ts):
 * copies, gathers, scatters, masks and sorts.
 *
 * @module
 */
import type { Binary, Contracts, Op, Unary } from "./contract.ts";

/** Attributes of the index kernels: the (normalized) axis and the user-facing op name. */
export interface AxisAttrs {
  /** The axis indexed along. */
  axis: number;
  /** The op the user called (for error messages). */
  op: string;
}

/** Attributes of `scatter`/`scatterAdd`: where the values go, and how they combine. */
export interface ScatterAttrs extends AxisAttrs {
  /** "none" replaces, "add" accumulates. */
  reduce: "none" | "add";
}

/** Attributes of the sort kernels. */
export interface SortAttrs {
  /** The (non-negative) axis to sort along. */
  axis: number;
  /** Largest first (sort/argsort; topk's `largest`). */
  descending: boolean;
  /** topk only: how many to keep per line. */
  k?: number;
}

/** The indexing and sorting families: kernel name → contract. */
export interface IndexingOps {
  /** out = cast(in), through strides (into a view for assignments). */
  copy: Unary;
  /** Elements at indices along an axis. */
  take: Binary<AxisAttrs>;
  /** Values at per-position indices along an axis. */
  gather: Binary<AxisAttrs>;
  /** x with values written at indices along an axis. */
  scatter: Op<3, ScatterAttrs>;
  /** x with values added at indices along an axis. */
  scatterAdd: Op<3, ScatterAttrs>;
  /** cond ? a : b */
  where: Op<3, Record<string, never>>;
  /** The elements where a mask is true (output shape from the data). */
  maskedSelect: Binary;
  /** Indices of the nonzero elements (output shape from the data). */
  nonzero: Unary;
  /** Values sorted along an axis. */
  sort: Unary<SortAttrs>;
  /** Indices that sort along an axis. */
  argsort: Unary<SortAttrs>;
  /** The k largest (or smallest) values and their indices. */
  topk: Unary<SortAttrs>;
}

/** The indexing and sorting families' contracts at run time. */
export const INDEXING_OPS: Contracts<IndexingOps> = {
  copy: 1,
  take: 2,
  gather: 2,
  scatter: 3,
  scatterAdd: 3,
  where: 3,
  maskedSelect: 2,
  nonzero: 1,
  sort: 1,
  argsort: 1,
  topk: 1,
};
