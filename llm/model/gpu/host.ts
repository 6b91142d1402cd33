/**
 * Host-side helpers of the GPU decoder (llm/model/gpu/decoder.ts): the embedding table and RoPE
 * table uploads, and the per-kernel GPU-time profile of a step.
 *
 * @module
 */
import { byteOffset, type StorageDType } from "../../../core/dtype.ts";
import { DeviceError, DTypeError, ShapeError } from "../../../core/errors.ts";
import {
  chunkOf,
  QUANT_LINEAR_TYPES,
  quantLinearCode,
  quantLinearSimpleCode,
  RPW,
} from "../../../backends/runtime.ts";
import type { Tensor } from "../../../core/tensor.ts";
import type { ModelConfig } from "../config.ts";
import type { GpuSampling } from "./sample.ts";
import { decodeRow } from "../weights.ts";

/**
 * A dispatch being planned (its bind group is made once the parameter buffer is written).
 *
 * @example
 * ```ts ignore
 * // made by GpuDecoder's planner; its bind group is created once the parameters are written
 * ```
 */
export interface Planned {
  name: string;
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  entries: GPUBindGroupEntry[];
  prm: number;
  x: number;
  y: number;
  /** Prompt rows per workgroup along y (the grid's y is ⌈rows / per⌉); 0: y is fixed. */
  per: number;
}

/**
 * Options of `GpuDecoder.generate`.
 *
 * @example
 * ```ts ignore
 * const o: GpuGenerateOptions = { stop: [2], maxBatch: 32 };
 * ```
 */
export interface GpuGenerateOptions {
  /** Token ids that end the generation (not returned). */
  stop?: readonly number[];
  /** Called with each batch of new ids as it is read back; returning `true` stops after it. */
  onTokens?: (ids: number[]) => unknown;
  /** Largest number of steps per readback (default 64). */
  maxBatch?: number;
  /** Seeded sampling on the GPU instead of greedy (llm/model/gpu/sample.ts; draws from 0). */
  sampling?: GpuSampling;
}

/**
 * Options of `GpuDecoder.create`: which prompt kernels (defaults: the fastest that fit).
 *
 * @example
 * ```ts ignore
 * const o: GpuDecoderOptions = { prefill: "matvec", flash: false }; // the previous kernels
 * ```
 */
export interface GpuDecoderOptions {
  /**
   * Prompt matmuls: "tiled" (prefill.ts, 64 × 64 tiles, chunks of 512 positions; the default on
   * hardware adapters) or "matvec" (the coalesced matvec over 8 rows, chunks of 32).
   */
  prefill?: "tiled" | "matvec";
  /** Prompt attention as tiled flash attention (prefill.ts; default where it fits). */
  flash?: boolean;
  /**
   * Positions per prompt chunk on the tiled path (a multiple of 64; default 512: on the H200 a
   * 1000-token prompt ran at 7178 tok/s against 6577 in chunks of 256, a 257-token one the same).
   */
  chunk?: number;
}

/**
 * One recorded dispatch of a step.
 *
 * @example
 * ```ts ignore
 * pass.setPipeline(d.pipeline); pass.setBindGroup(0, d.group, [d.prm, pos * 256]);
 * ```
 */
export interface Dispatch {
  name: string;
  pipeline: GPUComputePipeline;
  group: GPUBindGroup;
  prm: number;
  x: number;
  y: number;
  /** Prompt rows per workgroup along y (the grid's y is ⌈rows / per⌉); 0: y is fixed. */
  per: number;
}

/**
 * GPU time of one decode step, per kernel.
 *
 * @example
 * ```ts ignore
 * const p: StepProfile = await decoder.profile();
 * console.log(p.total / 1e6, "ms");
 * ```
 */
export interface StepProfile {
  /** Nanoseconds per kernel name, summed over its dispatches in the step. */
  ns: Record<string, number>;
  /** Dispatches per kernel name. */
  count: Record<string, number>;
  /** Sum over all kernels, in nanoseconds. */
  total: number;
}

/**
 * Decode the embedding `emb` [vocab, dim] (any storage type) to f32 into GPU buffer `E`.
 *
 * @example
 * ```ts ignore
 * uploadEmbedding(device, buffer, weights.embed, cfg.dim, cfg.vocab);
 * ```
 */
