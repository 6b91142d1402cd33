/**
 * The host heap in WebAssembly linear memory: a {@link HostAllocator} over one shared
 * `WebAssembly.Memory` (at most 65536 pages = 4 GiB), so that every CPU tensor allocated while it
 * is installed can be handed to a WASM kernel (or an FFI call) in place, by its byte offset.
 *
 * Blocks are 64-byte aligned. Small blocks (up to 32 KiB) are recycled through exact size-class
 * free lists; larger blocks come from a first-fit over power-of-two bins of free ranges that
 * coalesce with their neighbours on free, and a free range that reaches the top of the heap is
 * given back to it. The memory grows (geometrically, page-granular) when the top passes its end;
 * when 4 GiB (or the configured `maxPages`) would be exceeded `alloc` returns null, and the host
 * falls back to a standalone ArrayBuffer for that tensor (which the WASM kernels then decline, so
 * the OpenBLAS or scalar backend runs it), or throws a DeviceError naming the limits when that
 * fails too (core/backend/host.ts; the policy: docs/ARCHITECTURE.md, "CPU memory").
 *
 * @module
 */
import type { HostAllocator } from "../../core/backend/host.ts";

const ALIGN = 64;
const PAGE = 65536;
const MAX_PAGES = 65536;
const SMALL_MAX = 32768;

/** What {@link WasmHeap.stats} reports. */
export interface HeapStats {
  /** Bytes of linear memory (the heap never shrinks it). */
  memoryBytes: number;
  /** First byte the allocator manages. */
  base: number;
  /** End of the highest block ever carved and not given back. */
  top: number;
  /** Bytes in live blocks (rounded up to 64). */
  liveBytes: number;
  /** Live blocks. */
  liveBlocks: number;
  /** Bytes in free blocks below the top (size-class lists and coalesced ranges). */
  freeBytes: number;
}

/** A 64-byte-aligned allocator over a growable shared `WebAssembly.Memory`. */
export class WasmHeap implements HostAllocator {
  /** Shown by `memory()`. */
  readonly name = "wasm";
  /** Live blocks: offset → rounded size. */
  #live = new Map<number, number>();
  #liveBytes = 0;
  /** Free small blocks by rounded size. */
  #small = new Map<number, number[]>();
  #smallBytes = 0;
  /** Coalescing free ranges: start → size, end → start, and bins by floor(log2(size)). */
  #freeStart = new Map<number, number>();
  #freeEnd = new Map<number, number>();
  #bins: Set<number>[] = Array.from({ length: 33 }, () => new Set<number>());
  #rangeBytes = 0;
  #top: number;

  /**
   * Manage `memory` from byte `base` up.
   *
   * @param memory the shared linear memory (its maximum bounds the heap)
   * @param base first byte to hand out (after the module's stack and data)
   * @param maxPages the memory's maximum size in pages
   * @param zeroBytes zeroes a range natively (the module's `memory.fill`), else the host does it
   */
  constructor(
    readonly memory: WebAssembly.Memory,
    readonly base: number,
    readonly maxPages: number = MAX_PAGES,
    zeroBytes?: (byteOffset: number, byteLength: number) => void,
    reserveBytes?: number,
  ) {
    if (zeroBytes) this.zero = zeroBytes;
    this.#top = roundUp(base, ALIGN);
    this.reserveBytes = reserveBytes ?? 0;
  }

  /**
   * Bytes at the top of the heap that only the runtime's own blocks (`alloc(n, true)`: the pool's
   * control block, thread stacks and GEMM scratch, job blocks, kernel tables) may take, so that
   * kernels still run on the tensors of a heap that tensors have filled (the runtime's heap: 64
   * MiB, or half of a smaller heap; default 0).
   */
  readonly reserveBytes: number;

  /** The most bytes the heap can span (its memory's maximum: 4 GiB for wasm32). */
  get limitBytes(): number {
    return this.maxPages * PAGE;
  }

  /** Zero a range of the heap (set from the module's `memory.fill` when available). */
  zero?: (byteOffset: number, byteLength: number) => void;

