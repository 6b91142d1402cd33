/**
 * Host (CPU) memory: the storage every CPU plugin works on in place.
 *
 * Each storage is a byte range in some ArrayBuffer. By default every storage gets its own
 * ArrayBuffer; a plugin that needs operands inside its own heap (WASM linear memory) installs a
 * {@link HostAllocator} with {@link setHostAllocator}, and the bytes are then addressed through the
 * heap's current buffer, so heap growth never leaves a stale view behind.
 *
 * @module
 */
import type { DeviceProvider, Storage } from "./plugin.ts";
import { DeviceError } from "../errors.ts";

/** Hands out byte ranges of host memory. */
export interface HostAllocator {
  /** Name shown by `memory()`. */
  readonly name: string;
  /** Reserve `byteLength` bytes; return the buffer holder and offset, or null if it cannot. */
  alloc(
    byteLength: number,
  ): { memory: { readonly buffer: ArrayBufferLike }; byteOffset: number } | null;
  /** Return a range obtained from `alloc`. */
  free(byteOffset: number, byteLength: number): void;
  /** Zero a range faster than the host can (e.g. WASM `memory.fill`); optional. */
  zero?(byteOffset: number, byteLength: number): void;
  /** The most bytes the allocator can ever hold (named in out-of-memory errors); optional. */
  readonly limitBytes?: number;
}

/** Host memory of one tensor storage. */
export class HostStorage implements Storage {
  /** Live tensors using it. */
  refs = 0;
  /** Set once freed. */
  freed = false;
  /**
   * Wrap a byte range of host memory.
   *
   * @param memory holder of the buffer (a WebAssembly.Memory, or a wrapper of an ArrayBuffer)
   * @param byteOffset where the bytes start in `memory.buffer`
   * @param byteLength how many bytes
   * @param allocator who to give the bytes back to, or null for a standalone ArrayBuffer
   * @param device the device name ("cpu"; another name for host-backed test devices)
   */
  constructor(
    readonly memory: { readonly buffer: ArrayBufferLike },
    readonly byteOffset: number,
    readonly byteLength: number,
    readonly allocator: HostAllocator | null,
    readonly device: string = "cpu",
  ) {}
  /** The buffer the bytes live in now (re-read on each call: a growing heap swaps buffers). */
  get buffer(): ArrayBufferLike {
    return this.memory.buffer;
  }
  /** A byte view of the whole storage. */
  bytes(): Uint8Array {
    return new Uint8Array(this.memory.buffer, this.byteOffset, this.byteLength);
  }
}

let allocator: HostAllocator | null = null;
let standaloneLimit = Number.MAX_SAFE_INTEGER;
let outsideDepth = 0;

/**
 * Install (or, with null, remove) the allocator new host storages come from; returns the one it
 * replaces.
 *
 * @example
 * ```ts
 * import { setHostAllocator } from "@aprender/compute/internal";
 * const heap = setHostAllocator(null); // new CPU tensors get standalone ArrayBuffers
 * setHostAllocator(heap); // back to the WASM heap
 * ```
 */
export function setHostAllocator(a: HostAllocator | null): HostAllocator | null {
  const previous = allocator;
  allocator = a;
  return previous;
}

/**
 * Cap one standalone host buffer (a storage outside the allocator's heap) at `bytes`; null
 * restores the default (what the runtime grants). Returns the previous cap. Beyond it, `alloc`
 * throws the same {@link DeviceError} as when the runtime refuses the buffer, so tests and
 * memory-bounded programs see the out-of-memory path without exhausting the machine.
 *
 * @example
 * ```ts
 * import { setStandaloneHostLimit } from "@aprender/compute/internal";
 * const previous = setStandaloneHostLimit(64 * 2 ** 20); // 64 MiB per buffer outside the heap
 * setStandaloneHostLimit(previous);
 * ```
 */
export function setStandaloneHostLimit(bytes: number | null): number {
  const previous = standaloneLimit;
  if (bytes !== null && !(Number.isSafeInteger(bytes) && bytes >= 0)) {
    throw new DeviceError(
      `setStandaloneHostLimit: bytes must be a non-negative safe integer or null, got ${bytes}`,
    );
  }
  standaloneLimit = bytes ?? Number.MAX_SAFE_INTEGER;
  return previous;
}

