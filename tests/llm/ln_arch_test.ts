/**
 * The LayerNorm architectures against their references: tiny random GPT-2 and BERT models from
 * transformers, written to GGUF as llama.cpp's converter writes them (tests/helpers/
 * ln_arch_ref.py), compared with transformers in float64 and with llama.cpp (node-llama-cpp).
 */
import assert from "node:assert/strict";
import { ComputeError, loadModel, shiftContext } from "../../llm/mod.ts";
import { memory } from "../../mod.ts";
import { HAS_LLAMA_CPP, llamaGreedy, llamaTokenize, MODEL_PYTHON } from "../helpers/llama_refs.ts";
import { tokenizerCorpus } from "./tokenizer_corpus.ts";
import OpenAI from "openai";
import { serve } from "../../llm/server/mod.ts";

const PY = MODEL_PYTHON;
if (Deno.env.get("CI") === "true" && (!PY || !HAS_LLAMA_CPP)) {
  throw new Error("CI=true but transformers/gguf-py or node-llama-cpp is missing.");
}
const live = () => `${memory().tensors} tensors, ${memory().devices.cpu?.bytes ?? 0} bytes`;

/** Texts embedded in the BERT tests (words of the WordPiece vocabulary's training text). */
export const EMBED_TEXTS: string[] = [
  "a cat sat on the mat",
  "Paris is the capital of France.",
  "The Lord is my shepherd; I shall not want.",
  "Machine learning models turn text into vectors!",
  "Résumé, café and naïve have accents",
  "numbers like 12, 345 and 6789",
  "zebra xylophone qwerty",
];

interface Refs {
  dir: string;
  gpt2: { ids: number[]; logits: number[][] };
  "gpt2-untied": { ids: number[]; logits: number[][] };
  bert: { ids: number[][]; mean: number[][]; cls: number[][] };
}
let cached: Refs | null = null;
/** The models (GGUF files in a temporary directory) and their float64 references. */
function refs(): Refs {
  if (cached) return cached;
  const dir = Deno.makeTempDirSync({ prefix: "llm-ln-" });
  Deno.writeTextFileSync(`${dir}/texts.json`, JSON.stringify(EMBED_TEXTS));
  const out = new Deno.Command(PY!, {
    args: ["tests/helpers/ln_arch_ref.py", dir, `${dir}/texts.json`],
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  if (!out.success) throw new Error(`ln_arch_ref.py: ${new TextDecoder().decode(out.stderr)}`);
  cached = { dir, ...JSON.parse(new TextDecoder().decode(out.stdout)) } as Refs;
  return cached;
}

/** max |a - b| over two equal-shaped lists of rows; NaN gives Infinity. */
function maxAbsDiff(a: ArrayLike<number>[], b: ArrayLike<number>[]): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    assert.equal(a[i].length, b[i].length);
    for (let j = 0; j < a[i].length; j++) {
      const x = Math.abs(a[i][j] - b[i][j]);
      if (!(x <= d)) d = Number.isNaN(x) ? Infinity : x;
    }
  }
  return d;
}

for (const name of ["gpt2", "gpt2-untied"] as const) {
  Deno.test({
    name: `${name}: F32 GGUF logits equal transformers' (float64) to 1e-4 over 72 positions`,
    ignore: !PY,
    async fn() {
      const r = refs();
      const before = live();
      const m = await loadModel(`${r.dir}/${name}.gguf`, { contextLength: 128 });
      assert.equal(m.config.arch, "gpt2");
      assert.equal(m.weights.tied, name === "gpt2");
      const d = maxAbsDiff(m.logits(r[name].ids), r[name].logits);
      // measured: 8.6e-7 (tied), 9.3e-7 (separate output); logits reach ~5
      assert(d <= 1e-4, `max |ours - transformers| = ${d}`);
      m.dispose();
      assert.equal(live(), before, "weights and cache freed");
    },
  });
}

