/**
 * The GPU decoder (llm/model/gpu/decoder.ts) against the CPU engine (loadModel + generate,
 * greedy) on stories260K (dim 64, 5 layers, F32) and on its Q8_0 and Q4_0 requantizations made by
 * our quantizeGguf: the greedy continuation must be identical token for token (the GPU sums in
 * f32 in another order than the CPU's float64 dots, so a near-tie could flip one day; on these
 * files every step is identical). Also: stop ids end a batch and roll the position back so that
 * generation continues where the CPU's does, and bad input is a typed error.
 */
import assert from "node:assert/strict";
import { backends, ready, ShapeError } from "../../mod.ts";
import { quantizeGguf } from "../../io/mod.ts";
import { loadModel } from "../../llm/mod.ts";
import { openGguf } from "../../io/gguf/read.ts";
import { readConfig } from "../../llm/model/config.ts";
import { loadWeights, weightTensors } from "../../llm/model/weights.ts";
import { GpuDecoder } from "../../llm/model/gpu/decoder.ts";

const STORIES = "../shared/models/stories260K.gguf";
const HAS_STORIES = (() => {
  try {
    return Deno.statSync(STORIES).isFile;
  } catch {
    return false;
  }
})();
await ready();
const present = backends().find((b) => b.name === "webgpu")?.status === "available";
if (Deno.env.get("CI") === "true" && (!present || !HAS_STORIES)) {
  throw new Error("CI=true but the WebGPU plugin or stories260K is missing");
}
const opts = { ignore: !present || !HAS_STORIES, sanitizeResources: false, sanitizeOps: false };

async function gpuDecoder(path: string, ctx: number) {
  const f = await openGguf(path);
  try {
    const cfg = readConfig((k) => f.get(k), f.name, f.tensorInfo("token_embd.weight").shape[0]);
    const w = loadWeights(f, cfg);
    try {
      return await GpuDecoder.create(w, cfg, ctx);
    } finally {
      for (const t of weightTensors(w)) t.dispose();
    }
  } finally {
    f.close();
  }
}

async function cpuGreedy(path: string, prompt: string, n: number) {
  const m = await loadModel(path, { contextLength: 128 });
  const ids = m.tokenizer.encode(prompt);
  for await (const _ of m.generate(ids, { maxTokens: n, temperature: 0 })) { /* tokens */ }
  const out = { ids, tokens: m.stats!.tokens };
  m.dispose();
  return out;
}

for (const q of ["f32", "q8_0", "q4_0"] as const) {
  Deno.test(
    { name: `GpuDecoder ${q}: greedy 48 tokens identical to the CPU engine's`, ...opts },
    async () => {
      let path = STORIES;
      const dir = Deno.makeTempDirSync({ prefix: "gpudec-" });
      if (q !== "f32") {
        path = `${dir}/${q}.gguf`;
        await quantizeGguf(STORIES, path, { type: q });
      }
      const ref = await cpuGreedy(path, "Once upon a time", 48);
      const dec = await gpuDecoder(path, 128);
      const got = await dec.generate(ref.ids, 48);
      assert.deepEqual(got, ref.tokens);
      assert.equal(dec.position, ref.ids.length + 47, "the last id is not in the cache");
      dec.dispose();
      Deno.removeSync(dir, { recursive: true });
    },
  );
}

Deno.test({
  name: "GpuDecoder: a long prompt (prefilled 32 positions per dispatch) continues like the CPU's",
  ...opts,
}, async () => {
  const text = "Once upon a time, there was a little girl named Lily. She loved to play outside " +
    "in the park with her friends. One day, she saw a big red ball under a tree. She ran to " +
    "the tree and tried to get the ball, but it was too high, so she";
  for (const q of ["f32", "q8_0"]) {
    let path = STORIES;
    const dir = Deno.makeTempDirSync({ prefix: "gpudec-" });
    if (q !== "f32") {
      path = `${dir}/${q}.gguf`;
      await quantizeGguf(STORIES, path, { type: q as "q8_0" });
    }
    const ref = await cpuGreedy(path, text, 24);
    assert.ok(ref.ids.length > 66, `prompt of ${ref.ids.length} tokens: two chunks and a rest`);
    const dec = await gpuDecoder(path, 128);
    assert.deepEqual(await dec.generate(ref.ids, 24), ref.tokens, q);
    dec.dispose();
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test(
  { name: "GpuDecoder: stop ids end the batch and roll the position back", ...opts },
  async () => {
    const ref = await cpuGreedy(STORIES, "Once upon a time", 40);
    const dec = await gpuDecoder(STORIES, 128);
    const s = 20; // stop at the first occurrence of the 21st token
    const at = ref.tokens.indexOf(ref.tokens[s]);
    const batches: number[][] = [];
    const got = await dec.generate(ref.ids, 40, {
      stop: [ref.tokens[s]],
      onTokens: (ids) => batches.push(ids),
    });
    assert.deepEqual(got, ref.tokens.slice(0, at));
    assert.deepEqual(batches.flat(), got);
    assert.equal(batches[0].length, 4, "the first batch is small");
    assert.equal(dec.position, ref.ids.length + at, "the stop id is not in the cache");
    // Feeding the stop id continues exactly where the CPU engine went on.
    const more = await dec.generate([ref.tokens[at]], 40 - at - 1);
    assert.deepEqual(more, ref.tokens.slice(at + 1));
    await assert.rejects(() => dec.generate([], 4), ShapeError);
    await assert.rejects(() => dec.generate([512], 4), ShapeError);
    await assert.rejects(() => dec.generate([1], 200), ShapeError);
    dec.dispose();
  },
);
