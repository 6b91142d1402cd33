/**
 * GGUF block tensors stay packed on request: `readTensor(name, { dequantize: false })` gives a
 * tensor of the block dtype holding the file's bytes, and `astype("f32")` through the scalar
 * codecs gives what the reader's own decoding gives.
 */
import assert from "node:assert/strict";
import { openGguf, saveGguf } from "../../io/mod.ts";

Deno.test("readTensor keeps block types packed with { dequantize: false }", async () => {
  const path = await Deno.makeTempFile({ suffix: ".gguf" });
  try {
    const x = new Float32Array(4 * 64).map((_, i) => Math.sin(i) * 3);
    await saveGguf(path, {
      tensors: [
        { name: "w", shape: [4, 64], type: "q8_0", data: x },
        { name: "k", shape: [1, 256], type: "q4_k", data: x.subarray(0, 256) },
      ],
    });
    using f = await openGguf(path);
    for (const name of ["w", "k"]) {
      using packed = f.readTensor(name, { dequantize: false });
      assert.equal(packed.dtype, f.tensorInfo(name).type);
      assert.deepEqual(packed.shape, f.tensorInfo(name).shape);
      assert.deepEqual(packed.bytesSync(), f.readTensorBytes(name));
      using decoded = f.readTensor(name);
      using viaAstype = packed.astype("f32");
      assert.deepEqual(viaAstype.dataSync(), decoded.dataSync());
    }
  } finally {
    await Deno.remove(path);
  }
});