Deno.test({
  name: "gpt2: greedy 32 tokens identical to llama.cpp's, prompt logits within 1e-3 of its",
  ignore: !PY || !HAS_LLAMA_CPP,
  async fn() {
    const r = refs();
    // one model: each llama.cpp run costs seconds of CI (the separate output is covered above)
    for (const name of ["gpt2"] as const) {
      const path = `${r.dir}/${name}.gguf`;
      const prompt = r[name].ids.slice(0, 8);
      const ll = llamaGreedy(path, prompt, 32);
      const m = await loadModel(path, { contextLength: 128, activations: "ggml" });
      for await (const _ of m.generate(prompt, { maxTokens: 32, temperature: 0 }));
      assert.deepEqual(m.stats!.tokens, ll.greedy, name);
      // Tolerance: llama.cpp's GELU reads an f16 table, which "ggml" activations reproduce; what
      // remains is its f32 summation order.
      const ours = m.logits(prompt);
      const d = maxAbsDiff(ours, ll.logits);
      assert(d <= 1e-3, `${name}: max |ours - llama.cpp| over the prompt = ${d}`);
      m.dispose();
    }
  },
});

Deno.test({
  name: "gpt2: the tokenizer (gpt-2 pre-tokenizer) round-trips text; learned positions end the " +
    "context with a typed error",
  ignore: !PY,
  async fn() {
    const r = refs();
    const m = await loadModel(`${r.dir}/gpt2.gguf`, { contextLength: 200 });
    const ids = m.tokenizer.encode("The quick brown fox jumps over the lazy dog.");
    assert(ids.length > 3 && ids.length < 40, String(ids));
    assert.equal(m.tokenizer.decode(ids), "The quick brown fox jumps over the lazy dog.");
    const long = Array.from({ length: 129 }, (_, i) => ids[i % ids.length]);
    assert.throws(() => m.logits(long), /past the 128 learned positions/);
    await assert.rejects(async () => {
      for await (const _ of m.generate(ids, { maxTokens: 200, contextShift: true }));
    }, ComputeError);
    const c = m.newCache(16);
    assert.throws(() => shiftContext(m, c, 0, 1), /gpt2 is not a rotary decoder/);
    c.dispose();
    m.dispose();
  },
});

/**
 * llama.cpp's embeddings of token id lists by each model (tests/helpers/llama_embed.mjs, one
 * process), not normalized.
 */
