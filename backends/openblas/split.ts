/**
 * GEMM on the CPU pool: one CBLAS GEMM cut into column (or row) blocks of C, each block an
 * OpenBLAS call on one thread, run by the main thread and the WASM plugin's pool workers at once,
 * for mid-sized GEMMs (m·n·k from OpenBLAS's own threading threshold, 2^18, to 2^27).
 *
 * Why not OpenBLAS's own threads there: on this 2-vCPU VM its thread server costs more than the
 * split. Median µs over three alternated runs, OpenBLAS's threads / split: 64×784 · 784×256 (the
 * MLP benchmark's first layer) 112–116 / 98–103, the same with the weight transposed 127–134 /
 * 110–120, 64×256 · 256×64 20.8 / 11.4, 128³ 28.0 / 23.7. Its idle threads also spin after each
 * call on the core the pool's next job needs, while the pool's workers are already spinning for
 * the next job of a sequence, so posting a block costs well under a µs. Larger GEMMs stay with
 * OpenBLAS's threads, which share their packed panels (see `MAX_SPLIT_WORK`).
 *
 * The job block lives in the shared WASM memory: the kind word ({@link KIND_BLAS_GEMM}), the claim
 * and done counters, the GEMM's arguments ({@link GEMM_JOB}), and the library's path, which a
 * worker `Deno.dlopen`s the first time it meets such a job (same library, same process: the
 * loader hands back the loaded copy). A worker that cannot open it claims nothing, and the main
 * thread runs the remaining blocks itself. While the blocks run, OpenBLAS is set to one thread
 * (each call then runs on its caller) and restored after.
 *
 * The job's layout and the code that runs its blocks are in ./gemm_job.ts.
 *
 * @module
 */
import { loadRuntime, type WasmRuntime } from "../cpu/runtime.ts";
import { registerJobKind, runJob, wasmThreads } from "../cpu/pool.ts";
import {
  GEMM_JOB,
  GEMM_JOB_BYTES as JOB_BYTES,
  type GemmArgs,
  type GemmPair,
  KIND_BLAS_GEMM,
  openBlasGemm,
  runGemmSlots,
} from "./gemm_job.ts";

/**
 * The pool workers' handler of a split-GEMM job, as source text (workers run it from text):
 * blocks run through the worker's own binding of the library named in the job block (one block
 * per library path, with its own id: the binding is remade when the id changes; null when the
 * library cannot be opened there, and the worker then claims nothing).
 */
const GEMM_JOB_HANDLER = `(() => {
  ${runGemmSlots}
  ${openBlasGemm}
  const GEMM_JOB = ${JSON.stringify(GEMM_JOB)};
  let blas = null, blasId = 0;
  return (job, env) => {
    const id = env.f64[(job >>> 3) + GEMM_JOB.ID];
    if (id !== blasId) {
      const len = env.i32[(job >>> 2) + GEMM_JOB.PATH_LEN];
      const bytes = new Uint8Array(env.memory.buffer, (job >>> 0) + ${JOB_BYTES}, len).slice();
      blas = openBlasGemm(new TextDecoder().decode(bytes));
      blasId = id;
    }
    if (blas) runGemmSlots(GEMM_JOB, env.i32, env.f64, job, blas);
  };
})()`;

registerJobKind({ kind: KIND_BLAS_GEMM, source: GEMM_JOB_HANDLER });

/**
 * Work (m·n·k) up to which a GEMM is one call: OpenBLAS's own threshold for threading it
 * (65536 × GEMM_MULTITHREAD_THRESHOLD 4): smaller ones run on one thread either way. Measured (median
 * µs, one call / split in two): 64³ 6.6 / 8.0 (one call wins); 96³ 12.8 / 11.5; 64×256·256×64
 * 20.8 / 11.4; 128³ 28.0 / 23.7; 256³ and 512³ equal within noise.
 */
const MIN_SPLIT_WORK = 65536 * 4;
/**
 * Work above which OpenBLAS's own threads run the GEMM: they share the packed panels, where each
 * block here packs the whole of the other operand again (1024³ 4 MB). Measured (median ms, own
 * threads / split): 512³ 0.89 / 0.87, 768³ 2.40 / 2.59, 1024³ 5.44 / 5.66.
 */
const MAX_SPLIT_WORK = 2 ** 27;
/** Block sizes are multiples of this many elements (whole cache lines of each row of C). */
const ALIGN = 16;

/** The library the pool runs GEMM blocks with. */
export interface SplitTarget {
  /** Path (or soname) the plugin loaded, which workers open too. */
  path: string;
  /** The main thread's bound GEMMs. */
  gemm: GemmPair;
  /** `openblas_set_num_threads`. */
  setThreads(n: number): void;
}

