// llama.cpp (node-llama-cpp, CPU) timing of a prefill of the given ids then N greedy decode steps.
// Usage: node llm_llama.mjs MODEL.gguf '[ids]' N THREADS   (LLAMA_PKG: node-llama-cpp's folder)
const { getLlama } = await import(new URL(`file://${process.env.LLAMA_PKG}/dist/index.js`).href);
const [model, idsJson, nStr, threadsStr] = process.argv.slice(2);
const ids = JSON.parse(idsJson), n = Number(nStr), threads = Number(threadsStr);
const llama = await getLlama({ gpu: false, build: "never", skipDownload: true, logLevel: "error" });
const m = await llama.loadModel({ modelPath: model });
const ctx = await m.createContext({
  contextSize: ids.length + n + 8,
  batchSize: ids.length,
  threads,
  batching: { dispatchSchedule: "nextTick" },
});
const seq = ctx.getSequence();
const argmax = (l) => {
  let b = -1, bv = -Infinity;
  for (const [k, v] of l) if (v > bv) (b = k), (bv = v);
  return b;
};
let t0 = performance.now();
let res = await seq.controlledEvaluate(
  ids.map((t, i) => [t, i === ids.length - 1 ? { generateNext: { logits: true } } : {}]),
);
const promptMs = performance.now() - t0;
let tok = argmax(res[res.length - 1].next.logits);
t0 = performance.now();
for (let i = 1; i < n; i++) {
  res = await seq.controlledEvaluate([[tok, { generateNext: { logits: true } }]]);
  tok = argmax(res[0].next.logits);
}
const decodeMs = performance.now() - t0;
process.stdout.write(
  JSON.stringify({ promptMs, decodeMs, decodeTokens: n - 1 }),
  () => process.exit(0),
);
