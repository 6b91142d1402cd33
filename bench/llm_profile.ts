/**
 * Where a decode step of the LLM engine spends its time: the share of `quantLinear` (the WASM
 * kernel, timed around each call, activation quantization included) against everything else
 * (attention, norms, RoPE, elementwise ops, JS dispatch), over a prefill and `--decode` steps.
 *
 *     deno run -A bench/llm_profile.ts MODEL.gguf [--prefill 32] [--decode 32] [--threads 1]
 *       [--activations ggml|f32]
 */
import { parseArgs } from "node:util";
import { qlinearKernels } from "../backends/wasm/qlinear.ts";

// Wrap the kernel before the WASM plugin registers it (the dynamic imports below register it).
const entry = qlinearKernels.quantLinear;
const inner = entry.run;
let kernelMs = 0, calls = 0;
entry.run = (call) => {
  const t = performance.now();
  inner(call);
  kernelMs += performance.now() - t;
  calls++;
};
const { loadModel } = await import("../llm/mod.ts");
const { setWasmThreads } = await import("../backends/wasm/mod.ts");

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    prefill: { type: "string", default: "32" },
    decode: { type: "string", default: "32" },
    threads: { type: "string", default: "1" },
    activations: { type: "string", default: "ggml" },
  },
});
const P = Number(values.prefill), D = Number(values.decode);
setWasmThreads(Number(values.threads));
const acts = values.activations === "f32" ? "f32" : "ggml";
const model = await loadModel(positionals[0], { contextLength: P + D + 8, activations: acts });
const ids = [1, ...Array.from({ length: P - 1 }, (_, i) => 3 + ((i * 7919) % 30000))];
let n = 0, t0 = 0, k0 = 0, c0 = 0, prefill = { ms: 0, kernel: 0 };
const start = performance.now();
for await (const _ of model.generate(ids, { maxTokens: D, temperature: 0 })) {
  if (n++ === 0) {
    t0 = performance.now();
    prefill = { ms: t0 - start, kernel: kernelMs };
    k0 = kernelMs;
    c0 = calls;
  }
}
const ms = performance.now() - t0, kms = kernelMs - k0, steps = n - 1;
model.dispose();
console.log(
  `prefill ${P}: ${prefill.ms.toFixed(0)} ms, quantLinear ${prefill.kernel.toFixed(0)} ms ` +
    `(${((100 * prefill.kernel) / prefill.ms).toFixed(0)}%)`,
);
console.log(
  `decode: ${(ms / steps).toFixed(1)} ms/token, quantLinear ${(kms / steps).toFixed(1)} ms ` +
    `(${((100 * kms) / ms).toFixed(0)}%, ${((calls - c0) / steps).toFixed(0)} calls/token), ` +
    `rest ${((ms - kms) / steps).toFixed(1)} ms`,
);
