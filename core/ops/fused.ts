/**
 * Fused updates that replace a chain of elementwise ops with one kernel where a backend has it:
 * the optimizers' per-parameter steps. Each returns false (and changes nothing) when the fused
 * kernel cannot take the operands, so the caller runs its composed form instead.
 *
 * @module
 */
import { hasKernel } from "../../backends/registry.ts";
import type { AdamStepAttrs } from "../../backends/scalar/kernels/optim.ts";
import { noGrad } from "../autograd.ts";
import { runKernel } from "../op.ts";
import type { Tensor } from "../tensor.ts";

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
