/**
 * Writes a random-weights GGUF with TinyLlama-1.1B's shape (llama, dim 2048, 22 layers, 32 heads /
 * 4 KV heads, FFN 5632, vocab 32000) for bench/llm.ts. Weights are N(0, 0.02)-like, quantized by
 * our reference quantizers; norms are ones. The vocabulary is synthetic SentencePiece (byte
 * fallback pieces plus filler), enough for llama.cpp to load the file.
 *
 *     deno run -A bench/llm_model.ts OUT.gguf [q4_0|q8_0|q4_k] [--layers N]
 */
import { saveGguf } from "../io/mod.ts";
import type { BlockDType } from "../core/dtype.ts";

const [out, type = "q4_0", ...rest] = Deno.args;
if (!out) throw new Error("usage: llm_model.ts OUT.gguf [q4_0|q8_0|q4_k] [--layers N]");
const li = rest.indexOf("--layers");
const layers = li >= 0 ? Number(rest[li + 1]) : 22;
const dim = 2048, ffn = 5632, heads = 32, kvHeads = 4, vocab = 32000, hd = dim / heads;

let seed = 12345;
function randn(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    // a sum of four bytes of one draw: roughly normal, std ~0.02
    const s = (seed & 255) + ((seed >>> 8) & 255) + ((seed >>> 16) & 255) + (seed >>> 24);
    a[i] = (s - 510) * (0.02 / 147.8);
  }
  return a;
}

const tokens = ["<unk>", "<s>", "</s>"], scores = [0, 0, 0], types = [2, 3, 3];
for (let b = 0; b < 256; b++) {
  tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`);
  scores.push(0);
  types.push(6);
}
for (let i = tokens.length; i < vocab; i++) {
  tokens.push(`▁w${i}`);
  scores.push(-i);
  types.push(1);
}
const u32 = (value: number) => ({ type: "u32" as const, value });
const f32 = (value: number) => ({ type: "f32" as const, value });
const q = type as BlockDType;
const lin = (name: string, shape: [number, number]) => ({
  name,
  shape,
  type: q,
  data: () => randn(shape[0] * shape[1]),
});
const norm = (name: string) => ({ name, shape: [dim], data: () => new Float32Array(dim).fill(1) });
const tensors = [lin("token_embd.weight", [vocab, dim]), norm("output_norm.weight")];
tensors.push(lin("output.weight", [vocab, dim]));
for (let l = 0; l < layers; l++) {
  const p = `blk.${l}.`;
  tensors.push(
    norm(`${p}attn_norm.weight`),
    lin(`${p}attn_q.weight`, [dim, dim]),
    lin(`${p}attn_k.weight`, [kvHeads * hd, dim]),
    lin(`${p}attn_v.weight`, [kvHeads * hd, dim]),
    lin(`${p}attn_output.weight`, [dim, dim]),
    norm(`${p}ffn_norm.weight`),
    lin(`${p}ffn_gate.weight`, [ffn, dim]),
    lin(`${p}ffn_up.weight`, [ffn, dim]),
    lin(`${p}ffn_down.weight`, [dim, ffn]),
  );
}
await saveGguf(out, {
  metadata: {
    "general.architecture": "llama",
    "general.name": `tinyllama-shaped-random-${type}`,
    "llama.context_length": u32(2048),
    "llama.embedding_length": u32(dim),
    "llama.block_count": u32(layers),
    "llama.feed_forward_length": u32(ffn),
    "llama.rope.dimension_count": u32(hd),
    "llama.attention.head_count": u32(heads),
    "llama.attention.head_count_kv": u32(kvHeads),
    "llama.attention.layer_norm_rms_epsilon": f32(1e-5),
    "llama.rope.freq_base": f32(10000),
    "tokenizer.ggml.model": "llama",
    "tokenizer.ggml.tokens": tokens,
    "tokenizer.ggml.scores": Float32Array.from(scores),
    "tokenizer.ggml.token_type": Int32Array.from(types),
    "tokenizer.ggml.bos_token_id": u32(1),
    "tokenizer.ggml.eos_token_id": u32(2),
  },
  tensors,
});
console.log(`wrote ${out}: ${type}, ${layers} layers`);
