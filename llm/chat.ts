/**
 * Chat templates: a GGUF file's `tokenizer.chat_template` rendered with `@huggingface/jinja`
 * (the environment transformers uses: `trim_blocks`, `lstrip_blocks`, `raise_exception`,
 * `strftime_now`, `tojson`), and built-in templates for files that carry none.
 *
 * @module
 */
import { Template } from "@huggingface/jinja";
import { FormatError } from "../core/errors.ts";
import type { Tokenizer } from "./tokenizer/tokenizer.ts";

/**
 * One chat message. Templates read `role` and `content`; tool-using templates also read
 * `tool_calls`, `reasoning_content`, `name`, ... which are passed through as given.
 *
 * @example
 * ```ts
 * import type { ChatMessage } from "@aprender/compute/llm";
 * const m: ChatMessage = { role: "user", content: "Hi" };
 * console.log(m.role); // "user"
 * ```
 */
export interface ChatMessage {
  /** `system`, `user`, `assistant`, `tool`, ... */
  role: string;
  /** The text (or, for multimodal templates, a list of parts). */
  content?: unknown;
  /** Anything else the template reads. */
  [key: string]: unknown;
}

/**
 * Options of {@link ChatTemplate.render}.
 *
 * @example
 * ```ts
 * import type { ChatRenderOptions } from "@aprender/compute/llm";
 * const o: ChatRenderOptions = { addGenerationPrompt: true };
 * console.log(o.addGenerationPrompt); // true
 * ```
 */
export interface ChatRenderOptions {
  /** End with the header of the assistant's turn (`add_generation_prompt`). Default true. */
  addGenerationPrompt?: boolean;
  /** Tool JSON schemas (`tools`), for templates that support them. */
  tools?: unknown[];
  /** Documents (`documents`), for RAG templates. */
  documents?: unknown[];
  /** More template variables (e.g. `enable_thinking: false` for Qwen3). */
  variables?: Record<string, unknown>;
}

/**
 * Names of the built-in templates, used when a file has no `tokenizer.chat_template`.
 *
 * @example
 * ```ts
 * import { BUILTIN_CHAT_TEMPLATES } from "@aprender/compute/llm";
 * console.log(Object.keys(BUILTIN_CHAT_TEMPLATES).includes("chatml")); // true
 * ```
 */
export type BuiltinChatTemplate = "chatml" | "llama3" | "llama2" | "gemma" | "mistral";

/**
 * Built-in templates, written to give the text of llama.cpp's built-in formats of the same
 * names (`llm_chat_apply_template`; `llama2` is llama.cpp's `llama2-sys`, `mistral` its
 * `mistral-v1`). Like llama.cpp's, they do not write BOS: `encode(..., {addSpecial: true})` adds
 * it.
 */
export const BUILTIN_CHAT_TEMPLATES: Readonly<Record<BuiltinChatTemplate, string>> = {
  chatml: "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + " +
    "'<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}" +
    "{% endif %}",
  llama3:
    "{% for m in messages %}{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\\n\\n' " +
    "+ m['content'] | trim + '<|eot_id|>' }}{% endfor %}{% if add_generation_prompt %}" +
    "{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}",
  llama2: "{{ '[INST] ' }}{% set ns = namespace(inside=true) %}{% for m in messages %}" +
    "{% if not ns.inside %}{{ '[INST] ' }}{% set ns.inside = true %}{% endif %}" +
    "{% if m['role'] == 'system' %}{{ '<<SYS>>\\n' + m['content'] + '\\n<</SYS>>\\n\\n' }}" +
    "{% elif m['role'] == 'user' %}{{ m['content'] + ' [/INST]' }}" +
    "{% else %}{{ m['content'] + '</s>' }}{% set ns.inside = false %}{% endif %}{% endfor %}",
  gemma: "{% set ns = namespace(sys='') %}{% for m in messages %}" +
    "{% if m['role'] == 'system' %}{% set ns.sys = ns.sys + m['content'] | trim %}{% else %}" +
    "{% set role = 'model' if m['role'] == 'assistant' else m['role'] %}" +
    "{{ '<start_of_turn>' + role + '\\n' }}{% if ns.sys != '' and role != 'model' %}" +
    "{{ ns.sys + '\\n\\n' }}{% set ns.sys = '' %}{% endif %}" +
    "{{ m['content'] | trim + '<end_of_turn>\\n' }}{% endif %}{% endfor %}" +
    "{% if add_generation_prompt %}{{ '<start_of_turn>model\\n' }}{% endif %}",
  mistral: "{% set ns = namespace(inside=false) %}{% for m in messages %}" +
    "{% if not ns.inside %}{{ ' [INST] ' }}{% set ns.inside = true %}{% endif %}" +
    "{% if m['role'] == 'system' %}{{ m['content'] + '\\n\\n' }}" +
    "{% elif m['role'] == 'user' %}{{ m['content'] + ' [/INST]' }}" +
    "{% else %}{{ ' ' + m['content'] + '</s>' }}{% set ns.inside = false %}{% endif %}" +
    "{% endfor %}",
};

