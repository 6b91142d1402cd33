/**
 * Loading the system OpenBLAS through `Deno.dlopen`, and the symbols the plugin calls.
 *
 * The library is looked up at `APRENDER_BLAS_PATH` when that variable is set (and only there),
 * else at the usual Debian/Ubuntu paths (x86_64 and aarch64, the `openblas-pthread` alternative
 * first), else by its soname through the dynamic loader's search path. Every failure (no
 * `--allow-ffi`, no library, a missing BLAS symbol, no Deno at all) becomes a reason string,
 * never an exception, so the plugin can report itself absent.
 *
 * BLAS is bound through its CBLAS interface (`cblas_?gemm`, `cblas_?gemv`, row-major). LAPACK is
 * bound through its Fortran symbols (`dgetrf_`, ...: Debian's OpenBLAS ships no LAPACKE): every
 * argument by pointer, matrices column-major, and after the ordinary arguments one hidden length
 * (`size_t`) per CHARACTER argument, as gfortran's calling convention has it. LAPACK symbols are
 * optional: a BLAS-only library still gives the GEMM kernels, and `lapack` is missing from the
 * reported features.
 *
 * @module
 */
import { pinLibrary } from "../cpu/pin.ts";

const P = "pointer" as const;
const I32 = "i32" as const;

/** `n` pointer parameters, then `chars` hidden CHARACTER lengths (gfortran: size_t each). */
function fortran(n: number, chars = 0): Deno.ForeignFunction {
  return {
    parameters: [...new Array(n).fill(P), ...new Array(chars).fill("usize")],
    result: "void",
    optional: true,
  };
}

const gemm = (real: "f32" | "f64") =>
  ({
    // order, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc
    parameters: [I32, I32, I32, I32, I32, I32, real, P, I32, P, I32, real, P, I32],
    result: "void",
  }) as const;

const gemv = (real: "f32" | "f64") =>
  ({
    // order, trans, M, N, alpha, A, lda, X, incX, beta, Y, incY
    parameters: [I32, I32, I32, I32, real, P, I32, P, I32, real, P, I32],
    result: "void",
  }) as const;

/** LAPACK routines bound for each precision (prefix `s` or `d`), with their pointer counts. */
export const LAPACK = {
  getrf: fortran(6), // M N A LDA IPIV INFO
  getri: fortran(7), // N A LDA IPIV WORK LWORK INFO
  gesv: fortran(8), // N NRHS A LDA IPIV B LDB INFO
  getrs: fortran(9, 1), // TRANS N NRHS A LDA IPIV B LDB INFO
  potrf: fortran(5, 1), // UPLO N A LDA INFO
  geqrf: fortran(8), // M N A LDA TAU WORK LWORK INFO
  orgqr: fortran(9), // M N K A LDA TAU WORK LWORK INFO
  syevd: fortran(11, 2), // JOBZ UPLO N A LDA W WORK LWORK IWORK LIWORK INFO
  geev: fortran(14, 2), // JOBVL JOBVR N A LDA WR WI VL LDVL VR LDVR WORK LWORK INFO
  gesdd: fortran(14, 1), // JOBZ M N A LDA S U LDU VT LDVT WORK LWORK IWORK INFO
  gelsd: fortran(14), // M N NRHS A LDA B LDB S RCOND RANK WORK LWORK IWORK INFO
} as const;

/** Names of the LAPACK routines the plugin uses (without precision prefix and underscore). */
export type LapackName = keyof typeof LAPACK;

function lapackSymbols(prefix: "s" | "d") {
  const out: Record<string, Deno.ForeignFunction> = {};
  for (const [name, def] of Object.entries(LAPACK)) out[`${prefix}${name}_`] = def;
  return out as { [K in LapackName as `${typeof prefix}${K}_`]: Deno.ForeignFunction };
}

/** Every symbol the plugin binds (LAPACK ones optional). */
export const SYMBOLS = {
  cblas_sgemm: gemm("f32"),
  cblas_dgemm: gemm("f64"),
  cblas_sgemv: gemv("f32"),
  cblas_dgemv: gemv("f64"),
  openblas_set_num_threads: { parameters: [I32], result: "void" },
  openblas_get_num_threads: { parameters: [], result: "i32" },
  openblas_get_config: { parameters: [], result: "pointer" },
  ...lapackSymbols("s"),
  ...lapackSymbols("d"),
} as const;

/** The bound library. */
export type BlasLibrary = Deno.DynamicLibrary<typeof SYMBOLS>;

/** A LAPACK routine: all arguments by pointer (then hidden CHARACTER lengths as bigint). */
export type LapackFn = (...args: (Deno.PointerValue | bigint)[]) => void;

/** CBLAS enum values. */
export const CblasRowMajor = 101;
/** `CblasNoTrans`. */
export const CblasNoTrans = 111;
/** `CblasTrans`. */
export const CblasTrans = 112;

