/**
 * Fused ops that replace a chain of ops with one kernel where a backend has it: `linear` (a
 * product plus a bias) and the optimizers' per-parameter steps. Where no kernel takes the
 * operands, `linear` composes the same result from ops, and `adamStep` returns false (changing
 * nothing) so that the caller runs its composed form.
 *
 * @module
 */
import { hasKernel } from "../backend/registry.ts";
import type { AdamStepAttrs } from "../backend/attrs.ts";
import { noGrad } from "../autograd.ts";
import { fmtShape, ShapeError } from "../errors.ts";
import { runKernel, runKernel1 } from "../op.ts";
import type { Tensor } from "../tensor.ts";
import { add } from "./elementwise.ts";
import { matmul } from "./matmul.ts";
import { reshape } from "./view.ts";
import { scoped } from "../dispose.ts";

export type { AdamStepAttrs };

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
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  checkLinear("linear", x, weight, bias);
  const [out, inF] = weight.shape;
  const lead = x.shape.slice(0, -1);
  const d = weight.dtype;
  const fused = (d === "f32" || d === "f64") && x.dtype === d && (!bias || bias.dtype === d) &&
    hasKernel("linear", x.device);
  return scoped((own) => {
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
