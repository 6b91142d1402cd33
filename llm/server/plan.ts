/**
 * Checked completion requests: the body's fields, the prompt tokens, the token budget against the
 * context, the grammar from `response_format` or a forced `tool_choice`.
 *
 * @module
 */
import { type ChatMessage, chatPrompt } from "../chat.ts";
import type { Model } from "../model/model.ts";
import {
  ApiError,
  bad,
  COMMON_FIELDS,
  contentText,
  type GenParams,
  genParams,
  onlyKnown,
} from "./api.ts";
import type { TokenTrie } from "./constraint.ts";
import { JsonGrammar, SchemaError } from "./json_grammar.ts";
import type { Scheduler } from "./scheduler.ts";
import {
  callGrammar,
  callTags,
  parseTools,
  templateHasTools,
  type ToolSpec,
  toolSystemText,
} from "./tools.ts";

/** What the handlers need from the server. */
export interface Engine {
  /** The model. */
  model: Model;
  /** Its name in responses. */
  modelName: string;
  /** The slot scheduler. */
  scheduler: Scheduler;
  /** Positions per slot. */
  contextLength: number;
  /** The most tokens one request may ask for. */
  maxTokensCap: number;
  /** The vocabulary trie (built on first use of a grammar). */
  trie?: TokenTrie;
  /** Told the usage of each answered request and its choices' first-token latencies (ms). */
  onUsage?: (
    u: { prompt_tokens: number; completion_tokens: number },
    firstTokenMs: number[],
  ) => void;
}

type Body = Record<string, unknown>;

/** A request ready to run: prompts, settings, budget, grammar and tool mode. */
export interface Plan {
  prompts: number[][];
  params: GenParams;
  maxTokens: number;
  grammar: JsonGrammar | null;
  tools: ToolSpec[];
  toolMode: boolean;
  /** Length of the text after a forced call's JSON (its closing tag), or null when not forced. */
  forced: number | null;
}

/** The token budget of a prompt, or a 400 naming the counts. */
function checkLength(e: Engine, ids: number[], params: GenParams, what: string): number {
  const ctx = e.contextLength;
  if (ids.length === 0) throw bad(what, `the ${what} is empty (0 tokens).`);
  if (ids.length >= ctx) {
    throw new ApiError(
      400,
      `This model's maximum context length is ${ctx} tokens. However, your ${what} resulted in ` +
        `${ids.length} tokens. Hint: shorten the ${what}, or start the server with a larger --ctx.`,
      what,
      "context_length_exceeded",
    );
  }
  const room = ctx - ids.length;
  if (params.maxTokens !== null && params.maxTokens > room) {
    throw new ApiError(
      400,
      `This model's maximum context length is ${ctx} tokens. However, you requested ` +
        `${ids.length + params.maxTokens} tokens (${ids.length} in the ${what}, ` +
        `${params.maxTokens} for the completion). Hint: reduce max_tokens to ≤ ${room}.`,
      "max_tokens",
      "context_length_exceeded",
    );
  }
  return Math.min(params.maxTokens ?? room, room, e.maxTokensCap);
}

function responseGrammar(rf: unknown): JsonGrammar | null {
  if (rf === undefined || rf === null) return null;
  const r = rf as Body;
  if (typeof rf !== "object" || Array.isArray(rf)) {
    throw bad("response_format", "'response_format' must be an object.");
  }
  if (r.type === "text") return null;
  if (r.type === "json_object") return JsonGrammar.anyObject();
  if (r.type !== "json_schema") {
    throw bad(
      "response_format.type",
      `response_format.type must be text, json_object or json_schema, got ${
        JSON.stringify(r.type)
      }.`,
    );
  }
  const js = r.json_schema as Body | undefined;
  if (typeof js !== "object" || js === null || typeof js.name !== "string") {
    throw bad(
      "response_format.json_schema",
      "response_format.json_schema must be {name, schema, strict?}.",
    );
  }
  try {
    return JsonGrammar.fromSchema(js.schema ?? {});
  } catch (e) {
    if (e instanceof SchemaError) throw bad("response_format.json_schema.schema", e.message);
    throw e;
  }
}

