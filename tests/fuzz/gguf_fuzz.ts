/**
 * `deno task fuzz`: ≥ 10k hostile GGUF headers (seed corpus of llama.cpp's corruption classes and
 * the CVE classes, plus random mutations of them and of a valid file). Fails on any error other
 * than FormatError, any case slower than 1 s (a hang), or resident memory growing past 256 MiB
 * (something allocated from a claimed size). Usage: `deno task fuzz [cases] [seed]`.
 */
import { hostileCorpus, mutate, rng, runCase, validFile } from "./gguf_cases.ts";

const cases = Number(Deno.args[0] ?? 20000);
const seed = Number(Deno.args[1] ?? Date.now() % 1e9);
const r = rng(seed);
const seeds = [validFile(), ...hostileCorpus().map((c) => c.bytes)];
const rss0 = Deno.memoryUsage().rss;
const stats = { ok: 0, "format-error": 0, defects: 0, slow: 0, maxMs: 0 };
const t0 = performance.now();
for (let i = 0; i < cases; i++) {
  // half the mutants start from the valid file: they get past the header checks and reach
  // the tensor table, offsets and decoders
  let b = i < seeds.length
    ? seeds[i]
    : r() < 0.5
    ? seeds[0]
    : seeds[Math.floor(r() * seeds.length)];
  if (i >= seeds.length) { for (let k = 1 + Math.floor(r() * 3); k > 0; k--) b = mutate(b, r); }
  const t = performance.now();
  const out = runCase(b);
  const ms = performance.now() - t;
  stats.maxMs = Math.max(stats.maxMs, ms);
  if (ms > 1000) stats.slow++;
  if (typeof out === "string") stats[out]++;
  else {
    stats.defects++;
    if (stats.defects <= 5) {
      console.error(`case ${i} (seed ${seed}): ${out.defect}`);
      await Deno.writeFile(`fuzz-defect-${seed}-${i}.gguf`, b);
    }
  }
}
const grew = (Deno.memoryUsage().rss - rss0) / 2 ** 20;
console.log(
  `gguf fuzz: ${cases} cases (seed ${seed}) in ${
    ((performance.now() - t0) / 1000).toFixed(1)
  } s: ` +
    `${stats.ok} parsed, ${stats["format-error"]} FormatError, ${stats.defects} other errors, ` +
    `${stats.slow} slow (max ${stats.maxMs.toFixed(1)} ms), RSS +${grew.toFixed(0)} MiB`,
);
if (stats.defects || stats.slow || grew > 256) Deno.exit(1);
