/**
 * Server throughput: first-token latency, single-stream decode tok/s and aggregate tok/s with
 * `--parallel` 1/4/8 (as many concurrent streams as slots), over HTTP on 127.0.0.1 through
 * `serve()` started in-process.
 *
 *     deno run -A bench/server.ts [model.gguf] [--tokens 64] [--rounds 3] [--parallel 1,4,8]
 *       [--step batch|per-seq] [--activations ggml|f32] [--threads N] [--tiled on|off]
 *       [--client worker|inproc] [--repack on|off]
 *
 * `--activations` as in bench/llm.ts (default ggml: Q8 activations as llama.cpp's CPU path rounds
 * them; `f32` is loadModel's default and runs the quantized products ~3-4x slower on the WASM
 * kernel, which is what made the server look slower than `model.generate` in bench/llm.ts).
 * `--step per-seq` forces one forward per slot (the fallback) to compare with the batched step.
 * `--tiled off` runs the batched step's several-row products on the 4-row matrix-vector kernel
 * instead of backends/cpu/src/qgemm_tile.c (as before it, to compare in the same minutes).
 * `--client worker` (default) runs the HTTP clients in a Worker (bench/server_client.ts), on
 * their own event loop as real clients are; `inproc` runs them on the server's thread (how this
 * bench measured before: each step then also delays the clients' sending and reading, which
 * inflated first-token times).
 */
import { parseArgs } from "node:util";
import { DEFAULT_MODEL, loadModel } from "../llm/mod.ts";
import { defaultStep, perSequenceStep, serve } from "../llm/server/mod.ts";
import { setWasmThreads } from "../backends/wasm/mod.ts";
import { setQuantLinearTiling } from "../backends/wasm/qlinear.ts";
import { stream, type StreamResult } from "./server_client.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    tokens: { type: "string", default: "64" },
    rounds: { type: "string", default: "3" },
    parallel: { type: "string", default: "1,4,8" },
    step: { type: "string", default: "batch" },
    activations: { type: "string", default: "ggml" },
    threads: { type: "string" },
    tiled: { type: "string", default: "on" },
    client: { type: "string", default: "worker" },
    repack: { type: "string", default: "on" },
  },
});
const path = positionals[0] ?? DEFAULT_MODEL;
const N = Number(values.tokens), R = Number(values.rounds);
if (values.tiled !== "on" && values.tiled !== "off") throw new Error("--tiled must be on or off");
if (values.client !== "worker" && values.client !== "inproc") {
  throw new Error("--client must be worker or inproc");
}
setQuantLinearTiling(values.tiled === "on");

/** The streams with ids `ids`, concurrently: in a Worker (`--client worker`) or here. */
async function streams(url: string, ids: number[]): Promise<StreamResult[]> {
  if (values.client === "inproc") return await Promise.all(ids.map((i) => stream(url, i, N)));
  const w = new Worker(new URL("./server_client.ts", import.meta.url), { type: "module" });
  try {
    return await new Promise<StreamResult[]>((resolve, reject) => {
      w.onmessage = (e) => resolve(e.data as StreamResult[]);
      w.onerror = (e) => reject(e);
      w.postMessage({ url, ids, tokens: N });
    });
  } finally {
    w.terminate();
  }
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const acts = values.activations;
if (acts !== "ggml" && acts !== "f32") throw new Error("--activations must be ggml or f32");
if (values.threads) setWasmThreads(Number(values.threads));
if (values.repack !== "on" && values.repack !== "off") {
  throw new Error("--repack must be on or off");
}
const model = await loadModel(path, { activations: acts, repack: values.repack === "on" });
const step = values.step === "per-seq" ? perSequenceStep(model) : defaultStep(model);
console.log(
  `${path}: ctx ${model.contextLength}, ${N} tokens per stream, median of ${R} rounds, ` +
    `step ${values.step}, activations ${acts}, client ${values.client}, repack ${values.repack}, ` +
    `load ${Deno.loadavg()[0].toFixed(1)}`,
);
console.log("| parallel | streams | first token ms | per-stream decode tok/s | aggregate tok/s |");
console.log("| --- | --- | --- | --- | --- |");
for (const P of values.parallel.split(",").map(Number)) {
  const srv = serve({ model, port: 0, parallel: P, step });
  await streams(srv.url, [0]); // warm-up
  const firsts: number[] = [], per: number[] = [], agg: number[] = [];
  for (let r = 0; r < R; r++) {
    const t0 = performance.now();
    const rs = await streams(srv.url, Array.from({ length: P }, (_, i) => r * 10 + i));
    const wall = (performance.now() - t0) / 1000;
    for (const x of rs) firsts.push(x.first), per.push((x.tokens - 1) / (x.rest / 1000));
    agg.push(rs.reduce((a, x) => a + x.tokens, 0) / wall);
  }
  console.log(
    `| ${P} | ${P} | ${median(firsts).toFixed(1)} | ${median(per).toFixed(1)} | ${
      median(agg).toFixed(1)
    } |`,
  );
  await srv.shutdown();
}
model.dispose();
