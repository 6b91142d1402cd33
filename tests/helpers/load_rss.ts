// Resident memory of loading a model in a fresh process: prints {"file", "delta", "cacheBytes"}
// (bytes; delta = rss after loadModel - rss before, after a GC).
// Usage: deno run -A --v8-flags=--expose-gc tests/helpers/load_rss.ts MODEL.gguf CONTEXT
import { loadModel } from "../../llm/mod.ts";

const [path, ctx] = Deno.args;
const gc = (globalThis as { gc?: () => void }).gc;
gc?.();
const r0 = Deno.memoryUsage().rss;
const m = await loadModel(path, { contextLength: Number(ctx) });
gc?.();
const r1 = Deno.memoryUsage().rss;
console.log(
  JSON.stringify({ file: Deno.statSync(path).size, delta: r1 - r0, cacheBytes: m.cacheBytes }),
);
m.dispose();
