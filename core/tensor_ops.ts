/**
 * The op methods of {@link Tensor} (`a.add(b)`, `a.sum(1)`, `a.matmul(b)`, ...): each forwards
 * to the op function of `core/ops/`. Declared here as {@link TensorMethods}, which the `Tensor`
 * class merges (core/tensor.ts), and installed on its prototype by {@link installTensorMethods};
 * the implementation object is typed against the interface, so a method declared and not
 * implemented (or with another signature) is a compile error.
 *
 * @module
 */
import type { Axis, Tensor, TensorLike } from "./tensor.ts";
import * as ew from "./ops/elementwise.ts";
import * as red from "./ops/reduce.ts";
import * as srt from "./ops/sort.ts";
import * as idx from "./ops/indexing.ts";
import * as la from "./ops/matmul.ts";
import * as join from "./ops/join.ts";

/**
 * The op methods every {@link Tensor} has: elementwise arithmetic, comparisons and math,
 * reductions, sorting, indexing, joining and matrix products. Each is the op function of the same
 * name with the tensor as its first operand.
 *
 * @example
 * ```ts
 * import { tensor } from "@aprender/compute";
 * const a = tensor([[1, 2], [3, 4]]);
 * console.log(a.add(1).mul(a).sum(1).toArraySync()); // [6, 20]
 * ```
 */
export interface TensorMethods {
  // ---- elementwise ------------------------------------------------------------------------

  /** See {@link ew.add}. */
  add(this: Tensor, other: TensorLike): Tensor;
  /** See {@link ew.sub}. */
  sub(this: Tensor, other: TensorLike): Tensor;
  /** See {@link ew.mul}. */
  mul(this: Tensor, other: TensorLike): Tensor;
  /** See {@link ew.div}. */
  div(this: Tensor, other: TensorLike): Tensor;
  /** See {@link ew.floorDiv}. */
  floorDiv(this: Tensor, other: TensorLike): Tensor;
  /** See {@link ew.mod}. */
  mod(this: Tensor, other: TensorLike): Tensor;
  /** See {@link ew.pow}. */
  pow(this: Tensor, other: TensorLike): Tensor;
  /** See {@link ew.minimum}. */
  minimum(this: Tensor, other: TensorLike): Tensor;
  /** See {@link ew.maximum}. */
  maximum(this: Tensor, other: TensorLike): Tensor;
  /** See {@link ew.neg}. */
  neg(this: Tensor): Tensor;
  /** See {@link ew.abs}. */
  abs(this: Tensor): Tensor;
  /** See {@link ew.exp}. */
  exp(this: Tensor): Tensor;
  /** See {@link ew.log}. */
  log(this: Tensor): Tensor;
  /** See {@link ew.sqrt}. */
  sqrt(this: Tensor): Tensor;
  /** See {@link ew.square}. */
  square(this: Tensor): Tensor;
  /** See {@link ew.tanh}. */
  tanh(this: Tensor): Tensor;
  /** See {@link ew.sigmoid}. */
  sigmoid(this: Tensor): Tensor;
  /** See {@link ew.relu}. */
  relu(this: Tensor): Tensor;
  /** See {@link ew.sign}. */
  sign(this: Tensor): Tensor;
  /** See {@link ew.expm1}. */
  expm1(this: Tensor): Tensor;
  /** See {@link ew.log1p}. */
  log1p(this: Tensor): Tensor;
  /** See {@link ew.log2}. */
  log2(this: Tensor): Tensor;
  /** See {@link ew.rsqrt}. */
  rsqrt(this: Tensor): Tensor;
  /** See {@link ew.sin}. */
  sin(this: Tensor): Tensor;
  /** See {@link ew.cos}. */
  cos(this: Tensor): Tensor;
  /** See {@link ew.erf}. */
  erf(this: Tensor): Tensor;
  /** See {@link ew.gelu}. */
  gelu(this: Tensor, approximate?: "none" | "tanh"): Tensor;
  /** See {@link ew.silu}. */
  silu(this: Tensor): Tensor;
  /** See {@link ew.softplus}. */
  softplus(this: Tensor, beta?: number, threshold?: number): Tensor;
  /** See {@link ew.leakyRelu}. */
  leakyRelu(this: Tensor, negativeSlope?: number): Tensor;
  /** See {@link ew.round}. */
  round(this: Tensor): Tensor;
  /** See {@link ew.floor}. */
  floor(this: Tensor): Tensor;
  /** See {@link ew.ceil}. */
  ceil(this: Tensor): Tensor;
  /** See {@link ew.isnan}. */
  isnan(this: Tensor): Tensor;
  /** See {@link ew.logicalNot}. */
  logicalNot(this: Tensor): Tensor;
  /** See {@link ew.clip}. */
  clip(this: Tensor, min: number | null, max: number | null): Tensor;
  /** See {@link ew.eq}. */
  eq(this: Tensor, other: TensorLike): Tensor;
  /** See {@link ew.ne}. */
  ne(this: Tensor, other: TensorLike): Tensor;
  /** See {@link ew.lt}. */
  lt(this: Tensor, other: TensorLike): Tensor;
  /** See {@link ew.le}. */
  le(this: Tensor, other: TensorLike): Tensor;
  /** See {@link ew.gt}. */
  gt(this: Tensor, other: TensorLike): Tensor;
  /** See {@link ew.ge}. */
  ge(this: Tensor, other: TensorLike): Tensor;

