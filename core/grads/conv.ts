/**
 * Backward rules of the conv family, on the NCHW kernels the ops call (1-D and unbatched input
 * reach them through reshapes, whose rules map the gradients back).
 *
 * conv2d is differentiated with im2col and matrix products, so the heavy work runs in whichever
 * backend has the fastest `matmul`: the padded input viewed through one strided window view
 * (N, C, KH, KW, OH, OW) is copied into columns; dW = g · colsᵀ, and the input gradient is
 * Wᵀ · g scattered back window tap by window tap (col2im). Groups are a batch axis of those
 * products. Pooling gradients use the `maxPool2dBackward` / `avgPool2dBackward` kernels.
 *
 * @module
 */
import { registerGradient } from "../autograd.ts";
import { runKernel1 } from "../op.ts";
import type { Tensor } from "../tensor.ts";
import { zeros } from "../ops/creation.ts";
import { add } from "../ops/elementwise.ts";
import { matmul } from "../ops/linalg.ts";
import { sum } from "../ops/reduce.ts";
import { astype, copyInto, permute, reshape, swapaxes } from "../ops/view.ts";

/** A contiguous copy of `v` in `dtype` (v is consumed). */
function own(v: Tensor, dtype: Tensor["dtype"]): Tensor {
  const c = astype(v, dtype);
  v.dispose();
  return c;
}

registerGradient("conv2d", ([g], { inputs: [x, w, bias], attrs, needs }) => {
  const {
    stride: [sh, sw],
    padding: [pt, pb, pl, pr],
    dilation: [dh, dw],
    groups: G,
  } = attrs as {
    stride: [number, number];
    padding: [number, number, number, number];
    dilation: [number, number];
    groups: number;
  };
  const [N, C, H, W] = x.shape, [O, Cg, KH, KW] = w.shape, [, , OH, OW] = g!.shape;
  const Og = O / G, P = OH * OW, K = Cg * KH * KW;
  const Hp = H + pt + pb, Wp = W + pl + pr;
  const tmp: Tensor[] = [];
  const t = <T extends Tensor>(v: T): T => (tmp.push(v), v);
  try {
    // g as (G, Og, N·P): one matrix per group.
    const gp = t(reshape(t(permute(t(reshape(g!, [N, G, Og, P])), [1, 2, 0, 3])), [G, Og, N * P]));
    let gx: Tensor | null = null, gw: Tensor | null = null, gb: Tensor | null = null;
    if (needs[1]) {
      let xp = x;
      if (Hp !== H || Wp !== W) {
        xp = t(zeros([N, C, Hp, Wp], { dtype: x.dtype, device: x.device }));
        copyInto(t(xp._view(x.shape, xp.strides, pt * Wp + pl)), x);
      }
      const [sN, sC, sH, sW] = xp.strides;
      const win = t(xp._view(
        [G, Cg, KH, KW, N, OH, OW],
        [Cg * sC, sC, dh * sH, dw * sW, sN, sh * sH, sw * sW],
        xp.offset,
      ));
      const cols = t(reshape(win, [G, K, N * P]));
      const wg = t(matmul(gp, t(swapaxes(cols, 1, 2))));
      gw = own(reshape(wg, w.shape), w.dtype);
    }
    if (needs[0]) {
      const wt = t(swapaxes(t(reshape(w, [G, Og, K])), 1, 2));
      const dcols = t(matmul(wt, gp)); // (G, K, N·P), contiguous
      const dxp = t(zeros([N, C, Hp, Wp], { dtype: dcols.dtype, device: x.device }));
      const [sN, sC, sH, sW] = dxp.strides;
      const dShape = [G, Cg, N, OH, OW];
      const regionStrides = [Cg * sC, sC, sN, sh * sH, sw * sW];
      // dcols as (G, Cg, KH, KW, N, OH, OW): the tap (kh, kw) slice is (G, Cg, N, OH, OW).
      const cStrides = [K * N * P, KH * KW * N * P, KW * N * P, N * P, P, OW, 1];
      const tapStrides = [cStrides[0], cStrides[1], cStrides[4], cStrides[5], cStrides[6]];
      for (let kh = 0; kh < KH; kh++) {
        for (let kw = 0; kw < KW; kw++) {
          const region = dxp._view(dShape, regionStrides, kh * dh * sH + kw * dw * sW);
          const src = dcols._view(dShape, tapStrides, dcols.offset + kh * cStrides[2] + kw * N * P);
          const s = add(region, src);
          copyInto(region, s);
          for (const v of [region, src, s]) v.dispose();
        }
      }
      gx = own(dxp._view(x.shape, dxp.strides, pt * sH + pl * sW), x.dtype);
    }
    if (bias && needs[2]) gb = own(sum(g!, [0, 2, 3]), bias.dtype);
    return bias ? [gx, gw, gb] : [gx, gw];
  } finally {
    for (const v of tmp) v.dispose();
  }
});

/** The pooling gradients, each computed by its backward kernel. */
for (const op of ["maxPool2d", "avgPool2d"]) {
  registerGradient(op, ([g], { inputs: [x], attrs }) => [
    runKernel1(`${op}Backward`, [x, g!], attrs, { shape: x.shape, dtype: x.dtype }),
  ]);
}
