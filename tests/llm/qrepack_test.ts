/**
 * Q4_0 weights repacked in place (backends/wasm/qrepack.ts, backends/cpu/src/qrepack.c) against
 * the same weight in the GGUF layout, and against a float64 reference:
 *
 * - "ggml" activations: the same bits as the GGUF-layout kernels at every m (m = 1: qlinear.c's
 *   matrix-vector kernel; m ≥ 2: qgemm_tile.c), including m = 65 (a last activation tile of one
 *   row) and n = 9 / 67 (rows past the last multiple of four stay in the GGUF layout);
 * - "f32" activations: the same bits as qlinear.c's f32 mode;
 * - |repacked − f64| ≤ 1e-6 · Σ_c |w·a| over the decoded weights and the activations as used;
 * - block scales that are subnormal, zero, negative and large halves (the SIMD half → f32);
 * - repack then unrepack restores the bytes; 1 and 2 threads give the same bits;
 * - a small llama (dim 128, FFN 384, untied output) loaded with and without `repack`: the same
 *   logits bit for bit, prefill (m = 9), decode (m = 1) and a 3-sequence batched step (m = 3).
 */
import assert from "node:assert/strict";
import { fromBlocks, fromTyped, quantLinear, ready, type Tensor } from "../../mod.ts";
import { repackedQ4_0, repackQ4_0, unrepackQ4_0 } from "../../backends/wasm/qrepack.ts";
import { setWasmThreads, wasmThreads } from "../../backends/wasm/mod.ts";
import { byteLength } from "../../core/dtype.ts";
import { saveGguf } from "../../io/mod.ts";
import { forwardBatch, loadModel } from "../../llm/mod.ts";
import { dequantizeRow, quantizeRow } from "../../core/quant/mod.ts";

await ready();

function rng(seed: number) {
  let s = seed >>> 0;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  return () => (u() + u() + u() + u() - 2) * 1.7;
}

/** Q4_0 bytes [n, k]; a few block scales replaced by awkward halves. */
function weightBytes(n: number, k: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(byteLength("q4_0", n * k));
  quantizeRow("q4_0", Float32Array.from({ length: n * k }, rng(seed)), bytes);
  const halves = [0x0001, 0x03ff, 0x8000, 0x0000, 0x8401, 0x7bff, 0x0400, 0xbc00];
  for (let b = 0, i = 0; b < bytes.length; b += 18 * 7, i++) {
    const h = halves[i % halves.length];
    bytes[b] = h & 0xff;
    bytes[b + 1] = h >> 8;
  }
  return bytes;
}

function product(x: Tensor, w: Tensor, activations: "f32" | "ggml"): Float32Array {
  const y = quantLinear(x, w, { activations });
  const v = (y.dataSync() as Float32Array).slice();
  y.dispose();
  return v;
}

/** The activations as "ggml" mode uses them (Q8_0-rounded) or as they are ("f32"). */
function asUsed(xv: Float32Array, m: number, k: number, acts: "f32" | "ggml"): Float32Array {
  if (acts === "f32") return xv;
  const xa = new Float32Array(m * k), qb = new Uint8Array(byteLength("q8_0", k));
  for (let i = 0; i < m; i++) {
    quantizeRow("q8_0", xv.subarray(i * k, (i + 1) * k), qb);
    dequantizeRow("q8_0", qb, xa.subarray(i * k, (i + 1) * k));
  }
  return xa;
}

function check(m: number, n: number, k: number, seed: number) {
  const bytes = weightBytes(n, k, seed);
  const wf = new Float32Array(n * k);
  dequantizeRow("q4_0", bytes, wf);
  const plain = fromBlocks(bytes, "q4_0", [n, k]) as unknown as Tensor;
  const packed = fromBlocks(bytes, "q4_0", [n, k]) as unknown as Tensor;
  assert.equal(repackQ4_0(packed), true);
  const xv = Float32Array.from({ length: m * k }, rng(seed + 1));
  if (m > 1) xv.fill(0, k, 2 * k); // an all-zero row
  const x = fromTyped(xv, [m, k], "f32");
  for (const acts of ["ggml", "f32"] as const) {
    const want = product(x, plain, acts), got = product(x, packed, acts);
    const xa = asUsed(xv, m, k, acts);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        const at = `${acts} m=${m} n=${n} [${i}, ${j}]`, g = got[i * n + j];
        assert.ok(Number.isFinite(g), `${at}: ${g}`);
        assert.ok(Object.is(g, want[i * n + j]), `${at}: repacked ${g}, GGUF ${want[i * n + j]}`);
        let ref = 0, mag = 0;
        for (let c = 0; c < k; c++) {
          const p = wf[j * k + c] * xa[i * k + c];
          ref += p;
          mag += Math.abs(p);
        }
        assert.ok(Math.abs(g - ref) <= 1e-6 * mag + 1e-30, `${at}: ${g}, f64 ${ref} (Σ ${mag})`);
      }
    }
  }
  // unrepacked, the bytes are GGUF's again
  assert.equal(unrepackQ4_0(packed), true);
  assert.deepEqual(packed.bytesSync(), bytes);
  x.dispose();
  plain.dispose();
  packed.dispose();
}

Deno.test("repacked Q4_0 quantLinear: GGUF-layout bits (ggml and f32) and a float64 reference", () => {
  for (const m of [1, 2, 5, 65]) check(m, 9, 384, m);
  check(3, 67, 256, 7);
});