export function uploadEmbedding(
  dev: GPUDevice,
  E: GPUBuffer,
  emb: Tensor<StorageDType>,
  dim: number,
  vocab: number,
): void {
  {
    const rows = Math.max(1, Math.floor((1 << 24) / dim));
    const bytes = emb.bytesSync();
    const per = byteOffset(emb.dtype, dim);
    for (let r0 = 0; r0 < vocab; r0 += rows) {
      const n = Math.min(rows, vocab - r0);
      const out = new Float32Array(n * dim);
      for (let r = 0; r < n; r++) {
        const at = (r0 + r) * per;
        decodeRow(
          emb.dtype,
          bytes.subarray(at, at + per),
          out.subarray(r * dim, (r + 1) * dim),
        );
      }
      dev.queue.writeBuffer(E, r0 * dim * 4, out);
    }
  }
}

/**
 * cos and sin of every position below `ctx` and rotated pair, computed like the CPU forward's
 * tables: t[(p · half + i) · 2 + {0, 1}].
 *
 * @example
 * ```ts ignore
 * const tab = ropeTable(cfg, 512, weights.ropeFreqs);
 * ```
 */
export function ropeTable(
  cfg: ModelConfig,
  ctx: number,
  freqs: Float32Array | null,
): Float32Array<ArrayBuffer> {
  const half = cfg.ropeDims / 2;
  const t = new Float32Array(ctx * half * 2);
  for (let p = 0; p < ctx; p++) {
    for (let i = 0; i < half; i++) {
      let theta = p * cfg.ropeScale * Math.pow(cfg.ropeBase, (-2 * i) / cfg.ropeDims);
      if (freqs) theta /= freqs[i];
      t[(p * half + i) * 2] = Math.cos(theta);
      t[(p * half + i) * 2 + 1] = Math.sin(theta);
    }
  }
  return t;
}

/**
 * GPU time of `list`'s dispatches (each in its own pass with timestamp queries; step offset
 * `stepOff`), summed per kernel name. Needs the `timestamp-query` feature.
 *
 * @example
 * ```ts ignore
 * const prof = await profileDispatches(device, dispatches, 0);
 * console.log(prof.total); // nanoseconds
 * ```
 */
export async function profileDispatches(
  dev: GPUDevice,
  list: Dispatch[],
  stepOff: number,
): Promise<StepProfile> {
  if (!dev.features.has("timestamp-query")) {
    throw new DeviceError("GpuDecoder.profile: the device lacks timestamp-query.");
  }
  const n = list.length * 2;
  const set = dev.createQuerySet({ type: "timestamp", count: n });
  const resolve = dev.createBuffer({ size: n * 8, usage: 0x200 | 0x4 });
  const read = dev.createBuffer({ size: n * 8, usage: 0x1 | 0x8 });
  const enc = dev.createCommandEncoder();
  list.forEach((d, i) => {
    const pass = enc.beginComputePass({
      timestampWrites: {
        querySet: set,
        beginningOfPassWriteIndex: 2 * i,
        endOfPassWriteIndex: 2 * i + 1,
      },
    });
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.group, [d.prm, stepOff]);
    pass.dispatchWorkgroups(d.x, d.y);
    pass.end();
  });
  enc.resolveQuerySet(set, 0, n, resolve, 0);
  enc.copyBufferToBuffer(resolve, 0, read, 0, n * 8);
  dev.queue.submit([enc.finish()]);
  await read.mapAsync(1);
  const t = new BigUint64Array(read.getMappedRange().slice(0));
  read.unmap();
  const prof: StepProfile = { ns: {}, count: {}, total: 0 };
  list.forEach((d, i) => {
    const ns = Number(t[2 * i + 1] - t[2 * i]);
    prof.ns[d.name] = (prof.ns[d.name] ?? 0) + ns;
    prof.count[d.name] = (prof.count[d.name] ?? 0) + 1;
    prof.total += ns;
  });
  set.destroy();
  resolve.destroy();
  read.destroy();
  return prof;
}

/**
 * GPU and host time of `n` steps recorded by `record` into one compute pass with timestamps at its
 * beginning and end: `gpuNs` is the pass's GPU time, `hostMs` the time `record` took.
 *
 * @example
 * ```ts ignore
 * const t = await timePass(device, (pass) => { for (let i = 0; i < 16; i++) step(pass, i); });
 * ```
 */
