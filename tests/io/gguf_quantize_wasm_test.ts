/**
 * `quantizeGguf` with the backends loaded: tensors go through the `quantize` and conversion
 * kernels (the WASM plugin's C quantizers, a chunk of rows at a time), and the file must hold
 * exactly the bytes core/quant's codecs give for the same values (tolerance: none). Which plugin
 * runs each type is tested in tests/backends/wasm_quantize_test.ts (iq4_nl: the scalar codecs).
 */
import assert from "node:assert/strict";
import { ready } from "../../mod.ts";
import { quantizeRow } from "../../core/quant/mod.ts";
import { BLOCK_DTYPES, type BlockDType } from "../../core/dtype.ts";
import { openGguf, quantizeGguf, readAsF32, saveGguf } from "../../io/gguf/mod.ts";

await ready();

Deno.test("quantizeGguf through the kernels writes the codecs' bytes (f16, bf16, f32 and q8_0 inputs)", async () => {
  const src = await Deno.makeTempFile({ suffix: ".gguf" });
  const wave = (n: number, k: number) =>
    Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + k) * (1 + (i % 97) / 50));
  await saveGguf(src, {
    tensors: [
      { name: "a.weight", shape: [24, 512], type: "f16", data: wave(24 * 512, 1) },
      { name: "b.weight", shape: [2, 3, 256], type: "bf16", data: wave(6 * 256, 2) },
      { name: "c.weight", shape: [5, 768], data: wave(5 * 768, 3) },
      { name: "d.weight", shape: [4, 256], type: "q8_0", data: wave(1024, 4) },
      { name: "norm.weight", shape: [512], data: wave(512, 5) },
    ],
  });
  for (const type of ["q4_k", "q6_k", "q4_0", "iq4_xs", "iq4_nl"] as BlockDType[]) {
    const out = await Deno.makeTempFile({ suffix: ".gguf" });
    await quantizeGguf(src, out, { type });
    using s = await openGguf(src);
    using q = await openGguf(out);
    for (const t of q.tensors) {
      if (t.name === "norm.weight") {
        assert.equal(t.type, "f32");
        continue;
      }
      assert.equal(t.type, type, t.name);
      const x = readAsF32(s, t.name);
      const want = new Uint8Array(
        (x.length / BLOCK_DTYPES[type].blockSize) * BLOCK_DTYPES[type].blockBytes,
      );
      quantizeRow(type, x, want);
      assert.deepEqual(q.readTensorBytes(t), want, `${type} ${t.name}`);
    }
    await Deno.remove(out);
  }
  await Deno.remove(src);
});
