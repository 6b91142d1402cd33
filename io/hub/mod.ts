/**
 * Models by name: pull GGUF, safetensors and ONNX files from a Hugging Face-style hub or a plain
 * URL into a local cache, with resume, checksums, locking, progress and offline mode.
 *
 * @example
 * ```ts ignore
 * import { resolveModel } from "@aprender/compute/io";
 * const path = await resolveModel("owner/repo:Q4_K_M"); // or a local path, or hf://…, or https://…
 * ```
 *
 * @module
 */
export { hubCacheDir, hubEndpoint, hubOffline } from "./config.ts";
export { HubError, type HubErrorInfo, type HubErrorKind } from "./errors.ts";
export { type ProgressInfo, sha256File } from "./download.ts";
export { isModelName, type ModelName, parseModelName } from "./names.ts";
export { progressBar } from "./progress.ts";
export { pull, type PullOptions, type PullResult, resolveModel } from "./pull.ts";