/** The outcome of {@link loadBlas}. */
export type BlasLoad =
  | {
    ok: true;
    lib: BlasLibrary;
    /** The path (or soname) that loaded. */
    path: string;
    /** `openblas_get_config()`. */
    config: string;
    /** Whether every LAPACK symbol resolved. */
    lapack: boolean;
  }
  | { ok: false; reason: string };

/** Candidate library locations, most specific first. */
export const DEFAULT_BLAS_PATHS: readonly string[] = [
  "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
  "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
  "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.so.0",
  "/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
  "/usr/lib64/libopenblas.so.0",
  "/usr/lib/libopenblas.so.0",
  "/usr/local/lib/libopenblas.so.0",
  "/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
  "/usr/local/opt/openblas/lib/libopenblas.dylib",
  "libopenblas.so.0",
];

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The `APRENDER_BLAS_PATH` override, read only when env access is already granted. */
function overridePath(): string | undefined {
  try {
    const q = Deno.permissions.querySync({ name: "env", variable: "APRENDER_BLAS_PATH" });
    if (q.state !== "granted") return undefined;
    return Deno.env.get("APRENDER_BLAS_PATH") || undefined;
  } catch {
    return undefined;
  }
}

let cached: BlasLoad | null = null;

/**
 * Open OpenBLAS once (later calls return the same result). Never throws: a failure comes back as
 * `{ ok: false, reason }`. The FFI permission is queried first, so a missing `--allow-ffi`
 * neither prompts nor throws.
 */
export function loadBlas(): BlasLoad {
  if (cached) return cached;
  cached = open();
  return cached;
}

function open(): BlasLoad {
  if (typeof Deno === "undefined" || typeof Deno.dlopen !== "function") {
    return { ok: false, reason: "Deno.dlopen is not available in this runtime" };
  }
  try {
    const q = Deno.permissions.querySync({ name: "ffi" });
    if (q.state !== "granted") {
      return {
        ok: false,
        reason: `no FFI permission (permission state "${q.state}"): run with --allow-ffi ` +
          `to use OpenBLAS`,
      };
    }
  } catch (e) {
    return { ok: false, reason: `FFI permission query failed: ${message(e)}` };
  }
  const override = overridePath();
  const paths = override ? [override] : DEFAULT_BLAS_PATHS;
  const failures: string[] = [];
  for (const path of paths) {
    let lib: BlasLibrary;
    try {
      lib = Deno.dlopen(path, SYMBOLS);
      pinLibrary(path); // never unloaded: see ../cpu/pin.ts (heap corruption at worker/process exit)
    } catch (e) {
      if (e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied) {
        return { ok: false, reason: `no FFI permission: ${message(e)}` };
      }
      failures.push(`${path}: ${message(e)}`);
      continue;
    }
    try {
      const cfg = lib.symbols.openblas_get_config();
      const config = cfg === null ? "" : Deno.UnsafePointerView.getCString(cfg);
      const lapack = Object.keys(LAPACK).every((k) =>
        lib.symbols[`d${k}_` as keyof typeof lib.symbols] !== null &&
        lib.symbols[`s${k}_` as keyof typeof lib.symbols] !== null
      );
      return { ok: true, lib, path, config, lapack };
    } catch (e) {
      lib.close();
      failures.push(`${path}: ${message(e)}`);
    }
  }
  // One line a user can act on; the per-path errors only with APRENDER_BLAS_VERBOSE=1 (dlopen
  // repeats "Could not open library:" in each, ~2 KB for the default list).
  const detail = verbose()
    ? `: ${failures.map((f) => f.replace(/(Could not open library: )+/g, "")).join("; ")}`
    : "; set APRENDER_BLAS_VERBOSE=1 to list why each failed";
  return {
    ok: false,
    reason: override
      ? `APRENDER_BLAS_PATH=${override} could not be loaded${
        verbose() ? detail : ` (${failures[0]?.split(": ").at(-1) ?? "unknown error"})`
      }`
      : `OpenBLAS not found: install libopenblas0-pthread (Debian/Ubuntu) or openblas ` +
        `(Homebrew), or set APRENDER_BLAS_PATH to the library file (tried ${paths.length} ` +
        `paths${detail})`,
  };
}

/** Whether APRENDER_BLAS_VERBOSE=1 (read only when env access is already granted). */
function verbose(): boolean {
  try {
    const q = Deno.permissions.querySync({ name: "env", variable: "APRENDER_BLAS_VERBOSE" });
    return q.state === "granted" && Deno.env.get("APRENDER_BLAS_VERBOSE") === "1";
  } catch {
    return false;
  }
}

/** The LAPACK routine `{prefix}{name}_` of a loaded library. */
export function lapackFn(lib: BlasLibrary, prefix: "s" | "d", name: LapackName): LapackFn {
  return lib.symbols[`${prefix}${name}_` as keyof typeof lib.symbols] as unknown as LapackFn;
}
