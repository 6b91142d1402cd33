/**
 * The fused batch-norm kernels (batchNormTrain / batchNormBackward) and layer-norm kernels
 * (layerNorm / layerNormBackward, end of file): values and gradients
 * against PyTorch's F.batch_norm (training), in f32 and f64, with and without the affine
 * parameters and for 2-D, 3-D and 4-D inputs; running statistics as torch updates them; the
 * GPU kernels against the scalar reference (tests/backends/webgpu_test.ts has the plugin-level
 * cases).
 */
import assert from "node:assert/strict";
import { batchNormTrain, nn, noGrad, traceKernels } from "../../mod.ts";
import { checkGrads, type GradCase } from "../helpers/grads.ts";
import { makeTensor } from "../helpers/gen.ts";
import { assertMatches, needsTorch, numpy } from "../helpers/numpy.ts";

Deno.test({
  name: "fused batchNorm (training) matches torch: values and gradients",
  ...needsTorch,
}, async () => {
  const cases: GradCase[] = [];
  let seed = 41;
  for (const dt of ["f32", "f64"] as const) {
    for (const shape of [[6, 3], [4, 3, 5], [3, 2, 4, 5]]) {
      for (const affine of [true, false]) {
        const C = shape[1];
        const x = makeTensor(shape, dt, seed++, "contiguous", { lo: -2, hi: 3 });
        const inputs = affine ? [x, makeTensor([C], dt, seed++), makeTensor([C], dt, seed++)] : [x];
        cases.push({
          name: `batchNorm ${dt} ${shape} affine=${affine}`,
          inputs,
          ours: (a, w, b) =>
            nn.functional.batchNorm(a, null, null, { weight: w, bias: b, training: true }),
          torch: affine
            ? "F.batch_norm(x0, None, None, x1, x2, training=True, eps=1e-5)"
            : "F.batch_norm(x0, None, None, training=True, eps=1e-5)",
          tol: dt === "f32" ? { rtol: 1e-4, atol: 1e-5 } : undefined,
        });
      }
    }
  }
  // The fused kernel is what runs (not the composed form).
  const { trace } = traceKernels(() => noGrad(() => cases[0].ours(...cases[0].inputs).dispose()));
  assert.ok(trace.some((r) => r.op === "batchNormTrain"), JSON.stringify(trace));
  await checkGrads(cases);
});

Deno.test(
  { name: "fused batchNorm updates running statistics like torch", ...needsTorch },
  async () => {
    const bn = new nn.BatchNorm2d(3, { momentum: 0.2 });
    const x = makeTensor([4, 3, 2, 2], "f32", 77, "contiguous", { lo: -1, hi: 2 });
    bn.train();
    bn.call(x).dispose();
    const x2 = x.mul(2);
    bn.call(x2).dispose();
    x2.dispose();
    const [ref] = await numpy([{
      setup: [
        "import torch",
        "bn = torch.nn.BatchNorm2d(3, momentum=0.2)",
        "t = torch.tensor(x)",
        "bn(t); bn(t * 2)",
      ].join("\n"),
      expr: "[bn.running_mean.numpy(), bn.running_var.numpy()]",
      arrays: { x },
    }]);
    assert.equal(ref.error, undefined, ref.error);
    assertMatches(bn.runningMean!, ref.results[0], { rtol: 1e-5, atol: 1e-6 }, "mean");
    assertMatches(bn.runningVar!, ref.results[1], { rtol: 1e-5, atol: 1e-6 }, "var");
    x.dispose();
    bn.dispose();
  },
);

Deno.test("batchNormTrain declines what no kernel takes, and refuses gradients of its statistics", () => {
  const x = makeTensor([2, 3, 4], "f32", 5);
  const half = x.astype("f16");
  assert.equal(batchNormTrain(half, null, null, 1e-5), null, "f16 is composed by the caller");
  const t = x.T; // not contiguous
  assert.equal(batchNormTrain(t, null, null, 1e-5), null);
  const xs = x.detach().requireGrad();
  const [y, mean, v] = batchNormTrain(xs, null, null, 1e-5)!;
  const s = mean.sum();
  assert.throws(() => s.backward(), /not differentiable/);
  for (const u of [x, half, t, xs, y, mean, v, s]) u.dispose();
});

Deno.test({
  name: "fused layerNorm matches torch: values and gradients",
  ...needsTorch,
}, async () => {
  const cases: GradCase[] = [];
  let seed = 141;
  for (const dt of ["f32", "f64"] as const) {
    for (const [shape, norm] of [[[6, 5], [5]], [[2, 3, 4], [3, 4]]] as const) {
      for (const affine of [true, false]) {
        const x = makeTensor([...shape], dt, seed++, "contiguous", { lo: -2, hi: 3 });
        const inputs = affine
          ? [x, makeTensor([...norm], dt, seed++), makeTensor([...norm], dt, seed++)]
          : [x];
        cases.push({
          name: `layerNorm ${dt} ${shape} over ${norm} affine=${affine}`,
          inputs,
          ours: (a, w, b) => nn.functional.layerNorm(a, [...norm], { weight: w, bias: b }),
          torch: affine
            ? `F.layer_norm(x0, ${JSON.stringify(norm)}, x1, x2, eps=1e-5)`
            : `F.layer_norm(x0, ${JSON.stringify(norm)}, eps=1e-5)`,
          tol: dt === "f32" ? { rtol: 1e-4, atol: 1e-5 } : undefined,
        });
      }
    }
  }
  const { trace } = traceKernels(() => noGrad(() => cases[0].ours(...cases[0].inputs).dispose()));
  assert.ok(trace.some((r) => r.op === "layerNorm"), JSON.stringify(trace));
  await checkGrads(cases);
});
