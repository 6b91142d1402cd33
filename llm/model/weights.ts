/**
 * A model's weights read from a GGUF file, tensor by tensor: norms as f32 tensors, linear and
 * embedding weights kept in their storage type (f32, f16, bf16 or a block type), never expanded
 * to f32 at load.
 *
 * @module
 */
import { type BlockDType, type DType, isBlockDType, type StorageDType } from "../../core/dtype.ts";
import { FormatError } from "../../core/errors.ts";
import { fromBlocks, fromTyped } from "../../core/ops/creation.ts";
import { BLOCK_CODECS } from "../../core/quant/mod.ts";
import { bf16ToF32Row, f16ToF32Row } from "../../core/quant/half.ts";
import { Tensor } from "../../core/tensor.ts";
import { deviceProvider } from "../../core/backend/registry.ts";
import type { GgufFile } from "../../io/gguf/read.ts";
import type { ModelConfig } from "./config.ts";
import { LN_ARCHITECTURES, type LnWeights, lnWeightTensors, loadLnWeights } from "./ln_weights.ts";

/** The weights of one transformer block. */
export interface LayerWeights {
  /** RMSNorm weight before attention. */
  attnNorm: Tensor;
  /** Query, key, value and output projections ([out, in], any storage type). */
  wq: Tensor<StorageDType>;
  /** Key projection. */
  wk: Tensor<StorageDType>;
  /** Value projection. */
  wv: Tensor<StorageDType>;
  /** Output projection. */
  wo: Tensor<StorageDType>;
  /** Projection biases (qwen2). */
  bq: Tensor | null;
  /** Key bias. */
  bk: Tensor | null;
  /** Value bias. */
  bv: Tensor | null;
  /** Per-head RMSNorm of queries and keys (qwen3). */
  qNorm: Tensor | null;
  /** Per-head RMSNorm of keys. */
  kNorm: Tensor | null;
  /** RMSNorm weight before the feed-forward. */
  ffnNorm: Tensor;
  /** RMSNorm of the attention output before the residual add (gemma3), or null. */
  postAttnNorm: Tensor | null;
  /** RMSNorm of the feed-forward output before the residual add (gemma3), or null. */
  postFfnNorm: Tensor | null;
  /** SwiGLU gate, up and down projections. */
  gate: Tensor<StorageDType>;
  /** Up projection. */
  up: Tensor<StorageDType>;
  /** Down projection. */
  down: Tensor<StorageDType>;
}

/** All weights of a model. */
export interface ModelWeights {
  /** Token embedding [vocab, dim], in its storage type. */
  embed: Tensor<StorageDType>;
  /** Final RMSNorm weight. */
  norm: Tensor;
  /** Output projection [vocab, dim]: `output.weight`, or the embedding when tied. */
  output: Tensor<StorageDType>;
  /** Whether the output projection is the embedding. */
  tied: boolean;
  /** Llama 3 RoPE frequency divisors (`rope_freqs.weight`), or null. */
  ropeFreqs: Float32Array | null;
  /** LongRoPE divisors for contexts beyond `ropeOrigContext` (phi3 `rope_factors_long`), or null. */
  ropeLong: Float32Array | null;
  /** LongRoPE divisors within the original context (`rope_factors_short`), or null. */
  ropeShort: Float32Array | null;
  /** The blocks (empty for gpt2/bert, whose blocks are in `ln`). */
  layers: LayerWeights[];
  /** The weights of a LayerNorm architecture (gpt2, bert), absent for the llama family. */
  ln?: LnWeights;
}

const CHUNK = 1 << 22;

/**
 * Reads `len` (≤ 4 MiB) bytes at file offset `pos`; may return the same buffer on every call
 * (the loader copies each part into the tensor before the next read).
 */
export type ChunkReader = (pos: number, len: number) => Uint8Array;

/**
 * A {@link ChunkReader} over `path` that reuses one 4 MiB buffer, so loading makes no garbage of
 * the size of the weights (which the allocator would keep resident). Close it when done.
 */
export function chunkReader(path: string | URL): ChunkReader & { close(): void } {
  const file = Deno.openSync(path, { read: true });
  const buf = new Uint8Array(CHUNK);
  const read = (pos: number, len: number): Uint8Array => {
    if (len > CHUNK) throw new FormatError(`loadModel: chunk of ${len} bytes > ${CHUNK}.`);
    file.seekSync(pos, Deno.SeekMode.Start);
    let got = 0;
    while (got < len) {
      const n = file.readSync(buf.subarray(got, len));
      if (n === null || n === 0) {
        throw new FormatError(`loadModel: file ended at byte ${pos + got}.`);
      }
      got += n;
    }
    return buf.subarray(0, len);
  };
  return Object.assign(read, { close: () => file.close() });
}

