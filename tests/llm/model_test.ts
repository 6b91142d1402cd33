/**
 * The engine against its references: transformers (float64) on tiny random llama / qwen2 / qwen3
 * decoders written to GGUF F32, llama.cpp (node-llama-cpp, f32 KV cache) on the real stories260K
 * model and on Q8_0 / Q4_0 versions of the random models.
 */
import assert from "node:assert/strict";
import { ContextLimitError, loadModel } from "../../llm/mod.ts";
import { FormatError, memory } from "../../mod.ts";
import { quantizeGguf, saveGguf } from "../../io/mod.ts";
import { HAS_LLAMA_CPP, HAS_STORIES, MODEL_PYTHON, STORIES } from "../helpers/llama_refs.ts";

const PY = MODEL_PYTHON;
if (Deno.env.get("CI") === "true" && (!PY || !HAS_LLAMA_CPP || !HAS_STORIES)) {
  throw new Error("CI=true but transformers/gguf-py, node-llama-cpp or stories260K is missing.");
}
/** Live tensors and CPU bytes, as one comparable string. */
const live = () => `${memory().tensors} tensors, ${memory().devices.cpu?.bytes ?? 0} bytes`;
const LLAMA_PKG = `${Deno.cwd()}/.refs/node_modules/node-llama-cpp`;

