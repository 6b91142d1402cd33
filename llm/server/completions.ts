/**
 * `POST /v1/chat/completions` and `POST /v1/completions`: a checked request becomes one
 * scheduler job per choice; the answer goes back as one JSON body or as server-sent events.
 *
 * @module
 */
import { Sampler, type SamplerOptions } from "../sampling/sampler.ts";
import { StopMatcher } from "../stop.ts";
import { ApiError } from "./api.ts";
import { GrammarConstraint, TokenTrie } from "./constraint.ts";
import { type Engine, type Plan, planChat, planText } from "./plan.ts";
import type { JobResult, TokenEvent } from "./scheduler.ts";
import { parseCalls, type ToolCall } from "./tools.ts";

export type { Engine } from "./plan.ts";

type Body = Record<string, unknown>;
const enc = new TextEncoder();

interface Choice {
  index: number;
  text: string;
  tokens: TokenEvent[];
  result: JobResult | null;
  /** Id of the tool call this choice may make. */
  callId: string;
}

function submitAll(
  e: Engine,
  plan: Plan,
  signal: AbortSignal,
  onToken: (c: Choice, ev: TokenEvent) => void,
): {
  choices: Choice[];
  done: Promise<void>;
} {
  const { params } = plan;
  const seed = params.seed ?? Math.floor(Math.random() * 2 ** 32);
  const choices: Choice[] = [];
  const waits: Promise<void>[] = [];
  const local = new AbortController();
  const sig = AbortSignal.any([signal, local.signal]);
  let index = 0;
  for (const prompt of plan.prompts) {
    for (let k = 0; k < params.n; k++) {
      const c: Choice = {
        index: index++,
        text: "",
        tokens: [],
        result: null,
        callId: `call_${crypto.randomUUID().replaceAll("-", "").slice(0, 24)}`,
      };
      choices.push(c);
      const trie = plan.grammar ? (e.trie ??= new TokenTrie(e.model.tokenizer)) : null;
      const { promise, resolve } = Promise.withResolvers<void>();
      waits.push(promise);
      const so: SamplerOptions = {
        seed: seed + c.index,
        temperature: params.temperature,
        topP: params.topP,
        topK: params.topK,
        minP: params.minP,
        repeatPenalty: params.repeatPenalty,
        presencePenalty: params.presencePenalty,
        frequencyPenalty: params.frequencyPenalty,
        logitBias: params.logitBias,
      };
      try {
        e.scheduler.submit({
          prompt,
          maxTokens: plan.maxTokens,
          sampler: new Sampler(so),
          sampling: so,
          stops: new StopMatcher(params.stop),
          decoder: e.model.tokenizer.streamDecoder(),
          constraint: plan.grammar && trie ? new GrammarConstraint(plan.grammar, trie) : null,
          topLogprobs: params.logprobs ? params.topLogprobs : -1,
          signal: sig,
          onToken: (ev) => {
            c.text += ev.text;
            if (params.logprobs) c.tokens.push(ev);
            onToken(c, ev);
          },
          onDone: (r) => {
            c.text += r.tail;
            c.result = r;
            resolve();
          },
        });
      } catch (err) {
        local.abort();
        throw err;
      }
    }
  }
  return { choices, done: Promise.all(waits).then(() => {}) };
}

function usage(e: Engine, plan: Plan, choices: Choice[]) {
  const prompt = plan.prompts.reduce((a, p) => a + p.length, 0);
  const completion = choices.reduce((a, c) => a + (c.result?.completionTokens ?? 0), 0);
  const cached = choices.reduce((a, c) => a + (c.result?.cachedTokens ?? 0), 0);
  const firsts = choices.filter((c) => (c.result?.completionTokens ?? 0) > 0).map((c) =>
    c.result!.firstTokenMs
  );
  e.onUsage?.({ prompt_tokens: prompt, completion_tokens: completion }, firsts);
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: Math.min(cached, prompt) },
  };
}

function pieceOf(e: Engine, id: number): string {
  return new TextDecoder().decode(e.model.tokenizer.tokenToPiece(id));
}

function chatLogprobs(e: Engine, evs: TokenEvent[]) {
  const entry = (token: number, logprob: number) => {
    const s = pieceOf(e, token);
    return { token: s, logprob, bytes: [...e.model.tokenizer.tokenToPiece(token)] };
  };
  return {
    content: evs.map((ev) => ({
      ...entry(ev.token, ev.logprob),
      top_logprobs: ev.top.map((t) => entry(t.token, t.logprob)),
    })),
    refusal: null,
  };
}

