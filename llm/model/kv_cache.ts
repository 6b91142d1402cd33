/**
 * The key/value cache of a decoder: per layer, keys `[size, kvHeads, headDim]` and values
 * `[size, kvHeads, valueDim]` stored as f32, f16 or q8_0 blocks (each head's row quantized in
 * blocks of 32, as llama.cpp's `--cache-type-k q8_0` stores them).
 *
 * @module
 */
import { DTypeError, ShapeError } from "../../core/errors.ts";
import { tidy } from "../../core/memory.ts";
import { fromTyped, zeros } from "../../core/ops/creation.ts";
import { copyInto } from "../../core/ops/view.ts";
import { BLOCK_CODECS } from "../../core/quant/mod.ts";
import type { Tensor } from "../../core/tensor.ts";
import type { ModelConfig } from "./config.ts";

/**
 * Element types of the KV cache.
 *
 * @example
 * ```ts
 * import type { CacheType } from "@aprender/compute/llm";
 * const t: CacheType = "q8_0";
 * console.log(t); // "q8_0"
 * ```
 */
export type CacheType = "f32" | "f16" | "q8_0";

/**
 * The cache types, for messages and option checks.
 *
 * @example
 * ```ts
 * import { CACHE_TYPES } from "@aprender/compute/llm";
 * console.log(CACHE_TYPES.includes("q8_0")); // true
 * ```
 */
export const CACHE_TYPES: readonly CacheType[] = ["f32", "f16", "q8_0"];

const Q8_BLOCK = 32, Q8_BYTES = 34;

/**
 * Keys and values of every layer for up to `size` positions. Positions `0..length-1` hold the
 * tokens seen so far. Create one per sequence (see `Model.newCache`).
 *
 * @example
 * ```ts ignore
 * import { KVCache } from "@aprender/compute/llm";
 * const cache = new KVCache(model.config, 512, "q8_0");
 * console.log(cache.bytes, cache.length); // 0 positions filled
 * cache.dispose();
 * ```
 */
export class KVCache {
  /** Positions filled. */
  length = 0;
  /** Key/value heads. */
  readonly kvHeads: number;
  /** Per-head key size. */
  readonly headDim: number;
  /** Per-head value size. */
  readonly valueDim: number;
  // f32/f16: tensors; q8_0: packed bytes
  private readonly kt: Tensor[] = [];
  private readonly vt: Tensor[] = [];
  private readonly kq: Uint8Array[] = [];
  private readonly vq: Uint8Array[] = [];

  /**
   * Allocate a cache for `size` positions of the model `cfg`.
   *
   * @param cfg model hyper-parameters
   * @param size positions it holds (the context asked for)
   * @param dtype element type of the stored keys and values: f32 (exact), f16 (half the memory,
   *   rounded as llama.cpp's default cache), q8_0 (~27% of f32; head sizes must be multiples of 32)
   */
  constructor(cfg: ModelConfig, readonly size: number, readonly dtype: CacheType = "f32") {
    if (!Number.isSafeInteger(size) || size <= 0) {
      throw new ShapeError(`KVCache: size must be an integer > 0, got ${size}.`);
    }
    if (!CACHE_TYPES.includes(dtype)) {
      throw new DTypeError(
        `KVCache: cache type ${JSON.stringify(dtype)} is not one of ${CACHE_TYPES.join(", ")}.`,
      );
    }
    this.kvHeads = cfg.kvHeads;
    this.headDim = cfg.headDim;
    this.valueDim = cfg.valueDim;
    if (dtype === "q8_0" && (cfg.headDim % Q8_BLOCK !== 0 || cfg.valueDim % Q8_BLOCK !== 0)) {
      throw new DTypeError(
        `KVCache: a q8_0 cache needs head sizes that are multiples of 32; this model has keys ` +
          `of ${cfg.headDim} and values of ${cfg.valueDim}. Hint: cacheType "f16".`,
      );
    }
    for (let l = 0; l < cfg.layers; l++) {
      if (dtype === "q8_0") {
        this.kq.push(new Uint8Array(size * this.rowBytes(cfg.headDim)));
        this.vq.push(new Uint8Array(size * this.rowBytes(cfg.valueDim)));
      } else {
        this.kt.push(zeros([size, cfg.kvHeads, cfg.headDim], { dtype }));
        this.vt.push(zeros([size, cfg.kvHeads, cfg.valueDim], { dtype }));
      }
    }
  }

