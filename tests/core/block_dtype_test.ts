import assert from "node:assert/strict";
import {
  add,
  ALL_BLOCK_DTYPES,
  ALL_DTYPES,
  BLOCK_DTYPES,
  type BlockDType,
  byteLength,
  byteOffset,
  concat,
  conv2d,
  copyInto,
  DTypeError,
  dtypeInfo,
  DTYPES,
  elementBytes,
  exp,
  fromBlocks,
  GGML_ELEMENT_IDS,
  type KernelCall,
  matmul,
  maxPool2d,
  ones,
  registerBackend,
  ShapeError,
  softmax,
  stack,
  sum,
  type Tensor,
  tensor,
  unregisterBackend,
  where,
} from "../../mod.ts";
import { deviceProvider } from "../../core/backend/registry.ts";
import type { TensorView } from "../../core/backend/plugin.ts";
import type { StorageDType } from "../../core/dtype.ts";
import { assertMatches, needsNumpy, numpy } from "../helpers/numpy.ts";
import { pinLibrary } from "../helpers/pin_library.ts";
import { refDequantize, refQuantize } from "../helpers/ggml_oracle.ts";

// ---- the table against ggml ----------------------------------------------------------------

const LIBGGML = ".refs/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-base.so";
const hasGgml = (() => {
  try {
    return Deno.statSync(LIBGGML).isFile;
  } catch {
    return false;
  }
})();
if (!hasGgml && Deno.env.get("CI") === "true") {
  throw new Error(`CI=true but ${LIBGGML} is missing: run .ci/refs.sh.`);
}

Deno.test("every table row matches llama.cpp's ggml type traits (name, block size, bytes)", {
  ignore: !hasGgml,
}, () => {
  pinLibrary(Deno.realPathSync(LIBGGML));
  const lib = Deno.dlopen(LIBGGML, {
    ggml_blck_size: { parameters: ["i32"], result: "i64" },
    ggml_type_size: { parameters: ["i32"], result: "usize" },
    ggml_type_name: { parameters: ["i32"], result: "pointer" },
    ggml_is_quantized: { parameters: ["i32"], result: "bool" },
  });
  {
    const name = (id: number) => {
      const p = lib.symbols.ggml_type_name(id);
      return p === null ? null : new Deno.UnsafePointerView(p).getCString();
    };
    for (const d of ALL_BLOCK_DTYPES) {
      const r = BLOCK_DTYPES[d];
      assert.equal(name(r.ggml)?.toLowerCase(), d, `ggml id ${r.ggml}`); // ggml: "q2_K"
      assert.equal(Number(lib.symbols.ggml_blck_size(r.ggml)), r.blockSize, `${d} block size`);
      assert.equal(Number(lib.symbols.ggml_type_size(r.ggml)), r.blockBytes, `${d} block bytes`);
      assert.ok(lib.symbols.ggml_is_quantized(r.ggml), `${d} is quantized in ggml`);
    }
    for (const d of ALL_DTYPES) {
      const id = DTYPES[d].ggml;
      if (id === null) continue;
      assert.equal(name(id), d, `ggml id ${id}`);
      assert.equal(Number(lib.symbols.ggml_blck_size(id)), 1, `${d} block size`);
      assert.equal(Number(lib.symbols.ggml_type_size(id)), DTYPES[d].bytes, `${d} bytes`);
    }
  }
});

Deno.test("block rows match gguf-py's GGML_QUANT_SIZES (q8_1 aside: gguf-py says 40 bytes)", {
  ...needsNumpy,
}, async () => {
  const names = ALL_BLOCK_DTYPES.map((d) => d.toUpperCase());
  const [r] = await numpy([{
    setup: "from gguf.constants import GGML_QUANT_SIZES as S, GGMLQuantizationType as T",
    expr: "np.array([[T[n].value, *S[T[n]]] for n in names], dtype=np.int64)",
    scalars: { names },
  }]);
  assert.ok(!r.error, r.error);
  const got = r.results[0].values;
  ALL_BLOCK_DTYPES.forEach((d, i) => {
    const b = BLOCK_DTYPES[d];
    assert.equal(got[3 * i], b.ggml, `${d} id`);
    assert.equal(got[3 * i + 1], b.blockSize, `${d} block size`);
    assert.equal(got[3 * i + 2], d === "q8_1" ? 40 : b.blockBytes, `${d} block bytes`);
  });
});

