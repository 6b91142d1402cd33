/**
 * `linear` (x·Wᵀ + b, one fused kernel): values against NumPy for 2-D and batched inputs, with
 * and without bias, contiguous, transposed and strided operands, f32 and f64; gradients against
 * PyTorch's F.linear; each plugin's `linear` kernel against the scalar reference; the composed
 * fallback (mixed dtypes); routing; shape errors.
 *
 * Tolerances: values f32 rtol 1e-5 + atol 1e-5·in_features, f64 1e-12 (NumPy sums in another
 * order); kernels vs the scalar reference (which accumulates in f64 and rounds once) f32
 * 1e-5·Σ|x·w| per element, f64 1e-12; gradients as tests/helpers/grads.ts (f32 1e-5, f64 1e-10).
 */
import assert from "node:assert/strict";
import {
  type DType,
  type KernelEntry,
  type KernelFn,
  linear,
  ready,
  scalarBackend,
  Tensor,
  tensor,
  traceKernels,
  wasmBackend,
} from "../../mod.ts";
import { assertMatches, needsNumpy, needsTorch, numpy } from "../helpers/numpy.ts";
import { type Layout, makeTensor } from "../helpers/gen.ts";
import { checkGrads } from "../helpers/grads.ts";
import { blasAvailable, runOn } from "../helpers/kernels.ts";
import { openblasBackend } from "../../mod.ts";

await ready();

interface LinCase {
  x: number[];
  out: number;
  dtype: DType;
  bias: boolean;
  xl: Layout;
  wl: Layout;
}

const CASES: LinCase[] = [
  { x: [64, 784], out: 256, dtype: "f32", bias: true, xl: "contiguous", wl: "contiguous" },
  { x: [5, 7], out: 3, dtype: "f32", bias: false, xl: "transposed", wl: "transposed" },
  { x: [2, 3, 9], out: 4, dtype: "f64", bias: true, xl: "contiguous", wl: "strided" },
  { x: [6, 10], out: 1, dtype: "f64", bias: true, xl: "strided", wl: "contiguous" },
  { x: [4], out: 5, dtype: "f32", bias: true, xl: "contiguous", wl: "contiguous" },
  { x: [0, 3], out: 2, dtype: "f32", bias: true, xl: "contiguous", wl: "contiguous" },
  { x: [3, 0], out: 2, dtype: "f32", bias: true, xl: "contiguous", wl: "contiguous" },
  { x: [3, 0], out: 2, dtype: "f64", bias: false, xl: "contiguous", wl: "contiguous" },
];

function operands(c: LinCase, k: number) {
  const inF = c.x.at(-1)!;
  const x = makeTensor(c.x, c.dtype, 10 * k + 1, c.xl, { lo: -1, hi: 1 });
  const w = makeTensor([c.out, inF], c.dtype, 10 * k + 2, c.wl, { lo: -1, hi: 1 });
  const b = c.bias ? makeTensor([c.out], c.dtype, 10 * k + 3) : null;
  return { x, w, b, inF };
}

Deno.test({
  name: "linear equals NumPy's x @ w.T + b",
  ...needsNumpy,
  fn: async () => {
    const ops = CASES.map(operands);
    const refs = await numpy(ops.map(({ x, w, b }) => ({
      expr: b ? "x @ w.T + b" : "x @ w.T",
      arrays: b ? { x, w, b } : { x, w } as Record<string, Tensor>,
    })));
    ops.forEach(({ x, w, b, inF }, i) => {
      const y = linear(x, w, b);
      const f32 = x.dtype === "f32";
      const tol = f32
        ? { rtol: 1e-5, atol: 1e-5 * Math.max(1, inF) }
        : { rtol: 1e-12, atol: 1e-12 };
      assert.equal(refs[i].error, undefined);
      assertMatches(y, refs[i].results[0], tol, JSON.stringify(CASES[i]));
      for (const t of [x, w, b, y]) t?.dispose();
    });
  },
});

