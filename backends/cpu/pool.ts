/**
 * The worker pool: threads that instantiate the kernel module over the same shared memory (each
 * with its own shadow stack and GEMM scratch) and join jobs the main thread posts.
 *
 * Protocol (all in shared memory): the main thread writes a job, bumps a generation word and
 * notifies it; workers blocked in `Atomics.wait` on that word wake and call the kernel's `*_run`
 * entry (`job_run`, which tells a GEMM job from the other kernels' jobs by its first word), or
 * the handler a plugin registered for the job's kind ({@link registerJobKind}: OpenBLAS's split
 * GEMM), and claim slots with an atomic counter. The main thread claims slots too, then waits
 * (with a timeout, never forever) until the job's done-count reaches its slot count. Workers are
 * `node:worker_threads` workers, unref'd: an idle pool never keeps the process alive, and tests'
 * sanitizers see no pending ops. `setWasmThreads(1)` (or `disposeWasmThreads()`) terminates them.
 *
 * @module
 */
import { Worker } from "node:worker_threads";
import { DeviceError } from "../../core/errors.ts";
import { loadRuntime, type WasmRuntime } from "./runtime.ts";

/** Control words (int32 indices from the control block). */
const GEN = 0, JOB = 1, NTHREADS = 2, SPIN = 3, VERSION = 4, CTRL_BYTES = 64;
const STACK_BYTES = 256 * 1024;
/**
 * How long a worker (and the main thread, waiting for its workers) spins before sleeping, µs.
 * Waking a sleeping thread costs ~40 µs here (a futex wake through the hypervisor), more than a
 * whole 300K-element elementwise job takes on one thread; a short spin catches the next job of a
 * sequence (a training step runs ~40) without it, and gives the core back soon after.
 */
let spinUs = 50;
/**
 * How long the main thread spins, ms, waiting for slots a worker has claimed before it sleeps
 * until notified. It only ever waits for slots in progress (it runs unclaimed ones itself), so the
 * wait is at most one slot long; a GEMM block takes ~100 µs, and a sleep adds a ~40 µs wake-up.
 */
const MAIN_SPIN_MS = 1;
/** No progress for this long while waiting on workers is an error, not a hang. */
const STALL_MS = 60_000;

/**
 * A job kind a plugin runs on the pool's workers, beside the WASM module's own jobs. A job block
 * whose first int32 word is `kind` goes to the handler instead of the module's `job_run`.
 */
export interface JobKind {
  /** The job block's first word; at least 64 (the module's own kinds are below). */
  readonly kind: number;
  /**
   * JavaScript source of an expression giving the handler, evaluated once per worker:
   * `(job, env) => void`, where `job` is the block's byte address and `env.i32`, `env.f64` are
   * views of the whole memory (remade when it grows) and `env.memory` the memory. It may refer
   * to nothing outside itself (it runs in a worker, from text): the handler claims slots and
   * counts them done by the job block's own protocol.
   */
  readonly source: string;
}

const jobKinds = new Map<number, JobKind>();
/** Bumped by each registration: workers started before it are replaced at the next job. */
let kindsVersion = 0;

/**
 * Register a job kind for the pool's workers (e.g. the OpenBLAS plugin's split GEMM). Workers
 * already running are restarted with it when a job next needs them. Registering a kind again
 * replaces its handler.
 */
export function registerJobKind(k: JobKind): void {
  if (!Number.isInteger(k.kind) || k.kind < 64) {
    throw new RangeError(`registerJobKind: kind must be an integer ≥ 64, got ${k.kind}`);
  }
  if (jobKinds.get(k.kind)?.source === k.source) return;
  jobKinds.set(k.kind, k);
  kindsVersion++;
}

function workerSource(): string {
  const kinds = [...jobKinds.values()].map((k) => `  [${k.kind}, (${k.source})],`).join("\n");
  return `
const { workerData } = require("node:worker_threads");
const { wasmModule, memory, ctrl, tid, stackTop, scratch } = workerData;
const ex = new WebAssembly.Instance(wasmModule, { env: { memory } }).exports;
ex.__stack_pointer.value = stackTop;
const words = new Int32Array(memory.buffer, ctrl, 16);
const version = ${kindsVersion};
const env = { memory, i32: new Int32Array(memory.buffer), f64: new Float64Array(memory.buffer) };
// Job kinds plugins registered (registerJobKind), by the job block's first word.
const kinds = new Map([
${kinds}
]);
let gen = Atomics.load(words, ${GEN});
for (;;) {
  if (tid >= Atomics.load(words, ${NTHREADS})) break;
  // Spin a little before sleeping: a job that follows soon starts without a wake-up.
  const t0 = performance.now(), spinMs = Atomics.load(words, ${SPIN}) / 1000;
  while (Atomics.load(words, ${GEN}) === gen && performance.now() - t0 < spinMs) {}
  // A bounded wait: a terminate() request is served between waits.
  if (Atomics.wait(words, ${GEN}, gen, 1000) === "timed-out") continue;
  gen = Atomics.load(words, ${GEN});
  if (tid >= Atomics.load(words, ${NTHREADS})) break;
  // Started before a job kind was registered: leave the job to the threads that know it.
  if (Atomics.load(words, ${VERSION}) !== version) break;
  const job = Atomics.load(words, ${JOB});
  if ((job >>> 2) >= env.i32.length) {
    env.i32 = new Int32Array(memory.buffer);
    env.f64 = new Float64Array(memory.buffer);
  }
  const run = kinds.get(env.i32[job >>> 2]);
  if (run) run(job, env);
  else ex.job_run(job, scratch);
}
`;
}