  // ---- reductions -------------------------------------------------------------------------

  /** See {@link red.sum}. */
  sum(this: Tensor, axis?: Axis, keepdims?: boolean): Tensor;
  /** See {@link red.mean}. */
  mean(this: Tensor, axis?: Axis, keepdims?: boolean): Tensor;
  /** Variance; see {@link red.variance}. */
  var(
    this: Tensor,
    axis?: Axis | red.VarCallOptions,
    options?: red.VarOptions | boolean,
    keepdim?: boolean,
  ): Tensor;
  /** See {@link red.std}. */
  std(
    this: Tensor,
    axis?: Axis | red.VarCallOptions,
    options?: red.VarOptions | boolean,
    keepdim?: boolean,
  ): Tensor;
  /** See {@link red.min}. */
  min(this: Tensor, axis?: Axis, keepdims?: boolean): Tensor;
  /** See {@link red.max}. */
  max(this: Tensor, axis?: Axis, keepdims?: boolean): Tensor;
  /** See {@link red.prod}. */
  prod(this: Tensor, axis?: Axis, keepdims?: boolean): Tensor;
  /** See {@link red.argmin}. */
  argmin(this: Tensor, axis?: number, keepdims?: boolean): Tensor;
  /** See {@link red.argmax}. */
  argmax(this: Tensor, axis?: number, keepdims?: boolean): Tensor;
  /** See {@link red.any}. */
  any(this: Tensor, axis?: Axis, keepdims?: boolean): Tensor;
  /** See {@link red.all}. */
  all(this: Tensor, axis?: Axis, keepdims?: boolean): Tensor;
  /** See {@link red.logsumexp}. */
  logsumexp(this: Tensor, axis?: Axis, keepdims?: boolean): Tensor;
  /** See {@link red.cumsum}. */
  cumsum(this: Tensor, axis?: number): Tensor;
  /** See {@link red.cumprod}. */
  cumprod(this: Tensor, axis?: number): Tensor;
  /** See {@link red.norm}. */
  norm(this: Tensor, ord?: red.NormOrder | null, axis?: Axis, keepdims?: boolean): Tensor;
  /** See {@link red.softmax}. */
  softmax(this: Tensor, axis?: number): Tensor;
  /** See {@link red.logSoftmax}. */
  logSoftmax(this: Tensor, axis?: number): Tensor;
  /** See {@link srt.sort}. */
  sort(this: Tensor, axis?: number, descending?: boolean): Tensor;
  /** See {@link srt.argsort}. */
  argsort(this: Tensor, axis?: number, descending?: boolean): Tensor;

  /** See {@link srt.topk}: `[values, indices]`. */
  topk(this: Tensor, k: number, options?: srt.TopkOptions): [Tensor, Tensor];

  // ---- indexing, joining and linear algebra -----------------------------------------------

  /** See {@link idx.take}. */
  take(this: Tensor, indices: TensorLike, axis?: number): Tensor;
  /** See {@link idx.maskedSelect}. */
  maskedSelect(this: Tensor, mask: TensorLike): Tensor;
  /** See {@link idx.nonzero}. */
  nonzero(this: Tensor): Tensor;
  /** See {@link join.split}. */
  split(this: Tensor, indicesOrSections: number | readonly number[], axis?: number): Tensor[];
  /** See {@link join.chunk}. */
  chunk(this: Tensor, chunks: number, axis?: number): Tensor[];
  /** See {@link join.tile}. */
  tile(this: Tensor, reps: number | readonly number[]): Tensor;
  /** See {@link join.repeat}. */
  repeat(this: Tensor, repeats: number | readonly number[], axis?: number): Tensor;
  /** See {@link join.roll}. */
  roll(this: Tensor, shift: number | readonly number[], axis?: number | readonly number[]): Tensor;
  /** See {@link join.pad}. */
  pad(this: Tensor, padWidth: join.PadWidth, options?: join.PadOptions): Tensor;
  /** See {@link la.dot}. */
  dot(this: Tensor, other: TensorLike): Tensor;

