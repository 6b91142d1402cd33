/**
 * The forward pass of a llama-family decoder (llama, qwen2, qwen3) written with core ops: RMSNorm,
 * rotary embeddings in ggml's normal or NeoX pair order, grouped-query attention over a KV cache,
 * SwiGLU, and `quantLinear` products on the packed weights. One call runs any number of new
 * tokens (the whole prompt at once in prefill, one token in decode).
 *
 * @module
 */
import { ShapeError } from "../../core/errors.ts";
import { tidy } from "../../core/memory.ts";
import { fromTyped, zeros } from "../../core/ops/creation.ts";
import { concat, stack } from "../../core/ops/join.ts";
import { matmul } from "../../core/ops/matmul.ts";
import { quantLinear } from "../../core/ops/quant_linear.ts";
import { mean, softmax } from "../../core/ops/reduce.ts";
import { copyInto } from "../../core/ops/view.ts";
import type { Tensor } from "../../core/tensor.ts";
import type { ModelConfig } from "./config.ts";
import { decodeRow, type ModelWeights } from "./weights.ts";
import { byteLength } from "../../core/dtype.ts";

/**
 * Keys and values of every layer for up to `size` positions, f32 `[size, kvHeads, headDim]`.
 * Positions `0..length-1` hold the tokens seen so far.
 */
export class KVCache {
  /** Keys per layer. */
  readonly k: Tensor[];
  /** Values per layer. */
  readonly v: Tensor[];
  /** Positions filled. */
  length = 0;

  /**
   * Allocate a cache for `size` positions of the model `cfg`.
   *
   * @param cfg model hyper-parameters
   * @param size positions it holds (the context asked for)
   * @param dtype element type of the stored keys and values (f16 halves the memory, and rounds
   *   them as llama.cpp's default cache does)
   */
  constructor(cfg: ModelConfig, readonly size: number, readonly dtype: "f32" | "f16" = "f32") {
    this.k = [];
    this.v = [];
    for (let l = 0; l < cfg.layers; l++) {
      this.k.push(zeros([size, cfg.kvHeads, cfg.headDim], { dtype }));
      this.v.push(zeros([size, cfg.kvHeads, cfg.valueDim], { dtype }));
    }
  }

  /** Bytes held. */
  get bytes(): number {
    return [...this.k, ...this.v].reduce((a, t) => a + t.size * (this.dtype === "f16" ? 2 : 4), 0);
  }

  /** Free the cache. */
  dispose(): void {
    for (const t of [...this.k, ...this.v]) t.dispose();
  }
}

/** Options of {@link forward}. */
export interface ForwardOptions {
  /** Logits for every new position (true) or only the last (false). */
  allLogits: boolean;
  /** Activation rounding of the quantized products (see quantLinear). */
  activations: "f32" | "ggml";
}

/** `x · rsqrt(mean(x², last axis) + eps) · w`. */
function rmsNorm(x: Tensor, w: Tensor, eps: number): Tensor {
  return x.mul(mean(x.square(), -1, true).add(eps).rsqrt()).mul(w);
}

/** cos and sin tables `[T, 1, ropeDims/2]` for positions `pos..pos+T-1`. */
function ropeTables(cfg: ModelConfig, freqs: Float32Array | null, pos: number, T: number) {
  const half = cfg.ropeDims / 2;
  const c = new Float32Array(T * half), s = new Float32Array(T * half);
  for (let t = 0; t < T; t++) {
    const p = (pos + t) * cfg.ropeScale;
    for (let i = 0; i < half; i++) {
      let theta = p * Math.pow(cfg.ropeBase, (-2 * i) / cfg.ropeDims);
      if (freqs) theta /= freqs[i];
      c[t * half + i] = Math.cos(theta);
      s[t * half + i] = Math.sin(theta);
    }
  }
  return { cos: fromTyped(c, [T, 1, half], "f32"), sin: fromTyped(s, [T, 1, half], "f32") };
}

/** Rotate the first `ropeDims` of each head of `x` `[T, H, D]`. */
function rope(x: Tensor, cfg: ModelConfig, cos: Tensor, sin: Tensor): Tensor {
  const [T, H, D] = x.shape;
  const rd = cfg.ropeDims, half = rd / 2;
  let x0: Tensor, x1: Tensor;
  if (cfg.ropeOrder === "normal") {
    const pairs = x.slice(null, null, `0:${rd}`).reshape([T, H, half, 2]);
    x0 = pairs.select(3, 0);
    x1 = pairs.select(3, 1);
  } else {
    x0 = x.slice(null, null, `0:${half}`);
    x1 = x.slice(null, null, `${half}:${rd}`);
  }
  const o0 = x0.mul(cos).sub(x1.mul(sin));
  const o1 = x0.mul(sin).add(x1.mul(cos));
  const rot = cfg.ropeOrder === "normal"
    ? stack([o0, o1], 3).reshape([T, H, rd])
    : concat([o0, o1], 2);
  return rd === D ? rot : concat([rot, x.slice(null, null, `${rd}:`)], 2);
}

