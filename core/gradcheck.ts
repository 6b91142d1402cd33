/**
 * Gradient checking against finite differences (`gradcheck`, like `torch.autograd.gradcheck`) and
 * activation checkpointing (`checkpoint`, like `torch.utils.checkpoint`).
 *
 * @module
 */
import {
  enableGrad,
  isDifferentiable,
  needsGrad,
  noGrad,
  record,
  registerGradient,
} from "./autograd.ts";
import { ComputeError, DTypeError, ShapeError } from "./errors.ts";
import { tidy } from "./memory.ts";
import { Tensor } from "./tensor.ts";
import { tensor } from "./ops/creation.ts";
import { astype } from "./ops/view.ts";

/** Options of {@link gradcheck}. */
export interface GradcheckOptions {
  /** Finite-difference step (default 1e-6). */
  eps?: number;
  /** Absolute tolerance (default 1e-5). */
  atol?: number;
  /** Relative tolerance, against the numerical value (default 1e-3). */
  rtol?: number;
}

/** A function of tensors returning one tensor or several (what gradcheck differentiates). */
export type TensorFn = (...inputs: Tensor[]) => Tensor | readonly Tensor[];

function asList(r: Tensor | readonly Tensor[]): Tensor[] {
  return r instanceof Tensor ? [r] : [...r];
}

/** The float64 values of a tensor, in C order. */
function valuesOf(t: Tensor): Float64Array {
  return noGrad(() => {
    const c = astype(t, "f64");
    const v = Float64Array.from(c.dataSync() as Float64Array);
    c.dispose();
    return v;
  });
}

/**
 * Check the gradients of `fn` at `inputs` against central finite differences in float64, like
 * `torch.autograd.gradcheck`: every element of the Jacobian of every float output with respect to
 * every checked input must satisfy `|analytic - numeric| ≤ atol + rtol·|numeric|`. The checked
 * inputs are the float inputs that require gradients (all float inputs if none does); they are
 * converted to f64 copies, so `fn` runs in double precision when its other operands allow. Returns
 * true, or throws a ComputeError naming the input, the worst element and both values. The
 * analytic Jacobian takes one backward pass per output element: keep the outputs small.
 *
 * @example
 * ```ts
 * import { gradcheck, tensor } from "@aprender/compute";
 * const x = tensor([0.5, 1.5, -2], { dtype: "f64" }).requireGrad();
 * console.log(gradcheck((a) => a.mul(a).exp(), [x])); // true
 * ```
 */
export function gradcheck(
  fn: TensorFn,
  inputs: readonly Tensor[],
  options: GradcheckOptions = {},
): boolean {
  const { eps = 1e-6, atol = 1e-5, rtol = 1e-3 } = options;
  const floats = inputs.map((t) => isDifferentiable(t));
  const anyReq = inputs.some((t) => t.requiresGrad);
  const checked = inputs.map((t, i) => floats[i] && (!anyReq || t.requiresGrad));
  if (!checked.some((c) => c)) {
    throw new DTypeError(
      `gradcheck: none of the ${inputs.length} inputs is a float tensor to differentiate ` +
        `(dtypes ${inputs.map((t) => t.dtype).join(", ")}). Hint: pass f64 tensors.`,
    );
  }
  const base = inputs.map((t, i) => (checked[i] ? valuesOf(t) : null));
  /** Evaluate fn without the graph on inputs where input k has values `vals`. */
  const evaluate = (k: number, vals: Float64Array): Float64Array[] =>
    tidy(() =>
      noGrad(() => {
        const args = inputs.map((t, i) =>
          !checked[i]
            ? t
            : tensor(i === k ? vals : base[i]!, { dtype: "f64", shape: t.shape, device: t.device })
        );
        return asList(fn(...args)).filter(isDifferentiable).map(valuesOf);
      })
    );
  // Analytic Jacobians: one backward pass per output element.
  const analytic: Float64Array[][] = []; // [output][element] -> concatenated input grads
  tidy(() => {
    const leaves = inputs.map((t, i) =>
      checked[i]
        ? tensor(base[i]!, { dtype: "f64", shape: t.shape, device: t.device }).requireGrad()
        : t
    );
    const outs = asList(fn(...leaves)).filter(isDifferentiable);
    for (const o of outs) {
      const rows: Float64Array[] = [];
      for (let j = 0; j < o.size; j++) {
        const row = base.map((b) => (b ? new Float64Array(b.length) : null));
        if (o.requiresGrad) {
          const seed = new Float64Array(o.size);
          seed[j] = 1;
          o.backward(tensor(seed, { dtype: "f64", shape: o.shape }), { retainGraph: true });
          leaves.forEach((l, i) => {
            if (!checked[i] || !l.grad) return;
            row[i]!.set(valuesOf(l.grad));
            l.grad.dispose();
            l.grad = null;
          });
        }
        rows.push(Float64Array.from(row.flatMap((r) => (r ? [...r] : []))));
      }
      analytic.push(rows);
    }
    leaves.forEach((l, i) => checked[i] && l.dispose());
  });
  // Numerical Jacobians, one input element at a time, and the comparison.
  let flatPos = 0;
  inputs.forEach((t, k) => {
    if (!checked[k]) return;
    const b = base[k]!;
    for (let e = 0; e < b.length; e++) {
      const v = b.slice();
      v[e] = b[e] + eps;
      const plus = evaluate(k, v);
      v[e] = b[e] - eps;
      const minus = evaluate(k, v);
      plus.forEach((p, oi) => {
        for (let j = 0; j < p.length; j++) {
          const num = (p[j] - minus[oi][j]) / (2 * eps);
          const ana = analytic[oi][j][flatPos + e];
          if (!(Math.abs(ana - num) <= atol + rtol * Math.abs(num))) {
            throw new ComputeError(
              `gradcheck: the gradient of output ${oi} element ${j} with respect to input ${k} ` +
                `(shape ${JSON.stringify(t.shape)}) element ${e} is ${ana} analytically but ` +
                `${num} by finite differences (|diff| ${Math.abs(ana - num)} > atol ${atol} + ` +
                `rtol ${rtol}·|numeric|). Hint: check the backward rule of the ops fn uses.`,
            );
          }
        }
      });
    }
    flatPos += b.length;
  });
  return true;
}