/**
 * A compiled chat template with its BOS/EOS token texts.
 *
 * @example
 * ```ts
 * import { ChatTemplate } from "@aprender/compute/llm";
 * const t = ChatTemplate.builtin("chatml");
 * console.log(t.render([{ role: "user", content: "Hi" }]));
 * // "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
 * ```
 */
export class ChatTemplate {
  /** The template source. */
  readonly source: string;
  /** `bos_token` as the template sees it. */
  readonly bosToken: string;
  /** `eos_token` as the template sees it. */
  readonly eosToken: string;
  private readonly compiled: Template;

  /**
   * Compile a Jinja chat template.
   *
   * @param source the template text
   * @param tokens the BOS/EOS token texts the template may write
   * @throws FormatError when the template does not parse
   */
  constructor(source: string, tokens: { bosToken?: string; eosToken?: string } = {}) {
    if (typeof source !== "string") {
      throw new FormatError(`ChatTemplate: the template must be a string, got ${typeof source}`);
    }
    this.source = source;
    this.bosToken = tokens.bosToken ?? "";
    this.eosToken = tokens.eosToken ?? "";
    try {
      this.compiled = new Template(source);
    } catch (e) {
      throw new FormatError(
        `ChatTemplate: the Jinja template does not parse: ${(e as Error).message}`,
      );
    }
  }

  /**
   * A built-in template by name.
   *
   * @param name one of {@link BUILTIN_CHAT_TEMPLATES}
   * @throws FormatError for an unknown name, listing the known ones
   */
  static builtin(name: BuiltinChatTemplate): ChatTemplate {
    const src = BUILTIN_CHAT_TEMPLATES[name];
    if (src === undefined) {
      throw new FormatError(
        `ChatTemplate.builtin: unknown template ${String(name)}; built-in: ` +
          Object.keys(BUILTIN_CHAT_TEMPLATES).join(", "),
      );
    }
    return new ChatTemplate(src);
  }

  /**
   * The template of a GGUF file: `tokenizer.chat_template` when present, else `fallback`, else
   * a built-in guessed from the vocabulary's marker tokens (`<|im_start|>` → chatml,
   * `<|start_header_id|>` → llama3, `<start_of_turn>` → gemma, `[INST]` → mistral, other
   * SentencePiece → llama2, otherwise chatml, llama.cpp's own default). BOS/EOS texts come from
   * the token list.
   *
   * @param meta the GGUF metadata (`tokenizer.*` keys)
   * @param fallback the built-in to use when the file has no template
   */
  static fromGguf(
    meta: Record<string, unknown>,
    fallback?: BuiltinChatTemplate,
  ): ChatTemplate {
    const tokens = meta["tokenizer.ggml.tokens"];
    const list = Array.isArray(tokens) ? tokens as string[] : [];
    const text = (key: string) => {
      const v = meta[key];
      const id = typeof v === "bigint" ? Number(v) : v;
      return typeof id === "number" && id >= 0 && id < list.length ? list[id] : "";
    };
    const toks = {
      bosToken: text("tokenizer.ggml.bos_token_id"),
      eosToken: text("tokenizer.ggml.eos_token_id"),
    };
    const tpl = meta["tokenizer.chat_template"];
    if (typeof tpl === "string" && tpl.length > 0) return new ChatTemplate(tpl, toks);
    let name: BuiltinChatTemplate = fallback ?? "chatml";
    if (fallback === undefined) {
      const has = new Set(list);
      if (has.has("<|im_start|>")) name = "chatml";
      else if (has.has("<|start_header_id|>")) name = "llama3";
      else if (has.has("<start_of_turn>")) name = "gemma";
      else if (has.has("[INST]")) name = "mistral";
      else if (meta["tokenizer.ggml.model"] === "llama") name = "llama2";
    }
    return new ChatTemplate(BUILTIN_CHAT_TEMPLATES[name], toks);
  }

