// Times onnxruntime-node (CPU, N threads) on a model: prints the median, the minimum and the 10th
// percentile ms per run over RUNS runs after WARMUP untimed ones.
// Usage: node bench/onnx_ort_node.mjs MODEL FEEDS.json RUNS THREADS WARMUP [carry_out=carry_in ...]
// FEEDS.json: { name: { dtype: "float32" | "int64", shape: [...], data: base64 } }.
// Carried outputs feed the next run (recurrent state). onnxruntime-node comes from .refs
// (.ci/refs.sh) or .cache/ortnode (npm install --ignore-scripts onnxruntime-node@1.30.0).
import { createRequire } from "node:module";
import { existsSync, readFileSync } from "node:fs";

const roots = [
  ".refs/node_modules/onnxruntime-node",
  ".cache/ortnode/node_modules/onnxruntime-node",
];
const root = roots.find((r) => existsSync(r));
if (!root) throw new Error("onnxruntime-node is not installed (see the header)");
const ort = createRequire(import.meta.url)(`${process.cwd()}/${root}`);
const [model, feedsPath, runsArg, threadsArg, warmArg, ...carryArgs] = process.argv.slice(2);
const runs = Number(runsArg), threads = Number(threadsArg), warm = Number(warmArg);
const carry = carryArgs.map((a) => a.split("="));
const sess = await ort.InferenceSession.create(model, {
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  executionProviders: ["cpu"],
});
const raw = JSON.parse(readFileSync(feedsPath, "utf8"));
let feeds = {};
for (const [name, f] of Object.entries(raw)) {
  const buf = Buffer.from(f.data, "base64");
  const bytes = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  const data = f.dtype === "int64" ? new BigInt64Array(bytes) : new Float32Array(bytes);
  feeds[name] = new ort.Tensor(f.dtype, data, f.shape);
}
const times = [];
for (let i = 0; i < runs + warm; i++) {
  const t = performance.now();
  const out = await sess.run(feeds);
  if (i >= warm) times.push(performance.now() - t);
  feeds = { ...feeds };
  for (const [o, inp] of carry) feeds[inp] = out[o];
}
times.sort((a, b) => a - b);
const at = (q) => times[Math.floor(times.length * q)].toFixed(4);
console.log(`${at(0.5)} ${times[0].toFixed(4)} ${at(0.1)}`);
