/**
 * Tensor storage of the WebGPU plugin: a pooled chunk of a GPU buffer (or, for tiny storages, bytes
 * kept on the host until a kernel binds them), and the pool's per-size FIFO.
 *
 * @module
 */
import type { Storage } from "../../core/backend/plugin.ts";
import type { GpuContext } from "./context.ts";

/**
 * A GPU buffer holding one tensor storage.
 *
 * A tiny storage (≤ {@link LAZY_MAX} bytes: 0-d tensors, such as the weak scalar operand of
 * `x.add(1)`) takes no GPU memory until a kernel binds it: a whole write keeps the bytes on the
 * host ({@link host}), and the elementwise kernels read such an operand as a kernel parameter.
 * Anything that needs its buffer ({@link chunk}, {@link buffer}, {@link base}) places it on the
 * GPU first, its host bytes uploaded.
 */
export class GpuStorage implements Storage {
  /** Always "gpu". */
  readonly device = "gpu";
  /** Live tensors using it. */
  refs = 0;
  /** Set once freed. */
  freed = false;
  /** The buffer came from the pool and its bytes are stale (zero-filled on first need). */
  dirty = false;
  /** Flush interval in which a command last referenced the buffer. */
  interval: number = -1;
  /**
   * The bytes of a storage not yet placed on the GPU, as little-endian u32 words in a plain array
   * (a typed array costs ~0.5 µs to allocate in Deno, per op); null: zeros, or placed.
   */
  host: number[] | null = null;
  #chunk: Chunk | null;
  #ctx: GpuContext | null;
  /**
   * Wrap a pooled chunk, or (`chunk` null) a tiny storage placed on first use by `ctx`.
   *
   * @param chunk the pooled chunk (its size may exceed byteLength: pooled by size class)
   * @param byteLength bytes the tensor uses
   * @param ctx the context that places a lazy storage
   */
  constructor(chunk: Chunk | null, readonly byteLength: number, ctx: GpuContext | null = null) {
    this.#chunk = chunk;
    this.#ctx = ctx;
  }
  /** Whether the storage has GPU memory yet. */
  get placed(): boolean {
    return this.#chunk !== null;
  }
  /** The pooled chunk (placing a lazy storage on the GPU). */
  get chunk(): Chunk {
    return this.#chunk ?? this.#place();
  }
  /** The GPU buffer holding the bytes. */
  get buffer(): GPUBuffer {
    return this.chunk.buffer;
  }
  /** Byte offset of the storage in its buffer (a multiple of 16). */
  get base(): number {
    return this.chunk.base;
  }
  #place(): Chunk {
    const ctx = this.#ctx!;
    const { chunk, dirty } = ctx.acquire(this.byteLength);
    this.#chunk = chunk;
    const host = this.host;
    this.host = null;
    // Zeros unless written: a reused chunk is cleaned lazily like any pooled one.
    this.dirty = dirty;
    if (host) ctx.upload(this, new Uint8Array(Uint32Array.from(host).buffer), 0);
    return chunk;
  }
}

/** Storages up to this many bytes stay on the host until a kernel binds them (see GpuStorage). */
export const LAZY_MAX = 16;

/** A piece of a GPU buffer: a whole buffer, or a slot of a slab shared by small storages. */
export interface Chunk {
  /** The buffer. */
  readonly buffer: GPUBuffer;
  /** Byte offset in it (a multiple of 16). */
  readonly base: number;
  /** Size class in bytes. */
  readonly size: number;
}

/** Buffers of one size class, handed out in the order they were returned (so a repeated
 * sequence of ops meets the same buffers again, and its bind groups stay cached). */
export class Fifo {
  #items: Chunk[] = [];
  #head = 0;
  push(b: Chunk): void {
    this.#items.push(b);
  }
  pop(): Chunk | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const b = this.#items[this.#head++];
    if (this.#head > 64 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return b;
  }
  drain(f: (b: Chunk) => void): void {
    for (let i = this.#head; i < this.#items.length; i++) f(this.#items[i]);
    this.#items = [];
    this.#head = 0;
  }
}

export function padded(bytes: Uint8Array, n: number): Uint8Array<ArrayBuffer> {
  const p = new Uint8Array(n);
  p.set(bytes);
  return p;
}
