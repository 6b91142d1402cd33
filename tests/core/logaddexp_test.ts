/**
 * logaddexp, the op added through the declared contract (core/ops/contracts): values against
 * NumPy's `np.logaddexp` on the scalar and WASM kernels and the default route (specials: NaN,
 * ±0, ±∞, equal operands, huge and tiny differences; random strided and broadcast operands;
 * integer inputs give floats), the WebGPU kernel against NumPy where an adapter exists, and
 * gradients against PyTorch's `torch.logaddexp`.
 */
import assert from "node:assert/strict";
import {
  backends,
  type DType,
  logaddexp,
  ready,
  scalarBackend,
  type Tensor,
  tensor,
  traceKernels,
  wasmBackend,
} from "../../mod.ts";
import { assertMatches, needsNumpy, needsTorch, numpy, type Tolerance } from "../helpers/numpy.ts";
import { checkGrads, type GradCase } from "../helpers/grads.ts";
import { LAYOUTS, makeTensor } from "../helpers/gen.ts";
import { runOn } from "../helpers/kernels.ts";
import { broadcastShapes } from "../../core/shape.ts";

const SPECIALS = [
  NaN,
  0,
  -0,
  1,
  -1,
  Infinity,
  -Infinity,
  0.5,
  -2.5,
  30,
  -30,
  1e-30,
  -1e-30,
  88,
  -88,
  89,
  700,
  -700,
  1e30,
  -1e30,
];

/** Every pair of specials: a repeats each value, b cycles through them. */
function specialPairs(dtype: DType): [Tensor, Tensor] {
  const n = SPECIALS.length;
  const a = SPECIALS.flatMap((x) => new Array(n).fill(x));
  const b = SPECIALS.flatMap(() => SPECIALS);
  return [tensor(a, { dtype }), tensor(b, { dtype })];
}

// f64: the scalar kernel evaluates NumPy's formula (V8's exp/log1p against glibc's: ≤ 1 ulp each);
// the WASM kernel's vector exp/log1p are ≤ 2 ulp. f32: NumPy computes in float32 (expf, log1pf),
// ours in f64 (scalar) or f32 vectors (WASM): a few ulp.
const TOL: Record<string, Tolerance> = {
  f64: { rtol: 4e-16, atol: 0 },
  f32: { rtol: 1e-6, atol: 0 },
};

Deno.test("logaddexp matches numpy on the scalar and WASM kernels, specials included", {
  ...needsNumpy,
}, async () => {
  await ready();
  const made: Tensor[] = [];
  const checks: { label: string; ours: Tensor; a: Tensor; b: Tensor; tol: Tolerance }[] = [];
  for (const dtype of ["f32", "f64"] as DType[]) {
    const cases: [Tensor, Tensor][] = [specialPairs(dtype)];
    for (let i = 0; i < 4; i++) {
      const sa = i % 2 ? [40, 30] : [1200], sb = i % 2 ? [30] : [1200];
      cases.push([
        makeTensor(sa, dtype, 10 + i, LAYOUTS[i], { lo: -60, hi: 60 }),
        makeTensor(sb, dtype, 20 + i, LAYOUTS[(i + 1) % 4], { lo: -60, hi: 60 }),
      ]);
    }
    for (const [a, b] of cases) {
      made.push(a, b);
      const shape = broadcastShapes(a.shape, b.shape);
      const what = `${dtype} ${JSON.stringify(a.shape)} ${JSON.stringify(b.shape)}`;
      for (const backend of [scalarBackend, wasmBackend]) {
        const ours = runOn(backend, "logaddexp", [a, b], shape, dtype);
        checks.push({ label: `${backend.name} ${what}`, ours, a, b, tol: TOL[dtype] });
      }
      const { result, trace } = traceKernels(() => logaddexp(a, b));
      assert.ok(trace.some((r) => r.op === "logaddexp"), `${what}: no logaddexp kernel ran`);
      checks.push({ label: `route ${what}`, ours: result, a, b, tol: TOL[dtype] });
    }
  }
  // Integer and mixed operands follow NumPy's float result rule (i32 → f64, i8 → f16).
  const i32 = tensor([0, 1, -5, 700, -700], { dtype: "i32" });
  const i8 = tensor([0, 1, -5, 7, -128], { dtype: "i8" });
  const f32 = tensor([0, 1, 3, 4.5, -1], { dtype: "f32" });
  made.push(i32, i8, f32);
  for (const [a, b] of [[i32, i32], [i8, i8], [i8, f32], [i32, f32]]) {
    checks.push({
      label: `${a.dtype}, ${b.dtype}`,
      ours: logaddexp(a, b),
      a,
      b,
      tol: { rtol: a.dtype === "i8" && b.dtype === "i8" ? 1e-3 : 1e-6 },
    });
  }
  try {
    const refs = await numpy(checks.map((c) => ({
      expr: "np.logaddexp(a, b)",
      arrays: { a: c.a, b: c.b },
    })));
    checks.forEach((c, i) => {
      assert.equal(refs[i].error, undefined, `${c.label}: ${refs[i].error}`);
      assertMatches(c.ours, refs[i].results[0], c.tol, c.label);
    });
  } finally {
    for (const t of [...made, ...checks.map((c) => c.ours)]) t.dispose();
  }
});

