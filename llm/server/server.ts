/**
 * The OpenAI-compatible HTTP server on `Deno.serve`: routing, API key, CORS, body limits,
 * `/v1/models`, `/v1/embeddings`, `/health`, `/metrics` (Prometheus text), the chat page, and a
 * graceful shutdown that lets running answers finish (or cancels them after a grace period).
 *
 * @module
 */
import "../../backends/runtime.ts";
import type { Model } from "../model/model.ts";
import type { GpuDecoder } from "../model/gpu/decoder.ts";
import { ApiError, bad, onlyKnown } from "./api.ts";
import { complete, type Engine } from "./completions.ts";
import { chatPage } from "./page.ts";
import { QueueFullError, Scheduler, type StepFn } from "./scheduler.ts";

/** Options of {@link serve}. */
export interface ServeOptions {
  /** The loaded model (the server does not dispose it). */
  model: Model;
  /** Name reported by /v1/models and in responses (default "model"). */
  modelName?: string;
  /** Port (0 picks a free one; default 8080). */
  port?: number;
  /** Interface (default 127.0.0.1: only this machine). */
  hostname?: string;
  /** Slots decoding at once (default 1). */
  parallel?: number;
  /** Positions per slot (default the model's context). */
  contextLength?: number;
  /** Requests waiting for a slot before 429 (default 64). */
  maxQueue?: number;
  /** Required Bearer key (default none). */
  apiKey?: string;
  /** Allowed CORS origin ("*" or one origin); off by default. */
  cors?: string;
  /** Largest request body in bytes (default 1 MiB). */
  maxBodyBytes?: number;
  /** Largest max_tokens one request gets (default the context). */
  maxTokens?: number;
  /** The forward step over several sequences (default: `defaultStep`, batched where available). */
  step?: StepFn;
  /**
   * Decode on this GPU decoder (of the same model file; one slot only) every request it can take:
   * greedy or seeded top-k ≤ 64 sampling without penalties, logit bias, grammar or logprobs.
   */
  gpu?: GpuDecoder;
  /** Called once listening. */
  onListen?: (addr: { hostname: string; port: number }) => void;
}

/** A running server. */
export interface ServerHandle {
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** The port it listens on. */
  port: number;
  /** The slot scheduler (for tests and metrics). */
  scheduler: Scheduler;
  /**
   * Stop accepting, let running answers finish for `graceMs` (default 10 s), cancel the rest,
   * close the listener and free the slots' KV caches.
   */
  shutdown(graceMs?: number): Promise<void>;
  /** Resolves when the server has stopped. */
  finished: Promise<void>;
}

class Metrics {
  requests = new Map<string, number>();
  promptTokens = 0;
  completionTokens = 0;
  firstTokenSum = 0;
  firstTokenCount = 0;

  count(route: string, status: number) {
    const k = `route="${route}",status="${status}"`;
    this.requests.set(k, (this.requests.get(k) ?? 0) + 1);
  }

