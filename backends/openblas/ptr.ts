/**
 * Raw pointers into host memory for the OpenBLAS calls.
 *
 * @module
 */
import type { TensorView } from "../../core/backend/plugin.ts";
import type { HostStorage } from "../../core/backend/host.ts";

/**
 * Start addresses of the buffers seen so far. Taking a pointer of a view costs ~0.5 µs (more than
 * a small GEMM's own work), and one buffer (the WASM heap) holds every CPU tensor; a buffer never
 * moves while it is alive (a growing non-shared memory swaps in a new buffer object: a new key).
 */
const bufferBase = new WeakMap<ArrayBufferLike, Deno.PointerObject>();

/**
 * The last buffer looked up, and its start: nearly every call is on the WASM heap's buffer (this
 * keeps one buffer reachable until another is looked up).
 */
let lastBuf: ArrayBufferLike | null = null, lastBase: Deno.PointerObject | null = null;

/** Pointer to byte `byteOffset` of `buf` (which must not be empty). */
export function bufferPtr(buf: ArrayBufferLike, byteOffset: number): Deno.PointerObject {
  let base = buf === lastBuf ? lastBase : bufferBase.get(buf);
  if (!base) {
    base = Deno.UnsafePointer.of(new Uint8Array(buf, 0, Math.min(1, buf.byteLength)))!;
    bufferBase.set(buf, base);
  }
  lastBuf = buf;
  lastBase = base;
  return Deno.UnsafePointer.offset(base, byteOffset)!;
}

/** Pointer to byte 0 of `t`'s storage (its buffer re-read now: the heap may have grown). */
export function storagePtr(t: TensorView): Deno.PointerObject {
  const s = t.storage as HostStorage;
  return bufferPtr(s.buffer, s.byteOffset);
}
