/**
 * Backward rules of reductions (sum, mean, var, std, min, max, prod, logsumexp, norm), scans
 * (cumsum, cumprod), softmax/logSoftmax and the sort ops against PyTorch (CPU, float32 and
 * float64): random shapes of rank 0-4 in every memory layout, no axis / one negative axis /
 * several axes, keepdims true and false, and the cases where PyTorch picks a convention (ties of
 * min/max, zeros in prod and cumprod, std of a constant, norms at the zero vector).
 *
 * Each case computes y = op(x), loss = Σ y·c with fixed random weights c, and compares y
 * elementwise, the loss, and the gradient of every input with torch's. All cases of a test run
 * in one Python process.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  argmax,
  argmin,
  argsort,
  type Axis,
  cumprod,
  cumsum,
  type DType,
  logSoftmax,
  logsumexp,
  max,
  mean,
  memory,
  min,
  noGrad,
  nonzero,
  norm,
  type NormOrder,
  prod,
  softmax,
  sort,
  std,
  sum,
  type Tensor,
  tensor,
  tidy,
  topk,
  variance,
} from "../../mod.ts";
import { needsTorch } from "../helpers/numpy.ts";
import { arbShape, LAYOUTS, makeTensor, rng, type ValueOptions } from "../helpers/gen.ts";

import { checkGrads, type GradCase } from "../helpers/grads.ts";

// ---- random reductions -----------------------------------------------------------------------

/** An axis spec of ours and the normalized dims torch gets. */
interface AxisSpec {
  axis: Axis;
  dims: number[];
  keepdims: boolean;
}

/** A random axis spec for rank `r`: all axes (undefined), one negative axis, or a subset. */
function randomAxes(r: number, seed: number): AxisSpec {
  const rand = rng(seed);
  const keepdims = rand() < 0.5;
  const kind = r === 0 ? 0 : Math.floor(rand() * 3);
  if (kind === 0) return { axis: undefined, dims: [...Array(r).keys()], keepdims };
  if (kind === 1) {
    const a = Math.floor(rand() * r);
    return { axis: a - r, dims: [a], keepdims };
  }
  const dims = [...Array(r).keys()].filter(() => rand() < 0.6);
  if (dims.length === 0) dims.push(r - 1);
  // listed out of order and partly negative: the op normalizes and sorts them
  return { axis: dims.map((d, i) => (i % 2 ? d - r : d)).reverse(), dims, keepdims };
}

const py = (dims: number[]) => `(${dims.join(", ")}${dims.length === 1 ? "," : ""})`;

interface ReduceSpec {
  ours: (x: Tensor, s: AxisSpec) => Tensor;
  torch: (s: AxisSpec) => string;
  domain?: ValueOptions;
  /** Restrict the shapes (e.g. at least 2 elements reduced for ddof 1). */
  ok?: (shape: number[], s: AxisSpec) => boolean;
  /** Integer-valued inputs: many ties. */
  ties?: boolean;
  /**
   * Skip the expanded layout. For std: an expanded tensor has constant slices, whose f32 std
   * torch computes as rounding noise (~1e-8) instead of 0, which makes its gradient O(1) noise;
   * the constant slice is checked on its own below (exact there in both).
   */
  noExpanded?: boolean;
}

const reducedCount = (shape: number[], s: AxisSpec) => s.dims.reduce((n, d) => n * shape[d], 1);

/** torch.prod takes one dim: reduce the dims one after the other (the same product). */
const torchProd = (s: AxisSpec) =>
  [...s.dims].reverse().reduce((e, d) => `torch.prod(${e}, ${d}, keepdim=True)`, "x0") +
  (s.keepdims ? "" : `.reshape(${`torch.sum(x0, dim=${py(s.dims)}).shape`})`);

