/**
 * exportOnnx: our MLP and CNN exported, run in onnxruntime (the reference) and re-imported here,
 * all equal to the module's own output.
 */
import "../../backends/runtime.ts";
import assert from "node:assert/strict";
import * as nn from "../../nn/mod.ts";
import { randn, seed } from "../../core/random.ts";
import { noGrad } from "../../core/autograd.ts";
import type { Tensor } from "../../core/tensor.ts";
import { exportOnnx } from "../../io/onnx/export.ts";
import { loadOnnxSync } from "../../io/onnx/session.ts";
import { maxAbsDiff, ortRun } from "./ort.ts";

async function check(
  model: nn.Module<[Tensor], Tensor>,
  example: Tensor,
  batch: Tensor,
  dyn: Record<number, string> = { 0: "batch" },
) {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/m.onnx`;
    await exportOnnx(model, example, path, {
      dynamicAxes: { x: dyn, y: dyn },
    });
    model.eval();
    const want = noGrad(() => model.call(batch));
    // onnxruntime on a batch size other than the example's (the dynamic axis).
    const ref = await ortRun(path, { "0:x": batch }, 1);
    const dOrt = maxAbsDiff(ref["0:y"], want);
    assert.ok(dOrt <= 1e-5, `onnxruntime vs ours: max |diff| ${dOrt}`);
    const back = loadOnnxSync(await Deno.readFile(path)).runSync({ x: batch }).y;
    const dBack = maxAbsDiff(back, want);
    assert.ok(dBack <= 1e-5, `re-imported vs ours: max |diff| ${dBack}`);
    return [dOrt, dBack];
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("an MLP exports to ONNX; onnxruntime and our loader match it to 1e-5", async () => {
  seed(11);
  const mlp = new nn.Sequential(
    new nn.Linear(6, 16),
    new nn.ReLU(),
    new nn.Linear(16, 16),
    new nn.GELU(),
    new nn.Dropout(0.3),
    new nn.Linear(16, 3),
    new nn.LogSoftmax(-1),
  );
  const d = await check(mlp, randn([1, 6]), randn([5, 6]));
  console.log(`mlp: ort ${d[0].toExponential(2)}, re-import ${d[1].toExponential(2)}`);
});

Deno.test("a CNN with batch norm and pooling exports; onnxruntime and our loader match it", async () => {
  seed(12);
  const cnn = new nn.Sequential(
    new nn.Conv2d(3, 8, 3, { padding: 1 }),
    new nn.BatchNorm2d(8),
    new nn.ReLU(),
    new nn.MaxPool2d(2),
    new nn.Conv2d(8, 8, 3, { stride: 2, padding: "valid" }),
    new nn.SiLU(),
    new nn.AvgPool2d(2, { ceilMode: true }),
    new nn.Flatten(),
    new nn.Linear(32, 4),
  );
  // Running statistics away from 0/1: one training-mode pass over a shifted batch.
  cnn.train();
  noGrad(() => cnn.call(randn([4, 3, 16, 16]).mul(2).add(0.5)));
  const d = await check(cnn, randn([1, 3, 16, 16]), randn([2, 3, 16, 16]));
  console.log(`cnn: ort ${d[0].toExponential(2)}, re-import ${d[1].toExponential(2)}`);
});

Deno.test("a 2-layer transformer encoder (post-norm relu, pre-norm gelu) exports and matches", async () => {
  seed(13);
  const enc = new nn.Sequential(
    new nn.TransformerEncoderLayer(16, 4, { dimFeedforward: 32, batchFirst: true, dropout: 0.1 }),
    new nn.TransformerEncoderLayer(16, 4, {
      dimFeedforward: 32,
      batchFirst: true,
      normFirst: true,
      activation: "gelu",
    }),
  );
  const d = await check(enc, randn([1, 5, 16]), randn([3, 7, 16]), { 0: "batch", 1: "seq" });
  console.log(`encoder: ort ${d[0].toExponential(2)}, re-import ${d[1].toExponential(2)}`);
});

Deno.test("exportOnnx names the layer it cannot lower", async () => {
  const m = new nn.Sequential(new nn.Linear(2, 2), new nn.Embedding(3, 2));
  await assert.rejects(exportOnnx(m, randn([1, 2]), null), /cannot export Embedding/);
});
