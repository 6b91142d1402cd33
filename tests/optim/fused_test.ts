/**
 * The fused Adam/AdamW step (`adamStep`): the WASM kernel against the scalar reference on the
 * same inputs (every decay mode × AMSGrad × maximize, f32 and f64, lengths that exercise the
 * SIMD tails and the thread pool), the fused optimizer path against the composed one, routing,
 * and the calls it refuses. PyTorch trajectories of Adam/AdamW (now run fused on the CPU) are in
 * optimizers_test.ts.
 *
 * Tolerances: WASM vs scalar exact (bitwise: both round every operation to the element type and
 * the C source forbids contraction); fused vs composed optimizer, f64 rtol 1e-12 (the same
 * operations; the composed form rounds its scalars the same way), f32 rtol 1e-6.
 */
import assert from "node:assert/strict";
import {
  adamStep,
  type AdamStepAttrs,
  type DType,
  type KernelEntry,
  type KernelFn,
  optim,
  ready,
  scalarBackend,
  Tensor,
  tensor,
  tidy,
  traceKernels,
} from "../../mod.ts";
import { wasmBackend } from "../../backends/wasm/mod.ts";
import { makeTensor } from "../helpers/gen.ts";

await ready();

const DECAYS = ["none", "l2", "decoupled"] as const;

function attrsFor(decay: AdamStepAttrs["decay"], maximize: boolean, step: number): AdamStepAttrs {
  const lr = 0.01, beta1 = 0.85, beta2 = 0.995;
  return {
    lr,
    weightDecay: decay === "none" ? 0 : 0.05,
    decay,
    beta1,
    beta2,
    eps: 1e-6,
    stepSize: lr / (1 - beta1 ** step),
    bc2Sqrt: Math.sqrt(1 - beta2 ** step),
    maximize,
  };
}

/** Random state for `n` elements: p, grad, m, v ≥ 0, vmax ≥ 0. */
function state(n: number, dtype: DType, seed: number): Tensor[] {
  return [
    makeTensor([n], dtype, seed),
    makeTensor([n], dtype, seed + 1),
    makeTensor([n], dtype, seed + 2),
    makeTensor([n], dtype, seed + 3).abs(),
    makeTensor([n], dtype, seed + 4).abs(),
  ];
}

Deno.test("adamStep: the WASM kernel equals the scalar reference bit for bit", async (t) => {
  for (const dtype of ["f32", "f64"] as const) {
    for (const n of [1, 7, 1000, 70001]) {
      for (const decay of DECAYS) {
        for (const amsgrad of [false, true]) {
          for (const maximize of [false, true]) {
            const name = `${dtype} n=${n} ${decay}${amsgrad ? " amsgrad" : ""}${
              maximize ? " maximize" : ""
            }`;
            await t.step(name, () => {
              const attrs = attrsFor(decay, maximize, 3);
              const [p, g, m, v, vm] = state(n, dtype, n + 7);
              const a = [p, m, v, vm].map((x) => x.clone());
              const b = [p, m, v, vm].map((x) => x.clone());
              const outsA = amsgrad ? a : a.slice(0, 3), outsB = amsgrad ? b : b.slice(0, 3);
              (scalarBackend.kernels.adamStep as KernelFn)({
                op: "adamStep",
                inputs: [g],
                outputs: outsA,
                attrs,
              });
              const k = wasmBackend.kernels.adamStep as KernelEntry;
              const call = { op: "adamStep", inputs: [g], outputs: outsB, attrs };
              assert.ok(k.supports!(call), "the WASM kernel takes heap tensors");
              k.run(call);
              for (let i = 0; i < 4; i++) {
                assert.deepEqual(b[i].dataSync(), a[i].dataSync(), `operand ${i}`);
              }
              // The step moved the parameter (a test that cannot pass on untouched data).
              assert.notDeepEqual(a[0].dataSync(), p.dataSync());
              for (const x of [p, g, m, v, vm, ...a, ...b]) x.dispose();
            });
          }
        }
      }
    }
  }
});

Deno.test("adamStep: NaN propagates through AMSGrad's maximum like torch.maximum", () => {
  const p = tensor([1, 1]), g = tensor([1, 1]), m = tensor([0, 0]);
  const v = tensor([NaN, 0]), vmax = tensor([0, NaN]);
  assert.ok(adamStep(p, g, m, v, vmax, attrsFor("none", false, 1)));
  const [a, b] = vmax.dataSync() as Float32Array;
  assert.ok(Number.isNaN(a) && Number.isNaN(b));
  assert.ok((p.dataSync() as Float32Array).every(Number.isNaN));
  for (const x of [p, g, m, v, vmax]) x.dispose();
});

