/**
 * The OpenBLAS plugin: `matmul` through CBLAS GEMM/GEMV and the `linalg.*` kernels through
 * LAPACK, calling the system OpenBLAS with `Deno.dlopen` (see ./ffi.ts for how the library is
 * found). Absent library, missing symbols or no `--allow-ffi` make the plugin absent, with the
 * reason in `backends()`.
 *
 * ## Memory
 * Operands are CPU tensors in host memory (backends/host.ts), which may be a WebAssembly
 * memory's (shared) buffer: every call takes `Deno.UnsafePointer.of()` of the storage's bytes at
 * call time (the buffer may have been replaced by a heap growth) and passes pointers into it.
 * `matmul` never copies an operand: a matrix whose last two strides are row-major (unit column
 * stride, row stride ≥ columns) goes in as is, one with unit row stride and column stride ≥ rows
 * goes in as `CblasTrans`; a row or column vector operand of a GEMV accepts any positive stride.
 * Other layouts (negative strides, a broadcast axis inside the matrix, overlapping rows) are
 * declined by `supports()` and run on the next backend. LAPACK overwrites its operands, so the
 * linalg kernels copy each matrix into a column-major workspace (as the kernel contract in
 * backends/scalar/kernels/lapack.ts says), reading any strides.
 *
 * ## Precision of the linalg kernels
 * By default f32 inputs are computed with the double-precision (`d*`) LAPACK routines and
 * rounded once on store: that is what NumPy does (numpy.linalg casts float32 to float64 for
 * LAPACK and casts the result back), and what the scalar reference does, so the result does not
 * depend on the backend beyond rounding. {@link setLapackF32Precision}("single") switches f32 to
 * the `s*` routines: about twice as fast, accurate to about cond(a)·1e-7. `matmul` always runs
 * in the operands' precision (sgemm for f32), as NumPy's matmul does.
 *
 * @module
 */
import type {
  Backend,
  Capabilities,
  Kernel,
  KernelCall,
  KernelEntry,
  KernelTable,
  Runner,
  TensorView,
} from "../../core/backend/plugin.ts";
import { HostStorage } from "../../core/backend/host.ts";
import { stridedOffsets } from "../../core/shape.ts";
import { storagePtr } from "./ptr.ts";
import { convKernels } from "./conv.ts";
import { gemm as splitGemm, type SplitTarget } from "./split.ts";
import type { GemmArgs, GemmPair } from "./gemm_job.ts";
import {
  type BlasLibrary,
  type BlasLoad,
  CblasNoTrans,
  CblasRowMajor,
  CblasTrans,
  type LapackFn,
  lapackFn,
  type LapackName,
  loadBlas,
} from "./ffi.ts";

export { DEFAULT_BLAS_PATHS } from "./ffi.ts";

// ---- library state ---------------------------------------------------------------------------

let load: BlasLoad | null = null;
/** The GEMM's thread count ({@link setBlasThreads}); OpenBLAS's own count outside a split GEMM. */
let blasN = 1;
let target: SplitTarget | null = null;

function lib(): BlasLibrary {
  if (!load?.ok) throw new Error("openblas: the library is not loaded");
  return load.lib;
}

/** Capabilities of the plugin, with the library's path and `openblas_get_config()` string. */
export interface OpenBlasCapabilities extends Capabilities {
  /** The library that loaded. */
  library?: string;
  /** OpenBLAS's build configuration (version, target core, threading). */
  config?: string;
}

function probe(): OpenBlasCapabilities {
  load = loadBlas();
  if (!load.ok) return { available: false, reason: load.reason };
  const s = load.lib.symbols;
  blasN = s.openblas_get_num_threads();
  target = {
    path: load.path,
    gemm: [s.cblas_sgemm, s.cblas_dgemm] as unknown as GemmPair,
    setThreads: (n) => s.openblas_set_num_threads(n),
  };
  const features = ["sgemm", "dgemm", "sgemv", "dgemv"];
  if (load.lapack) features.push("lapack");
  return {
    available: true,
    features,
    dtypes: ["f32", "f64"],
    threads: load.lib.symbols.openblas_get_num_threads(),
    library: load.path,
    config: load.config,
  };
}

/**
 * Set the number of threads OpenBLAS uses (no-op when the library is not loaded). A mid-sized
 * GEMM (2^18 to 2^27 multiply-adds) is then cut into that many blocks run at once by the WASM
 * plugin's pool (bounded by `wasmThreads()`), each an OpenBLAS call on one thread; LAPACK and
 * larger GEMMs use OpenBLAS's own threads.
 *
 * @example
 * ```ts
 * import { blasThreads, setBlasThreads } from "@aprender/compute";
 * setBlasThreads(1);
 * console.log(blasThreads()); // 1 (0 when OpenBLAS is not loaded)
 * ```
 */
export function setBlasThreads(n: number): void {
  if (!load?.ok) return;
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`setBlasThreads: expected a positive integer, got ${n}`);
  }
  load.lib.symbols.openblas_set_num_threads(n);
  blasN = n;
}

/**
 * The number of threads OpenBLAS uses, or 0 when the library is not loaded.
 *
 * @example
 * ```ts
 * import { blasThreads } from "@aprender/compute";
 * console.log(blasThreads() >= 0); // true
 * ```
 */
export function blasThreads(): number {
  return load?.ok ? load.lib.symbols.openblas_get_num_threads() : 0;
}

let f32Prec: "double" | "single" = "double";

