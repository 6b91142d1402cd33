/**
 * Backward rules of the conv family, on the NCHW kernels the ops call (1-D and unbatched input
 * reach them through reshapes, whose rules map the gradients back).
 *
 * conv2d's gradients are the kernels `conv2dBackwardInput` (g, w → dx) and
 * `conv2dBackwardWeight` (x, g → dW), which every CPU backend has (the scalar reference, and
 * the WASM plugin's im2col/col2im + GEMM). Where a device's plugins lack one (the GPU plugin
 * has the input gradient for most shapes, not the weight gradient), that one is composed: the
 * padded input viewed through one strided window view (N, C, KH, KW, OH, OW) is copied into
 * columns; dW = g · colsᵀ, and the input gradient is
 * Wᵀ · g scattered back window tap by window tap (col2im), groups a batch axis of those
 * products. Pooling gradients use the `maxPool2dBackward` / `avgPool2dBackward` kernels.
 *
 * @module
 */
import { registerGradient } from "../autograd.ts";
import { DeviceError } from "../errors.ts";
import { runKernel1 } from "../op.ts";
import type { Conv2dAttrs, PoolAttrs } from "../backend/attrs.ts";
import type { Tensor } from "../tensor.ts";
import { zeros } from "../ops/creation.ts";
import { add } from "../ops/elementwise.ts";
import { matmul } from "../ops/matmul.ts";
import { sum } from "../ops/reduce.ts";
import { astype, copyInto, permute, reshape, swapaxes } from "../ops/view.ts";
import { disposeAll } from "../dispose.ts";

/** A contiguous copy of `v` in `dtype` (v is consumed). */
function own(v: Tensor, dtype: Tensor["dtype"]): Tensor {
  if (v.dtype === dtype) return v;
  const c = astype(v, dtype);
  v.dispose();
  return c;
}

/** Run a gradient kernel; null when no plugin of the device has it (the caller composes it). */
function gradKernel(
  op: "conv2dBackwardInput" | "conv2dBackwardWeight",
  inputs: Tensor[],
  attrs: Conv2dAttrs,
  shape: readonly number[],
  dtype: Tensor["dtype"],
): Tensor | null {
  // The output gradient: (g, w) for the input's gradient, (x, g) for the weight's. When it is not
  // empty, every kernel writes each element of its result (the dispatcher skips the zero-fill).
  const g = op === "conv2dBackwardInput" ? inputs[0] : inputs[1];
  try {
    return runKernel1(op, inputs, attrs, { shape, dtype, overwritten: g.size > 0 });
  } catch (e) {
    if (e instanceof DeviceError && inputs[0].device !== "cpu") return null;
    throw e;
  }
}

registerGradient("conv2d", ([g0], { inputs: [x, w, bias], attrs, needs }) => {
  const g = g0!;
  const gx = needs[0] ? gradKernel("conv2dBackwardInput", [g, w], attrs, x.shape, x.dtype) : null;
  const gw = needs[1] ? gradKernel("conv2dBackwardWeight", [x, g], attrs, w.shape, w.dtype) : null;
  if ((needs[0] && !gx) || (needs[1] && !gw)) {
    // Compose only the gradients no kernel of the device computed.
    const rest = composedConv2dGrad(g, x, w, bias, attrs, [
      needs[0] && !gx,
      needs[1] && !gw,
      needs[2],
    ]);
    return [gx ?? rest[0], gw ?? rest[1], ...rest.slice(2)];
  }
  const gb = bias && needs[2] ? own(sum(g, [0, 2, 3]), bias.dtype) : null;
  return bias ? [gx, gw, gb] : [gx, gw];
});

/** The conv2d gradients from core ops (im2col views, matmul, col2im by tap), for any device. */
function composedConv2dGrad(
  g: Tensor,
  x: Tensor,
  w: Tensor,
  bias: Tensor | undefined,
  attrs: unknown,
  needs: readonly boolean[],
): (Tensor | null)[] {
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
  const [N, C, H, W] = x.shape, [O, Cg, KH, KW] = w.shape, [, , OH, OW] = g.shape;
  const Og = O / G, P = OH * OW, K = Cg * KH * KW;
  const Hp = H + pt + pb, Wp = W + pl + pr;
  const tmp: Tensor[] = [];
  const t = <T extends Tensor>(v: T): T => (tmp.push(v), v);
  try {
    // g as (G, Og, N·P): one matrix per group.
    const gp = t(reshape(t(permute(t(reshape(g, [N, G, Og, P])), [1, 2, 0, 3])), [G, Og, N * P]));
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
    if (bias && needs[2]) gb = own(sum(g, [0, 2, 3]), bias.dtype);
    return bias ? [gx, gw, gb] : [gx, gw];
  } finally {
    disposeAll(tmp);
  }
}

/** The pooling gradients, each computed by its backward kernel. */
const POOL_BACKWARD = { maxPool2d: "maxPool2dBackward", avgPool2d: "avgPool2dBackward" } as const;
for (const op of ["maxPool2d", "avgPool2d"] as const) {
  registerGradient(op, ([g], { inputs: [x], attrs }) => [
    // Each kernel clears and fills every plane of the input gradient.
    runKernel1(POOL_BACKWARD[op], [x, g!], attrs as PoolAttrs, {
      shape: x.shape,
      dtype: x.dtype,
      overwritten: true,
    }),
  ]);
}