/**
 * Run `fn` with new CPU storages placed in standalone host buffers, outside the allocator's heap
 * (the memory policy for model weights, docs/ARCHITECTURE.md "CPU memory": the wasm32 heap
 * holds at most 4 GiB, so large read-only data lives beside it and leaves the heap to activations
 * and caches). Synchronous: allocations after an `await` inside `fn` are not covered.
 *
 * @example
 * ```ts
 * import { zeros } from "@aprender/compute";
 * import { HostStorage, outsideHeap } from "@aprender/compute/internal";
 * const w = outsideHeap(() => zeros([1024, 1024]));
 * console.log((w.storage as HostStorage).allocator); // null: a standalone ArrayBuffer
 * ```
 */
export function outsideHeap<T>(fn: () => T): T {
  outsideDepth++;
  try {
    return fn();
  } finally {
    outsideDepth--;
  }
}

const GiB = 2 ** 30, MiB = 2 ** 20;
function fmtBytes(n: number): string {
  return n >= GiB ? `${+(n / GiB).toFixed(2)} GiB` : `${+(n / MiB).toFixed(2)} MiB`;
}

/** A storage in its own ArrayBuffer, or a DeviceError naming the limits and what to do instead. */
function standalone(byteLength: number, device: string, heapMissed: boolean): HostStorage {
  const tooBig = (why: string) => {
    const heap = allocator && heapMissed
      ? `it does not fit in the ${allocator.name} heap (${
        allocator.limitBytes === undefined ? "full" : `at most ${fmtBytes(allocator.limitBytes)}`
      }; wasm32 memory holds 4 GiB at most)`
      : "it was placed outside the heap";
    return new DeviceError(
      `${device}: cannot allocate ${byteLength} bytes (${fmtBytes(byteLength)}) of host memory: ` +
        `${heap}, and ${why}. Hold large data as several smaller tensors (a model's weights one ` +
        "tensor each), dispose tensors no longer needed, or keep it on a GPU device.",
    );
  };
  if (byteLength > standaloneLimit) {
    throw tooBig(`one standalone host buffer is capped at ${fmtBytes(standaloneLimit)}`);
  }
  let buffer: ArrayBuffer;
  try {
    buffer = new ArrayBuffer(byteLength);
  } catch (e) {
    if (e instanceof RangeError) {
      throw tooBig(`the runtime refused a standalone ArrayBuffer that large (${e.message})`);
    }
    throw e;
  }
  return new HostStorage({ buffer }, 0, byteLength, null, device);
}

/**
 * A provider of host memory under device name `name`. "cpu" is the real one; other names give
 * host-backed devices for tests of cross-device rules without a GPU.
 */
export function createHostProvider(name: string): DeviceProvider {
  return {
    name,
    alloc(byteLength: number, zero = true): HostStorage {
      if (allocator && name === "cpu" && outsideDepth === 0) {
        const r = allocator.alloc(byteLength);
        if (r) {
          const s = new HostStorage(r.memory, r.byteOffset, byteLength, allocator);
          if (!zero) return s;
          if (allocator.zero) allocator.zero(r.byteOffset, byteLength);
          else zeroFill(s);
          return s;
        }
        return standalone(byteLength, name, true);
      }
      return standalone(byteLength, name, false);
    },
    free(storage: Storage): void {
      const s = storage as HostStorage;
      s.allocator?.free(s.byteOffset, s.byteLength);
    },
    write(storage: Storage, bytes: Uint8Array, byteOffset = 0): void {
      (storage as HostStorage).bytes().set(bytes, byteOffset);
    },
    read(storage: Storage, byteOffset = 0, byteLength?: number): Promise<Uint8Array> {
      return Promise.resolve(this.readSync!(storage, byteOffset, byteLength));
    },
    readSync(storage: Storage, byteOffset = 0, byteLength?: number): Uint8Array {
      const s = storage as HostStorage;
      const n = byteLength ?? s.byteLength - byteOffset;
      return new Uint8Array(s.buffer, s.byteOffset + byteOffset, n).slice();
    },
  };
}

/**
 * Zero a storage through the widest view its alignment allows: on a SharedArrayBuffer, V8 fills
 * a Uint8Array byte by byte (several times slower than 8-byte stores).
 */
function zeroFill(s: HostStorage): void {
  const buf = s.buffer, off = s.byteOffset, n = s.byteLength;
  const head = Math.min(n, (8 - (off % 8)) % 8);
  const words = Math.floor((n - head) / 8);
  if (head) new Uint8Array(buf, off, head).fill(0);
  if (words) new Float64Array(buf, off + head, words).fill(0);
  const done = head + words * 8;
  if (done < n) new Uint8Array(buf, off + done, n - done).fill(0);
}

/** The CPU device provider. */
export const hostProvider: DeviceProvider = createHostProvider("cpu");
