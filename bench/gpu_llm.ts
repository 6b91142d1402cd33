/**
 * LLM decode on the GPU (`deno run -A bench/gpu_llm.ts [q4_0,q8_0] [--layers N]`): generates a
 * TinyLlama-1.1B-shaped GGUF with random weights (bench/llm_model.ts), loads it into the
 * GpuDecoder (llm/model/gpu/decoder.ts) and measures, per weight type:
 * - decode tokens/s in wall time: 256 greedy tokens after a short prompt, K steps per readback;
 * - prompt tokens/s (257 and 1000 positions in chunks, then the logits of the last), wall and GPU
 *   time, and a chunk's GPU time per kernel; for the first type also with the previous prompt
 *   kernels (8-row matvec, 32-position chunks, a workgroup per attention row);
 * - GPU time of one decode step per kernel (timestamp queries around each dispatch);
 * - the packed matvec alone (ffn_gate's shape, 5632×2048) in GB/s of weight bytes, GPU time.
 * Next to it, PyTorch/transformers decoding the same shape (random weights, fp16, greedy) on the
 * device's python3, in the same run. OUT=<dir> writes `gpu_llm_<types>.json` and `.md` there;
 * BENCH_NO_EXTRAS=1 measures decode only (no matvec cases, no PyTorch);
 * BENCH_SMALL=1 runs 8 tokens and skips the matvec cases (software adapters).
 *
 * @module
 */
import { fromBlocks, quantLinear, ready, type Tensor, tensor } from "../mod.ts";
import { webgpuContext } from "../internal.ts";
import { openGguf } from "../io/gguf/read.ts";
import { readConfig } from "../llm/model/config.ts";
import { loadWeights, weightTensors } from "../llm/model/weights.ts";
import { GpuDecoder, type StepProfile } from "../llm/model/gpu/decoder.ts";
import { quantizeRow } from "../core/quant/mod.ts";
import type { BlockDType, StorageDType } from "../core/dtype.ts";

const types = (Deno.args.find((a) => !a.startsWith("--") && !/^\d+$/.test(a)) ?? "q4_0,q8_0")
  .split(",");
const li = Deno.args.indexOf("--layers");
const layers = li >= 0 ? Number(Deno.args[li + 1]) : 22;
const SMALL = Deno.env.get("BENCH_SMALL") === "1"; // a quick check on a software adapter
const NEW = SMALL ? 8 : 256, PROMPT = SMALL ? 4 : 257;
const outDir = Deno.env.get("OUT");

await ready();
const ctx = webgpuContext();
if (!ctx) throw new Error("webgpu backend unavailable");
const device = ctx.adapter.info.description || ctx.adapter.info.vendor;
const lines: string[] = [];
const log = (s: string) => {
  console.log(s);
  lines.push(s);
};
const results: Record<string, unknown> = { device, layers };

/** Packed matvec alone: GPU time over 50 calls, GB/s of weight bytes. */
async function matvec(type: string): Promise<number> {
  const n = 5632, k = 2048;
  const wf = Float32Array.from({ length: n * k }, (_, i) => Math.sin(i) * 0.02);
  let w: Tensor<StorageDType>;
  let bytes: number;
  if (type === "f16") {
    w = await tensor(wf).reshape([n, k]).astype("f16").to("gpu") as Tensor<StorageDType>;
    bytes = n * k * 2;
  } else {
    const q = new Uint8Array((n * k / 32) * (type === "q4_0" ? 18 : 34));
    quantizeRow(type as BlockDType, wf, q);
    w = await fromBlocks(q, type as BlockDType, [n, k]).to("gpu") as Tensor<StorageDType>;
    bytes = q.length;
  }
  const x = await tensor(Float32Array.from({ length: k }, (_, i) => Math.cos(i))).reshape([1, k])
    .to("gpu");
  for (let i = 0; i < 5; i++) quantLinear(x, w).dispose();
  await quantLinear(x, w).data();
  ctx!.startTiming();
  const R = 50;
  for (let i = 0; i < R; i++) quantLinear(x, w).dispose();
  const t = await ctx!.stopTiming();
  w.dispose();
  x.dispose();
  return bytes / (t.ns / R);
}

const NO_EXTRAS = Deno.env.get("BENCH_NO_EXTRAS") === "1"; // decode only: no matvec, no PyTorch
for (const type of SMALL || NO_EXTRAS ? [] : ["q4_0", "q8_0", "f16"]) {
  try {
    const gbs = await matvec(type);
    log(`matvec ${type} 5632×2048: ${gbs.toFixed(0)} GB/s (GPU time, weight bytes)`);
    results[`matvec_${type}`] = gbs;
  } catch (e) {
    log(`matvec ${type}: failed: ${(e as Error).message}`);
  }
}