interface PoolWorker {
  worker: Worker;
  stack: number;
  scratch: number;
}

interface Pool {
  rt: WasmRuntime;
  ctrl: number;
  words: Int32Array;
  /** Scratch of the main thread (thread 0). */
  scratch0: number;
  workers: PoolWorker[];
  /** `kindsVersion` the workers were started with. */
  version: number;
}

let pool: Pool | null = null;
let workerErrors = 0;
let lastWorkerError: string | undefined;
let workerSlots = 0;
let threads = defaultThreads();

function defaultThreads(): number {
  const n = typeof navigator === "object" ? navigator.hardwareConcurrency : 1;
  return Math.max(1, Math.min(64, Number.isFinite(n) && n > 0 ? Math.floor(n) : 1));
}

function heapAlloc(rt: WasmRuntime, bytes: number): number {
  const r = rt.heap.alloc(bytes, true);
  if (!r) {
    throw new DeviceError(
      `wasm: cannot reserve ${bytes} bytes for the thread pool: the heap's ` +
        `${rt.heap.limitBytes} bytes (its reserve for the runtime included) are taken; ` +
        "dispose tensors, or place large data outside the heap (outsideHeap)",
    );
  }
  return r.byteOffset;
}

function getPool(): Pool {
  if (pool) return pool;
  const rt = loadRuntime();
  const ctrl = heapAlloc(rt, CTRL_BYTES);
  const scratch0 = heapAlloc(rt, rt.exports.gemm_scratch_bytes());
  const words = new Int32Array(rt.memory.buffer, ctrl, CTRL_BYTES / 4);
  words.fill(0);
  words[SPIN] = spinUs;
  words[VERSION] = kindsVersion;
  pool = { rt, ctrl, words, scratch0, workers: [], version: kindsVersion };
  return pool;
}

/**
 * How many threads the WASM kernels use (the main thread counts as one).
 *
 * @example
 * ```ts
 * import { wasmThreads } from "@aprender/compute";
 * console.log(wasmThreads() >= 1); // true
 * ```
 */
export function wasmThreads(): number {
  return threads;
}

/**
 * Set how long (µs, default 50) the WASM pool's threads spin waiting for the next job before they
 * sleep, like OpenMP's `OMP_WAIT_POLICY`: 0 sleeps at once (least CPU while idle), more catches
 * jobs that follow further apart. Returns the previous value.
 *
 * @example
 * ```ts
 * import { setWasmSpin } from "@aprender/compute";
 * const before = setWasmSpin(0); // sleep at once
 * setWasmSpin(before);
 * console.log(before); // 50
 * ```
 */
export function setWasmSpin(us: number): number {
  if (!(us >= 0 && us <= 1e6)) {
    throw new RangeError(`setWasmSpin: expected microseconds from 0 to 1e6, got ${us}`);
  }
  const old = spinUs;
  spinUs = Math.round(us);
  if (pool) Atomics.store(pool.words, SPIN, spinUs);
  return old;
}

/**
 * Set how many threads the WASM kernels use (the main thread plus `n - 1` workers; default: the
 * machine's cores, `navigator.hardwareConcurrency`). Lowering it terminates the extra workers;
 * raising it starts them when a job next needs them. Results do not depend on the count.
 *
 * @example
 * ```ts
 * import { setWasmThreads, wasmThreads } from "@aprender/compute";
 * setWasmThreads(2);
 * console.log(wasmThreads()); // 2
 * ```
 */
export function setWasmThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > 256) {
    throw new RangeError(`setWasmThreads: expected an integer from 1 to 256, got ${n}`);
  }
  threads = n;
  if (pool) shrink(pool, n - 1);
}

/**
 * Terminate every worker of the WASM pool (they restart when a job next needs them) and keep the
 * thread count. Idle workers never keep the process alive; this is for tests and long-lived
 * programs that want the threads gone.
 *
 * @example
 * ```ts
 * import { disposeWasmThreads } from "@aprender/compute";
 * await disposeWasmThreads();
 * ```
 */
export function disposeWasmThreads(): Promise<void> {
  if (!pool) return Promise.resolve();
  return shrink(pool, 0);
}