/**
 * Choose the LAPACK routines the linalg kernels use for f32 inputs: "double" (default; the `d*`
 * routines, then rounded to f32, like NumPy) or "single" (the `s*` routines: faster, accurate to
 * about cond(a)·1e-7). Returns the previous setting.
 *
 * @example
 * ```ts
 * import { setLapackF32Precision } from "@aprender/compute";
 * const before = setLapackF32Precision("single");
 * setLapackF32Precision(before);
 * console.log(before); // "double"
 * ```
 */
export function setLapackF32Precision(p: "double" | "single"): "double" | "single" {
  const old = f32Prec;
  f32Prec = p;
  return old;
}

// ---- pointers --------------------------------------------------------------------------------

const BYTES = { f32: 4, f64: 8 } as const;

function at(base: Deno.PointerObject, elem: number, bytes: number): Deno.PointerValue {
  return elem === 0 ? base : Deno.UnsafePointer.offset(base, elem * bytes);
}

function ptr(a: ArrayBufferView): Deno.PointerValue {
  return Deno.UnsafePointer.of(a as Uint8Array);
}

/**
 * C = alpha·op(A)·op(B) + beta·C through CBLAS (row-major), split over the CPU pool when large
 * (./split.ts).
 */
export function blasGemm(dbl: boolean, ...args: GemmArgs): void {
  splitGemm(target!, blasN, dbl, ...args);
}

/** The typed array of an f32/f64 host tensor's whole storage. */
function view(t: TensorView): Float32Array | Float64Array {
  const s = t.storage as HostStorage;
  const b = t.dtype === "f32" ? 4 : 8;
  const len = Math.floor(s.byteLength / b);
  return t.dtype === "f32"
    ? new Float32Array(s.buffer as ArrayBuffer, s.byteOffset, len)
    : new Float64Array(s.buffer as ArrayBuffer, s.byteOffset, len);
}

function isHost(t: TensorView): boolean {
  return t.storage instanceof HostStorage;
}

// ---- matmul ----------------------------------------------------------------------------------

interface MatLayout {
  trans: number;
  ld: number;
}

/** How BLAS can read a rows × cols matrix with strides (s0, s1) in place, or null. */
function matLayout(rows: number, cols: number, s0: number, s1: number): MatLayout | null {
  if ((cols === 1 || s1 === 1) && (rows === 1 || s0 >= cols)) {
    return { trans: CblasNoTrans, ld: rows === 1 ? Math.max(1, cols) : s0 };
  }
  if ((rows === 1 || s0 === 1) && (cols === 1 || s1 >= rows)) {
    return { trans: CblasTrans, ld: cols === 1 ? Math.max(1, rows) : s1 };
  }
  return null;
}

type MatmulPlan =
  | { kind: "empty" }
  | { kind: "gemm"; a: MatLayout; b: MatLayout }
  /** y = op(M)·x: M is `a` (n = 1) or `b` (m = 1); x the other operand's vector. */
  | { kind: "gemv"; matIsA: boolean; mat: MatLayout; inc: number };

function planMatmul(call: KernelCall): MatmulPlan | null {
  const [a, b] = call.inputs;
  const [out] = call.outputs;
  if (!a || !b || !out || !load?.ok) return null;
  const d = out.dtype;
  if ((d !== "f32" && d !== "f64") || a.dtype !== d || b.dtype !== d || a.ndim < 2) return null;
  if (!isHost(a) || !isHost(b) || !isHost(out)) return null;
  const r = a.ndim;
  const m = a.shape[r - 2], k = a.shape[r - 1], n = b.shape[r - 1];
  if (out.size === 0 || k === 0) return { kind: "empty" };
  const sam = a.strides[r - 2], sak = a.strides[r - 1];
  const sbk = b.strides[r - 2], sbn = b.strides[r - 1];
  if (n === 1) {
    const inc = k === 1 ? 1 : sbk;
    const mat = matLayout(m, k, sam, sak);
    if (mat && inc > 0) return { kind: "gemv", matIsA: true, mat, inc };
  }
  if (m === 1) {
    const inc = k === 1 ? 1 : sak;
    const mat = matLayout(k, n, sbk, sbn);
    if (mat && inc > 0) return { kind: "gemv", matIsA: false, mat, inc };
  }
  const la = matLayout(m, k, sam, sak), lb = matLayout(k, n, sbk, sbn);
  return la && lb ? { kind: "gemm", a: la, b: lb } : null;
}

/**
 * `matmul` (contract of core/ops/linalg.ts): a (...batch, m, k) @ b (...batch, k, n) → out
 * (...batch, m, n) contiguous; batch axes already broadcast (stride 0 where repeated). f32 and
 * f64 with both operands of the output's dtype; one GEMM (or GEMV when m or n is 1) per batch
 * entry, on the operands in place.
 */
const matmul: Kernel = {
  plan(call: KernelCall): Runner | null {
    const plan = planMatmul(call);
    return plan && ((c: KernelCall) => runMatmul(c, plan));
  },
};

