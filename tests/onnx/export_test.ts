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
import { exportOnnx, exportOnnxSync } from "../../io/onnx/export.ts";
import { tensor } from "../../core/ops/creation.ts";
import { cumprod } from "../../core/ops/reduce.ts";
import { loadOnnxSync } from "../../io/onnx/session.ts";
import { maxAbsDiff, ortRun } from "./ort.ts";

/** Running statistics away from 0/1: one training-mode pass over a shifted batch. */
function warmStats(net: nn.Module, shape: number[]) {
  net.train();
  noGrad(() => net.call(randn(shape).mul(2).add(0.5)));
}

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
    const scale = Math.max(...Array.from(want.dataSync() as Float32Array, Math.abs));
    assert.ok(scale > 1e-3, `the output is not trivially small (max |y| ${scale})`);
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

Deno.test("ResNet blocks (BasicBlock, Bottleneck, projection shortcuts) export by tracing", async () => {
  // ResNet-18 itself (11.7M parameters) is checked by bench/onnx_export.ts; its blocks and stem
  // at small widths here keep CI fast.
  seed(14);
  const { BasicBlock, Bottleneck } = nn.models;
  const down = (cin: number, cout: number) =>
    new nn.Sequential(
      new nn.Conv2d(cin, cout, 1, { stride: 2, bias: false }),
      new nn.BatchNorm2d(cout),
    );
  const net = new nn.Sequential(
    new nn.Conv2d(3, 8, 7, { stride: 2, padding: 3, bias: false }),
    new nn.BatchNorm2d(8),
    new nn.ReLU(),
    new nn.MaxPool2d(3, { stride: 2, padding: 1 }),
    new BasicBlock(8, 8),
    new BasicBlock(8, 16, 2, down(8, 16)),
    new Bottleneck(16, 4),
    new Bottleneck(16, 8, 2, down(16, 32)),
    new nn.AdaptiveAvgPool2d([1, 1]),
    new nn.Flatten(),
    new nn.Linear(32, 5),
  );
  warmStats(net, [2, 3, 32, 32]);
  const d = await check(net, randn([1, 3, 32, 32]), randn([2, 3, 32, 32]));
  console.log(`resnet blocks: ort ${d[0].toExponential(2)}, re-import ${d[1].toExponential(2)}`);
});

Deno.test("MobileNetV2 (inverted residuals, depthwise conv) exports by tracing and matches", async () => {
  seed(15);
  const net = nn.models.mobilenetV2({ numClasses: 4, widthMult: 0.5 });
  warmStats(net, [2, 3, 16, 16]);
  const d = await check(net, randn([1, 3, 16, 16]), randn([2, 3, 16, 16]));
  console.log(`mobilenet_v2: ort ${d[0].toExponential(2)}, re-import ${d[1].toExponential(2)}`);
});

Deno.test("an embedding + attention model with two outputs exports (integer ids input)", async () => {
  seed(16);
  class Tagger extends nn.Module<[Tensor], Tensor[]> {
    emb = new nn.Embedding(11, 8);
    attn = new nn.MultiheadAttention(8, 2, { batchFirst: true });
    head = new nn.Linear(8, 3);
    forward(ids: Tensor): Tensor[] {
      const e = this.emb.call(ids);
      const [a] = this.attn.call(e, e, e) as unknown as Tensor[];
      const y = this.head.call(a.add(e));
      return [y, y.softmax(-1).max(-1)];
    }
  }
  const m = new Tagger();
  const ids = tensor([[1, 4, 9, 2, 0]], { dtype: "i64" });
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/t.onnx`;
    const dyn = { 0: "batch", 1: "seq" };
    await exportOnnx(m, ids, path, {
      inputNames: ["ids"],
      outputNames: ["logits", "best"],
      dynamicAxes: { ids: dyn },
    });
    const batch = tensor([[3, 1, 4, 1, 5, 9, 2], [6, 5, 3, 5, 8, 9, 7]], { dtype: "i64" });
    m.eval();
    const want = noGrad(() => m.call(batch));
    const ref = await ortRun(path, { "0:ids": batch }, 1);
    assert.ok(maxAbsDiff(ref["0:logits"], want[0]) <= 1e-5);
    assert.ok(maxAbsDiff(ref["0:best"], want[1]) <= 1e-5);
    const back = loadOnnxSync(await Deno.readFile(path)).runSync({ ids: batch });
    assert.ok(maxAbsDiff(back.logits, want[0]) <= 1e-5);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("exportOnnx names an op it has no mapping for, and an output that ignores the inputs", () => {
  class Sorter extends nn.Module<[Tensor], Tensor> {
    lin = new nn.Linear(4, 4);
    forward(x: Tensor): Tensor {
      return cumprod(this.lin.call(x), -1);
    }
  }
  assert.throws(
    () => exportOnnxSync(new Sorter(), randn([2, 4])),
    /no ONNX mapping for op "cumprod"/,
  );
  class Const extends nn.Module<[Tensor], Tensor> {
    w = randn([2]).requireGrad();
    forward(_x: Tensor): Tensor {
      return this.w.add(1);
    }
  }
  assert.throws(() => exportOnnxSync(new Const(), randn([2])), /does not depend on the inputs/);
});

Deno.test("the fused norms export as ONNX ops: layer norm at opset 13 and 17, batch-statistics batch norm", async () => {
  seed(21);
  const dir = await Deno.makeTempDir();
  try {
    const cases: [string, nn.Module<[Tensor], Tensor>, Tensor, number][] = [
      [
        "layer norm, opset 13 (no LayerNormalization)",
        new nn.Sequential(new nn.Linear(6, 8), new nn.LayerNorm([8])),
        randn([3, 6]),
        13,
      ],
      [
        "layer norm without weights, opset 17",
        new nn.Sequential(new nn.Linear(6, 8), new nn.LayerNorm([8], { elementwiseAffine: false })),
        randn([3, 6]),
        17,
      ],
      [
        "batch norm without running statistics (batch statistics in eval mode too)",
        new nn.Sequential(
          new nn.Conv2d(2, 4, 3),
          new nn.BatchNorm2d(4, { trackRunningStats: false }),
        ),
        randn([2, 2, 5, 5]),
        17,
      ],
    ];
    for (const [name, model, x, opset] of cases) {
      model.eval();
      const path = `${dir}/m.onnx`;
      await exportOnnx(model, x, path, { opset });
      const want = noGrad(() => model.call(x));
      const ref = await ortRun(path, { "0:x": x }, 1);
      const d = maxAbsDiff(ref["0:y"], want);
      assert.ok(d <= 1e-5, `${name}: onnxruntime vs ours: max |diff| ${d}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
