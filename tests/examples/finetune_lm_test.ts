import assert from "node:assert/strict";
import { seed } from "../../mod.ts";
import { ComputeError } from "../../core/errors.ts";
import {
  bpeMetadata,
  exportLlamaGguf,
  Llama,
  loadLlamaGguf,
  trainBpe,
} from "../../llm/train/mod.ts";
import { saveGguf } from "../../io/mod.ts";
import { finetune } from "../../examples/finetune_lm.ts";
import { KJV_SAMPLE } from "../llm/kjv_sample.ts";

const CONFIG = { dim: 32, layers: 1, heads: 4, kvHeads: 2, ffn: 64, context: 32 };

Deno.test("loadLlamaGguf reads back every weight and the tokenizer of an export exactly", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const bpe = trainBpe(KJV_SAMPLE, { vocabSize: 300 });
    seed(3);
    const m = new Llama({ vocabSize: 300, ...CONFIG });
    await exportLlamaGguf(`${dir}/a.gguf`, m, { tokenizer: bpeMetadata(bpe), name: "t" });
    const r = await loadLlamaGguf(`${dir}/a.gguf`);
    // the file holds the epsilon as f32
    assert.deepEqual(r.model.config, { ...m.config, normEps: Math.fround(1e-5) });
    assert.equal(r.name, "t");
    const a = m.stateDict(), b = r.model.stateDict();
    for (const k of Object.keys(a)) assert.deepEqual(b[k].dataSync(), a[k].dataSync(), k);
    assert.deepEqual([...r.vocab["tokenizer.ggml.tokens"] as string[]], bpe.tokens);
    assert.deepEqual([...r.vocab["tokenizer.ggml.merges"] as string[]], bpe.merges);
    m.dispose(), r.model.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadLlamaGguf refuses a file of another architecture, naming it", async () => {
  const p = await Deno.makeTempFile({ suffix: ".gguf" });
  try {
    await saveGguf(p, { metadata: { "general.architecture": "qwen2" } });
    await assert.rejects(
      () => loadLlamaGguf(p),
      (e) =>
        e instanceof ComputeError && /general.architecture "qwen2", not "llama"/.test(e.message),
    );
  } finally {
    await Deno.remove(p);
  }
});

Deno.test("finetune_lm: a few steps on user text change the weights and write loadable GGUFs", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const bpe = trainBpe(KJV_SAMPLE, { vocabSize: 300 });
    seed(4);
    const m = new Llama({ vocabSize: 300, ...CONFIG });
    await exportLlamaGguf(`${dir}/base.gguf`, m, { tokenizer: bpeMetadata(bpe) });
    const r = await finetune({
      model: `${dir}/base.gguf`,
      text: KJV_SAMPLE.slice(0, 2000),
      out: `${dir}/ft.gguf`,
      steps: 4,
      lr: 1e-2,
      batch: 2,
      seq: 16,
      seed: 1,
      prompt: "And",
    }, () => {});
    assert.equal(r.losses.length, 4);
    assert.ok(r.losses.every(Number.isFinite), String(r.losses));
    assert.ok(r.losses[3] < r.losses[0], `losses ${r.losses}`);
    for (const f of r.files) {
      const t = await loadLlamaGguf(f);
      const w0 = m.stateDict()["token_embd.weight"].dataSync();
      assert.notDeepEqual(t.model.stateDict()["token_embd.weight"].dataSync(), w0);
      t.model.dispose();
    }
    m.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