function shrink(p: Pool, keep: number): Promise<void> {
  Atomics.store(p.words, NTHREADS, keep + 1);
  Atomics.add(p.words, GEN, 1);
  Atomics.notify(p.words, GEN);
  const gone = p.workers.splice(keep);
  return Promise.all(gone.map(async (w) => {
    await w.worker.terminate();
    // Its stack and scratch are reused only once the thread is surely gone.
    p.rt.heap.free(w.stack);
    p.rt.heap.free(w.scratch);
  })).then(() => {});
}

function grow(p: Pool, want: number): void {
  Atomics.store(p.words, NTHREADS, want + 1);
  const source = workerSource();
  while (p.workers.length < want) {
    const tid = p.workers.length + 1;
    // A thread whose stack and scratch the heap cannot hold is not started: jobs run on fewer.
    const stackBlock = p.rt.heap.alloc(STACK_BYTES, true);
    const scratchBlock = stackBlock && p.rt.heap.alloc(p.rt.exports.gemm_scratch_bytes(), true);
    if (!stackBlock || !scratchBlock) {
      if (stackBlock) p.rt.heap.free(stackBlock.byteOffset);
      break;
    }
    const stack = stackBlock.byteOffset, scratch = scratchBlock.byteOffset;
    const worker = new Worker(source, {
      eval: true,
      workerData: {
        wasmModule: p.rt.module,
        memory: p.rt.memory,
        ctrl: p.ctrl,
        tid,
        stackTop: stack + STACK_BYTES,
        scratch,
      },
    });
    worker.unref();
    const entry = { worker, stack, scratch };
    // A worker that fails to start only costs speed: jobs never wait for a particular thread.
    worker.on("error", (e: unknown) => {
      workerErrors++;
      lastWorkerError = e instanceof Error ? e.message : String(e);
      const i = p.workers.indexOf(entry);
      if (i >= 0) p.workers.splice(i, 1);
    });
    p.workers.push(entry);
  }
}

/** An Int32Array over the memory, made when a job's `done` word first fell outside the last. */
let doneWords: Int32Array | null = null;

/**
 * Run a job: post it to `workers` extra threads (0 = main thread only), join it, and wait until
 * all `slots` are done. The job's `done` word is at int32 index `doneIdx` of the memory. Workers
 * run a WASM kernel job (a GEMM job or a `pjob_t`) through `job_run`, and a job of a registered
 * kind through its handler; the main thread runs its share with
 * `runMine` (default: `job_run`), which returns how many slots it ran.
 */
export function runJob(
  job: number,
  slots: number,
  workers: number,
  doneIdx: number,
  runMine?: () => number,
): void {
  const p = getPool();
  const ex = p.rt.exports;
  const want = Math.min(workers, threads - 1);
  if (p.version !== kindsVersion) {
    // A job kind was registered after these workers started: replace them (they exit at their
    // next wake-up; their stacks are reused once they are gone).
    Atomics.store(p.words, VERSION, kindsVersion);
    if (p.workers.length) shrink(p, 0);
    p.version = kindsVersion;
  }
  if (want > 0) {
    if (p.workers.length < want) grow(p, want);
    Atomics.store(p.words, JOB, job);
    Atomics.add(p.words, GEN, 1);
    Atomics.notify(p.words, GEN);
  }
  const mine = runMine ? runMine() : ex.job_run(job, p.scratch0);
  // Wait for every slot even when no worker was woken: a worker still looping in the previous
  // job of this block may have claimed one of this job's slots, and be writing its output.
  workerSlots += slots - mine;
  // A view over the memory as it was when the job block existed (shared: never detached).
  if (!doneWords || doneIdx >= doneWords.length) doneWords = new Int32Array(p.rt.memory.buffer);
  const words = doneWords;
  let last = Atomics.load(words, doneIdx);
  if (last >= slots) return;
  let since = performance.now();
  while (last < slots && performance.now() - since < MAIN_SPIN_MS) {
    last = Atomics.load(words, doneIdx);
  }
  while (last < slots) {
    Atomics.wait(words, doneIdx, last, 100);
    const now = Atomics.load(words, doneIdx);
    if (now !== last) {
      last = now;
      since = performance.now();
    } else if (performance.now() - since > STALL_MS) {
      throw new Error(
        `wasm: worker threads made no progress for ${STALL_MS / 1000} s ` +
          `(${last}/${slots} parts done). Hint: setWasmThreads(1) runs on the main thread only.`,
      );
    }
  }
}

/** Counters for tests: job slots run by workers, and worker errors. */
export function poolStats(): {
  workers: number;
  workerSlots: number;
  errors: number;
  lastError?: string;
} {
  return {
    workers: pool?.workers.length ?? 0,
    workerSlots,
    errors: workerErrors,
    lastError: lastWorkerError,
  };
}
