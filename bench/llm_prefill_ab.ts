/**
 * Prefill A/B in one process: the tiled several-row kernel (backends/cpu/src/qgemm_tile.c) against
 * the old 4-row kernel (`setQuantLinearTiling(false)`), alternated `--reps` times on one loaded
 * model, one thread. Reports prompt tok/s per wall second and per CPU second of this process
 * (node:process cpuUsage; with one WASM thread all the work runs on the calling thread, so CPU
 * time leaves out the time other processes held the core: steadier on a loaded machine).
 *
 *     deno run -A bench/llm_prefill_ab.ts MODEL.gguf [--prefill 128] [--reps 3]
 */
import { parseArgs } from "node:util";
import process from "node:process";
import { loadModel } from "../llm/mod.ts";
import { setWasmThreads } from "../backends/wasm/mod.ts";
import { setQuantLinearTiling } from "../backends/wasm/qlinear.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: { prefill: { type: "string", default: "128" }, reps: { type: "string", default: "3" } },
});
const path = positionals[0];
if (!path) throw new Error("usage: llm_prefill_ab.ts MODEL.gguf [--prefill N] [--reps R]");
const P = Number(values.prefill), REPS = Number(values.reps);
setWasmThreads(1);
const model = await loadModel(path, { contextLength: P + 8, activations: "ggml" });
let seed = 7;
const ids = [
  1,
  ...Array.from({ length: P - 1 }, () => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return 3 + (seed % (model.config.vocab - 3));
  }),
];
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const res: Record<string, { wall: number[]; cpu: number[] }> = {
  on: { wall: [], cpu: [] },
  off: { wall: [], cpu: [] },
};
for (let r = 0; r < REPS + 1; r++) {
  for (const mode of r % 2 ? ["on", "off"] : ["off", "on"]) {
    setQuantLinearTiling(mode === "on");
    const c0 = cpuMs(), w0 = performance.now();
    for await (const _ of model.generate(ids, { maxTokens: 1, temperature: 0 }));
    const c = cpuMs() - c0, w = performance.now() - w0;
    if (r > 0) res[mode].wall.push((P / w) * 1000), res[mode].cpu.push((P / c) * 1000); // r 0 warms
  }
}
model.dispose();
const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
const fmt = (a: number[]) =>
  `${med(a).toFixed(2)} [${Math.min(...a).toFixed(2)}–${Math.max(...a).toFixed(2)}]`;
console.log(
  `${path}, prefill ${P}, 1 thread, ${REPS} reps alternated, load ${Deno.loadavg()[0].toFixed(1)}`,
);
console.log(`prompt tok/s per wall s: old ${fmt(res.off.wall)}  tiled ${fmt(res.on.wall)}`);
console.log(
  `prompt tok/s per CPU s:  old ${fmt(res.off.cpu)}  tiled ${fmt(res.on.cpu)}  ratio ${
    (med(res.on.cpu) / med(res.off.cpu)).toFixed(2)
  }`,
);
