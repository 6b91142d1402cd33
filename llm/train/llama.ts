/**
 * A trainable llama-architecture decoder built from the library's `nn` layers: token embedding,
 * blocks of (RMSNorm → grouped-query attention with RoPE → residual, RMSNorm → SwiGLU →
 * residual), a final RMSNorm and an output projection tied to the embedding. RoPE rotates
 * adjacent pairs (x[2i], x[2i+1]) — llama.cpp's "normal" order, the one GGUF `llama` files
 * expect — so the weights go into a GGUF file as they are. Submodule names are GGUF's
 * (`layers.N.attn_q` → `blk.N.attn_q.weight`).
 *
 * @module
 */
import { ComputeError } from "../../core/errors.ts";
import type { Tensor } from "../../core/tensor.ts";
import { fromTyped } from "../../core/ops/creation.ts";
import { keep, tidy } from "../../core/memory.ts";
import { noGrad } from "../../core/autograd.ts";
import { matmul } from "../../core/ops/matmul.ts";
import { stack } from "../../core/ops/join.ts";
import { Module } from "../../nn/module.ts";
import { Linear } from "../../nn/linear.ts";
import { Embedding } from "../../nn/embedding.ts";
import { RMSNorm } from "../../nn/normalization.ts";
import { ModuleList } from "../../nn/container.ts";
import { scaledDotProductAttention } from "../../nn/attention.ts";
import { normal } from "../../nn/init.ts";

/** Hyper-parameters of {@link Llama} (the GGUF `llama.*` keys). */
export interface LlamaConfig {
  /** Tokens in the vocabulary. */
  vocabSize: number;
  /** Model width (`llama.embedding_length`). */
  dim: number;
  /** Blocks (`llama.block_count`). */
  layers: number;
  /** Query heads (`llama.attention.head_count`). */
  heads: number;
  /** Key/value heads (`llama.attention.head_count_kv`), dividing `heads`. */
  kvHeads: number;
  /** Hidden width of the SwiGLU feed-forward (`llama.feed_forward_length`). */
  ffn: number;
  /** Longest sequence (`llama.context_length`). */
  context: number;
  /** RMSNorm epsilon (default 1e-5). */
  normEps?: number;
  /** RoPE base (default 10000). */
  ropeBase?: number;
}

/**
 * One block of {@link Llama}.
 *
 * @example
 * ```ts
 * import { Llama } from "@aprender/compute/llm/train";
 * const m = new Llama({ vocabSize: 64, dim: 32, layers: 2, heads: 4, kvHeads: 2, ffn: 64, context: 16 });
 * console.log(m.layers.at(1).attn_k.outFeatures); // 16
 * ```
 */
export class LlamaBlock extends Module<[Tensor, Tensor, Tensor], Tensor> {
  /** Norm before attention. */
  attn_norm: RMSNorm;
  /** Query projection (dim → heads·hd). */
  attn_q: Linear;
  /** Key projection (dim → kvHeads·hd). */
  attn_k: Linear;
  /** Value projection (dim → kvHeads·hd). */
  attn_v: Linear;
  /** Attention output projection. */
  attn_output: Linear;
  /** Norm before the feed-forward. */
  ffn_norm: RMSNorm;
  /** SwiGLU gate projection. */
  ffn_gate: Linear;
  /** SwiGLU up projection. */
  ffn_up: Linear;
  /** SwiGLU down projection. */
  ffn_down: Linear;
  readonly #c: Required<LlamaConfig>;

  /**
   * Build the layers.
   *
   * @param c the model's configuration (defaults filled in)
   */
  constructor(c: Required<LlamaConfig>) {
    super();
    this.#c = c;
    const hd = c.dim / c.heads, o = { bias: false };
    this.attn_norm = new RMSNorm([c.dim], { eps: c.normEps });
    this.attn_q = new Linear(c.dim, c.heads * hd, o);
    this.attn_k = new Linear(c.dim, c.kvHeads * hd, o);
    this.attn_v = new Linear(c.dim, c.kvHeads * hd, o);
    this.attn_output = new Linear(c.heads * hd, c.dim, o);
    this.ffn_norm = new RMSNorm([c.dim], { eps: c.normEps });
    this.ffn_gate = new Linear(c.dim, c.ffn, o);
    this.ffn_up = new Linear(c.dim, c.ffn, o);
    this.ffn_down = new Linear(c.ffn, c.dim, o);
  }

