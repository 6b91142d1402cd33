/**
 * Backward rules of reductions.
 *
 * @module
 */
import { registerGradient } from "../autograd.ts";
import { div } from "../ops/elementwise.ts";
import { unreduce } from "./util.ts";

registerGradient("sum", ([g], { inputs: [x], attrs }) => {
  const b = unreduce(g!, x.shape, attrs.axes as number[]);
  const c = b.contiguous();
  b.dispose();
  return [c];
});

registerGradient("mean", ([g], { inputs: [x], attrs }) => {
  const axes = attrs.axes as number[];
  const n = axes.reduce((p, a) => p * x.shape[a], 1);
  const b = unreduce(g!, x.shape, axes);
  const r = div(b, n);
  b.dispose();
  return [r];
});
