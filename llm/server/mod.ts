/**
 * The OpenAI-compatible server (`deno task serve`): {@link serve} over a loaded model. Not a
 * published entry of the package yet (the task and the tests import it by path).
 *
 * @example
 * ```ts ignore
 * import { DEFAULT_MODEL, loadModel } from "@aprender/compute/llm";
 * import { serve } from "./llm/server/mod.ts";
 * const srv = serve({ model: await loadModel(DEFAULT_MODEL), port: 8080 });
 * ```
 *
 * @module
 */
import "../../backends/runtime.ts";

export { serve, type ServeOptions, type ServerHandle } from "./server.ts";
export { ApiError } from "./api.ts";
export { type GrammarState, JsonGrammar, SchemaError } from "./json_grammar.ts";
export {
  defaultStep,
  type FinishReason,
  type Job,
  type JobResult,
  perSequenceStep,
  QueueFullError,
  Scheduler,
  type SchedulerCounters,
  type SeqStep,
  type StepFn,
  type TokenEvent,
} from "./scheduler.ts";
export type { Model } from "../model/model.ts";
export type { KVCache } from "../model/forward.ts";
export { ComputeError } from "../../core/errors.ts";
