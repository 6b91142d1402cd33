/**
 * The forward pass of the LayerNorm architectures, as llama.cpp builds their graphs: `gpt2`
 * (learned positions, pre-LayerNorm blocks, fused biased QKV, GELU feed-forward, causal
 * attention over the KV cache, final LayerNorm and output projection) and `bert` (token +
 * position + token-type-0 embeddings, embedding LayerNorm, post-LayerNorm blocks, bidirectional
 * attention, final hidden states as its output), and `nomic-bert` (bert without learned
 * positions: NeoX rotary embeddings on queries and keys, and a SwiGLU feed-forward).
 *
 * @module
 */
import { ComputeError, ShapeError } from "../../core/errors.ts";
import { tidy } from "../../core/memory.ts";
import { fromTyped } from "../../core/ops/creation.ts";
import { gelu } from "../../core/ops/activation.ts";
import { concat } from "../../core/ops/join.ts";
import { matmul } from "../../core/ops/matmul.ts";
import { quantLinear } from "../../core/ops/quant_linear.ts";
import { mean, softmax } from "../../core/ops/reduce.ts";
import type { Tensor } from "../../core/tensor.ts";
import { byteLength, type StorageDType } from "../../core/dtype.ts";
import type { ModelConfig } from "./config.ts";
import type { ForwardOutput, SeqTokens } from "./forward.ts";
import type { LnWeights } from "./ln_weights.ts";
import { decodeRow, type ModelWeights } from "./weights.ts";

/** `(x - mean) / √(var + eps) · w + b` over the last axis (biased variance, as torch/ggml). */
export function layerNorm(x: Tensor, w: Tensor, b: Tensor, eps: number): Tensor {
  const d = x.sub(mean(x, -1, true));
  return d.mul(mean(d.square(), -1, true).add(eps).rsqrt()).mul(w).add(b);
}

/** Token embedding rows of `tokens` plus the position rows of each sequence (and type row 0). */
function embedRows(w: ModelWeights, ln: LnWeights, cfg: ModelConfig, seqs: readonly SeqTokens[]) {
  const N = seqs.reduce((a, s) => a + s.tokens.length, 0);
  const out = new Float32Array(N * cfg.dim);
  const row = new Float32Array(cfg.dim);
  const pos = ln.pos ? (ln.pos.dataSync() as Float32Array) : null;
  const P = ln.pos ? ln.pos.shape[0] : Infinity;
  const type0 = ln.types ? (ln.types.select(0, 0).dataSync() as Float32Array) : null;
  let r = 0;
  for (const [si, s] of seqs.entries()) {
    for (let j = 0; j < s.tokens.length; j++, r++) {
      const id = s.tokens[j], p = s.cache.length + j;
      if (!Number.isInteger(id) || id < 0 || id >= cfg.vocab) {
        throw new ShapeError(
          `forward: token id ${id} at position ${j} of sequence ${si} is outside the vocabulary ` +
            `[0, ${cfg.vocab}).`,
        );
      }
      if (p >= P) {
        throw new ShapeError(
          `forward: position ${p} is past the ${P} learned positions of this ${cfg.arch} model. ` +
            `Hint: a shorter input (its context cannot be extended).`,
        );
      }
      const t = w.embed.select(0, id);
      try {
        const bytes = t.bytesSync();
        if (bytes.length !== byteLength(w.embed.dtype, cfg.dim)) throw new ShapeError("embed row");
        decodeRow(w.embed.dtype, bytes, row);
      } finally {
        t.dispose();
      }
      const o = r * cfg.dim;
      for (let d = 0; d < cfg.dim; d++) {
        // ggml adds the position rows to the token rows; bert adds the type row first
        const x = type0 ? row[d] + type0[d] : row[d];
        out[o + d] = pos ? pos[p * cfg.dim + d] + x : x;
      }
    }
  }
  return fromTyped(out, [N, cfg.dim], "f32");
}

/** NeoX rotary embedding of the first `ropeDims` of each head of `x` `[N, H, D]`. */
function ropeNeox(x: Tensor, cfg: ModelConfig, positions: readonly number[]): Tensor {
  const [N, , D] = x.shape;
  const rd = cfg.ropeDims, half = rd / 2;
  const c = new Float32Array(N * half), s = new Float32Array(N * half);
  for (let t = 0; t < N; t++) {
    for (let i = 0; i < half; i++) {
      const theta = positions[t] * Math.pow(cfg.ropeBase, (-2 * i) / rd);
      c[t * half + i] = Math.cos(theta);
      s[t * half + i] = Math.sin(theta);
    }
  }
  const cos = fromTyped(c, [N, 1, half], "f32"), sin = fromTyped(s, [N, 1, half], "f32");
  const x0 = x.slice(null, null, `0:${half}`), x1 = x.slice(null, null, `${half}:${rd}`);
  const rot = concat([x0.mul(cos).sub(x1.mul(sin)), x0.mul(sin).add(x1.mul(cos))], 2);
  return rd === D ? rot : concat([rot, x.slice(null, null, `${rd}:`)], 2);
}

/**
 * Run `seqs` (each after its cached positions) through a gpt2/bert/nomic-bert model: logits of every new
 * position ("all"), of each sequence's last ("last"), or the final hidden states ("hidden": gpt2
 * after its final LayerNorm, bert the last block's output).
 */
