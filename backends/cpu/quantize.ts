/**
 * Quantize jobs of the CPU runtime's WASM module (src/quantize.c) on raw heap addresses: f32
 * values into ggml blocks with llama.cpp's reference quantizers, blocks spread over the pool.
 *
 * @module
 */
import { beginJob, KIND, plan, runPar, W } from "./jobs.ts";

/** ggml type ids src/quantize.c quantizes: the legacy 32-blocks, Q2_K … Q8_K and IQ4_XS. */
export const WASM_QUANT_TYPES: ReadonlySet<number> = new Set([
  2,
  3,
  6,
  7,
  8,
  9,
  10,
  11,
  12,
  13,
  14,
  15,
  23,
]);

/**
 * Elements from which the pool is used: a block costs ~0.1 µs (Q8_0) to ~30 µs (Q4_K), so
 * even small tensors pay for a wake-up.
 */
const PAR_MIN = 1 << 13;

/**
 * Quantize `nblocks` blocks of ggml type `ggml` (of `blockSize` elements) from the f32 values at
 * heap address `src` into the packed blocks at `dst`.
 */
export function runQuantize(
  ggml: number,
  blockSize: number,
  nblocks: number,
  dst: number,
  src: number,
): void {
  if (nblocks === 0) return;
  const v = beginJob(KIND.quantize);
  const w = v.i32;
  w[W.op] = ggml;
  w[W.total] = nblocks;
  w[W.ptr] = dst;
  w[W.ptr + 1] = src;
  const p = plan(nblocks * blockSize, PAR_MIN);
  runPar(v, p.slots, p.threads);
}
