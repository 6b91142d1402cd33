/**
 * Server throughput: first-token latency, single-stream decode tok/s and aggregate tok/s with
 * `--parallel` 1/4/8 (as many concurrent streams as slots), over HTTP on 127.0.0.1 through
 * `serve()` started in-process.
 *
 *     deno run -A bench/server.ts [model.gguf] [--tokens 64] [--rounds 3] [--parallel 1,4,8]
 *       [--step batch|per-seq] [--activations ggml|f32] [--threads N] [--tiled on|off]
 *
 * `--activations` as in bench/llm.ts (default ggml: Q8 activations as llama.cpp's CPU path rounds
 * them; `f32` is loadModel's default and runs the quantized products ~3-4x slower on the WASM
 * kernel, which is what made the server look slower than `model.generate` in bench/llm.ts).
 * `--step per-seq` forces one forward per slot (the fallback) to compare with the batched step.
 * `--tiled off` runs the batched step's several-row products on the 4-row matrix-vector kernel
 * instead of backends/cpu/src/qgemm_tile.c (as before it, to compare in the same minutes).
 */
import { parseArgs } from "node:util";
import { DEFAULT_MODEL, loadModel } from "../llm/mod.ts";
import { defaultStep, perSequenceStep, serve } from "../llm/server/mod.ts";
import { setWasmThreads } from "../backends/wasm/mod.ts";
import { setQuantLinearTiling } from "../backends/wasm/qlinear.ts";

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
  },
});
const path = positionals[0] ?? DEFAULT_MODEL;
const N = Number(values.tokens), R = Number(values.rounds);
if (values.tiled !== "on" && values.tiled !== "off") throw new Error("--tiled must be on or off");
setQuantLinearTiling(values.tiled === "on");

/** One streamed completion: ms to the first token, ms of the rest, tokens. */
async function stream(
  url: string,
  i: number,
): Promise<{ first: number; rest: number; tokens: number }> {
  const t0 = performance.now();
  const r = await fetch(`${url}/v1/completions`, {
    method: "POST",
    body: JSON.stringify({
      prompt: `And it came to pass ${i}`,
      max_tokens: N,
      temperature: 0,
      logprobs: 0,
      stream: true,
      logit_bias: { "1023": -100 }, // no EOS: every stream makes exactly N tokens
    }),
  });
  let first = 0, tokens = 0, buf = "";
  for await (const part of r.body!.pipeThrough(new TextDecoderStream())) {
    buf += part;
    let k;
    while ((k = buf.indexOf("\n\n")) >= 0) {
      const line = buf.slice(0, k);
      buf = buf.slice(k + 2);
      if (!line.startsWith("data: {")) continue;
      const n = JSON.parse(line.slice(6)).choices[0]?.logprobs?.tokens?.length ?? 0;
      if (n && !first) first = performance.now() - t0;
      tokens += n;
    }
  }
  return { first, rest: performance.now() - t0 - first, tokens };
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const acts = values.activations;
if (acts !== "ggml" && acts !== "f32") throw new Error("--activations must be ggml or f32");
if (values.threads) setWasmThreads(Number(values.threads));
const model = await loadModel(path, { activations: acts });
const step = values.step === "per-seq" ? perSequenceStep(model) : defaultStep(model);
console.log(
  `${path}: ctx ${model.contextLength}, ${N} tokens per stream, median of ${R} rounds, ` +
    `step ${values.step}, activations ${acts}`,
);
console.log("| parallel | streams | first token ms | per-stream decode tok/s | aggregate tok/s |");
console.log("| --- | --- | --- | --- | --- |");
for (const P of values.parallel.split(",").map(Number)) {
  const srv = serve({ model, port: 0, parallel: P, step });
  await stream(srv.url, 0); // warm-up
  const firsts: number[] = [], per: number[] = [], agg: number[] = [];
  for (let r = 0; r < R; r++) {
    const t0 = performance.now();
    const rs = await Promise.all(Array.from({ length: P }, (_, i) => stream(srv.url, r * 10 + i)));
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
