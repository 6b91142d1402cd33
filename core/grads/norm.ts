/**
 * Backward rule of the fused `batchNormTrain` kernel: the `batchNormBackward` kernel computes the
 * input gradient and the weight and bias gradients (Σgy·x̂, Σgy) in one go (contract in
 * backends/scalar/kernels/norm.ts).
 *
 * @module
 */
import { registerGradient } from "../autograd.ts";
import type { BatchNormAttrs } from "../backend/attrs.ts";
import { DTypeError } from "../errors.ts";
import { runKernel } from "../op.ts";
import { contiguous } from "../ops/view.ts";

registerGradient("batchNormTrain", (grads, { inputs, outputs, attrs, needs }) => {
  const a = attrs as BatchNormAttrs;
  const [gy, gm, gv] = grads;
  if (gm || gv) {
    throw new DTypeError(
      "batchNormTrain: the batch mean and variance it returns are statistics, not " +
        "differentiable. Hint: detach() them, or compose the normalization from ops.",
    );
  }
  const none = inputs.map(() => null);
  if (!gy) return none;
  const x = inputs[0], w = a.hasWeight ? inputs[1] : null;
  const [, mean, v] = outputs;
  const g = gy.isContiguous ? gy : contiguous(gy);
  const C = x.shape[1];
  const [dx, dw, db] = runKernel(
    "batchNormBackward",
    w ? [g, x, mean, v, w] : [g, x, mean, v],
    a,
    [
      { shape: x.shape, dtype: x.dtype, overwritten: true },
      { shape: [C], dtype: x.dtype, overwritten: true },
      { shape: [C], dtype: x.dtype, overwritten: true },
    ],
  );
  if (g !== gy) g.dispose();
  const out = [needs[0] ? dx : null];
  if (!needs[0]) dx.dispose();
  if (a.hasWeight) out.push(needs[1] ? dw : null);
  if (!a.hasWeight || !needs[1]) dw.dispose();
  if (a.hasBias) out.push(needs[out.length] ? db : null);
  if (!a.hasBias || !needs[out.length - 1]) db.dispose();
  return out;
});