function textLogprobs(e: Engine, evs: TokenEvent[], start = 0) {
  let off = start;
  const offsets: number[] = [];
  for (const ev of evs) offsets.push(off), (off += pieceOf(e, ev.token).length);
  return {
    tokens: evs.map((ev) => pieceOf(e, ev.token)),
    token_logprobs: evs.map((ev) => ev.logprob),
    top_logprobs: evs.map((ev) =>
      Object.fromEntries(ev.top.map((t) => [pieceOf(e, t.token), t.logprob]))
    ),
    text_offset: offsets,
  };
}

function finishError(choices: Choice[]): void {
  const err = choices.find((c) => c.result?.finishReason === "error");
  if (err) {
    throw new ApiError(
      500,
      `generation failed: ${(err.result!.error as Error)?.message ?? err.result!.error}`,
      null,
      "generation_error",
    );
  }
}

/**
 * A forced call's parts in the generated text: `{"name":N,"arguments":ARGS}` (+ closing tag);
 * ARGS is kept as generated, so streamed fragments and the whole agree byte for byte.
 */
function forcedParts(
  text: string,
  suffix: number,
): { name: string | null; args: [number, number] } | null {
  const k = text.indexOf('"arguments":');
  if (k < 0) return null;
  const m = /"name":("(?:[^"\\]|\\.)*")/.exec(text);
  return { name: m ? JSON.parse(m[1]) : null, args: [k + 12, text.length - 1 - suffix] };
}

function forcedCall(c: Choice, plan: Plan): ToolCall | null {
  const p = forcedParts(c.text, plan.forced!);
  if (!p || p.name === null) return null;
  const args = c.text.slice(...p.args);
  try {
    JSON.parse(args);
  } catch {
    return null; // cut off (finish_reason length)
  }
  return { id: c.callId, type: "function", function: { name: p.name, arguments: args } };
}

function toolResult(c: Choice, plan: Plan): { content: string | null; calls: ToolCall[] } {
  if (!plan.toolMode) return { content: c.text, calls: [] };
  if (plan.forced !== null) {
    const call = forcedCall(c, plan);
    return call ? { content: null, calls: [call] } : { content: c.text, calls: [] };
  }
  const { content, calls } = parseCalls(c.text, plan.tools);
  return { content: calls.length && !content ? null : content, calls };
}

const reason = (c: Choice, calls: number) =>
  calls > 0 ? "tool_calls" : c.result?.finishReason === "length" ? "length" : "stop";

/**
 * Handle a completion request (`chat` selects the endpoint).
 *
 * @param e the engine
 * @param body the parsed JSON body
 * @param signal aborts when the client goes away
 * @param chat chat completions (true) or text completions (false)
 * @returns the response (JSON or an SSE stream)
 */
