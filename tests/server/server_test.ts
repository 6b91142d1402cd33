/**
 * The OpenAI-compatible server driven by the official `openai` npm client (and raw fetch for the
 * error shapes), on the bundled KJV model started in-process on port 0. Structured output is
 * checked with Ajv (an independent JSON-schema validator); greedy answers are checked against
 * `Model.generate` (the engine's own single-sequence path, not the server's scheduler).
 */
import assert from "node:assert/strict";
import OpenAI from "openai";
import { Ajv } from "ajv";
import { DEFAULT_MODEL, loadModel } from "../../llm/mod.ts";
import { chatPrompt } from "../../llm/chat.ts";
import { serve } from "../../llm/server/mod.ts";
import { memory } from "../../core/memory.ts";

const CTX = 512;
const model = await loadModel(DEFAULT_MODEL, { contextLength: CTX });
const srv = serve({
  model,
  modelName: "kjv",
  port: 0,
  parallel: 4,
  contextLength: CTX,
  maxQueue: 128,
});
const client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: "unused", maxRetries: 0 });
const ajv = new Ajv();
/** The server outlives each test (its listener and stream pumps are shared), so no sanitizers. */
const LOOSE = { sanitizeOps: false, sanitizeResources: false };

async function greedy(ids: number[], n: number): Promise<string> {
  let s = "";
  for await (const p of model.generate(ids, { maxTokens: n, temperature: 0 })) s += p;
  return s;
}

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const r = await fetch(srv.url + path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: r.status, headers: r.headers, json: await r.json() };
}

function metric(text: string, name: string): number {
  const m = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
  assert.ok(m, `metric ${name} missing`);
  return Number(m[1]);
}

Deno.test({
  name: "server: chat completion through the openai client equals Model.generate greedy",
  ...LOOSE,
}, async () => {
  const messages = [{ role: "user" as const, content: "Who made the heaven and the earth?" }];
  const r = await client.chat.completions.create({
    model: "kjv",
    messages,
    max_tokens: 20,
    temperature: 0,
  });
  const ids =
    chatPrompt(model.tokenizer, model.chatTemplate, messages, { addGenerationPrompt: true }).ids;
  assert.equal(r.object, "chat.completion");
  assert.equal(r.choices[0].message.role, "assistant");
  assert.equal(r.choices[0].message.content, await greedy(ids, 20));
  assert.equal(r.usage?.prompt_tokens, ids.length);
  assert.equal(r.usage?.completion_tokens, model.stats!.decodeTokens);
  assert.equal(r.usage?.total_tokens, ids.length + model.stats!.decodeTokens);
  assert.equal(
    r.choices[0].finish_reason,
    model.stats!.stopReason === "length" ? "length" : "stop",
  );
});