export async function timePass(
  dev: GPUDevice,
  record: (pass: GPUComputePassEncoder) => void,
): Promise<{ gpuNs: number; hostMs: number }> {
  if (!dev.features.has("timestamp-query")) {
    throw new DeviceError("GpuDecoder.timeSteps: the device lacks timestamp-query.");
  }
  const set = dev.createQuerySet({ type: "timestamp", count: 2 });
  const resolve = dev.createBuffer({ size: 16, usage: 0x200 | 0x4 });
  const read = dev.createBuffer({ size: 16, usage: 0x1 | 0x8 });
  const enc = dev.createCommandEncoder();
  const pass = enc.beginComputePass({
    timestampWrites: { querySet: set, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 },
  });
  const t0 = performance.now();
  record(pass);
  const hostMs = performance.now() - t0;
  pass.end();
  enc.resolveQuerySet(set, 0, 2, resolve, 0);
  enc.copyBufferToBuffer(resolve, 0, read, 0, 16);
  dev.queue.submit([enc.finish()]);
  await read.mapAsync(1);
  const t = new BigUint64Array(read.getMappedRange().slice(0));
  read.unmap();
  set.destroy();
  resolve.destroy();
  read.destroy();
  return { gpuNs: Number(t[1] - t[0]), hostMs };
}

/**
 * Checks a `GpuDecoder.generate` request: a non-empty prompt of ids in [0, vocab), maxTokens
 * an integer ≥ 1, and room in the cache (`start` cached of `ctx`); ShapeError otherwise.
 *
 * @example
 * ```ts ignore
 * checkRequest([1, 2], 8, 32000, 0, 512); // ok
 * ```
 */
export function checkRequest(
  prompt: readonly number[],
  maxTokens: number,
  vocab: number,
  start: number,
  ctx: number,
): void {
  if (prompt.length === 0) throw new ShapeError("GpuDecoder.generate: the prompt is empty.");
  if (!Number.isInteger(maxTokens) || maxTokens < 1) {
    throw new ShapeError(
      `GpuDecoder.generate: maxTokens must be an integer ≥ 1, got ${maxTokens}.`,
    );
  }
  for (const id of prompt) {
    if (!Number.isInteger(id) || id < 0 || id >= vocab) {
      throw new ShapeError(`GpuDecoder.generate: token id ${id} is outside [0, ${vocab}).`);
    }
  }
  const steps = prompt.length + maxTokens - 1;
  if (start + steps > ctx) {
    throw new ShapeError(
      `GpuDecoder.generate: ${start} cached + ${prompt.length} prompt + ${maxTokens} new ` +
        `tokens exceed the context of ${ctx}.`,
    );
  }
}

/**
 * The WebGPU plugin's quantLinear kernel as a decoder dispatch (software adapters, shapes the
 * coalesced matvec does not take): name, WGSL, prm words and grid for weight `wt` at byte `base`
 * of its buffer, `rows` activation rows, output at element `yOff` (`acc`: added to Y).
 *
 * @example
 * ```ts ignore
 * const m = plainMatvec(w.layers[0].down, 0, 1, false, true, 0);
 * ```
 */
export function plainMatvec(
  wt: Tensor<StorageDType>,
  base: number,
  rows: number,
  simple: boolean,
  acc: boolean,
  yOff: number,
): { name: string; code: string; prm: number[]; x: number; y: number } {
  if (!QUANT_LINEAR_TYPES.includes(wt.dtype)) {
    throw new DTypeError(
      `GpuDecoder: weights of type ${wt.dtype} have no GPU matvec yet (supported: ` +
        `${QUANT_LINEAR_TYPES.join(", ")}). Hint: requantize with quantizeGguf, or use the CPU.`,
    );
  }
  const [n, k] = wt.shape;
  const vec = wt.dtype === "f16" || wt.dtype === "bf16"
    ? k % 8 === 0 && base % 4 === 0
    : wt.dtype === "f32"
    ? k % 4 === 0
    : true;
  const per = chunkOf(wt.dtype, vec).per;
  return {
    name: `matvec ${wt.dtype}${acc ? " +=" : ""}`,
    code: simple
      ? quantLinearSimpleCode(wt.dtype, "www", acc)
      : quantLinearCode(wt.dtype, vec, k % 4 === 0, "www", acc),
    prm: [rows, n, k, 0, base, yOff, byteOffset(wt.dtype, k), Math.ceil(k / per)],
    x: Math.ceil(n / (simple ? 64 : RPW)),
    y: simple ? rows : Math.ceil(rows / 8),
  };
}