const REDUCE: Record<string, ReduceSpec> = {
  sum: {
    ours: (x, s) => sum(x, s.axis, s.keepdims),
    torch: (s) => `torch.sum(x0, dim=${py(s.dims)}, keepdim=${s.keepdims ? "True" : "False"})`,
  },
  mean: {
    ours: (x, s) => mean(x, s.axis, s.keepdims),
    torch: (s) => `torch.mean(x0, dim=${py(s.dims)}, keepdim=${s.keepdims ? "True" : "False"})`,
  },
  var: {
    ours: (x, s) => variance(x, s.axis, { keepdims: s.keepdims }),
    torch: (s) =>
      `torch.var(x0, dim=${py(s.dims)}, correction=0, keepdim=${s.keepdims ? "True" : "False"})`,
  },
  "var ddof 1": {
    ours: (x, s) => variance(x, s.axis, { ddof: 1, keepdims: s.keepdims }),
    torch: (s) =>
      `torch.var(x0, dim=${py(s.dims)}, correction=1, keepdim=${s.keepdims ? "True" : "False"})`,
    ok: (shape, s) => reducedCount(shape, s) >= 2,
  },
  std: {
    ours: (x, s) => std(x, s.axis, { keepdims: s.keepdims }),
    torch: (s) =>
      `torch.std(x0, dim=${py(s.dims)}, correction=0, keepdim=${s.keepdims ? "True" : "False"})`,
    ok: (shape, s) => reducedCount(shape, s) >= 2,
    noExpanded: true,
  },
  "std ddof 1": {
    ours: (x, s) => std(x, s.axis, { ddof: 1, keepdims: s.keepdims }),
    torch: (s) =>
      `torch.std(x0, dim=${py(s.dims)}, correction=1, keepdim=${s.keepdims ? "True" : "False"})`,
    ok: (shape, s) => reducedCount(shape, s) >= 2,
    noExpanded: true,
  },
  max: {
    ours: (x, s) => max(x, s.axis, s.keepdims),
    torch: (s) => `torch.amax(x0, dim=${py(s.dims)}, keepdim=${s.keepdims ? "True" : "False"})`,
  },
  min: {
    ours: (x, s) => min(x, s.axis, s.keepdims),
    torch: (s) => `torch.amin(x0, dim=${py(s.dims)}, keepdim=${s.keepdims ? "True" : "False"})`,
  },
  "max with ties": {
    ours: (x, s) => max(x, s.axis, s.keepdims),
    torch: (s) => `torch.amax(x0, dim=${py(s.dims)}, keepdim=${s.keepdims ? "True" : "False"})`,
    ties: true,
  },
  "min with ties": {
    ours: (x, s) => min(x, s.axis, s.keepdims),
    torch: (s) => `torch.amin(x0, dim=${py(s.dims)}, keepdim=${s.keepdims ? "True" : "False"})`,
    ties: true,
  },
  prod: {
    ours: (x, s) => prod(x, s.axis, s.keepdims),
    torch: torchProd,
    domain: { lo: -2, hi: 2 },
    ok: (shape, s) => reducedCount(shape, s) <= 24,
  },
  "prod with zeros": {
    ours: (x, s) => prod(x, s.axis, s.keepdims),
    torch: torchProd,
    ties: true, // integers in [-1, 1]: slices with no, one and several zeros
    ok: (shape, s) => reducedCount(shape, s) <= 24,
  },
  logsumexp: {
    ours: (x, s) => logsumexp(x, s.axis, s.keepdims),
    torch: (s) =>
      `torch.logsumexp(x0, dim=${py(s.dims)}, keepdim=${s.keepdims ? "True" : "False"})`,
  },
};

/** Integer-valued floats in [-1, 1] (ties and zeros), in the layout asked for. */
function tieTensor(shape: number[], dtype: DType, seed: number, layout: typeof LAYOUTS[number]) {
  const t = makeTensor(shape, dtype, seed, layout, { lo: -1.49, hi: 1.49 });
  const r = noGrad(() => t.round());
  t.dispose();
  return r;
}

Deno.test({
  name: "reduction gradients match PyTorch over random axes, keepdims and layouts (f32, f64)",
  ...needsTorch,
  async fn() {
    const shapes = fc.sample(arbShape({ maxRank: 4, maxDim: 4 }), { seed: 21, numRuns: 600 });
    const cases: GradCase[] = [];
    let n = 0;
    for (const [name, spec] of Object.entries(REDUCE)) {
      for (let j = 0; j < 10;) {
        const shape = shapes[n % shapes.length];
        const s = randomAxes(shape.length, 500 + n);
        n++;
        if (spec.ok && !spec.ok(shape, s)) continue;
        const dtype: DType = j < 7 ? "f32" : "f64";
        const layouts = spec.noExpanded ? LAYOUTS.filter((l) => l !== "expanded") : LAYOUTS;
        const layout = layouts[(j + n) % layouts.length];
        const x = spec.ties
          ? tieTensor(shape, dtype, 600 + n, layout)
          : makeTensor(shape, dtype, 600 + n, layout, spec.domain);
        cases.push({
          name: `${name} ${dtype} ${JSON.stringify(shape)} ${layout} axis ${
            JSON.stringify(s.axis)
          } keepdims ${s.keepdims}`,
          inputs: [x],
          ours: (t) => spec.ours(t, s),
          torch: spec.torch(s),
        });
        j++;
      }
    }
    await checkGrads(cases);
  },
});

