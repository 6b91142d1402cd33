/**
 * Context shift: when a sequence's cache is full, drop a span of old positions and re-rotate the
 * keys after it to their new positions (llama.cpp's `n_keep` / `n_discard` shift), so decoding can
 * go on past the context length.
 *
 * @module
 */
import { ShapeError } from "../../core/errors.ts";
import type { ModelConfig } from "./config.ts";
import { layerRope } from "./forward.ts";
import type { KVCache } from "./kv_cache.ts";
import type { Model } from "./model.ts";

/**
 * Rotate the keys in `k` (rows of `[kvHeads, headDim]`, flat) by `delta` positions: RoPE angles
 * are linear in the position, so rotating a key rotated for `p` by the angle of `delta` gives the
 * key rotated for `p + delta`.
 */
function rerope(
  cfg: ModelConfig,
  k: Float32Array,
  delta: number,
  base: number,
  scale: number,
  freqs: Float32Array | null,
): void {
  const rd = cfg.ropeDims, half = rd / 2, hd = cfg.headDim;
  const c = new Float64Array(half), s = new Float64Array(half);
  for (let i = 0; i < half; i++) {
    let theta = delta * scale * Math.pow(base, (-2 * i) / rd);
    if (freqs) theta /= freqs[i];
    c[i] = Math.cos(theta);
    s[i] = Math.sin(theta);
  }
  for (let o = 0; o < k.length; o += hd) {
    for (let i = 0; i < half; i++) {
      const a = cfg.ropeOrder === "normal" ? o + 2 * i : o + i;
      const b = cfg.ropeOrder === "normal" ? a + 1 : a + half;
      const x0 = k[a], x1 = k[b];
      k[a] = x0 * c[i] - x1 * s[i];
      k[b] = x0 * s[i] + x1 * c[i];
    }
  }
}

/**
 * Drop positions `keep..keep+discard-1` of `cache`: the later positions move down by `discard`
 * and their keys are re-rotated by `-discard` positions (the cos/sin factor of LongRoPE is not
 * applied twice: only the rotation changes). `cache.length` shrinks by `discard`.
 *
 * @example
 * ```ts ignore
 * import { shiftContext } from "@aprender/compute/llm";
 * shiftContext(model, cache, 1, Math.floor((cache.length - 1) / 2));
 * ```
 */
export function shiftContext(
  model: Model,
  cache: KVCache,
  keep: number,
  discard: number,
): void {
  if (model.weights.ln) {
    throw new ShapeError(
      `shiftContext: ${model.config.arch} is not a rotary decoder (gpt2 has learned positions, ` +
        `bert/nomic-bert are encoders): its context cannot be shifted.`,
    );
  }
  const n = cache.length;
  if (
    !Number.isSafeInteger(keep) || !Number.isSafeInteger(discard) || keep < 0 || discard < 1 ||
    keep + discard > n
  ) {
    throw new ShapeError(
      `shiftContext: keep ${keep} + discard ${discard} must be integers within the ${n} cached ` +
        `positions (discard >= 1).`,
    );
  }
  const cfg = model.config;
  if (keep + discard < n) {
    for (let l = 0; l < cfg.layers; l++) {
      const r = layerRope(model.weights, cfg, l, cache.size);
      const k = cache.readRows(l, "k", keep + discard, n);
      rerope(cfg, k, -discard, r.base, r.scale, r.freqs);
      cache.writeRows(l, "k", keep, k);
      cache.writeRows(l, "v", keep, cache.readRows(l, "v", keep + discard, n));
    }
  }
  cache.length = n - discard;
}