  /**
   * Reserve `byteLength` bytes (64-byte aligned); null when they would pass `limitBytes` less
   * `reserveBytes` (or `limitBytes` itself for the runtime's own blocks, `runtime` true).
   */
  alloc(
    byteLength: number,
    runtime = false,
  ): { memory: WebAssembly.Memory; byteOffset: number } | null {
    const size = roundUp(Math.max(byteLength, 1), ALIGN);
    const ceiling = this.limitBytes - (runtime ? 0 : this.reserveBytes);
    let off: number | null = (size <= SMALL_MAX ? this.#small.get(size)?.pop() : undefined) ??
      null;
    if (off !== null) this.#smallBytes -= size;
    else {
      off = this.#takeRange(size, ceiling) ?? this.#extend(size, ceiling);
      if (off === null) {
        this.#releaseSmall(); // last resort: coalesce the size-class lists and retry
        off = this.#takeRange(size, ceiling) ?? this.#extend(size, ceiling);
        if (off === null) return null;
      }
    }
    this.#live.set(off, size);
    this.#liveBytes += size;
    return { memory: this.memory, byteOffset: off };
  }

  /** Give back a block from `alloc` (the length is known; `byteLength` is not trusted). */
  free(byteOffset: number, _byteLength?: number): void {
    const size = this.#live.get(byteOffset);
    if (size === undefined) return; // not ours, or freed twice: nothing to do
    this.#live.delete(byteOffset);
    this.#liveBytes -= size;
    if (size <= SMALL_MAX) {
      let list = this.#small.get(size);
      if (!list) this.#small.set(size, list = []);
      list.push(byteOffset);
      this.#smallBytes += size;
    } else this.#freeRange(byteOffset, size);
  }

  /** Whether `byteOffset` starts a live block of this heap. */
  owns(byteOffset: number): boolean {
    return this.#live.has(byteOffset);
  }

  /** Sizes and counters, for tests and `wasmHeapStats()`. */
  stats(): HeapStats {
    return {
      memoryBytes: this.memory.buffer.byteLength,
      base: this.base,
      top: this.#top,
      liveBytes: this.#liveBytes,
      liveBlocks: this.#live.size,
      freeBytes: this.#smallBytes + this.#rangeBytes,
    };
  }

  #takeRange(size: number, ceiling: number): number | null {
    for (let b = binOf(size); b < this.#bins.length; b++) {
      for (const start of this.#bins[b]) {
        const have = this.#freeStart.get(start)!;
        if (have < size || start + size > ceiling) continue;
        this.#unlinkRange(start, have);
        if (have > size) this.#linkRange(start + size, have - size);
        return start;
      }
    }
    return null;
  }

  #extend(size: number, ceiling: number): number | null {
    const start = this.#top, end = start + size;
    if (end > ceiling) return null;
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      const maxBytes = this.maxPages * PAGE;
      // Grow by at least an eighth of the heap so that a stream of allocations grows it rarely.
      const want = Math.min(maxBytes, Math.max(end, have + Math.floor(have / 8)));
      const pages = Math.ceil((want - have) / PAGE);
      try {
        this.memory.grow(pages);
      } catch {
        try {
          this.memory.grow(Math.ceil((end - have) / PAGE));
        } catch {
          return null;
        }
      }
    }
    this.#top = end;
    return start;
  }

  #freeRange(start: number, size: number): void {
    const before = this.#freeEnd.get(start);
    if (before !== undefined) {
      const bsize = this.#freeStart.get(before)!;
      this.#unlinkRange(before, bsize);
      start = before;
      size += bsize;
    }
    const after = this.#freeStart.get(start + size);
    if (after !== undefined) {
      this.#unlinkRange(start + size, after);
      size += after;
    }
    if (start + size === this.#top) this.#top = start; // back to the wilderness
    else this.#linkRange(start, size);
  }

  #releaseSmall(): void {
    for (const [size, list] of this.#small) for (const off of list) this.#freeRange(off, size);
    this.#small.clear();
    this.#smallBytes = 0;
  }

  #linkRange(start: number, size: number): void {
    this.#freeStart.set(start, size);
    this.#freeEnd.set(start + size, start);
    this.#bins[binOf(size)].add(start);
    this.#rangeBytes += size;
  }

  #unlinkRange(start: number, size: number): void {
    this.#freeStart.delete(start);
    this.#freeEnd.delete(start + size);
    this.#bins[binOf(size)].delete(start);
    this.#rangeBytes -= size;
  }
}

function roundUp(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}

function binOf(size: number): number {
  return Math.min(32, Math.floor(Math.log2(size)));
}