/** What the checkpoint node keeps: only the function (the inputs are saved by the node). */
interface CheckpointAttrs {
  fn: TensorFn;
}

registerGradient("checkpoint", (grads, { inputs, attrs, needs }) => {
  const { fn } = attrs as CheckpointAttrs;
  return enableGrad(() =>
    tidy(() => {
      const leaves = inputs.map((t, i) => {
        const d = t.detach();
        if (needs[i]) d.requiresGrad = true;
        return d;
      });
      const outs = asList(fn(...leaves));
      // Backpropagate Σ_j <out_j, g_j> through the recomputed segment.
      let root: Tensor | null = null;
      outs.forEach((o, j) => {
        const g = grads[j];
        if (!g || !o.requiresGrad) return;
        const term = o.mul(g).sum();
        root = root ? root.add(term) : term;
      });
      if (root) (root as Tensor).backward();
      return leaves.map((l) => {
        const g = l.grad;
        l.grad = null;
        return g;
      });
    })
  );
});

/**
 * Activation checkpointing (PyTorch's `torch.utils.checkpoint`): run `fn(...inputs)` without
 * recording its internals, so its intermediate activations are not kept for backward; backward
 * re-runs `fn` on the saved inputs with the graph on and backpropagates through that
 * recomputation. Parameters `fn` closes over receive their gradients during that pass. `fn` must
 * be deterministic (seed any dropout) and return a tensor or an array of tensors. When no input
 * requires a gradient, `fn` simply runs with the graph on (nothing would connect it otherwise).
 *
 * @example
 * ```ts
 * import { checkpoint, tensor } from "@aprender/compute";
 * const x = tensor([1, 2]).requireGrad();
 * const y = checkpoint((a) => a.exp().mul(a), x);
 * y.sum().backward();
 * console.log(x.grad!.shape); // [2]
 * ```
 */
export function checkpoint<R extends Tensor | readonly Tensor[]>(
  fn: (...inputs: Tensor[]) => R,
  ...inputs: Tensor[]
): R {
  for (const [i, t] of inputs.entries()) {
    if (!(t instanceof Tensor)) {
      throw new ShapeError(
        `checkpoint: input ${i} is not a Tensor (got ${typeof t}). Hint: pass tensors as ` +
          `inputs and capture other values in fn's closure.`,
      );
    }
  }
  if (!needsGrad(inputs)) return fn(...inputs);
  const result = noGrad(() => fn(...inputs));
  record("checkpoint", inputs, asList(result), { fn } satisfies CheckpointAttrs);
  return result;
}
