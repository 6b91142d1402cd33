/**
 * What the `linalg` functions share: argument conversion and dtype rules (f32 stays f32, ints
 * and bool compute in f64, f16/bf16 refused), matrix-shape checks, and the `info` outputs of the
 * kernels turned into `LinAlgError`s that name the matrix.
 *
 * @module
 */
import type { DType } from "../dtype.ts";
import { DTypeError, fmtShape, LinAlgError, ShapeError } from "../errors.ts";
import type { Own } from "../dispose.ts";
import type { Tensor, TensorLike } from "../tensor.ts";
import { asTensor } from "./creation.ts";
import { astype } from "./view.ts";
import { disposeAll } from "../dispose.ts";

/** Convert an argument, refusing f16/bf16 (NumPy refuses float16 in linalg). */
export function input(op: string, x: TensorLike, own: Own): Tensor {
  const t = asTensor(x);
  if (t !== x) own(t);
  if (t.dtype === "f16" || t.dtype === "bf16") {
    throw new DTypeError(
      `${op}: dtype ${t.dtype} is not supported by linalg (NumPy refuses float16 too); ` +
        `linalg works in f32 or f64. Hint: convert first, e.g. a.astype("f32").`,
    );
  }
  return t;
}

/** NumPy's result type of linalg: f32 when every input is f32, else f64 (ints and bool too). */
export function linalgDtype(...ts: Tensor[]): "f32" | "f64" {
  return ts.every((t) => t.dtype === "f32") ? "f32" : "f64";
}

export function castTo(t: Tensor, d: DType, own: Own): Tensor {
  if (t.dtype === d) return t;
  const c = astype(t, d);
  own(c);
  return c;
}

/** Check for a (stack of) matrices, square when `square`; returns [m, n]. */
export function matrixDims(op: string, t: Tensor, square: boolean): [number, number] {
  if (t.ndim < 2) {
    throw new ShapeError(
      `${op}: expected a matrix or a stack of matrices (at least 2 axes), got shape ` +
        `${fmtShape(t.shape)}. Hint: reshape a vector to a (n, 1) or (1, n) matrix.`,
    );
  }
  const m = t.shape[t.ndim - 2], n = t.shape[t.ndim - 1];
  if (square && m !== n) {
    throw new ShapeError(
      `${op}: the last two axes must be square, got shape ${fmtShape(t.shape)} (${m}×${n} ` +
        `matrices). Hint: for non-square systems use linalg.lstsq or linalg.pinv.`,
    );
  }
  return [m, n];
}

/** "matrix (3, 3)" or "matrix [1, 0] of the stack (2, 2, 3, 3)". */
function whichMatrix(shape: readonly number[], flat: number): string {
  const batch = shape.slice(0, -2);
  if (batch.length === 0) return `matrix ${fmtShape(shape)}`;
  const idx = new Array<number>(batch.length);
  for (let i = batch.length - 1; i >= 0; i--) {
    idx[i] = flat % batch[i];
    flat = Math.floor(flat / batch[i]);
  }
  return `matrix [${idx.join(", ")}] of the stack ${fmtShape(shape)}`;
}

/**
 * Read a kernel's `info` output (and dispose it); on the first nonzero code dispose `outs` and
 * throw a LinAlgError "op: matrix ... <what(code)>".
 */
export function checkInfo(
  op: string,
  info: Tensor,
  shape: readonly number[],
  outs: readonly Tensor[],
  what: (code: number) => string,
): void {
  let codes: Int32Array;
  try {
    codes = info.dataSync() as Int32Array;
  } finally {
    info.dispose();
  }
  for (let i = 0; i < codes.length; i++) {
    if (codes[i] !== 0) {
      disposeAll(outs);
      throw new LinAlgError(`${op}: ${whichMatrix(shape, i)} ${what(codes[i])}`);
    }
  }
}

export const svdFailure = (code: number) =>
  code < 0
    ? "holds Inf or NaN, so the SVD did not converge (NumPy raises too). Hint: check the " +
      "input for non-finite values."
    : "did not converge in the SVD iteration. Hint: the matrix may be extremely ill-scaled.";

/** A square-matrix input cast to its linalg dtype. */
export function squareInput(op: string, x: TensorLike, own: Own): [Tensor, number, DType] {
  const t = input(op, x, own);
  const [, n] = matrixDims(op, t, true);
  const d = linalgDtype(t);
  return [castTo(t, d, own), n, d];
}
