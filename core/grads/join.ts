/**
 * Backward rules of the join ops, which record themselves at op level (core/ops/join.ts) because
 * they write into tensors they allocate: concat (and stack, built on it), constant pad, tile,
 * repeat (one count) and roll. Pad's other modes and repeat with per-element counts are built on
 * `take` and split/chunk on slices, whose rules serve them.
 *
 * @module
 */
import { registerGradient } from "../autograd.ts";
import type { Tensor } from "../tensor.ts";
import { sum } from "../ops/reduce.ts";
import { astype, reshape } from "../ops/view.ts";
import { roll } from "../ops/join.ts";

/** A contiguous copy of `v` in `dtype` (v is consumed). */
function own(v: Tensor, dtype: Tensor["dtype"]): Tensor {
  const c = astype(v, dtype);
  v.dispose();
  return c;
}

/** A view of `g` restricted to `start..start+n` on `axis`. */
function band(g: Tensor, axis: number, start: number, n: number): Tensor {
  const shape = [...g.shape];
  shape[axis] = n;
  return g._view(shape, g.strides, g.offset + (n > 0 ? start * g.strides[axis] : 0));
}

/** concat: each input's gradient is its band of the output gradient along the axis. */
registerGradient("concat", ([g], { inputs, attrs, needs }) => {
  const a = attrs.axis as number;
  let pos = 0;
  return inputs.map((t, i) => {
    const n = t.shape[a];
    pos += n;
    return needs[i] ? own(band(g!, a, pos - n, n), t.dtype) : null;
  });
});

/** Constant pad: the gradient of the interior region. */
registerGradient("pad", ([g], { inputs: [x], attrs }) => {
  const pairs = attrs.pairs as [number, number][];
  const offset = g!.offset + pairs.reduce((s, [b], a) => s + b * g!.strides[a], 0);
  return [own(g!._view(x.shape, g!.strides, x.size > 0 ? offset : g!.offset), x.dtype)];
});

/**
 * tile: the output viewed as (r0, s0, r1, s1, ...) holds r copies of x on each axis; the gradient
 * sums over the copies.
 */
registerGradient("tile", ([g], { inputs: [x], attrs }) => {
  const inter = attrs.inter as number[];
  const gi = reshape(g!, inter);
  const s = sum(gi, inter.map((_, i) => i).filter((i) => i % 2 === 0));
  gi.dispose();
  const r = reshape(s, x.shape);
  s.dispose();
  return [own(r, x.dtype)];
});

/** repeat with one count: the output viewed with a repeat axis after `axis`; sum over it. */
registerGradient("repeat", ([g], { inputs: [x], attrs }) => {
  const gi = reshape(g!, attrs.inter as number[]);
  const s = sum(gi, attrs.axis as number);
  gi.dispose();
  return [own(s, x.dtype)];
});

/** roll: roll the gradient back. */
registerGradient("roll", ([g], { inputs: [x], attrs }) => {
  const shifts = attrs.shifts as number[];
  const axes = shifts.map((_, a) => a);
  if (axes.length === 0) return [own(g!.clone(), x.dtype)];
  return [own(roll(g!, shifts.map((s) => -s), axes), x.dtype)];
});
