/**
 * Continuous batching: decode steps of B sequences run as one `forwardBatch` call against the
 * same steps run one sequence at a time, on the same model and caches (each sequence first
 * prefilled with its own prompt of `--prompt` tokens).
 *
 *     deno run -A bench/llm_model.ts /tmp/tl2_q4_0.gguf q4_0 --layers 2   # make a model once
 *     deno run -A bench/llm_batch.ts /tmp/tl2_q4_0.gguf [--batch 8] [--steps 8] [--prompt 16]
 */
import { parseArgs } from "node:util";
import { forwardBatch, loadModel } from "../llm/mod.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    batch: { type: "string", default: "8" },
    steps: { type: "string", default: "8" },
    prompt: { type: "string", default: "16" },
  },
});
const path = positionals[0];
if (!path) throw new Error("usage: llm_batch.ts MODEL.gguf [--batch B] [--steps N] [--prompt P]");
const B = Number(values.batch), N = Number(values.steps), P = Number(values.prompt);
const model = await loadModel(path, { contextLength: P + 2 * N + 4 });
const V = model.config.vocab;
const tok = (i: number) => 3 + ((i * 7919) % (V - 3));

/** Prefill B caches with distinct prompts; returns them. */
function fresh() {
  const caches = Array.from({ length: B }, () => model.newCache());
  for (let b = 0; b < B; b++) {
    const prompt = Array.from({ length: P }, (_, i) => tok(b * 1000 + i));
    forwardBatch(model, [{ cache: caches[b], tokens: prompt }]);
  }
  return caches;
}

const time = (fn: () => void) => {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
};
const alone = fresh(), together = fresh();
const msAlone = time(() => {
  for (let s = 0; s < N; s++) {
    for (let b = 0; b < B; b++) forwardBatch(model, [{ cache: alone[b], tokens: [tok(s + b)] }]);
  }
});
const msTogether = time(() => {
  for (let s = 0; s < N; s++) {
    forwardBatch(model, together.map((cache, b) => ({ cache, tokens: [tok(s + b)] })));
  }
});
const rate = (ms: number) => ((B * N) / (ms / 1000)).toFixed(1);
console.log(
  `${path}: ${B} sequences × ${N} decode steps after ${P}-token prompts: one at a time ` +
    `${rate(msAlone)} tok/s, batched ${rate(msTogether)} tok/s (×${
      (msAlone / msTogether).toFixed(2)
    })`,
);
for (const c of [...alone, ...together]) c.dispose();
model.dispose();
