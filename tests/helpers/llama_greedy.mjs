// llama.cpp (node-llama-cpp, CPU, f32 KV cache) on a GGUF: the logits after each prompt token,
// then a greedy continuation of N tokens (argmax of llama.cpp's own logits at each step).
// Usage: node llama_greedy.mjs MODEL.gguf '[prompt ids]' N  → JSON {logits: number[][], greedy: number[]}
import { createRequire } from "node:module";
import path from "node:path";

const here = path.dirname(new URL(import.meta.url).pathname);
const require = createRequire(path.resolve(here, "../../.refs/node_modules/noop.js"));
const { getLlama } = await import(require.resolve("node-llama-cpp"));

const [model, idsJson, nText] = process.argv.slice(2);
const ids = JSON.parse(idsJson);
const n = Number(nText);
const llama = await getLlama({ gpu: false, build: "never", skipDownload: true, logLevel: "error" });
const m = await llama.loadModel({ modelPath: model });
const ctx = await m.createContext({
  contextSize: ids.length + n + 8,
  flashAttention: false, // on CPU its default (auto: on) rounds Q to f16: ~1e-4 off
  experimentalKvCacheKeyType: "F32",
  experimentalKvCacheValueType: "F32",
});
const seq = ctx.getSequence();
const vocab = m.tokens.count ?? 0;
const dense = (l) => {
  const out = new Array(vocab || l.size);
  for (const [k, v] of l) out[k] = v;
  return out;
};
const argmax = (a) => a.reduce((b, v, i) => (v > a[b] ? i : b), 0);
const res = await seq.controlledEvaluate(ids.map((t) => [t, { generateNext: { logits: true } }]));
const logits = res.map((r) => dense(r.next.logits));
const greedy = [];
let last = logits[logits.length - 1];
for (let i = 0; i < n; i++) {
  const t = argmax(last);
  greedy.push(t);
  if (i + 1 === n) break;
  const r = await seq.controlledEvaluate([[t, { generateNext: { logits: true } }]]);
  last = dense(r[0].next.logits);
}
process.stdout.write(JSON.stringify({ logits, greedy }), () => process.exit(0));