/** Run a matmul call the way `plan` (made for a call with the same layouts) says. */
function runMatmul(call: KernelCall, plan: MatmulPlan): void {
  if (plan.kind === "empty") return; // outputs are zero-filled; k = 0 gives zeros
  const [a, b] = call.inputs;
  const [out] = call.outputs;
  const r = a.ndim, f32 = out.dtype === "f32", bytes = BYTES[out.dtype as "f32" | "f64"];
  const m = a.shape[r - 2], k = a.shape[r - 1], n = b.shape[r - 1];
  const batch = a.shape.slice(0, r - 2);
  // One matrix (the common case) needs no offset tables (typed-array allocations cost ~0.5 µs).
  const aOff = r === 2 ? [a.offset] : stridedOffsets(batch, a.strides.slice(0, r - 2), a.offset);
  const bOff = r === 2 ? [b.offset] : stridedOffsets(batch, b.strides.slice(0, r - 2), b.offset);
  const pa = storagePtr(a), pb = storagePtr(b), po = storagePtr(out);
  const s = lib().symbols;
  const nb = aOff.length;
  if (plan.kind === "gemm") {
    const { a: la, b: lb } = plan;
    for (let i = 0; i < nb; i++) {
      blasGemm(
        !f32,
        la.trans,
        lb.trans,
        m,
        n,
        k,
        1,
        at(pa, aOff[i], bytes),
        la.ld,
        at(pb, bOff[i], bytes),
        lb.ld,
        0,
        at(po, out.offset + i * m * n, bytes),
        n,
      );
    }
    return;
  }
  const gemv = f32 ? s.cblas_sgemv : s.cblas_dgemv;
  const { matIsA, mat, inc } = plan;
  // The matrix as stored row-major: (rows × cols) = the logical matrix, or its transpose.
  const [lr, lc] = matIsA ? [m, k] : [k, n];
  const [sr, sc] = mat.trans === CblasNoTrans ? [lr, lc] : [lc, lr];
  // y = M·x needs op = the stored form's transpose flag; y = Mᵀ·x (m = 1) the opposite.
  const trans = matIsA === (mat.trans === CblasNoTrans) ? CblasNoTrans : CblasTrans;
  const [pm, mOff, pv, vOff] = matIsA ? [pa, aOff, pb, bOff] : [pb, bOff, pa, aOff];
  for (let i = 0; i < nb; i++) {
    gemv(
      CblasRowMajor,
      trans,
      sr,
      sc,
      1,
      at(pm, mOff[i], bytes),
      mat.ld,
      at(pv, vOff[i], bytes),
      inc,
      0,
      at(po, out.offset + i * m * n, bytes),
      1,
    );
  }
}

/**
 * `linear` (contract of core/ops/fused.ts): x (M, in) · weight (out, in)ᵀ + bias → out (M, out),
 * f32/f64, operands read in place where BLAS can (like matmul): the bias is written into every
 * row of the output, then one GEMM adds the product to it (beta = 1).
 */
const linear: KernelEntry = {
  supports(call: KernelCall): boolean {
    const [x, w, b] = call.inputs, [out] = call.outputs;
    if (!x || !w || !out || !load?.ok || x.ndim !== 2 || w.ndim !== 2) return false;
    const d = out.dtype;
    if ((d !== "f32" && d !== "f64") || x.dtype !== d || w.dtype !== d) return false;
    if (b && (b.dtype !== d || !isHost(b))) return false;
    if (!isHost(x) || !isHost(w) || !isHost(out) || !out.isContiguous) return false;
    const [M, K] = x.shape, N = w.shape[0];
    return matLayout(M, K, x.strides[0], x.strides[1]) !== null &&
      matLayout(N, K, w.strides[0], w.strides[1]) !== null;
  },
  run(call: KernelCall): void {
    const [x, w, b] = call.inputs, [out] = call.outputs;
    const [M, K] = x.shape, N = w.shape[0];
    if (out.size === 0) return;
    const o = view(out);
    if (b) {
      // Row 0 from the bias, then doubling copies fill the other rows.
      const bv = view(b);
      for (let j = 0; j < N; j++) o[out.offset + j] = bv[b.offset + j * b.strides[0]];
      for (let r = 1; r < M; r *= 2) {
        o.copyWithin(out.offset + r * N, out.offset, out.offset + Math.min(r, M - r) * N);
      }
    } else if (K === 0) o.fill(0, out.offset, out.offset + M * N);
    if (K === 0) return;
    const la = matLayout(M, K, x.strides[0], x.strides[1])!;
    const lw = matLayout(N, K, w.strides[0], w.strides[1])!;
    const bytes = BYTES[out.dtype as "f32" | "f64"];
    // B = Wᵀ: the opposite of W's own flag over the same storage.
    const tb = lw.trans === CblasNoTrans ? CblasTrans : CblasNoTrans;
    blasGemm(
      out.dtype === "f64",
      la.trans,
      tb,
      M,
      N,
      K,
      1,
      at(storagePtr(x), x.offset, bytes),
      la.ld,
      at(storagePtr(w), w.offset, bytes),
      lw.ld,
      b ? 1 : 0,
      at(storagePtr(out), out.offset, bytes),
      N,
    );
  },
};

// ---- LAPACK helpers --------------------------------------------------------------------------

type Real = Float32Array | Float64Array;

/** The precision a LAPACK call runs in: its routine prefix (work arrays: {@link arr}). */
interface Prec {
  prefix: "s" | "d";
}

const SINGLE: Prec = { prefix: "s" };
const DOUBLE: Prec = { prefix: "d" };

function precOf(t: TensorView): Prec {
  return t.dtype === "f32" && f32Prec === "single" ? SINGLE : DOUBLE;
}

function fn(p: Prec, name: LapackName): LapackFn {
  return lapackFn(lib(), p.prefix, name);
}

/**
 * Scalar arguments by reference. Module-level arrays: never collected, never moved, so their
 * pointers stay valid for the call (LAPACK calls are synchronous and not re-entered).
 */
/**
 * A typed array whose bytes live outside the JS heap. V8 keeps small typed arrays (≤ 64 bytes) in
 * the heap, where a garbage collection may move them between taking their address and the FFI
 * call, and LAPACK then writes through a stale pointer (a crash in 1 of ~5 test runs); every
 * array handed to OpenBLAS by address is made here, over its own ArrayBuffer.
 */
function native<A extends ArrayBufferView>(
  Arr: { new (b: ArrayBuffer, offset: number, length: number): A; BYTES_PER_ELEMENT: number },
  n: number,
): A {
  return new Arr(new ArrayBuffer(Math.max(128, n * Arr.BYTES_PER_ELEMENT)), 0, n);
}