Deno.test("logaddexp's edge cases are NumPy's", () => {
  const [a, b] = [
    tensor([Infinity, -Infinity, Infinity, -Infinity, NaN, 1, 1000, -1000], { dtype: "f64" }),
    tensor([Infinity, -Infinity, -Infinity, 5, 1, NaN, 1000, -1000], { dtype: "f64" }),
  ];
  const want = [Infinity, -Infinity, Infinity, 5, NaN, NaN, 1000 + Math.LN2, -1000 + Math.LN2];
  for (const backend of [scalarBackend, wasmBackend]) {
    const out = runOn(backend, "logaddexp", [a, b], [8], "f64");
    assert.deepEqual([...out.dataSync()], want, backend.name);
    out.dispose();
  }
  a.dispose();
  b.dispose();
});

const gpu = await (async () => {
  await ready();
  return backends().find((b) => b.name === "webgpu")?.status === "available";
})();

Deno.test({
  name: "logaddexp on WebGPU matches numpy (f32), specials included",
  ignore: !gpu || needsNumpy.ignore,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const [a, b] = specialPairs("f32");
    const r = makeTensor([64, 33], "f32", 5, "transposed", { lo: -60, hi: 60 });
    const s = makeTensor([33], "f32", 6, "contiguous", { lo: -60, hi: 60 });
    const cases = [[a, b], [r, s]];
    try {
      for (const [x, y] of cases) {
        const [gx, gy] = [await x.to("gpu"), await y.to("gpu")];
        const { result, trace } = traceKernels(() => logaddexp(gx, gy));
        assert.ok(trace.every((t) => t.backend === "webgpu"), JSON.stringify(trace));
        const got = await result.to("cpu");
        const [ref] = await numpy([{ expr: "np.logaddexp(a, b)", arrays: { a: x, b: y } }]);
        // the GPU's exp/log: a few ulp (lavapipe's, and the drivers'); WGSL may flush subnormal
        // results to zero (log1p(e^−88) = 6e-39): atol is the smallest normal f32.
        assertMatches(got, ref.results[0], { rtol: 4e-6, atol: 1.1754943508222875e-38 }, "webgpu");
        for (const t of [gx, gy, result, got]) t.dispose();
      }
    } finally {
      for (const t of [a, b, r, s]) t.dispose();
    }
  },
});

Deno.test({
  name: "logaddexp gradients match PyTorch (broadcasting, equal operands, far apart)",
  ...needsTorch,
  async fn() {
    const t = (v: number[], dtype: DType = "f32") => tensor(v, { dtype });
    const cases: GradCase[] = [];
    for (const dtype of ["f32", "f64"] as DType[]) {
      cases.push({
        name: `logaddexp ${dtype} broadcast`,
        inputs: [
          makeTensor([3, 4], dtype, 1, "transposed", { lo: -5, hi: 5 }),
          makeTensor([4], dtype, 2, "contiguous", { lo: -5, hi: 5 }),
        ],
        ours: logaddexp,
        torch: "torch.logaddexp(x0, x1)",
      });
      cases.push({
        name: `logaddexp ${dtype} equal operands and far apart`,
        inputs: [t([0, 2, 50, -50, 1e-3, 80], dtype), t([0, 2, -50, 50, -1e-3, -80], dtype)],
        ours: logaddexp,
        torch: "torch.logaddexp(x0, x1)",
      });
    }
    cases.push({
      name: "logaddexp where only b requires a gradient",
      inputs: [t([1, 2, 3]), t([3, 2, 1])],
      needs: [false, true],
      ours: logaddexp,
      torch: "torch.logaddexp(x0, x1)",
    });
    await checkGrads(cases);
  },
});