Deno.test("adamStep: moments that fall below the smallest normal are stored as zero", () => {
  // m decays by β1 where the gradient is 0: 1.2e-38 · 0.85 is subnormal in f32, flushed to 0;
  // 1e-30 · 0.85 stays. v = 1e-39 decays below 2^-126 as well.
  for (const backend of ["scalar", "wasm"] as const) {
    const p = tensor([1, 1, 1]), g = tensor([0, 0, 0.5]);
    const m = tensor([1.2e-38, 1e-30, 0]), v = tensor([1e-39, 1, 0]);
    const attrs = attrsFor("none", false, 2);
    const call = { op: "adamStep", inputs: [g], outputs: [p, m, v], attrs };
    if (backend === "scalar") (scalarBackend.kernels.adamStep as KernelFn)(call);
    else (wasmBackend.kernels.adamStep as KernelEntry).run(call);
    const [m0, m1, m2] = m.dataSync() as Float32Array, [v0] = v.dataSync() as Float32Array;
    assert.equal(m0, 0, `${backend}: subnormal m flushed`);
    assert.ok(Math.abs(m1 - 0.85e-30) <= 1e-6 * 0.85e-30, `${backend}: normal m kept (${m1})`);
    assert.ok(m2 > 0, `${backend}: a fresh moment from a gradient`);
    assert.equal(v0, 0, `${backend}: subnormal v flushed`);
    for (const x of [p, g, m, v]) x.dispose();
  }
});

Deno.test("adamStep: refuses operands the kernels do not take, touching nothing", async (t) => {
  const attrs = attrsFor("none", false, 1);
  await t.step("a non-contiguous parameter", () => {
    const base = makeTensor([4, 3], "f32", 1), p = base.T;
    const g = makeTensor([3, 4], "f32", 2), m = Tensor.empty([3, 4]), v = Tensor.empty([3, 4]);
    const before = p.contiguous();
    assert.equal(adamStep(p, g, m, v, null, attrs), false);
    assert.deepEqual(p.contiguous().dataSync(), before.dataSync());
    for (const x of [base, p, g, m, v, before]) x.dispose();
  });
  await t.step("mixed dtypes, shapes, and integer tensors", () => {
    const p = makeTensor([5], "f32", 1), m = Tensor.empty([5]), v = Tensor.empty([5]);
    const g64 = makeTensor([5], "f64", 2), g6 = makeTensor([6], "f32", 3);
    assert.equal(adamStep(p, g64, m, v, null, attrs), false);
    assert.equal(adamStep(p, g6, m, v, null, attrs), false);
    const pi = tensor([1, 2], { dtype: "i32" }), gi = tensor([1, 2], { dtype: "i32" });
    assert.equal(adamStep(pi, gi, pi, pi, null, attrs), false);
    for (const x of [p, m, v, g64, g6, pi, gi]) x.dispose();
  });
});

/** Parameters after `steps` of `make` on a small regression, as one flat array. */
function trajectory(
  make: (ps: Tensor[]) => optim.Optimizer,
  dtype: DType,
  transposed: boolean,
  steps = 15,
): Float64Array {
  const X = makeTensor([8, 3], dtype, 1), Y = makeTensor([8, 4], dtype, 2);
  const W0 = makeTensor([3, 4], dtype, 3);
  // A transposed leaf is not contiguous: the optimizer composes the update from ops.
  const W = transposed ? W0.T.contiguous().T.requireGrad() : W0.clone().requireGrad();
  assert.equal(W.isContiguous, !transposed);
  const opt = make([W]);
  for (let i = 0; i < steps; i++) {
    opt.zeroGrad();
    tidy(() => X.matmul(W).sub(Y).square().mean().backward());
    opt.step();
  }
  const out = Float64Array.from(W.contiguous().dataSync() as Float32Array);
  opt.disposeState();
  opt.zeroGrad();
  for (const x of [X, Y, W0, W]) x.dispose();
  return out;
}

Deno.test("Adam/AdamW: the fused step equals the composed one", async (t) => {
  const makers: [string, (ps: Tensor[]) => optim.Optimizer][] = [
    ["Adam", (ps) => new optim.Adam(ps, { lr: 0.05, weightDecay: 0.1 })],
    ["Adam amsgrad maximize", (ps) => new optim.Adam(ps, { amsgrad: true, maximize: true })],
    ["AdamW", (ps) => new optim.AdamW(ps, { lr: 0.02 })],
  ];
  for (const [name, make] of makers) {
    for (const dtype of ["f64", "f32"] as const) {
      await t.step(`${name} ${dtype}`, () => {
        const fused = trajectory(make, dtype, false), composed = trajectory(make, dtype, true);
        const rtol = dtype === "f64" ? 1e-12 : 1e-6;
        fused.forEach((x, i) => {
          assert.ok(
            Math.abs(x - composed[i]) <= rtol * (1 + Math.abs(composed[i])),
            `element ${i}: fused ${x}, composed ${composed[i]}`,
          );
        });
      });
    }
  }
  await t.step("the fused kernel is the one that runs on heap tensors", () => {
    const W = makeTensor([3, 4], "f32", 3).requireGrad();
    const opt = new optim.AdamW([W]);
    tidy(() => W.square().sum().backward());
    const { trace } = traceKernels(() => opt.step());
    assert.deepEqual(trace.filter((r) => r.op === "adamStep"), [
      { op: "adamStep", backend: "wasm" },
    ]);
    assert.equal(trace.length, 1, JSON.stringify(trace));
    opt.disposeState();
    opt.zeroGrad();
    W.dispose();
  });
});
