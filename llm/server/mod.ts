/**
 * The OpenAI-compatible server (`deno task serve`): {@link serve} over a loaded model.
 *
 * @example
 * ```ts ignore
 * import { DEFAULT_MODEL, loadModel } from "@aprender/compute/llm";
 * import { serve } from "@aprender/compute/llm/server";
 * const srv = serve({ model: await loadModel(DEFAULT_MODEL), port: 8080 });
 * ```
 *
 * @module
 */
export { serve, type ServeOptions, type ServerHandle } from "./server.ts";
export { ApiError } from "./api.ts";
export { JsonGrammar, SchemaError } from "./json_grammar.ts";
export {
  perSequenceStep,
  QueueFullError,
  Scheduler,
  type SeqStep,
  type StepFn,
} from "./scheduler.ts";
