/**
 * Gradient checks against PyTorch, shared by the rule tests: run every case's forward and
 * backward here and in torch (one Python process for all cases), and compare the forward values,
 * the loss Σ y·c with random weights c, and every input's gradient.
 */
import assert from "node:assert/strict";
import { noGrad, type Tensor } from "../../mod.ts";
import { assertMatches, numpy, type Tolerance } from "./numpy.ts";
import { makeTensor } from "./gen.ts";

/** One gradient check: inputs (any layout), our op, the same op in torch. */
export interface GradCase {
  name: string;
  inputs: Tensor[];
  /** Which inputs require a gradient (default all). */
  needs?: boolean[];
  ours: (...x: Tensor[]) => Tensor;
  /** Python expression over the torch tensors x0, x1, ... (F is torch.nn.functional). */
  torch: string;
  /** Tolerance of the forward values and gradients (default: f32 1e-5/1e-6, f64 1e-10). */
  tol?: Tolerance;
}

export const TOL: Record<string, Tolerance> = {
  f32: { rtol: 1e-5, atol: 1e-6 },
  f64: { rtol: 1e-10, atol: 1e-10 },
};

/** Run all cases in one torch process and compare values, loss and gradients. */
export async function checkGrads(cases: GradCase[]): Promise<void> {
  const weights = cases.map((c, k) => {
    const y = noGrad(() => c.ours(...c.inputs));
    const w = makeTensor(y.shape, y.dtype, 7000 + k, "contiguous", { lo: -1, hi: 1 });
    y.dispose();
    return w;
  });
  const refs = await numpy(cases.map((c, k) => {
    const needs = c.needs ?? c.inputs.map(() => true);
    const names = c.inputs.map((_, i) => `x${i}`);
    return {
      setup: [
        "import torch",
        "import torch.nn.functional as F",
        ...names.map((n, i) =>
          `${n} = torch.tensor(${n}, requires_grad=${needs[i] ? "True" : "False"})`
        ),
        `y = ${c.torch}`,
        "loss = (y * torch.tensor(w)).sum()",
        "loss.backward()",
        "G = lambda t: (t.grad if t.grad is not None else torch.zeros_like(t)).numpy()",
      ].join("\n"),
      expr: `[y.detach().numpy(), loss.detach().numpy()] + [G(t) for t in [${names.join(", ")}]]`,
      arrays: { ...Object.fromEntries(c.inputs.map((x, i) => [`x${i}`, x])), w: weights[k] },
    };
  }));
  cases.forEach((c, k) => {
    const r = refs[k];
    assert.equal(r.error, undefined, `${c.name}: torch raised ${r.error}`);
    const needs = c.needs ?? c.inputs.map(() => true);
    const leaves = c.inputs.map((x, i) => (needs[i] ? x.detach().requireGrad() : x));
    const y = c.ours(...leaves);
    const tol = c.tol ?? TOL[y.dtype];
    const loss = y.mul(weights[k]).sum();
    loss.backward();
    assertMatches(y, r.results[0], tol, `${c.name}: value`);
    // The loss sums many products: its rounding error is relative to Σ|y·w|.
    const scale = noGrad(() => y.mul(weights[k]).abs().sum().item() as number);
    assertMatches(
      loss,
      r.results[1],
      { rtol: tol.rtol, atol: tol.atol! + tol.rtol! * scale },
      `${c.name}: loss`,
    );
    leaves.forEach((x, i) => {
      if (!needs[i]) return assert.equal(x.grad, null, `${c.name}: input ${i} got a grad`);
      assertMatches(x.grad!, r.results[2 + i], tol, `${c.name}: grad ${i}`);
    });
    for (const t of [y, loss, weights[k], ...leaves]) t.dispose();
    for (const t of c.inputs) t.dispose();
  });
}
