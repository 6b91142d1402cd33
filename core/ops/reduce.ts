// PLACEHOLDER: to be written by the reductions helper (every function below is replaced).
import type { Axis, Tensor } from "../tensor.ts";
const todo = (n: string): never => {
  throw new Error(`unimplemented: ${n}`);
};
/** Options of variance/std. */
export interface VarOptions {
  /** Delta degrees of freedom: the divisor is N - ddof (default 0, like NumPy). */
  ddof?: number;
  /** Keep reduced axes with length 1. */
  keepdims?: boolean;
}
export function sum(_x: Tensor, _axis?: Axis, _keepdims = false): Tensor {
  return todo("sum");
}
export function mean(_x: Tensor, _axis?: Axis, _keepdims = false): Tensor {
  return todo("mean");
}
export function variance(_x: Tensor, _axis?: Axis, _o: VarOptions = {}): Tensor {
  return todo("var");
}
export function std(_x: Tensor, _axis?: Axis, _o: VarOptions = {}): Tensor {
  return todo("std");
}
export function min(_x: Tensor, _axis?: Axis, _keepdims = false): Tensor {
  return todo("min");
}
export function max(_x: Tensor, _axis?: Axis, _keepdims = false): Tensor {
  return todo("max");
}
export function prod(_x: Tensor, _axis?: Axis, _keepdims = false): Tensor {
  return todo("prod");
}
export function argmin(_x: Tensor, _axis?: number, _keepdims = false): Tensor {
  return todo("argmin");
}
export function argmax(_x: Tensor, _axis?: number, _keepdims = false): Tensor {
  return todo("argmax");
}
export function any(_x: Tensor, _axis?: Axis, _keepdims = false): Tensor {
  return todo("any");
}
export function all(_x: Tensor, _axis?: Axis, _keepdims = false): Tensor {
  return todo("all");
}
export function logsumexp(_x: Tensor, _axis?: Axis, _keepdims = false): Tensor {
  return todo("logsumexp");
}
export function cumsum(_x: Tensor, _axis?: number): Tensor {
  return todo("cumsum");
}
export function softmax(_x: Tensor, _axis = -1): Tensor {
  return todo("softmax");
}
export function logSoftmax(_x: Tensor, _axis = -1): Tensor {
  return todo("logSoftmax");
}
