/**
 * Fused ops that replace a chain of ops with one kernel where a backend has it: `linear` (a
 * product plus a bias) and the optimizers' per-parameter steps. Where no kernel takes the
 * operands, `linear` composes the same result from ops, and `adamStep` returns false (changing
 * nothing) so that the caller runs its composed form.
 *
 * @module
 */
import { hasKernel } from "../backend/registry.ts";
import type {
  AdamStepAttrs,
  BatchNormAttrs,
  BatchNormRunningAttrs,
  LayerNormAttrs,
} from "../backend/attrs.ts";
import { noGrad } from "../autograd.ts";
import { ownHalf } from "../autocast.ts";
import { DeviceError, fmtShape, ShapeError } from "../errors.ts";
import { runKernel, runKernel1 } from "../op.ts";
import type { Tensor } from "../tensor.ts";
import { add } from "./elementwise.ts";
import { matmul } from "./matmul.ts";
import { reshape } from "./view.ts";
import { scoped } from "../dispose.ts";

export type { AdamStepAttrs, BatchNormAttrs, BatchNormRunningAttrs, LayerNormAttrs };

/**
 * One Adam/AdamW step of parameter `p` in place, with its state `m`, `v` (and `vmax` for
 * AMSGrad), through the `adamStep` kernel (contract in backends/scalar/kernels/optim.ts). Runs
 * when every operand is contiguous, of one shape, one float dtype (f32/f64) and one device that
 * has the kernel; otherwise returns false without touching anything.
 *
 * @example
 * ```ts
 * import { adamStep, tensor, zeros } from "@aprender/compute";
 * const p = tensor([1, -2]), m = zeros([2]), v = zeros([2]);
 * const attrs = {
 *   lr: 0.1, weightDecay: 0, decay: "none", beta1: 0.9, beta2: 0.999, eps: 1e-8,
 *   stepSize: 0.1 / (1 - 0.9), bc2Sqrt: Math.sqrt(1 - 0.999), maximize: false,
 * } as const;
 * adamStep(p, tensor([2, -4]), m, v, null, attrs);
 * console.log(p.toArraySync()); // [0.9, -1.9] (approximately)
 * ```
 */
export function adamStep(
  p: Tensor,
  grad: Tensor,
  m: Tensor,
  v: Tensor,
  vmax: Tensor | null,
  attrs: AdamStepAttrs,
): boolean {
  const outs = vmax ? [p, m, v, vmax] : [p, m, v];
  const all = [...outs, grad];
  const { dtype, device, shape } = p;
  if (dtype !== "f32" && dtype !== "f64") return false;
  for (const t of all) {
    if (
      t.dtype !== dtype || t.device !== device || !t.isContiguous || t.ndim !== shape.length ||
      !t.shape.every((d, i) => d === shape[i])
    ) return false;
  }
  if (!hasKernel("adamStep", device)) return false;
  noGrad(() => runKernel("adamStep", [grad], attrs, outs));
  return true;
}

/**
 * `x·Wᵀ + b` over the last axis of `x` (PyTorch's `F.linear`): x (..., in), weight (out, in),
 * optional bias (out,) → (..., out). One `linear` kernel where the device has one and the
 * operands share a float dtype (OpenBLAS: the bias written into the output, then one GEMM that
 * adds to it); otherwise `matmul(x, weight.T)` plus the bias. Its gradient is computed directly in
 * each operand's layout: x̄ = ḡ·W, W̄ = ḡᵀ·x, b̄ = Σ ḡ.
 *
 * @example
 * ```ts
 * import { linear, tensor } from "@aprender/compute";
 * const y = linear(tensor([[1, 2]]), tensor([[1, 0], [1, 1], [0, 2]]), tensor([0, 10, 100]));
 * console.log(y.toArraySync()); // [[1, 13, 104]]
 * ```
 */
export function linear(x0: Tensor, weight0: Tensor, bias0: Tensor | null = null): Tensor {
  checkLinear("linear", x0, weight0, bias0);
  return scoped((own) => {
    // Inside an autocast scope: half-precision operands (core/autocast.ts).
    const x = ownHalf(own, x0), weight = ownHalf(own, weight0);
    const bias = bias0 && ownHalf(own, bias0);
    const [out, inF] = weight.shape;
    const lead = x.shape.slice(0, -1);
    const d = weight.dtype;
    const fused = (d === "f32" || d === "f64") && x.dtype === d && (!bias || bias.dtype === d) &&
      hasKernel("linear", x.device);
    if (!fused) {
      const y = matmul(x, own(weight.T));
      return bias ? add(own(y), bias) : y;
    }
    const x2 = own(x.ndim === 2 ? x : reshape(x, [-1, inF]), x);
    // Every linear kernel writes each output element (the bias, or zeros, then the product).
    const y = runKernel1("linear", bias ? [x2, weight, bias] : [x2, weight], {}, {
      shape: [x2.shape[0], out],
      dtype: d,
      overwritten: true,
    });
    return x.ndim === 2 ? y : reshape(own(y), [...lead, out]);
  });
}

