/**
 * Tokenizer metadata for GGUF from a Hugging Face checkpoint, as llama.cpp's converter writes it:
 * `tokenizer.json` BPE (GPT-2 style byte-level: Llama 3, Qwen2) → `tokenizer.ggml.model = "gpt2"`
 * with tokens, token types and merges; `tokenizer.model` (SentencePiece) → `"llama"` with tokens,
 * scores and types; special token ids and the chat template from `tokenizer_config.json`.
 *
 * @module
 */
import { FormatError } from "../../core/errors.ts";
import type { GgufValueInput } from "./write.ts";

/** llama.cpp's token types. */
const NORMAL = 1, CONTROL = 3, USER_DEFINED = 4;

async function readJson(path: string): Promise<Record<string, unknown> | null> {
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new FormatError(`convert: ${path}: ${(e as Error).message}`);
  }
}

/** Fields of SentencePiece's ModelProto.pieces (1: piece, 2: score, 3: type), parsed by hand. */
function sentencePieces(b: Uint8Array): { piece: string; score: number; type: number }[] {
  const dec = new TextDecoder();
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let p = 0;
  const varint = (end: number) => {
    let v = 0, mul = 1;
    for (;;) {
      if (p >= end) throw new FormatError("convert: tokenizer.model: truncated varint");
      const c = b[p++];
      v += (c & 0x7f) * mul;
      if (c < 0x80) return v;
      mul *= 128;
    }
  };
  const skip = (wt: number, end: number) => {
    if (wt === 0) varint(end);
    else if (wt === 1) p += 8;
    else if (wt === 2) p += varint(end);
    else if (wt === 5) p += 4;
    else throw new FormatError(`convert: tokenizer.model: wire type ${wt}`);
  };
  const out: { piece: string; score: number; type: number }[] = [];
  while (p < b.length) {
    const key = varint(b.length);
    if (key >>> 3 === 1 && (key & 7) === 2) {
      const len = varint(b.length), end = p + len;
      if (end > b.length) throw new FormatError("convert: tokenizer.model: truncated piece");
      const sp = { piece: "", score: 0, type: NORMAL };
      while (p < end) {
        const k = varint(end);
        if (k === (1 << 3 | 2)) {
          const n = varint(end);
          sp.piece = dec.decode(b.subarray(p, p + n));
          p += n;
        } else if (k === (2 << 3 | 5)) {
          sp.score = view.getFloat32(p, true);
          p += 4;
        } else if (k === (3 << 3 | 0)) sp.type = varint(end);
        else skip(k & 7, end);
      }
      out.push(sp);
    } else skip(key & 7, b.length);
  }
  return out;
}

/**
 * GGUF tokenizer metadata for the checkpoint directory `dir` (`arch` picks the BPE pre-tokenizer
 * name llama.cpp uses for it).
 */
export async function hfTokenizerMetadata(
  dir: string,
  arch: string,
  config: Record<string, unknown>,
): Promise<Map<string, GgufValueInput>> {
  const m = new Map<string, GgufValueInput>();
  const tcfg = (await readJson(`${dir}/tokenizer_config.json`)) ?? {};
  const tj = await readJson(`${dir}/tokenizer.json`);
  let sp: Uint8Array | null = null;
  try {
    sp = await Deno.readFile(`${dir}/tokenizer.model`);
  } catch { /* none */ }
  const vocabSize = Number(config.vocab_size);
  let idOf: (s: string) => number | undefined;
  if (sp !== null) {
    const pieces = sentencePieces(sp);
    const tokens = pieces.map((x) => x.piece);
    const types = pieces.map((x) => x.type);
    const scores = pieces.map((x) => x.score);
    for (let i = tokens.length; i < vocabSize; i++) {
      tokens.push(`[PAD${i}]`);
      types.push(USER_DEFINED);
      scores.push(-1000);
    }
    m.set("tokenizer.ggml.model", "llama");
    m.set("tokenizer.ggml.pre", "default");
    m.set("tokenizer.ggml.tokens", tokens);
    m.set("tokenizer.ggml.scores", Float32Array.from(scores));
    m.set("tokenizer.ggml.token_type", Int32Array.from(types));
    const index = new Map(tokens.map((t, i) => [t, i]));
    idOf = (s) => index.get(s);
  } else if (tj !== null && (tj.model as { type?: string })?.type === "BPE") {
    const model = tj.model as { vocab: Record<string, number>; merges: (string | string[])[] };
    const added = (tj.added_tokens ?? []) as { id: number; content: string; special: boolean }[];
    let n = vocabSize || 0;
    for (const id of Object.values(model.vocab)) n = Math.max(n, id + 1);
    for (const a of added) n = Math.max(n, a.id + 1);
    const tokens: string[] = new Array(n);
    const types = new Int32Array(n).fill(NORMAL);
    for (const [t, i] of Object.entries(model.vocab)) tokens[i] = t;
    for (const a of added) {
      tokens[a.id] = a.content;
      types[a.id] = a.special ? CONTROL : USER_DEFINED;
    }
    for (let i = 0; i < n; i++) {
      if (tokens[i] === undefined) {
        tokens[i] = `[PAD${i}]`;
        types[i] = USER_DEFINED;
      }
    }
    m.set("tokenizer.ggml.model", "gpt2");
    m.set("tokenizer.ggml.pre", arch === "qwen2" ? "qwen2" : "llama-bpe");
    m.set("tokenizer.ggml.tokens", tokens);
    m.set("tokenizer.ggml.token_type", types);
    m.set(
      "tokenizer.ggml.merges",
      model.merges.map((x) => (typeof x === "string" ? x : x.join(" "))),
    );
    const index = new Map(tokens.map((t, i) => [t, i]));
    idOf = (s) => index.get(s);
  } else {
    throw new FormatError(
      `convert: ${dir} has neither tokenizer.model nor a BPE tokenizer.json; hint: llama and ` +
        `qwen2 checkpoints ship one of them`,
    );
  }
  const special = (key: string, cfgId: unknown) => {
    const tok = tcfg[`${key}_token`];
    const content = typeof tok === "string" ? tok : (tok as { content?: string })?.content;
    const id = typeof cfgId === "number" ? cfgId : content ? idOf(content) : undefined;
    if (id !== undefined) m.set(`tokenizer.ggml.${key}_token_id`, { type: "u32", value: id });
  };
  special("bos", config.bos_token_id);
  special("eos", Array.isArray(config.eos_token_id) ? config.eos_token_id[0] : config.eos_token_id);
  special("unk", undefined);
  special("pad", config.pad_token_id);
  if (typeof tcfg.add_bos_token === "boolean") {
    m.set("tokenizer.ggml.add_bos_token", tcfg.add_bos_token);
  }
  if (typeof tcfg.add_eos_token === "boolean") {
    m.set("tokenizer.ggml.add_eos_token", tcfg.add_eos_token);
  }
  let template = typeof tcfg.chat_template === "string" ? tcfg.chat_template : undefined;
  try {
    template = await Deno.readTextFile(`${dir}/chat_template.jinja`); // transformers ≥ 4.50
  } catch { /* none */ }
  if (template !== undefined) m.set("tokenizer.chat_template", template);
  return m;
}
