/**
 * References for the LLM tests: vocabulary-only GGUF files written by gguf-py (Python) and
 * llama.cpp's tokenizer (node-llama-cpp in a Node subprocess).
 *
 * Locally, tests that need a missing reference are ignored; under CI=true a missing reference
 * is a failure.
 */
const PY_CANDIDATES = [Deno.env.get("APRENDER_PYTHON"), ".venv-ref/bin/python"];

function run(cmd: string, args: string[]): { ok: boolean; out: string; err: string } {
  try {
    const r = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).outputSync();
    const d = new TextDecoder();
    return { ok: r.success, out: d.decode(r.stdout), err: d.decode(r.stderr) };
  } catch (e) {
    return { ok: false, out: "", err: String(e) };
  }
}

function findPython(mods: string): string | null {
  for (const c of PY_CANDIDATES) {
    if (c && run(c, ["-c", `import ${mods}`]).ok) return c;
  }
  return null;
}

/** Python with gguf-py and sentencepiece, or null. */
export const GGUF_PYTHON: string | null = findPython("gguf, sentencepiece");
/** Python with torch, transformers and gguf-py (reference models written to GGUF), or null. */
export const MODEL_PYTHON: string | null = findPython("torch, transformers, gguf");
/** Karpathy's stories260K (../shared/models), the real trained model of the LLM tests. */
export const STORIES = "../shared/models/stories260K.gguf";
/** Whether {@link STORIES} is there. */
export const HAS_STORIES: boolean = (() => {
  try {
    return Deno.statSync(STORIES).isFile;
  } catch {
    return false;
  }
})();
/** Python with jinja2 and transformers (its chat-template environment), or null. */
export const CHAT_PYTHON: string | null = findPython("jinja2, transformers");

if (Deno.env.get("CI") === "true" && !CHAT_PYTHON) {
  throw new Error(
    "CI=true but .venv-ref lacks jinja2/transformers: chat-template tests cannot run.",
  );
}

/**
 * Render chat-template cases with transformers' `render_jinja_template` (Python jinja2).
 *
 * @param dir a temporary directory
 * @param cases see chat_ref.py
 */
export function pythonChat(
  dir: string,
  cases: Record<string, unknown>[],
): ({ ok: true; text: string } | { ok: false; error: string })[] {
  const f = `${dir}/chat-${crypto.randomUUID()}.json`;
  Deno.writeTextFileSync(f, JSON.stringify(cases));
  const r = run(CHAT_PYTHON!, ["tests/helpers/chat_ref.py", f]);
  if (!r.ok) throw new Error(`chat_ref.py failed:\n${r.err}`);
  return JSON.parse(r.out);
}

const NLC = ".refs/node_modules/node-llama-cpp/package.json";
/** Whether node and node-llama-cpp are installed (.ci/refs.sh). */
export const HAS_LLAMA_CPP: boolean = (() => {
  try {
    Deno.statSync(NLC);
  } catch {
    return false;
  }
  return run("node", ["--version"]).ok;
})();

/** The SentencePiece model in the mistral_common wheel, or null. */
export const MISTRAL_MODEL: string | null = (() => {
  if (!GGUF_PYTHON) return null;
  const r = run(GGUF_PYTHON, [
    "-c",
    "import importlib.util,os;s=importlib.util.find_spec('mistral_common');" +
    "print(os.path.join(os.path.dirname(s.origin),'data','tokenizer.model.v1') if s else '')",
  ]);
  const p = r.out.trim();
  return r.ok && p ? p : null;
})();

if (Deno.env.get("CI") === "true" && (!GGUF_PYTHON || !HAS_LLAMA_CPP || !MISTRAL_MODEL)) {
  throw new Error(
    "CI=true but a tokenizer reference is missing (gguf + sentencepiece + mistral_common in " +
      ".venv-ref, node-llama-cpp in .refs): tokenizer reference tests cannot run.",
  );
}

/**
 * Write a vocabulary-only GGUF with gguf-py; returns its path and the tokenizer metadata.
 *
 * @param dir a temporary directory
 * @param kind `stories`, `spm` or `bpe:<pre>` (see vocab_gguf.py)
 * @param source the source file or folder
 * @param name the file's base name
 */
export function makeVocabGguf(
  dir: string,
  kind: string,
  source: string,
  name: string,
): { path: string; meta: Record<string, unknown> } {
  const path = `${dir}/${name}.gguf`;
  const r = run(GGUF_PYTHON!, ["tests/helpers/vocab_gguf.py", kind, source, path]);
  if (!r.ok) throw new Error(`vocab_gguf.py ${kind} ${source} failed:\n${r.err}`);
  return { path, meta: JSON.parse(r.out) };
}

/** One batch for {@link llamaTokenize}. */
export interface TokenizeRun {
  texts: string[];
  /** parse_special for tokenize, unparse_special for detokenize */
  special: boolean;
  detok?: number[][];
}

/**
 * llama.cpp's `llama_tokenize(text, add_special=false, parse_special)` for each text and
 * `llama_detokenize(ids, remove_special=false, unparse_special)` for each id list, per run, and
 * the vocabulary's end-of-generation ids (`llama_vocab_is_eog`).
 */
export function llamaTokenize(
  dir: string,
  model: string,
  vocabSize: number,
  runs: TokenizeRun[],
): { runs: { ids: number[][]; detok: string[] }[]; eog: number[] } {
  const req = `${dir}/req-${crypto.randomUUID()}.json`;
  Deno.writeTextFileSync(req, JSON.stringify({ model, vocabSize, runs }));
  const r = run("node", ["tests/helpers/llama_tokenize.mjs", req]);
  if (!r.ok) throw new Error(`llama_tokenize.mjs failed:\n${r.err}`);
  return JSON.parse(r.out);
}

/**
 * llama.cpp's logits after each prompt token and its greedy continuation of n tokens
 * (tests/helpers/llama_greedy.mjs: CPU, f32 KV cache, flash attention off).
 */
export function llamaGreedy(
  path: string,
  prompt: number[],
  n: number,
): { logits: number[][]; greedy: number[] } {
  const r = new Deno.Command("node", {
    args: ["tests/helpers/llama_greedy.mjs", path, JSON.stringify(prompt), String(n)],
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  if (!r.success) {
    throw new Error(`llama_greedy.mjs failed:\n${new TextDecoder().decode(r.stderr)}`);
  }
  return JSON.parse(new TextDecoder().decode(r.stdout));
}

/**
 * Mean negative log-likelihood (nats per token) of `ids[1:]`, given the logits row that follows
 * each prefix (`logits(t)` predicts `ids[t + 1]`); `exp` of it is the perplexity.
 */
export function meanNll(logits: (t: number) => ArrayLike<number>, ids: readonly number[]): number {
  let s = 0;
  for (let t = 0; t + 1 < ids.length; t++) {
    const l = logits(t);
    let m = -Infinity;
    for (let i = 0; i < l.length; i++) m = Math.max(m, l[i]);
    let z = 0;
    for (let i = 0; i < l.length; i++) z += Math.exp(l[i] - m);
    s += m + Math.log(z) - l[ids[t + 1]];
  }
  return s / (ids.length - 1);
}