/** Embedding rows of `tokens` as f32 `[T, dim]`. */
function embed(w: ModelWeights, cfg: ModelConfig, tokens: readonly number[]): Tensor {
  const out = new Float32Array(tokens.length * cfg.dim);
  const row = new Float32Array(cfg.dim);
  for (let i = 0; i < tokens.length; i++) {
    const id = tokens[i];
    if (!Number.isInteger(id) || id < 0 || id >= cfg.vocab) {
      throw new ShapeError(
        `forward: token id ${id} at position ${i} is outside the vocabulary [0, ${cfg.vocab}).`,
      );
    }
    const r = w.embed.select(0, id);
    try {
      const bytes = r.bytesSync();
      if (bytes.length !== byteLength(w.embed.dtype, cfg.dim)) throw new ShapeError("embed row");
      decodeRow(w.embed.dtype, bytes, row);
    } finally {
      r.dispose();
    }
    out.set(row, i * cfg.dim);
  }
  return fromTyped(out, [tokens.length, cfg.dim], "f32");
}

/**
 * Run `tokens` at positions `cache.length...` through the model, append their keys and values to
 * the cache, and return f32 logits `[T, vocab]` (or `[1, vocab]` for the last position).
 */
export function forward(
  w: ModelWeights,
  cfg: ModelConfig,
  cache: KVCache,
  tokens: readonly number[],
  opts: ForwardOptions,
): Tensor {
  const T = tokens.length, pos = cache.length, S = pos + T;
  if (S > cache.size) {
    throw new ShapeError(
      `forward: ${T} new tokens after ${pos} would exceed the context of ${cache.size}.`,
    );
  }
  const { heads, kvHeads, headDim, valueDim, eps } = cfg;
  const g = heads / kvHeads;
  const lin = (x: Tensor, wt: Parameters<typeof quantLinear>[1]) =>
    quantLinear(x, wt, { activations: opts.activations });
  const out = tidy(() => {
    let h = embed(w, cfg, tokens);
    const { cos, sin } = ropeTables(cfg, w.ropeFreqs, pos, T);
    let mask: Tensor | null = null;
    if (T > 1) {
      const m = new Float32Array(T * S);
      for (let t = 0; t < T; t++) m.fill(-Infinity, t * S + pos + t + 1, (t + 1) * S);
      mask = fromTyped(m, [T, S], "f32");
    }
    const scale = 1 / Math.sqrt(headDim);
    for (let l = 0; l < cfg.layers; l++) {
      const L = w.layers[l];
      const xn = rmsNorm(h, L.attnNorm, eps);
      let q = lin(xn, L.wq), k = lin(xn, L.wk), v = lin(xn, L.wv);
      if (L.bq) q = q.add(L.bq);
      if (L.bk) k = k.add(L.bk);
      if (L.bv) v = v.add(L.bv);
      q = q.reshape([T, heads, headDim]);
      k = k.reshape([T, kvHeads, headDim]);
      if (L.qNorm) q = rmsNorm(q, L.qNorm, eps);
      if (L.kNorm) k = rmsNorm(k, L.kNorm, eps);
      q = rope(q, cfg, cos, sin);
      k = rope(k, cfg, cos, sin);
      copyInto(cache.k[l].slice(`${pos}:${S}`), k);
      copyInto(cache.v[l].slice(`${pos}:${S}`), v.reshape([T, kvHeads, valueDim]));
      let K = cache.k[l].slice(`0:${S}`).permute([1, 2, 0]); // [kvHeads, headDim, S]
      let V = cache.v[l].slice(`0:${S}`).permute([1, 0, 2]); // [kvHeads, S, valueDim]
      if (cache.dtype !== "f32") {
        K = K.astype("f32");
        V = V.astype("f32");
      }
      const qh = q.permute([1, 0, 2]).reshape([kvHeads, g * T, headDim]);
      let scores = matmul(qh, K).mul(scale);
      if (mask) scores = scores.reshape([kvHeads, g, T, S]).add(mask);
      const p = softmax(scores, -1).reshape([kvHeads, g * T, S]);
      const o = matmul(p, V).reshape([heads, T, valueDim]).permute([1, 0, 2])
        .reshape([T, heads * valueDim]);
      h = h.add(lin(o, L.wo));
      const fn = rmsNorm(h, L.ffnNorm, eps);
      h = h.add(lin(lin(fn, L.gate).silu().mul(lin(fn, L.up)), L.down));
    }
    if (!opts.allLogits && T > 1) h = h.slice(`${T - 1}:`);
    return lin(rmsNorm(h, w.norm, eps), w.output);
  });
  cache.length = S;
  return out;
}