  text(s: Scheduler): string {
    const c = s.counters;
    const lines: string[] = [];
    const m = (name: string, type: string, help: string, rows: [string, number][]) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, v] of rows) lines.push(`${name}${labels ? `{${labels}}` : ""} ${v}`);
    };
    m("aprender_requests_total", "counter", "HTTP requests by route and status.", [
      ...this.requests,
    ]);
    m("aprender_prompt_tokens_total", "counter", "Prompt tokens of finished requests (usage).", [[
      "",
      this.promptTokens,
    ]]);
    m(
      "aprender_completion_tokens_total",
      "counter",
      "Completion tokens of finished requests (usage).",
      [["", this.completionTokens]],
    );
    m("aprender_prefill_tokens_total", "counter", "Prompt tokens run through the model.", [[
      "",
      c.promptTokens,
    ]]);
    m(
      "aprender_prefix_cache_tokens_total",
      "counter",
      "Prompt tokens reused from a slot's KV cache.",
      [["", c.cachedTokens]],
    );
    m("aprender_generated_tokens_total", "counter", "Tokens sampled.", [["", c.generatedTokens]]);
    m("aprender_steps_total", "counter", "Forward steps.", [["", c.steps]]);
    m(
      "aprender_sequences_total",
      "counter",
      "Sequences finished by reason.",
      Object.entries(c.finished).map(([k, v]) => [`reason="${k}"`, v]),
    );
    m("aprender_queue_depth", "gauge", "Requests waiting for a slot.", [["", s.queued]]);
    m("aprender_slots_busy", "gauge", "Slots generating.", [["", s.active]]);
    m("aprender_slots_total", "gauge", "Slots (--parallel).", [["", s.parallel]]);
    m("aprender_tokens_per_second", "gauge", "Generated tokens per second over the last 10 s.", [[
      "",
      +s.tokensPerSecond.toFixed(3),
    ]]);
    m("aprender_kv_cache_bytes", "gauge", "Bytes of the slots' KV caches.", [["", s.cacheBytes]]);
    m("aprender_first_token_seconds_sum", "counter", "Sum of first-token latencies.", [[
      "",
      +(this.firstTokenSum / 1000).toFixed(6),
    ]]);
    m("aprender_first_token_seconds_count", "counter", "Requests with a first token.", [[
      "",
      this.firstTokenCount,
    ]]);
    return lines.join("\n") + "\n";
  }
}

async function readJson(req: Request, limit: number): Promise<Record<string, unknown>> {
  const len = Number(req.headers.get("content-length") ?? NaN);
  const tooBig = (n: number) =>
    new ApiError(
      413,
      `The request body is ${n} bytes; the limit is ${limit}. Hint: send a shorter prompt.`,
      null,
      "request_too_large",
    );
  if (len > limit) throw tooBig(len);
  const chunks: Uint8Array[] = [];
  let n = 0;
  if (req.body) {
    for await (const c of req.body) {
      n += c.length;
      if (n > limit) throw tooBig(n);
      chunks.push(c);
    }
  }
  const all = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) all.set(c, o), (o += c.length);
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(all));
  } catch (e) {
    throw new ApiError(
      400,
      `We could not parse the JSON body of your request: ${
        (e as Error).message
      }. Hint: send valid JSON with content-type application/json.`,
      null,
      "invalid_json",
    );
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new ApiError(400, "The request body must be a JSON object.", null, "invalid_json");
  }
  return v as Record<string, unknown>;
}

interface Embedder {
  embed(
    input: string | string[] | number[][],
    opts?: { pooling?: string; normalize?: boolean },
  ): Promise<Float32Array[]>;
}

async function embeddings(e: Engine, b: Record<string, unknown>): Promise<Response> {
  onlyKnown(b, ["model", "input", "encoding_format", "dimensions", "user"]);
  const model = e.model as unknown as Partial<Embedder>;
  const inp = b.input;
  const tok = e.model.tokenizer;
  let texts: number[][];
  if (typeof inp === "string") texts = [tok.encode(inp, { addSpecial: true })];
  else if (
    Array.isArray(inp) && inp.length > 0 && inp.length <= 256 &&
    inp.every((s) => typeof s === "string")
  ) {
    texts = (inp as string[]).map((s) => tok.encode(s, { addSpecial: true }));
  } else if (Array.isArray(inp) && inp.length > 0 && inp.every((x) => Number.isInteger(x))) {
    texts = [inp as number[]];
  } else if (
    Array.isArray(inp) && inp.length > 0 &&
    inp.every((a) => Array.isArray(a) && a.length > 0 && a.every(Number.isInteger))
  ) {
    texts = inp as number[][];
  } else {throw bad(
      "input",
      "'input' must be a string, an array of ≤ 256 strings, or token id arrays.",
    );}
  texts.forEach((t, i) => {
    if (t.length === 0) throw bad("input", `input[${i}] is empty.`);
    if (t.length > e.contextLength) {
      throw new ApiError(
        400,
        `input[${i}] has ${t.length} tokens; the context is ${e.contextLength}.`,
        "input",
        "context_length_exceeded",
      );
    }
    if (t.some((id) => id < 0 || id >= tok.size)) {
      throw bad("input", `input[${i}] has token ids outside [0, ${tok.size}).`);
    }
  });
  const fmt = b.encoding_format ?? "float";
  if (fmt !== "float" && fmt !== "base64") {
    throw bad("encoding_format", "'encoding_format' must be float or base64.");
  }
  if (b.dimensions !== undefined) {
    throw bad("dimensions", "'dimensions' is not supported by this model.");
  }
  if (typeof model.embed !== "function") {
    throw new ApiError(
      501,
      "This build's model has no embed(); embeddings need the engine's Model.embed.",
      null,
      "not_implemented",
    );
  }
  // pooling: the model's own (a BERT embedding file's pooling_type), else the mean
  const vecs = await model.embed(texts, { normalize: true });
  const data = vecs.map((v, i) => ({
    object: "embedding",
    index: i,
    embedding: fmt === "float"
      ? [...v]
      : btoa(String.fromCharCode(...new Uint8Array(v.buffer, v.byteOffset, v.byteLength))),
  }));
  const n = texts.reduce((a, t) => a + t.length, 0);
  return Response.json({
    object: "list",
    data,
    model: e.modelName,
    usage: { prompt_tokens: n, total_tokens: n },
  });
}