/** Shape checks of {@link linear}, naming `label` (the op, or the layer that calls it). */
export function checkLinear(
  label: string,
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
): void {
  if (weight.ndim !== 2) {
    throw new ShapeError(
      `${label}: weight of shape ${fmtShape(weight.shape)} must be 2-D (out_features, ` +
        `in_features).`,
    );
  }
  const inF = weight.shape[1];
  if (x.ndim === 0 || x.shape[x.ndim - 1] !== inF) {
    throw new ShapeError(
      `${label}: input has ${x.ndim === 0 ? "no axes" : `${x.shape[x.ndim - 1]} features`} on ` +
        `its last axis, expected ${inF} (input shape ${fmtShape(x.shape)}, expected ` +
        `(*, ${inF})).`,
    );
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== weight.shape[0])) {
    throw new ShapeError(
      `${label}: bias of shape ${fmtShape(bias.shape)} does not fit ${weight.shape[0]} ` +
        `output features; expected (${weight.shape[0]},).`,
    );
  }
}

/**
 * Batch normalization with the batch's statistics (training mode) in one fused kernel where the
 * device has one that takes the operands: x (N, C, *) normalized per channel over every other
 * axis, then scaled by `weight` and shifted by `bias` (each (C,) or null). Returns
 * `[y, mean, variance]` (the variance biased, as the normalization uses it), or null where no
 * kernel applies (a dtype other than f32/f64, non-contiguous or mixed operands, a device without
 * the kernel): the caller composes it from ops then. Differentiable in x, weight and bias (the
 * `batchNormBackward` kernel); mean and variance are statistics, not differentiable.
 *
 * @example
 * ```ts
 * import { batchNormTrain, tensor } from "@aprender/compute";
 * const x = tensor([[[1, 3]], [[5, 7]]]); // (N=2, C=1, 2)
 * const [y, mean, variance] = batchNormTrain(x, null, null, 0)!;
 * console.log(mean.toArraySync(), variance.toArraySync()); // [4] [5]
 * console.log(y.toArraySync()); // ≈ [[[-1.342, -0.447]], [[0.447, 1.342]]]
 * ```
 */
export function batchNormTrain(
  x: Tensor,
  weight: Tensor | null,
  bias: Tensor | null,
  eps: number,
): [Tensor, Tensor, Tensor] | null {
  if (x.ndim < 2) return null;
  const attrs: BatchNormAttrs = { eps, hasWeight: !!weight, hasBias: !!bias };
  return fusedNorm("batchNormTrain", x, weight, bias, attrs, x.shape[1]);
}

/**
 * Run a fused normalization kernel on (x, [weight], [bias]) → [y, and two statistics of `n`
 * values], or null where none applies: a dtype other than f32/f64, an empty x, operands of mixed
 * dtypes or devices or not contiguous, a device without the kernel or whose kernel declines.
 */
function fusedNorm(
  op: "batchNormTrain" | "layerNorm",
  x: Tensor,
  weight: Tensor | null,
  bias: Tensor | null,
  attrs: BatchNormAttrs | LayerNormAttrs,
  n: number,
): [Tensor, Tensor, Tensor] | null {
  const d = x.dtype;
  const ops = [x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  if ((d !== "f32" && d !== "f64") || x.size === 0) return null;
  if (ops.some((t) => t.dtype !== d || t.device !== x.device || !t.isContiguous)) return null;
  if (!hasKernel(op, x.device)) return null;
  try {
    const [y, a, b] = runKernel(op, ops, attrs, [
      { shape: x.shape, dtype: d, overwritten: true },
      { shape: [n], dtype: d, overwritten: true },
      { shape: [n], dtype: d, overwritten: true },
    ]);
    return [y, a, b];
  } catch (e) {
    // A device whose kernel declines these operands (e.g. f64 on the GPU): compose instead.
    if (e instanceof DeviceError && x.device !== "cpu") return null;
    throw e;
  }
}

/**
 * Layer normalization over the trailing `size` elements of `x` (the normalized shape's product)
 * in one fused kernel where the device has one that takes the operands, scaled by `weight` and
 * shifted by `bias` (each of `size` elements, or null). Returns `[y, mean, rstd]` (mean and
 * 1/√(var + eps) of each row, of shape x.size / size), or null where no kernel applies (a dtype
 * other than f32/f64, non-contiguous or mixed operands): the caller composes it from ops then.
 * Differentiable in x, weight and bias (the `layerNormBackward` kernel).
 *
 * @example
 * ```ts
 * import { layerNormFused, tensor } from "@aprender/compute";
 * const [y, mean, rstd] = layerNormFused(tensor([[1, 3], [2, 2]]), 2, null, null, 0)!;
 * console.log(y.toArraySync(), mean.toArraySync()); // [[-1, 1], [0, 0]] [2, 2]
 * ```
 */
export function layerNormFused(
  x: Tensor,
  size: number,
  weight: Tensor | null,
  bias: Tensor | null,
  eps: number,
): [Tensor, Tensor, Tensor] | null {
  if (size <= 0 || x.size % size !== 0) return null;
  if ((weight && weight.size !== size) || (bias && bias.size !== size)) return null;
  const attrs: LayerNormAttrs = { eps, size, hasWeight: !!weight, hasBias: !!bias };
  return fusedNorm("layerNorm", x, weight, bias, attrs, x.size / size);
}
