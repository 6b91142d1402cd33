/**
 * Hostile ONNX models: each corruption class gives a typed error naming what was wrong; a
 * fixed-seed sample of the fuzzer (`deno task fuzz` runs the full one) finds no untyped error.
 */
import "../../backends/runtime.ts";
import assert from "node:assert/strict";
import { FormatError } from "../../core/errors.ts";
import { loadOnnxSync } from "../../io/onnx/session.ts";
import { rng } from "../fuzz/gguf_cases.ts";
import { FUZZ_DIR, hostileOnnx, mutateOnnx, onnxSeeds, runOnnxCase } from "../fuzz/onnx_cases.ts";

for (const c of hostileOnnx()) {
  Deno.test(`hostile ONNX model: ${c.what} is a FormatError`, () => {
    assert.throws(() => loadOnnxSync(c.bytes, { baseDir: FUZZ_DIR }), (e: unknown) => {
      assert.ok(e instanceof FormatError, `${c.what}: ${e}`);
      assert.match(e.message, c.msg);
      return true;
    });
  });
}

Deno.test("ONNX fuzz sample: 3000 mutants (seed 1234) give only typed errors, none slow", () => {
  const seeds = onnxSeeds();
  assert.equal(runOnnxCase(seeds[0]), "ok");
  assert.equal(runOnnxCase(seeds[1]), "ok");
  const r = rng(1234);
  let worst = 0;
  for (let i = 0; i < 3000; i++) {
    let b = r() < 0.5 ? seeds[0] : seeds[Math.floor(r() * seeds.length)];
    for (let k = 1 + Math.floor(r() * 3); k > 0; k--) b = mutateOnnx(b, r);
    const t = performance.now();
    const out = runOnnxCase(b);
    worst = Math.max(worst, performance.now() - t);
    if (typeof out !== "string") assert.fail(`case ${i}: ${out.defect}`);
  }
  assert.ok(worst < 1000, `slowest case ${worst.toFixed(0)} ms`);
});
