/**
 * safetensors: round trips for every dtype (ours ↔ the Python `safetensors` package, both ways,
 * byte-identical files), metadata, malformed files (typed FormatErrors), fuzzing, no leaks.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  ALL_DTYPES,
  decodeSafetensors,
  type DType,
  DTYPES,
  encodeSafetensors,
  FormatError,
  fromTyped,
  loadSafetensors,
  memory,
  saveSafetensors,
  type Tensor,
  tensor,
} from "../../mod.ts";
import { needsTorch, PYTHON } from "../helpers/numpy.ts";
import { makeTensor, rng } from "../helpers/gen.ts";

const ST_NAME: Record<DType, string> = {
  f32: "F32",
  f64: "F64",
  f16: "F16",
  bf16: "BF16",
  i8: "I8",
  u8: "U8",
  i16: "I16",
  u16: "U16",
  i32: "I32",
  u32: "U32",
  i64: "I64",
  bool: "BOOL",
};
const TORCH_NAME: Record<DType, string> = {
  f32: "float32",
  f64: "float64",
  f16: "float16",
  bf16: "bfloat16",
  i8: "int8",
  u8: "uint8",
  i16: "int16",
  u16: "uint16",
  i32: "int32",
  u32: "uint32",
  i64: "int64",
  bool: "bool",
};

/** A tensor of random raw bits (floats: every pattern, NaN payloads included). */
function randomBits(shape: number[], dtype: DType, seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const r = rng(seed);
  const raw = new Uint8Array(n * DTYPES[dtype].bytes);
  for (let i = 0; i < raw.length; i++) raw[i] = dtype === "bool" ? (r() < 0.5 ? 1 : 0) : r() * 256;
  return fromTyped(raw, shape, dtype);
}

