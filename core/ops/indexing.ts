// PLACEHOLDER: to be written by the indexing helper (every function below is replaced).
import type { Tensor, TensorLike } from "../tensor.ts";
const todo = (n: string): never => {
  throw new Error(`unimplemented: ${n}`);
};
export function gather(_x: Tensor, _axis: number, _index: TensorLike): Tensor {
  return todo("gather");
}
export function indexSelect(_x: Tensor, _axis: number, _index: TensorLike): Tensor {
  return todo("indexSelect");
}