// ---- norms -----------------------------------------------------------------------------------

Deno.test({
  name: "vector and matrix norm gradients match torch.linalg (every ord, at zero too)",
  ...needsTorch,
  async fn() {
    const cases: GradCase[] = [];
    const vecOrds = [2, 1, 3, 1.5, 0.5, -1, 0, Infinity, -Infinity];
    const pyOrd = (o: NormOrder) =>
      o === Infinity ? "float('inf')" : o === -Infinity ? "float('-inf')" : JSON.stringify(o);
    const shapes = [[5], [3, 4], [2, 3, 4], [4, 1, 3]];
    let n = 0;
    for (const ord of vecOrds) {
      for (const shape of shapes) {
        for (const dtype of ["f32", "f64"] as DType[]) {
          n++;
          const axis = shape.length > 1 && n % 2 ? -1 - (n % shape.length) : 0;
          const dim = (axis + shape.length) % shape.length;
          const keepdims = n % 3 === 0;
          const layout = LAYOUTS[n % LAYOUTS.length];
          cases.push({
            name: `norm ord ${ord} ${dtype} ${JSON.stringify(shape)} ${layout} axis ${axis}`,
            inputs: [makeTensor(shape, dtype, 40 + n, layout)],
            ours: (x) => norm(x, ord, axis, keepdims),
            torch: `torch.linalg.vector_norm(x0, ${pyOrd(ord)}, dim=${dim}, keepdim=${
              keepdims ? "True" : "False"
            })`,
          });
        }
      }
      // at the zero vector every order has gradient 0 (PyTorch's subgradient)
      cases.push({
        name: `norm ord ${ord} at the zero vector`,
        inputs: [tensor([[0, 0, 0], [0, 1, -2]])],
        ours: (x) => norm(x, ord, 1),
        torch: `torch.linalg.vector_norm(x0, ${pyOrd(ord)}, dim=1)`,
      });
    }
    cases.push(
      {
        name: "norm of the flattened tensor (no ord, no axis)",
        inputs: [makeTensor([2, 3, 4], "f32", 90, "strided")],
        ours: (x) => norm(x),
        torch: "torch.linalg.vector_norm(x0)",
      },
      {
        name: "inf norm splits its gradient among ties of |x|",
        inputs: [tensor([[3, -3, 1], [-2, 2, 2]])],
        ours: (x) => norm(x, Infinity, -1),
        torch: "torch.linalg.vector_norm(x0, float('inf'), dim=-1)",
      },
      {
        name: "-inf norm splits its gradient among ties of |x|",
        inputs: [tensor([[3, -1, 1], [-2, 2, 4]])],
        ours: (x) => norm(x, -Infinity, -1, true),
        torch: "torch.linalg.vector_norm(x0, float('-inf'), dim=-1, keepdim=True)",
      },
    );
    const matOrds: NormOrder[] = ["fro", 1, -1, Infinity, -Infinity];
    for (const ord of matOrds) {
      for (
        const [shape, axes] of [[[3, 4], [0, 1]], [[2, 3, 4], [-1, 0]], [[4, 2, 3], [
          2,
          1,
        ]]] as const
      ) {
        for (const dtype of ["f32", "f64"] as DType[]) {
          n++;
          const keepdims = n % 2 === 0;
          const layout = LAYOUTS[n % LAYOUTS.length];
          cases.push({
            name: `matrix norm ${ord} ${dtype} ${JSON.stringify(shape)} axes ${axes} ${layout}`,
            inputs: [makeTensor(shape, dtype, 70 + n, layout)],
            ours: (x) => norm(x, ord, axes, keepdims),
            torch: `torch.linalg.matrix_norm(x0, ${ord === "fro" ? "'fro'" : pyOrd(ord)}, dim=${
              py([...axes])
            }, keepdim=${keepdims ? "True" : "False"})`,
          });
        }
      }
    }
    cases.push({
      name: "matrix norms at the zero matrix",
      inputs: [tensor([[0, 0], [0, 0]])],
      ours: (x) => norm(x, "fro").add(norm(x, 1)).add(norm(x, Infinity)).add(norm(x, -1)),
      torch:
        "torch.linalg.matrix_norm(x0) + torch.linalg.matrix_norm(x0, 1) + torch.linalg.matrix_norm(x0, float('inf')) + torch.linalg.matrix_norm(x0, -1)",
    });
    await checkGrads(cases);
  },
});

