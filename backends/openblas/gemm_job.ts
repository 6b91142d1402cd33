/**
 * The split-GEMM job block and the code that runs its blocks: a leaf module (it imports nothing),
 * because the job kind ./split.ts registers with the CPU pool (backends/cpu/pool.ts) embeds
 * `runGemmSlots` and `openBlasGemm` as text, and the main thread calls the same functions. They refer
 * to nothing outside their own bodies and arguments.
 *
 * @module
 */

/** Kind word of a split-GEMM job (the WASM kernels' job kinds are below 64). */
export const KIND_BLAS_GEMM = 0x424c4153;

/** Int32 word indices of the job block; `ALPHA`..`C` index it as a Float64Array. */
export const GEMM_JOB = {
  KIND: 0,
  NEXT: 1,
  DONE: 2,
  SLOTS: 3,
  DOUBLE: 4,
  TA: 5,
  TB: 6,
  M: 7,
  N: 8,
  K: 9,
  LDA: 10,
  LDB: 11,
  LDC: 12,
  /** 1: blocks of columns of C (and B), 0: blocks of rows of C (and A). */
  SPLIT_N: 13,
  /** Columns (or rows) per block. */
  CHUNK: 14,
  /** Bytes of the library's path, which follows the block (at byte {@link GEMM_JOB_BYTES}). */
  PATH_LEN: 15,
  /** f64 indices: alpha, beta, then the absolute addresses of A, B and C. */
  ALPHA: 8,
  BETA: 9,
  A: 10,
  B: 11,
  C: 12,
  /** f64 index: the block's id (> 0, new for each block), by which workers cache their binding. */
  ID: 13,
} as const;

/** Bytes of the block before the library path's bytes. */
export const GEMM_JOB_BYTES = 128;

/**
 * The arguments of a CBLAS `?gemm` after the order (row-major here): transA, transB, m, n, k,
 * alpha, A, lda, B, ldb, beta, C, ldc.
 */
export type GemmArgs = [
  ta: number,
  tb: number,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Deno.PointerValue,
  lda: number,
  b: Deno.PointerValue,
  ldb: number,
  beta: number,
  c: Deno.PointerValue,
  ldc: number,
];

/** A CBLAS `?gemm` as Deno binds it. */
type CblasGemm = (order: number, ...args: GemmArgs) => void;

/** `[cblas_sgemm, cblas_dgemm]`. */
export type GemmPair = readonly [CblasGemm, CblasGemm];

/**
 * Claim blocks of the job at byte `job` of the memory (`i32`, `f64`: views of all of it) until
 * none is left, run each as one GEMM, count it done; returns how many this thread ran. Fields are
 * read after each claim: the block is reused, and a claim that succeeds is always of the job now
 * written (the main thread waits for every block of a job before it rewrites the block, and
 * closes the claim counter while it does).
 */
export function runGemmSlots(
  L: typeof GEMM_JOB,
  i32: Int32Array,
  f64: Float64Array,
  job: number,
  gemm: GemmPair,
): number {
  const w = job >>> 2, d = job >>> 3;
  let ran = 0;
  for (;;) {
    const s = Atomics.add(i32, w + L.NEXT, 1);
    if (s >= i32[w + L.SLOTS]) return ran;
    const dbl = i32[w + L.DOUBLE], ta = i32[w + L.TA], tb = i32[w + L.TB];
    const lda = i32[w + L.LDA], ldb = i32[w + L.LDB], ldc = i32[w + L.LDC];
    const splitN = i32[w + L.SPLIT_N] === 1, chunk = i32[w + L.CHUNK];
    let m = i32[w + L.M], n = i32[w + L.N];
    let a = f64[d + L.A], b = f64[d + L.B], c = f64[d + L.C];
    const es = dbl ? 8 : 4, lo = s * chunk, hi = Math.min(splitN ? n : m, lo + chunk);
    if (splitN) {
      n = hi - lo;
      b += es * lo * (tb === 111 ? 1 : ldb); // 111: CblasNoTrans
      c += es * lo;
    } else {
      m = hi - lo;
      a += es * lo * (ta === 111 ? lda : 1);
      c += es * lo * ldc;
    }
    if (hi > lo) {
      const P = (x: number) => Deno.UnsafePointer.create(BigInt(x));
      gemm[dbl](
        101, // CblasRowMajor
        ta,
        tb,
        m,
        n,
        i32[w + L.K],
        f64[d + L.ALPHA],
        P(a),
        lda,
        P(b),
        ldb,
        f64[d + L.BETA],
        P(c),
        ldc,
      );
    }
    Atomics.add(i32, w + L.DONE, 1);
    Atomics.notify(i32, w + L.DONE);
    ran++;
  }
}

/** Open the library at `path` in a worker: its `[sgemm, dgemm]`, or null when it cannot. */
export function openBlasGemm(path: string): GemmPair | null {
  const P = "pointer", I = "i32";
  const def = (real: "f32" | "f64"): Deno.ForeignFunction => ({
    parameters: [I, I, I, I, I, I, real, P, I, P, I, real, P, I],
    result: "void",
  });
  try {
    const lib = Deno.dlopen(path, { cblas_sgemm: def("f32"), cblas_dgemm: def("f64") });
    return [lib.symbols.cblas_sgemm, lib.symbols.cblas_dgemm] as unknown as GemmPair;
  } catch {
    return null;
  }
}
