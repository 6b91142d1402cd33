/**
 * Quantizing a TinyLlama-1.1B-shaped GGUF (random f16 weights, 22 layers, 2048 wide, 32000-token
 * vocabulary; 1.1B parameters, 2.2 GB) to a block type with `quantizeGguf`, the path of
 * `deno task gguf quantize`: wall time, parameters per second, the CPU time the process used
 * (user + system over all threads: CPU / threads is the wall time an idle machine would give
 * at best) and the load average around it (this machine's 2 cores are shared).
 * Usage: deno run -A bench/gguf_quantize.ts [--type q4_k] [--layers 22] [--threads N] [--keep]
 * (`--layers` below 22 times a smaller model and also prints the time scaled to 22 layers).
 */
import { parseArgs } from "node:util";
import { ready, setWasmThreads, wasmThreads } from "../mod.ts";
import type { GgufTensorType } from "../io/gguf/types.ts";
import { quantizeGguf } from "../io/gguf/quantize.ts";
import { saveGguf } from "../io/gguf/write.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    type: { type: "string", default: "q4_k" },
    layers: { type: "string", default: "22" },
    threads: { type: "string" },
    keep: { type: "boolean", default: false },
  },
});
await ready();
if (values.threads) setWasmThreads(Number(values.threads));
const layers = Number(values.layers);

const shapes: [string, number[]][] = [["token_embd.weight", [32000, 2048]]];
for (let l = 0; l < layers; l++) {
  shapes.push(
    [`blk.${l}.attn_norm.weight`, [2048]],
    [`blk.${l}.attn_q.weight`, [2048, 2048]],
    [`blk.${l}.attn_k.weight`, [256, 2048]],
    [`blk.${l}.attn_v.weight`, [256, 2048]],
    [`blk.${l}.attn_output.weight`, [2048, 2048]],
    [`blk.${l}.ffn_norm.weight`, [2048]],
    [`blk.${l}.ffn_gate.weight`, [5632, 2048]],
    [`blk.${l}.ffn_up.weight`, [5632, 2048]],
    [`blk.${l}.ffn_down.weight`, [2048, 5632]],
  );
}
shapes.push(["output_norm.weight", [2048]], ["output.weight", [32000, 2048]]);
const count = (s: number[]) => s.reduce((a, b) => a * b, 1);
const params = shapes.reduce((a, [, s]) => a + count(s), 0);

// A pool of random f16 weights (gaussian, std 0.02 like an initialised model) the tensors cut
// their bytes from at shifting offsets.
const POOL = 1 << 24;
const pool = new Float16Array(POOL + (1 << 20));
let seed = 12345;
const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
for (let i = 0; i < pool.length; i++) {
  pool[i] = 0.02 * Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
}
const poolBytes = new Uint8Array(pool.buffer);
const input = await Deno.makeTempFile({ suffix: ".gguf" });
const output = await Deno.makeTempFile({ suffix: ".gguf" });
let t0 = performance.now();
await saveGguf(input, {
  metadata: {
    "general.architecture": "llama",
    "llama.block_count": { type: "u32", value: layers },
  },
  tensors: shapes.map(([name, shape], k) => ({
    name,
    shape,
    type: "f16" as const,
    data: () => {
      const out = new Uint8Array(2 * count(shape));
      for (let o = 0, s = (k * 7919) % (1 << 20); o < out.length; o += 2 * POOL, s = 0) {
        const n = Math.min(2 * POOL, out.length - o);
        out.set(poolBytes.subarray(2 * s, 2 * s + n), o);
      }
      return out;
    },
  })),
});
console.log(
  `input: ${shapes.length} tensors, ${(params / 1e9).toFixed(3)}B parameters, f16, ` +
    `${((2 * params) / 2 ** 30).toFixed(2)} GiB, written in ${
      ((performance.now() - t0) / 1000).toFixed(1)
    } s`,
);

/** CPU seconds this process has used (user + system, all threads), from /proc/self/stat. */
function cpuSeconds(): number {
  const f = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in USER_HZ (100 on Linux)
}
const load0 = Deno.loadavg()[0];
const cpu0 = cpuSeconds();
t0 = performance.now();
await quantizeGguf(input, output, { type: values.type as GgufTensorType });
const s = (performance.now() - t0) / 1000;
const load1 = Deno.loadavg()[0];
const cpu = cpuSeconds() - cpu0;
const outBytes = (await Deno.stat(output)).size;
console.log(
  `quantizeGguf → ${values.type}: ${s.toFixed(1)} s, ${
    (params / s / 1e6).toFixed(1)
  } M params/s, ` +
    `output ${(outBytes / 2 ** 20).toFixed(0)} MiB, ${wasmThreads()} threads, CPU ${
      cpu.toFixed(1)
    } s ` +
    `(${(cpu / wasmThreads()).toFixed(1)} s per thread), load average ` +
    `${load0.toFixed(1)} → ${load1.toFixed(1)}` +
    (layers < 22
      ? `; scaled to 1.1B parameters: ${((1.1e9 / params) * s).toFixed(0)} s wall, ` +
        `${((1.1e9 / params) * cpu / wasmThreads()).toFixed(0)} s CPU per thread`
      : ""),
);
if (values.keep) console.log(`kept ${input} and ${output}`);
else {
  await Deno.remove(input);
  await Deno.remove(output);
}