export async function complete(
  e: Engine,
  body: Body,
  signal: AbortSignal,
  chat: boolean,
): Promise<Response> {
  const plan = chat ? planChat(e, body) : planText(e, body);
  const id = (chat ? "chatcmpl-" : "cmpl-") + crypto.randomUUID().replaceAll("-", "").slice(0, 24);
  const created = Math.floor(Date.now() / 1000);
  const model = e.modelName;
  const object = chat ? "chat.completion" : "text_completion";
  if (!plan.params.stream) {
    const { choices, done } = submitAll(e, plan, signal, () => {});
    await done;
    if (signal.aborted) return new Response(null, { status: 499 });
    finishError(choices);
    return Response.json({
      id,
      object,
      created,
      model,
      system_fingerprint: "aprender",
      choices: choices.map((c) => {
        if (!chat) {
          return {
            index: c.index,
            text: c.text,
            logprobs: plan.params.logprobs ? textLogprobs(e, c.tokens) : null,
            finish_reason: reason(c, 0),
          };
        }
        const { content, calls } = toolResult(c, plan);
        return {
          index: c.index,
          message: {
            role: "assistant",
            content,
            refusal: null,
            ...(calls.length ? { tool_calls: calls } : {}),
          },
          logprobs: plan.params.logprobs ? chatLogprobs(e, c.tokens) : null,
          finish_reason: reason(c, calls.length),
        };
      }),
      usage: usage(e, plan, choices),
    });
  }
  const abort = new AbortController();
  const onAbort = () => abort.abort();
  signal.addEventListener("abort", onAbort, { once: true });
  let ctl!: ReadableStreamDefaultController<Uint8Array>;
  let open = true;
  const send = (o: unknown) => {
    if (!open) return;
    try {
      ctl.enqueue(enc.encode(`data: ${typeof o === "string" ? o : JSON.stringify(o)}\n\n`));
    } catch {
      open = false;
      abort.abort();
    }
  };
  const chunk = (choices: unknown[], extra: Body = {}) =>
    send({
      id,
      object: chat ? "chat.completion.chunk" : "text_completion",
      created,
      model,
      system_fingerprint: "aprender",
      choices,
      ...extra,
    });
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      ctl = c;
    },
    cancel() {
      open = false;
      abort.abort();
    },
  });
  const started = new Set<number>();
  // forced tool calls stream as OpenAI does: the name first, then argument fragments
  const calls = new Map<number, { named: boolean; sent: number }>();
  const streamCall = (c: Choice, final: boolean) => {
    const st = calls.get(c.index) ?? { named: false, sent: 0 };
    calls.set(c.index, st);
    const p = forcedParts(c.text, plan.forced!);
    if (!p || p.name === null || (final && !forcedCall(c, plan))) return;
    const delta = (fn: Record<string, string>, head: boolean) =>
      chunk([{
        index: c.index,
        delta: {
          tool_calls: [{
            index: 0,
            ...(head ? { id: c.callId, type: "function" } : {}),
            function: fn,
          }],
        },
        logprobs: null,
        finish_reason: null,
      }]);
    if (!st.named) delta({ name: p.name, arguments: "" }, true), (st.named = true);
    const [a, b] = p.args;
    if (b > a + st.sent) {
      delta({ arguments: c.text.slice(a + st.sent, b) }, false), (st.sent = b - a);
    }
  };
  const onToken = (c: Choice, ev: TokenEvent) => {
    if (chat && !started.has(c.index)) {
      started.add(c.index);
      chunk([{
        index: c.index,
        delta: { role: "assistant", content: "" },
        logprobs: null,
        finish_reason: null,
      }]);
    }
    if (chat && plan.forced !== null) return streamCall(c, false);
    if (plan.toolMode || (!ev.text && !plan.params.logprobs)) return;
    if (chat) {
      const lp = plan.params.logprobs ? chatLogprobs(e, [ev]) : null;
      chunk([{ index: c.index, delta: { content: ev.text }, logprobs: lp, finish_reason: null }]);
    } else {
      const lp = plan.params.logprobs
        ? textLogprobs(e, [ev], c.text.length - ev.text.length)
        : null;
      chunk([{ index: c.index, text: ev.text, logprobs: lp, finish_reason: null }]);
    }
  };
  const { choices, done } = submitAll(e, plan, abort.signal, onToken);
  done.then(() => {
    signal.removeEventListener("abort", onAbort);
    if (!open) return;
    const err = choices.find((c) => c.result?.finishReason === "error");
    if (err) {
      send({
        error: {
          message: `generation failed: ${(err.result!.error as Error)?.message}`,
          type: "server_error",
          param: null,
          code: "generation_error",
        },
      });
    }
    for (const c of choices) {
      const tail = c.result?.tail ?? "";
      if (chat) {
        if (!started.has(c.index)) {
          chunk([{
            index: c.index,
            delta: { role: "assistant", content: "" },
            logprobs: null,
            finish_reason: null,
          }]);
        }
        const { content, calls } = toolResult(c, plan);
        if (plan.forced !== null) streamCall(c, true);
        if (plan.toolMode && content) {
          chunk([{ index: c.index, delta: { content }, logprobs: null, finish_reason: null }]);
        }
        if (!plan.toolMode && tail) {
          chunk([{
            index: c.index,
            delta: { content: tail },
            logprobs: null,
            finish_reason: null,
          }]);
        }
        if (calls.length && plan.forced === null) {
          chunk([{
            index: c.index,
            delta: { tool_calls: calls.map((t, i) => ({ index: i, ...t })) },
            logprobs: null,
            finish_reason: null,
          }]);
        }
        chunk([{
          index: c.index,
          delta: {},
          logprobs: null,
          finish_reason: reason(c, calls.length),
        }]);
      } else {
        chunk([{ index: c.index, text: tail, logprobs: null, finish_reason: reason(c, 0) }]);
      }
    }
    const u = usage(e, plan, choices); // counted in /metrics whether or not the client asked for it
    if (plan.params.includeUsage) chunk([], { usage: u });
    send("[DONE]");
    open = false;
    try {
      ctl.close();
    } catch { /* the client is gone */ }
  });
  return new Response(stream, {
    headers: {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      connection: "keep-alive",
    },
  });
}
