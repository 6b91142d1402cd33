/**
 * GEMM on tensors in the WASM heap: C = A·B for f32 and f64, batched, with A and B read in place
 * through any strides (transposed, sliced, flipped, broadcast batch views) and C contiguous.
 *
 * @module
 */
import type { TensorView } from "../../core/backend/plugin.ts";
import type { HostStorage } from "../../core/backend/host.ts";
import { stridedOffsets } from "../../core/shape.ts";
import { sizeOf } from "../../core/shape.ts";
import { loadRuntime } from "../cpu/runtime.ts";
import { runJob, wasmThreads } from "../cpu/pool.ts";

/** int32 fields of the job struct (backends/cpu/src/gemm.c `job_t`). */
const F = {
  dtype: 0,
  m: 1,
  n: 2,
  k: 3,
  nbatch: 4,
  rsa: 5,
  csa: 6,
  rsb: 7,
  csb: 8,
  a: 9,
  b: 10,
  c: 11,
  aoffs: 12,
  boffs: 13,
  bslots: 14,
  mslots: 15,
  nslots: 16,
  next: 17,
  done: 18,
} as const;
const JOB_BYTES = 128;
/** A claim counter no job reaches: the job is closed while its fields are rewritten. */
const CLOSED = 0x40000000;
/** Below this many multiply-adds a job runs on the calling thread only (waking costs ~50 µs). */
const PARALLEL_MIN_MACS = 1 << 20;

/** Batch entries per slot are balanced over up to this many slots per thread. */
const BATCH_SLOTS_PER_THREAD = 4;
/** The fewest rows (columns) a slot of one matrix gets. */
const MIN_SLOT_EXTENT = 64;

let jobPtr = -1;

function job(): number {
  if (jobPtr < 0) {
    const r = loadRuntime().heap.alloc(JOB_BYTES, true);
    if (!r) throw new RangeError("wasm: cannot reserve the GEMM job block");
    jobPtr = r.byteOffset;
  }
  return jobPtr;
}

/** Whether `t`'s storage lives in the WASM heap (so kernels can address it in place). */
export function inWasmHeap(t: TensorView): boolean {
  const rt = loadRuntime();
  const s = t.storage as HostStorage;
  return s.allocator === rt.heap;
}

/** Byte address of `t`'s first element. */
function address(t: TensorView, bytes: number): number {
  return (t.storage as HostStorage).byteOffset + t.offset * bytes;
}

/**
 * out (...batch, m, n) = a (...batch, m, k) · b (...batch, k, n): all three f32 or all f64, all
 * in the WASM heap, the batch shapes equal (broadcast batch axes have stride 0), `out`
 * contiguous. Uses up to {@link wasmThreads} threads.
 */
export function gemm(a: TensorView, b: TensorView, out: TensorView): void {
  const r = a.ndim;
  const m = a.shape[r - 2], k = a.shape[r - 1], n = b.shape[r - 1];
  const batch = a.shape.slice(0, r - 2);
  const nbatch = sizeOf(batch);
  if (nbatch * m * n === 0) return;
  const es = a.dtype === "f64" ? 8 : 4;
  gemmRaw({
    es,
    m,
    n,
    k,
    nbatch,
    rsa: a.strides[r - 2],
    csa: a.strides[r - 1],
    rsb: b.strides[r - 2],
    csb: b.strides[r - 1],
    a: address(a, es),
    b: address(b, es),
    c: address(out, es),
    aoffs: nbatch > 1 ? stridedOffsets(batch, a.strides.slice(0, r - 2), 0) : null,
    boffs: nbatch > 1 ? stridedOffsets(batch, b.strides.slice(0, r - 2), 0) : null,
  });
}

/** A GEMM on raw heap addresses: what {@link gemmRaw} multiplies. */
export interface GemmArgs {
  /** Element bytes: 4 (f32) or 8 (f64). */
  es: 4 | 8;
  /** C is m×n, A m×k, B k×n. */
  m: number;
  n: number;
  k: number;
  /** Matrices in the batch; C of entry i starts at c + i·m·n elements. */
  nbatch: number;
  /** Element strides of A and B (signed). */
  rsa: number;
  csa: number;
  rsb: number;
  csb: number;
  /** Byte addresses of entry 0's A, B and C. */
  a: number;
  b: number;
  c: number;
  /** Element offsets of each entry's A and B from `a` / `b` (needed when nbatch > 1). */
  aoffs: ArrayLike<number> | null;
  boffs: ArrayLike<number> | null;
}

/** C = A·B for each batch entry, on heap addresses (C contiguous, row stride n). */
export function gemmRaw(g: GemmArgs): void {
  const rt = loadRuntime();
  const { es, m, n, k, nbatch } = g;
  if (nbatch * m * n === 0) return;
  const ptr = job();
  let offs: { byteOffset: number } | null = null;
  if (nbatch > 1) {
    offs = rt.heap.alloc(nbatch * 8, true);
    if (!offs) throw new RangeError("wasm: cannot reserve batch offsets");
    const o = new Int32Array(rt.memory.buffer, offs.byteOffset, 2 * nbatch);
    o.set(g.aoffs!, 0);
    o.set(g.boffs!, nbatch);
  }
  const w = new Int32Array(rt.memory.buffer, ptr, JOB_BYTES / 4);
  Atomics.store(w, F.next, CLOSED);
  try {
    const threads = m * n * k * nbatch >= PARALLEL_MIN_MACS ? wasmThreads() : 1;
    const [bslots, mslots, nslots] = partition(nbatch, m, n, threads);
    w[F.dtype] = es === 8 ? 1 : 0;
    w[F.m] = m;
    w[F.n] = n;
    w[F.k] = k;
    w[F.nbatch] = nbatch;
    w[F.rsa] = g.rsa;
    w[F.csa] = g.csa;
    w[F.rsb] = g.rsb;
    w[F.csb] = g.csb;
    w[F.a] = g.a;
    w[F.b] = g.b;
    w[F.c] = g.c;
    w[F.aoffs] = offs ? offs.byteOffset : 0;
    w[F.boffs] = offs ? offs.byteOffset + nbatch * 4 : 0;
    w[F.bslots] = bslots;
    w[F.mslots] = mslots;
    w[F.nslots] = nslots;
    Atomics.store(w, F.done, 0);
    Atomics.store(w, F.next, 0); // opens the job (orders the plain writes above before it)
    const slots = bslots * mslots * nslots;
    runJob(ptr, slots, Math.min(threads, slots) - 1, (ptr >>> 2) + F.done);
  } finally {
    if (offs) rt.heap.free(offs.byteOffset);
  }
}

/**
 * Cut the work into slots: whole batch entries when there are at least as many as threads (a few
 * slots per thread, for balance), else one row (or, for wide matrices, column) block of each
 * matrix per thread. Row blocks each pack the whole of B, so finer row slots cost more packing
 * than they win in balance (measured: 4 slots per thread lost ~10% at 1024² on 2 threads).
 */
function partition(
  nbatch: number,
  m: number,
  n: number,
  threads: number,
): [number, number, number] {
  if (threads <= 1) return [1, 1, 1];
  if (nbatch >= threads) return [Math.min(nbatch, BATCH_SLOTS_PER_THREAD * threads), 1, 1];
  const per = Math.ceil(threads / nbatch);
  const parts = Math.max(1, Math.min(per, Math.floor(Math.max(m, n) / MIN_SLOT_EXTENT)));
  return m >= n ? [nbatch, parts, 1] : [nbatch, 1, parts];
}
