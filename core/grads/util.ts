/**
 * Helpers shared by backward rules.
 *
 * @module
 */
import type { Tensor } from "../tensor.ts";
import { sum } from "../ops/reduce.ts";
import { reshape } from "../ops/view.ts";

/**
 * Sum a gradient of a broadcast result back to the shape of an operand (NumPy broadcasting in
 * reverse): sum over leading axes the operand lacks and over axes where it has length 1.
 * Always returns a new tensor (a view of g when the shapes already match), which the rule may
 * return.
 */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  // Same shape: a new handle on g's storage (no copy; leaf accumulation copies shared storage).
  if (g.ndim === shape.length && g.shape.every((d, i) => d === shape[i])) return reshape(g, shape);
  const lead = g.ndim - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.ndim; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const s = sum(g, axes, true);
  const r = reshape(s, shape);
  s.dispose();
  return r;
}

/** The gradient of a reduction over `axes` of an input of `shape`, broadcast back to `shape`. */
export function unreduce(g: Tensor, shape: readonly number[], axes: readonly number[]): Tensor {
  const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const r = reshape(g, kept);
  const b = r.broadcastTo(shape);
  r.dispose();
  return b;
}
