/**
 * The bundled default model: a 1,836,288-parameter llama trained with this library on the King
 * James Bible (`deno task train:lm`, see README), exported to GGUF and quantized to Q8_0 (2.0 MB).
 * The demo, `deno task generate` and `deno task chat` use it when no `--model` is given.
 *
 * @module
 */
import { fileURLToPath } from "node:url";

/**
 * Path of the bundled model file (`models/kjv-llama-q8_0.gguf` in the repository).
 *
 * @example
 * ```ts ignore
 * import { DEFAULT_MODEL, loadModel } from "@aprender/compute/llm";
 * const model = await loadModel(DEFAULT_MODEL);
 * ```
 */
export const DEFAULT_MODEL: string = fileURLToPath(
  new URL("../models/kjv-llama-q8_0.gguf", import.meta.url),
);
