/**
 * The forward pass of a llama-family decoder (llama, qwen2, qwen3, gemma3, phi3) written with core ops: RMSNorm,
 * rotary embeddings in ggml's normal or NeoX pair order, grouped-query attention over a KV cache,
 * SwiGLU, and `quantLinear` products on the packed weights. One call runs any number of new
 * tokens (the whole prompt at once in prefill, one token in decode).
 *
 * @module
 */
import { ShapeError } from "../../core/errors.ts";
import { tidy } from "../../core/memory.ts";
import { fromTyped } from "../../core/ops/creation.ts";
import { gelu } from "../../core/ops/activation.ts";
import { concat } from "../../core/ops/join.ts";
import { rmsNorm as rmsNormOp, rope as ropeOp } from "../../core/ops/llm.ts";
import { matmul } from "../../core/ops/matmul.ts";
import { quantLinear } from "../../core/ops/quant_linear.ts";
import { softmax } from "../../core/ops/reduce.ts";
import type { Tensor } from "../../core/tensor.ts";
import { isLocalLayer, type ModelConfig } from "./config.ts";
import type { KVCache } from "./kv_cache.ts";
import { decodeRow, type ModelWeights } from "./weights.ts";
import { forwardLn } from "./ln_forward.ts";
import { BLOCK_CODECS } from "../../core/quant/mod.ts";
import { byteLength } from "../../core/dtype.ts";

export { KVCache } from "./kv_cache.ts";

/** RMSNorm over the last axis (the fused op: ggml's rms_norm, then its mul by `w`). */
function rmsNorm(x: Tensor, w: Tensor, eps: number): Tensor {
  return rmsNormOp(x, w, { eps });
}

/** Options of {@link forward}. */
export interface ForwardOptions {
  /** Logits for every new position (true) or only the last (false). */
  allLogits: boolean;
  /** Activation rounding of the quantized products (see quantLinear). */
  activations: "f32" | "ggml";
}

/** Rotary parameters of one layer type: base, linear position scale, divisors, cos/sin factor. */
interface RopeParams {
  base: number;
  scale: number;
  freqs: Float32Array | null;
  mscale: number;
}

/** cos and sin tables `[N, ropeDims/2]` for the positions `positions[i]` of the N rows. */
function ropeTables(cfg: ModelConfig, r: RopeParams, positions: readonly number[]) {
  const half = cfg.ropeDims / 2, T = positions.length;
  const c = new Float32Array(T * half), s = new Float32Array(T * half);
  for (let t = 0; t < T; t++) {
    const p = positions[t] * r.scale;
    for (let i = 0; i < half; i++) {
      let theta = p * Math.pow(r.base, (-2 * i) / cfg.ropeDims);
      if (r.freqs) theta /= r.freqs[i];
      c[t * half + i] = Math.cos(theta) * r.mscale;
      s[t * half + i] = Math.sin(theta) * r.mscale;
    }
  }
  return { cos: fromTyped(c, [T, half], "f32"), sin: fromTyped(s, [T, half], "f32") };
}

/** The rotary parameters of layer `l` for a cache of `ctx` positions. */
export function layerRope(w: ModelWeights, cfg: ModelConfig, l: number, ctx: number): RopeParams {
  const local = isLocalLayer(cfg, l);
  const long = w.ropeLong !== null && cfg.ropeOrigContext > 0 && ctx > cfg.ropeOrigContext;
  return {
    base: local ? cfg.ropeBaseLocal : cfg.ropeBase,
    scale: local ? cfg.ropeScaleLocal : cfg.ropeScale,
    freqs: w.ropeFreqs ?? (long ? w.ropeLong : w.ropeShort),
    mscale: cfg.ropeAttnFactor,
  };
}

/**
 * `x` through q8_0 and back: llama.cpp multiplies a q8_0 key cache by queries quantized to q8_0
 * (the key type's dot-product partner), which "ggml" activations reproduce.
 */
function roundQ8(x: Tensor): Tensor {
  const a = (x.dataSync() as Float32Array).slice();
  const q = new Uint8Array((a.length / 32) * 34);
  BLOCK_CODECS.q8_0.quantize!(a, q);
  BLOCK_CODECS.q8_0.dequantize(q, a);
  return fromTyped(a, x.shape, "f32");
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
  if (cfg.embedScale !== 1) {
    // gemma3: llama.cpp scales the f32 rows by √dim
    for (let i = 0; i < out.length; i++) out[i] *= cfg.embedScale;
  }
  return fromTyped(out, [tokens.length, cfg.dim], "f32");
}