export function forwardLn(
  w: ModelWeights,
  cfg: ModelConfig,
  seqs: readonly SeqTokens[],
  output: ForwardOutput,
  activations: "f32" | "ggml",
): Tensor {
  const ln = w.ln!;
  if (output !== "hidden" && ln.output === null) {
    throw new ComputeError(
      `forward: this ${cfg.arch} model is an encoder without an output layer: it gives hidden ` +
        `states (model.embed), not logits.`,
    );
  }
  const { heads, kvHeads, headDim, valueDim, eps } = cfg;
  const g = heads / kvHeads, qDim = heads * headDim, kvDim = kvHeads * headDim;
  const lin = (x: Tensor, wt: Tensor<StorageDType>, b: Tensor | null) => {
    const y = quantLinear(x, wt, { activations });
    return b ? y.add(b) : y;
  };
  // gpt2's GELU is the tanh form; BERT's (transformers) the exact erf one. llama.cpp computes
  // both with its tanh table of f16 inputs, which "ggml" activations reproduce.
  const act = (x: Tensor) =>
    activations === "ggml"
      ? gelu(x.astype("f16").astype("f32"), "tanh").astype("f16").astype("f32")
      : gelu(x, ln.kind === "gpt2" ? "tanh" : "none");
  const offs: number[] = [];
  let N = 0;
  for (const [i, s] of seqs.entries()) {
    if (s.cache.length + s.tokens.length > s.cache.size) {
      throw new ShapeError(
        `forward: sequence ${i}: ${s.tokens.length} new tokens after ${s.cache.length} would ` +
          `exceed the context of ${s.cache.size}.`,
      );
    }
    offs.push(N);
    N += s.tokens.length;
  }
  const out = tidy(() => {
    let h = embedRows(w, ln, cfg, seqs);
    if (ln.embedNorm) h = layerNorm(h, ln.embedNorm, ln.embedNormB!, eps);
    const masks = seqs.map(({ cache, tokens }) => {
      const T = tokens.length, pos = cache.length, S = pos + T;
      if (!cfg.causal || T === 1) return null;
      const a = new Float32Array(T * S);
      for (let t = 0; t < T; t++) a.fill(-Infinity, t * S + pos + t + 1, (t + 1) * S);
      return fromTyped(a, [T, S], "f32");
    });
    for (let l = 0; l < cfg.layers; l++) {
      const L = ln.layers[l];
      const pre = ln.kind === "gpt2";
      const xn = pre ? layerNorm(h, L.attnNorm, L.attnNormB, eps) : h;
      let q: Tensor, k: Tensor, v: Tensor;
      if (L.wqkv) {
        const qkv = lin(xn, L.wqkv, L.bqkv);
        q = qkv.slice(null, `0:${qDim}`);
        k = qkv.slice(null, `${qDim}:${qDim + kvDim}`);
        v = qkv.slice(null, `${qDim + kvDim}:`);
      } else {
        q = lin(xn, L.wq!, L.bq);
        k = lin(xn, L.wk!, L.bk);
        v = lin(xn, L.wv!, L.bv);
      }
      q = q.reshape([N, heads, headDim]);
      k = k.reshape([N, kvHeads, headDim]);
      if (!ln.pos) {
        const positions = seqs.flatMap((s) => s.tokens.map((_, j) => s.cache.length + j));
        q = ropeNeox(q, cfg, positions);
        k = ropeNeox(k, cfg, positions);
      }
      v = v.reshape([N, kvHeads, valueDim]);
      const outs: Tensor[] = [];
      for (const [i, { cache, tokens }] of seqs.entries()) {
        const T = tokens.length, pos = cache.length, S = pos + T;
        const r = seqs.length === 1 ? null : `${offs[i]}:${offs[i] + T}`;
        cache.write(l, pos, r ? k.slice(r) : k, r ? v.slice(r) : v);
        const kv = cache.read(l, S);
        const K = kv.k.permute([1, 2, 0]); // [kvHeads, headDim, S]
        const V = kv.v.permute([1, 0, 2]); // [kvHeads, S, valueDim]
        const qh = (r ? q.slice(r) : q).permute([1, 0, 2]).reshape([kvHeads, g * T, headDim]);
        let scores = matmul(qh, K).mul(cfg.attnScale);
        if (masks[i]) scores = scores.reshape([kvHeads, g, T, S]).add(masks[i]!);
        const p = softmax(scores, -1).reshape([kvHeads, g * T, S]);
        outs.push(
          matmul(p, V).reshape([heads, T, valueDim]).permute([1, 0, 2])
            .reshape([T, heads * valueDim]),
        );
      }
      const a = lin(outs.length === 1 ? outs[0] : concat(outs, 0), L.wo, L.bo);
      if (pre) {
        h = h.add(a);
        const f = lin(
          act(lin(layerNorm(h, L.ffnNorm, L.ffnNormB, eps), L.up, L.upB)),
          L.down,
          L.downB,
        );
        h = h.add(f);
      } else {
        const x = layerNorm(h.add(a), L.attnNorm, L.attnNormB, eps);
        const f = L.gate
          ? lin(lin(x, L.gate, null).silu().mul(lin(x, L.up, L.upB)), L.down, L.downB)
          : lin(act(lin(x, L.up, L.upB)), L.down, L.downB);
        h = layerNorm(x.add(f), L.ffnNorm, L.ffnNormB, eps);
      }
    }
    if (output === "last") {
      const lasts = seqs.map((s, i) => offs[i] + s.tokens.length - 1);
      if (N > seqs.length) {
        h = lasts.length === 1
          ? h.slice(`${lasts[0]}:`)
          : concat(lasts.map((r) => h.slice(`${r}:${r + 1}`)), 0);
      }
    }
    const hn = ln.outNorm ? layerNorm(h, ln.outNorm, ln.outNormB!, eps) : h;
    return output === "hidden" ? hn : lin(hn, ln.output!, null);
  });
  for (const s of seqs) s.cache.length += s.tokens.length;
  return out;
}
