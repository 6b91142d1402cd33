// llama.cpp's embeddings (node-llama-cpp embedding context, CPU) of token id lists, pooled as the
// GGUF's <arch>.pooling_type asks. Usage: node llama_embed.mjs A.gguf,B.gguf '[[ids], ...]'
// → JSON number[][][] (per model, one vector per list, as llama.cpp returns it: not normalized).
import { createRequire } from "node:module";
import path from "node:path";

const here = path.dirname(new URL(import.meta.url).pathname);
const require = createRequire(path.resolve(here, "../../.refs/node_modules/noop.js"));
const { getLlama } = await import(require.resolve("node-llama-cpp"));

const [models, idsJson] = process.argv.slice(2);
const lists = JSON.parse(idsJson);
const llama = await getLlama({ gpu: false, build: "never", skipDownload: true, logLevel: "error" });
const out = [];
for (const model of models.split(",")) {
  const m = await llama.loadModel({ modelPath: model });
  const ctx = await m.createEmbeddingContext({ contextSize: 128 });
  const vecs = [];
  for (const ids of lists) vecs.push(Array.from((await ctx.getEmbeddingFor(ids)).vector));
  out.push(vecs);
  await ctx.dispose();
  await m.dispose();
}
process.stdout.write(JSON.stringify(out), () => process.exit(0));
