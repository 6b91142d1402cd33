/**
 * Engine features beyond the plain forward pass: gemma3 and phi3 against transformers (float64)
 * and llama.cpp, `model.embed` against transformers' final hidden states, `forwardBatch` against
 * separate forward calls, the q8_0 KV cache and the context shift.
 */
import assert from "node:assert/strict";
import { forwardBatch, loadModel, shiftContext } from "../../llm/mod.ts";
import { memory } from "../../mod.ts";
import { saveGguf } from "../../io/mod.ts";
import { HAS_LLAMA_CPP, HAS_STORIES, MODEL_PYTHON, STORIES } from "../helpers/llama_refs.ts";

const PY = MODEL_PYTHON;
if (Deno.env.get("CI") === "true" && (!PY || !HAS_LLAMA_CPP || !HAS_STORIES)) {
  throw new Error("CI=true but transformers/gguf-py, node-llama-cpp or stories260K is missing.");
}
const NO_PY = !PY || !HAS_STORIES;
const LLAMA_PKG = `${Deno.cwd()}/.refs/node_modules/node-llama-cpp`;
const live = () => `${memory().tensors} tensors, ${memory().devices.cpu?.bytes ?? 0} bytes`;

interface Ref {
  ids: number[];
  logits: number[][];
  hidden: number[][];
}
let refDir = "";
let refs: Record<string, Ref> | null = null;
/** The random models (llama, gemma3, phi3; f32 and q8_0 GGUF) and their float64 outputs. */
function ref(arch: "llama" | "gemma3" | "phi3"): Ref & { dir: string } {
  if (!refs) {
    refDir = Deno.makeTempDirSync({ prefix: "llm-engine-" });
    const out = new Deno.Command(PY!, {
      args: ["tests/helpers/llm_arch_ref.py", refDir, STORIES, "llama", "gemma3", "phi3"],
      stdout: "piped",
      stderr: "piped",
    }).outputSync();
    if (!out.success) {
      throw new Error(`llm_arch_ref.py: ${new TextDecoder().decode(out.stderr)}`);
    }
    refs = JSON.parse(new TextDecoder().decode(out.stdout));
  }
  return { dir: `${refDir}/${arch}`, ...refs![arch] };
}

/** Largest |a - b| over rows; NaN counts as Infinity. */
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

