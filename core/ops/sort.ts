// PLACEHOLDER: to be written by the reductions helper (every function below is replaced).
import type { Tensor } from "../tensor.ts";
const todo = (n: string): never => {
  throw new Error(`unimplemented: ${n}`);
};
export function sort(_x: Tensor, _axis = -1, _descending = false): Tensor {
  return todo("sort");
}
export function argsort(_x: Tensor, _axis = -1, _descending = false): Tensor {
  return todo("argsort");
}
