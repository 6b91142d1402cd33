/**
 * Backward rules of the fused normalization kernels: `batchNormBackward` and `layerNormBackward`
 * compute the input gradient and the weight and bias gradients (Σgy·x̂, Σgy) in one go
 * (contracts in backends/scalar/kernels/norm.ts and layer_norm.ts).
 *
 * @module
 */
import { registerGradient } from "../autograd.ts";
import type { BatchNormAttrs, LayerNormAttrs } from "../backend/attrs.ts";
import { DTypeError } from "../errors.ts";
import { runKernel } from "../op.ts";
import { contiguous, reshape } from "../ops/view.ts";
import type { Tensor } from "../tensor.ts";

/** Run a fused norm's backward kernel and hand out the gradients the rule was asked for. */
function normBackward(
  op: "batchNormBackward" | "layerNormBackward",
  name: string,
  grads: readonly (Tensor | null)[],
  inputs: readonly Tensor[],
  stats: readonly Tensor[],
  attrs: BatchNormAttrs | LayerNormAttrs,
  needs: readonly boolean[],
  paramSize: number,
): (Tensor | null)[] {
  const [gy, gm, gv] = grads;
  if (gm || gv) {
    throw new DTypeError(
      `${name}: the statistics it returns (mean, variance) are not differentiable. Hint: ` +
        "detach() them, or compose the normalization from ops.",
    );
  }
  if (!gy) return inputs.map(() => null);
  const x = inputs[0], w = attrs.hasWeight ? inputs[1] : null;
  const g = gy.isContiguous ? gy : contiguous(gy);
  const [dx, dw, db] = runKernel(op, w ? [g, x, ...stats, w] : [g, x, ...stats], attrs, [
    { shape: x.shape, dtype: x.dtype, overwritten: true },
    { shape: [paramSize], dtype: x.dtype, overwritten: true },
    { shape: [paramSize], dtype: x.dtype, overwritten: true },
  ]);
  if (g !== gy) g.dispose();
  const out: (Tensor | null)[] = [needs[0] ? dx : null];
  if (!needs[0]) dx.dispose();
  const shaped = (t: Tensor, like: Tensor) => {
    if (like.shape.length === 1) return t;
    const r = reshape(t, like.shape);
    t.dispose();
    return r;
  };
  if (w) out.push(needs[1] ? shaped(dw, w) : null);
  if (!w || !needs[1]) dw.dispose();
  if (attrs.hasBias) {
    const i = out.length;
    out.push(needs[i] ? shaped(db, inputs[i]) : null);
    if (!needs[i]) db.dispose();
  } else db.dispose();
  return out;
}

registerGradient("batchNormTrain", (grads, { inputs, outputs, attrs, needs }) =>
  normBackward(
    "batchNormBackward",
    "batchNormTrain",
    grads,
    inputs,
    outputs.slice(1),
    attrs as BatchNormAttrs,
    needs,
    inputs[0].shape[1],
  ));

registerGradient("layerNorm", (grads, { inputs, outputs, attrs, needs }) =>
  normBackward(
    "layerNormBackward",
    "layerNorm",
    grads,
    inputs,
    outputs.slice(1),
    attrs as LayerNormAttrs,
    needs,
    (attrs as LayerNormAttrs).size,
  ));
