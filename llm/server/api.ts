/**
 * OpenAI request bodies: typed errors in OpenAI's shape, and the checks that turn a parsed JSON
 * body into {@link GenParams} (every field's type and range, unknown fields refused).
 *
 * @module
 */
import { ComputeError } from "../../core/errors.ts";

/**
 * An HTTP error with OpenAI's body `{ error: { message, type, param, code } }`.
 *
 * @example
 * ```ts
 * import { ApiError } from "./api.ts";
 * const e = new ApiError(400, "temperature must be ≤ 2, got 3", "temperature");
 * console.log(e.status, e.body().error.param); // 400 "temperature"
 * ```
 */
export class ApiError extends ComputeError {
  /**
   * An error response.
   *
   * @param status HTTP status
   * @param message what was wrong, with the value and a hint
   * @param param the request field, or null
   * @param code a machine-readable code, or null
   * @param type OpenAI's error type
   * @param headers extra response headers (e.g. Retry-After)
   */
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly type: string = status === 401
      ? "authentication_error"
      : status === 429
      ? "rate_limit_error"
      : status >= 500
      ? "server_error"
      : "invalid_request_error",
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  /** The JSON body. */
  body(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return {
      error: { message: this.message, type: this.type, param: this.param, code: this.code },
    };
  }
}

/** Sampling and stopping settings shared by both completion endpoints. */
export interface GenParams {
  /** Stream as server-sent events. */
  stream: boolean;
  /** Add a usage chunk at the end of a stream. */
  includeUsage: boolean;
  /** Choices to generate. */
  n: number;
  /** Stop strings. */
  stop: string[];
  /** Tokens to generate at most (null: until the context is full, capped by the server). */
  maxTokens: number | null;
  /** Sampler settings. */
  temperature: number;
  /** Nucleus mass. */
  topP: number;
  /** Top-k (0 = off). */
  topK: number;
  /** Min-p. */
  minP: number;
  /** Repetition penalty. */
  repeatPenalty: number;
  /** Presence penalty. */
  presencePenalty: number;
  /** Frequency penalty. */
  frequencyPenalty: number;
  /** Seed (null: random per request). */
  seed: number | null;
  /** Token id → bias. */
  logitBias: Map<number, number>;
  /** Report logprobs. */
  logprobs: boolean;
  /** Alternatives per token. */
  topLogprobs: number;
}

type Body = Record<string, unknown>;

/** A 400 for field `param`. */
export function bad(param: string, message: string): ApiError {
  return new ApiError(400, message, param, "invalid_value");
}

function num(b: Body, k: string, lo: number, hi: number, dflt: number, int = false): number {
  const v = b[k];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw bad(k, `'${k}' must be a number, got ${JSON.stringify(v)}.`);
  }
  if (int && !Number.isInteger(v)) throw bad(k, `'${k}' must be an integer, got ${v}.`);
  if (v < lo || v > hi) {
    throw bad(k, `'${k}' must be between ${lo} and ${hi}, got ${v}.`);
  }
  return v;
}

function bool(b: Body, k: string, dflt: boolean): boolean {
  const v = b[k];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== "boolean") throw bad(k, `'${k}' must be a boolean, got ${JSON.stringify(v)}.`);
  return v;
}

/**
 * Refuse fields the endpoint does not know (OpenAI's wording).
 *
 * @param b the body
 * @param known the accepted field names
 */
export function onlyKnown(b: Body, known: readonly string[]): void {
  for (const k of Object.keys(b)) {
    if (!known.includes(k)) {
      throw new ApiError(
        400,
        `Unrecognized request argument supplied: ${k}. Hint: known fields are ${known.join(", ")}.`,
        k,
        "unknown_parameter",
      );
    }
  }
}

/** Fields both completion endpoints accept. */
export const COMMON_FIELDS = [
  "model",
  "stream",
  "stream_options",
  "n",
  "stop",
  "max_tokens",
  "temperature",
  "top_p",
  "top_k",
  "min_p",
  "repeat_penalty",
  "presence_penalty",
  "frequency_penalty",
  "seed",
  "logit_bias",
  "logprobs",
  "user",
] as const;

/**
 * Check the shared fields.
 *
 * @param b the parsed body
 * @param vocab vocabulary size (for logit_bias ids)
 * @param chat whether `logprobs` is a boolean (chat) or a count (completions)
 */