  /** Bytes of one position of one layer (all heads) in a q8_0 cache. */
  private rowBytes(d: number): number {
    return this.kvHeads * (d / Q8_BLOCK) * Q8_BYTES;
  }

  /** Bytes held. */
  get bytes(): number {
    if (this.dtype === "q8_0") return [...this.kq, ...this.vq].reduce((a, b) => a + b.length, 0);
    const el = this.dtype === "f16" ? 2 : 4;
    return [...this.kt, ...this.vt].reduce((a, t) => a + t.size * el, 0);
  }

  /**
   * Store keys `k` `[T, kvHeads, headDim]` and values `v` of layer `l` at positions `pos...`.
   * @internal used by the forward pass
   */
  write(l: number, pos: number, k: Tensor, v: Tensor): void {
    const T = k.shape[0];
    if (pos < 0 || pos + T > this.size) {
      throw new ShapeError(`KVCache.write: positions ${pos}..${pos + T} outside ${this.size}.`);
    }
    if (this.dtype !== "q8_0") {
      copyInto(this.kt[l].slice(`${pos}:${pos + T}`), k);
      copyInto(this.vt[l].slice(`${pos}:${pos + T}`), v);
      return;
    }
    this.writeRows(l, "k", pos, k.dataSync() as Float32Array);
    this.writeRows(l, "v", pos, v.dataSync() as Float32Array);
  }

  /**
   * Keys and values of layer `l` at positions `0..S-1` as f32 tensors `[S, kvHeads, dim]`.
   * @internal used by the forward pass
   */
  read(l: number, S: number): { k: Tensor; v: Tensor } {
    if (this.dtype === "f32") {
      return { k: this.kt[l].slice(`0:${S}`), v: this.vt[l].slice(`0:${S}`) };
    }
    if (this.dtype === "f16") {
      return {
        k: this.kt[l].slice(`0:${S}`).astype("f32"),
        v: this.vt[l].slice(`0:${S}`).astype("f32"),
      };
    }
    return {
      k: fromTyped(this.readRows(l, "k", 0, S), [S, this.kvHeads, this.headDim], "f32"),
      v: fromTyped(this.readRows(l, "v", 0, S), [S, this.kvHeads, this.valueDim], "f32"),
    };
  }

  /** Rows `from..to-1` of layer `l`'s keys or values, dequantized, as one flat Float32Array. */
  readRows(l: number, which: "k" | "v", from: number, to: number): Float32Array {
    const d = which === "k" ? this.headDim : this.valueDim;
    if (this.dtype !== "q8_0") {
      const src = which === "k" ? this.kt : this.vt;
      let out!: Float32Array;
      tidy(() => {
        out = (src[l].slice(`${from}:${to}`).astype("f32").dataSync() as Float32Array).slice();
      });
      return out;
    }
    const rb = this.rowBytes(d);
    const src = (which === "k" ? this.kq : this.vq)[l].subarray(from * rb, to * rb);
    const out = new Float32Array((to - from) * this.kvHeads * d);
    BLOCK_CODECS.q8_0.dequantize(src, out);
    return out;
  }

  /** Overwrite rows from `at` of layer `l`'s keys or values with flat f32 `data`. */
  writeRows(l: number, which: "k" | "v", at: number, data: Float32Array): void {
    const d = which === "k" ? this.headDim : this.valueDim;
    const rows = data.length / (this.kvHeads * d);
    if (this.dtype !== "q8_0") {
      const dst = which === "k" ? this.kt : this.vt;
      tidy(() => {
        copyInto(
          dst[l].slice(`${at}:${at + rows}`),
          fromTyped(data, [rows, this.kvHeads, d], "f32"),
        );
      });
      return;
    }
    const rb = this.rowBytes(d);
    // quantize the whole span at once: blocks never straddle heads (d % 32 == 0)
    BLOCK_CODECS.q8_0.quantize!(
      data,
      (which === "k" ? this.kq : this.vq)[l].subarray(at * rb, (at + rows) * rb),
    );
  }

  /** Free the cache. */
  dispose(): void {
    for (const t of [...this.kt, ...this.vt]) t.dispose();
    this.kt.length = this.vt.length = 0;
    this.kq.length = this.vq.length = 0;
  }
}
