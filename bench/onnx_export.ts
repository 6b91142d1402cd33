/**
 * Export check at full size (too slow for CI): torchvision-shaped ResNet-18 and MobileNetV2
 * (random weights, running statistics from one training-mode batch) exported by tracing, run in
 * onnxruntime (Python wheel) and re-imported here on a batch other than the example's; prints
 * max |diff| vs the model, the export time and the file size.
 *
 * Usage: deno run -A bench/onnx_export.ts
 */
import "../backends/runtime.ts";
import * as nn from "../nn/mod.ts";
import { randn, seed } from "../core/random.ts";
import { noGrad } from "../core/autograd.ts";
import { exportOnnx } from "../io/onnx/export.ts";
import { loadOnnxSync } from "../io/onnx/session.ts";
import type { Tensor } from "../core/tensor.ts";
import { maxAbsDiff, ortRun } from "../tests/onnx/ort.ts";

seed(7);
const dir = await Deno.makeTempDir();
const models: [string, () => nn.Module][] = [
  ["resnet18", () => nn.models.resnet18({ numClasses: 10 })],
  ["mobilenet_v2", () => nn.models.mobilenetV2({ numClasses: 10 })],
];
for (const [name, make] of models) {
  const m = make();
  m.train();
  noGrad(() => m.call(randn([4, 3, 64, 64]).mul(2).add(0.5)));
  const path = `${dir}/${name}.onnx`;
  const t0 = performance.now();
  const bytes = await exportOnnx(m, randn([1, 3, 64, 64]), path, {
    dynamicAxes: { x: { 0: "batch" } },
  });
  const ms = performance.now() - t0;
  m.eval();
  const x = randn([3, 3, 64, 64]);
  const want = noGrad(() => m.call(x)) as Tensor;
  const ref = await ortRun(path, { "0:x": x }, 1);
  const back = loadOnnxSync(await Deno.readFile(path)).runSync({ x }).y;
  console.log(
    `${name}: export ${ms.toFixed(0)} ms, ${(bytes.length / 1e6).toFixed(1)} MB; batch 3 vs ` +
      `model: onnxruntime ${maxAbsDiff(ref["0:y"], want).toExponential(2)}, re-imported ` +
      `${maxAbsDiff(back, want).toExponential(2)} (max |y| ${
        Math.max(...Array.from(want.dataSync() as Float32Array, Math.abs)).toFixed(3)
      })`,
  );
}
await Deno.remove(dir, { recursive: true });
