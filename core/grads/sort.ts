/**
 * Backward rules of the sort ops: the gradient of each selected value flows back to the position
 * it came from (a scatter through the indices). `sort` has no index output, so its rule recomputes
 * the permutation with `argsort` (the same stable order, NaN placement included); `topk` uses the
 * indices its kernel returned. argsort, argmax, argmin and nonzero return integers: never
 * differentiable.
 *
 * @module
 */
import { registerGradient } from "../autograd.ts";
import { tidy } from "../memory.ts";
import type { Tensor } from "../tensor.ts";
import { zeros } from "../ops/creation.ts";
import { scatterAdd } from "../ops/indexing.ts";
import { argsort } from "../ops/sort.ts";

/** A zero tensor of `x`'s shape with `g` added at `indices` along `axis`. */
function scatterBack(g: Tensor, x: Tensor, axis: number, indices: Tensor): Tensor {
  return scatterAdd(zeros(x.shape, { dtype: g.dtype, device: g.device }), axis, indices, g);
}

registerGradient("sort", ([g], { inputs: [x], attrs }) => [
  tidy(() => {
    const axis = attrs.axis as number;
    return scatterBack(g!, x, axis, argsort(x, axis, attrs.descending as boolean));
  }),
]);

registerGradient("topk", ([g], { inputs: [x], outputs: [, indices], attrs }) => [
  g ? tidy(() => scatterBack(g, x, attrs.axis as number, indices)) : null,
]);
