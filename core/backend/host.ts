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

/** Install (or, with null, remove) the allocator new host storages come from. */
export function setHostAllocator(a: HostAllocator | null): void {
  allocator = a;
}

/**
 * A provider of host memory under device name `name`. "cpu" is the real one; other names give
 * host-backed devices for tests of cross-device rules without a GPU.
 */
export function createHostProvider(name: string): DeviceProvider {
  return {
    name,
    alloc(byteLength: number, zero = true): HostStorage {
      if (allocator && name === "cpu") {
        const r = allocator.alloc(byteLength);
        if (r) {
          const s = new HostStorage(r.memory, r.byteOffset, byteLength, allocator);
          if (!zero) return s;
          if (allocator.zero) allocator.zero(r.byteOffset, byteLength);
          else zeroFill(s);
          return s;
        }
      }
      return new HostStorage({ buffer: new ArrayBuffer(byteLength) }, 0, byteLength, null, name);
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