Deno.test({
  name: "linear gradients equal PyTorch's F.linear",
  ...needsTorch,
  fn: async () => {
    const cases = [
      { x: [6, 5], out: 3, dtype: "f32" as const, bias: true },
      { x: [2, 4, 5], out: 3, dtype: "f64" as const, bias: true },
      { x: [6, 5], out: 2, dtype: "f64" as const, bias: false },
    ];
    await checkGrads(cases.map((c, k) => {
      const x = makeTensor(c.x, c.dtype, 100 + k), w = makeTensor([c.out, 5], c.dtype, 200 + k);
      const b = makeTensor([c.out], c.dtype, 300 + k);
      return {
        name: `linear ${JSON.stringify(c)}`,
        inputs: c.bias ? [x, w, b] : [x, w],
        ours: (...t: Tensor[]) => linear(t[0], t[1], t[2] ?? null),
        torch: c.bias ? "F.linear(x0, x1, x2)" : "F.linear(x0, x1)",
      };
    }));
  },
});

Deno.test("each plugin's linear kernel equals the scalar reference", async (t) => {
  const plugins = blasAvailable() ? [wasmBackend, openblasBackend] : [wasmBackend];
  for (const backend of plugins) {
    await t.step(backend.name, () => {
      CASES.filter((c) => c.x.length === 2).forEach((c, k) => {
        const { x, w, b, inF } = operands(c, k + 50);
        const inputs = b ? [x, w, b] : [x, w];
        const shape = [c.x[0], c.out];
        // BLAS reads a matrix in place only with one unit stride: it declines strided views.
        const blasOk = c.xl !== "strided" && c.wl !== "strided";
        if (backend === openblasBackend && !blasOk) {
          const k = backend.kernels.linear as KernelEntry;
          const out = Tensor.empty(shape, c.dtype);
          assert.equal(k.supports!({ op: "linear", inputs, outputs: [out], attrs: {} }), false);
          for (const u of [x, w, b, out]) u?.dispose();
          return;
        }
        const ref = runOn(scalarBackend, "linear", inputs, shape, c.dtype);
        const ours = runOn(backend, "linear", inputs, shape, c.dtype);
        const a = ours.dataSync() as Float32Array, r = ref.dataSync() as Float32Array;
        const tol = c.dtype === "f32" ? 1e-5 * (inF + 1) : 1e-12 * (inF + 1);
        r.forEach((v, i) => {
          assert.ok(Math.abs(a[i] - v) <= tol, `${backend.name} ${JSON.stringify(c)} [${i}]`);
        });
        for (const u of [x, w, b, ref, ours]) u?.dispose();
      });
    });
  }
  await t.step("kernels decline mixed dtypes; linear then composes matmul and add", () => {
    const x = makeTensor([3, 4], "f32", 1), w = makeTensor([2, 4], "f64", 2);
    const out = makeTensor([3, 2], "f64", 3);
    for (const b of [wasmBackend, openblasBackend]) {
      const k = b.kernels.linear as KernelEntry;
      assert.equal(k.supports!({ op: "linear", inputs: [x, w], outputs: [out], attrs: {} }), false);
    }
    const { result, trace } = traceKernels(() => linear(x, w));
    assert.deepEqual(trace.map((r) => r.op).includes("linear"), false);
    assert.equal(result.dtype, "f64");
    for (const u of [x, w, out, result]) u.dispose();
    assert.equal(typeof (scalarBackend.kernels.linear as KernelFn), "function");
  });
  await t.step("f32 runs on openblas where present, else wasm", () => {
    const x = makeTensor([3, 4], "f32", 1), w = makeTensor([2, 4], "f32", 2);
    const { result, trace } = traceKernels(() => linear(x, w, tensor([1, 2])));
    assert.deepEqual(trace.filter((r) => r.op === "linear").map((r) => r.backend), [
      blasAvailable() ? "openblas" : "wasm",
    ]);
    for (const u of [x, w, result]) u.dispose();
  });
});

Deno.test("linear shape errors name the operands", () => {
  const x = tensor([[1, 2, 3]]), w = tensor([[1, 2]]), b = tensor([1, 2]);
  assert.throws(() => linear(x, w), /linear: input has 3 features on its last axis, expected 2/);
  assert.throws(() => linear(w, w, b), /linear: bias of shape \(2,\) does not fit 1 output/);
  assert.throws(() => linear(x, b), /linear: weight of shape \(2,\) must be 2-D/);
  for (const t of [x, w, b]) t.dispose();
});
