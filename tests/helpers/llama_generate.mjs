// llama.cpp (node-llama-cpp, CPU, f32 KV cache) greedy continuation of token ids: the argmax of
// llama.cpp's logits after the prompt, then after each chosen token, N times. Also prints the
// logits at every step. Usage: node llama_generate.mjs MODEL.gguf '[ids]' N
// the package lives in the repository's .refs/ (see .ci/refs.sh); its path comes in LLAMA_PKG
const { getLlama } = await import(new URL(`file://${process.env.LLAMA_PKG}/dist/index.js`).href);

const [model, idsJson, nStr] = process.argv.slice(2);
const ids = JSON.parse(idsJson);
const n = Number(nStr);
const llama = await getLlama({ gpu: false, build: "never", skipDownload: true, logLevel: "error" });
const m = await llama.loadModel({ modelPath: model });
const ctx = await m.createContext({
  contextSize: Number(process.env.CTX ?? ids.length + n + 8),
  // CACHE_TYPE=Q8_0 (a quantized V cache needs flash attention)
  experimentalKvCacheKeyType: process.env.CACHE_TYPE ?? "F32",
  experimentalKvCacheValueType: process.env.CACHE_TYPE ?? "F32",
  threads: 1,
  // flash attention rounds K and V to f16 even with an f32 cache
  flashAttention: process.env.CACHE_TYPE !== undefined,
  batching: { dispatchSchedule: "nextTick" },
});
const seq = ctx.getSequence();
const vocab = m.tokens.count;
const dense = (l) => {
  const out = new Array(vocab).fill(0);
  for (const [k, v] of l) out[k] = v;
  return out;
};
const argmax = (a) => a.reduce((b, v, i) => (v > a[b] ? i : b), 0);
const tokens = [], logits = [];
let step = ids.map((t, i) => [t, i === ids.length - 1 ? { generateNext: { logits: true } } : {}]);
for (let i = 0; i < n; i++) {
  const res = await seq.controlledEvaluate(step);
  const l = dense(res[res.length - 1].next.logits);
  logits.push(l);
  const t = argmax(l);
  tokens.push(t);
  step = [[t, { generateNext: { logits: true } }]];
  if (process.env.DEBUG_GEN) console.error(i, t);
}
// exit only once stdout drained: a pipe takes 64 KiB at a time
process.stdout.write(JSON.stringify({ tokens, logits }), () => process.exit(0));