function llamaEmbed(paths: string[], ids: number[][]): number[][][] {
  const r = new Deno.Command("node", {
    args: ["tests/helpers/llama_embed.mjs", paths.join(","), JSON.stringify(ids)],
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  if (!r.success) throw new Error(`llama_embed.mjs: ${new TextDecoder().decode(r.stderr)}`);
  return JSON.parse(new TextDecoder().decode(r.stdout));
}

/** The cosine of two vectors (NaN when either is zero or has a NaN). */
function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

Deno.test({
  name: "bert: WordPiece ids and text equal llama.cpp's on the tokenizer corpus",
  ignore: !PY || !HAS_LLAMA_CPP,
  async fn() {
    const r = refs();
    const path = `${r.dir}/bert.gguf`;
    const m = await loadModel(path, { contextLength: 128 });
    const corpus = [...tokenizerCorpus(), ...EMBED_TEXTS, "[CLS] x [SEP]", "a[MASK]b"];
    const tok = m.tokenizer;
    const ours = [false, true].map((special) =>
      corpus.map((t) => tok.encode(t, { addSpecial: false, parseSpecial: special }))
    );
    const ref = llamaTokenize(r.dir, path, tok.size, [
      { texts: corpus, special: false, detok: ours[0] },
      { texts: corpus, special: true, detok: ours[1] },
    ]);
    for (const [k, special] of [false, true].entries()) {
      const bad: string[] = [];
      corpus.forEach((t, i) => {
        const a = JSON.stringify(ours[k][i]), b = JSON.stringify(ref.runs[k].ids[i]);
        if (a !== b) bad.push(`${JSON.stringify(t)}: ours ${a} llama.cpp ${b}`);
        const text = tok.decode(ours[k][i], { special });
        if (text !== ref.runs[k].detok[i]) {
          bad.push(
            `decode ${a}: ours ${JSON.stringify(text)} llama.cpp ` +
              JSON.stringify(ref.runs[k].detok[i]),
          );
        }
      });
      assert.equal(
        bad.length,
        0,
        `${bad.length} differ (special ${special}):\n${bad.slice(0, 5).join("\n")}`,
      );
    }
    // with the special tokens: [CLS] text [SEP], as llama.cpp's embedding context feeds them
    assert.deepEqual(tok.encode("a cat"), [
      101,
      ...tok.encode("a cat", { addSpecial: false }),
      102,
    ]);
    m.dispose();
  },
});

Deno.test({
  name: "bert: embeddings equal transformers' BertModel (float64) with mean and CLS pooling: " +
    "cosine >= 0.9999, max abs <= 1e-4",
  ignore: !PY,
  async fn() {
    const r = refs();
    const before = live();
    const m = await loadModel(`${r.dir}/bert.gguf`);
    assert.equal(m.config.causal, false);
    assert.equal(m.config.pooling, "mean");
    EMBED_TEXTS.forEach((t, i) => assert.deepEqual(m.tokenizer.encode(t), r.bert.ids[i], t));
    const mean = await m.embed(EMBED_TEXTS); // pooling from bert.pooling_type: mean
    const cls = await m.embed(EMBED_TEXTS, { pooling: "cls" });
    for (const [i, t] of EMBED_TEXTS.entries()) {
      for (const [ours, ref] of [[mean[i], r.bert.mean[i]], [cls[i], r.bert.cls[i]]]) {
        const c = cosine(ours, ref);
        assert(c >= 0.9999, `${t}: cosine ${c}`);
        const d = maxAbsDiff([ours], [ref]);
        // measured: 3.8e-8 (mean), the vectors being unit-norm
        assert(d <= 1e-4, `${t}: max |ours - transformers| = ${d}`);
      }
    }
    m.dispose();
    assert.equal(live(), before, "weights and caches freed");
  },
});

Deno.test({
  name: "bert (F32, Q8_0) and nomic-bert: embeddings equal llama.cpp's: cosine >= 0.9999",
  ignore: !PY || !HAS_LLAMA_CPP,
  async fn() {
    const r = refs();
    // nomic-bert (rotary, SwiGLU, fused QKV) has no transformers class: llama.cpp is its reference
    const names = ["bert", "bert-q8_0", "nomic-bert"];
    const paths = names.map((n) => `${r.dir}/${n}.gguf`);
    const long = EMBED_TEXTS.join(" "); // ~60 tokens: rotary angles far from zero
    const texts = [...EMBED_TEXTS, long];
    let ids: number[][] = [];
    const ours: Float32Array[][] = [];
    for (const p of paths) {
      const m = await loadModel(p, { activations: "ggml" });
      ids = texts.map((t) => m.tokenizer.encode(t));
      ours.push(await m.embed(ids));
      m.dispose();
    }
    const ll = llamaEmbed(paths, ids);
    names.forEach((name, k) =>
      texts.forEach((t, i) => {
        const c = cosine(ours[k][i], ll[k][i]);
        // measured minimum over the 8 texts: 0.99999998 (bert F32), 0.999989 (bert Q8_0),
        // 0.99999999 (nomic-bert)
        assert(c >= 0.9999, `${name} ${JSON.stringify(t)}: cosine ${c}`);
      })
    );
  },
});

Deno.test({
  name: "bert: an encoder refuses to generate or give logits with a typed error",
  ignore: !PY,
  async fn() {
    const m = await loadModel(`${refs().dir}/bert.gguf`);
    await assert.rejects(async () => {
      for await (const _ of m.generate("a cat", { maxTokens: 4 }));
    }, (e: Error) => e instanceof ComputeError && /encoder.*model\.embed/.test(e.message));
    assert.throws(() => m.logits([101, 120, 102]), ComputeError);
    m.dispose();
  },
});

Deno.test({
  name: "bert: POST /v1/embeddings through the openai client equals Model.embed; completions " +
    "answer with an error",
  ignore: !PY,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const m = await loadModel(`${refs().dir}/bert.gguf`);
    const srv = serve({ model: m, modelName: "bert", port: 0, contextLength: 128 });
    try {
      const client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: "unused", maxRetries: 0 });
      const r = await client.embeddings.create({ model: "bert", input: EMBED_TEXTS.slice(0, 3) });
      const ref = await m.embed(EMBED_TEXTS.slice(0, 3));
      assert.equal(r.data.length, 3);
      r.data.forEach((d, i) => assert(maxAbsDiff([d.embedding], [ref[i]]) <= 1e-6));
      const n = EMBED_TEXTS.slice(0, 3).reduce((a, t) => a + m.tokenizer.encode(t).length, 0);
      assert.equal(r.usage.prompt_tokens, n);
      await assert.rejects(
        client.completions.create({ model: "bert", prompt: "a cat", max_tokens: 4 }),
        (e: Error) =>
          e instanceof OpenAI.APIError && e.status === 400 && /encoder.*embeddings/.test(e.message),
      );
    } finally {
      await srv.shutdown(1000);
      m.dispose();
    }
  },
});