/** llama.cpp's greedy continuation of `ids` and its logits at each step. */
function llamaGreedy(path: string, ids: number[], n: number, env: Record<string, string> = {}) {
  const out = new Deno.Command("node", {
    args: ["tests/helpers/llama_generate.mjs", path, JSON.stringify(ids), String(n)],
    env: { LLAMA_PKG, ...env },
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  if (!out.success) throw new Error(`llama_generate.mjs: ${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(new TextDecoder().decode(out.stdout)) as {
    tokens: number[];
    logits: number[][];
  };
}

for (const arch of ["gemma3", "phi3"] as const) {
  Deno.test({
    name: `${arch} F32 GGUF logits equal transformers' (float64) to 1e-4 over 72 positions`,
    ignore: NO_PY,
    async fn() {
      const r = ref(arch);
      const before = live();
      const m = await loadModel(`${r.dir}/f32.gguf`, { contextLength: 128 });
      assert.equal(m.config.arch, arch);
      const d = maxAbsDiff(m.logits(r.ids), r.logits);
      // measured: 2.8e-6 (gemma3: 7 layers, window 16, linear rope ×8 on the global layer),
      // 6.8e-6 (phi3: LongRoPE short factors, partial rotary 16 of 32); logits reach ~6.5
      assert(d <= 1e-4, `max |ours - transformers| = ${d}`);
      m.dispose();
      assert.equal(live(), before, "weights and cache freed");
    },
  });
}

Deno.test({
  name: "embed: mean / cls / last pooling of the final-normed hidden states equal transformers'",
  ignore: NO_PY,
  async fn() {
    const r = ref("llama");
    const m = await loadModel(`${r.dir}/f32.gguf`, { contextLength: 16 });
    const short = r.ids.slice(0, 20);
    const pool = (rows: number[][]) =>
      rows[0].map((_, d) => rows.reduce((a, row) => a + row[d], 0) / rows.length);
    const [a, b] = await m.embed([r.ids, short], { pooling: "mean", normalize: false });
    // the inputs are longer than the model's context (16): embed uses caches of its own
    const d = maxAbsDiff([a, b], [pool(r.hidden), pool(r.hidden.slice(0, 20))]);
    // measured 3.1e-7 (hidden values up to ~3)
    assert(d <= 1e-5, `mean pooling: max |ours - transformers| = ${d}`);
    const [c] = await m.embed([short], { pooling: "cls", normalize: false });
    const [l] = await m.embed([short], { pooling: "last", normalize: false });
    assert(maxAbsDiff([c, l], [r.hidden[0], r.hidden[19]]) <= 1e-5);
    const [n] = await m.embed([short]);
    const norm = Math.hypot(...b);
    assert(maxAbsDiff([n], [Array.from(b, (x) => x / norm)]) <= 1e-6, "normalized by default");
    const text = "Once upon a time";
    const [t] = await m.embed(text);
    const [u] = await m.embed([m.tokenizer.encode(text)]);
    assert.deepEqual(t, u);
    await assert.rejects(() => m.embed([[]]), /input 0 has no tokens/);
    m.dispose();
  },
});

for (const arch of ["llama", "gemma3"] as const) {
  Deno.test({
    name: `forwardBatch (${arch} q8_0): stacked steps of 3 sequences equal separate forwards`,
    ignore: NO_PY,
    async fn() {
      const r = ref(arch);
      const m = await loadModel(`${r.dir}/q8_0.gguf`, { contextLength: 64 });
      const before = live();
      const A = r.ids.slice(0, 30), B = [1, ...r.ids.slice(40, 52)], C = [1, ...r.ids.slice(60)];
      const seqs = [
        { s: A, cache: m.newCache(), alone: m.newCache() },
        { s: B, cache: m.newCache(), alone: m.newCache() },
        { s: C, cache: m.newCache(40, "f16"), alone: m.newCache(40, "f16") },
      ];
      // step 1: two prompts (A's longer than gemma3's window of 16); step 2: A decodes, B
      // continues its prompt, C starts; step 3: all decode
      const steps: [number, number, number][][] = [
        [[0, 0, 28], [1, 0, 5]],
        [[0, 28, 29], [1, 5, 9], [2, 0, 6]],
        [[0, 29, 30], [1, 9, 10], [2, 6, 7]],
      ];
      let worst = 0, vsPrefill = 0;
      const full = [A, B].map((x) => m.logits(x));
      for (const step of steps) {
        const got = forwardBatch(
          m,
          step.map(([i, from, to]) => ({
            cache: seqs[i].cache,
            tokens: seqs[i].s.slice(from, to),
          })),
          { allLogits: true },
        );
        for (const [k, [i, from, to]] of step.entries()) {
          const [want] = forwardBatch(m, [{
            cache: seqs[i].alone,
            tokens: seqs[i].s.slice(from, to),
          }], {
            allLogits: true,
          });
          worst = Math.max(worst, maxAbsDiff([got[k]], [want]));
          assert.equal(seqs[i].cache.length, to);
          if (i < 2) {
            const V = m.config.vocab;
            const rows = full[i].slice(from, to);
            vsPrefill = Math.max(
              vsPrefill,
              maxAbsDiff(rows.map((_, j) => got[k].subarray(j * V, (j + 1) * V)), rows),
            );
          }
        }
      }
      // measured: 0 for llama and gemma3 (each row of a stacked product is summed as alone)
      assert(worst <= 1e-6, `max |batched - separate| = ${worst}`);
      // vs one prefill of the whole sequence: other kernels (matvec vs matmul) sum differently;
      // measured 2.3e-6 (llama), 1.4e-6 (gemma3)
      assert(vsPrefill <= 1e-3, `max |stepped - one prefill| = ${vsPrefill}`);
      const [ca, cb] = [seqs[0].cache, seqs[1].cache];
      const last = forwardBatch(m, [{ cache: ca, tokens: [5] }, { cache: cb, tokens: [6, 7] }]);
      assert.deepEqual(last.map((x) => x.length), [m.config.vocab, m.config.vocab]);
      assert.throws(
        () => forwardBatch(m, [{ cache: ca, tokens: [5] }, { cache: ca, tokens: [6] }]),
        /shares its KV cache/,
      );
      for (const q of seqs) q.cache.dispose(), q.alone.dispose();
      assert.equal(live(), before, "no tensor left behind");
      m.dispose();
    },
  });
}

for (const arch of ["gemma3", "phi3"] as const) {
  for (const q of ["q8_0"]) {
    Deno.test({
      name:
        `${arch} ${q}: greedy 64 tokens identical to llama.cpp's, logits within 1e-5 of its at most steps`,
      ignore: NO_PY || !HAS_LLAMA_CPP,
      async fn() {
        const r = ref(arch);
        const path = `${r.dir}/${q}.gguf`;
        const prompt = r.ids.slice(0, 8);
        const ll = llamaGreedy(path, prompt, 64);
        // llama.cpp pads its context to 256 (> phi3's original 128): it then rotates with the
        // LongRoPE long factors, and so do we with a context of 256
        const m = await loadModel(path, { contextLength: 256, activations: "ggml" });
        for await (const _ of m.generate(prompt, { maxTokens: 64, temperature: 0 }));
        assert.deepEqual(m.stats!.tokens, ll.tokens);
        const ours = m.logits([...prompt, ...ll.tokens.slice(0, 63)]).slice(7);
        let worst = 0, close = 0;
        for (let i = 0; i < 64; i++) {
          const d = maxAbsDiff([ours[i]], [ll.logits[i]]);
          worst = Math.max(worst, d);
          if (d <= 1e-5) close++;
        }
        // with activations rounded as llama.cpp's CPU path rounds them (Q8_0 inputs of the
        // products; gemma3's GELU through f16 as its table): 4.8e-7 for both on the float64
        // scalar kernel. The WASM kernel sums the blocks' integer dots in f32 in its own order
        // (as llama.cpp does, in another order): phi3 still 4.8e-7 at 64/64 steps; gemma3 48/64
        // within 1e-5 and 3.6e-2 at worst — its f16 GELU table turns sub-ulp differences of
        // its input into 1e-3 steps. (F32
        // files: gemma3 within 1e-3 of llama.cpp, the same 64 tokens; phi3 F32 differs in f32
        // summation order and its greedy path parts at a near-tie, so it is not asserted here.)
        assert(worst <= 0.1, `max |ours - llama.cpp| = ${worst}`);
        assert(close >= 40, `only ${close} of 64 steps within 1e-5 (worst ${worst})`);
        m.dispose();
      },
    });
  }
}

Deno.test({
  name: "q8_0 KV cache: llama.cpp's q8_0 cache reproduced (greedy 32 tokens, logits ≤ 1e-5 " +
    "at most steps), at 34/128 of the f32 cache's bytes",
  ignore: NO_PY || !HAS_LLAMA_CPP,
  async fn() {
    const r = ref("llama");
    const path = `${r.dir}/q8_0.gguf`;
    const prompt = r.ids.slice(0, 8);
    const ll = llamaGreedy(path, prompt, 32, { CACHE_TYPE: "Q8_0" });
    const m = await loadModel(path, { contextLength: 128, activations: "ggml", cacheType: "q8_0" });
    const f = await loadModel(path, { contextLength: 128, activations: "ggml" });
    assert.equal(m.cacheBytes * 128, f.cacheBytes * 34);
    for await (const _ of m.generate(prompt, { maxTokens: 32, temperature: 0 }));
    assert.deepEqual(m.stats!.tokens, ll.tokens);
    const seq = [...prompt, ...ll.tokens.slice(0, 31)];
    const ours = m.logits(seq).slice(7), f32 = f.logits(seq).slice(7);
    let close = 0, worst = 0, f32Best = Infinity;
    for (let i = 0; i < 32; i++) {
      const d = maxAbsDiff([ours[i]], [ll.logits[i]]);
      worst = Math.max(worst, d);
      if (d <= 1e-5) close++;
      f32Best = Math.min(f32Best, maxAbsDiff([f32[i]], [ll.logits[i]]));
    }
    // keys and values stored as q8_0 blocks, queries rounded to q8_0 for the key product as
    // llama.cpp's flash-attention path does: measured ≤ 4.8e-7 at 28 of 32 steps, up to 4.2e-2
    // at the other 4 (cause not pinned down: a rounding tie, or its flash-attention softmax
    // order); an f32 cache differs from llama.cpp's q8_0 cache by ≥ 7.6e-2 at every step. With
    // the WASM kernel's f32 block sums: 23 of 32 steps within 1e-5.
    assert(worst <= 0.1, `max |ours - llama.cpp| = ${worst}`);
    assert(close >= 20, `only ${close} of 32 steps within 1e-5`);
    assert(f32Best >= 1e-2, `an f32 cache came within ${f32Best} of llama.cpp's q8_0 cache`);
    m.dispose();
    f.dispose();
  },
});

for (
  const [arch, cacheType] of [["llama", "f32"], ["gemma3", "f32"], ["gemma3", "q8_0"]] as const
) {
  Deno.test({
    name: `context shift (${arch}, ${cacheType} cache): kept keys re-rotated to their new ` +
      `positions, values moved`,
    ignore: NO_PY,
    async fn() {
      const r = ref(arch);
      const m = await loadModel(`${r.dir}/f32.gguf`, { contextLength: 24, cacheType });
      const before = live();
      const seq = r.ids.slice(0, 24);
      const cache = m.newCache(24), fresh = m.newCache(24);
      forwardBatch(m, [{ cache, tokens: seq }]);
      const layers = m.config.layers;
      const oldV = Array.from({ length: layers }, (_, l) => cache.readRows(l, "v", 12, 24));
      // keep BOS, drop the oldest half of the rest (11 of 23), as llama.cpp's n_keep/n_discard
      shiftContext(m, cache, 1, 11);
      assert.equal(cache.length, 13);
      // layer 0's keys and values depend only on token and position: equal to a fresh run of
      // the kept tokens (deeper layers saw the dropped tokens: the shift is approximate there,
      // as in llama.cpp)
      forwardBatch(m, [{ cache: fresh, tokens: [seq[0], ...seq.slice(12)] }]);
      const dk = maxAbsDiff([cache.readRows(0, "k", 0, 13)], [fresh.readRows(0, "k", 0, 13)]);
      // f32: measured 4.8e-7 (keys up to ~4). q8_0: old rounding error, rotated, plus a second
      // rounding — bounded by 2 q8_0 steps (largest block max / 127 each); measured 3.1e-2, one
      // step (a wrong rotation would be off by O(1))
      const freshK = fresh.readRows(0, "k", 0, 13);
      const step = freshK.reduce((a, x) => Math.max(a, Math.abs(x)), 0) / 127;
      const tol = cacheType === "f32" ? 1e-5 : 2 * step;
      assert(dk <= tol, `layer 0 keys: max |shifted - fresh| = ${dk}`);
      const dv = maxAbsDiff([cache.readRows(0, "v", 0, 13)], [fresh.readRows(0, "v", 0, 13)]);
      assert(dv <= (cacheType === "f32" ? 0 : 1e-6), `layer 0 values: ${dv}`);
      for (let l = 0; l < layers; l++) {
        const d = maxAbsDiff([cache.readRows(l, "v", 1, 13)], [oldV[l]]);
        assert(d <= (cacheType === "f32" ? 0 : 1e-6), `layer ${l} values moved: ${d}`);
      }
      cache.dispose();
      fresh.dispose();
      assert.equal(live(), before);
      // generate: past the context only with contextShift
      const run = async (contextShift: boolean) => {
        for await (const _ of m.generate(seq.slice(0, 8), { maxTokens: 40, contextShift }));
        return m.stats!;
      };
      await assert.rejects(() => run(false), /context of 24 positions is full/);
      assert.equal((await run(true)).decodeTokens, 40);
      m.dispose();
    },
  });
}

Deno.test({
  name: "memory: loading a 200 MB Q4_0 model takes ≤ 1.2× its file size of resident memory; " +
    "the KV cache is sized from the context asked for",
  ignore: !HAS_STORIES,
  async fn() {
    // a TinyLlama-shaped llama (dim 2048, FFN 5632, 32/4 heads) of 8 layers and a 512-piece
    // vocabulary, its Q4_0 blocks a fixed pattern (scale 1.0): only loading is measured
    const dim = 2048, ffn = 5632, kv = 256, vocab = 512, layers = 8;
    const q4 = (rows: number, cols: number) => {
      const b = new Uint8Array((rows * cols / 32) * 18);
      for (let i = 0; i < b.length; i += 18) b.set([0x00, 0x3c, 0x12, 0x34, 0x56, 0x78], i);
      return b;
    };
    const lin = (name: string, rows: number, cols: number) => ({
      name,
      shape: [rows, cols],
      type: "q4_0" as const,
      data: () => q4(rows, cols),
    });
    const norm = (name: string) => ({ name, shape: [dim], data: new Float32Array(dim).fill(1) });
    const tensors = [lin("token_embd.weight", vocab, dim), norm("output_norm.weight")];
    for (let l = 0; l < layers; l++) {
      const p = `blk.${l}.`;
      tensors.push(
        norm(`${p}attn_norm.weight`),
        lin(`${p}attn_q.weight`, dim, dim),
        lin(`${p}attn_k.weight`, kv, dim),
        lin(`${p}attn_v.weight`, kv, dim),
        lin(`${p}attn_output.weight`, dim, dim),
        norm(`${p}ffn_norm.weight`),
        lin(`${p}ffn_gate.weight`, ffn, dim),
        lin(`${p}ffn_up.weight`, ffn, dim),
        lin(`${p}ffn_down.weight`, dim, ffn),
      );
    }
    const tokens = [
      "<unk>",
      "<s>",
      "</s>",
      ...Array.from({ length: vocab - 3 }, (_, i) => `▁w${i}`),
    ];
    const dir = await Deno.makeTempDir({ prefix: "llm-mem-" });
    const path = `${dir}/m.gguf`;
    const u32 = (value: number) => ({ type: "u32" as const, value });
    await saveGguf(path, {
      metadata: {
        "general.architecture": "llama",
        "llama.context_length": u32(2048),
        "llama.embedding_length": u32(dim),
        "llama.block_count": u32(layers),
        "llama.feed_forward_length": u32(ffn),
        "llama.attention.head_count": u32(32),
        "llama.attention.head_count_kv": u32(4),
        "tokenizer.ggml.model": "llama",
        "tokenizer.ggml.tokens": tokens,
        "tokenizer.ggml.scores": new Float32Array(vocab),
        "tokenizer.ggml.token_type": Int32Array.from(tokens, (_, i) => (i < 3 ? 3 : 1)),
      },
      tensors,
    });
    try {
      const run = (ctx: number, acts = "f32") => {
        const out = new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "-A",
            "--v8-flags=--expose-gc",
            "tests/helpers/load_rss.ts",
            path,
            `${ctx}`,
            STORIES, // loaded first: the runtime's one-time costs are not the model's
            acts,
          ],
          stdout: "piped",
          stderr: "piped",
        }).outputSync();
        if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
        return JSON.parse(new TextDecoder().decode(out.stdout));
      };
      const a = run(256);
      // measured: 198.9 MB file, +207.1..207.7 MB resident (1.04×). Reading each tensor whole and
      // then copying it in measured 1.34..1.6× (on 124 MB files, without the warm-up model).
      assert(a.delta <= 1.2 * a.file, `rss +${a.delta} bytes for a ${a.file}-byte file`);
      // "ggml" activations repack the Q4_0 projections in place (llm/model/repack.ts): no copy
      const g = run(256, "ggml");
      assert(g.delta <= 1.2 * g.file, `ggml: rss +${g.delta} bytes for a ${g.file}-byte file`);
      // f32 keys and values: 2 · layers · context · 4 heads · 64 · 4 bytes
      assert.equal(a.cacheBytes, 2 * layers * 256 * kv * 4);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
