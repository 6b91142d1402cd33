// llama.cpp (node-llama-cpp, CPU, f32 KV cache) on a GGUF: tokenization of a text and the logits
// after each of the given tokens. Usage: node llama_logits.mjs MODEL.gguf '[ids]' 'text'
// the package lives in the repository's .refs/ (see .ci/refs.sh); its path comes in LLAMA_PKG
const { getLlama } = await import(new URL(`file://${process.env.LLAMA_PKG}/dist/index.js`).href);

const [model, idsJson, text] = process.argv.slice(2);
const ids = JSON.parse(idsJson);
const llama = await getLlama({ gpu: false, build: "never", skipDownload: true, logLevel: "error" });
const m = await llama.loadModel({ modelPath: model });
const ctx = await m.createContext({
  contextSize: 64,
  experimentalKvCacheKeyType: "F32",
  experimentalKvCacheValueType: "F32",
});
const seq = ctx.getSequence();
const res = await seq.controlledEvaluate(ids.map((t) => [t, { generateNext: { logits: true } }]));
const logits = res.map((r) => {
  const l = r.next.logits;
  const out = new Array(m.tokens.count ?? l.size);
  for (const [k, v] of l) out[k] = v;
  return out;
});
// exit only once stdout drained: a pipe takes 64 KiB at a time
process.stdout.write(
  JSON.stringify({ tokens: Array.from(m.tokenize(text)), logits }),
  () => process.exit(0),
);
