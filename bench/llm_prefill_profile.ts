/**
 * Where one prefill chunk of the LLM engine spends its time, kernel by kernel: every entry of the
 * WASM plugin's kernel table is timed around its `run` (quantLinear split by weight type and
 * output width, with the activation quantization `qlin_quant` + `qlin_interleave` timed apart),
 * the rest of the forward (JS dispatch, embedding, rope tables, masks, scalar-backend ops) is the
 * difference to the whole chunk. Reports ms, share and, for quantLinear, GMAC/s of the integer
 * dots. The median chunk of `--reps` is shown (each a fresh cache, same tokens).
 *
 *     deno run -A bench/llm_prefill_profile.ts MODEL.gguf [--prefill 128] [--threads 1] [--reps 3]
 *       [--activations ggml|f32] [--repack on|off]
 */
import { parseArgs } from "node:util";
import { kernels } from "../backends/wasm/kernels.ts";
import type { KernelCall } from "../core/backend/plugin.ts";
import { loadRuntime } from "../backends/cpu/runtime.ts";
import { scalarBackend } from "../backends/scalar/mod.ts";
import { openblasBackend } from "../backends/openblas/mod.ts";

const times = new Map<string, { ms: number; calls: number; macs: number }>();
const add = (key: string, ms: number, macs = 0) => {
  const e = times.get(key) ?? { ms: 0, calls: 0, macs: 0 };
  e.ms += ms, e.calls++, e.macs += macs;
  times.set(key, e);
};
// Wrap the kernels before the WASM plugin registers them (the dynamic imports below register it).
// Wrap every backend's kernels before backends/runtime.ts registers them (the dynamic imports
// below do): the registry copies each table's runners at registration.
for (
  const [be, tbl] of [["wasm", kernels], ["scalar", scalarBackend.kernels], [
    "openblas",
    openblasBackend.kernels,
  ]] as const
) {
  const table = tbl as Record<string, unknown>;
  for (const [op, entry] of Object.entries(table)) {
    type Run = (call: KernelCall) => unknown;
    const timed = (inner: Run): Run => (call: KernelCall) => {
      let key = `${op} (${be})`, macs = 0;
      if (op === "quantLinear") {
        const [x, w] = call.inputs;
        key = `quantLinear ${w.dtype} n=${w.shape[0]} k=${x.shape[1]} (${be})`;
        macs = x.shape[0] * w.shape[0] * x.shape[1];
      }
      const t = performance.now();
      const r = inner(call);
      add(key, performance.now() - t, macs);
      return r;
    };
    if (typeof entry === "function") table[op] = timed(entry as Run);
    else if (entry && typeof (entry as { plan?: unknown }).plan === "function") {
      const e = entry as { plan: (call: KernelCall) => Run | null };
      const plan = e.plan.bind(e);
      table[op] = {
        plan: (call: KernelCall) => {
          const r = plan(call);
          return r ? timed(r) : null;
        },
      };
    } else if (entry && typeof (entry as { run?: unknown }).run === "function") {
      const e = entry as { run: Run };
      e.run = timed(e.run.bind(e));
    }
  }
}
const rt = loadRuntime() as unknown as { exports: Record<string, unknown> };
const ex = { ...rt.exports } as Record<string, unknown>;
for (const name of ["qlin_quant", "qlin_interleave", "qlin_quant_q8_1"]) {
  const f = ex[name] as (...a: number[]) => unknown;
  ex[name] = (...a: number[]) => {
    const t = performance.now();
    const r = f(...a);
    add(`  of which ${name}`, performance.now() - t);
    return r;
  };
}
rt.exports = ex;

const { loadModel } = await import("../llm/mod.ts");
const { setWasmThreads } = await import("../backends/wasm/mod.ts");
const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    prefill: { type: "string", default: "128" },
    threads: { type: "string", default: "1" },
    reps: { type: "string", default: "3" },
    activations: { type: "string", default: "ggml" },
    repack: { type: "string", default: "on" },
  },
});
const P = Number(values.prefill), REPS = Number(values.reps);
setWasmThreads(Number(values.threads));
const acts = values.activations === "f32" ? "f32" : "ggml";
const model = await loadModel(positionals[0], {
  contextLength: P + 8,
  activations: acts,
  repack: values.repack !== "off", // --repack off: Q4_0 weights in the GGUF layout
});
const ids = [1, ...Array.from({ length: P - 1 }, (_, i) => 3 + ((i * 7919) % 30000))];
model.logits(ids.slice(0, 8)); // warm up (JIT of every kernel)
const runs: { total: number; t: Map<string, { ms: number; calls: number; macs: number }> }[] = [];
for (let r = 0; r < REPS; r++) {
  times.clear();
  const t0 = performance.now();
  model.logits(ids);
  runs.push({ total: performance.now() - t0, t: new Map(times) });
}
model.dispose();
runs.sort((a, b) => a.total - b.total);
const { total, t } = runs[REPS >> 1];
const load = Deno.loadavg()[0];
console.log(
  `${positionals[0]} prefill ${P}, threads ${values.threads}, activations ${acts}, load ${
    load.toFixed(1)
  }; median of ${REPS} chunks: ${total.toFixed(0)} ms = ${(P / total * 1000).toFixed(2)} tok/s ` +
    `(chunks: ${runs.map((r) => r.total.toFixed(0)).join(", ")} ms)`,
);
console.log("| kernel | calls | ms | share | GMAC/s |\n| --- | --- | --- | --- | --- |");
let kern = 0, macs = 0;
const rows = [...t.entries()].sort((a, b) => b[1].ms - a[1].ms);
for (const [k, e] of rows) {
  if (!k.startsWith(" ")) kern += e.ms;
  macs += e.macs;
  const g = e.macs ? (e.macs / e.ms / 1e6).toFixed(1) : "";
  console.log(
    `| ${k} | ${e.calls} | ${e.ms.toFixed(1)} | ${(100 * e.ms / total).toFixed(1)}% | ${g} |`,
  );
}
console.log(
  `| everything else (JS, embed, tables, scalar ops) | | ${(total - kern).toFixed(1)} | ${
    (100 * (total - kern) / total).toFixed(1)
  }% | |`,
);
console.log(
  `quantLinear GMAC ${(macs / 1e9).toFixed(2)}; whole chunk ${
    (macs / total / 1e6).toFixed(1)
  } GMAC/s`,
);
