/**
 * Hostile GGUF input: llama.cpp's corruption classes and the CVE classes each give a FormatError
 * naming the field and its byte offset; a fixed-seed sample of the fuzzer (`deno task fuzz` runs
 * the full one) finds no other error.
 */
import assert from "node:assert/strict";
import { FormatError } from "../../core/errors.ts";
import { decodeGguf } from "../../io/gguf/read.ts";
import { hostileCorpus, mutate, rng, runCase, validFile } from "../fuzz/gguf_cases.ts";

Deno.test("the fuzz seed file is valid and reads back", () => {
  const f = decodeGguf(validFile());
  assert.deepEqual(f.tensors.map((t) => [t.name, t.type, t.shape]), [
    ["a", "f32", [2, 4]],
    ["b", "q8_0", [2, 32]],
    ["c", "q4_k", [256]],
  ]);
  assert.deepEqual(f.get("a.arr"), ["ab", "c"]);
  assert.equal(f.get("a.i64"), -5n);
});

function assertRejected(c: { what: string; bytes: Uint8Array; field: RegExp }) {
  assert.throws(
    () => decodeGguf(c.bytes, "x.gguf"),
    (e: unknown) => {
      assert.ok(e instanceof FormatError, `${c.what}: ${e}`);
      assert.match(e.message, c.field);
      assert.match(e.message, /^gguf: x\.gguf: .* at byte offset \d+: /);
      return true;
    },
  );
}

const corpus = hostileCorpus();
for (const c of corpus.filter((c) => !c.what.startsWith("valid file cut"))) {
  Deno.test(`hostile GGUF: ${c.what} → FormatError naming the field`, () => assertRejected(c));
}

Deno.test("hostile GGUF: the valid file cut at every byte → FormatError", () => {
  const cuts = corpus.filter((c) => c.what.startsWith("valid file cut"));
  assert.equal(cuts.length, validFile().length);
  for (const c of cuts) assertRejected(c);
});

Deno.test("a header claiming a 2^60-byte array allocates nothing", () => {
  const c = hostileCorpus().find((x) => x.what.startsWith("u8 array count 2^60"))!;
  const before = Deno.memoryUsage().rss;
  for (let i = 0; i < 100; i++) assert.throws(() => decodeGguf(c.bytes), FormatError);
  assert.ok(Deno.memoryUsage().rss - before < 64 * 2 ** 20);
});

Deno.test("2000 fixed-seed fuzz cases: only FormatError, none slower than 1 s", () => {
  const r = rng(12345);
  const seeds = [validFile(), ...hostileCorpus().map((c) => c.bytes)];
  let parsed = 0;
  for (let i = 0; i < 2000; i++) {
    let b = r() < 0.5 ? seeds[0] : seeds[Math.floor(r() * seeds.length)];
    for (let k = 1 + Math.floor(r() * 3); k > 0; k--) b = mutate(b, r);
    const t = performance.now();
    const out = runCase(b);
    assert.ok(performance.now() - t < 1000, `case ${i} took over 1 s`);
    if (typeof out !== "string") assert.fail(`case ${i}: ${out.defect}`);
    if (out === "ok") parsed++;
  }
  assert.ok(parsed > 50, `only ${parsed} mutants parsed: the sample no longer reaches the tables`);
});

Deno.test("string arrays: 4-byte UTF-8, empty strings, and invalid bytes decode per string", async () => {
  const { Raw } = await import("../fuzz/gguf_cases.ts");
  const words = ["a", "", "😀b", "ünï", "𝄞𝄞", "x".repeat(40) + "✓"];
  const good = new Raw().u32(0x46554747).u32(3).u64(0).u64(1).str("k").u32(9).u32(8)
    .u64(words.length);
  for (const w of words) good.str(w);
  assert.deepEqual(decodeGguf(good.build()).get("k"), words);
  // a lone continuation byte in one string: that string gets U+FFFD, the others are intact
  const bad = new Raw().u32(0x46554747).u32(3).u64(0).u64(1).str("k").u32(9).u32(8).u64(3)
    .str("ok").u64(2).u8(0x80).u8(0x41).str("😀");
  assert.deepEqual(decodeGguf(bad.build()).get("k"), ["ok", "\ufffdA", "😀"]);
});

Deno.test("GGUF v2 files read like v3 (same layout; v3 only added big-endian files)", () => {
  const v = validFile();
  v[4] = 2;
  const f = decodeGguf(v);
  assert.equal(f.version, 2);
  assert.equal(f.tensors.length, 3);
});
