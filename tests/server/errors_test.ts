/**
 * The server's answers to bad input: every documented status (400, 401, 404, 405, 413, 429) with
 * OpenAI's error shape, the `openai` client's typed errors, CORS only when enabled.
 */
import assert from "node:assert/strict";
import OpenAI from "openai";
import { DEFAULT_MODEL, loadModel } from "../../llm/mod.ts";
import { serve } from "../../llm/server/mod.ts";

const CTX = 512;
const model = await loadModel(DEFAULT_MODEL, { contextLength: CTX });
const srv = serve({ model, modelName: "kjv", port: 0, parallel: 2, contextLength: CTX });
const client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: "unused", maxRetries: 0 });
/** The server outlives each test, so no sanitizers. */
const LOOSE = { sanitizeOps: false, sanitizeResources: false };
const TOOLS = [{
  type: "function" as const,
  function: {
    name: "pray",
    parameters: { type: "object", properties: { words: { type: "string" } } },
  },
}];

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const r = await fetch(srv.url + path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: r.status, headers: r.headers, json: await r.json() };
}

Deno.test(
  { name: "errors: every bad input gets its status and OpenAI's error shape", ...LOOSE },
  async () => {
    const chat = (extra: Record<string, unknown>) => ({
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 2,
      ...extra,
    });
    const cases: [string, unknown, number, string | null, RegExp][] = [
      ["/v1/chat/completions", "{not json", 400, null, /parse the JSON/],
      ["/v1/chat/completions", "[1]", 400, null, /JSON object/],
      ["/v1/chat/completions", chat({ foo: 1 }), 400, "foo", /Unrecognized request argument/],
      [
        "/v1/chat/completions",
        chat({ temperature: "hot" }),
        400,
        "temperature",
        /must be a number/,
      ],
      ["/v1/chat/completions", chat({ temperature: 3 }), 400, "temperature", /between 0 and 2/],
      ["/v1/chat/completions", chat({ n: 0 }), 400, "n", /between 1 and 16/],
      ["/v1/chat/completions", chat({ max_tokens: 1.5 }), 400, "max_tokens", /integer/],
      ["/v1/chat/completions", chat({ stop: [1] }), 400, "stop", /stop/],
      ["/v1/chat/completions", chat({ logit_bias: { abc: 1 } }), 400, "logit_bias", /token id/],
      ["/v1/chat/completions", chat({ top_logprobs: 2 }), 400, "top_logprobs", /logprobs: true/],
      [
        "/v1/chat/completions",
        chat({ stream_options: { include_usage: true } }),
        400,
        "stream_options",
        /stream: true/,
      ],
      ["/v1/chat/completions", { messages: [] }, 400, "messages", /non-empty/],
      [
        "/v1/chat/completions",
        { messages: [{ role: "wizard", content: "x" }] },
        400,
        "messages[0].role",
        /role/,
      ],
      [
        "/v1/chat/completions",
        chat({ max_tokens: 100000 }),
        400,
        "max_tokens",
        /maximum context length is 512 tokens.*requested/,
      ],
      [
        "/v1/chat/completions",
        { messages: [{ role: "user", content: "word ".repeat(600) }] },
        400,
        "messages",
        /maximum context length is 512 tokens\. However, your messages resulted in \d{3,} tokens/,
      ],
      [
        "/v1/chat/completions",
        chat({
          response_format: {
            type: "json_schema",
            json_schema: { name: "x", schema: { type: "string", pattern: "a+" } },
          },
        }),
        400,
        "response_format.json_schema.schema",
        /unsupported keyword 'pattern'/,
      ],
      [
        "/v1/chat/completions",
        chat({ response_format: { type: "xml" } }),
        400,
        "response_format.type",
        /json_schema/,
      ],
      [
        "/v1/chat/completions",
        chat({ tools: TOOLS, tool_choice: { type: "function", function: { name: "nope" } } }),
        400,
        "tool_choice",
        /not in tools/,
      ],
      [
        "/v1/chat/completions",
        chat({ tool_choice: "required" }),
        400,
        "tool_choice",
        /needs 'tools'/,
      ],
      ["/v1/completions", { prompt: 5 }, 400, "prompt", /prompt/],
      ["/v1/completions", { prompt: "x", logprobs: 9 }, 400, "logprobs", /between 0 and 5/],
      ["/v1/completions", { prompt: "x", echo: true }, 400, "echo", /echo/],
      ["/v1/embeddings", { input: 5 }, 400, "input", /input/],
      ["/v1/nothing", {}, 404, null, /Unknown route/],
    ];
    for (const [path, body, status, param, msg] of cases) {
      const r = await post(path, body);
      assert.equal(
        r.status,
        status,
        `${path} ${JSON.stringify(body).slice(0, 80)} → ${JSON.stringify(r.json)}`,
      );
      assert.equal(typeof r.json.error.message, "string");
      assert.match(r.json.error.message, msg);
      assert.equal(r.json.error.param, param);
      assert.equal(
        r.json.error.type,
        status === 404 ? "invalid_request_error" : "invalid_request_error",
      );
      assert.ok("code" in r.json.error);
    }
    const big = await post("/v1/completions", { prompt: "a".repeat(1.1 * (1 << 20)) });
    assert.equal(big.status, 413);
    assert.match(big.json.error.message, /limit is 1048576/);
    const get = await fetch(srv.url + "/v1/chat/completions");
    assert.equal(get.status, 405);
    await get.body?.cancel();
    // the client surfaces them as typed errors
    await assert.rejects(
      client.chat.completions.create({
        model: "kjv",
        messages: [{ role: "user", content: "hi" }],
        temperature: 5,
      }),
      (e: unknown) => e instanceof OpenAI.BadRequestError && e.param === "temperature",
    );
  },
);

