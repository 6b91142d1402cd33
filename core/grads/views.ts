/**
 * Backward rules of the view ops. The generic "view" rule serves any view made with
 * `Tensor.view()` by scattering the gradient back through the storage positions the view shares
 * with its base; the named view ops have cheaper rules.
 *
 * @module
 */
import { registerGradient } from "../autograd.ts";
import { stridedOffsets } from "../shape.ts";
import type { Tensor } from "../tensor.ts";
import { tensor, zeros } from "../ops/creation.ts";
import { scatterAdd } from "../ops/indexing.ts";
import { astype, copyInto, flip, permute, reshape } from "../ops/view.ts";
import { sumToShape } from "./util.ts";

registerGradient("view.identity", ([g]) => [g!.clone()]);

registerGradient("view.reshape", ([g], { inputs: [x] }) => [reshape(g!, x.shape)]);

registerGradient("view.permute", ([g], { attrs }) => {
  const axes = attrs.axes as number[];
  const inv = new Array<number>(axes.length);
  axes.forEach((a, i) => (inv[a] = i));
  const p = permute(g!, inv);
  const c = p.contiguous();
  p.dispose();
  return [c];
});

registerGradient("view.broadcastTo", ([g], { inputs: [x] }) => [sumToShape(g!, x.shape)]);

registerGradient("view.flip", ([g], { attrs }) => {
  const f = flip(g!, attrs.axes as number[]);
  const c = f.contiguous();
  f.dispose();
  return [c];
});

/** Slice/select: write the gradient into the same region of a zero tensor of the input's shape. */
registerGradient("view.slice", ([g], { inputs: [x], attrs }) => {
  const plan = attrs.plan as [number, number, number][];
  const z = zeros(x.shape, { dtype: g!.dtype, device: g!.device });
  const shape: number[] = [], strides: number[] = [];
  let offset = 0;
  plan.forEach(([start, step, n], a) => {
    offset += start * z.strides[a];
    if (n >= 0) {
      shape.push(n);
      strides.push(z.strides[a] * step);
    }
  });
  if (!shape.includes(0)) {
    const region = z._view(shape, strides, offset);
    copyInto(region, g!);
    region.dispose();
  }
  return [z];
});

/**
 * Any view: element j of the view reads storage position p_j; the base's first logical element at
 * p_j receives its gradient (scatter-add, so repeated positions accumulate). Only metadata is read
 * on the host; the scatter runs on the tensors' device.
 */
registerGradient("view", ([g], { inputs: [base], outputs: [v] }) => {
  const bOffs = stridedOffsets(base.shape, base.strides, base.offset);
  const vOffs = stridedOffsets(v.shape, v.strides, v.offset);
  const first = new Map<number, number>();
  for (let i = bOffs.length - 1; i >= 0; i--) first.set(bOffs[i], i);
  const idx = new Int32Array(vOffs.length);
  for (let j = 0; j < vOffs.length; j++) idx[j] = first.get(vOffs[j]) ?? 0;
  const it = tensor(idx, { device: g!.device });
  const z = zeros([base.size], { dtype: g!.dtype, device: g!.device });
  const flat = reshape(g!, [g!.size]);
  const s = scatterAdd(z, 0, it, flat);
  const out = reshape(s, base.shape);
  for (const t of [it, z, flat, s]) t.dispose();
  return [out];
});

/** astype / contiguous copies: the gradient converted back to the input's dtype. */
registerGradient("copy", ([g], { inputs: [x] }): (Tensor | null)[] => [astype(g!, x.dtype)]);