  /** See {@link idx.gather}. */
  gather(this: Tensor, axis: number, index: TensorLike): Tensor;
  /** See {@link idx.indexSelect}. */
  indexSelect(this: Tensor, axis: number, index: TensorLike): Tensor;
  /** See {@link la.matmul}. */
  matmul(this: Tensor, other: TensorLike): Tensor;
}

const methods: TensorMethods = {
  // ---- elementwise ------------------------------------------------------------------------
  add(this: Tensor, other: TensorLike): Tensor {
    return ew.add(this, other);
  },
  sub(this: Tensor, other: TensorLike): Tensor {
    return ew.sub(this, other);
  },
  mul(this: Tensor, other: TensorLike): Tensor {
    return ew.mul(this, other);
  },
  div(this: Tensor, other: TensorLike): Tensor {
    return ew.div(this, other);
  },
  floorDiv(this: Tensor, other: TensorLike): Tensor {
    return ew.floorDiv(this, other);
  },
  mod(this: Tensor, other: TensorLike): Tensor {
    return ew.mod(this, other);
  },
  pow(this: Tensor, other: TensorLike): Tensor {
    return ew.pow(this, other);
  },
  minimum(this: Tensor, other: TensorLike): Tensor {
    return ew.minimum(this, other);
  },
  maximum(this: Tensor, other: TensorLike): Tensor {
    return ew.maximum(this, other);
  },
  neg(this: Tensor): Tensor {
    return ew.neg(this);
  },
  abs(this: Tensor): Tensor {
    return ew.abs(this);
  },
  exp(this: Tensor): Tensor {
    return ew.exp(this);
  },
  log(this: Tensor): Tensor {
    return ew.log(this);
  },
  sqrt(this: Tensor): Tensor {
    return ew.sqrt(this);
  },
  square(this: Tensor): Tensor {
    return ew.square(this);
  },
  tanh(this: Tensor): Tensor {
    return ew.tanh(this);
  },
  sigmoid(this: Tensor): Tensor {
    return ew.sigmoid(this);
  },
  relu(this: Tensor): Tensor {
    return ew.relu(this);
  },
  sign(this: Tensor): Tensor {
    return ew.sign(this);
  },
  expm1(this: Tensor): Tensor {
    return ew.expm1(this);
  },
  log1p(this: Tensor): Tensor {
    return ew.log1p(this);
  },
  log2(this: Tensor): Tensor {
    return ew.log2(this);
  },
  rsqrt(this: Tensor): Tensor {
    return ew.rsqrt(this);
  },
  sin(this: Tensor): Tensor {
    return ew.sin(this);
  },
  cos(this: Tensor): Tensor {
    return ew.cos(this);
  },
  erf(this: Tensor): Tensor {
    return ew.erf(this);
  },
  gelu(this: Tensor, approximate: "none" | "tanh" = "none"): Tensor {
    return ew.gelu(this, approximate);
  },
  silu(this: Tensor): Tensor {
    return ew.silu(this);
  },
  softplus(this: Tensor, beta = 1, threshold = 20): Tensor {
    return ew.softplus(this, beta, threshold);
  },
  leakyRelu(this: Tensor, negativeSlope = 0.01): Tensor {
    return ew.leakyRelu(this, negativeSlope);
  },
  round(this: Tensor): Tensor {
    return ew.round(this);
  },
  floor(this: Tensor): Tensor {
    return ew.floor(this);
  },
  ceil(this: Tensor): Tensor {
    return ew.ceil(this);
  },
  isnan(this: Tensor): Tensor {
    return ew.isnan(this);
  },
  logicalNot(this: Tensor): Tensor {
    return ew.logicalNot(this);
  },
  clip(this: Tensor, min: number | null, max: number | null): Tensor {
    return ew.clip(this, min, max);
  },
  eq(this: Tensor, other: TensorLike): Tensor {
    return ew.eq(this, other);
  },
  ne(this: Tensor, other: TensorLike): Tensor {
    return ew.ne(this, other);
  },
  lt(this: Tensor, other: TensorLike): Tensor {
    return ew.lt(this, other);
  },
  le(this: Tensor, other: TensorLike): Tensor {
    return ew.le(this, other);
  },
  gt(this: Tensor, other: TensorLike): Tensor {
    return ew.gt(this, other);
  },
  ge(this: Tensor, other: TensorLike): Tensor {
    return ew.ge(this, other);
  },
  // ---- reductions -------------------------------------------------------------------------
  sum(this: Tensor, axis?: Axis, keepdims = false): Tensor {
    return red.sum(this, axis, keepdims);
  },
  mean(this: Tensor, axis?: Axis, keepdims = false): Tensor {
    return red.mean(this, axis, keepdims);
  },
  var(
    this: Tensor,
    axis?: Axis | red.VarCallOptions,
    options?: red.VarOptions | boolean,
    keepdim?: boolean,
  ): Tensor {
    return red.variance(this, axis, options, keepdim);
  },
  std(
    this: Tensor,
    axis?: Axis | red.VarCallOptions,
    options?: red.VarOptions | boolean,
    keepdim?: boolean,
  ): Tensor {
    return red.std(this, axis, options, keepdim);
  },
  min(this: Tensor, axis?: Axis, keepdims = false): Tensor {
    return red.min(this, axis, keepdims);
  },
  max(this: Tensor, axis?: Axis, keepdims = false): Tensor {
    return red.max(this, axis, keepdims);
  },
  prod(this: Tensor, axis?: Axis, keepdims = false): Tensor {
    return red.prod(this, axis, keepdims);
  },
  argmin(this: Tensor, axis?: number, keepdims = false): Tensor {
    return red.argmin(this, axis, keepdims);
  },
  argmax(this: Tensor, axis?: number, keepdims = false): Tensor {
    return red.argmax(this, axis, keepdims);
  },
  any(this: Tensor, axis?: Axis, keepdims = false): Tensor {
    return red.any(this, axis, keepdims);
  },
  all(this: Tensor, axis?: Axis, keepdims = false): Tensor {
    return red.all(this, axis, keepdims);
  },
  logsumexp(this: Tensor, axis?: Axis, keepdims = false): Tensor {
    return red.logsumexp(this, axis, keepdims);
  },
  cumsum(this: Tensor, axis?: number): Tensor {
    return red.cumsum(this, axis);
  },
  cumprod(this: Tensor, axis?: number): Tensor {
    return red.cumprod(this, axis);
  },
  norm(this: Tensor, ord?: red.NormOrder | null, axis?: Axis, keepdims = false): Tensor {
    return red.norm(this, ord, axis, keepdims);
  },
  softmax(this: Tensor, axis = -1): Tensor {
    return red.softmax(this, axis);
  },
  logSoftmax(this: Tensor, axis = -1): Tensor {
    return red.logSoftmax(this, axis);
  },
  sort(this: Tensor, axis = -1, descending = false): Tensor {
    return srt.sort(this, axis, descending);
  },
  argsort(this: Tensor, axis = -1, descending = false): Tensor {
    return srt.argsort(this, axis, descending);
  },
  topk(this: Tensor, k: number, options: srt.TopkOptions = {}): [Tensor, Tensor] {
    return srt.topk(this, k, options);
  },
  // ---- indexing, joining and linear algebra -----------------------------------------------
  take(this: Tensor, indices: TensorLike, axis?: number): Tensor {
    return idx.take(this, indices, axis);
  },
  maskedSelect(this: Tensor, mask: TensorLike): Tensor {
    return idx.maskedSelect(this, mask);
  },
  nonzero(this: Tensor): Tensor {
    return idx.nonzero(this);
  },
  split(this: Tensor, indicesOrSections: number | readonly number[], axis = 0): Tensor[] {
    return join.split(this, indicesOrSections, axis);
  },
  chunk(this: Tensor, chunks: number, axis = 0): Tensor[] {
    return join.chunk(this, chunks, axis);
  },
  tile(this: Tensor, reps: number | readonly number[]): Tensor {
    return join.tile(this, reps);
  },
  repeat(this: Tensor, repeats: number | readonly number[], axis?: number): Tensor {
    return join.repeat(this, repeats, axis);
  },
  roll(this: Tensor, shift: number | readonly number[], axis?: number | readonly number[]): Tensor {
    return join.roll(this, shift, axis);
  },
  pad(this: Tensor, padWidth: join.PadWidth, options?: join.PadOptions): Tensor {
    return join.pad(this, padWidth, options);
  },
  dot(this: Tensor, other: TensorLike): Tensor {
    return la.dot(this, other);
  },
  gather(this: Tensor, axis: number, index: TensorLike): Tensor {
    return idx.gather(this, axis, index);
  },
  indexSelect(this: Tensor, axis: number, index: TensorLike): Tensor {
    return idx.indexSelect(this, axis, index);
  },
  matmul(this: Tensor, other: TensorLike): Tensor {
    return la.matmul(this, other);
  },
};

/** Install the op methods on the Tensor class's prototype (core/tensor.ts calls it once). */
export function installTensorMethods(cls: { prototype: object }): void {
  for (const name of Object.keys(methods) as (keyof TensorMethods)[]) {
    Object.defineProperty(cls.prototype, name, {
      value: methods[name],
      writable: true,
      configurable: true,
      enumerable: false,
    });
  }
}
