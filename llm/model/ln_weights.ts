/**
 * Weights of the LayerNorm architectures — `gpt2` (pre-norm decoder, learned positions, fused
 * `attn_qkv`), `bert` (post-norm encoder, learned positions, token-type embeddings) and
 * `nomic-bert` (post-norm encoder, rotary positions, fused `attn_qkv`, SwiGLU, no biases) — read
 * under the tensor names and shapes llama.cpp's loader expects from its HF converter.
 *
 * @module
 */
import type { StorageDType } from "../../core/dtype.ts";
import type { Tensor } from "../../core/tensor.ts";
import type { ModelConfig } from "./config.ts";
import type { ModelWeights } from "./weights.ts";

/** The architectures whose blocks are {@link LnLayer}s. */
export const LN_ARCHITECTURES: readonly string[] = ["gpt2", "bert", "nomic-bert"];

/** One block of a LayerNorm architecture. */
export interface LnLayer {
  /** gpt2: LayerNorm before attention; bert: after the attention residual (`attn_output_norm`). */
  attnNorm: Tensor;
  /** Its bias. */
  attnNormB: Tensor;
  /** Fused query/key/value projection `[3·dim, dim]` (gpt2), or null. */
  wqkv: Tensor<StorageDType> | null;
  /** Its bias `[3·dim]`, or null. */
  bqkv: Tensor | null;
  /** Separate query, key and value projections (bert), or null when fused. */
  wq: Tensor<StorageDType> | null;
  /** Key projection. */
  wk: Tensor<StorageDType> | null;
  /** Value projection. */
  wv: Tensor<StorageDType> | null;
  /** Query bias. */
  bq: Tensor | null;
  /** Key bias. */
  bk: Tensor | null;
  /** Value bias. */
  bv: Tensor | null;
  /** Attention output projection. */
  wo: Tensor<StorageDType>;
  /** Output projection bias (none in nomic-bert). */
  bo: Tensor | null;
  /** gpt2: LayerNorm before the feed-forward; bert: after its residual (`layer_output_norm`). */
  ffnNorm: Tensor;
  /** Its bias. */
  ffnNormB: Tensor;
  /** Feed-forward up projection `[ffn, dim]`. */
  up: Tensor<StorageDType>;
  /** Up bias, or null. */
  upB: Tensor | null;
  /** SwiGLU gate `[ffn, dim]` (nomic-bert: `down(silu(gate·x) ⊙ up·x)`), or null for GELU. */
  gate: Tensor<StorageDType> | null;
  /** Feed-forward down projection `[dim, ffn]`. */
  down: Tensor<StorageDType>;
  /** Down bias, or null. */
  downB: Tensor | null;
}

/** Every weight of a LayerNorm architecture. */
export interface LnWeights {
  /** `general.architecture`. */
  kind: "gpt2" | "bert" | "nomic-bert";
  /** Learned position embeddings `[positions, dim]` (f32), null for rotary nomic-bert. */
  pos: Tensor | null;
  /** Token-type embeddings `[types, dim]` (bert; row 0 is added, as llama.cpp does), or null. */
  types: Tensor | null;
  /** LayerNorm of the summed embeddings (bert), or null. */
  embedNorm: Tensor | null;
  /** Its bias. */
  embedNormB: Tensor | null;
  /** Final LayerNorm (gpt2), or null. */
  outNorm: Tensor | null;
  /** Its bias. */
  outNormB: Tensor | null;
  /** Output projection `[vocab, dim]` (gpt2: `output.weight` or the tied embedding), or null. */
  output: Tensor<StorageDType> | null;
  /** The blocks. */
  layers: LnLayer[];
}

/** The readers {@link loadLnWeights} borrows from `loadWeights` (they track what was read). */
export interface LnReaders {
  /** A linear/embedding weight in its storage type, shape checked. */
  packed(name: string, shape: readonly number[]): Tensor<StorageDType>;
  /** A tensor as f32, shape checked. */
  f32(name: string, shape: readonly number[]): Tensor;
  /** Whether the file has the tensor. */
  has(name: string): boolean;
}

/**
 * Read a `gpt2` or `bert` model's weights; the llama-family `layers` are empty and the blocks
 * are in `ln`.
 */