Deno.test("the one table: unique names and ggml ids, element ids from the rows", () => {
  const ids = [
    ...ALL_DTYPES.flatMap((d) => (DTYPES[d].ggml === null ? [] : [DTYPES[d].ggml])),
    ...ALL_BLOCK_DTYPES.map((d) => BLOCK_DTYPES[d].ggml),
  ];
  assert.equal(new Set(ids).size, ids.length);
  assert.equal(new Set([...ALL_DTYPES, ...ALL_BLOCK_DTYPES]).size, 12 + 24);
  assert.deepEqual(GGML_ELEMENT_IDS, {
    f32: 0,
    f64: 28,
    f16: 1,
    bf16: 30,
    i8: 24,
    i16: 25,
    i32: 26,
    i64: 27,
  });
  assert.deepEqual([BLOCK_DTYPES.q4_k.blockSize, BLOCK_DTYPES.q4_k.blockBytes], [256, 144]);
  assert.deepEqual([BLOCK_DTYPES.q8_1.blockSize, BLOCK_DTYPES.q8_1.blockBytes], [32, 36]);
  for (const d of ALL_BLOCK_DTYPES) {
    const r = dtypeInfo(d);
    assert.equal(r.kind, "block");
    assert.equal(BLOCK_DTYPES[d].dequantize, "dequantize");
  }
  assert.equal(BLOCK_DTYPES.iq2_xxs.quantize, null); // needs an importance matrix in ggml
  assert.equal(BLOCK_DTYPES.q4_k.quantize, "quantize");
  assert.equal(dtypeInfo("f16").kind, "float");
  assert.throws(() => dtypeInfo("q9_9" as BlockDType), DTypeError);
});

// ---- byte sizes --------------------------------------------------------------------------------

Deno.test("byteLength and byteOffset count elements or whole blocks", () => {
  assert.equal(byteLength("f32", 10), 40);
  assert.equal(byteLength("bool", 3), 3);
  assert.equal(byteLength("i64", 0), 0);
  assert.equal(byteLength("q4_0", 64), 36);
  assert.equal(byteLength("q4_k", 512), 288);
  assert.equal(byteLength("q8_1", 32), 36);
  assert.equal(byteOffset("f16", 3), 6);
  assert.equal(byteOffset("f64", -2), -16); // relative offsets of element dtypes
  assert.equal(byteOffset("q8_0", 64), 68);
  assert.equal(byteOffset("q6_k", 0), 0);
  for (const d of ALL_DTYPES) assert.equal(byteLength(d, 7), 7 * DTYPES[d].bytes, d);
  for (const d of ALL_BLOCK_DTYPES) {
    const b = BLOCK_DTYPES[d];
    assert.equal(byteLength(d, 3 * b.blockSize), 3 * b.blockBytes, d);
    assert.equal(byteOffset(d, 5 * b.blockSize), 5 * b.blockBytes, d);
  }
});

Deno.test("byteLength/byteOffset/elementBytes refuse what is not whole blocks or a count", () => {
  const isBlockError = (op: string) => (e: Error) =>
    e instanceof DTypeError && e.message.startsWith(`${op}: q4_0 stores whole blocks of 32`) &&
    /not a multiple of 32/.test(e.message) && /Hint/.test(e.message);
  assert.throws(() => byteLength("q4_0", 33), isBlockError("byteLength"));
  assert.throws(() => byteOffset("q4_0", 16), isBlockError("byteOffset"));
  assert.throws(() => byteLength("f32", -1), /non-negative safe integer, got -1/);
  assert.throws(() => byteLength("f32", 1.5), DTypeError);
  assert.throws(() => byteOffset("q4_0", NaN), DTypeError);
  assert.throws(() => byteLength("f128" as "f32", 1), /unknown dtype "f128"/);
  assert.equal(elementBytes("u16"), 2);
  assert.throws(
    () => elementBytes("q4_k", "strides"),
    (e: Error) =>
      e instanceof DTypeError &&
      e.message.startsWith(
        "strides: q4_k is a block-quantized storage type (256 elements in " +
          "144-byte blocks)",
      ) && /astype\("f32"\)/.test(e.message),
  );
});