Deno.test({
  name: "errors: API key (401), CORS off by default and on with --cors, 429 with Retry-After",
  ...LOOSE,
}, async () => {
  const keyed = serve({
    model,
    port: 0,
    apiKey: "sekret",
    cors: "*",
    parallel: 1,
    maxQueue: 1,
    contextLength: 128,
  });
  try {
    const body = JSON.stringify({ prompt: "In", max_tokens: 24 });
    const none = await fetch(`${keyed.url}/v1/completions`, { method: "POST", body });
    assert.equal(none.status, 401);
    assert.equal((await none.json()).error.type, "authentication_error");
    const c = new OpenAI({ baseURL: `${keyed.url}/v1`, apiKey: "wrong", maxRetries: 0 });
    await assert.rejects(c.models.list(), (e: unknown) => e instanceof OpenAI.AuthenticationError);
    const ok = new OpenAI({ baseURL: `${keyed.url}/v1`, apiKey: "sekret", maxRetries: 0 });
    assert.equal((await ok.models.list()).data[0].object, "model");
    const h = { authorization: "Bearer sekret", "content-type": "application/json" };
    const rs = await Promise.all(
      [0, 1, 2, 3].map(() =>
        fetch(`${keyed.url}/v1/completions`, { method: "POST", headers: h, body })
      ),
    );
    const codes = rs.map((r) => r.status).sort();
    assert.deepEqual(codes, [200, 200, 429, 429]);
    for (const r of rs) {
      assert.equal(r.headers.get("access-control-allow-origin"), "*");
      if (r.status === 429) {
        assert.ok(Number(r.headers.get("retry-after")) >= 1);
        assert.equal((await r.json()).error.type, "rate_limit_error");
      } else await r.body?.cancel();
    }
  } finally {
    await keyed.shutdown();
  }
  const plain = await fetch(`${srv.url}/v1/models`);
  assert.equal(plain.headers.get("access-control-allow-origin"), null);
  await plain.body?.cancel();
});

Deno.test({ name: "errors: shut down", ...LOOSE }, async () => {
  await srv.shutdown();
  model.dispose();
});
