/** The lazy safetensors reader on hostile headers (the fuzzer's seed classes and a sample). */
import assert from "node:assert/strict";
import { FormatError } from "../../core/errors.ts";
import { parseSafetensorsHeader } from "../../io/safetensors_lazy.ts";
import { rng } from "../fuzz/gguf_cases.ts";
import { hostileSt, mutateSt, runStCase, validSt } from "../fuzz/safetensors_cases.ts";

const parse = (b: Uint8Array) => parseSafetensorsHeader(b.length, (p, n) => b.subarray(p, p + n));

Deno.test("the safetensors fuzz seed is valid", () => {
  const h = parse(validSt());
  assert.deepEqual([...h.entries.keys()], ["a", "b", "c"]);
  assert.deepEqual(h.metadata, { format: "pt" });
});

for (const c of hostileSt()) {
  Deno.test(`hostile safetensors: ${c.what} → FormatError`, () => {
    assert.throws(() => parse(c.bytes), (e: unknown) => {
      assert.ok(e instanceof FormatError, `${c.what}: ${e}`);
      assert.match((e as Error).message, c.msg);
      return true;
    });
  });
}

Deno.test("1000 fixed-seed safetensors mutants: only FormatError", () => {
  const r = rng(99);
  const seeds = [validSt(), ...hostileSt().map((c) => c.bytes)];
  for (let i = 0; i < 1000; i++) {
    let b = r() < 0.5 ? seeds[0] : seeds[Math.floor(r() * seeds.length)];
    for (let k = 1 + Math.floor(r() * 3); k > 0; k--) b = mutateSt(b, r);
    const out = runStCase(b);
    if (typeof out !== "string") assert.fail(`case ${i}: ${out.defect}`);
  }
});