export function loadLnWeights(cfg: ModelConfig, r: LnReaders): ModelWeights {
  const { dim, vocab, ffn, heads, headDim, kvHeads } = cfg;
  const kind = cfg.arch as LnWeights["kind"];
  const embed = r.packed("token_embd.weight", [vocab, dim]);
  const pos = kind === "nomic-bert"
    ? null
    : r.f32("position_embd.weight", [cfg.contextLength, dim]);
  const opt = (name: string, shape: readonly number[]) => r.has(name) ? r.f32(name, shape) : null;
  const qDim = heads * headDim, kvDim = kvHeads * headDim;
  const layers: LnLayer[] = [];
  let output: Tensor<StorageDType> | null = null;
  let outNorm: Tensor | null = null, outNormB: Tensor | null = null;
  let types: Tensor | null = null, embedNorm: Tensor | null = null;
  let embedNormB: Tensor | null = null;
  if (kind === "gpt2") {
    outNorm = r.f32("output_norm.weight", [dim]);
    outNormB = r.f32("output_norm.bias", [dim]);
    output = r.has("output.weight") ? r.packed("output.weight", [vocab, dim]) : embed;
  } else {
    if (r.has("token_types.weight")) {
      types = r.f32("token_types.weight", [cfg.tokenTypes, dim]);
    }
    embedNorm = r.f32("token_embd_norm.weight", [dim]);
    embedNormB = r.f32("token_embd_norm.bias", [dim]);
  }
  for (let l = 0; l < cfg.layers; l++) {
    const p = `blk.${l}.`;
    const fused = r.has(`${p}attn_qkv.weight`);
    const [an, fn] = kind === "gpt2"
      ? ["attn_norm", "ffn_norm"]
      : ["attn_output_norm", "layer_output_norm"];
    layers.push({
      attnNorm: r.f32(`${p}${an}.weight`, [dim]),
      attnNormB: r.f32(`${p}${an}.bias`, [dim]),
      wqkv: fused ? r.packed(`${p}attn_qkv.weight`, [qDim + 2 * kvDim, dim]) : null,
      bqkv: fused ? opt(`${p}attn_qkv.bias`, [qDim + 2 * kvDim]) : null,
      wq: fused ? null : r.packed(`${p}attn_q.weight`, [qDim, dim]),
      wk: fused ? null : r.packed(`${p}attn_k.weight`, [kvDim, dim]),
      wv: fused ? null : r.packed(`${p}attn_v.weight`, [kvDim, dim]),
      bq: fused ? null : opt(`${p}attn_q.bias`, [qDim]),
      bk: fused ? null : opt(`${p}attn_k.bias`, [kvDim]),
      bv: fused ? null : opt(`${p}attn_v.bias`, [kvDim]),
      wo: r.packed(`${p}attn_output.weight`, [dim, qDim]),
      bo: kind === "nomic-bert"
        ? opt(`${p}attn_output.bias`, [dim])
        : r.f32(`${p}attn_output.bias`, [dim]),
      ffnNorm: r.f32(`${p}${fn}.weight`, [dim]),
      ffnNormB: r.f32(`${p}${fn}.bias`, [dim]),
      up: r.packed(`${p}ffn_up.weight`, [ffn, dim]),
      upB: kind === "nomic-bert" ? opt(`${p}ffn_up.bias`, [ffn]) : r.f32(`${p}ffn_up.bias`, [ffn]),
      gate: kind === "nomic-bert" ? r.packed(`${p}ffn_gate.weight`, [ffn, dim]) : null,
      down: r.packed(`${p}ffn_down.weight`, [dim, ffn]),
      downB: kind === "nomic-bert"
        ? opt(`${p}ffn_down.bias`, [dim])
        : r.f32(`${p}ffn_down.bias`, [dim]),
    });
  }
  return {
    embed,
    norm: (outNorm ?? embedNorm)!,
    output: output ?? embed,
    tied: output === null || output === embed,
    ropeFreqs: null,
    ropeLong: null,
    ropeShort: null,
    layers: [],
    ln: { kind, pos, types, embedNorm, embedNormB, outNorm, outNormB, output, layers },
  };
}

/** Every tensor of `w` once. */
export function lnWeightTensors(
  embed: Tensor<StorageDType>,
  w: LnWeights,
): Tensor<StorageDType>[] {
  const out: Tensor<StorageDType>[] = [embed];
  const add = (t: Tensor<StorageDType> | null) => {
    if (t && !out.includes(t)) out.push(t);
  };
  for (const t of [w.pos, w.types, w.embedNorm, w.embedNormB, w.outNorm, w.outNormB, w.output]) {
    add(t);
  }
  for (const L of w.layers) for (const t of Object.values(L)) add(t as Tensor<StorageDType> | null);
  return out;
}
