/**
 * What the losses share: the reduction and its check, and the checks that turn inputs,
 * targets and weights into tensors with clear errors (float input, same-shape target, class-index
 * target, per-element and per-class weights).
 *
 * @module
 */
import { castF32 } from "../core/autocast.ts";
import { isFloat, isInt } from "../core/dtype.ts";
import { ComputeError, DTypeError, fmtShape, IndexError, ShapeError } from "../core/errors.ts";
import { asTensor } from "../core/ops/creation.ts";
import { mul, ne, neg } from "../core/ops/elementwise.ts";
import { gather, take, where } from "../core/ops/indexing.ts";
import { mean, sum } from "../core/ops/reduce.ts";
import { reshape } from "../core/ops/view.ts";
import type { Own } from "../core/dispose.ts";
import type { Reduction } from "./loss_functional.ts";
import type { Tensor, TensorLike } from "../core/tensor.ts";

export function checkReduction(loss: string, r: string, extra: readonly string[] = []): void {
  const ok = ["mean", "sum", "none", ...extra];
  if (!ok.includes(r)) {
    throw new ComputeError(
      `${loss}: reduction must be ${ok.map((s) => `"${s}"`).join(", ")}; got ${JSON.stringify(r)}.`,
    );
  }
}

/** Mean, sum or nothing; `l` is consumed (disposed when a new tensor is returned). */
export function reduce(l: Tensor, reduction: Reduction, k: Own): Tensor {
  if (reduction === "none") return l;
  k(l);
  return reduction === "sum" ? sum(l) : mean(l);
}

/**
 * The input as a float tensor (converted from JS data if needed; to f32 inside an autocast
 * scope), or a DTypeError.
 */
export function floatInput(loss: string, x: TensorLike, k: Own): Tensor {
  const t = asTensor(x);
  if (t !== x) k(t);
  if (!isFloat(t.dtype)) {
    throw new DTypeError(
      `${loss}: input must be a float tensor, got ${t.dtype} (shape ${fmtShape(t.shape)}). ` +
        `Hint: convert it with .astype("f32").`,
    );
  }
  // Inside an autocast scope losses are computed in f32 (core/autocast.ts).
  const c = castF32(t);
  return c === t ? t : k(c);
}

/**
 * The target of an elementwise loss: the input's exact shape (ShapeError otherwise), float
 * (integer and bool targets are cast to the input's dtype).
 */