/** One sequence of a batched step: its cache and the tokens appended after its cached ones. */
export interface SeqTokens {
  /** The sequence's KV cache (its `length` is the position of the first new token). */
  cache: KVCache;
  /** New token ids (at least one). */
  tokens: readonly number[];
}

/** What {@link forwardSeqs} returns per row. */
export type ForwardOutput = "all" | "last" | "hidden";

/**
 * Run several independent sequences one step: their new tokens are stacked so every linear
 * layer runs once over all rows; attention runs per sequence over its own cache. Returns f32
 * `[rows, vocab]` logits — every new position ("all"), each sequence's last ("last", one row per
 * sequence) — or the final-normed hidden states `[rows, dim]` of every position ("hidden").
 */
export function forwardSeqs(
  w: ModelWeights,
  cfg: ModelConfig,
  seqs: readonly SeqTokens[],
  output: ForwardOutput,
  activations: "f32" | "ggml",
): Tensor {
  if (seqs.length === 0) throw new ShapeError("forward: no sequences to run.");
  if (w.ln) return forwardLn(w, cfg, seqs, output, activations); // gpt2, bert, nomic-bert
  const offs: number[] = [];
  let N = 0;
  for (const [i, { cache, tokens }] of seqs.entries()) {
    if (tokens.length === 0) throw new ShapeError(`forward: sequence ${i} has no new tokens.`);
    if (cache.length + tokens.length > cache.size) {
      throw new ShapeError(
        `forward: sequence ${i}: ${tokens.length} new tokens after ${cache.length} would exceed ` +
          `the context of ${cache.size}.`,
      );
    }
    if (seqs.findIndex((s) => s.cache === cache) !== i) {
      throw new ShapeError(`forward: sequence ${i} shares its KV cache with an earlier one.`);
    }
    offs.push(N);
    N += tokens.length;
  }
  const { heads, kvHeads, headDim, valueDim, eps } = cfg;
  const g = heads / kvHeads;
  const lin = (x: Tensor, wt: Parameters<typeof quantLinear>[1]) =>
    quantLinear(x, wt, { activations });
  const out = tidy(() => {
    let h = embed(w, cfg, seqs.flatMap((s) => s.tokens));
    // rotary tables per distinct layer type, over the N rows' positions
    const tables = new Map<string, { cos: Tensor; sin: Tensor }>();
    const ropeFor = (l: number) => {
      const ps = seqs.map((s) => layerRope(w, cfg, l, s.cache.size));
      const which = (f: Float32Array | null) =>
        f === null ? "-" : f === w.ropeLong ? "long" : f === w.ropeShort ? "short" : "freqs";
      const key = JSON.stringify(ps.map((p) => [p.base, p.scale, which(p.freqs)]));
      let t = tables.get(key);
      if (!t) {
        const cs = seqs.map((s, i) =>
          ropeTables(cfg, ps[i], s.tokens.map((_, j) => s.cache.length + j))
        );
        t = cs.length === 1
          ? cs[0]
          : { cos: concat(cs.map((c) => c.cos), 0), sin: concat(cs.map((c) => c.sin), 0) };
        tables.set(key, t);
      }
      return t;
    };
    // causal (and sliding-window) masks per sequence and layer kind
    const masks = new Map<string, Tensor | null>();
    const maskFor = (i: number, local: boolean): Tensor | null => {
      const key = `${i}/${local}`;
      if (masks.has(key)) return masks.get(key)!;
      const T = seqs[i].tokens.length, pos = seqs[i].cache.length, S = pos + T;
      const win = local ? cfg.slidingWindow : 0;
      let m: Tensor | null = null;
      if (T > 1 || (win > 0 && S > win)) {
        const a = new Float32Array(T * S);
        for (let t = 0; t < T; t++) {
          a.fill(-Infinity, t * S + pos + t + 1, (t + 1) * S);
          // llama.cpp's standard window: key j is hidden from query p when p - j >= window
          if (win > 0) a.fill(-Infinity, t * S, Math.max(0, pos + t - win + 1) + t * S);
        }
        m = fromTyped(a, [T, S], "f32");
      }
      masks.set(key, m);
      return m;
    };
    // build every table and mask up front: the per-layer scopes below free what they create
    for (let l = 0; l < cfg.layers; l++) {
      ropeFor(l);
      for (let i = 0; i < seqs.length; i++) maskFor(i, isLocalLayer(cfg, l));
    }
    for (let l = 0; l < cfg.layers; l++) {
      // one scope per layer: its intermediates go back to the heap before the next layer
      // allocates, so a prefill reuses warm memory instead of faulting in fresh pages per op
      const prev = h;
      h = tidy(() => layer(l, prev));
      prev.dispose();
    }
    function layer(l: number, h: Tensor): Tensor {
      const L = w.layers[l];
      const local = isLocalLayer(cfg, l);
      const xn = rmsNorm(h, L.attnNorm, eps);
      let q = lin(xn, L.wq), k = lin(xn, L.wk), v = lin(xn, L.wv);
      if (L.bq) q = q.add(L.bq);
      if (L.bk) k = k.add(L.bk);
      if (L.bv) v = v.add(L.bv);
      q = q.reshape([N, heads, headDim]);
      k = k.reshape([N, kvHeads, headDim]);
      v = v.reshape([N, kvHeads, valueDim]);
      if (L.qNorm) q = rmsNorm(q, L.qNorm, eps);
      if (L.kNorm) k = rmsNorm(k, L.kNorm, eps);
      const { cos, sin } = ropeFor(l);
      const ra = { order: cfg.ropeOrder, dims: cfg.ropeDims } as const;
      q = ropeOp(q, cos, sin, ra);
      k = ropeOp(k, cos, sin, ra);
      // a power-of-two scale commutes exactly with the products: apply it once to all queries
      // instead of once per sequence to its scores (not before a q8_0 round trip, whose f16
      // block scales could lose bits)
      const q8 = activations === "ggml" && seqs.some((s) => s.cache.dtype === "q8_0");
      const foldScale = !q8 && Number.isInteger(Math.log2(cfg.attnScale));
      if (foldScale) q = q.mul(cfg.attnScale);
      const outs: Tensor[] = [];
      for (const [i, { cache, tokens }] of seqs.entries()) {
        const T = tokens.length, pos = cache.length, S = pos + T;
        const r = seqs.length === 1 ? null : `${offs[i]}:${offs[i] + T}`;
        cache.write(l, pos, r ? k.slice(r) : k, r ? v.slice(r) : v);
        const kv = cache.read(l, S);
        const K = kv.k.permute([1, 2, 0]); // [kvHeads, headDim, S]
        const V = kv.v.permute([1, 0, 2]); // [kvHeads, S, valueDim]
        let qi = r ? q.slice(r) : q;
        if (cache.dtype === "q8_0" && activations === "ggml") qi = roundQ8(qi);
        const qh = qi.permute([1, 0, 2]).reshape([kvHeads, g * T, headDim]);
        let scores = matmul(qh, K);
        if (!foldScale) scores = scores.mul(cfg.attnScale);
        const mask = maskFor(i, local);
        if (mask) scores = scores.reshape([kvHeads, g, T, S]).add(mask);
        const p = softmax(scores, -1).reshape([kvHeads, g * T, S]);
        outs.push(
          matmul(p, V).reshape([heads, T, valueDim]).permute([1, 0, 2])
            .reshape([T, heads * valueDim]),
        );
      }
      let a = lin(outs.length === 1 ? outs[0] : concat(outs, 0), L.wo);
      if (L.postAttnNorm) a = rmsNorm(a, L.postAttnNorm, eps);
      h = h.add(a);
      const fn = rmsNorm(h, L.ffnNorm, eps);
      const gt = lin(fn, L.gate);
      const act = cfg.ffnAct === "silu" ? gt.silu() : activations === "ggml"
        // llama.cpp's CPU GELU reads a table of f16 inputs holding f16 outputs
        ? gelu(gt.astype("f16").astype("f32"), "tanh").astype("f16").astype("f32")
        : gelu(gt, "tanh");
      let f = lin(act.mul(lin(fn, L.up)), L.down);
      if (L.postFfnNorm) f = rmsNorm(f, L.postFfnNorm, eps);
      return h.add(f);
    }
    if (output === "last") {
      const lasts = seqs.map((s, i) => offs[i] + s.tokens.length - 1);
      if (N > seqs.length) {
        h = lasts.length === 1
          ? h.slice(`${lasts[0]}:`)
          : concat(lasts.map((r) => h.slice(`${r}:${r + 1}`)), 0);
      }
    }
    const hn = rmsNorm(h, w.norm, eps);
    return output === "hidden" ? hn : lin(hn, w.output);
  });
  for (const s of seqs) s.cache.length += s.tokens.length;
  return out;
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
  return forwardSeqs(
    w,
    cfg,
    [{ cache, tokens }],
    opts.allLogits ? "all" : "last",
    opts.activations,
  );
}
