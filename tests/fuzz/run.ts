/**
 * `deno task fuzz [cases] [seed] [formats]`: hostile GGUF and safetensors headers and ONNX models,
 * `cases` of each (default 20000): seed corpora of known corruption classes (llama.cpp's
 * `test-gguf.cpp` classes, the GGUF CVE classes, the safetensors format's promises) plus random mutations. Fails on any
 * error other than FormatError, any case slower than 1 s (a hang), or resident memory growing past
 * 256 MiB (something allocated from a claimed size). Safetensors cases whose header parses are
 * then loaded whole. Every format reports its RSS growth over the run and the largest growth over
 * one case (the fair reading: what one input costs, not the collector's timing).
 *
 * Then the whole loaders (tests/fuzz/loader_cases.ts), `cases` of each (default 10000): npy, npz
 * (stored, deflated, and deflate bombs), IDX (raw, gzip, and gzip bombs) and checkpoints
 * (byte mutations and JSON mutations of their metadata). Fails on any error that is not a
 * ComputeError, any accepted garbage, any case slower than 5 s, or peak RSS past 1 GiB (every
 * input is under 2 MB). `formats` (comma-separated) picks some of gguf, safetensors, onnx, npy,
 * npz, idx, checkpoint.
 */
import { hostileCorpus, mutate, rng, runCase, validFile } from "./gguf_cases.ts";
import { hostileSt, mutateSt, runStCase, validSt } from "./safetensors_cases.ts";
import { mutateOnnx, onnxSeeds, runOnnxCase } from "./onnx_cases.ts";
import { fuzzLoader, loaderSeeds } from "./loader_cases.ts";

const cases = Number(Deno.args[0] ?? 20000);
const seed = Number(Deno.args[1] ?? Date.now() % 1e9);
const only = Deno.args[2]?.split(",");
const want = (f: string) => !only || only.includes(f);
let failed = false;

async function fuzz(
  format: string,
  seeds: Uint8Array[],
  mut: (b: Uint8Array, r: () => number) => Uint8Array,
  run: (b: Uint8Array) => "ok" | "format-error" | { defect: unknown },
) {
  const r = rng(seed);
  const rss0 = Deno.memoryUsage().rss;
  const stats = { ok: 0, "format-error": 0, defects: 0, slow: 0, maxMs: 0, maxGrowth: 0, at: -1 };
  const t0 = performance.now();
  for (let i = 0; i < cases; i++) {
    // half the mutants start from the valid file: they get past the first checks
    let b = i < seeds.length
      ? seeds[i]
      : r() < 0.5
      ? seeds[0]
      : seeds[Math.floor(r() * seeds.length)];
    if (i >= seeds.length) { for (let k = 1 + Math.floor(r() * 3); k > 0; k--) b = mut(b, r); }
    const m0 = Deno.memoryUsage().rss;
    const t = performance.now();
    const out = run(b);
    const ms = performance.now() - t;
    const g = Deno.memoryUsage().rss - m0;
    if (g > stats.maxGrowth) [stats.maxGrowth, stats.at] = [g, i];
    stats.maxMs = Math.max(stats.maxMs, ms);
    if (ms > 1000) stats.slow++;
    if (typeof out === "string") stats[out]++;
    else {
      stats.defects++;
      if (stats.defects <= 5) {
        console.error(`${format} case ${i} (seed ${seed}): ${out.defect}`);
        await Deno.writeFile(`fuzz-defect-${format}-${seed}-${i}.bin`, b);
      }
    }
  }
  const grew = (Deno.memoryUsage().rss - rss0) / 2 ** 20;
  console.log(
    `${format} fuzz: ${cases} cases (seed ${seed}) in ` +
      `${((performance.now() - t0) / 1000).toFixed(1)} s: ${stats.ok} parsed, ` +
      `${stats["format-error"]} FormatError, ${stats.defects} other errors, ${stats.slow} slow ` +
      `(max ${stats.maxMs.toFixed(1)} ms), RSS +${
        grew.toFixed(0)
      } MiB over the run (largest growth ` +
      `in one case +${(stats.maxGrowth / 2 ** 20).toFixed(1)} MiB, case ${stats.at})`,
  );
  if (stats.defects || stats.slow || grew > 256) failed = true;
}

if (want("gguf")) {
  await fuzz("gguf", [validFile(), ...hostileCorpus().map((c) => c.bytes)], mutate, runCase);
}
if (want("safetensors")) {
  await fuzz("safetensors", [validSt(), ...hostileSt().map((c) => c.bytes)], mutateSt, runStCase);
}
// ONNX: typed errors (FormatError, DTypeError for element types we do not hold) count as handled.
if (want("onnx")) await fuzz("onnx", onnxSeeds(), mutateOnnx, runOnnxCase);

const loaderCases = Number(Deno.args[0] ?? 10000);
const seeds = await loaderSeeds();
for (const format of ["npy", "npz", "idx", "checkpoint"]) {
  if (!want(format)) continue;
  const t0 = performance.now();
  const stats = await fuzzLoader(format, seeds[format], loaderCases, seed);
  const peak = stats.peakRss / 2 ** 20;
  console.log(
    `${format} fuzz: ${loaderCases} cases (seed ${seed}) in ` +
      `${((performance.now() - t0) / 1000).toFixed(1)} s: ${stats.ok} loaded, ${stats.typed} ` +
      `typed errors, ${stats.defects} defects (untyped or accepted garbage), ${stats.slow} over ` +
      `5 s (max ${stats.maxMs.toFixed(1)} ms), peak RSS ${peak.toFixed(0)} MiB ` +
      `(+${((stats.peakRss - stats.baseRss) / 2 ** 20).toFixed(0)} over the run's start; ` +
      `largest growth in one case +${(stats.maxGrowth / 2 ** 20).toFixed(1)} MiB, case ` +
      `${stats.maxGrowthCase.index}, ${stats.maxGrowthCase.inputBytes} bytes of input)`,
  );
  for (const d of stats.first) console.error(d);
  if (stats.defects || stats.slow || peak > 1024) failed = true;
}
if (failed) Deno.exit(1);
