/**
 * LLM engine speed against llama.cpp in the same run, same file, same thread count: prefill of
 * `--prefill` random tokens then `--decode` greedy tokens (decode rate counts the steps after the
 * first token, as llama.cpp's `llama-bench` tg does).
 *
 *     deno run -A bench/llm_model.ts /tmp/tl_q4_0.gguf q4_0          # make the model once
 *     deno run -A bench/llm.ts /tmp/tl_q4_0.gguf [--prefill 128] [--decode 128] [--threads 1]
 *       [--activations ggml|f32] [--tiled on|off] [--repack on|off]
 *
 * Both sides use `--threads` threads (ours: the WASM pool, `setWasmThreads`). `--activations ggml`
 * (default) rounds activations to Q8_0/Q8_K before the quantized products, as llama.cpp's CPU path
 * does, so both sides do the same arithmetic; `f32` keeps them f32 (our engine's default).
 * `--tiled off` runs several-row products on the 4-row matrix-vector kernel instead of
 * backends/cpu/src/qgemm_tile.c (the code before it, to compare in the same minutes); `--repack
 * off` keeps Q4_0 weights in the GGUF layout instead of repacking them at load (qrepack.ts).
 */
import { parseArgs } from "node:util";
import { loadModel } from "../llm/mod.ts";
import { setWasmThreads } from "../backends/wasm/mod.ts";
import { setQuantLinearTiling } from "../backends/wasm/qlinear.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    prefill: { type: "string", default: "128" },
    decode: { type: "string", default: "128" },
    threads: { type: "string", default: "1" },
    activations: { type: "string", default: "ggml" },
    tiled: { type: "string", default: "on" },
    repack: { type: "string", default: "on" },
  },
});
const path = positionals[0];
if (!path) throw new Error("usage: llm.ts MODEL.gguf [--prefill N] [--decode N] [--threads T]");
const P = Number(values.prefill), D = Number(values.decode), T = Number(values.threads);
const acts = values.activations;
if (acts !== "ggml" && acts !== "f32") throw new Error("--activations must be ggml or f32");
setWasmThreads(T);
if (values.tiled !== "on" && values.tiled !== "off") throw new Error("--tiled must be on or off");
setQuantLinearTiling(values.tiled === "on");
if (values.repack !== "on" && values.repack !== "off") {
  throw new Error("--repack must be on or off");
}

const file = (await Deno.stat(path)).size;
const t0 = performance.now();
const model = await loadModel(path, {
  contextLength: P + D + 8,
  activations: acts,
  repack: values.repack === "on",
});
const loadMs = performance.now() - t0;
let seed = 7;
const ids = [
  1,
  ...Array.from({ length: P - 1 }, () => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return 3 + (seed % (model.config.vocab - 3));
  }),
];
for await (const _ of model.generate(ids, { maxTokens: D, temperature: 0 }));
const s = model.stats!;
model.dispose();

const r = new Deno.Command("node", {
  args: ["bench/llm_llama.mjs", path, JSON.stringify(ids), String(D), String(T)],
  env: { LLAMA_PKG: `${Deno.cwd()}/.refs/node_modules/node-llama-cpp` },
  stdout: "piped",
  stderr: "inherit",
}).outputSync();
const ll = JSON.parse(new TextDecoder().decode(r.stdout));
const rate = (n: number, ms: number) => (n / ms) * 1000;
const oursP = rate(P, s.promptMs), oursD = rate(s.decodeTokens - 1, s.decodeMs);
const llP = rate(P, ll.promptMs), llD = rate(ll.decodeTokens, ll.decodeMs);
console.log(
  `${path} (${(file / 2 ** 20).toFixed(0)} MiB, loaded in ${(loadMs / 1000).toFixed(1)} s), ` +
    `prefill ${P}, decode ${D}, threads ${T} (both), our activations ${acts}, tiled ${values.tiled}, ` +
    `repack ${values.repack}, ` +
    `load ${Deno.loadavg()[0].toFixed(1)}`,
);
console.log(
  `prefill tok/s: ours ${oursP.toFixed(2)}  llama.cpp ${llP.toFixed(2)}  ratio ${
    (oursP / llP).toFixed(4)
  }`,
);
console.log(
  `decode  tok/s: ours ${oursD.toFixed(2)}  llama.cpp ${llD.toFixed(2)}  ratio ${
    (oursD / llD).toFixed(4)
  }`,
);
console.log(`decode bandwidth: ours ${(oursD * file / 1e9).toFixed(2)} GB/s of weights read`);