// ---- block tensors -----------------------------------------------------------------------------

/** `n` bytes of a fixed pseudo-random pattern. */
function pattern(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

Deno.test("fromBlocks holds raw blocks; bytesSync/bytes read them back", async () => {
  const raw = pattern(3 * 2 * 18);
  using q = fromBlocks(raw, "q4_0", [3, 64]);
  assert.equal(q.dtype, "q4_0");
  assert.deepEqual(q.shape, [3, 64]);
  assert.equal(q.storage.byteLength, 108);
  assert.deepEqual(q.bytesSync(), raw);
  assert.deepEqual(await q.bytes(), raw);
  assert.equal(q.toString(), "tensor(<6 q4_0 blocks>, shape=(3, 64), dtype=q4_0)");
});

Deno.test("fromBlocks checks the dtype, the shape and the byte count before allocating", () => {
  assert.throws(
    () => fromBlocks(new Uint8Array(35), "q4_0", [2, 32]),
    (e: Error) =>
      e instanceof ShapeError && /2 blocks of 18 bytes = 36 bytes, but 35 bytes/.test(e.message),
  );
  assert.throws(
    () => fromBlocks(new Uint8Array(18 * 3), "q4_0", [3, 16, 2]),
    (e: Error) => e instanceof DTypeError && /last axis/.test(e.message) && /16|2/.test(e.message),
  );
  assert.throws(() => fromBlocks(new Uint8Array(4), "f32" as BlockDType, [1]), /not a block/);
  assert.throws(() => fromBlocks(new Uint8Array(18), "q4_0", []), ShapeError);
  assert.throws(() => fromBlocks(new Uint8Array(0), "q4_0", [-32]), ShapeError);
});

Deno.test("views of whole rows are zero-copy and read back the rows' blocks", () => {
  const raw = pattern(4 * 2 * 34, 7); // q8_0: 4 rows of 2 blocks
  const row = (i: number) => raw.subarray(i * 68, (i + 1) * 68);
  using q = fromBlocks(raw, "q8_0", [4, 64]);
  using r1 = q.select(0, 1);
  assert.equal(r1.storage, q.storage);
  assert.deepEqual(r1.shape, [64]);
  assert.deepEqual(r1.bytesSync(), row(1));
  using odd = q.slice("1::2");
  assert.equal(odd.storage, q.storage);
  assert.ok(!odd.isContiguous);
  assert.deepEqual(odd.bytesSync(), new Uint8Array([...row(1), ...row(3)]));
  using rev = q.flip(0);
  assert.deepEqual(rev.bytesSync(), new Uint8Array([...row(3), ...row(2), ...row(1), ...row(0)]));
  using flat = q.reshape([-1]);
  assert.equal(flat.storage, q.storage);
  assert.deepEqual(flat.bytesSync(), raw);
  using blocks = q.reshape([8, 32]); // one block per row
  assert.deepEqual(blocks.select(0, 5).bytesSync(), raw.subarray(5 * 34, 6 * 34));
  using second = q.slice(null, "32:"); // the second block of every row
  assert.deepEqual(second.select(0, 2).bytesSync(), raw.subarray(2 * 68 + 34, 3 * 68));
  using batch = q.reshape([2, 2, 64]).select(0, 1).unsqueeze(0);
  assert.deepEqual(batch.bytesSync(), raw.subarray(136));
  using e = q.slice("0:1").expand([3, 64]); // a broadcast row: stride 0 on a leading axis
  assert.deepEqual(e.bytesSync(), new Uint8Array([...row(0), ...row(0), ...row(0)]));
});

Deno.test("a view that cuts inside a block is a DTypeError from the view code", () => {
  using q = fromBlocks(pattern(2 * 2 * 18), "q4_0", [2, 64]);
  const cuts = (f: () => unknown, why: RegExp) =>
    assert.throws(
      f,
      (e: Error) =>
        e instanceof DTypeError && /would cut inside its 32-element blocks/.test(e.message) &&
        why.test(e.message) && /astype\("f32"\)/.test(e.message),
    );
  cuts(() => q.T, /the last axis has 2 elements/);
  cuts(() => q.swapaxes(0, 1), /not a multiple of 32/);
  cuts(() => q.slice(null, "0:16"), /last axis has 16 elements/);
  cuts(() => q.slice(null, "::2"), /last axis has 32 elements|stride 2/);
  cuts(() => q.slice(null, "16:48"), /offset 16/);
  cuts(() => q.flip(1), /stride -1/);
  cuts(() => q.reshape([4, 2, 16]), /last axis has 16/);
  cuts(() => q.unsqueeze(-1), /last axis has 1 element/);
  cuts(() => q.select(1, 3), /last axis has 2 elements|0-d|not a multiple/);
  cuts(() => q.reshape([-1]).select(0, 0), /0-d/);
  cuts(() => q.view([32], [1], 8), /offset 8/);
});

Deno.test("element ops refuse a block operand with a DTypeError naming the op", () => {
  using q = fromBlocks(pattern(2 * 2 * 18), "q4_0", [2, 64]);
  const qt = q as unknown as Tensor; // what a JS caller (no types) can pass
  using f = ones([2, 64]);
  const refused = (op: string, fn: () => unknown) =>
    assert.throws(
      fn,
      (e: Error) =>
        e instanceof DTypeError &&
        e.message.startsWith(`${op}: q4_0 is a block-quantized storage type`) &&
        e.message.includes(`dequantize it first (astype("f32")) or use a kernel that reads it`),
      op,
    );
  refused("add", () => add(qt, f));
  refused("add", () => add(f, qt));
  refused("mul", () => qt.mul(2));
  refused("exp", () => exp(qt));
  refused("neg", () => qt.neg());
  refused("sum", () => sum(qt));
  refused("max", () => qt.max(1));
  refused("cumsum", () => qt.cumsum(0));
  refused("softmax", () => softmax(qt));
  refused("norm", () => qt.norm());
  refused("clip", () => qt.clip(0, 1));
  refused("matmul", () => matmul(qt, f.T));
  refused("sort", () => qt.sort());
  refused("take", () => qt.take([0]));
  refused("concat", () => concat([qt, qt]));
  refused("stack", () => stack([f, qt]));
  refused("pad", () => qt.pad([[0, 0], [0, 32]]));
  refused("tile", () => qt.tile(2));
  refused("roll", () => qt.roll(1));
  refused("where", () => where(f.gt(0), qt, f));
  refused("conv2d", () => conv2d(qt.reshape([1, 1, 2, 64]), ones([1, 1, 1, 1])));
  refused("maxPool2d", () => maxPool2d(qt.reshape([1, 1, 2, 64]), { kernelSize: 2 }));
  refused("copy", () => copyInto(qt, f)); // the dispatcher's guard: block outputs too
  assert.throws(
    () => qt.dataSync(),
    /^DTypeError: dataSync: q4_0 is a block-quantized storage type.*t\.bytesSync\(\) gives the raw/,
  );
  assert.throws(() => qt.toArraySync(), DTypeError);
  assert.throws(() => (q.requiresGrad = true), /only float tensors can require gradients/);
});

Deno.test("astype between block and element types runs the scalar codecs: bit-exact with ggml", {
  ignore: !hasGgml,
}, () => {
  // Rows of 0.1 + 2·cos(i + row) (llama.cpp's test data), strided rows included.
  const rows = 3, n = 512;
  const x = new Float32Array(rows * n).map((_, i) => 0.1 + 2 * Math.cos(i + Math.floor(i / n)));
  using f = tensor(x).reshape([rows, n]);
  for (const dtype of ["q4_0", "q8_0", "q4_k", "q6_k", "iq4_xs"] as const) {
    using q = f.astype(dtype);
    assert.equal(q.dtype, dtype);
    const bytes = q.bytesSync();
    const rb = BLOCK_DTYPES[dtype].blockBytes * (n / BLOCK_DTYPES[dtype].blockSize);
    for (let r = 0; r < rows; r++) {
      const want = refQuantize(ggmlName(dtype), x.subarray(r * n, (r + 1) * n), rb);
      assert.deepEqual(bytes.subarray(r * rb, (r + 1) * rb), want, `${dtype} row ${r}`);
    }
    using back = q.slice("1:").astype("f32"); // a view of whole rows, not at offset 0
    const got = back.dataSync() as Float32Array;
    const want = refDequantize(ggmlName(dtype), bytes.subarray(rb), 2 * n);
    assert.deepEqual(Array.from(got), Array.from(want), `${dtype} dequantized`);
  }
  using f256 = ones([1, 256]);
  assert.throws(
    () => f256.astype("iq2_xxs"),
    (e: Error) => e instanceof DTypeError && /no reference quantizer/.test(e.message),
  );
});

/** ggml's spelling of a block type (its K-quants keep a capital K). */
const ggmlName = (d: string) => d.replace(/_k$/, "_K");

/** A test plugin's q8_0 dequantize kernel (an f16 scale and 32 int8 per block: x = d * q). */
function dequantizeQ8(call: KernelCall): void {
  const [src] = call.inputs, [out] = call.outputs;
  const blocks = src as TensorView<StorageDType>;
  const raw = deviceProvider(src.device).readSync!(
    blocks.storage,
    byteOffset(blocks.dtype, blocks.offset),
    byteLength(blocks.dtype, blocks.size),
  );
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const x = new Float32Array(src.size);
  for (let b = 0; b < x.length / 32; b++) {
    const d = view.getFloat16(b * 34, true);
    for (let j = 0; j < 32; j++) x[b * 32 + j] = d * view.getInt8(b * 34 + 2 + j);
  }
  deviceProvider(out.device).write(
    out.storage,
    new Uint8Array(x.buffer),
    byteOffset(out.dtype, out.offset),
  );
}

Deno.test("a registered dequantize kernel serves astype; its values equal gguf-py's", {
  ...needsNumpy,
}, async () => {
  const raw = pattern(3 * 2 * 34, 11);
  const dv = new DataView(raw.buffer);
  for (let b = 0; b < 6; b++) dv.setFloat16(b * 34, (b - 2.5) / 64, true); // finite scales
  registerBackend({
    name: "q8-test",
    device: "cpu",
    probe: () => ({ available: true }),
    kernels: {
      dequantize: { run: dequantizeQ8, supports: (c) => (c.inputs[0].dtype as string) === "q8_0" },
    },
  }, { priority: 100 });
  try {
    using q = fromBlocks(raw, "q8_0", [3, 64]);
    using rows = q.slice("1:"); // a view, not offset 0
    using x = rows.astype("f32");
    using x16 = rows.astype("f16"); // through f32
    assert.deepEqual(x.shape, [2, 64]);
    using u8 = tensor(raw.slice(68), { dtype: "u8" });
    const [r] = await numpy([{
      setup: "import gguf",
      expr: "gguf.quants.dequantize(raw.reshape(2, 68), gguf.GGMLQuantizationType.Q8_0)",
      arrays: { raw: u8 },
    }]);
    assert.ok(!r.error, r.error);
    assertMatches(x, r.results[0], { rtol: 0, atol: 0 });
    assert.equal(x16.dtype, "f16");
    assertMatches(x16, r.results[0], { dtype: false, rtol: 2 ** -11, atol: 0 });
    using q4 = fromBlocks(pattern(18), "q4_0", [1, 32]);
    // The plugin declines q4_0: the scalar backend's codec serves it, as gguf-py decodes it.
    using x4 = q4.astype("f32");
    using u4 = tensor(pattern(18), { dtype: "u8" });
    const [r4] = await numpy([{
      setup: "import gguf",
      expr: "gguf.quants.dequantize(raw.reshape(1, 18), gguf.GGMLQuantizationType.Q4_0)",
      arrays: { raw: u4 },
    }]);
    assert.ok(!r4.error, r4.error);
    assertMatches(x4, r4.results[0], { rtol: 0, atol: 0 });
  } finally {
    unregisterBackend("q8-test");
  }
});

Deno.test("to() and clone() copy whole blocks", async () => {
  const raw = pattern(2 * 144, 5);
  using q = fromBlocks(raw, "q4_k", [2, 256]);
  using c = q.clone();
  assert.notEqual(c.storage, q.storage);
  assert.deepEqual(c.bytesSync(), raw);
  using moved = await q.select(0, 1).to("cpu");
  assert.deepEqual(moved.bytesSync(), raw.subarray(144));
  using rows = q.slice("::-1").clone();
  assert.ok(rows.isContiguous);
  assert.deepEqual(
    rows.bytesSync(),
    new Uint8Array([...raw.subarray(144), ...raw.subarray(0, 144)]),
  );
});