  /**
   * Render a conversation to the prompt text.
   *
   * @param messages the conversation
   * @param options generation prompt, tools and extra variables
   * @returns the prompt
   * @throws FormatError when the template raises (e.g. roles out of order)
   */
  render(messages: readonly ChatMessage[], options: ChatRenderOptions = {}): string {
    if (!Array.isArray(messages)) {
      throw new FormatError(`ChatTemplate.render: messages must be an array of {role, content}`);
    }
    messages.forEach((m, i) => {
      if (typeof m !== "object" || m === null || typeof m.role !== "string") {
        throw new FormatError(
          `ChatTemplate.render: messages[${i}] must be an object with a string 'role'`,
        );
      }
    });
    const vars: Record<string, unknown> = {
      ...options.variables,
      messages,
      add_generation_prompt: options.addGenerationPrompt ?? true,
      bos_token: this.bosToken,
      eos_token: this.eosToken,
    };
    if (options.tools !== undefined) vars.tools = options.tools;
    if (options.documents !== undefined) vars.documents = options.documents;
    try {
      return this.compiled.render(vars);
    } catch (e) {
      throw new FormatError(`ChatTemplate.render: the template raised: ${(e as Error).message}`);
    }
  }
}

/**
 * Render a conversation and tokenize it as llama.cpp's chat path does: a BOS (EOS) text the
 * template writes at the start (end) is dropped when the tokenizer adds that token itself, then
 * the text is encoded with special tokens added and parsed.
 *
 * @example
 * ```ts
 * import { ChatTemplate, chatPrompt, Tokenizer } from "@aprender/compute/llm";
 * const tok = new Tokenizer({
 *   "tokenizer.ggml.model": "llama",
 *   "tokenizer.ggml.tokens": ["<unk>", "<s>", "</s>", "▁", "h", "i"],
 * });
 * const tpl = new ChatTemplate("{{ bos_token }}{{ messages[0].content }}", { bosToken: "<s>" });
 * const { text, ids } = chatPrompt(tok, tpl, [{ role: "user", content: "hi" }]);
 * console.log(text, ids); // "hi" [1, 3, 4, 5]: one BOS, from the tokenizer
 * ```
 *
 * @param tokenizer the model's tokenizer
 * @param template the chat template
 * @param messages the conversation
 * @param options as for {@link ChatTemplate.render}
 * @returns the prompt text (after the BOS/EOS trimming) and its token ids
 */
export function chatPrompt(
  tokenizer: Tokenizer,
  template: ChatTemplate,
  messages: readonly ChatMessage[],
  options: ChatRenderOptions = {},
): { text: string; ids: number[] } {
  let text = template.render(messages, options);
  const bos = template.bosToken, eos = template.eosToken;
  if (tokenizer.addsBos && bos !== "" && text.startsWith(bos)) text = text.slice(bos.length);
  if (tokenizer.addsEos && eos !== "" && text.endsWith(eos)) text = text.slice(0, -eos.length);
  return { text, ids: tokenizer.encode(text, { addSpecial: true, parseSpecial: true }) };
}
