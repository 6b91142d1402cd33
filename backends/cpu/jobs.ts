/**
 * The job block of the non-GEMM kernels (`pjob_t`, whose layout abi.ts lists for C and TS), helpers to address tensors in the heap, and scratch tables in the heap.
 *
 * One block is reused by every job (calls are synchronous on the calling thread): it is closed
 * (its claim counter set past any slot) while its fields are rewritten, then opened, exactly like
 * the GEMM job, so a worker that wakes late never runs a half-written job.
 *
 * @module
 */
import type { TensorView } from "../../core/backend/plugin.ts";
import { byteOffset } from "../../core/dtype.ts";
import type { HostStorage } from "../../core/backend/host.ts";
import { loadRuntime } from "./runtime.ts";
import { runJob, wasmThreads } from "./pool.ts";
import { JOB_BYTES, JOB_IA, KIND, MAXDIM, W as GW } from "./abi.generated.ts";

/**
 * int32 word indices of `pjob_t` (generated from abi.ts), with `fa64`, the f64 index of `fa[0]`.
 * Kernel-specific integers have names per kind: {@link JOB_IA}.
 */
export const W: typeof GW & { readonly fa64: number } = { ...GW, fa64: GW.fa };
export { JOB_IA, KIND, MAXDIM };
const CLOSED = 0x40000000;

let job: { ptr: number; i32: Int32Array; f64: Float64Array } | null = null;

/**
 * The job block and its views, made once: the memory is shared, so growing it never detaches
 * a view, and the block never moves.
 */
export function jobViews(): { ptr: number; i32: Int32Array; f64: Float64Array } {
  if (job) return job;
  const rt = loadRuntime();
  const r = rt.heap.alloc(JOB_BYTES, true);
  if (!r) throw new RangeError("wasm: cannot reserve the kernel job block");
  const ptr = r.byteOffset;
  job = {
    ptr,
    i32: new Int32Array(rt.memory.buffer, ptr, JOB_BYTES / 4),
    f64: new Float64Array(rt.memory.buffer, ptr, JOB_BYTES / 8),
  };
  return job;
}

/**
 * Close the block and return views to fill; then call {@link runPar}. Fields not written keep
 * stale values, so callers write every field their kernel reads.
 */
export function beginJob(kind: number): { ptr: number; i32: Int32Array; f64: Float64Array } {
  const v = jobViews();
  Atomics.store(v.i32, W.next, CLOSED);
  v.i32[W.kind] = kind;
  return v;
}

/** Open the job with `nslots` slots and run it on up to `threads` threads (1: this one only). */
export function runPar(v: { ptr: number; i32: Int32Array }, nslots: number, threads: number) {
  v.i32[W.nslots] = nslots;
  Atomics.store(v.i32, W.done, 0);
  Atomics.store(v.i32, W.next, 0);
  runJob(v.ptr, nslots, Math.max(0, Math.min(threads, nslots) - 1), (v.ptr >>> 2) + W.done);
}

/**
 * Threads and slots for `work` units (elements, or rows weighted by their cost) when it is worth
 * waking the pool at `minWork` units: a few slots per thread so a late worker costs little.
 */
export function plan(work: number, minWork: number): { threads: number; slots: number } {
  const t = wasmThreads();
  if (t <= 1 || work < minWork) return { threads: 1, slots: 1 };
  return { threads: t, slots: Math.max(t, Math.min(4 * t, Math.floor(work / (minWork / 4)))) };
}

/** Byte address of `t`'s first element (element `t.offset` of its storage). */
export function address(t: TensorView): number {
  return (t.storage as HostStorage).byteOffset + byteOffset(t.dtype, t.offset, "address");
}

/** A table of int32 values copied into the heap; `free()` it after the job. */
export function heapTable(values: ArrayLike<number>): { ptr: number; free(): void } {
  const rt = loadRuntime();
  const r = rt.heap.alloc(Math.max(4, values.length * 4), true);
  if (!r) throw new RangeError("wasm: cannot reserve a kernel table");
  new Int32Array(rt.memory.buffer, r.byteOffset, values.length).set(values);
  return { ptr: r.byteOffset, free: () => rt.heap.free(r.byteOffset) };
}

/** Heap scratch of `bytes` bytes; `free()` it after use. */
export function heapScratch(bytes: number): { ptr: number; free(): void } {
  const rt = loadRuntime();
  const r = rt.heap.alloc(Math.max(16, bytes), true);
  if (!r) throw new RangeError(`wasm: cannot reserve ${bytes} bytes of scratch`);
  return { ptr: r.byteOffset, free: () => rt.heap.free(r.byteOffset) };
}