/**
 * Throws a DeviceError when a dispatch would bind a buffer over the adapter's
 * maxStorageBufferBindingSize or exceed its workgroup grid (WebGPU would otherwise reject the bind
 * group or dispatch with a validation error and the step would silently compute nothing).
 *
 * @example
 * ```ts ignore
 * checkDispatch(device, "embed", [E, H, ids], 8, 1);
 * ```
 */
export function checkDispatch(
  dev: GPUDevice,
  name: string,
  bufs: GPUBuffer[],
  x: number,
  y: number,
): void {
  const lim = dev.limits.maxStorageBufferBindingSize;
  for (const b of bufs) {
    if (b.size > lim) {
      throw new DeviceError(
        `GpuDecoder: ${name} binds a ${b.size}-byte buffer, over this adapter's ` +
          `maxStorageBufferBindingSize ${lim}. Hint: a smaller model, or run it on the CPU.`,
      );
    }
  }
  const g = dev.limits.maxComputeWorkgroupsPerDimension;
  if (x > g || y > g) {
    throw new DeviceError(
      `GpuDecoder: ${name} needs a ${x} × ${y} grid, over this adapter's ${g} per dimension. ` +
        `Hint: a smaller model, or run it on the CPU.`,
    );
  }
}

/**
 * Norm weights `norms` (each [dim]) as f32 in one buffer from `alloc`, each at a multiple of 4
 * words (the fused matvec reads vec4); `at` maps a norm to its word offset.
 *
 * @example
 * ```ts ignore
 * const { buffer, at } = await uploadNorms(device, [w.norm], cfg.dim, alloc);
 * ```
 */
export async function uploadNorms(
  dev: GPUDevice,
  norms: Tensor[],
  dim: number,
  alloc: (bytes: number) => GPUBuffer,
): Promise<{ buffer: GPUBuffer; at: Map<Tensor, number> }> {
  const dim4 = Math.ceil(dim / 4) * 4;
  const buffer = alloc(norms.length * dim4 * 4);
  const at = new Map<Tensor, number>();
  for (let i = 0; i < norms.length; i++) {
    const v = await norms[i].astype("f32").data() as Float32Array;
    dev.queue.writeBuffer(buffer, i * dim4 * 4, Float32Array.from(v));
    at.set(norms[i], i * dim4);
  }
  return { buffer, at };
}

/**
 * Weights of the coalesced matvec and the tiled matmul: the bytes of a group of tensors back to
 * back in one buffer from `alloc`, made once per group (the returned function caches by identity).
 *
 * @example
 * ```ts ignore
 * const rawOf = rawWeights(device, alloc);
 * const qkv = rawOf([L.wq, L.wk, L.wv]);
 * ```
 */
export function rawWeights(
  dev: GPUDevice,
  alloc: (bytes: number) => GPUBuffer,
): (ts: Tensor<StorageDType>[]) => GPUBuffer {
  const raw = new Map<string, GPUBuffer>();
  const ids = new Map<object, number>();
  return (ts) => {
    const key = ts.map((t) => ids.get(t) ?? ids.set(t, ids.size).get(t)).join(",");
    let b = raw.get(key);
    if (!b) {
      const parts = ts.map((t) => t.bytesSync());
      const all = new Uint8Array(Math.ceil(parts.reduce((s, p) => s + p.length, 0) / 4) * 4);
      let at = 0;
      for (const p of parts) {
        all.set(p, at);
        at += p.length;
      }
      b = alloc(all.length);
      dev.queue.writeBuffer(b, 0, all);
      raw.set(key, b);
    }
    return b;
  };
}

/**
 * `n` when it is a positive multiple of 64 (the tiled prompt matmul's rows per tile), else a
 * ShapeError.
 *
 * @example
 * ```ts ignore
 * chunkRows(512); // 512
 * ```
 */
export function chunkRows(n: number): number {
  if (!Number.isInteger(n) || n < 64 || n % 64 !== 0) {
    throw new ShapeError(`GpuDecoder: chunk ${n} must be a positive multiple of 64.`);
  }
  return n;
}
