/**
 * GGUF against its references: gguf-py (GGUFReader/GGUFWriter, gguf.quants) and llama.cpp's
 * `gguf_init_from_file` (libggml-base.so via Deno.dlopen).
 */
import assert from "node:assert/strict";
import { encodeBase64 } from "./base64.ts";
import { BLOCK_DTYPES, type BlockDType } from "../../core/dtype.ts";
import { bf16ToF32Row, BLOCK_CODECS, f16ToF32Row, quantizeRow } from "../../core/quant/mod.ts";
import {
  encodeGgufValue,
  type GgufFile,
  type GgufTensorInput,
  type GgufValue,
  isBlockType,
  openGguf,
  saveGguf,
} from "../../io/gguf/mod.ts";
import { ggmlOpenGguf, haveGgml } from "../helpers/ggml_oracle.ts";

const PY = Deno.env.get("APRENDER_PYTHON") ?? ".venv-ref/bin/python";
const SCRIPT = new URL("../helpers/gguf_ref.py", import.meta.url).pathname;
const haveGgufPy = (() => {
  try {
    return new Deno.Command(PY, { args: ["-c", "import gguf"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();
if (!haveGgufPy && Deno.env.get("CI") === "true") {
  throw new Error(`CI=true but ${PY} cannot import gguf: install gguf-py into the venv`);
}
const STORIES = new URL("../../../shared/models/stories260K.gguf", import.meta.url).pathname;

interface Summary {
  kv: [string, string, unknown][];
  tensors: {
    name: string;
    type: number;
    ne: number[];
    offset: number;
    bytes: string;
    deq: string | null;
  }[];
  alignment: number;
  data_offset: number;
}

/** gguf-py's view of a file, run under a timeout (gguf-py can hang on bad files). */
async function py(cmd: "read" | "write", path: string): Promise<Summary> {
  const out = await new Deno.Command(PY, {
    args: [SCRIPT, cmd, path],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

const b64 = (b: Uint8Array) => encodeBase64(b);

function dequantized(f: GgufFile, name: string): string | null {
  const t = f.tensorInfo(name);
  const bytes = f.readTensorBytes(t);
  const out = new Float32Array(t.nelements);
  if (isBlockType(t.type)) BLOCK_CODECS[t.type].dequantize(bytes, out);
  else if (t.type === "f16") f16ToF32Row(bytes, out);
  else if (t.type === "bf16") bf16ToF32Row(bytes, out);
  else return null;
  return b64(new Uint8Array(out.buffer));
}

function ours(f: GgufFile): Summary {
  return {
    kv: [...f.metadata].map(([k, v]) => [k, b64(encodeGgufValue(v)), null]),
    tensors: f.tensors.map((t) => ({
      name: t.name,
      type: t.ggmlType,
      ne: [...t.dims],
      offset: t.fileOffset,
      bytes: b64(f.readTensorBytes(t)),
      deq: dequantized(f, t.name),
    })),
    alignment: f.alignment,
    data_offset: f.dataOffset,
  };
}

/** Compare two summaries field by field (decoded values: only what both sides decode exactly). */
function assertSame(a: Summary, b: Summary, what: string) {
  assert.deepEqual(a.kv.map((e) => e[0]), b.kv.map((e) => e[0]), `${what}: keys`);
  for (let i = 0; i < a.kv.length; i++) {
    assert.equal(a.kv[i][1], b.kv[i][1], `${what}: raw value of ${a.kv[i][0]}`);
  }
  assert.equal(a.alignment, b.alignment);
  assert.equal(a.data_offset, b.data_offset);
  assert.equal(a.tensors.length, b.tensors.length);
  for (let i = 0; i < a.tensors.length; i++) {
    const x = a.tensors[i], y = b.tensors[i];
    assert.deepEqual(
      // a null `deq` on the reference side: gguf-py has no decoder for that type
      { ...x, bytes: x.bytes === y.bytes, deq: y.deq === null || x.deq === y.deq },
      { ...y, bytes: true, deq: true },
      `${what}: tensor ${x.name}`,
    );
  }
}

Deno.test({
  name: "gguf-py's files load bit-exactly: every value type, nested arrays, 30 tensor types",
  ignore: !haveGgufPy,
  async fn() {
    const path = await Deno.makeTempFile({ suffix: ".gguf" });
    const ref = await py("write", path);
    using f = await openGguf(path);
    assertSame(ours(f), ref, "gguf-py → ours");
    // decoded values agree too where JSON holds them exactly
    for (const [k, , val] of ref.kv) {
      const unsafe = (x: unknown) => typeof x === "number" && !Number.isSafeInteger(x);
      if (val === null || unsafe(val) || (Array.isArray(val) && val.some(unsafe))) continue;
      const v = f.get(k);
      assert.deepEqual(
        Array.isArray(val) && !Array.isArray(v) ? [...(v as Iterable<unknown>)] : v,
        val,
        k,
      );
    }
    assert.deepEqual(f.get("test.nested"), [
      { itemType: "i32", items: Int32Array.from([1, 2, 3]) },
      { itemType: "i32", items: Int32Array.from([4]) },
      { itemType: "i32", items: Int32Array.from([5, 6]) },
    ]);
    assert.equal(f.get("test.uint64"), 2n ** 63n + 12345n);
    assert.equal(f.get("test.int64"), -(2n ** 62n) - 7n);
    // gguf.quants' quantizers and ours agree on the same source values
    const src = new Float32Array(f.readTensorBytes("src").buffer);
    for (const q of ["q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "tq1_0", "tq2_0", "mxfp4"] as const) {
      const out = new Uint8Array((512 / BLOCK_DTYPES[q].blockSize) * BLOCK_DTYPES[q].blockBytes);
      quantizeRow(q, src, out);
      assert.deepEqual(out, f.readTensorBytes(`q.${q}`), `quantize ${q} vs gguf.quants`);
    }
    await Deno.remove(path);
  },
});

Deno.test({
  name: "saveGguf rewrites a gguf-py file byte for byte",
  ignore: !haveGgufPy,
  async fn() {
    const path = await Deno.makeTempFile({ suffix: ".gguf" });
    await py("write", path);
    const out = await Deno.makeTempFile({ suffix: ".gguf" });
    {
      using f = await openGguf(path);
      await saveGguf(out, {
        metadata: f.metadata,
        tensors: f.tensors.map((t) => ({
          name: t.name,
          shape: t.shape,
          type: t.type,
          data: () => f.readTensorBytes(t),
        })),
      });
    }
    assert.deepEqual(await Deno.readFile(out), await Deno.readFile(path));
    await Deno.remove(path);
    await Deno.remove(out);
  },
});

/** A file of ours: every metadata type and every tensor type (quantized by us where we can). */
async function writeOurs(
  path: string,
  opts: { nested: boolean; q8_1: boolean; alignment?: number },
) {
  const src = Float32Array.from({ length: 1024 }, (_, i) => Math.sin(i * 0.37) * 2 + 0.1);
  const metadata = new Map<string, GgufValue | string | number | boolean>([
    ["general.architecture", "llama"],
    ["a.u8", { type: "u8", value: 255 }],
    ["a.i8", { type: "i8", value: -128 }],
    ["a.u16", { type: "u16", value: 65535 }],
    ["a.i16", { type: "i16", value: -32768 }],
    ["a.u32", 4294967295],
    ["a.i32", -5],
    ["a.f32", 0.25],
    ["a.bool", false],
    ["a.string", "ünïcode ✓"],
    ["a.u64", { type: "u64", value: 18446744073709551615n }],
    ["a.i64", { type: "i64", value: -9223372036854775808n }],
    ["a.f64", { type: "f64", value: Math.PI }],
    ["a.arr_str", { type: "array", value: { itemType: "string", items: ["x", "", "zz"] } }],
    ["a.arr_f32", { type: "array", value: { itemType: "f32", items: new Float32Array([1, -2]) } }],
    ["a.arr_bool", { type: "array", value: { itemType: "bool", items: [true, false] } }],
    ["a.arr_i64", { type: "array", value: { itemType: "i64", items: new BigInt64Array([-1n]) } }],
  ]);
  if (opts.nested) {
    metadata.set("a.nested", {
      type: "array",
      value: {
        itemType: "array",
        items: [{ itemType: "u16", items: new Uint16Array([1, 2]) }, {
          itemType: "u16",
          items: new Uint16Array([3]),
        }],
      },
    });
  }
  const tensors: GgufTensorInput[] = [
    { name: "f32", shape: [4, 256], data: src },
    { name: "f16", shape: [4, 256], type: "f16", data: src },
    { name: "bf16", shape: [4, 256], type: "bf16", data: src },
    { name: "i32", shape: [3], type: "i32", data: new Int32Array([1, -2, 3]) },
  ];
  for (const t of Object.keys(BLOCK_CODECS) as BlockDType[]) {
    if (t === "q8_1" && !opts.q8_1) continue;
    const info = BLOCK_DTYPES[t];
    if (BLOCK_CODECS[t].quantize) {
      tensors.push({ name: `t.${t}`, shape: [4, 256], type: t, data: () => src });
    } else {
      // lattice types: packed bytes with finite scales (ours to write, gguf-py to decode)
      const raw = new Uint8Array(4 * (256 / info.blockSize) * info.blockBytes);
      for (let i = 0; i < raw.length; i++) raw[i] = (i * 73 + 11) & 0xff;
      for (let b = 0; b < raw.length / info.blockBytes; b++) {
        const o = b * info.blockBytes;
        if (t === "iq1_m") raw[o + 55] &= 0xbf;
        else raw.set(new Uint8Array(new Float16Array([0.5 + b]).buffer), o);
      }
      tensors.push({ name: `t.${t}`, shape: [4, 256], type: t, data: raw });
    }
  }
  let progress = 0;
  await saveGguf(path, {
    metadata,
    tensors,
    alignment: opts.alignment,
    onProgress: (d) => (progress = d),
  });
  assert.equal(progress, tensors.length);
}

Deno.test({
  name: "our files load in gguf-py bit-exactly (values, tensor bytes, its dequantization)",
  ignore: !haveGgufPy,
  async fn() {
    for (const alignment of [32, 64]) {
      const path = await Deno.makeTempFile({ suffix: ".gguf" });
      await writeOurs(path, { nested: true, q8_1: false, alignment });
      const ref = await py("read", path);
      using f = await openGguf(path);
      assertSame(ours(f), ref, `ours (alignment ${alignment}) → gguf-py`);
      await Deno.remove(path);
    }
  },
});

Deno.test({
  name: "our files load in llama.cpp's gguf_init_from_file with the same table and offsets",
  ignore: !haveGgml(),
  async fn() {
    for (const alignment of [32, 128]) {
      const path = await Deno.makeTempFile({ suffix: ".gguf" });
      await writeOurs(path, { nested: false, q8_1: true, alignment });
      const g = ggmlOpenGguf(path);
      assert.ok(g !== null, "llama.cpp rejected our file");
      using f = await openGguf(path);
      assert.deepEqual(g.keys, [...f.metadata.keys()]);
      assert.equal(g.alignment, alignment);
      assert.equal(g.dataOffset, f.dataOffset);
      assert.deepEqual(
        g.tensors,
        f.tensors.map((t) => ({ name: t.name, type: t.ggmlType, offset: t.offset })),
      );
      await Deno.remove(path);
    }
  },
});

Deno.test({
  name: "stories260K.gguf opens lazily and matches gguf-py's reading of it",
  ignore: !haveGgufPy,
  async fn() {
    const ref = await py("read", STORIES);
    using f = await openGguf(STORIES);
    assertSame(ours(f), ref, "stories260K");
    assert.equal(f.get("general.architecture"), "llama");
    assert.equal((f.get("tokenizer.ggml.tokens") as string[]).length, 512);
    const w = f.readTensor("token_embd.weight");
    assert.deepEqual(w.shape, [512, 64]);
  },
});

Deno.test("readTensor keeps element dtypes and dequantizes block types to f32", async () => {
  const path = await Deno.makeTempFile({ suffix: ".gguf" });
  const f32 = Float32Array.from({ length: 64 }, (_, i) => i / 4 - 3);
  await saveGguf(path, {
    tensors: [
      { name: "h", shape: [2, 32], type: "f16", data: f32 },
      { name: "b", shape: [2, 32], type: "bf16", data: f32 },
      { name: "d", shape: [64], type: "f64", data: f32 },
      { name: "i8", shape: [3], type: "i8", data: new Int8Array([-128, 0, 127]) },
      { name: "i16", shape: [2], type: "i16", data: new Int16Array([-300, 300]) },
      { name: "i64", shape: [1], type: "i64", data: new BigInt64Array([-(2n ** 62n)]) },
      { name: "q", shape: [2, 32], type: "q8_0", data: f32 },
    ],
  });
  using f = await openGguf(path);
  const h = f.readTensor("h");
  assert.equal(h.dtype, "f16");
  assert.deepEqual(h.shape, [2, 32]);
  assert.deepEqual([...h.dataSync()], [...f32]); // multiples of 1/4 are exact in f16
  assert.equal(f.readTensor("b").dtype, "bf16");
  assert.deepEqual([...f.readTensor("d").dataSync()], [...f32]);
  assert.deepEqual([...f.readTensor("i8").dataSync()], [-128, 0, 127]);
  assert.deepEqual([...f.readTensor("i16").dataSync()], [-300, 300]);
  assert.deepEqual([...f.readTensor("i64").dataSync()], [-(2n ** 62n)]);
  const q = f.readTensor("q");
  assert.equal(q.dtype, "f32");
  const expect = new Float32Array(64);
  const packed = new Uint8Array(68);
  quantizeRow("q8_0", f32, packed);
  BLOCK_CODECS.q8_0.dequantize(packed, expect);
  assert.deepEqual(q.dataSync(), expect);
  assert.throws(() => f.readTensor("nope"), /no tensor "nope" \(7 tensors: h, b, d, i8, i16/);
  await Deno.remove(path);
});

Deno.test("plain metadata values get the GGUF types gguf-py would give them", async () => {
  const { toGgufValue } = await import("../../io/gguf/write.ts");
  assert.deepEqual(toGgufValue("k", 7), { type: "u32", value: 7 });
  assert.deepEqual(toGgufValue("k", -7), { type: "i32", value: -7 });
  assert.deepEqual(toGgufValue("k", 5e9), { type: "u64", value: 5000000000n });
  assert.deepEqual(toGgufValue("k", 0.5), { type: "f32", value: 0.5 });
  assert.deepEqual(toGgufValue("k", [1, 2]), {
    type: "array",
    value: { itemType: "i32", items: Int32Array.from([1, 2]) },
  });
  assert.throws(() => toGgufValue("k", {} as never), /metadata "k": cannot store/);
});
