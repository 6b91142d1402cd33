// PLACEHOLDER: to be written by the elementwise helper (every function below is replaced).
import type { Tensor, TensorLike } from "../tensor.ts";
const todo = (n: string): never => {
  throw new Error(`unimplemented: ${n}`);
};
export function add(_a: TensorLike, _b: TensorLike): Tensor {
  return todo("add");
}
export function sub(_a: TensorLike, _b: TensorLike): Tensor {
  return todo("sub");
}
export function mul(_a: TensorLike, _b: TensorLike): Tensor {
  return todo("mul");
}
export function div(_a: TensorLike, _b: TensorLike): Tensor {
  return todo("div");
}
export function floorDiv(_a: TensorLike, _b: TensorLike): Tensor {
  return todo("floorDiv");
}
export function mod(_a: TensorLike, _b: TensorLike): Tensor {
  return todo("mod");
}
export function pow(_a: TensorLike, _b: TensorLike): Tensor {
  return todo("pow");
}
export function minimum(_a: TensorLike, _b: TensorLike): Tensor {
  return todo("minimum");
}
export function maximum(_a: TensorLike, _b: TensorLike): Tensor {
  return todo("maximum");
}
export function eq(_a: TensorLike, _b: TensorLike): Tensor {
  return todo("eq");
}
export function ne(_a: TensorLike, _b: TensorLike): Tensor {
  return todo("ne");
}
export function lt(_a: TensorLike, _b: TensorLike): Tensor {
  return todo("lt");
}
export function le(_a: TensorLike, _b: TensorLike): Tensor {
  return todo("le");
}
export function gt(_a: TensorLike, _b: TensorLike): Tensor {
  return todo("gt");
}
export function ge(_a: TensorLike, _b: TensorLike): Tensor {
  return todo("ge");
}
export function neg(_a: TensorLike): Tensor {
  return todo("neg");
}
export function abs(_a: TensorLike): Tensor {
  return todo("abs");
}
export function exp(_a: TensorLike): Tensor {
  return todo("exp");
}
export function log(_a: TensorLike): Tensor {
  return todo("log");
}
export function sqrt(_a: TensorLike): Tensor {
  return todo("sqrt");
}
export function square(_a: TensorLike): Tensor {
  return todo("square");
}
export function tanh(_a: TensorLike): Tensor {
  return todo("tanh");
}
export function sigmoid(_a: TensorLike): Tensor {
  return todo("sigmoid");
}
export function relu(_a: TensorLike): Tensor {
  return todo("relu");
}
export function clip(_a: TensorLike, _lo: number | null, _hi: number | null): Tensor {
  return todo("clip");
}