/** Check a chat request and render its prompt. */
export function planChat(e: Engine, b: Body): Plan {
  onlyKnown(b, [
    ...COMMON_FIELDS,
    "messages",
    "max_completion_tokens",
    "top_logprobs",
    "response_format",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
  ]);
  const params = genParams(b, e.model.tokenizer.size, true);
  if (!Array.isArray(b.messages) || b.messages.length === 0) {
    throw bad("messages", "'messages' must be a non-empty array of {role, content}.");
  }
  const messages: ChatMessage[] = b.messages.map((m, i) => {
    if (typeof m !== "object" || m === null || typeof (m as Body).role !== "string") {
      throw bad(`messages[${i}]`, `messages[${i}] must be an object with a string 'role'.`);
    }
    const role = (m as Body).role as string;
    if (!["system", "developer", "user", "assistant", "tool"].includes(role)) {
      throw bad(
        `messages[${i}].role`,
        `messages[${i}].role must be system, developer, user, assistant or tool, got '${role}'.`,
      );
    }
    return {
      ...(m as Body),
      role: role === "developer" ? "system" : role,
      content: contentText((m as Body).content, i),
    };
  });
  const { specs, choice } = parseTools(b.tools, b.tool_choice);
  let grammar = responseGrammar(b.response_format);
  const src = e.model.chatTemplate.source;
  const useTools = specs.length > 0 && choice !== "none";
  let msgs = messages;
  const render: { tools?: unknown[] } = {};
  if (useTools) {
    if (templateHasTools(src)) render.tools = specs.map((s) => ({ type: "function", function: s }));
    else msgs = [{ role: "system", content: toolSystemText(specs) }, ...messages];
    if (choice !== "auto") {
      if (grammar) {
        throw bad(
          "response_format",
          "response_format cannot be combined with a forced tool_choice.",
        );
      }
      grammar = callGrammar(specs, choice, src);
    }
  }
  let ids: number[];
  try {
    ids = chatPrompt(e.model.tokenizer, e.model.chatTemplate, msgs, {
      addGenerationPrompt: true,
      ...render,
    }).ids;
  } catch (err) {
    throw bad(
      "messages",
      `the chat template could not render the messages: ${(err as Error).message}`,
    );
  }
  const maxTokens = checkLength(e, ids, params, "messages");
  if (grammar) {
    // one byte per token is the worst case of the forced close: below that it could not finish
    const need = grammar.minimalCompletion(grammar.start()).length;
    if (maxTokens < need) {
      throw bad(
        params.maxTokens === null ? "messages" : "max_tokens",
        `max_tokens ${maxTokens} cannot hold the shortest valid output of the schema ` +
          `(${need} bytes, up to one token each). Hint: max_tokens ≥ ${need}.`,
      );
    }
  }
  const forced = useTools && choice !== "auto" ? callTags(src).suffix.length : null;
  return { prompts: [ids], params, maxTokens, grammar, tools: specs, toolMode: useTools, forced };
}

/** Check a text completion request and tokenize its prompts. */
export function planText(e: Engine, b: Body): Plan {
  onlyKnown(b, [...COMMON_FIELDS, "prompt", "echo", "suffix", "best_of"]);
  if (b.echo === true) throw bad("echo", "'echo: true' is not supported. Hint: omit it.");
  if (b.suffix !== undefined && b.suffix !== null) {
    throw bad("suffix", "'suffix' is not supported.");
  }
  if (b.best_of !== undefined && b.best_of !== null && b.best_of !== 1) {
    throw bad("best_of", "only best_of: 1 is supported.");
  }
  const params = genParams(b, e.model.tokenizer.size, false);
  const p = b.prompt;
  const tok = e.model.tokenizer;
  const isIds = (a: unknown) =>
    Array.isArray(a) && a.length > 0 &&
    a.every((x) => Number.isInteger(x) && x >= 0 && x < tok.size);
  let prompts: number[][];
  if (typeof p === "string") prompts = [tok.encode(p, { addSpecial: true })];
  else if (isIds(p)) prompts = [p as number[]];
  else if (
    Array.isArray(p) && p.length > 0 && p.length <= 16 && p.every((x) => typeof x === "string")
  ) {
    prompts = (p as string[]).map((s) => tok.encode(s, { addSpecial: true }));
  } else if (Array.isArray(p) && p.length > 0 && p.length <= 16 && p.every(isIds)) {
    prompts = p as number[][];
  } else {
    throw bad(
      "prompt",
      `'prompt' must be a string, an array of ≤ 16 strings, or token ids in [0, ${tok.size}).`,
    );
  }
  let maxTokens = Infinity;
  for (const ids of prompts) maxTokens = Math.min(maxTokens, checkLength(e, ids, params, "prompt"));
  return { prompts, params, maxTokens, grammar: null, tools: [], toolMode: false, forced: null };
}