export function sameShapeTarget(loss: string, input: Tensor, target: TensorLike, k: Own): Tensor {
  let t = asTensor(target, undefined, input.device);
  if (t !== target) k(t);
  if (!sameShape(t.shape, input.shape)) {
    throw new ShapeError(
      `${loss}: target shape ${fmtShape(t.shape)} does not match input shape ` +
        `${fmtShape(input.shape)}; expected a target of the input's shape ` +
        `${fmtShape(input.shape)}. Hint: reshape the target (e.g. unsqueeze or squeeze an axis).`,
    );
  }
  if (!isFloat(t.dtype)) t = k(t.astype(input.dtype));
  return t;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** An optional per-element weight that must broadcast to `shape`, as a tensor of `dtype`. */
export function elementWeight(
  loss: string,
  name: string,
  w: TensorLike | null | undefined,
  like: Tensor,
  k: Own,
): Tensor | null {
  if (w === null || w === undefined) return null;
  let t = asTensor(w, undefined, like.device);
  if (t !== w) k(t);
  if (t.dtype !== like.dtype) t = k(t.astype(like.dtype));
  const s = like.shape, ws = t.shape;
  const fits = ws.length <= s.length &&
    ws.every((d, i) => d === 1 || d === s[s.length - ws.length + i]);
  if (!fits) {
    throw new ShapeError(
      `${loss}: ${name} of shape ${fmtShape(ws)} does not broadcast to the input's shape ` +
        `${fmtShape(s)}; expected a shape that broadcasts to ${fmtShape(s)}.`,
    );
  }
  return t;
}

/** A per-class weight: 1-D of length C, cast to `dtype`. */
export function classWeight(
  loss: string,
  w: TensorLike | null | undefined,
  input: Tensor,
  numClasses: number,
  k: Own,
): Tensor | null {
  if (w === null || w === undefined) return null;
  let t = asTensor(w, undefined, input.device);
  if (t !== w) k(t);
  if (t.ndim !== 1 || t.shape[0] !== numClasses) {
    throw new ShapeError(
      `${loss}: weight of shape ${fmtShape(t.shape)} does not fit input ${
        fmtShape(input.shape)
      }; expected one weight per class, shape (${numClasses}).`,
    );
  }
  if (t.dtype !== input.dtype) t = k(t.astype(input.dtype));
  return t;
}

/**
 * Class-index target checks: input (N, C, d1, ...) or (C); target (N, d1, ...) or (), integer,
 * with values in [0, C) or equal to `ignoreIndex`. Returns the input with a batch axis and the
 * target with a batch axis (unbatched inputs get one).
 */
export function classIndexArgs(
  loss: string,
  input: Tensor,
  target: Tensor,
  ignoreIndex: number,
  k: Own,
): { x: Tensor; t: Tensor; unbatched: boolean; numClasses: number } {
  if (input.ndim === 0) {
    throw new ShapeError(
      `${loss}: input must have a class axis: shape (C), (N, C) or (N, C, d1, ...); got a ` +
        `scalar.`,
    );
  }
  const unbatched = input.ndim === 1;
  const expected = unbatched ? [] : [input.shape[0], ...input.shape.slice(2)];
  const numClasses = input.shape[unbatched ? 0 : 1];
  if (!sameShape(target.shape, expected)) {
    throw new ShapeError(
      `${loss}: target shape ${fmtShape(target.shape)} does not fit input shape ` +
        `${fmtShape(input.shape)}; expected class indices of shape ${fmtShape(expected)} ` +
        `(the input's shape without the class axis ${unbatched ? 0 : 1})` +
        (loss === "crossEntropy"
          ? `, or class probabilities of shape ${fmtShape(input.shape)}`
          : "") +
        `.`,
    );
  }
  if (!isInt(target.dtype)) {
    throw new DTypeError(
      `${loss}: class-index target must have an integer dtype, got ${target.dtype} (input ` +
        `${fmtShape(input.shape)}, target ${fmtShape(target.shape)}). Hint: ` +
        (loss === "crossEntropy"
          ? `class probabilities need the input's shape ${fmtShape(input.shape)}; indices ` +
            `stored as floats convert with .astype("i64").`
          : `convert the indices with .astype("i64").`),
    );
  }
  checkClassRange(loss, target, numClasses, ignoreIndex);
  const x = unbatched ? k(input.unsqueeze(0)) : input;
  const t = unbatched ? k(reshape(target, [1])) : target;
  return { x, t, unbatched, numClasses };
}

/**
 * Class indices must be in [0, C) or equal ignoreIndex (gather would read negative indices
 * from the end). Checked where the target can be read synchronously (host memory); on other
 * devices the gather kernel's own bounds check applies.
 */
function checkClassRange(loss: string, t: Tensor, numClasses: number, ignoreIndex: number): void {
  let d;
  try {
    d = t.dataSync();
  } catch {
    return;
  }
  for (let i = 0; i < d.length; i++) {
    const v = Number(d[i]);
    if (v !== ignoreIndex && (v < 0 || v >= numClasses)) {
      throw new IndexError(
        `${loss}: target ${v} (element ${i} of target ${fmtShape(t.shape)}) is out of range ` +
          `for ${numClasses} classes; expected 0 ≤ target < ${numClasses}, or ignoreIndex ` +
          `(${ignoreIndex}).`,
      );
    }
  }
}

/**
 * The negative log-likelihood per position of log-probabilities `x` (N, C, ...) at class
 * indices `t` (N, ...): `-w[t]·x[n, t]`, 0 where `t == ignoreIndex`; and the weights used
 * (`w[t]`, 0 where ignored), the denominator of the mean.
 */
export function nllParts(
  x: Tensor,
  t: Tensor,
  weight: Tensor | null,
  ignoreIndex: number,
  k: Own,
): { losses: Tensor; weights: Tensor; mask: Tensor } {
  const mask = k(ne(t, ignoreIndex));
  const safe = k(where(mask, t, 0));
  const picked = k(gather(x, 1, k(safe.unsqueeze(1))));
  const p = k(picked.squeeze(1));
  const w = weight ? k(take(weight, safe)) : null;
  const wp = w ? k(mul(p, w)) : p;
  const losses = where(mask, k(neg(wp)), 0);
  const weights = w ? where(mask, w, 0) : mask.astype(x.dtype);
  return { losses, weights: k(weights), mask };
}

/** Undo the batch axis given to an unbatched input (reduction "none"). */
export function unbatch(l: Tensor, unbatched: boolean, k: Own): Tensor {
  return unbatched ? reshape(k(l), []) : l;
}