for (const type of types) {
  const path = await Deno.makeTempFile({ suffix: `-${type}.gguf` });
  const t0 = performance.now();
  const gen = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--cached-only", "bench/llm_model.ts", path, type, "--layers", `${layers}`],
  }).output();
  if (!gen.success) throw new Error(new TextDecoder().decode(gen.stderr));
  const f = await openGguf(path);
  const cfg = readConfig((k) => f.get(k), f.name, f.tensorInfo("token_embd.weight").shape[0]);
  const w = loadWeights(f, cfg);
  const dec = await GpuDecoder.create(w, cfg, 1024);
  // The previous prompt kernels (8-row matvec, chunks of 32; attention a workgroup per row) for
  // the before/after column, on the first type only.
  const old = type === types[0] && !SMALL
    ? await GpuDecoder.create(w, cfg, 1024, { prefill: "matvec", flash: false })
    : null;
  const big = type === types[0] && !SMALL
    ? await GpuDecoder.create(w, cfg, 1024, { chunk: 256 })
    : null;
  for (const t of weightTensors(w)) t.dispose();
  f.close();
  await Deno.remove(path);
  log(`${type}: model made and uploaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const prompt = Array.from({ length: PROMPT }, (_, i) => 3 + ((i * 7919) % 31000));
  /** Prompt tok/s (wall, best of 3), GPU time of its chunks, per-kernel profile of one chunk. */
  const promptRun = async (d: GpuDecoder, label: string, n = PROMPT) => {
    const ids = Array.from({ length: n }, (_, i) => 3 + ((i * 7919) % 31000));
    let best = Infinity;
    for (let r = 0; r < 3; r++) {
      d.position = 0;
      const t0 = performance.now();
      await d.generate(ids, 1);
      best = Math.min(best, performance.now() - t0);
    }
    d.position = 0;
    const g = await d.timePrefill(n - 1);
    const pp = await d.profile(true);
    log(
      `${type} ${label}: prompt ${n} tokens ${
        (n / (best / 1000)).toFixed(0)
      } tok/s wall (best of ` +
        `3, ${best.toFixed(1)} ms incl. the last position's step and one readback); GPU ` +
        `${(g.gpuNs / 1e6).toFixed(2)} ms for positions 0..${
          n - 2
        } in chunks of ${d.prefillRows} ` +
        `(${((n - 1) / (g.gpuNs / 1e9)).toFixed(0)} tok/s GPU time)`,
    );
    log(
      `${type} ${label}: one ${d.prefillRows}-position chunk: ${(pp.total / 1e6).toFixed(3)} ms ` +
        `GPU; ` + Object.entries(pp.ns).sort((a, b) =>
          b[1] - a[1]
        ).map(([k, ns]) => `${k} ×${pp.count[k]} ${(ns / 1000).toFixed(0)} µs`).join(", "),
    );
    return { tokS: n / (best / 1000), wallMs: best, gpuMs: g.gpuNs / 1e6, chunk: pp };
  };
  // Warm-up (pipelines compiled, buffers touched), then the timed runs.
  await dec.generate([1, 300, 400], 8);
  if (old) {
    await old.generate(prompt.slice(0, 40), 4);
    results[`${type}_prompt_old`] = await promptRun(
      old,
      "old prompt path (matvec ×8, row attention)",
    );
    old.dispose();
  }
  await dec.generate(prompt.slice(0, 40), 4);
  const pr = await promptRun(dec, "prompt (tiled + flash)");
  const prefill = pr.tokS;
  results[`${type}_prompt`] = pr;
  if (!SMALL) {
    results[`${type}_prompt1000`] = await promptRun(dec, "prompt (tiled + flash)", 1000);
  }
  if (big) {
    await big.generate(prompt.slice(0, 40), 4);
    results[`${type}_prompt_256`] = await promptRun(big, "prompt, chunks of 256");
    results[`${type}_prompt1000_256`] = await promptRun(big, "prompt, chunks of 256", 1000);
    big.dispose();
  }
  dec.position = 0;
  await dec.generate(prompt, 1);
  const t = performance.now();
  const first: number[] = [];
  const got = await dec.generate([prompt[0]], NEW, {
    onTokens: () => {
      if (!first.length) {
        first.push(performance.now() - t);
      }
    },
  });
  const wall = (performance.now() - t) / 1000;
  log(`${type}: first ids ${got.slice(0, 12).join(" ")} (a silent GPU failure would give 0s)`);
  const tokS = got.length / wall;
  const prof: StepProfile = await dec.profile();
  const ts = await dec.timeSteps(64);
  log(
    `${type}: 64 steps in one pass: GPU ${(ts.gpuNs / 64 / 1e6).toFixed(3)} ms per step, host ` +
      `recording ${(ts.hostMs / 64).toFixed(3)} ms per step (${
        (ts.hostMs * 1000 / 64 / dec.dispatchesPerStep).toFixed(1)
      } µs per dispatch)`,
  );
  log(
    `${type}: decode ${tokS.toFixed(0)} tok/s (${NEW} tokens, ${wall.toFixed(2)} s wall, first ` +
      `batch of 4 after ${first[0]?.toFixed(0)} ms); prompt ${prefill.toFixed(0)} tok/s ` +
      `(${PROMPT} tokens, ${dec.prefillRows} per chunk); GPU time per step ${
        (prof.total / 1e6).toFixed(3)
      } ms ` +
      `over ${dec.dispatchesPerStep} dispatches`,
  );
  // Weight bytes the step's matvecs read, over their GPU time.
  const bpe =
    ({ q4_0: 18 / 32, q8_0: 34 / 32, q4_k: 144 / 256, q6_k: 210 / 256 } as Record<string, number>)[
      type
    ] ?? 2;
  const perLayer =
    cfg.dim * (cfg.heads * cfg.headDim + cfg.kvHeads * (cfg.headDim + cfg.valueDim)) +
    cfg.heads * cfg.valueDim * cfg.dim + 3 * cfg.dim * cfg.ffn;
  const wBytes = (cfg.layers * perLayer + cfg.vocab * cfg.dim) * bpe;
  const mvNs = Object.entries(prof.ns).filter(([k]) =>
    k.startsWith("matvec")
  )
    .reduce((s, [, ns]) => s + ns, 0);
  log(
    `${type}: matvecs of a step read ${(wBytes / 1e9).toFixed(3)} GB of weights in ` +
      `${(mvNs / 1e6).toFixed(3)} ms GPU time: ${(wBytes / mvNs).toFixed(0)} GB/s`,
  );
  log(`| kernel | dispatches | GPU µs per step |\n|---|---|---|`);
  for (const [k, ns] of Object.entries(prof.ns).sort((a, b) => b[1] - a[1])) {
    log(`| ${k} | ${prof.count[k]} | ${(ns / 1000).toFixed(1)} |`);
  }
  results[type] = {
    tokS,
    passGpuMsPerStep: ts.gpuNs / 64 / 1e6,
    hostMsPerStep: ts.hostMs / 64,
    prefill,
    wall,
    stepGpuMs: prof.total / 1e6,
    matvecGBs: wBytes / mvNs,
    profile: prof,
  };
  dec.dispose();
}