/** A work array of precision `p`, outside the JS heap ({@link native}). */
function arr(p: Prec, n: number): Real {
  return p.prefix === "s" ? native(Float32Array, n) : native(Float64Array, n);
}

const INTS = native(Int32Array, 32);
const REAL64 = native(Float64Array, 1);
const REAL32 = native(Float32Array, 1);
const CHARS = native(Uint8Array, 8);
const ONE = native(Float64Array, 1); // a dummy array argument for unreferenced outputs
let nextInt = 0;
/** Slots of this argument list's output integers (INFO, RANK), in order. */
const outSlots: number[] = [];

/** Hidden CHARACTER length (gfortran's size_t). */
const L1 = 1n;

/** Reset the integer scratch; call at the start of each LAPACK call's argument list. */
function args(): void {
  nextInt = 0;
  outSlots.length = 0;
}

/** An integer argument: stores `v` and returns its address. */
function int(v: number): Deno.PointerValue {
  if (nextInt === INTS.length) throw new Error("openblas: integer scratch exhausted");
  INTS[nextInt] = v;
  return ptr(INTS.subarray(nextInt++, nextInt));
}

/** An output integer argument (INFO, RANK); read it after the call with {@link outAt}. */
function outInt(): Deno.PointerValue {
  outSlots.push(nextInt);
  return int(0);
}

/** The value of the i-th {@link outInt} argument of the last argument list, after the call. */
function outAt(i = 0): number {
  return INTS[outSlots[i]];
}

/** A CHARACTER*1 argument. */
function char(c: string): Deno.PointerValue {
  const i = "NVLUASTO".indexOf(c);
  CHARS[i] = c.charCodeAt(0);
  return ptr(CHARS.subarray(i, i + 1));
}

/** A REAL / DOUBLE PRECISION argument. */
function real(p: Prec, v: number): Deno.PointerValue {
  if (p === SINGLE) {
    REAL32[0] = v;
    return ptr(REAL32);
  }
  REAL64[0] = v;
  return ptr(REAL64);
}

/** Matrix count of a batch of matrices (all axes but the last two). */
function batchCount(t: TensorView): number {
  let b = 1;
  for (let i = 0; i < t.ndim - 2; i++) b *= t.shape[i];
  return b;
}

/** Storage offsets of each matrix of `t` (the last two axes) in C order of the batch. */
function matrixOffsets(t: TensorView): Int32Array | Float64Array {
  const r = t.ndim;
  return stridedOffsets(t.shape.slice(0, r - 2), t.strides.slice(0, r - 2), t.offset);
}

/** Copy the rows × cols matrix of `src` at `base` (strides s0, s1) column-major into `dst`. */
function toColMajor(
  src: Real,
  base: number,
  rows: number,
  cols: number,
  s0: number,
  s1: number,
  dst: Real,
  ld: number,
): void {
  for (let j = 0; j < cols; j++) {
    const o = base + j * s1, d = j * ld;
    for (let i = 0; i < rows; i++) dst[d + i] = src[o + i * s0];
  }
}

/** Load matrix `bi` of `t` into `dst` column-major with leading dimension `ld`. */
function loadMatrix(
  t: TensorView,
  data: Real,
  offs: ArrayLike<number>,
  bi: number,
  dst: Real,
  ld = 0,
) {
  const r = t.ndim;
  const rows = t.shape[r - 2], cols = t.shape[r - 1];
  toColMajor(data, offs[bi], rows, cols, t.strides[r - 2], t.strides[r - 1], dst, ld || rows);
}

/** Store the rows × cols column-major `src` (leading dim `ld`) row-major at `o[off..]`. */
function storeRowMajor(o: Real, off: number, rows: number, cols: number, src: Real, ld: number) {
  for (let i = 0; i < rows; i++) {
    const d = off + i * cols;
    for (let j = 0; j < cols; j++) o[d + j] = src[i + j * ld];
  }
}

function allFinite(a: Real, len: number): boolean {
  for (let i = 0; i < len; i++) if (!Number.isFinite(a[i])) return false;
  return true;
}

/** The optimal LWORK a workspace query (LWORK = −1) left in `work[0]`. */
function lworkOf(work: Real): number {
  return Math.max(1, Math.ceil(work[0]));
}

function writeInfo(t: TensorView, bi: number, v: number): void {
  const s = t.storage as HostStorage;
  new Int32Array(s.buffer, s.byteOffset, s.byteLength >> 2)[t.offset + bi] = v;
}

/**
 * A LAPACK kernel: runs when LAPACK loaded, every input is f32/f64 (the op casts), and no input
 * is empty (empty matrices are left to the scalar reference, which defines their results).
 */
function lapackKernel(run: (call: KernelCall) => void): KernelEntry {
  return {
    supports(call: KernelCall): boolean {
      if (!load?.ok || !load.lapack) return false;
      return call.inputs.every((t) =>
        (t.dtype === "f32" || t.dtype === "f64") && t.size > 0 && t.ndim >= 2 && isHost(t)
      ) && call.outputs.every(isHost);
    },
    run,
  };
}

// ---- LU family -------------------------------------------------------------------------------

/**
 * Run `f` (a kernel's loop of LU factorizations: getrf, gesv) with OpenBLAS on one thread. Its threaded getrf
 * (`getrf_parallel`) recurses with a 540 KB stack frame per level: three or four levels overflow
 * the 2 MiB stack of the thread that runs JavaScript under `deno test` (a segfault in ~1 of 8 runs
 * of the linalg tests, found with gdb). The one-thread path has small frames.
 */
