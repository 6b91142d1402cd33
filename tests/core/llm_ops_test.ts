/**
 * The fused LLM ops `rope` and `rmsNorm` (core/ops/llm.ts): values against NumPy float32 arrays
 * computing ggml's arithmetic op by op (rope: `a·cos − b·sin`, `a·sin + b·cos` in f32; rmsNorm:
 * f32 squares summed in f64, `1/√(sum/n + eps)` in f32, then `(x·scale)·w` in f32), both pair
 * orders, partial rotation, strided inputs; the composed fallback (inputs that require
 * gradients); routing; shape and dtype errors.
 *
 * Tolerances: exact (rtol 0, atol 0) against NumPy — each result is one correctly rounded f32
 * operation on the same f32 inputs on both sides; the composed rmsNorm (an f32 mean) within
 * 1e-6 relative of the fused one.
 */
import assert from "node:assert/strict";
import { DTypeError, ready, ShapeError, type Tensor, tensor, traceKernels } from "../../mod.ts";
import { rmsNorm, rope } from "../../internal.ts";
import { assertMatches, needsNumpy, numpy } from "../helpers/numpy.ts";

await ready();

function rand(shape: number[], seed: number, scale = 1): Tensor {
  let s = seed >>> 0;
  const n = shape.reduce((a, b) => a * b, 1);
  const a = Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return ((s / 2 ** 32) * 2 - 1) * scale;
  });
  const flat = tensor(a);
  const t = flat.reshape(shape);
  flat.dispose();
  return t;
}

const ROPE_NP = `
def rope(x, c, s, order, dims):
    y = x.copy()
    half = dims // 2
    for t in range(x.shape[0]):
        ct, st = c[t], s[t]
        if order == "normal":
            a, b = x[t, :, 0:dims:2], x[t, :, 1:dims:2]
            y[t, :, 0:dims:2] = a * ct - b * st
            y[t, :, 1:dims:2] = a * st + b * ct
        else:
            a, b = x[t, :, :half], x[t, :, half:dims]
            y[t, :, :half] = a * ct - b * st
            y[t, :, half:dims] = a * st + b * ct
    return y
`;

Deno.test({
  name: "rope equals NumPy's f32 rotation, normal and neox order, full and partial dims",
  ...needsNumpy,
  fn: async () => {
    const cases: { order: "normal" | "neox"; T: number; H: number; D: number; dims: number }[] = [
      { order: "normal", T: 3, H: 2, D: 8, dims: 8 },
      { order: "neox", T: 3, H: 2, D: 8, dims: 8 },
      { order: "normal", T: 2, H: 3, D: 10, dims: 6 },
      { order: "neox", T: 5, H: 1, D: 12, dims: 4 },
    ];
    for (const [i, c] of cases.entries()) {
      const x = rand([c.T, c.H, c.D], 11 + i, 3);
      const ang = rand([c.T, c.dims / 2], 40 + i, 3);
      const cos = ang.cos(), sin = ang.sin();
      const y = rope(x, cos, sin, { order: c.order, dims: c.dims });
      const [ref] = await numpy([{
        setup: ROPE_NP,
        expr: `rope(x, c, s, "${c.order}", ${c.dims})`,
        arrays: { x, c: cos, s: sin },
      }]);
      assertMatches(y, ref.results[0], { rtol: 0, atol: 0 }, `${c.order} ${c.D}/${c.dims}`);
      for (const t of [x, ang, cos, sin, y]) t.dispose();
    }
  },
});

Deno.test({
  name: "rmsNorm equals NumPy's ggml-order arithmetic (f64 sum of f32 squares, f32 scale)",
  ...needsNumpy,
  fn: async () => {
    for (
      const [i, [shape, eps]] of ([[[4, 64], 1e-5], [[2, 3, 48], 1e-6], [[1, 7], 0]] as const)
        .entries()
    ) {
      const x = rand([...shape], 70 + i, 5);
      const w = rand([shape[shape.length - 1]], 90 + i, 2);
      const y = rmsNorm(x, w, { eps });
      const [ref] = await numpy([{
        expr: "((x * (np.float32(1) / np.sqrt(np.float32(" +
          "np.sum((x * x).astype(np.float64), axis=-1, keepdims=True) / x.shape[-1]) + " +
          "np.float32(eps)))) * w).astype(np.float32)",
        arrays: { x, w },
        scalars: { eps },
      }]);
      assertMatches(y, ref.results[0], { rtol: 0, atol: 0 }, `rmsNorm ${shape}`);
      for (const t of [x, w, y]) t.dispose();
    }
  },
});

Deno.test("rope and rmsNorm run one fused kernel each, read strided inputs, and compose for autograd", () => {
  const x = rand([3, 2, 16], 5, 2), ang = rand([3, 8], 6, 2);
  const cos = ang.cos(), sin = ang.sin(), w = rand([16], 7);
  const { trace } = traceKernels(() => {
    rope(x, cos, sin, { order: "normal", dims: 16 }).dispose();
    rmsNorm(x, w, { eps: 1e-5 }).dispose();
  });
  assert.deepEqual(trace.map((r) => r.op), ["rope", "rmsNorm"]);
  // a strided view gives what its contiguous copy gives
  const xt = rand([3, 2, 20], 8).slice(null, null, "2:18");
  assert.ok(!xt.isContiguous);
  const a = rope(xt, cos, sin, { order: "neox", dims: 16 }).dataSync();
  const b = rope(xt.contiguous(), cos, sin, { order: "neox", dims: 16 }).dataSync();
  assert.deepEqual(a, b);
  // requiresGrad: the composed form (same f32 arithmetic for rope; an f32 mean for rmsNorm)
  const xg = x.detach();
  xg.requiresGrad = true;
  const fused = rope(x, cos, sin, { order: "normal", dims: 16 }).dataSync() as Float32Array;
  const comp = rope(xg, cos, sin, { order: "normal", dims: 16 }).dataSync() as Float32Array;
  assert.deepEqual(comp, fused);
  const nf = rmsNorm(x, w, { eps: 1e-5 }).dataSync() as Float32Array;
  const nc = rmsNorm(xg, w, { eps: 1e-5 }).dataSync() as Float32Array;
  for (let i = 0; i < nf.length; i++) {
    assert.ok(Math.abs(nf[i] - nc[i]) <= 1e-6 * Math.abs(nf[i]) + 1e-7, `rmsNorm ${i}`);
  }
});

Deno.test("rope and rmsNorm reject bad shapes and dtypes with typed errors", () => {
  const x = rand([2, 2, 8], 1), cs = rand([2, 4], 2);
  assert.throws(() => rope(x.reshape([4, 8]), cs, cs, { order: "normal", dims: 8 }), ShapeError);
  assert.throws(() => rope(x, cs, cs, { order: "normal", dims: 7 }), /dims must be even/);
  assert.throws(() => rope(x, cs, cs, { order: "normal", dims: 6 }), /cos must be \[T, dims\/2\]/);
  assert.throws(() => rope(x.astype("f64"), cs, cs, { order: "neox", dims: 8 }), DTypeError);
  assert.throws(() => rmsNorm(x, rand([4], 3), { eps: 1e-5 }), /weight must be \[n\]/);
  assert.throws(() => rmsNorm(x, rand([8], 3), { eps: -1 }), /eps must be ≥ 0/);
});
