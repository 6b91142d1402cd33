/**
 * The WebGPU plugin's presence for GPU tests: probed once; under CI=true (where lavapipe is
 * installed) its absence is an error rather than a silent skip.
 */
import { backends, ready } from "../../mod.ts";

await ready();
const status = backends().find((b) => b.name === "webgpu");

/** Whether the WebGPU plugin is available on this machine. */
export const GPU_PRESENT: boolean = status?.status === "available";

if (!GPU_PRESENT && Deno.env.get("CI") === "true") {
  throw new Error(`CI=true but the WebGPU plugin is absent: ${status?.reason}`);
}

/** `Deno.test` options of a GPU test: skipped without an adapter; GPU state outlives one test. */
export const GPU_TEST = { ignore: !GPU_PRESENT, sanitizeResources: false, sanitizeOps: false };
