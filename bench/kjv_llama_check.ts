/**
 * The files `deno task train:lm` writes (kjv-llama-{f32,q8_0,q4_k}.gguf) against llama.cpp
 * (node-llama-cpp, CPU, f32 KV cache, flash attention off): the tensor types of each file, the
 * greedy 64-token continuation of "And God said" from both engines (F32 with our f32 activations,
 * the quantized files with llama.cpp's activation rounding, `activations: "ggml"`), the steps where
 * our teacher-forced best token differs from llama.cpp's (with our top-2 gap there), the largest
 * logit difference over the prompt, and both engines' perplexity over held-out windows.
 *
 *     deno run -A bench/kjv_llama_check.ts [DIR (default models)] [--windows 8]
 *
 * Needs node and .refs/node_modules/node-llama-cpp (.ci/refs.sh) and .cache/lm/heldout.txt (written
 * by `deno task train:lm`).
 */
import { parseArgs } from "node:util";
import { openGguf } from "../mod.ts";
import { loadModel } from "../llm/mod.ts";
import { llamaGreedy, meanNll } from "../tests/helpers/llama_refs.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    windows: { type: "string", default: "8" },
    data: { type: "string", default: ".cache/lm" },
  },
});
const dir = positionals[0] ?? "models";
const W = Number(values.windows);
const heldText = await Deno.readTextFile(`${values.data}/heldout.txt`);

const argmax = (r: ArrayLike<number>) => {
  let b = 0;
  for (let v = 1; v < r.length; v++) if (r[v] > r[b]) b = v;
  return b;
};

for (const q of ["f32", "q8_0", "q4_k"]) {
  const path = `${dir}/kjv-llama-${q}.gguf`;
  let size: number;
  try {
    size = (await Deno.stat(path)).size;
  } catch {
    console.log(`${path}: missing`);
    continue;
  }
  const types: Record<string, string[]> = {};
  {
    using f = await openGguf(path);
    for (const t of f.tensors) (types[t.type] ??= []).push(t.name);
  }
  console.log(`\n${path}: ${(size / 1e6).toFixed(2)} MB`);
  for (const [t, names] of Object.entries(types)) {
    console.log(`  ${t}: ${names.length} tensors (${names.join(", ")})`);
  }
  const model = await loadModel(path, { activations: q === "f32" ? "f32" : "ggml" });
  try {
    const prompt = model.tokenizer.encode("And God said");
    const ref = llamaGreedy(path, prompt, 64);
    for await (const _ of model.generate(prompt, { maxTokens: 64, temperature: 0 })) {
      // ids in stats
    }
    const ours = model.stats!.tokens;
    const same = ours.length === 64 && ours.every((t, i) => t === ref.greedy[i]);
    let firstDiff = ours.findIndex((t, i) => t !== ref.greedy[i]);
    if (firstDiff < 0 && ours.length < 64) firstDiff = ours.length;
    console.log(
      `  greedy 64: ${same ? "identical" : `differ from token ${firstDiff}`}\n  ours:      ${
        JSON.stringify(model.tokenizer.decode(ours))
      }\n  llama.cpp: ${JSON.stringify(model.tokenizer.decode(ref.greedy))}`,
    );
    const seq = [...prompt, ...ref.greedy.slice(0, -1)];
    const mine = model.logits(seq);
    let maxd = 0;
    for (let t = 0; t < prompt.length; t++) {
      for (let v = 0; v < mine[t].length; v++) {
        maxd = Math.max(maxd, Math.abs(mine[t][v] - ref.logits[t][v]));
      }
    }
    const ties: string[] = [];
    for (let j = 0; j < 64; j++) {
      const r = mine[prompt.length - 1 + j], b = argmax(r);
      if (b !== ref.greedy[j]) ties.push(`step ${j} gap ${(r[b] - r[ref.greedy[j]]).toFixed(4)}`);
    }
    console.log(
      `  prompt logits max |ours − llama.cpp| ${maxd.toExponential(2)}; teacher-forced best ` +
        `token differs at ${ties.length}/64 steps${ties.length ? ` (${ties.join("; ")})` : ""}`,
    );
    // held-out: W windows of 128 tokens from the start of the held-out text
    const ids = model.tokenizer.encode(heldText.slice(0, 60000), { addSpecial: false });
    let a = 0, b = 0;
    for (let w = 0; w < W; w++) {
      const win = ids.slice(w * 128, (w + 1) * 128);
      const lo = model.logits(win);
      const lr = llamaGreedy(path, win, 1).logits;
      a += meanNll((t) => lo[t], win), b += meanNll((t) => lr[t], win);
    }
    const [pa, pb] = [Math.exp(a / W), Math.exp(b / W)];
    console.log(
      `  held-out perplexity (${W}×127 tokens): ours ${pa.toFixed(4)}, llama.cpp ${
        pb.toFixed(4)
      } (${((pa / pb - 1) * 100).toFixed(3)}%)`,
    );
  } finally {
    model.dispose();
  }
}