// ---- scans, softmax, sort, conventions ------------------------------------------------------

Deno.test({
  name: "cumsum, cumprod, softmax, logSoftmax, sort and topk gradients match PyTorch",
  ...needsTorch,
  async fn() {
    const shapes = fc.sample(arbShape({ minRank: 1, maxRank: 4, maxDim: 4 }), {
      seed: 31,
      numRuns: 300,
    });
    const cases: GradCase[] = [];
    let n = 0;
    const add = (
      name: string,
      make: (shape: number[], axis: number, d: number) => Omit<GradCase, "name" | "inputs">,
      opts: { ties?: boolean; domain?: ValueOptions } = {},
    ) => {
      for (let j = 0; j < 8; j++, n++) {
        const shape = shapes[n % shapes.length];
        const dtype: DType = j < 6 ? "f32" : "f64";
        const d = n % shape.length;
        const axis = n % 2 ? d - shape.length : d;
        const layout = LAYOUTS[(n + j) % LAYOUTS.length];
        const x = opts.ties
          ? tieTensor(shape, dtype, 800 + n, layout)
          : makeTensor(shape, dtype, 800 + n, layout, opts.domain);
        cases.push({
          name: `${name} ${dtype} ${JSON.stringify(shape)} ${layout} axis ${axis}`,
          inputs: [x],
          ...make(shape, axis, d),
        });
      }
    };
    add(
      "cumsum",
      (_s, axis, d) => ({ ours: (x) => cumsum(x, axis), torch: `torch.cumsum(x0, ${d})` }),
    );
    add("cumsum flattened", () => ({
      ours: (x) => cumsum(x),
      torch: "torch.cumsum(x0.flatten(), 0)",
    }));
    add(
      "cumprod",
      (_s, axis, d) => ({ ours: (x) => cumprod(x, axis), torch: `torch.cumprod(x0, ${d})` }),
      {
        domain: { lo: -2, hi: 2 },
      },
    );
    add(
      "cumprod with zeros",
      (_s, axis, d) => ({ ours: (x) => cumprod(x, axis), torch: `torch.cumprod(x0, ${d})` }),
      {
        ties: true,
      },
    );
    add("cumprod flattened with zeros", () => ({
      ours: (x) => cumprod(x),
      torch: "torch.cumprod(x0.flatten(), 0)",
    }), { ties: true });
    add(
      "softmax",
      (_s, axis, d) => ({ ours: (x) => softmax(x, axis), torch: `torch.softmax(x0, ${d})` }),
    );
    add(
      "logSoftmax",
      (_s, axis, d) => ({ ours: (x) => logSoftmax(x, axis), torch: `torch.log_softmax(x0, ${d})` }),
    );
    add(
      "sort",
      (_s, axis, d) => ({
        ours: (x) => sort(x, axis),
        torch: `torch.sort(x0, dim=${d}, stable=True).values`,
      }),
    );
    add("sort descending", (_s, axis, d) => ({
      ours: (x) => sort(x, axis, true),
      torch: `torch.sort(x0, dim=${d}, descending=True, stable=True).values`,
    }));
    add("sort with ties", (_s, axis, d) => ({
      ours: (x) => sort(x, axis, axis < 0),
      torch: `torch.sort(x0, dim=${d}, descending=${
        axis < 0 ? "True" : "False"
      }, stable=True).values`,
    }), { ties: true });
    add("topk", (s, axis, d) => {
      const k = Math.max(1, Math.ceil(s[d] / 2));
      return { ours: (x) => topk(x, k, { axis })[0], torch: `torch.topk(x0, ${k}, ${d}).values` };
    });
    add("topk smallest", (s, axis, d) => {
      const k = s[d];
      return {
        ours: (x) => topk(x, k, { axis, largest: false })[0],
        torch: `torch.topk(x0, ${k}, ${d}, largest=False).values`,
      };
    });
    cases.push(
      {
        name: "full max and min split their gradient among ties",
        inputs: [tensor([[1, 3, 3], [3, -2, -2]])],
        ours: (x) => max(x).add(min(x)),
        torch: "x0.max() + x0.min()",
      },
      {
        name: "full max of a tensor holding NaN sends the gradient to the NaNs (torch.max())",
        inputs: [tensor([1, NaN, 3, NaN])],
        ours: (x) => max(x),
        torch: "x0.max()",
      },
      {
        name: "prod with one zero and with two zeros (full reduction)",
        inputs: [tensor([2, 0, 3, 4], { dtype: "f64" }), tensor([2, 0, 3, 0])],
        ours: (a, b) => prod(a).add(prod(b)),
        torch: "x0.prod() + x1.prod()",
      },
      {
        name: "prod of slices with 0, 1 and 2 zeros along an axis",
        inputs: [tensor([[1, 2, 3], [0, 2, 3], [0, 0, 3]])],
        ours: (x) => prod(x, 1),
        torch: "x0.prod(1)",
      },
      {
        name: "cumprod with a zero first, in the middle, and twice",
        inputs: [tensor([[0, 2, 3, 4], [2, 3, 0, 5], [2, 0, 4, 0]], { dtype: "f64" })],
        ours: (x) => cumprod(x, 1),
        torch: "torch.cumprod(x0, 1)",
      },
      {
        name: "std and var of a constant slice: std has gradient 0",
        inputs: [tensor([[2, 2, 2], [1, 2, 4]])],
        ours: (x) => std(x, 1).add(variance(x, 1, { ddof: 1 })),
        torch: "torch.std(x0, 1, correction=0) + torch.var(x0, 1)",
      },
      {
        name: "softmax and logSoftmax with -inf entries",
        inputs: [tensor([[0, -Infinity, 1], [2, 3, -Infinity]])],
        ours: (x) => softmax(x, 1).add(logSoftmax(x, 0).exp()),
        torch: "torch.softmax(x0, 1) + torch.log_softmax(x0, 0).exp()",
      },
      {
        name: "logsumexp over a rank-0 tensor",
        inputs: [tensor(1.5)],
        ours: (x) => logsumexp(x).add(x.max()).add(x.prod()).add(std(x)),
        torch: "torch.logsumexp(x0, dim=()) + x0.max() + x0.prod() + torch.std(x0, correction=0)",
      },
    );
    await checkGrads(cases);
  },
});

