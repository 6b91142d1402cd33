/**
 * Gradient clipping against torch.nn.utils.clip_grad_norm_ / clip_grad_value_.
 */
import assert from "node:assert/strict";
import { ComputeError, type DType, memory, optim, type Tensor, tensor } from "../../mod.ts";
import { assertMatches, needsTorch, numpy } from "../helpers/numpy.ts";
import { makeTensor } from "../helpers/gen.ts";

const SHAPES = [[3, 4], [5], [2, 1, 3], []];

/** Parameters of SHAPES whose grads are random (scaled by `scale`), with optional inf/NaN. */
function params(dtype: DType, seed: number, scale: number, poison?: number): Tensor[] {
  return SHAPES.map((s, i) => {
    const p = makeTensor(s, dtype, seed + i).requireGrad();
    const g = makeTensor(s, dtype, seed + 100 + i);
    const vals = Array.from(g.dataSync() as Float64Array, (v) => v * scale);
    if (i === 0 && poison !== undefined) vals[1] = poison;
    g.dispose();
    p.grad = tensor(vals, { dtype, shape: s });
    return p;
  });
}

function grads(ps: Tensor[]): Record<string, Tensor> {
  return Object.fromEntries(ps.map((p, i) => [`g${i}`, p.grad!]));
}

const TORCH_SETUP = `
import torch
def clip(gs, max_norm, norm_type, by_value):
    ps = []
    for g in gs:
        p = torch.zeros(g.shape, dtype=torch.tensor(g).dtype, requires_grad=True)
        p.grad = torch.tensor(g)
        ps.append(p)
    if by_value:
        torch.nn.utils.clip_grad_value_(ps, max_norm)
        return [p.grad.numpy() for p in ps]
    total = torch.nn.utils.clip_grad_norm_(ps, max_norm, norm_type)
    return [total.numpy()] + [p.grad.numpy() for p in ps]
`;

interface Case {
  dtype: DType;
  scale: number;
  maxNorm: number;
  normType: number;
  byValue?: boolean;
  poison?: number;
}

const cases: Case[] = [];
for (const dtype of ["f32", "f64"] as DType[]) {
  for (const normType of [2, 1, 3, 0.5, Infinity]) {
    for (const [scale, maxNorm] of [[1, 0.5], [0.01, 10], [5, 1]]) {
      cases.push({ dtype, scale, maxNorm, normType });
    }
  }
  cases.push({ dtype, scale: 1, maxNorm: 1, normType: 2, poison: Infinity });
  cases.push({ dtype, scale: 1, maxNorm: 1, normType: 2, poison: NaN });
  cases.push({ dtype, scale: 1, maxNorm: 1, normType: Infinity, poison: -Infinity });
  for (const clipValue of [0.1, 0.7, 100]) {
    cases.push({ dtype, scale: 1, maxNorm: clipValue, normType: 2, byValue: true });
  }
}

const py = (
  x: number,
) => (Number.isFinite(x) ? String(x) : x > 0 ? "float('inf')" : "float('-inf')");

Deno.test({
  name: "clipGradNorm and clipGradValue match torch.nn.utils",
  ...needsTorch,
  async fn(t) {
    const inputs = cases.map((c, i) => params(c.dtype, 10 * i, c.scale, c.poison));
    const refs = await numpy(cases.map((c, i) => {
      const gs = grads(inputs[i]);
      return {
        setup: TORCH_SETUP,
        arrays: gs,
        expr: `clip([${Object.keys(gs).join(", ")}], ${py(c.maxNorm)}, ${py(c.normType)}, ` +
          `${c.byValue ? "True" : "False"})`,
      };
    }));
    for (const [i, c] of cases.entries()) {
      const what = c.byValue
        ? `clipGradValue ${c.maxNorm} (${c.dtype})`
        : `clipGradNorm norm ${c.normType}, max ${c.maxNorm}, scale ${c.scale}` +
          `${c.poison !== undefined ? `, with ${c.poison}` : ""} (${c.dtype})`;
      await t.step(what, () => {
        const r = refs[i];
        assert.equal(r.error, undefined, r.error);
        const ps = inputs[i];
        const tol = c.dtype === "f32" ? { rtol: 1e-5, atol: 1e-6 } : { rtol: 1e-12, atol: 1e-14 };
        let k = 0;
        if (c.byValue) optim.clipGradValue(ps, c.maxNorm);
        else {
          const total = optim.clipGradNorm(ps, c.maxNorm, c.normType);
          assertMatches(total, r.results[k++], tol, "total norm");
          total.dispose();
        }
        for (const p of ps) assertMatches(p.grad!, r.results[k++], tol, "grad");
        for (const p of ps) p.dispose();
      });
    }
  },
});

Deno.test("clipGradNorm edge cases", async (t) => {
  await t.step("errorIfNonfinite throws a typed error and leaves the grads alone", () => {
    const ps = params("f32", 1, 1, Infinity);
    const before = ps.map((p) => p.grad!.toArraySync());
    const mem = memory().tensors;
    assert.throws(
      () => optim.clipGradNorm(ps, 1, 2, { errorIfNonfinite: true }),
      (e: Error) => e instanceof ComputeError && /non-finite/.test(e.message),
    );
    assert.equal(memory().tensors, mem);
    assert.deepEqual(ps.map((p) => p.grad!.toArraySync()), before);
    for (const p of ps) p.dispose();
  });
  await t.step("parameters without gradients are skipped; none at all gives 0", () => {
    const a = tensor([3, 4]).requireGrad();
    const b = tensor([1]).requireGrad();
    a.grad = tensor([3, 4]);
    const total = optim.clipGradNorm([a, b], 10);
    assert.equal(total.item(), 5);
    assert.equal(b.grad, null);
    total.dispose();
    const zero = optim.clipGradNorm([b], 1);
    assert.equal(zero.item(), 0);
    zero.dispose();
    optim.clipGradValue(b, 1);
    a.dispose();
    b.dispose();
  });
  await t.step("clipping leaks nothing", () => {
    const ps = params("f32", 2, 3);
    const mem = memory();
    for (let i = 0; i < 50; i++) {
      optim.clipGradNorm(ps, 1, 2).dispose();
      optim.clipGradValue(ps, 0.5);
    }
    assert.equal(memory().tensors, mem.tensors);
    assert.equal(memory().devices.cpu.bytes, mem.devices.cpu.bytes);
    for (const p of ps) p.dispose();
  });
});