function serialLU<T>(f: () => T): T {
  const syms = lib().symbols;
  const before = syms.openblas_get_num_threads();
  if (before === 1) return f();
  syms.openblas_set_num_threads(1);
  try {
    return f();
  } finally {
    syms.openblas_set_num_threads(before);
  }
}

/**
 * LU-factor matrix `bi` of `a` into `w` (n × n column-major); returns getrf's INFO. Callers run
 * it inside {@link serialLU}.
 */
function getrf(p: Prec, w: Real, n: number, ipiv: Int32Array): number {
  args();
  fn(p, "getrf")(int(n), int(n), ptr(w), int(n), ptr(ipiv), outInt());
  return outAt();
}

const solve = lapackKernel((call) => {
  const [a, b] = call.inputs;
  const [x, infoOut] = call.outputs;
  const p = precOf(a);
  const n = a.shape[a.ndim - 1], k = b.shape[b.ndim - 1], nb = batchCount(a);
  const ad = view(a), bd = view(b), xd = view(x);
  const aOffs = matrixOffsets(a), bOffs = matrixOffsets(b);
  const w = arr(p, n * n), rhs = arr(p, n * k), ipiv = native(Int32Array, n);
  const gesv = fn(p, "gesv");
  serialLU(() => {
    for (let bi = 0; bi < nb; bi++) {
      loadMatrix(a, ad, aOffs, bi, w);
      loadMatrix(b, bd, bOffs, bi, rhs);
      args();
      gesv(int(n), int(k), ptr(w), int(n), ptr(ipiv), ptr(rhs), int(n), outInt());
      writeInfo(infoOut, bi, outAt());
      storeRowMajor(xd, x.offset + bi * n * k, n, k, rhs, n);
    }
  });
});

const inv = lapackKernel((call) => {
  const [a] = call.inputs;
  const [out, infoOut] = call.outputs;
  const p = precOf(a);
  const n = a.shape[a.ndim - 1], nb = batchCount(a);
  const ad = view(a), od = view(out), offs = matrixOffsets(a);
  const w = arr(p, n * n), ipiv = native(Int32Array, n);
  const getri = fn(p, "getri");
  let work = arr(p, 1);
  args();
  getri(int(n), ptr(w), int(n), ptr(ipiv), ptr(work), int(-1), outInt());
  work = arr(p, lworkOf(work));
  serialLU(() => {
    for (let bi = 0; bi < nb; bi++) {
      loadMatrix(a, ad, offs, bi, w);
      let info = getrf(p, w, n, ipiv);
      if (info === 0) {
        args();
        getri(int(n), ptr(w), int(n), ptr(ipiv), ptr(work), int(work.length), outInt());
        info = outAt();
      }
      writeInfo(infoOut, bi, info);
      storeRowMajor(od, out.offset + bi * n * n, n, n, w, n);
    }
  });
});

/** Sign and log|det| of each matrix of `a`, from getrf (like NumPy's slogdet). */
function slogdetBatch(a: TensorView): { sign: Float64Array; logdet: Float64Array } {
  const p = precOf(a);
  const n = a.shape[a.ndim - 1], nb = batchCount(a);
  const ad = view(a), offs = matrixOffsets(a);
  const w = arr(p, n * n), ipiv = native(Int32Array, n);
  const sign = new Float64Array(nb), logdet = new Float64Array(nb); // JS-side only
  serialLU(() => {
    for (let bi = 0; bi < nb; bi++) {
      loadMatrix(a, ad, offs, bi, w);
      if (getrf(p, w, n, ipiv) > 0) {
        sign[bi] = 0;
        logdet[bi] = -Infinity;
        continue;
      }
      let sg = 1, ld = 0;
      for (let j = 0; j < n; j++) {
        if (ipiv[j] !== j + 1) sg = -sg;
        let d = w[j * n + j];
        if (d < 0) sg = -sg, d = -d;
        ld += Math.log(d);
      }
      sign[bi] = sg;
      logdet[bi] = ld;
    }
  });
  return { sign, logdet };
}

const det = lapackKernel((call) => {
  const [out] = call.outputs;
  const { sign, logdet } = slogdetBatch(call.inputs[0]);
  const od = view(out);
  for (let i = 0; i < sign.length; i++) od[out.offset + i] = sign[i] * Math.exp(logdet[i]);
});

const slogdet = lapackKernel((call) => {
  const [so, lo] = call.outputs;
  const { sign, logdet } = slogdetBatch(call.inputs[0]);
  const sd = view(so), ld = view(lo);
  for (let i = 0; i < sign.length; i++) {
    sd[so.offset + i] = sign[i];
    ld[lo.offset + i] = logdet[i];
  }
});

// ---- Cholesky, QR ----------------------------------------------------------------------------

const cholesky = lapackKernel((call) => {
  const [a] = call.inputs;
  const [out, infoOut] = call.outputs;
  const upper = !!call.attrs.upper;
  const p = precOf(a);
  const n = a.shape[a.ndim - 1], nb = batchCount(a);
  const ad = view(a), od = view(out), offs = matrixOffsets(a);
  const w = arr(p, n * n);
  const potrf = fn(p, "potrf");
  for (let bi = 0; bi < nb; bi++) {
    loadMatrix(a, ad, offs, bi, w);
    args();
    potrf(char(upper ? "U" : "L"), int(n), ptr(w), int(n), outInt(), L1);
    writeInfo(infoOut, bi, outAt());
    const o = out.offset + bi * n * n;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) od[o + i * n + j] = (upper ? j >= i : j <= i) ? w[i + j * n] : 0;
    }
  }
});