interface Block {
  rt: WasmRuntime;
  ptr: number;
  i32: Int32Array;
  f64: Float64Array;
  path: string;
}

let block: Block | null | undefined;
let blocksMade = 0;

function jobBlock(path: string): Block | null {
  if (block !== undefined && (block === null || block.path === path)) return block;
  let rt: WasmRuntime;
  try {
    rt = loadRuntime();
  } catch {
    return (block = null); // no WASM threads here: OpenBLAS threads itself
  }
  const bytes = new TextEncoder().encode(path);
  const r = rt.heap.alloc(JOB_BYTES + bytes.length, true);
  if (!r) return (block = null);
  const ptr = r.byteOffset;
  new Uint8Array(rt.memory.buffer, ptr + JOB_BYTES, bytes.length).set(bytes);
  const i32 = new Int32Array(rt.memory.buffer, ptr, JOB_BYTES / 4);
  const f64 = new Float64Array(rt.memory.buffer, ptr, JOB_BYTES / 8);
  i32[GEMM_JOB.KIND] = KIND_BLAS_GEMM;
  i32[GEMM_JOB.PATH_LEN] = bytes.length;
  i32[GEMM_JOB.NEXT] = i32[GEMM_JOB.SLOTS] = 0;
  f64[GEMM_JOB.ID] = ++blocksMade;
  if (block) rt.heap.free(block.ptr);
  return (block = { rt, ptr, i32, f64, path });
}

/** Whole-memory views for the main thread's share (remade when a block lies beyond them). */
let mem32: Int32Array | null = null, mem64: Float64Array | null = null;

/**
 * C = alpha·op(A)·op(B) + beta·C (CBLAS row-major; `ta`/`tb` are CblasNoTrans/CblasTrans), on
 * up to `threads` threads: split over the pool when that is worth it and possible, else one call
 * (OpenBLAS then threads it itself).
 */
export function gemm(target: SplitTarget, threads: number, dbl: boolean, ...args: GemmArgs): void {
  const [ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc] = args;
  const parts = Math.min(threads, wasmThreads());
  // Cut the larger of C's two sides: each block then repacks only its share of that operand.
  const splitN = n >= m, side = splitN ? n : m;
  const slots = Math.min(parts, Math.floor(side / ALIGN));
  const work = m * n * k;
  const v = slots > 1 && work > MIN_SPLIT_WORK && work <= MAX_SPLIT_WORK
    ? jobBlock(target.path)
    : null;
  if (!v) {
    target.gemm[dbl ? 1 : 0](101, ...args);
    return;
  }
  const L = GEMM_JOB, i32 = v.i32, f64 = v.f64;
  // Closed while rewritten (a late worker's claim fails), opened last.
  Atomics.store(i32, L.NEXT, 1 << 30);
  i32[L.SLOTS] = slots;
  i32[L.DOUBLE] = dbl ? 1 : 0;
  i32[L.TA] = ta;
  i32[L.TB] = tb;
  i32[L.M] = m;
  i32[L.N] = n;
  i32[L.K] = k;
  i32[L.LDA] = lda;
  i32[L.LDB] = ldb;
  i32[L.LDC] = ldc;
  i32[L.SPLIT_N] = splitN ? 1 : 0;
  i32[L.CHUNK] = Math.ceil(side / slots / ALIGN) * ALIGN;
  f64[L.ALPHA] = alpha;
  f64[L.BETA] = beta;
  f64[L.A] = Number(Deno.UnsafePointer.value(a));
  f64[L.B] = Number(Deno.UnsafePointer.value(b));
  f64[L.C] = Number(Deno.UnsafePointer.value(c));
  Atomics.store(i32, L.DONE, 0);
  if (!mem32 || v.ptr + JOB_BYTES > mem32.byteLength) {
    mem32 = new Int32Array(v.rt.memory.buffer);
    mem64 = new Float64Array(v.rt.memory.buffer);
  }
  const i = mem32, d = mem64!;
  // One thread per call BEFORE the job opens: a worker still looping from the previous job claims
  // a block as soon as NEXT is 0, and a block run with OpenBLAS's own threads (from a second
  // caller at once) is not the same arithmetic — two concurrent 45-step train:lm runs differed
  // from step 41 when this came after the opening, and agree with it here.
  target.setThreads(1);
  Atomics.store(i32, L.NEXT, 0);
  try {
    runJob(
      v.ptr,
      slots,
      slots - 1,
      (v.ptr >>> 2) + L.DONE,
      () => runGemmSlots(L, i, d, v.ptr, target.gemm),
    );
  } finally {
    target.setThreads(threads);
  }
}
