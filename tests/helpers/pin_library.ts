/**
 * Keep a shared library loaded for the rest of the test process (ggml's static initializer
 * aborts on a second load; see backends/cpu/pin.ts for why and how). Throws where it cannot pin.
 *
 * @module
 */
import { pinLibrary as pin } from "../../backends/cpu/pin.ts";

/** Load `path` (absolute) and its dependencies so they are never unloaded in this process. */
export function pinLibrary(path: string): void {
  if (!pin(path)) throw new Error(`pinLibrary: dlopen failed for ${path}`);
}
