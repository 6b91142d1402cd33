/** `quantizeGguf` / `deno task gguf`: re-quantizing a real model file. */
import assert from "node:assert/strict";
import { BLOCK_DTYPES } from "../../core/dtype.ts";
import { quantizeRow } from "../../core/quant/mod.ts";
import { chooseType, openGguf, quantizeGguf, readAsF32 } from "../../io/gguf/mod.ts";
import { inspect } from "../../io/gguf/cli.ts";
import { ggmlOpenGguf, haveGgml } from "../helpers/ggml_oracle.ts";

const STORIES = new URL("../../../shared/models/stories260K.gguf", import.meta.url).pathname;

Deno.test("quantizeGguf q8_0: weights quantized by the reference algorithm, norms kept f32", async () => {
  const out = await Deno.makeTempFile({ suffix: ".gguf" });
  const seen: number[] = [];
  await quantizeGguf(STORIES, out, { type: "q8_0", onProgress: (d) => seen.push(d) });
  using src = await openGguf(STORIES);
  using q = await openGguf(out);
  assert.deepEqual(seen, src.tensors.map((_, i) => i + 1));
  assert.equal(q.get("general.file_type"), 7);
  for (const t of q.tensors) {
    const s = src.tensorInfo(t.name);
    assert.deepEqual(t.shape, s.shape);
    if (s.shape.length === 1) {
      assert.equal(t.type, "f32", t.name);
      assert.deepEqual(q.readTensorBytes(t), src.readTensorBytes(s));
      continue;
    }
    // ffn_down has rows of 172: not a whole number of 32-blocks, so llama.cpp's fallback (f16)
    const want = chooseType(t.name, s.shape, s.type, "q8_0");
    assert.equal(t.type, want, t.name);
    if (want === "q8_0") {
      const expect = new Uint8Array((t.nelements / 32) * BLOCK_DTYPES.q8_0.blockBytes);
      quantizeRow("q8_0", readAsF32(src, t.name), expect);
      assert.deepEqual(q.readTensorBytes(t), expect, t.name);
    }
  }
  if (haveGgml()) {
    const g = ggmlOpenGguf(out);
    assert.ok(g !== null, "llama.cpp rejected the quantized file");
    assert.equal(g.tensors.length, q.tensors.length);
  }
  const text = inspect(q, false);
  assert.match(text, /blk\.0\.attn_q\.weight\s+q8_0\s+\[64,64\]/);
  assert.equal(JSON.parse(inspect(q, true)).tensors.length, 48);
  await Deno.remove(out);
});

Deno.test("quantizeGguf refuses types without a reference quantizer", async () => {
  await assert.rejects(
    () => quantizeGguf(STORIES, "/tmp/never.gguf", { type: "iq2_xxs" }),
    /no reference quantizer for iq2_xxs/,
  );
});

Deno.test("chooseType falls back like llama-quantize for rows that do not split into blocks", () => {
  assert.equal(chooseType("a.weight", [8, 512], "f32", "q4_k"), "q4_k");
  assert.equal(chooseType("a.weight", [8, 64], "f32", "q4_k"), "q5_0");
  assert.equal(chooseType("a.weight", [8, 172], "f32", "q4_k"), "f16");
  assert.equal(chooseType("a.weight", [512], "f32", "q4_k"), "f32");
  assert.equal(chooseType("a.bias", [8, 512], "f32", "q4_k"), "f32");
});