function bytesOf(t: Tensor): Uint8Array {
  const d = t.dataSync();
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** Run a Python script with the reference venv; return stdout. */
async function py(script: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command(PYTHON!, {
    args: ["-c", "import sys, json\nimport numpy as np\n" + script, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`python failed:\n${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

function sample(): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  ALL_DTYPES.forEach((d, i) => (out[`t_${d}`] = randomBits([2, 3], d, i + 1)));
  out.scalar = tensor(3.5);
  out.empty = tensor([], { dtype: "i32", shape: [0, 4] });
  out["layer.0.weight"] = makeTensor([4, 3], "f32", 9, "transposed");
  return out;
}

function disposeAll(ts: Record<string, Tensor>): void {
  for (const t of Object.values(ts)) t.dispose();
}

function expectFormatError(b: Uint8Array, part: string | RegExp): void {
  assert.throws(
    () => decodeSafetensors(b),
    (e: Error) =>
      e instanceof FormatError &&
      (typeof part === "string" ? e.message.includes(part) : part.test(e.message)),
  );
}

/** A file with a hand-written header (padded to 8) and data. */
function withHeader(header: string | object, data = new Uint8Array(0), pad = true): Uint8Array {
  let h = typeof header === "string" ? header : JSON.stringify(header);
  if (pad) { while (h.length % 8) h += " "; }
  const hb = new TextEncoder().encode(h);
  const out = new Uint8Array(8 + hb.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(hb.length), true);
  out.set(hb, 8);
  out.set(data, 8 + hb.length);
  return out;
}

Deno.test("safetensors round trips every dtype bit-exactly, with metadata", async (t) => {
  await t.step("encode → decode", () => {
    const ts = sample();
    const bytes = encodeSafetensors(ts, { epoch: "3", note: "héllo ✓" });
    const { tensors, metadata } = decodeSafetensors(bytes);
    assert.deepEqual(metadata, { epoch: "3", note: "héllo ✓" });
    assert.deepEqual(Object.keys(tensors).sort(), Object.keys(ts).sort());
    for (const [k, v] of Object.entries(ts)) {
      assert.equal(tensors[k].dtype, v.dtype, k);
      assert.deepEqual(tensors[k].shape, v.shape, k);
      assert.deepEqual(bytesOf(tensors[k]), bytesOf(v), k);
    }
    disposeAll(ts);
    disposeAll(tensors);
  });
  await t.step("save → load through a file, and no metadata gives {}", async () => {
    const path = await Deno.makeTempFile({ suffix: ".safetensors" });
    const ts = sample();
    await saveSafetensors(path, ts);
    const { tensors, metadata } = await loadSafetensors(path);
    assert.deepEqual(metadata, {});
    for (const [k, v] of Object.entries(ts)) assert.deepEqual(bytesOf(tensors[k]), bytesOf(v), k);
    disposeAll(ts);
    disposeAll(tensors);
    await Deno.remove(path);
  });
  await t.step("the layout is the reference's: sorted by dtype then name, aligned, padded", () => {
    const bytes = encodeSafetensors({
      b: tensor([true]),
      a: tensor([1], { dtype: "f64" }),
      c: tensor([1], { dtype: "f64" }),
      h: tensor([1], { dtype: "f16" }),
    });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal(n % 8, 0);
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    assert.equal(
      header.trimEnd(),
      '{"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},' +
        '"c":{"dtype":"F64","shape":[1],"data_offsets":[8,16]},' +
        '"h":{"dtype":"F16","shape":[1],"data_offsets":[16,18]},' +
        '"b":{"dtype":"BOOL","shape":[1],"data_offsets":[18,19]}}',
    );
  });
  await t.step("a tensor named __proto__ is an ordinary entry", () => {
    const bytes = withHeader(
      '{"__proto__":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}',
      new Uint8Array([7]),
    );
    const { tensors } = decodeSafetensors(bytes);
    assert.deepEqual(Object.keys(tensors), ["__proto__"]);
    assert.deepEqual(tensors["__proto__"].toArraySync(), [7]);
    tensors["__proto__"].dispose();
  });
  await t.step("bad input to encode", () => {
    assert.throws(
      () => encodeSafetensors({ a: tensor([1]) }, { n: 3 as unknown as string }),
      (e: Error) => e instanceof FormatError && /strings only/.test(e.message),
    );
    assert.throws(() => encodeSafetensors({ a: 3 as unknown as Tensor }), FormatError);
  });
});

Deno.test({
  name: "safetensors files interoperate with the Python safetensors package, every dtype",
  ...needsTorch,
  async fn(t) {
    const dir = await Deno.makeTempDir();
    await t.step(
      "ours → safetensors.torch.load_file, values and re-saved bytes identical",
      async () => {
        const ts = sample();
        const path = `${dir}/ours.safetensors`;
        const bytes = encodeSafetensors(ts);
        await Deno.writeFile(path, bytes);
        const out = JSON.parse(
          await py(
            `
import torch
from safetensors.torch import load_file, save
d = load_file(sys.argv[1])
res = {}
for k, v in d.items():
    raw = v.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes() if v.dtype != torch.bool else v.numpy().astype(np.uint8).tobytes()
    res[k] = {"dtype": str(v.dtype).replace("torch.", ""), "shape": list(v.shape), "hex": raw.hex()}
again = save(d)
print(json.dumps({"tensors": res, "same": again == open(sys.argv[1], "rb").read()}))
`,
            path,
          ),
        );
        for (const [k, v] of Object.entries(ts)) {
          const r = out.tensors[k];
          assert.equal(r.dtype, TORCH_NAME[v.dtype], k);
          assert.deepEqual(r.shape, v.shape, k);
          assert.equal(
            r.hex,
            Array.from(bytesOf(v), (b) => b.toString(16).padStart(2, "0")).join(""),
            k,
          );
        }
        assert.equal(out.same, true, "safetensors re-saves our file byte for byte");
        disposeAll(ts);
      },
    );
    await t.step("safetensors.torch.save_file → ours, values and metadata", async () => {
      const path = `${dir}/theirs.safetensors`;
      const dtypes = ALL_DTYPES.map((d) => TORCH_NAME[d]);
      await py(
        `
import torch
from safetensors.torch import save_file
g = torch.Generator().manual_seed(0)
d = {}
for name in json.loads(sys.argv[2]):
    dt = getattr(torch, name)
    raw = torch.randint(0, 256, (3 * 5 * torch.empty(0, dtype=dt).element_size(),), dtype=torch.uint8, generator=g)
    d[name] = raw.view(dt).reshape(3, 5) if dt != torch.bool else (raw[:15] % 2).bool().reshape(3, 5)
d["scalar"] = torch.tensor(2.5, dtype=torch.float64)
d["empty"] = torch.zeros(0, 2, dtype=torch.int64)
d["t"] = torch.arange(12, dtype=torch.float32).reshape(3, 4).t()  # non-contiguous source
d = {k: v.contiguous() for k, v in d.items()}
save_file(d, sys.argv[1], metadata={"format": "pt", "epoch": "5"})
out = {}
for k, v in d.items():
    raw = v.reshape(-1).view(torch.uint8).numpy().tobytes() if v.dtype != torch.bool else v.numpy().astype(np.uint8).tobytes()
    out[k] = raw.hex()
open(sys.argv[1] + ".json", "w").write(json.dumps(out))
`,
        path,
        JSON.stringify(dtypes),
      );
      const expected = JSON.parse(await Deno.readTextFile(`${path}.json`));
      const { tensors, metadata } = await loadSafetensors(path);
      assert.deepEqual(metadata, { format: "pt", epoch: "5" });
      for (const d of ALL_DTYPES) {
        const x = tensors[TORCH_NAME[d]];
        assert.equal(x.dtype, d);
        assert.deepEqual(x.shape, [3, 5]);
        assert.equal(
          Array.from(bytesOf(x), (b) => b.toString(16).padStart(2, "0")).join(""),
          expected[TORCH_NAME[d]],
          d,
        );
      }
      assert.deepEqual(tensors.scalar.shape, []);
      assert.equal(tensors.scalar.item(), 2.5);
      assert.deepEqual(tensors.empty.shape, [0, 2]);
      assert.deepEqual(tensors.t.toArraySync(), [[0, 4, 8], [1, 5, 9], [2, 6, 10], [3, 7, 11]]);
      disposeAll(tensors);
    });
    await Deno.remove(dir, { recursive: true });
  },
});

Deno.test("malformed safetensors files throw FormatErrors naming the problem", async (t) => {
  const f32 = (n: number) => new Uint8Array(n * 4);
  const cases: [string, Uint8Array, string | RegExp][] = [
    ["shorter than the length field", new Uint8Array(5), "truncated"],
    [
      "header length beyond the file",
      (() => {
        const b = withHeader("{}");
        new DataView(b.buffer).setBigUint64(0, 1000n, true);
        return b;
      })(),
      "truncated",
    ],
    [
      "header length over the 100 MB limit",
      (() => {
        const b = new Uint8Array(16);
        new DataView(b.buffer).setBigUint64(0, 1n << 60n, true);
        return b;
      })(),
      "limit",
    ],
    ["header not UTF-8", withHeader("{\xff}").map((v, i) => (i === 9 ? 0xff : v)), "UTF-8"],
    ["header not starting with {", withHeader(' {"a":1}'), "start with '{'"],
    ["header not JSON", withHeader("{nope}"), "not valid JSON"],
    ["header an array", withHeader("[1,2]"), "start with '{'"],
    ["metadata not strings", withHeader({ __metadata__: { a: 1 } }), "not a string"],
    ["metadata not an object", withHeader({ __metadata__: "x" }), "not an object"],
    ["entry not an object", withHeader({ a: 3 }), "not an object"],
    [
      "unknown dtype",
      withHeader({ a: { dtype: "F33", shape: [1], data_offsets: [0, 4] } }, f32(1)),
      "unknown dtype",
    ],
    [
      "unsupported dtype",
      withHeader({ a: { dtype: "U64", shape: [1], data_offsets: [0, 8] } }, f32(2)),
      "not supported",
    ],
    [
      "negative dimension",
      withHeader({ a: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }, f32(1)),
      "non-negative",
    ],
    [
      "fractional dimension",
      withHeader({ a: { dtype: "F32", shape: [1.5], data_offsets: [0, 4] } }, f32(1)),
      "non-negative",
    ],
    [
      "offsets not a pair",
      withHeader({ a: { dtype: "F32", shape: [1], data_offsets: [0] } }, f32(1)),
      "pair",
    ],
    [
      "offsets reversed",
      withHeader({ a: { dtype: "F32", shape: [0], data_offsets: [4, 0] } }, f32(1)),
      "end before",
    ],
    [
      "byte size ≠ shape × dtype",
      withHeader({ a: { dtype: "F32", shape: [2], data_offsets: [0, 4] } }, f32(1)),
      "needs 8 bytes",
    ],
    [
      "absurd shape",
      withHeader(
        { a: { dtype: "F64", shape: [1 << 30, 1 << 30, 1 << 30], data_offsets: [0, 8] } },
        f32(2),
      ),
      "more than 2^53",
    ],
    [
      "a gap between tensors",
      withHeader({
        a: { dtype: "F32", shape: [1], data_offsets: [0, 4] },
        b: { dtype: "F32", shape: [1], data_offsets: [8, 12] },
      }, f32(3)),
      "contiguous",
    ],
    [
      "overlapping tensors",
      withHeader({
        a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
        b: { dtype: "F32", shape: [1], data_offsets: [4, 8] },
      }, f32(2)),
      "overlaps",
    ],
    [
      "a tensor past the end",
      withHeader({ a: { dtype: "F32", shape: [2], data_offsets: [0, 8] } }, f32(1)),
      "truncated",
    ],
    [
      "trailing bytes",
      withHeader({ a: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }, f32(2)),
      "trailing",
    ],
  ];
  for (const [what, bytes, part] of cases) {
    await t.step(what, () => expectFormatError(bytes, part));
  }
  await t.step("out-of-order offsets are fine when they tile the data", () => {
    const data = new Uint8Array(new Float32Array([1, 2, 3]).buffer);
    const { tensors } = decodeSafetensors(withHeader({
      b: { dtype: "F32", shape: [1], data_offsets: [8, 12] },
      a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
    }, data));
    assert.deepEqual(tensors.a.toArraySync(), [1, 2]);
    assert.deepEqual(tensors.b.toArraySync(), [3]);
    disposeAll(tensors);
  });
  await t.step("loadSafetensors names the file", async () => {
    const path = await Deno.makeTempFile({ suffix: ".safetensors" });
    await Deno.writeFile(path, new Uint8Array(3));
    await assert.rejects(
      () => loadSafetensors(path),
      (e: Error) => e instanceof FormatError && e.message.includes(path),
    );
    await Deno.remove(path);
  });
  await t.step("a huge header declared over a tiny file fails fast without allocating", () => {
    const before = memory();
    const t0 = performance.now();
    expectFormatError(
      withHeader({ a: { dtype: "F64", shape: [1 << 20, 1 << 20], data_offsets: [0, 2 ** 43] } }),
      /needs 8796093022208 bytes|trailing|truncated/,
    );
    assert.ok(performance.now() - t0 < 100);
    assert.deepEqual(memory(), before);
  });
});

function decodesOrFormatError(b: Uint8Array): void {
  try {
    const { tensors } = decodeSafetensors(b);
    disposeAll(tensors);
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
  }
}

Deno.test("fuzz: decodeSafetensors gives tensors or a FormatError, never a crash", async (t) => {
  const ts = sample();
  const valid = encodeSafetensors(ts, { k: "v" });
  disposeAll(ts);
  const t0 = performance.now();
  // Each step checks memory() synchronously: between steps, the finalizers of tensors that
  // other test files dropped may run and change the counts.
  const noLeak = (fn: () => void) => () => {
    const before = memory();
    fn();
    assert.deepEqual(memory(), before);
  };
  await t.step(
    "random bytes",
    noLeak(() => {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), decodesOrFormatError), {
        seed: 1,
        numRuns: 300,
      });
    }),
  );
  await t.step(
    "truncation at every length",
    noLeak(() => {
      for (let n = 0; n < valid.length; n++) expectFormatError(valid.subarray(0, n), /./);
    }),
  );
  await t.step(
    "random byte flips anywhere",
    noLeak(() => {
      fc.assert(
        fc.property(
          fc.array(fc.tuple(fc.nat({ max: valid.length - 1 }), fc.nat({ max: 255 })), {
            minLength: 1,
            maxLength: 4,
          }),
          (flips) => {
            const b = valid.slice();
            for (const [i, v] of flips) b[i] = v;
            decodesOrFormatError(b);
          },
        ),
        { seed: 3, numRuns: 500 },
      );
    }),
  );
  await t.step(
    "random headers from JSON fragments",
    noLeak(() => {
      const dtype = fc.constantFrom(...Object.values(ST_NAME), "U64", "X", "", "f32");
      const dim = fc.oneof(fc.nat({ max: 6 }), fc.constantFrom(-1, 1.5, 2 ** 53, 1e300));
      const entry = fc.record({
        dtype,
        shape: fc.array(dim, { maxLength: 4 }),
        data_offsets: fc.oneof(
          fc.tuple(fc.nat({ max: 64 }), fc.nat({ max: 64 })),
          fc.array(fc.integer({ min: -5, max: 64 }), { maxLength: 3 }),
        ),
      }, { requiredKeys: [] });
      fc.assert(
        fc.property(
          fc.dictionary(fc.string({ maxLength: 4 }), entry, { maxKeys: 4 }),
          fc.uint8Array({ maxLength: 64 }),
          (header, data) => decodesOrFormatError(withHeader(header, data)),
        ),
        { seed: 4, numRuns: 1000 },
      );
    }),
  );
  assert.ok(performance.now() - t0 < 10_000, "fuzzing took too long");
});
