/**
 * Tool calls: the request's `tools`/`tool_choice` checked, handed to chat templates that define
 * tools (Llama 3.x, Qwen3, Mistral) or described in a system message for those that do not, a
 * grammar that forces a call when `tool_choice` asks for one, and the parser that finds calls in
 * the answer (`<tool_call>{...}</tool_call>` blocks, or a bare `{"name", "arguments"}` object).
 *
 * @module
 */
import { bad } from "./api.ts";
import { JsonGrammar, SchemaError } from "./json_grammar.ts";

/** One function the model may call. */
export interface ToolSpec {
  /** Function name. */
  name: string;
  /** What it does. */
  description: string;
  /** JSON schema of its arguments. */
  parameters: Record<string, unknown>;
}

/** What `tool_choice` asks for. */
export type ToolChoice = "none" | "auto" | "required" | { name: string };

/** A parsed call, in OpenAI's shape. */
export interface ToolCall {
  /** Call id. */
  id: string;
  /** Always "function". */
  type: "function";
  /** Name and JSON-encoded arguments. */
  function: { name: string; arguments: string };
}

/**
 * Check `tools` and `tool_choice`.
 *
 * @param tools the request's tools
 * @param choice the request's tool_choice
 * @returns the specs and the choice (auto when tools are given, else none)
 */
export function parseTools(
  tools: unknown,
  choice: unknown,
): { specs: ToolSpec[]; choice: ToolChoice } {
  if (tools === undefined || tools === null) {
    if (choice !== undefined && choice !== null && choice !== "none") {
      throw bad("tool_choice", "'tool_choice' needs 'tools'.");
    }
    return { specs: [], choice: "none" };
  }
  if (!Array.isArray(tools) || tools.length === 0 || tools.length > 128) {
    throw bad(
      "tools",
      "'tools' must be an array of 1 to 128 {type: 'function', function} objects.",
    );
  }
  const specs = tools.map((t, i): ToolSpec => {
    const f = (t as { function?: Record<string, unknown> })?.function;
    if ((t as { type?: unknown })?.type !== "function" || typeof f !== "object" || f === null) {
      throw bad(
        `tools[${i}]`,
        `tools[${i}] must be {type: "function", function: {name, parameters}}.`,
      );
    }
    if (typeof f.name !== "string" || !/^[a-zA-Z0-9_-]{1,64}$/.test(f.name)) {
      throw bad(
        `tools[${i}].function.name`,
        `tools[${i}].function.name must match [a-zA-Z0-9_-]{1,64}.`,
      );
    }
    const p = f.parameters ?? { type: "object", properties: {} };
    if (typeof p !== "object" || p === null || Array.isArray(p)) {
      throw bad(`tools[${i}].function.parameters`, "parameters must be a JSON schema object.");
    }
    const d = f.description ?? "";
    if (typeof d !== "string") throw bad(`tools[${i}].function.description`, "must be a string.");
    return { name: f.name, description: d, parameters: p as Record<string, unknown> };
  });
  let c: ToolChoice = "auto";
  if (choice === "none" || choice === "auto" || choice === "required") c = choice;
  else if (choice !== undefined && choice !== null) {
    const name = (choice as { function?: { name?: unknown } })?.function?.name;
    if ((choice as { type?: unknown }).type !== "function" || typeof name !== "string") {
      throw bad(
        "tool_choice",
        `'tool_choice' must be "none", "auto", "required" or {type: "function", function: {name}}.`,
      );
    }
    if (!specs.some((s) => s.name === name)) {
      throw bad("tool_choice", `tool_choice names '${name}', which is not in tools.`);
    }
    c = { name };
  }
  return { specs, choice: c };
}

/** Whether a chat template renders a `tools` variable. */
export function templateHasTools(source: string): boolean {
  return /\btools\b/.test(source);
}

/** The tag pair a template uses around calls (Qwen/Hermes style), or none. */
export function callTags(source: string): { prefix: string; suffix: string } {
  return source.includes("<tool_call>")
    ? { prefix: "<tool_call>\n", suffix: "\n</tool_call>" }
    : { prefix: "", suffix: "" };
}

/** The system text that describes the tools to a template without tool support. */
export function toolSystemText(specs: readonly ToolSpec[]): string {
  return "You may call one of these functions. To call one, answer with only a JSON object " +
    '{"name": <function name>, "arguments": <arguments object>}.\n' +
    JSON.stringify(specs.map((s) => ({ type: "function", function: s })));
}

/**
 * A grammar that forces one call of the allowed tools.
 *
 * @param specs the tools
 * @param choice "required" or a named function
 * @param source the chat template (for the tags around the call)
 */
export function callGrammar(
  specs: readonly ToolSpec[],
  choice: ToolChoice,
  source: string,
): JsonGrammar {
  const allowed = typeof choice === "object" ? specs.filter((s) => s.name === choice.name) : specs;
  const schema = {
    anyOf: allowed.map((s) => ({
      type: "object",
      properties: { name: { const: s.name }, arguments: s.parameters },
      required: ["name", "arguments"],
    })),
  };
  try {
    return JsonGrammar.fromSchema(schema, callTags(source));
  } catch (e) {
    if (e instanceof SchemaError) {
      throw bad("tools", e.message.replace("response_format json_schema", "tool parameters"));
    }
    throw e;
  }
}

let counter = 0;

function asCall(o: unknown): ToolCall | null {
  if (typeof o !== "object" || o === null || Array.isArray(o)) return null;
  const r = o as Record<string, unknown>;
  const args = r.arguments ?? r.parameters;
  if (typeof r.name !== "string" || typeof args !== "object" || args === null) return null;
  return {
    id: `call_${Date.now().toString(36)}${(counter++).toString(36)}`,
    type: "function",
    function: { name: r.name, arguments: JSON.stringify(args) },
  };
}

/**
 * Find tool calls in an answer.
 *
 * @param text the generated text
 * @param specs the tools offered (calls to other names are left as text)
 * @returns the text outside the calls and the calls
 */
export function parseCalls(
  text: string,
  specs: readonly ToolSpec[],
): { content: string; calls: ToolCall[] } {
  const names = new Set(specs.map((s) => s.name));
  const calls: ToolCall[] = [];
  const rest = text.replace(/<tool_call>\s*([\s\S]*?)\s*<\/tool_call>/g, (m, body: string) => {
    try {
      const c = asCall(JSON.parse(body));
      if (c && names.has(c.function.name)) return calls.push(c), "";
    } catch { /* not a call: keep the text */ }
    return m;
  });
  if (calls.length) return { content: rest.trim(), calls };
  const t = text.trim();
  if (t.startsWith("{")) {
    try {
      const c = asCall(JSON.parse(t));
      if (c && names.has(c.function.name)) return { content: "", calls: [c] };
    } catch { /* plain text */ }
  }
  return { content: text, calls: [] };
}
