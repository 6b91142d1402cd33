// Resident memory of loading a model in a fresh process: prints {"file", "delta", "cacheBytes"}
// (bytes; delta = rss after loadModel - rss before, after a GC). With WARM.gguf, that small model
// is loaded and freed first, so that the runtime's one-time costs (backend heap, code of the
// tokenizer and template libraries) are not counted as the model's.
// Usage: deno run -A --v8-flags=--expose-gc tests/helpers/load_rss.ts MODEL.gguf CONTEXT [WARM.gguf]
//        [ACTIVATIONS] (f32 | ggml: "ggml" also repacks Q4_0 weights in place, llm/model/repack.ts)
import { loadModel } from "../../llm/mod.ts";

const [path, ctx, warm, acts] = Deno.args;
const activations = acts === "ggml" ? "ggml" : "f32";
const gc = (globalThis as { gc?: () => void }).gc;
if (warm) (await loadModel(warm, { contextLength: 8, activations })).dispose();
gc?.();
const r0 = Deno.memoryUsage().rss;
const m = await loadModel(path, { contextLength: Number(ctx), activations });
gc?.();
const r1 = Deno.memoryUsage().rss;
console.log(
  JSON.stringify({ file: Deno.statSync(path).size, delta: r1 - r0, cacheBytes: m.cacheBytes }),
);
m.dispose();