interface Ref {
  dir: string;
  ids: number[];
  logits: number[][];
}
const refs = new Map<string, Ref>();
/** The random model of `arch` (f32/q8_0/q4_0 GGUF files) and its float64 logits. */
function ref(arch: string, hidden = 64): Ref {
  const key = `${arch}-${hidden}`;
  let r = refs.get(key);
  if (r) return r;
  const dir = Deno.makeTempDirSync({ prefix: `llm-${key}-` });
  const out = new Deno.Command(PY!, {
    args: ["tests/helpers/llm_ref.py", arch, dir, STORIES, String(hidden)],
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  if (!out.success) throw new Error(`llm_ref.py ${arch}: ${new TextDecoder().decode(out.stderr)}`);
  r = { dir, ...JSON.parse(new TextDecoder().decode(out.stdout)) } as Ref;
  refs.set(key, r);
  return r;
}

/** llama.cpp's greedy continuation of `ids` (n tokens) and its logits at each step. */
function llamaGreedy(
  path: string,
  ids: number[],
  n: number,
): { tokens: number[]; logits: number[][] } {
  const out = new Deno.Command("node", {
    args: ["tests/helpers/llama_generate.mjs", path, JSON.stringify(ids), String(n)],
    env: { LLAMA_PKG },
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  if (!out.success) throw new Error(`llama_generate.mjs: ${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

function maxAbsDiff(a: ArrayLike<number>[], b: ArrayLike<number>[]): number {
  assert.deepEqual(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    assert.deepEqual(a[i].length, b[i].length);
    for (let j = 0; j < a[i].length; j++) {
      const x = Math.abs(a[i][j] - b[i][j]);
      if (!(x <= d)) d = Number.isNaN(x) ? Infinity : x; // NaN never passes
    }
  }
  return d;
}

for (const arch of ["llama", "qwen2", "qwen3"]) {
  Deno.test({
    name: `${arch} F32 GGUF logits equal transformers' (float64) to 1e-4 over 72 positions`,
    ignore: !PY || !HAS_STORIES,
    async fn() {
      const r = ref(arch);
      const before = live();
      const m = await loadModel(`${r.dir}/f32.gguf`, { contextLength: 128 });
      assert.deepEqual(m.config.arch, arch);
      const d = maxAbsDiff(m.logits(r.ids), r.logits);
      // measured: 1.6e-6 (llama), 1.8e-6 (qwen2, tied output), 2.2e-6 (qwen3); logits reach ~3.6
      assert(d <= 1e-4, `max |ours - transformers| = ${d}`);
      m.dispose();
      assert.deepEqual(live(), before, "weights and cache freed");
    },
  });
}

Deno.test({
  name: "stories260K: greedy story of 100 tokens identical to llama.cpp's",
  ignore: !HAS_STORIES || !HAS_LLAMA_CPP,
  async fn() {
    const m = await loadModel(STORIES, { contextLength: 128 });
    const ids = m.tokenizer.encode("Once upon a time");
    assert.deepEqual(ids[0], 1, "BOS first");
    let text = "";
    for await (const piece of m.generate(ids, { maxTokens: 100, temperature: 0 })) text += piece;
    const ref = llamaGreedy(STORIES, ids, 100);
    assert.deepEqual(m.stats!.tokens, ref.tokens);
    assert.deepEqual(text, m.tokenizer.decode(ref.tokens));
    assert(text.includes("Lily"), text);
    m.dispose();
  },
});

for (const arch of ["llama", "qwen2", "qwen3"]) {
  for (const q of ["f32", "q8_0", "q4_0"]) {
    Deno.test({
      name: `${arch} ${q}: greedy 64 tokens identical to llama.cpp's, logits within 0.1 of ` +
        `its at every step and within 1e-5 at ≥ 16 of the 64`,
      ignore: !PY || !HAS_STORIES || !HAS_LLAMA_CPP,
      async fn() {
        const r = ref(arch);
        const path = `${r.dir}/${q}.gguf`;
        const prompt = r.ids.slice(0, 8);
        const ll = llamaGreedy(path, prompt, 64);
        const m = await loadModel(path, { contextLength: 128, activations: "ggml" });
        for await (const _ of m.generate(prompt, { maxTokens: 64, temperature: 0 }));
        assert.deepEqual(m.stats!.tokens, ll.tokens);
        const ours = m.logits([...prompt, ...ll.tokens.slice(0, 63)]).slice(7);
        // Tolerance: with its activations rounded to Q8_0 as llama.cpp's CPU path rounds them
        // (activations: "ggml"), only llama.cpp's f32 summation order remains: measured max
        // 2.4e-7 (quantized) and 2.4e-6 (F32) over all 64 steps — except llama q4_0, where 48
        // of the 64 steps (the prefill's last among them) differ by up to 4.5e-2 (cause not
        // found yet: possibly llama.cpp's repacked Q4_0 path on this CPU; the greedy tokens
        // still agree). Without the emulation (activations: "f32") the quantized models differ
        // from llama.cpp by 6e-2..1.1e-1.
        let close = 0;
        for (let i = 0; i < 64; i++) {
          const d = maxAbsDiff([ours[i]], [ll.logits[i]]);
          assert(d <= 0.1, `step ${i}: max |ours - llama.cpp| = ${d}`);
          if (d <= 1e-5) close++;
        }
        assert(close >= 16, `only ${close} of 64 steps within 1e-5`);
        m.dispose();
      },
    });
  }
}

for (const q of ["q4_k", "q6_k"] as const) {
  Deno.test({
    name: `llama (hidden 256) ${q} from our quantizeGguf, on llama.cpp's greedy 64 tokens: ` +
      `logits within 1e-5 of its at ≥ 40 steps, within 0.2 at all, same argmax where decisive`,
    ignore: !PY || !HAS_STORIES || !HAS_LLAMA_CPP,
    async fn() {
      const r = ref("llama", 256);
      const path = `${r.dir}/${q}.gguf`;
      await quantizeGguf(`${r.dir}/f32.gguf`, path, { type: q });
      const prompt = r.ids.slice(0, 8);
      const ll = llamaGreedy(path, prompt, 64);
      const m = await loadModel(path, { contextLength: 128, activations: "ggml" });
      const ours = m.logits([...prompt, ...ll.tokens.slice(0, 63)]).slice(7);
      // Activations rounded to Q8_K as llama.cpp does: measured ≤ 2.4e-6 at most steps, but a
      // few steps differ by up to ~6e-2 (q6_k: 1 of 64; q4_k: 20 of 64, from one step on, as a
      // difference that enters the KV cache persists), likely a rounding tie of the
      // activation quantizer that our emulation resolves differently; cause not pinned down.
      // Without the emulation (activations: "f32") every step differs by 0.1..0.4.
      let close = 0;
      for (let i = 0; i < 64; i++) {
        const d = maxAbsDiff([ours[i]], [ll.logits[i]]);
        assert(d <= 0.2, `step ${i}: max |ours - llama.cpp| = ${d}`);
        if (d <= 1e-5) close++;
        const sorted = [...ll.logits[i]].sort((a, b) => b - a);
        if (sorted[0] - sorted[1] > 0.4) {
          const best = ours[i].reduce((b, v, j) => (v > ours[i][b] ? j : b), 0);
          assert.equal(best, ll.tokens[i], `step ${i}`);
        }
      }
      assert(close >= 40, `only ${close} of 64 steps within 1e-5`);
      m.dispose();
    },
  });
}

Deno.test({
  name: "generate: stop strings, maxTokens, abort, context limit and no leaked tensors per token",
  ignore: !HAS_STORIES,
  async fn() {
    const m = await loadModel(STORIES, { contextLength: 40 });
    const run = async (opts: Parameters<typeof m.generate>[1]) => {
      let s = "";
      for await (const p of m.generate("Once upon a time", opts)) s += p;
      return s;
    };
    const base = live();
    const full = await run({ maxTokens: 20, temperature: 0 });
    assert.deepEqual(m.stats!.decodeTokens, 20);
    assert.deepEqual(m.stats!.stopReason, "length");
    assert.deepEqual(live(), base, "no tensor left behind by 20 tokens");
    const cut = await run({ maxTokens: 20, temperature: 0, stop: ["girl"] });
    assert.deepEqual(m.stats!.stopReason, "stop");
    assert.deepEqual(cut, full.slice(0, full.indexOf("girl")));
    const ac = new AbortController();
    let n = 0;
    for await (const _ of m.generate("Once upon a time", { maxTokens: 20, signal: ac.signal })) {
      if (++n === 3) ac.abort();
    }
    assert.deepEqual(m.stats!.stopReason, "abort");
    assert.deepEqual(m.stats!.decodeTokens, 3);
    await assert.rejects(
      () => run({ maxTokens: 100, temperature: 0 }),
      (e: Error) => e instanceof ContextLimitError && e.message.includes("context of 40"),
    );
    const seeded = await run({ maxTokens: 16, temperature: 0.8, seed: 42 });
    assert.deepEqual(await run({ maxTokens: 16, temperature: 0.8, seed: 42 }), seeded);
    m.dispose();
  },
});

Deno.test("loadModel: an unknown architecture is a FormatError listing the supported ones", async () => {
  const path = await Deno.makeTempFile({ suffix: ".gguf" });
  await saveGguf(path, {
    metadata: {
      "general.architecture": "mamba",
      "tokenizer.ggml.model": "llama",
      "tokenizer.ggml.tokens": ["<unk>", "<s>", "</s>", "a"],
      "tokenizer.ggml.scores": [0, 0, 0, -1],
      "tokenizer.ggml.token_type": [2, 3, 3, 1],
    },
    tensors: [{ name: "token_embd.weight", shape: [4, 32], data: new Float32Array(128) }],
  });
  await assert.rejects(
    () => loadModel(path),
    (e: Error) => e instanceof FormatError && e.message.includes("llama, qwen2, qwen3"),
  );
});

Deno.test({
  name: "chat renders the file's template (stories260K: the llama2 fallback) and answers",
  ignore: !HAS_STORIES,
  async fn() {
    const m = await loadModel(STORIES, { contextLength: 128 });
    const messages = [{ role: "user" as const, content: "Tell me a story" }];
    let a = "";
    for await (const p of m.chat(messages, { maxTokens: 12, temperature: 0 })) a += p;
    const viaChat = m.stats!.tokens;
    assert.equal(viaChat.length, 12);
    const prompt = m.chatTemplate.render(messages, { addGenerationPrompt: true });
    assert(prompt.includes("[INST]"), prompt);
    let b = "";
    const ids = m.tokenizer.encode(prompt.replace(/^<s>/, ""), { parseSpecial: true });
    for await (const p of m.generate(ids, { maxTokens: 12, temperature: 0 })) b += p;
    assert.deepEqual(m.stats!.tokens, viaChat);
    assert.equal(a, b);
    m.dispose();
  },
});

Deno.test({
  name: "an f16 KV cache halves the cache and keeps logits within 2e-2 of the f32 cache's",
  ignore: !PY || !HAS_STORIES,
  async fn() {
    const r = ref("llama");
    const a = await loadModel(`${r.dir}/f32.gguf`, { contextLength: 128 });
    const b = await loadModel(`${r.dir}/f32.gguf`, { contextLength: 128, cacheType: "f16" });
    assert.equal(b.cacheBytes * 2, a.cacheBytes);
    const d = maxAbsDiff(a.logits(r.ids), b.logits(r.ids));
    // f16 keys and values: relative 4.9e-4 each; measured 6e-3 on logits up to ~3.5
    assert(d > 0 && d <= 2e-2, `max |f16 cache - f32 cache| = ${d}`);
    a.dispose();
    b.dispose();
  },
});
