import assert from "node:assert/strict";
import { ComputeError } from "../../core/errors.ts";
import { Tokenizer } from "../../llm/mod.ts";
import { bpeMetadata, exportLlamaGguf, Llama, trainBpe } from "../../llm/train/mod.ts";
import { seed } from "../../mod.ts";
import { HAS_LLAMA_CPP, llamaTokenize } from "../helpers/llama_refs.ts";
import { KJV_SAMPLE } from "./kjv_sample.ts";

/** A few hundred strings: every verse, pairs of verses, and cuts with odd spacing and symbols. */
function strings(): string[] {
  const verses = KJV_SAMPLE.split(/\n+/);
  const out = [...verses];
  for (let i = 0; i + 1 < verses.length; i += 2) out.push(`${verses[i]}\n${verses[i + 1]}`);
  for (let i = 0; i < verses.length; i += 3) {
    const v = verses[i];
    out.push(v.slice(3, 40), `  ${v.toUpperCase()}  `, v.replaceAll(" ", "\t"));
    out.push(`${v.slice(0, 20)} 1:${i} (${i * 37}) — «${v.slice(20, 30)}» é ü 日本`);
  }
  out.push("", " ", "\n\n", "<|endoftext|>", "a<|endoftext|>b", "x  \n  y", "1234567 89");
  return out;
}

Deno.test("trainBpe: merges the most frequent pair first, ties by merged text", () => {
  // pieces (qwen2 pre-tokenizer): "ab", " ab" ×2, " cd" ×2 → (a,b) 3 first; then (Ġ,ab), (Ġ,c)
  // and (c,d) tie at 2 and "cd" sorts before "Ġab" (U+0120); then (Ġ,ab) before (Ġ,cd)
  const b = trainBpe("ab ab ab cd cd", { vocabSize: 260 });
  assert.deepEqual(b.merges, ["a b", "c d", "Ġ ab"]);
  assert.deepEqual(b.tokens.slice(256), ["ab", "cd", "Ġab", "<|endoftext|>"]);
  assert.deepEqual(b.tokenTypes.slice(255), [1, 1, 1, 1, 3]);
  assert.equal(b.eos, 259);
});

Deno.test("trainBpe: rejects a vocabulary too small for the bytes and specials", () => {
  assert.throws(
    () => trainBpe("abc", { vocabSize: 256 }),
    (e) => e instanceof ComputeError && /vocabSize 256 must be an integer ≥ 257/.test(e.message),
  );
  assert.throws(() => trainBpe("abc", { vocabSize: 300, special: [] }), ComputeError);
});

Deno.test("trainBpe: our Tokenizer round-trips text through the trained vocabulary", () => {
  const tok = new Tokenizer(bpeMetadata(trainBpe(KJV_SAMPLE, { vocabSize: 400 })));
  for (const s of strings()) {
    if (s.includes("<|endoftext|>")) continue;
    assert.equal(tok.decode(tok.encode(s)), s);
  }
  // the trained merges shorten the text: fewer tokens than bytes
  const ids = tok.encode(KJV_SAMPLE);
  assert.ok(ids.length < new TextEncoder().encode(KJV_SAMPLE).length / 2, `${ids.length} tokens`);
});

Deno.test({
  name: "trainBpe: llama.cpp reads the GGUF tokenizer and gives our ids on a few hundred strings",
  ignore: !HAS_LLAMA_CPP,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const bpe = trainBpe(KJV_SAMPLE, { vocabSize: 400 });
      const meta = bpeMetadata(bpe);
      seed(0);
      const c = { vocabSize: 400, dim: 32, layers: 1, heads: 2, kvHeads: 1, ffn: 32, context: 16 };
      const m = new Llama(c);
      const path = `${dir}/tok.gguf`;
      await exportLlamaGguf(path, m, { tokenizer: meta });
      m.dispose();
      const texts = strings();
      assert.ok(texts.length >= 200, `${texts.length} strings`);
      const tok = new Tokenizer(meta);
      const ref = llamaTokenize(dir, path, bpe.tokens.length, [
        { texts, special: false },
        { texts, special: true },
      ]);
      for (let i = 0; i < texts.length; i++) {
        const t = texts[i];
        assert.deepEqual(tok.encode(t, { addSpecial: false }), ref.runs[0].ids[i], `plain: ${t}`);
        assert.deepEqual(
          tok.encode(t, { addSpecial: false, parseSpecial: true }),
          ref.runs[1].ids[i],
          `special: ${t}`,
        );
      }
      assert.deepEqual(ref.eog, [bpe.eos]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