/**
 * Start the server.
 *
 * @example
 * ```ts ignore
 * import { DEFAULT_MODEL, loadModel } from "@aprender/compute/llm";
 * import { serve } from "./server.ts";
 * const model = await loadModel(DEFAULT_MODEL);
 * const srv = serve({ model, port: 0, parallel: 4 });
 * console.log(srv.url);
 * await srv.shutdown();
 * ```
 *
 * @param opts model, address, slots, limits
 * @returns the running server
 */
export function serve(opts: ServeOptions): ServerHandle {
  const model = opts.model;
  const ctx = opts.contextLength ?? model.contextLength;
  const parallel = opts.parallel ?? 1;
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > 256) {
    throw new RangeError(`serve: parallel must be an integer in [1, 256], got ${parallel}.`);
  }
  if (!Number.isInteger(ctx) || ctx < 2) {
    throw new RangeError(`serve: contextLength must be an integer ≥ 2, got ${ctx}.`);
  }
  if (opts.gpu && parallel !== 1) {
    throw new RangeError(`serve: the GPU decoder takes one slot, got parallel ${parallel}.`);
  }
  const scheduler = new Scheduler(model, {
    parallel,
    contextLength: ctx,
    maxQueue: opts.maxQueue ?? 64,
    step: opts.step,
    gpu: opts.gpu,
  });
  const engine: Engine = {
    model,
    modelName: opts.modelName ?? "model",
    scheduler,
    contextLength: ctx,
    maxTokensCap: opts.maxTokens ?? ctx,
  };
  const metrics = new Metrics();
  const limit = opts.maxBodyBytes ?? 1 << 20;
  const page = chatPage(engine.modelName);
  const corsHeaders: Record<string, string> = opts.cors
    ? {
      "access-control-allow-origin": opts.cors,
      "access-control-allow-headers": "authorization, content-type",
      "access-control-allow-methods": "GET, POST, OPTIONS",
    }
    : {};
  let stopping = false;

  async function route(req: Request, path: string): Promise<Response> {
    if (req.method === "OPTIONS" && opts.cors) return new Response(null, { status: 204 });
    if (req.method === "GET" && path === "/") {
      return new Response(page, { headers: { "content-type": "text/html; charset=utf-8" } });
    }
    if (req.method === "GET" && path === "/health") {
      return Response.json({
        status: stopping ? "stopping" : "ok",
        slots_idle: parallel - scheduler.active,
        slots_busy: scheduler.active,
        queue: scheduler.queued,
      }, { status: stopping ? 503 : 200 });
    }
    if (opts.apiKey !== undefined && path.startsWith("/v1/")) {
      const auth = req.headers.get("authorization") ?? "";
      if (auth !== `Bearer ${opts.apiKey}`) {
        throw new ApiError(
          401,
          auth
            ? "Incorrect API key provided."
            : "You didn't provide an API key. Hint: send 'Authorization: Bearer KEY'.",
          null,
          "invalid_api_key",
        );
      }
    }
    if (req.method === "GET" && path === "/metrics") {
      return new Response(metrics.text(scheduler), {
        headers: { "content-type": "text/plain; version=0.0.4" },
      });
    }
    if (req.method === "GET" && path === "/v1/models") {
      return Response.json({
        object: "list",
        data: [{ id: engine.modelName, object: "model", created: 0, owned_by: "aprender" }],
      });
    }
    if (req.method === "GET" && path === `/v1/models/${engine.modelName}`) {
      return Response.json({
        id: engine.modelName,
        object: "model",
        created: 0,
        owned_by: "aprender",
      });
    }
    const post = ["/v1/chat/completions", "/v1/completions", "/v1/embeddings"];
    if (post.includes(path)) {
      if (req.method !== "POST") {
        throw new ApiError(
          405,
          `${path} takes POST, not ${req.method}.`,
          null,
          "method_not_allowed",
        );
      }
      if (stopping) throw new ApiError(503, "The server is shutting down.", null, "shutting_down");
      const body = await readJson(req, limit);
      if (path === "/v1/embeddings") return await embeddings(engine, body);
      if (engine.model.config.causal === false) {
        throw new ApiError(
          400,
          `Model ${engine.modelName} is an encoder (${engine.model.config.arch}): it answers ` +
            `/v1/embeddings, not ${path}.`,
          "model",
          "model_not_supported",
        );
      }
      const res = await complete(engine, body, req.signal, path === "/v1/chat/completions");
      return res;
    }
    throw new ApiError(
      404,
      `Unknown route ${req.method} ${path}. Hint: /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/models, /health, /metrics, /.`,
      null,
      "not_found",
    );
  }

  async function handler(req: Request): Promise<Response> {
    const path = new URL(req.url).pathname;
    let res: Response;
    try {
      res = await route(req, path);
    } catch (e) {
      const err = e instanceof ApiError ? e : e instanceof QueueFullError
        ? new ApiError(
          429,
          `The server is busy: ${e.message}. Retry after ${e.retryAfter} s.`,
          null,
          "rate_limit_exceeded",
          "rate_limit_error",
          { "retry-after": String(e.retryAfter) },
        )
        : new ApiError(
          500,
          `Internal error: ${(e as Error)?.message ?? e}`,
          null,
          "internal_error",
        );
      if (err.status === 500) console.error("server:", e);
      res = Response.json(err.body(), { status: err.status, headers: err.headers });
    }
    for (const [k, v] of Object.entries(corsHeaders)) res.headers.set(k, v);
    metrics.count(path.startsWith("/v1/models/") ? "/v1/models/{id}" : post(path), res.status);
    return res;
  }
  const known = new Set([
    "/",
    "/health",
    "/metrics",
    "/v1/models",
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/embeddings",
  ]);
  const post = (p: string) => (known.has(p) ? p : "other");

  engine.onUsage = (u, firstTokenMs) => {
    metrics.promptTokens += u.prompt_tokens;
    metrics.completionTokens += u.completion_tokens;
    for (const ms of firstTokenMs) (metrics.firstTokenSum += ms), metrics.firstTokenCount++;
  };

  const server = Deno.serve({
    port: opts.port ?? 8080,
    hostname: opts.hostname ?? "127.0.0.1",
    onListen: (a) => opts.onListen?.(a),
  }, handler);
  const addr = server.addr as Deno.NetAddr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  return {
    url: `http://${host}:${addr.port}`,
    port: addr.port,
    scheduler,
    async shutdown(graceMs = 10_000) {
      if (stopping) return server.finished;
      stopping = true;
      scheduler.close();
      const timer = setTimeout(() => scheduler.abortAll(), graceMs);
      await scheduler.drained();
      clearTimeout(timer);
      await server.shutdown();
      scheduler.dispose();
    },
    finished: server.finished,
  };
}
