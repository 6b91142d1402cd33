/**
 * Gradient clipping (PyTorch's `torch.nn.utils.clip_grad_norm_` and `clip_grad_value_`): both
 * rescale or clamp the `.grad` of each parameter in place.
 *
 * @module
 */
import { noGrad } from "../core/autograd.ts";
import { ComputeError } from "../core/errors.ts";
import { keep, tidy } from "../core/memory.ts";
import { tensor } from "../core/ops/creation.ts";
import { div, isfinite } from "../core/ops/elementwise.ts";
import { stack } from "../core/ops/join.ts";
import { norm } from "../core/ops/reduce.ts";
import { copyInto } from "../core/ops/view.ts";
import { Tensor } from "../core/tensor.ts";

/** Options of {@link clipGradNorm}. */
export interface ClipGradNormOptions {
  /** Throw if the total norm is NaN or infinite (default false: the gradients are scaled anyway). */
  errorIfNonfinite?: boolean;
}

function gradsOf(params: Tensor | Iterable<Tensor>): Tensor[] {
  const list = params instanceof Tensor ? [params] : [...params];
  return list.filter((p) => p.grad).map((p) => p.grad!);
}

/**
 * Scale the gradients of `params` so that their total `normType`-norm (the norm of all
 * gradients together, as if concatenated) is at most `maxNorm`: each gradient is multiplied by
 * `min(1, maxNorm / (total + 1e-6))`, exactly as PyTorch does. Returns the total norm before
 * clipping, as a 0-d tensor (the caller disposes it). `normType` may be `Infinity`.
 *
 * @example
 * ```ts
 * import { optim, tensor } from "@aprender/compute";
 * const w = tensor([3, 4]).requireGrad();
 * w.mul(tensor([3, 4])).sum().backward(); // grad = [3, 4], norm 5
 * const total = optim.clipGradNorm([w], 1);
 * console.log(total.item(), w.grad!.toArraySync()); // 5 [0.6, 0.8] (approximately)
 * ```
 */
export function clipGradNorm(
  params: Tensor | Iterable<Tensor>,
  maxNorm: number,
  normType = 2,
  options: ClipGradNormOptions = {},
): Tensor {
  const grads = gradsOf(params);
  if (grads.length === 0) return tensor(0);
  return noGrad(() =>
    tidy(() => {
      const norms = grads.map((g) => norm(g.reshape([-1]), normType, 0));
      const total = keep(norm(stack(norms), normType, 0));
      if (options.errorIfNonfinite && !isfinite(total).item()) {
        total.dispose();
        throw new ComputeError(
          `clipGradNorm: the total norm of order ${normType} of the gradients is non-finite, ` +
            `so it cannot be clipped. Hint: pass { errorIfNonfinite: false } to scale the ` +
            `gradients by the non-finite norm anyway.`,
        );
      }
      const coef = div(maxNorm, total.add(1e-6)).clip(null, 1);
      for (const g of grads) copyInto(g, g.mul(coef));
      return total;
    })
  );
}

/**
 * Clamp every gradient element of `params` into `[-clipValue, clipValue]`, in place.
 *
 * @example
 * ```ts
 * import { optim, tensor } from "@aprender/compute";
 * const w = tensor([1, 1, 1]).requireGrad();
 * w.mul(tensor([-5, 0.5, 5])).sum().backward();
 * optim.clipGradValue([w], 1);
 * console.log(w.grad!.toArraySync()); // [-1, 0.5, 1]
 * ```
 */
export function clipGradValue(params: Tensor | Iterable<Tensor>, clipValue: number): void {
  const v = Number(clipValue);
  noGrad(() => {
    for (const g of gradsOf(params)) tidy(() => copyInto(g, g.clip(-v, v)));
  });
}