const qr = lapackKernel((call) => {
  const [a] = call.inputs;
  const mode = call.attrs.mode as "reduced" | "complete" | "r";
  const p = precOf(a);
  const m = a.shape[a.ndim - 2], n = a.shape[a.ndim - 1], k = Math.min(m, n), nb = batchCount(a);
  const qc = mode === "complete" ? m : k, rr = mode === "complete" ? m : k;
  const [qOut, rOut] = mode === "r" ? [null, call.outputs[0]] : call.outputs;
  const ad = view(a), offs = matrixOffsets(a), rd = view(rOut), qd = qOut ? view(qOut) : null;
  const cols = Math.max(n, qc);
  const w = arr(p, m * cols), tau = arr(p, k);
  const geqrf = fn(p, "geqrf"), orgqr = fn(p, "orgqr");
  // Workspace: the larger of the two queries.
  const q = arr(p, 1);
  args();
  geqrf(int(m), int(n), ptr(w), int(m), ptr(tau), ptr(q), int(-1), outInt());
  let lwork = lworkOf(q);
  if (qd) {
    args();
    orgqr(int(m), int(qc), int(k), ptr(w), int(m), ptr(tau), ptr(q), int(-1), outInt());
    lwork = Math.max(lwork, lworkOf(q));
  }
  const work = arr(p, lwork);
  for (let bi = 0; bi < nb; bi++) {
    w.fill(0);
    loadMatrix(a, ad, offs, bi, w, m);
    args();
    geqrf(int(m), int(n), ptr(w), int(m), ptr(tau), ptr(work), int(lwork), outInt());
    const ro = rOut.offset + bi * rr * n;
    for (let i = 0; i < rr; i++) {
      for (let j = 0; j < n; j++) rd[ro + i * n + j] = i < m && j >= i ? w[i + j * m] : 0;
    }
    if (qd && qOut) {
      args();
      orgqr(int(m), int(qc), int(k), ptr(w), int(m), ptr(tau), ptr(work), int(lwork), outInt());
      storeRowMajor(qd, qOut.offset + bi * m * qc, m, qc, w, m);
    }
  }
});

// ---- eigenproblems ---------------------------------------------------------------------------

const eigh = lapackKernel((call) => {
  const [a] = call.inputs;
  const [wOut, vOut, infoOut] = call.outputs;
  const uplo = call.attrs.uplo === "U" ? "U" : "L";
  const p = precOf(a);
  const n = a.shape[a.ndim - 1], nb = batchCount(a);
  const ad = view(a), offs = matrixOffsets(a), wd = view(wOut), vd = view(vOut);
  const mat = arr(p, n * n), w = arr(p, n);
  const syevd = fn(p, "syevd");
  const qw = arr(p, 1), qi = native(Int32Array, 1);
  args();
  syevd(
    char("V"),
    char(uplo),
    int(n),
    ptr(mat),
    int(n),
    ptr(w),
    ptr(qw),
    int(-1),
    ptr(qi),
    int(-1),
    outInt(),
    L1,
    L1,
  );
  const work = arr(p, lworkOf(qw)), iwork = native(Int32Array, Math.max(1, qi[0]));
  for (let bi = 0; bi < nb; bi++) {
    loadMatrix(a, ad, offs, bi, mat);
    // Only the triangle LAPACK reads decides finiteness (like the scalar reference).
    let finite = true;
    for (let j = 0; j < n && finite; j++) {
      for (let i = uplo === "L" ? j : 0; i < (uplo === "L" ? n : j + 1); i++) {
        if (!Number.isFinite(mat[i + j * n])) finite = false;
      }
    }
    const wo = wOut.offset + bi * n, vo = vOut.offset + bi * n * n;
    if (!finite) {
      wd.fill(NaN, wo, wo + n);
      vd.fill(NaN, vo, vo + n * n);
      writeInfo(infoOut, bi, 0);
      continue;
    }
    args();
    syevd(
      char("V"),
      char(uplo),
      int(n),
      ptr(mat),
      int(n),
      ptr(w),
      ptr(work),
      int(work.length),
      ptr(iwork),
      int(iwork.length),
      outInt(),
      L1,
      L1,
    );
    writeInfo(infoOut, bi, outAt());
    for (let i = 0; i < n; i++) wd[wo + i] = w[i];
    storeRowMajor(vd, vo, n, n, mat, n);
  }
});

const eig = lapackKernel((call) => {
  const [a] = call.inputs;
  const [wrOut, wiOut, vrOut, viOut, infoOut] = call.outputs;
  const p = precOf(a);
  const n = a.shape[a.ndim - 1], nb = batchCount(a);
  const ad = view(a), offs = matrixOffsets(a);
  const wrd = view(wrOut), wid = view(wiOut), vrd = view(vrOut), vid = view(viOut);
  const mat = arr(p, n * n),
    wr = arr(p, n),
    wi = arr(p, n),
    vr = arr(p, n * n);
  const geev = fn(p, "geev");
  const q = arr(p, 1);
  const call1 = (work: Real, lwork: number) => {
    args();
    geev(
      char("N"),
      char("V"),
      int(n),
      ptr(mat),
      int(n),
      ptr(wr),
      ptr(wi),
      ptr(ONE),
      int(1),
      ptr(vr),
      int(n),
      ptr(work),
      int(lwork),
      outInt(),
      L1,
      L1,
    );
    return outAt();
  };
  call1(q, -1);
  const work = arr(p, lworkOf(q));
  for (let bi = 0; bi < nb; bi++) {
    loadMatrix(a, ad, offs, bi, mat);
    const wo = bi * n, vo = bi * n * n;
    if (!allFinite(mat, n * n)) {
      writeInfo(infoOut, bi, -1);
      continue;
    }
    const info = call1(work, work.length);
    writeInfo(infoOut, bi, info);
    if (info !== 0) continue;
    for (let j = 0; j < n; j++) {
      wrd[wrOut.offset + wo + j] = wr[j];
      wid[wiOut.offset + wo + j] = wi[j];
    }
    // geev packs a conjugate pair (j, j+1) as VR[:, j] ± i·VR[:, j+1].
    for (let j = 0; j < n; j++) {
      const pair = wi[j] !== 0 && j + 1 < n;
      for (let i = 0; i < n; i++) {
        const re = vr[i + j * n], im = pair ? vr[i + (j + 1) * n] : 0;
        vrd[vrOut.offset + vo + i * n + j] = re;
        vid[viOut.offset + vo + i * n + j] = im;
        if (pair) {
          vrd[vrOut.offset + vo + i * n + j + 1] = re;
          vid[viOut.offset + vo + i * n + j + 1] = -im;
        }
      }
      if (pair) j++;
    }
  }
});

