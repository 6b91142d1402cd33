/**
 * Keep a shared library loaded for the rest of the process. Deno runs each test file in its own
 * worker and closes that worker's `Deno.dlopen` handles when the file ends; the next file's
 * `dlopen` then loads the library again, and ggml's static initializer aborts the whole process on
 * a second load (`GGML_ASSERT(prev != ggml_uncaught_exception)`, seen twice in full runs). Loading it
 * once more through libc's `dlopen` with `RTLD_NODELETE` makes every later unload a no-op.
 *
 * @module
 */
const RTLD_NOW = 0x2, RTLD_NODELETE = 0x1000;

/** Load `path` (absolute) and its dependencies so they are never unloaded in this process. */
export function pinLibrary(path: string): void {
  const libc = Deno.dlopen("libc.so.6", {
    dlopen: { parameters: ["buffer", "i32"], result: "pointer" },
  });
  try {
    const handle = libc.symbols.dlopen(
      new TextEncoder().encode(path + "\0"),
      RTLD_NOW | RTLD_NODELETE,
    );
    if (handle === null) throw new Error(`pinLibrary: dlopen failed for ${path}`);
  } finally {
    libc.close();
  }
}