/** Progress of loading: bytes read so far of the total tensor bytes. */
export type LoadProgress = (loaded: number, total: number) => void;

/** Decode one row of `d` elements from raw bytes into `dst`. */
export function decodeRow(d: StorageDType, src: Uint8Array, dst: Float32Array): void {
  if (d === "f32") new Uint8Array(dst.buffer, dst.byteOffset, dst.byteLength).set(src);
  else if (d === "f16") f16ToF32Row(src, dst);
  else if (d === "bf16") bf16ToF32Row(src, dst);
  else if (isBlockDType(d)) BLOCK_CODECS[d].dequantize(src, dst);
  else throw new FormatError(`loadModel: weights of dtype ${d} are not supported`);
}

/** Read the weights of `cfg` from `file`; disposes what it read if a tensor is missing. */
export function loadWeights(
  file: GgufFile,
  cfg: ModelConfig,
  onProgress?: LoadProgress,
  reader?: ChunkReader,
): ModelWeights {
  const names = new Set(file.tensors.map((t) => t.name));
  const total = file.tensors.reduce((a, t) => a + t.nbytes, 0);
  let loaded = 0;
  const owned: Tensor<StorageDType>[] = [];
  const expectShape = (name: string, shape: readonly number[], want: readonly number[]) => {
    if (shape.length !== want.length || shape.some((d, i) => d !== want[i])) {
      throw new FormatError(
        `loadModel: ${file.name}: tensor "${name}" has shape [${shape}], expected [${want}] ` +
          `from the ${cfg.arch}.* hyper-parameters.`,
      );
    }
  };
  const packed = (name: string, want: readonly number[]): Tensor<StorageDType> => {
    const info = file.tensorInfo(name);
    expectShape(name, info.shape, want);
    const d = info.type as StorageDType;
    if (!isBlockDType(d) && d !== "f32" && d !== "f16" && d !== "bf16") {
      throw new FormatError(`loadModel: ${file.name}: tensor "${name}" has dtype ${d}.`);
    }
    // straight from the file into the tensor's storage, 4 MiB at a time: no whole-tensor copy
    // in between (resident memory stays near the file size)
    const t = Tensor.empty(info.shape, d, "cpu", false);
    try {
      const dev = deviceProvider("cpu");
      for (let off = 0; off < info.nbytes; off += CHUNK) {
        const n = Math.min(CHUNK, info.nbytes - off);
        const part = reader
          ? reader(info.fileOffset + off, n)
          : file.src.read(info.fileOffset + off, n);
        dev.write(t.storage, part, off);
      }
    } catch (e) {
      t.dispose();
      throw e;
    }
    owned.push(t);
    loaded += info.nbytes;
    onProgress?.(loaded, total);
    return t;
  };
  /** A fused [sum(parts), cols] weight split by rows into packed tensors (bytes, not values). */
  const split = (name: string, parts: readonly number[], cols: number): Tensor<StorageDType>[] => {
    const info = file.tensorInfo(name);
    const rows = parts.reduce((a, b) => a + b, 0);
    expectShape(name, info.shape, [rows, cols]);
    if (info.nbytes % rows !== 0) {
      throw new FormatError(
        `loadModel: ${file.name}: "${name}" has ${info.nbytes} bytes for ${rows} rows.`,
      );
    }
    const rb = info.nbytes / rows;
    const bytes = file.readTensorBytes(info);
    const out: Tensor<StorageDType>[] = [];
    let r = 0;
    for (const n of parts) {
      const sub = bytes.slice(r * rb, (r + n) * rb);
      const t = isBlockDType(info.type)
        ? fromBlocks(sub, info.type as BlockDType, [n, cols]) as Tensor<StorageDType>
        : fromTyped(sub, [n, cols], info.type as DType) as Tensor<StorageDType>;
      owned.push(t);
      out.push(t);
      r += n;
    }
    loaded += info.nbytes;
    onProgress?.(loaded, total);
    return out;
  };
  const f32 = (name: string, want: readonly number[]): Tensor => {
    const info = file.tensorInfo(name);
    expectShape(name, info.shape, want);
    let t = file.readTensor(name);
    if (t.dtype !== "f32") {
      const c = t.astype("f32");
      t.dispose();
      t = c;
    }
    owned.push(t);
    loaded += info.nbytes;
    onProgress?.(loaded, total);
    return t;
  };
  const opt = <T>(name: string, read: (n: string) => T): T | null =>
    names.has(name) ? read(name) : null;
  try {
    if (LN_ARCHITECTURES.includes(cfg.arch)) {
      return loadLnWeights(cfg, { packed, f32, has: (n) => names.has(n) });
    }
    const { dim, vocab, heads, kvHeads, headDim, valueDim, ffn } = cfg;
    const embed = packed("token_embd.weight", [vocab, dim]);
    const norm = f32("output_norm.weight", [dim]);
    const tied = !names.has("output.weight");
    const output = tied ? embed : packed("output.weight", [vocab, dim]);
    const factors = (name: string): Float32Array | null => {
      if (!names.has(name)) return null;
      const t = f32(name, [cfg.ropeDims / 2]);
      const a = (t.dataSync() as Float32Array).slice();
      owned.pop();
      t.dispose();
      return a;
    };
    const ropeFreqs = factors("rope_freqs.weight");
    const ropeLong = factors("rope_factors_long.weight");
    const ropeShort = factors("rope_factors_short.weight");
    if ((ropeLong === null) !== (ropeShort === null)) {
      throw new FormatError(
        `loadModel: ${file.name}: has only one of rope_factors_long/rope_factors_short.weight.`,
      );
    }
    const layers: LayerWeights[] = [];
    for (let l = 0; l < cfg.layers; l++) {
      const p = `blk.${l}.`;
      // phi3 stores q, k, v as one attn_qkv and gate, up as one ffn_up of 2·ffn rows
      const [wq, wk, wv] = names.has(`${p}attn_qkv.weight`)
        ? split(
          `${p}attn_qkv.weight`,
          [heads * headDim, kvHeads * headDim, kvHeads * valueDim],
          dim,
        )
        : [
          packed(`${p}attn_q.weight`, [heads * headDim, dim]),
          packed(`${p}attn_k.weight`, [kvHeads * headDim, dim]),
          packed(`${p}attn_v.weight`, [kvHeads * valueDim, dim]),
        ];
      const [gate, up] = names.has(`${p}ffn_gate.weight`)
        ? [packed(`${p}ffn_gate.weight`, [ffn, dim]), packed(`${p}ffn_up.weight`, [ffn, dim])]
        : split(`${p}ffn_up.weight`, [ffn, ffn], dim);
      layers.push({
        attnNorm: f32(`${p}attn_norm.weight`, [dim]),
        wq,
        wk,
        wv,
        wo: packed(`${p}attn_output.weight`, [dim, heads * valueDim]),
        bq: opt(`${p}attn_q.bias`, (n) => f32(n, [heads * headDim])),
        bk: opt(`${p}attn_k.bias`, (n) => f32(n, [kvHeads * headDim])),
        bv: opt(`${p}attn_v.bias`, (n) => f32(n, [kvHeads * valueDim])),
        qNorm: opt(`${p}attn_q_norm.weight`, (n) => f32(n, [headDim])),
        kNorm: opt(`${p}attn_k_norm.weight`, (n) => f32(n, [headDim])),
        ffnNorm: f32(`${p}ffn_norm.weight`, [dim]),
        postAttnNorm: opt(`${p}post_attention_norm.weight`, (n) => f32(n, [dim])),
        postFfnNorm: opt(`${p}post_ffw_norm.weight`, (n) => f32(n, [dim])),
        gate,
        up,
        down: packed(`${p}ffn_down.weight`, [dim, ffn]),
      });
    }
    return { embed, norm, output, tied, ropeFreqs, ropeLong, ropeShort, layers };
  } catch (e) {
    for (const t of owned) t.dispose();
    throw e;
  }
}

/** Every tensor of `w` once (the tied output is the embedding). */
export function weightTensors(w: ModelWeights): Tensor<StorageDType>[] {
  if (w.ln) return lnWeightTensors(w.embed, w.ln);
  const out: Tensor<StorageDType>[] = [w.embed, w.norm];
  if (!w.tied) out.push(w.output);
  for (const l of w.layers) {
    for (const t of Object.values(l)) if (t) out.push(t as Tensor<StorageDType>);
  }
  return out;
}