// ---- SVD family ------------------------------------------------------------------------------

/** A gesdd runner for m × n matrices with `jobz` "A" / "S" / "N"; work arrays sized once. */
function gesddRunner(p: Prec, m: number, n: number, jobz: "A" | "S" | "N") {
  const k = Math.min(m, n);
  const uc = jobz === "A" ? m : jobz === "S" ? k : 0;
  const vr = jobz === "A" ? n : jobz === "S" ? k : 0;
  const mat = arr(p, m * n), s = arr(p, k);
  const u = arr(p, Math.max(1, m * uc)), vt = arr(p, Math.max(1, vr * n));
  const iwork = native(Int32Array, 8 * k);
  const gesdd = fn(p, "gesdd");
  const run = (work: Real, lwork: number) => {
    args();
    gesdd(
      char(jobz),
      int(m),
      int(n),
      ptr(mat),
      int(m),
      ptr(s),
      ptr(u),
      int(uc ? m : 1),
      ptr(vt),
      int(Math.max(1, vr)),
      ptr(work),
      int(lwork),
      ptr(iwork),
      outInt(),
      L1,
    );
    return outAt();
  };
  const q = arr(p, 1);
  run(q, -1);
  const work = arr(p, lworkOf(q));
  return { mat, s, u, vt, uc, vr, k, run: () => run(work, work.length) };
}

const svd = lapackKernel((call) => {
  const [a] = call.inputs;
  const { fullMatrices, computeUV } = call.attrs as { fullMatrices: boolean; computeUV: boolean };
  const p = precOf(a);
  const m = a.shape[a.ndim - 2], n = a.shape[a.ndim - 1], nb = batchCount(a);
  const ad = view(a), offs = matrixOffsets(a);
  const g = gesddRunner(p, m, n, computeUV ? (fullMatrices ? "A" : "S") : "N");
  const [uOut, sOut, vhOut, infoOut] = computeUV
    ? call.outputs
    : [null, call.outputs[0], null, call.outputs[1]];
  const sd = view(sOut), ud = uOut ? view(uOut) : null, vd = vhOut ? view(vhOut) : null;
  for (let bi = 0; bi < nb; bi++) {
    loadMatrix(a, ad, offs, bi, g.mat);
    if (!allFinite(g.mat, m * n)) {
      writeInfo(infoOut, bi, -1);
      continue;
    }
    const info = g.run();
    writeInfo(infoOut, bi, info);
    for (let i = 0; i < g.k; i++) sd[sOut.offset + bi * g.k + i] = g.s[i];
    if (ud && vd && uOut && vhOut) {
      storeRowMajor(ud, uOut.offset + bi * m * g.uc, m, g.uc, g.u, m);
      storeRowMajor(vd, vhOut.offset + bi * g.vr * n, g.vr, n, g.vt, g.vr);
    }
  }
});

const pinv = lapackKernel((call) => {
  const [a] = call.inputs;
  const [out, infoOut] = call.outputs;
  const rcond = call.attrs.rcond as number;
  const p = precOf(a);
  const m = a.shape[a.ndim - 2], n = a.shape[a.ndim - 1], nb = batchCount(a);
  const ad = view(a), od = view(out), offs = matrixOffsets(a);
  const g = gesddRunner(p, m, n, "S");
  const k = g.k;
  const pm = arr(p, n * m);
  const s = lib().symbols, gemm = p === SINGLE ? s.cblas_sgemm : s.cblas_dgemm;
  for (let bi = 0; bi < nb; bi++) {
    loadMatrix(a, ad, offs, bi, g.mat);
    const o = out.offset + bi * n * m;
    if (!allFinite(g.mat, m * n)) {
      writeInfo(infoOut, bi, -1);
      continue;
    }
    const info = g.run();
    writeInfo(infoOut, bi, info);
    // VT (k × n, column-major) is V (n × k) row-major: scale its column c by 1/s[c] (or 0),
    // then P (n × m) = V·S⁺ · Uᵀ, where U (m × k column-major) is Uᵀ (k × m) row-major.
    const cutoff = rcond * (k ? g.s[0] : 0);
    for (let c = 0; c < k; c++) {
      const f = g.s[c] > cutoff ? 1 / g.s[c] : 0;
      for (let i = 0; i < n; i++) g.vt[c + i * k] *= f;
    }
    gemm(
      CblasRowMajor,
      CblasNoTrans,
      CblasNoTrans,
      n,
      m,
      k,
      1,
      ptr(g.vt),
      k,
      ptr(g.u),
      m,
      0,
      ptr(pm),
      m,
    );
    for (let i = 0; i < n * m; i++) od[o + i] = pm[i];
  }
});