Deno.test("repacked Q4_0 quantLinear: same bits on 1 and 2 threads; refuses what it cannot run", () => {
  const before = wasmThreads();
  const n = 70, k = 1024;
  const w = fromBlocks(weightBytes(n, k, 3), "q4_0", [n, k]) as unknown as Tensor;
  repackQ4_0(w);
  try {
    for (const m of [1, 8]) {
      const x = fromTyped(Float32Array.from({ length: m * k }, rng(m)), [m, k], "f32");
      setWasmThreads(1);
      const one = product(x, w, "ggml");
      setWasmThreads(2);
      const two = product(x, w, "ggml");
      assert.deepEqual(two, one);
      x.dispose();
    }
    // a second repack is refused (already repacked); so is a weight k % 128 ≠ 0
    assert.equal(repackQ4_0(w), false);
    const odd = fromBlocks(new Uint8Array(byteLength("q4_0", 4 * 96)), "q4_0", [4, 96]);
    assert.equal(repackQ4_0(odd), false);
    odd.dispose();
  } finally {
    setWasmThreads(before);
    w.dispose();
  }
});

Deno.test("loadModel repack: the same logits bit for bit (prefill, decode, batched step)", async () => {
  const dim = 128, ffn = 384, vocab = 260, layers = 2;
  let seed = 11;
  const lin = (name: string, rows: number, cols: number) => ({
    name,
    shape: [rows, cols],
    type: "q4_0" as const,
    data: () => weightBytes(rows, cols, seed++).map((b, i) => i % 18 === 1 ? b & 0x3f : b),
  });
  const norm = (name: string) => ({ name, shape: [dim], data: new Float32Array(dim).fill(1) });
  const tensors = [
    lin("token_embd.weight", vocab, dim),
    norm("output_norm.weight"),
    lin("output.weight", vocab, dim),
  ];
  for (let l = 0; l < layers; l++) {
    const p = `blk.${l}.`;
    tensors.push(
      norm(`${p}attn_norm.weight`),
      lin(`${p}attn_q.weight`, dim, dim),
      lin(`${p}attn_k.weight`, 64, dim),
      lin(`${p}attn_v.weight`, 64, dim),
      lin(`${p}attn_output.weight`, dim, dim),
      norm(`${p}ffn_norm.weight`),
      lin(`${p}ffn_gate.weight`, ffn, dim),
      lin(`${p}ffn_up.weight`, ffn, dim),
      lin(`${p}ffn_down.weight`, dim, ffn),
    );
  }
  const tokens = ["<unk>", "<s>", "</s>", ...Array.from({ length: vocab - 3 }, (_, i) => `w${i}`)];
  const u32 = (value: number) => ({ type: "u32" as const, value });
  const dir = await Deno.makeTempDir({ prefix: "qrepack-" });
  const path = `${dir}/m.gguf`;
  await saveGguf(path, {
    metadata: {
      "general.architecture": "llama",
      "llama.context_length": u32(64),
      "llama.embedding_length": u32(dim),
      "llama.block_count": u32(layers),
      "llama.feed_forward_length": u32(ffn),
      "llama.attention.head_count": u32(4),
      "llama.attention.head_count_kv": u32(2),
      "tokenizer.ggml.model": "llama",
      "tokenizer.ggml.tokens": tokens,
      "tokenizer.ggml.scores": new Float32Array(vocab),
      "tokenizer.ggml.token_type": Int32Array.from(tokens, (_, i) => (i < 3 ? 3 : 1)),
    },
    tensors,
  });
  try {
    const run = async (repack: boolean) => {
      const model = await loadModel(path, { contextLength: 32, activations: "ggml", repack });
      try {
        // every projection repacked (kv rows 64: k = 128 qualifies), the embedding never
        const l0 = model.weights.layers[0];
        for (const t of [l0.wq, l0.wk, l0.down, model.weights.output]) {
          assert.equal(repackedQ4_0(t) !== null, repack);
        }
        assert.equal(repackedQ4_0(model.weights.embed), null);
        const out = model.logits([1, 5, 9, 200, 7, 3, 77, 150, 12, 40]); // prefill, then
        const caches = [0, 1, 2].map(() => model.newCache(32));
        const seqs = caches.map((cache, i) => ({ cache, tokens: [1, 4 + i, 100 + i] }));
        out.push(...forwardBatch(model, seqs)); // 3 prefills in one call
        for (let step = 0; step < 2; step++) { // batched decode steps (m = 3), then m = 1
          out.push(...forwardBatch(model, caches.map((cache, i) => ({ cache, tokens: [20 + i] }))));
        }
        out.push(...forwardBatch(model, [{ cache: caches[0], tokens: [99] }]));
        for (const c of caches) c.dispose();
        return out;
      } finally {
        model.dispose();
      }
    };
    const plain = await run(false), packed = await run(true);
    assert.equal(packed.length, plain.length);
    for (let r = 0; r < plain.length; r++) {
      for (let v = 0; v < vocab; v++) {
        assert.ok(Number.isFinite(packed[r][v]), `row ${r} token ${v}: ${packed[r][v]}`);
        assert.ok(
          Object.is(packed[r][v], plain[r][v]),
          `row ${r} token ${v}: repacked ${packed[r][v]}, GGUF ${plain[r][v]}`,
        );
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