Deno.test({
  name: "server: text completion, stream with include_usage equals the non-stream answer",
  ...LOOSE,
}, async () => {
  const prompt = "And God said unto Moses";
  const ids = model.tokenizer.encode(prompt, { addSpecial: true });
  const ref = await greedy(ids, 16);
  const r = await client.completions.create({
    model: "kjv",
    prompt,
    max_tokens: 16,
    temperature: 0,
  });
  assert.equal(r.choices[0].text, ref);
  const stream = await client.completions.create({
    model: "kjv",
    prompt,
    max_tokens: 16,
    temperature: 0,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = "", usage = null, finish = null;
  for await (const ch of stream) {
    if (ch.usage) usage = ch.usage;
    for (const c of ch.choices) text += c.text, finish = c.finish_reason ?? finish;
  }
  assert.equal(text, ref);
  assert.equal(usage?.prompt_tokens, ids.length);
  assert.equal(usage?.completion_tokens, model.stats!.decodeTokens);
  assert.equal(finish, "length");
});

Deno.test(
  { name: "server: chat stream, n=2 with a seed, stop strings, logprobs", ...LOOSE },
  async () => {
    const messages = [{ role: "user" as const, content: "Speak of the LORD" }];
    const s = await client.chat.completions.create({
      model: "kjv",
      messages,
      max_tokens: 12,
      temperature: 0,
      stream: true,
      logprobs: true,
      top_logprobs: 3,
      stream_options: { include_usage: true },
    });
    let text = "", n = 0, usage;
    for await (const ch of s) {
      if (ch.usage) usage = ch.usage;
      const c = ch.choices[0];
      if (c?.delta?.content) text += c.delta.content;
      for (const lp of c?.logprobs?.content ?? []) {
        n++;
        assert.equal(lp.top_logprobs.length, 3);
        assert.ok(lp.logprob <= 0 && lp.top_logprobs[0].logprob >= lp.logprob - 1e-6);
      }
    }
    const ids =
      chatPrompt(model.tokenizer, model.chatTemplate, messages, { addGenerationPrompt: true }).ids;
    assert.equal(text, await greedy(ids, 12));
    assert.equal(n, usage?.completion_tokens);
    const two = await client.chat.completions.create({
      model: "kjv",
      messages,
      max_tokens: 10,
      n: 2,
      seed: 7,
      temperature: 1,
    });
    const again = await client.chat.completions.create({
      model: "kjv",
      messages,
      max_tokens: 10,
      n: 2,
      seed: 7,
      temperature: 1,
    });
    assert.equal(two.choices.length, 2);
    assert.deepEqual(
      two.choices.map((c) => c.message.content),
      again.choices.map((c) => c.message.content),
    );
    assert.equal(two.usage?.prompt_tokens, ids.length); // counted once for n choices
    const word = ref3(await greedy(ids, 12));
    const st = await client.chat.completions.create({
      model: "kjv",
      messages,
      max_tokens: 12,
      temperature: 0,
      stop: [word],
    });
    assert.equal(st.choices[0].finish_reason, "stop");
    assert.ok(!st.choices[0].message.content!.includes(word));
  },
);
/** A word from the middle of a greedy answer, to use as a stop string. */
function ref3(s: string): string {
  const w = s.split(" ").filter((x) => x.length >= 2);
  return w[Math.min(1, w.length - 1)];
}

const SCHEMA = {
  type: "object",
  properties: {
    name: { type: "string", maxLength: 12 },
    age: { type: "integer", minimum: 0 },
    tribe: { enum: ["Judah", "Levi", "Dan"] },
    faithful: { type: "boolean" },
    sons: { type: "array", items: { type: "string", maxLength: 6 }, maxItems: 3 },
    note: { type: ["string", "null"], maxLength: 8 },
  },
  required: ["name", "age", "tribe", "faithful"],
  additionalProperties: false,
};

const SMALL = {
  type: "object",
  properties: {
    tribe: { enum: ["Judah", "Levi", "Dan"] },
    age: { type: "integer", minimum: 0 },
    name: { type: "string", maxLength: 6 },
  },
  required: ["tribe", "age", "name"],
  additionalProperties: false,
};
/** Bytes of SMALL's shortest valid output: the tightest max_tokens the server accepts for it. */
const MIN_SMALL = '{"tribe":"Dan","age":0,"name":""}'.length;
const VERSES = [
  "In the beginning",
  "The LORD is my shepherd",
  "Blessed are the meek",
  "Let there be light",
  "Jesus wept",
];

Deno.test(
  { name: "server: json_schema output parses and validates (Ajv) on 50 prompts", ...LOOSE },
  async () => {
    const ask = (schema: Record<string, unknown>, i: number, maxTokens: number) =>
      client.chat.completions.create({
        model: "kjv",
        messages: [{ role: "user", content: `${VERSES[i % 5]} ${i}` }],
        max_tokens: maxTokens,
        seed: i,
        temperature: 1,
        response_format: {
          type: "json_schema",
          json_schema: { name: "person", schema, strict: true },
        },
      });
    const check = (schema: Record<string, unknown>, rs: OpenAI.ChatCompletion[]) => {
      const validate = ajv.compile(schema);
      for (const r of rs) {
        const v = JSON.parse(r.choices[0].message.content!);
        assert.ok(
          validate(v),
          `${r.choices[0].message.content}: ${ajv.errorsText(validate.errors)}`,
        );
      }
    };
    // 50 prompts on a small schema; every fifth gets a tight budget that forces the early close
    check(
      SMALL,
      await Promise.all(
        Array.from({ length: 50 }, (_, i) => ask(SMALL, i, i % 5 === 0 ? MIN_SMALL : 44)),
      ),
    );
    // the larger schema (optional fields, arrays, a nullable union) on a few
    check(SCHEMA, await Promise.all(Array.from({ length: 4 }, (_, i) => ask(SCHEMA, i, 72))));
    const tight = await post("/v1/chat/completions", {
      messages: [{ role: "user", content: "x" }],
      max_tokens: MIN_SMALL - 1,
      response_format: { type: "json_schema", json_schema: { name: "p", schema: SMALL } },
    });
    assert.equal(tight.status, 400);
    assert.match(
      tight.json.error.message,
      new RegExp(`shortest valid output of the schema \\(${MIN_SMALL} bytes`),
    );
    // json_object: any object
    const o = await client.chat.completions.create({
      model: "kjv",
      messages: [{ role: "user", content: "json please" }],
      max_tokens: 24,
      seed: 3,
      response_format: { type: "json_object" },
    });
    const v = JSON.parse(o.choices[0].message.content!);
    assert.equal(typeof v, "object");
    assert.ok(v !== null && !Array.isArray(v));
  },
);

const TOOLS = [{
  type: "function" as const,
  function: {
    name: "get_verse",
    description: "Look up a verse",
    parameters: {
      type: "object",
      properties: {
        book: { type: "string", maxLength: 10 },
        chapter: { type: "integer", minimum: 0 },
      },
      required: ["book", "chapter"],
    },
  },
}, {
  type: "function" as const,
  function: {
    name: "pray",
    parameters: {
      type: "object",
      properties: { words: { type: "string", maxLength: 8 } },
      required: ["words"],
    },
  },
}];

Deno.test({
  name: "server: tool calls (required, named, streamed) carry valid arguments",
  ...LOOSE,
}, async () => {
  const validate = ajv.compile(TOOLS[0].function.parameters);
  const messages = [{ role: "user" as const, content: "Find Genesis 1" }];
  const r = await client.chat.completions.create({
    model: "kjv",
    messages,
    tools: TOOLS,
    tool_choice: "required",
    max_tokens: 64,
    seed: 1,
  });
  assert.equal(r.choices[0].finish_reason, "tool_calls");
  const call = r.choices[0].message.tool_calls![0];
  assert.equal(call.type, "function");
  assert.ok(["get_verse", "pray"].includes(call.function.name));
  JSON.parse(call.function.arguments);
  const named = await client.chat.completions.create({
    model: "kjv",
    messages,
    tools: TOOLS,
    tool_choice: { type: "function", function: { name: "get_verse" } },
    max_tokens: 64,
    seed: 2,
    stream: true,
  });
  let name = "", args = "", finish = null, fragments = 0, id = "";
  for await (const ch of named) {
    for (const t of ch.choices[0]?.delta?.tool_calls ?? []) {
      name += t.function?.name ?? "";
      args += t.function?.arguments ?? "";
      id ||= t.id ?? "";
      if (t.function?.arguments) fragments++;
    }
    finish = ch.choices[0]?.finish_reason ?? finish;
  }
  assert.equal(name, "get_verse");
  assert.equal(finish, "tool_calls");
  assert.match(id, /^call_/);
  assert.ok(fragments >= 2, `arguments streamed in ${fragments} fragments`);
  assert.ok(validate(JSON.parse(args)), args);
  // the same request without streaming gives the same call (same seed, same arguments text)
  const whole = await client.chat.completions.create({
    model: "kjv",
    messages,
    tools: TOOLS,
    tool_choice: { type: "function", function: { name: "get_verse" } },
    max_tokens: 64,
    seed: 2,
  });
  const wc = whole.choices[0].message.tool_calls![0];
  assert.ok(wc.type === "function");
  assert.equal(wc.function.arguments, args);
  assert.equal(whole.choices[0].message.content, null);
});

Deno.test({
  ...LOOSE,
  name: "server: embeddings through the openai client",
  ignore: typeof (model as unknown as { embed?: unknown }).embed !== "function",
}, async () => {
  const embed =
    (model as unknown as { embed(t: number[][], o: unknown): Promise<Float32Array[]> }).embed;
  const r = await client.embeddings.create({
    model: "kjv",
    input: ["In the beginning", "Jesus wept"],
  });
  const ids = ["In the beginning", "Jesus wept"].map((t) =>
    model.tokenizer.encode(t, { addSpecial: true })
  );
  const ref = await embed.call(model, ids, { pooling: "mean", normalize: true });
  assert.equal(r.data.length, 2);
  r.data.forEach((d, i) =>
    d.embedding.forEach((x, j) => assert.ok(Math.abs(x - ref[i][j]) <= 1e-6))
  );
  assert.equal(r.usage.prompt_tokens, ids[0].length + ids[1].length);
});

Deno.test({
  name: "server: 64 concurrent streams complete with correct usage; /metrics agrees",
  ...LOOSE,
}, async () => {
  const before = await (await fetch(`${srv.url}/metrics`)).text();
  const runs = await Promise.all(Array.from({ length: 64 }, async (_, i) => {
    const s = await client.completions.create({
      model: "kjv",
      prompt: `Verse ${i}`,
      max_tokens: 6,
      seed: i,
      logprobs: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    let tokens = 0, usage;
    for await (const ch of s) {
      if (ch.usage) usage = ch.usage;
      tokens += ch.choices[0]?.logprobs?.tokens?.length ?? 0;
    }
    return {
      tokens,
      usage: usage!,
      prompt: model.tokenizer.encode(`Verse ${i}`, { addSpecial: true }).length,
    };
  }));
  for (const r of runs) {
    assert.equal(r.usage.completion_tokens, r.tokens);
    assert.equal(r.usage.prompt_tokens, r.prompt);
    assert.ok(r.tokens >= 1 && r.tokens <= 6);
  }
  const after = await (await fetch(`${srv.url}/metrics`)).text();
  const d = (m: string) => metric(after, m) - metric(before, m);
  assert.equal(
    d("aprender_completion_tokens_total"),
    runs.reduce((a, r) => a + r.usage.completion_tokens, 0),
  );
  assert.equal(
    d("aprender_prompt_tokens_total"),
    runs.reduce((a, r) => a + r.usage.prompt_tokens, 0),
  );
  assert.equal(
    metric(after, 'aprender_requests_total{route="/v1/completions",status="200"}') -
      (/aprender_requests_total\{route="\/v1\/completions",status="200"\} (\d+)/.exec(before)?.[1]
        ? Number(
          /aprender_requests_total\{route="\/v1\/completions",status="200"\} (\d+)/.exec(
            before,
          )![1],
        )
        : 0),
    64,
  );
  assert.equal(metric(after, "aprender_slots_busy"), 0);
});

Deno.test({
  name: "server: 100 clients disconnecting mid-stream leave slots, queue and memory at baseline",
  ...LOOSE,
}, async () => {
  // a request that finished warms every lazily-built structure first
  await client.completions.create({ model: "kjv", prompt: "warm", max_tokens: 2 });
  const base = memory();
  const cacheBytes = srv.scheduler.cacheBytes;
  const aborted0 = srv.scheduler.counters.finished.abort;
  await Promise.all(Array.from({ length: 100 }, async (_, i) => {
    const ac = new AbortController();
    const r = await fetch(`${srv.url}/v1/completions`, {
      method: "POST",
      signal: ac.signal,
      // EOS banned: a stream that reached EOS before its client left would finish as "stop"
      // (seen once in 6 runs under load), and the count below is of disconnects
      body: JSON.stringify({
        prompt: `Disconnect ${i}`,
        max_tokens: 200,
        stream: true,
        logit_bias: { [String(model.tokenizer.eos)]: -100 },
      }),
    });
    const reader = r.body!.getReader();
    if (i % 2 === 0) await reader.read(); // half leave after a chunk, half before any
    ac.abort();
    await reader.cancel().catch(() => {});
  }));
  for (let t = 0; t < 200 && (srv.scheduler.active > 0 || srv.scheduler.queued > 0); t++) {
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.equal(srv.scheduler.active, 0);
  assert.equal(srv.scheduler.queued, 0);
  assert.equal(
    srv.scheduler.counters.finished.abort - aborted0,
    100,
    `finished: ${JSON.stringify(srv.scheduler.counters.finished)} (aborts before: ${aborted0})`,
  );
  assert.equal(srv.scheduler.cacheBytes, cacheBytes);
  const now = memory();
  assert.equal(now.tensors, base.tensors);
  assert.deepEqual(now.devices, base.devices);
});

Deno.test({
  name: "server: prefix reuse, a malformed request beside a running one, graceful shutdown",
  ...LOOSE,
}, async () => {
  const messages = [{ role: "user" as const, content: "Reuse this prompt please" }];
  const a = await client.chat.completions.create({
    model: "kjv",
    messages,
    max_tokens: 8,
    temperature: 0,
  });
  const b = await client.chat.completions.create({
    model: "kjv",
    messages,
    max_tokens: 8,
    temperature: 0,
  });
  assert.equal(b.choices[0].message.content, a.choices[0].message.content);
  assert.equal(b.usage?.prompt_tokens_details?.cached_tokens, b.usage!.prompt_tokens - 1);
  // a running stream is unaffected by bad requests sent meanwhile
  const s2 = serve({ model, port: 0, parallel: 2, contextLength: 128 });
  const c2 = new OpenAI({ baseURL: `${s2.url}/v1`, apiKey: "x", maxRetries: 0 });
  const stream = await c2.completions.create({
    model: "kjv",
    prompt: "And Moses",
    max_tokens: 20,
    temperature: 0,
    stream: true,
  });
  const bads = await Promise.all([
    fetch(`${s2.url}/v1/completions`, { method: "POST", body: "{" }).then((r) => r.json()),
    fetch(`${s2.url}/v1/completions`, {
      method: "POST",
      body: JSON.stringify({ prompt: "x", top_p: 7 }),
    }).then((r) => r.json()),
  ]);
  assert.ok(bads.every((x) => typeof x.error.message === "string"));
  const shut = s2.shutdown(); // graceful: the stream still finishes
  let text = "";
  for await (const ch of stream) text += ch.choices[0]?.text ?? "";
  await shut;
  assert.equal(text, await greedy(model.tokenizer.encode("And Moses", { addSpecial: true }), 20));
  await assert.rejects(fetch(`${s2.url}/health`));
});

Deno.test({ name: "server: /health, /v1/models, /metrics text format", ...LOOSE }, async () => {
  const h = await (await fetch(`${srv.url}/health`)).json();
  assert.equal(h.status, "ok");
  const m = await client.models.list();
  assert.deepEqual(m.data.map((x) => x.id), ["kjv"]);
  const t = await (await fetch(`${srv.url}/metrics`)).text();
  for (const line of t.trim().split("\n")) {
    assert.match(line, /^(# (HELP|TYPE) \w+ .+|\w+(\{[^}]*\})? -?[\d.e+]+)$/);
  }
  assert.equal(metric(t, "aprender_slots_total"), 4);
});

Deno.test({ name: "server: shut down", sanitizeResources: false, sanitizeOps: false }, async () => {
  await srv.shutdown();
  model.dispose();
});