// PyTorch/transformers reference: same shape, random fp16 weights, greedy decode with the cache.
const py = `
import json, time, torch
from transformers import LlamaConfig, LlamaForCausalLM
torch.manual_seed(0)
cfg = LlamaConfig(hidden_size=2048, intermediate_size=5632, num_hidden_layers=${layers},
    num_attention_heads=32, num_key_value_heads=4, vocab_size=32000, max_position_embeddings=2048)
torch.set_default_device("cuda")
m = LlamaForCausalLM(cfg).half().eval()
ids = torch.randint(3, 32000, (1, ${PROMPT}))
def run(n):
    torch.cuda.synchronize(); t = time.perf_counter()
    out = m.generate(ids, max_new_tokens=n, min_new_tokens=n, do_sample=False)
    torch.cuda.synchronize(); return time.perf_counter() - t
run(8)
a = run(1); b = run(${NEW + 1})
print("RES" + json.dumps({"tokS": ${NEW} / (b - a), "device": torch.cuda.get_device_name(0)}))
`;
if (!NO_EXTRAS) {
  try {
    const out = await new Deno.Command("python3", { args: ["-c", py] }).output();
    const line = new TextDecoder().decode(out.stdout).split("\n").find((l) => l.startsWith("RES"));
    if (line) {
      const r = JSON.parse(line.slice(3));
      log(`PyTorch/transformers fp16 (${r.device}): decode ${r.tokS.toFixed(0)} tok/s`);
      results.torch = r;
    } else {log(
        `PyTorch: failed: ${new TextDecoder().decode(out.stderr).trim().split("\n").at(-1)}`,
      );}
  } catch (e) {
    log(`PyTorch: python3 not runnable: ${(e as Error).message}`);
  }
}
if (outDir) {
  const tag = types.join("_");
  await Deno.writeTextFile(`${outDir}/gpu_llm_${tag}.json`, JSON.stringify(results, null, 1));
  await Deno.writeTextFile(`${outDir}/gpu_llm_${tag}.md`, lines.join("\n") + "\n");
}