const matrixRank = lapackKernel((call) => {
  const [a] = call.inputs;
  const [out, infoOut] = call.outputs;
  const { tol, rtol } = call.attrs as { tol: number | null; rtol: number | null };
  const p = precOf(a);
  const m = a.shape[a.ndim - 2], n = a.shape[a.ndim - 1], nb = batchCount(a);
  const ad = view(a), offs = matrixOffsets(a);
  const g = gesddRunner(p, m, n, "N");
  const so = out.storage as HostStorage;
  const od = new BigInt64Array(so.buffer, so.byteOffset, so.byteLength >> 3);
  const rt = rtol ?? Math.max(m, n) * (a.dtype === "f32" ? 1.1920928955078125e-7 : 2 ** -52);
  for (let bi = 0; bi < nb; bi++) {
    loadMatrix(a, ad, offs, bi, g.mat);
    if (!allFinite(g.mat, m * n)) {
      writeInfo(infoOut, bi, -1);
      continue;
    }
    writeInfo(infoOut, bi, g.run());
    // Compare in the dtype's precision, as NumPy does with its f32 singular values.
    const sv = a.dtype === "f32" ? Array.from(g.s, Math.fround) : Array.from(g.s);
    const t = tol ?? (sv.length ? sv[0] : 0) * rt;
    let rank = 0;
    for (const x of sv) if (x > t) rank++;
    od[out.offset + bi] = BigInt(rank);
  }
});

const lstsq = lapackKernel((call) => {
  const [a, b] = call.inputs;
  const [xOut, resOut, rankOut, sOut, infoOut] = call.outputs;
  const p = precOf(a);
  const m = a.shape[0], n = a.shape[1], k = b.shape[1], mn = Math.min(m, n);
  const ldb = Math.max(m, n);
  const am = arr(p, m * n), bm = arr(p, ldb * k), s = arr(p, mn);
  loadMatrix(a, view(a), [a.offset], 0, am);
  loadMatrix(b, view(b), [b.offset], 0, bm, ldb);
  const xd = view(xOut), rd = view(resOut), sd = view(sOut);
  if (!allFinite(am, m * n) || !allFinite(bm, ldb * k)) {
    writeInfo(infoOut, 0, -1);
    return;
  }
  // NumPy computes in float64 for f32 too, so LAPACK's "machine precision" is f64's.
  const rcond = (call.attrs.rcond as number) < 0 ? 2 ** -52 : call.attrs.rcond as number;
  const gelsd = fn(p, "gelsd");
  const q = arr(p, 1), qi = native(Int32Array, 1);
  const run = (work: Real, lwork: number, iwork: Int32Array) => {
    args();
    gelsd(
      int(m),
      int(n),
      int(k),
      ptr(am),
      int(m),
      ptr(bm),
      int(ldb),
      ptr(s),
      real(p, rcond),
      outInt(),
      ptr(work),
      int(lwork),
      ptr(iwork),
      outInt(),
    );
    return { rank: outAt(0), info: outAt(1) };
  };
  run(q, -1, qi);
  const r = run(arr(p, lworkOf(q)), lworkOf(q), native(Int32Array, Math.max(1, qi[0])));
  writeInfo(infoOut, 0, r.info);
  writeInfo(rankOut, 0, r.rank);
  for (let i = 0; i < mn; i++) sd[sOut.offset + i] = s[i];
  // x: the first n rows of B; residuals ‖b − a·x‖² per column from the original operands.
  const X = new Float64Array(n * k); // JS-side only, like A64 and B64
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < k; c++) X[i * k + c] = bm[i + c * ldb];
  }
  for (let i = 0; i < n * k; i++) xd[xOut.offset + i] = X[i];
  const A64 = new Float64Array(m * n), B64 = new Float64Array(m * k);
  toColMajor(view(a), a.offset, m, n, a.strides[0], a.strides[1], A64, m);
  toColMajor(view(b), b.offset, m, k, b.strides[0], b.strides[1], B64, m);
  for (let c = 0; c < k; c++) {
    let ss = 0;
    for (let i = 0; i < m; i++) {
      let d = B64[i + c * m];
      for (let j = 0; j < n; j++) d -= A64[i + j * m] * X[j * k + c];
      ss += d * d;
    }
    rd[resOut.offset + c] = ss;
  }
});

// ---- the plugin ------------------------------------------------------------------------------

/** The OpenBLAS plugin's kernels, by op name. */
const kernels: KernelTable = {
  matmul,
  linear,
  ...convKernels(blasGemm),
  "linalg.solve": solve,
  "linalg.inv": inv,
  "linalg.det": det,
  "linalg.slogdet": slogdet,
  "linalg.cholesky": cholesky,
  "linalg.qr": qr,
  "linalg.eigh": eigh,
  "linalg.eig": eig,
  "linalg.svd": svd,
  "linalg.lstsq": lstsq,
  "linalg.pinv": pinv,
  "linalg.matrixRank": matrixRank,
};

/**
 * The OpenBLAS plugin (device "cpu"): `matmul` for f32/f64 through CBLAS and the `linalg.*`
 * kernels through LAPACK. Its probe opens the system OpenBLAS (`APRENDER_BLAS_PATH` overrides the
 * search); without the library or without `--allow-ffi` it is absent, with the reason.
 *
 * @example
 * ```ts
 * import { backends, openblasBackend, registerBackend } from "@aprender/compute";
 * registerBackend(openblasBackend, { priority: 20 });
 * const b = backends().find((b) => b.name === "openblas");
 * console.log(b?.status === "available" || b?.reason !== undefined); // true
 * ```
 */
export const openblasBackend: Backend = {
  name: "openblas",
  device: "cpu",
  probe,
  kernels,
};
