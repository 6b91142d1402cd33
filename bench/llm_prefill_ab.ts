/**
 * Prefill A/B in one process: the tiled several-row kernel (backends/cpu/src/qgemm_tile.c) against
 * the old 4-row kernel (`setQuantLinearTiling(false)`), alternated `--reps` times on one loaded
 * model, one thread. Reports prompt tok/s per wall second and per CPU second of this process
 * (node:process cpuUsage; with one WASM thread all the work runs on the calling thread, so CPU
 * time leaves out the time other processes held the core: steadier on a loaded machine).
 *
 * `--ab repack` instead compares a Q4_0 model loaded with its weights repacked (qrepack.ts,
 * "on") against the same file in the GGUF layout ("off"), two models in one process, and also
 * reports the decode rate (wall) of `--decode` tokens after each prefill.
 *
 *     deno run -A bench/llm_prefill_ab.ts MODEL.gguf [--prefill 128] [--reps 3] [--ab tiled|repack]
 *       [--decode 0]
 */
import { parseArgs } from "node:util";
import process from "node:process";
import { loadModel } from "../llm/mod.ts";
import { setWasmThreads } from "../backends/wasm/mod.ts";
import { setQuantLinearTiling } from "../backends/wasm/qlinear.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    prefill: { type: "string", default: "128" },
    reps: { type: "string", default: "3" },
    ab: { type: "string", default: "tiled" },
    decode: { type: "string", default: "0" },
  },
});
const AB = values.ab, D = Number(values.decode);
if (AB !== "tiled" && AB !== "repack") throw new Error("--ab must be tiled or repack");
const path = positionals[0];
if (!path) throw new Error("usage: llm_prefill_ab.ts MODEL.gguf [--prefill N] [--reps R]");
const P = Number(values.prefill), REPS = Number(values.reps);
setWasmThreads(1);
const model = await loadModel(path, {
  contextLength: P + D + 8,
  activations: "ggml",
  repack: AB === "repack",
});
const plain = AB === "repack"
  ? await loadModel(path, { contextLength: P + D + 8, activations: "ggml", repack: false })
  : model;
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
const res: Record<string, { wall: number[]; cpu: number[]; dec: number[] }> = {
  on: { wall: [], cpu: [], dec: [] },
  off: { wall: [], cpu: [], dec: [] },
};
for (let r = 0; r < REPS + 1; r++) {
  for (const mode of r % 2 ? ["on", "off"] : ["off", "on"]) {
    const m = AB === "repack" && mode === "off" ? plain : model;
    if (AB === "tiled") setQuantLinearTiling(mode === "on");
    const c0 = cpuMs(), w0 = performance.now();
    for await (const _ of m.generate(ids, { maxTokens: 1, temperature: 0 }));
    const c = cpuMs() - c0, w = performance.now() - w0;
    if (r > 0) res[mode].wall.push((P / w) * 1000), res[mode].cpu.push((P / c) * 1000); // r 0 warms
    if (D > 0) {
      for await (const _ of m.generate(ids, { maxTokens: D + 1, temperature: 0 }));
      const st = m.stats!;
      if (r > 0) res[mode].dec.push(((st.decodeTokens - 1) / st.decodeMs) * 1000);
    }
  }
}
model.dispose();
if (plain !== model) plain.dispose();
const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
const fmt = (a: number[]) =>
  `${med(a).toFixed(2)} [${Math.min(...a).toFixed(2)}–${Math.max(...a).toFixed(2)}]`;
console.log(
  `${path}, prefill ${P}, 1 thread, ${REPS} reps alternated, load ${Deno.loadavg()[0].toFixed(1)}`,
);
const [A, B] = AB === "tiled" ? ["old", "tiled"] : ["gguf", "repacked"];
console.log(`prompt tok/s per wall s: ${A} ${fmt(res.off.wall)}  ${B} ${fmt(res.on.wall)}`);
console.log(
  `prompt tok/s per CPU s:  ${A} ${fmt(res.off.cpu)}  ${B} ${fmt(res.on.cpu)}  ratio ${
    (med(res.on.cpu) / med(res.off.cpu)).toFixed(2)
  }`,
);
if (D > 0) {
  console.log(
    `decode tok/s (wall):     ${A} ${fmt(res.off.dec)}  ${B} ${fmt(res.on.dec)}  ratio ${
      (med(res.on.dec) / med(res.off.dec)).toFixed(2)
    }`,
  );
}