Deno.test("index results (argsort, argmax, argmin, nonzero, topk indices) carry no gradient", () => {
  const x = tensor([[3, 1, 2], [0, 5, 4]]).requireGrad();
  const [v, i] = topk(x, 2);
  const outs = [argsort(x), argmax(x, 1), argmin(x), nonzero(x), i];
  for (const o of outs) {
    assert.equal(o.dtype, "i64");
    assert.equal(o.requiresGrad, false);
    o.dispose();
  }
  assert.equal(v.requiresGrad, true);
  const s = v.sum();
  s.backward();
  assert.deepEqual(x.grad!.toArraySync(), [[1, 0, 1], [0, 1, 1]]);
  for (const t of [x, v, s]) t.dispose();
});

Deno.test("reduction, scan, softmax and sort backward rules free their intermediates", () => {
  const x = tensor([[1, 0, 3, 3], [2, -1, 0, 0], [1, 2, 3, 4]]).requireGrad();
  const ops: ((t: Tensor) => Tensor)[] = [
    (t) => sum(t, 1),
    (t) => mean(t, [0, 1], true),
    (t) => variance(t, 0, { ddof: 1 }),
    (t) => std(t, -1),
    (t) => max(t, 1),
    (t) => min(t),
    (t) => prod(t, 1),
    (t) => logsumexp(t, 0),
    ...[2, 1, 3, 0.5, 0, Infinity].map((o) => (t: Tensor) => norm(t, o, 1)),
    ...(["fro", 1, -Infinity] as NormOrder[]).map((o) => (t: Tensor) => norm(t, o)),
    (t) => cumsum(t, 0),
    (t) => cumprod(t),
    (t) => softmax(t, 0),
    (t) => logSoftmax(t),
    (t) => sort(t, 1, true),
    (t) => topk(t, 2, { axis: 0 })[0],
  ];
  const before = memory().tensors;
  for (const op of ops) tidy(() => op(x).sum().backward());
  assert.equal(memory().tensors - before, 1); // x.grad
  x.dispose();
});