  /** x (B, T, dim) with RoPE tables cos, sin (T, 1, hd/2) → (B, T, dim). */
  forward(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
    const c = this.#c, [B, T] = x.shape, hd = c.dim / c.heads, rep = c.heads / c.kvHeads;
    const h = this.attn_norm.call(x);
    const q = rope(this.attn_q.call(h).reshape([B, T, c.heads, hd]), cos, sin);
    const k = rope(this.attn_k.call(h).reshape([B, T, c.kvHeads, hd]), cos, sin);
    const v = this.attn_v.call(h).reshape([B, T, c.kvHeads, hd]);
    const heads = (t: Tensor) => {
      const p = t.permute([0, 2, 1, 3]); // (B, kv, T, hd)
      if (rep === 1) return p;
      return p.unsqueeze(2).expand([B, c.kvHeads, rep, T, hd]).reshape([B, c.heads, T, hd]);
    };
    const a = scaledDotProductAttention(q.permute([0, 2, 1, 3]), heads(k), heads(v), {
      isCausal: true,
    });
    x = x.add(this.attn_output.call(a.permute([0, 2, 1, 3]).reshape([B, T, c.heads * hd])));
    const f = this.ffn_norm.call(x);
    const g = this.ffn_gate.call(f);
    return x.add(this.ffn_down.call(g.silu().mul(this.ffn_up.call(f))));
  }
}

/** Rotate adjacent pairs of the last axis of x (B, T, H, hd) by the angles in cos/sin (T, 1, hd/2). */
function rope(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  const [B, T, H, hd] = x.shape;
  const p = x.reshape([B, T, H, hd / 2, 2]);
  const x0 = p.select(4, 0), x1 = p.select(4, 1);
  const r0 = x0.mul(cos).sub(x1.mul(sin)), r1 = x0.mul(sin).add(x1.mul(cos));
  return stack([r0, r1], 4).reshape([B, T, H, hd]);
}

/**
 * The decoder. `call(ids)` takes token ids (B, T) as i32 and returns logits (B, T, vocabSize).
 *
 * @example
 * ```ts
 * import { fromTyped } from "@aprender/compute";
 * import { Llama } from "@aprender/compute/llm/train";
 * const m = new Llama({ vocabSize: 64, dim: 32, layers: 1, heads: 4, kvHeads: 2, ffn: 64, context: 16 });
 * console.log(m.call(fromTyped(new Int32Array([1, 2, 3]), [1, 3], "i32")).shape); // [1, 3, 64]
 * ```
 */
export class Llama extends Module<[Tensor], Tensor> {
  /** The configuration, defaults filled in. */
  readonly config: Required<LlamaConfig>;
  /** Token embedding, also the output projection (tied). */
  token_embd: Embedding;
  /** The blocks. */
  layers: ModuleList<LlamaBlock>;
  /** Final norm. */
  output_norm: RMSNorm;
  readonly #rope = new Map<number, [Tensor, Tensor]>();

