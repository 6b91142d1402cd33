/**
 * Keep a shared library loaded until the process exits (Linux/glibc: `dlopen` with
 * `RTLD_NODELETE`). Deno closes a worker's `Deno.dlopen` handles when the worker ends — every test
 * file of `deno test` and every pool worker is one — and the next `Deno.dlopen` loads the library
 * again. Two libraries we load do not survive that:
 *
 * - OpenBLAS (Debian 12's 0.3.21, thread-local buffers): a thread that ran a GEMM frees its buffers
 *   when it exits, and the library's destructor frees them too. When a pool worker that ran split
 *   GEMM blocks exits while the library is being unloaded (or at process exit), the heap is
 *   corrupted: `deno test tests/server/` aborted with "corrupted size vs. prev_size in fastbins" /
 *   "double free or corruption" after all tests passed in 5 of 16 runs (core dumps: the main thread
 *   in `gotoblas_quit` from `_dl_fini`, another thread freeing its thread-local data); pinned, 0 of
 *   12.
 * - ggml: its static initializer aborts the process on a second load
 *   (`GGML_ASSERT(prev != ggml_uncaught_exception)`).
 *
 * Pinning keeps one copy, its thread-local keys and its threads for the life of the process.
 *
 * @module
 */
const RTLD_NOW = 0x2, RTLD_NODELETE = 0x1000;

/**
 * Load `path` (and its dependencies) so that it is never unloaded in this process. Returns false
 * where that cannot be done (no glibc `dlopen`, not Linux, or the library does not load); the
 * caller's own `Deno.dlopen` handle works either way.
 *
 * @example
 * ```ts
 * import { pinLibrary } from "./pin.ts";
 * pinLibrary("/usr/lib/x86_64-linux-gnu/libopenblas.so.0"); // true where it loads on Linux
 * ```
 */
export function pinLibrary(path: string): boolean {
  if (Deno.build.os !== "linux") return false;
  let libc: Deno.DynamicLibrary<{ dlopen: { parameters: ["buffer", "i32"]; result: "pointer" } }>;
  try {
    libc = Deno.dlopen("libc.so.6", {
      dlopen: { parameters: ["buffer", "i32"], result: "pointer" },
    });
  } catch {
    return false;
  }
  try {
    const name = new TextEncoder().encode(path + "\0");
    return libc.symbols.dlopen(name, RTLD_NOW | RTLD_NODELETE) !== null;
  } finally {
    libc.close();
  }
}