export function genParams(b: Body, vocab: number, chat: boolean): GenParams {
  if (b.model !== undefined && typeof b.model !== "string") {
    throw bad("model", `'model' must be a string, got ${JSON.stringify(b.model)}.`);
  }
  const stream = bool(b, "stream", false);
  let includeUsage = false;
  if (b.stream_options !== undefined && b.stream_options !== null) {
    const so = b.stream_options;
    if (typeof so !== "object" || Array.isArray(so)) {
      throw bad("stream_options", "'stream_options' must be an object like {include_usage: true}.");
    }
    if (!stream) throw bad("stream_options", "'stream_options' is only allowed with stream: true.");
    onlyKnown(so as Body, ["include_usage"]);
    includeUsage = bool(so as Body, "include_usage", false);
  }
  let stop: string[] = [];
  if (typeof b.stop === "string") stop = [b.stop];
  else if (Array.isArray(b.stop)) {
    if (b.stop.length > 4 || b.stop.some((s) => typeof s !== "string" || s === "")) {
      throw bad("stop", "'stop' must be a non-empty string or up to 4 non-empty strings.");
    }
    stop = b.stop as string[];
  } else if (b.stop !== undefined && b.stop !== null) {
    throw bad(
      "stop",
      `'stop' must be a string or an array of strings, got ${JSON.stringify(b.stop)}.`,
    );
  }
  const mt = b.max_completion_tokens ?? b.max_tokens;
  const mtKey = b.max_completion_tokens !== undefined ? "max_completion_tokens" : "max_tokens";
  const maxTokens = mt === undefined || mt === null
    ? null
    : num({ [mtKey]: mt }, mtKey, 1, 1e9, 1, true);
  const bias = new Map<number, number>();
  if (b.logit_bias !== undefined && b.logit_bias !== null) {
    if (typeof b.logit_bias !== "object" || Array.isArray(b.logit_bias)) {
      throw bad("logit_bias", "'logit_bias' must be an object mapping token ids to numbers.");
    }
    for (const [k, v] of Object.entries(b.logit_bias as Body)) {
      const id = Number(k);
      if (!/^\d+$/.test(k) || id >= vocab) {
        throw bad("logit_bias", `logit_bias key '${k}' is not a token id in [0, ${vocab}).`);
      }
      if (typeof v !== "number" || !(v >= -100 && v <= 100)) {
        throw bad("logit_bias", `logit_bias value for ${k} must be a number in [-100, 100].`);
      }
      bias.set(id, v === -100 ? -Infinity : v);
    }
  }
  let logprobs: boolean, topLogprobs: number;
  if (chat) {
    logprobs = bool(b, "logprobs", false);
    topLogprobs = num(b, "top_logprobs", 0, 20, 0, true);
    if (b.top_logprobs !== undefined && b.top_logprobs !== null && !logprobs) {
      throw bad("top_logprobs", "'top_logprobs' needs 'logprobs: true'.");
    }
  } else {
    const lp = num(b, "logprobs", 0, 5, -1, true);
    logprobs = lp >= 0;
    topLogprobs = Math.max(lp, 0);
  }
  const seed = b.seed === undefined || b.seed === null
    ? null
    : num(b, "seed", -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 0, true);
  return {
    stream,
    includeUsage,
    n: num(b, "n", 1, 16, 1, true),
    stop,
    maxTokens,
    temperature: num(b, "temperature", 0, 2, 1),
    topP: num(b, "top_p", 0, 1, 1),
    topK: num(b, "top_k", 0, 1e9, 0, true),
    minP: num(b, "min_p", 0, 1, 0),
    repeatPenalty: num(b, "repeat_penalty", 0, 10, 1),
    presencePenalty: num(b, "presence_penalty", -2, 2, 0),
    frequencyPenalty: num(b, "frequency_penalty", -2, 2, 0),
    seed,
    logitBias: bias,
    logprobs,
    topLogprobs,
  };
}

/**
 * Text of a message's `content`: a string, null, or a list of `{type: "text", text}` parts.
 *
 * @param c the content
 * @param i the message index (for the error)
 */
export function contentText(c: unknown, i: number): string {
  if (c === undefined || c === null) return "";
  if (typeof c === "string") return c;
  if (Array.isArray(c)) {
    return c.map((p, j) => {
      if (typeof p === "object" && p !== null && (p as Body).type === "text") {
        const t = (p as Body).text;
        if (typeof t === "string") return t;
      }
      throw bad(
        `messages[${i}].content[${j}]`,
        `messages[${i}].content[${j}] must be {type: "text", text: string}; this model reads ` +
          `text only.`,
      );
    }).join("");
  }
  throw bad(
    `messages[${i}].content`,
    `messages[${i}].content must be a string or an array of parts.`,
  );
}