  /**
   * Build the model with small random weights (from the global seed).
   *
   * @param config hyper-parameters (see {@link LlamaConfig})
   */
  constructor(config: LlamaConfig) {
    super();
    const c: Required<LlamaConfig> = { normEps: 1e-5, ropeBase: 10000, ...config };
    for (const k of ["vocabSize", "dim", "layers", "heads", "kvHeads", "ffn", "context"] as const) {
      if (!Number.isInteger(c[k]) || c[k] < 1) {
        throw new ComputeError(`Llama: ${k} = ${c[k]} must be a positive integer.`);
      }
    }
    if (c.dim % c.heads !== 0 || (c.dim / c.heads) % 2 !== 0 || c.heads % c.kvHeads !== 0) {
      throw new ComputeError(
        `Llama: dim ${c.dim}, heads ${c.heads}, kvHeads ${c.kvHeads} do not fit: dim/heads must ` +
          `be an even integer and heads a multiple of kvHeads.`,
      );
    }
    this.config = c;
    this.token_embd = new Embedding(c.vocabSize, c.dim);
    // GPT-2-style small init: N(0, 0.02) everywhere, residual outputs scaled by 1/√(2·layers)
    normal(this.token_embd.weight, 0, 0.02);
    this.layers = new ModuleList(Array.from({ length: c.layers }, () => new LlamaBlock(c)));
    for (const b of this.layers) {
      for (const l of [b.attn_q, b.attn_k, b.attn_v, b.ffn_gate, b.ffn_up]) {
        normal(l.weight, 0, 0.02);
      }
      for (const l of [b.attn_output, b.ffn_down]) {
        normal(l.weight, 0, 0.02 / Math.sqrt(2 * c.layers));
      }
    }
    this.output_norm = new RMSNorm([c.dim], { eps: c.normEps });
  }

  /** cos and sin (T, 1, hd/2) of llama.cpp's normal RoPE: angle p·base^(−2i/hd). */
  ropeTables(T: number): [Tensor, Tensor] {
    let t = this.#rope.get(T);
    if (!t) {
      const hd = this.config.dim / this.config.heads, half = hd / 2;
      const cs = new Float32Array(T * half), sn = new Float32Array(T * half);
      // the angles in f32 steps as ggml's rope cache computes them (θ ← θ·scale), so the
      // export agrees with llama.cpp to rounding
      const f = Math.fround, scale = f(Math.pow(this.config.ropeBase, -2 / hd));
      for (let p = 0; p < T; p++) {
        let a = f(p);
        for (let i = 0; i < half; i++) {
          cs[p * half + i] = Math.cos(a);
          sn[p * half + i] = Math.sin(a);
          a = f(a * scale);
        }
      }
      // kept: a cache that outlives the tidy() of the step that first needs it
      t = [keep(fromTyped(cs, [T, 1, half], "f32")), keep(fromTyped(sn, [T, 1, half], "f32"))];
      this.#rope.set(T, t);
    }
    return t;
  }

  /** Logits (B, T, vocabSize) of token ids (B, T). */
  forward(ids: Tensor): Tensor {
    const T = ids.shape[1];
    if (ids.ndim !== 2 || T > this.config.context) {
      throw new ComputeError(
        `Llama: ids must have shape (B, T) with T ≤ context ${this.config.context}, ` +
          `got [${ids.shape.join(", ")}].`,
      );
    }
    const [cos, sin] = this.ropeTables(T);
    let x = this.token_embd.call(ids);
    for (const b of this.layers) x = b.call(x, cos, sin);
    return matmul(this.output_norm.call(x), this.token_embd.weight.transpose());
  }

  /**
   * Greedy continuation of `prompt` by `n` tokens (argmax at each step, the last `context`
   * tokens as the window), without a KV cache: the training-side reference for exports.
   */
  greedy(prompt: readonly number[], n: number): number[] {
    const ids = prompt.slice();
    const was = this.training;
    this.eval();
    for (let i = 0; i < n; i++) {
      const ctx = ids.slice(-this.config.context);
      const x = fromTyped(Int32Array.from(ctx), [1, ctx.length], "i32");
      ids.push(
        tidy(() => noGrad(() => this.call(x).select(1, ctx.length - 1).argmax(1).item() as number)),
      );
      x.dispose();
    }
    this.train(was);
    return ids.slice(prompt.length);
  }

  /** Release the parameters and the cached RoPE tables. */
  override dispose(): void {
    for (const [c, s] of this.#rope.values()) c.dispose(), s.dispose();
    this.#rope.clear();
    super.dispose();
  }
}
