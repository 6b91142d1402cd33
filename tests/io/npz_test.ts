import assert from "node:assert/strict";
import fc from "fast-check";
import {
  ALL_DTYPES,
  decodeNpz,
  type DType,
  DTypeError,
  DTYPES,
  encodeNpz,
  FormatError,
  fromTyped,
  loadNpz,
  memory,
  saveNpz,
  type Tensor,
  tensor,
} from "../../mod.ts";
import { crc32, readZip, writeZip } from "../../io/zip.ts";
import { needsNumpy, PYTHON } from "../helpers/numpy.ts";
import { rng } from "../helpers/gen.ts";

const NP_DTYPES = ALL_DTYPES.filter((d) => d !== "bf16");

async function py(script: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command(PYTHON!, {
    args: ["-c", "import sys, json, io, zipfile\nimport numpy as np\n" + script, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`python failed:\n${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

function bytesOf(t: Tensor): Uint8Array {
  const d = t.dataSync();
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

function hexOf(t: Tensor): string {
  return Array.from(bytesOf(t), (b) => b.toString(16).padStart(2, "0")).join("");
}

function randomBits(shape: number[], dtype: DType, seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const r = rng(seed);
  const raw = new Uint8Array(n * DTYPES[dtype].bytes);
  for (let i = 0; i < raw.length; i++) raw[i] = dtype === "bool" ? (r() < 0.5 ? 1 : 0) : r() * 256;
  return fromTyped(raw, shape, dtype);
}

function disposeAll(r: Record<string, Tensor>): void {
  for (const t of Object.values(r)) t.dispose();
}

async function expectFormatError(bytes: Uint8Array, part: string | RegExp): Promise<void> {
  await assert.rejects(decodeNpz(bytes), (e: unknown) => {
    assert.ok(e instanceof FormatError, `expected FormatError, got ${e}`);
    if (typeof part === "string") assert.ok(e.message.includes(part), e.message);
    else assert.match(e.message, part);
    return true;
  });
}

async function decodesOrFormatError(bytes: Uint8Array): Promise<void> {
  try {
    disposeAll(await decodeNpz(bytes));
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
  }
}

/** A small stored archive with two entries, and its parts' offsets. */
async function sampleNpz(compress = false): Promise<Uint8Array> {
  const a = tensor([[1, 2, 3], [4, 5, 6]], { dtype: "i16" });
  const b = tensor([0.5, -1]);
  const out = await encodeNpz({ a, b }, { compress });
  a.dispose();
  b.dispose();
  return out;
}

Deno.test({
  name: "loadNpz reads np.savez and np.savez_compressed archives bit-exact",
  ...needsNumpy,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const manifest = JSON.parse(
        await py(
          `
dir = sys.argv[1]
rs = np.random.default_rng(3)
names = ["float32", "float64", "float16", "int8", "uint8", "int16", "uint16", "int32", "uint32",
         "int64", "bool"]
arrays = {}
for i, name in enumerate(names):
    dt = np.dtype(name)
    shape = [(2, 3), (), (0, 4), (2, 3, 4, 5), (17,)][i % 5]
    n = int(np.prod(shape))
    if dt.kind == 'b':
        a = (rs.integers(0, 2, n) == 1).reshape(shape)
    else:
        a = np.frombuffer(rs.bytes(n * dt.itemsize), dtype=dt).reshape(shape).copy()
    arrays[f"x_{name}"] = a
arrays["fortran"] = np.asfortranarray(np.arange(12, dtype=np.float32).reshape(3, 4))
arrays["big_endian"] = np.arange(5, dtype='>i4')
arrays["größe"] = np.ones(2, dtype=np.uint8)
arrays["nested/name"] = np.zeros((1, 1))
np.savez(f"{dir}/plain.npz", *[np.arange(3), np.eye(2)], **arrays)
np.savez_compressed(f"{dir}/comp.npz", **arrays)
# a data-descriptor archive: zipfile writes those to unseekable streams
class Unseekable(io.RawIOBase):
    def __init__(self): self.buf = io.BytesIO()
    def writable(self): return True
    def write(self, b): return self.buf.write(b)
u = Unseekable()
with zipfile.ZipFile(u, "w", compression=zipfile.ZIP_DEFLATED) as z:
    for k, v in arrays.items():
        with z.open(k + ".npy", "w") as f:
            np.lib.format.write_array(f, v)
    z.writestr("empty_dir/", b"")
    z.comment = b"archive comment"
open(f"{dir}/desc.npz", "wb").write(u.buf.getvalue())
with zipfile.ZipFile(f"{dir}/desc.npz") as z:
    assert all(i.flag_bits & 8 for i in z.infolist() if not i.is_dir())
exp = {k: {"hex": np.ascontiguousarray(v).astype(v.dtype.newbyteorder('<')).tobytes().hex(),
           "shape": list(v.shape), "dtype": v.dtype.str[1:]} for k, v in arrays.items()}
exp["arr_0"] = {"hex": np.arange(3).tobytes().hex(), "shape": [3], "dtype": "i8"}
exp["arr_1"] = {"hex": np.eye(2).tobytes().hex(), "shape": [2, 2], "dtype": "f8"}
print(json.dumps(exp))
`,
          dir,
        ),
      );
      const keys = Object.keys(manifest).sort();
      for (const file of ["plain", "comp", "desc"]) {
        const r = await loadNpz(`${dir}/${file}.npz`);
        const want = file === "plain" ? keys : keys.filter((k) => !k.startsWith("arr_"));
        assert.deepEqual(Object.keys(r).sort(), want, file);
        for (const k of want) {
          const t = r[k], e = manifest[k];
          assert.deepEqual([...t.shape], e.shape, `${file}/${k}`);
          assert.equal(DTYPES[t.dtype].numpy, e.dtype, `${file}/${k}`);
          assert.equal(hexOf(t), e.hex, `${file}/${k}`);
        }
        disposeAll(r);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "saveNpz (stored and compressed) writes what np.load reads bit-exact",
  ...needsNumpy,
  async fn() {
    const dir = await Deno.makeTempDir();
    const tensors: Record<string, Tensor> = {};
    try {
      let seed = 10;
      for (const d of NP_DTYPES) {
        tensors[`c_${d}`] = randomBits([3, 5], d, seed++);
        const base = randomBits([4, 6], d, seed++);
        tensors[`t_${d}`] = base.T.slice("::2");
        base.dispose();
      }
      tensors["scalar"] = tensor(7, { dtype: "i64" });
      tensors["empty"] = tensor([], { dtype: "f64" });
      tensors["ünïcode"] = tensor([1, 2], { dtype: "u8" });
      tensors["zeros"] = fromTyped(new Float32Array(5000), [50, 100], "f32");
      await saveNpz(`${dir}/stored.npz`, tensors);
      await saveNpz(`${dir}/comp.npz`, tensors, { compress: true });
      const res = JSON.parse(
        await py(
          `
out = {}
for p in sys.argv[1:3]:
    with np.load(p) as z:
        out[p] = {k: {"dtype": z[k].dtype.str[1:], "shape": list(z[k].shape),
                      "hex": z[k].tobytes().hex()} for k in z.files}
    with zipfile.ZipFile(p) as z:
        assert z.testzip() is None
        out[p + ":methods"] = sorted({i.compress_type for i in z.infolist()})
print(json.dumps(out))
`,
          `${dir}/stored.npz`,
          `${dir}/comp.npz`,
        ),
      );
      for (const [file, method] of [["stored", 0], ["comp", 8]] as const) {
        const r = res[`${dir}/${file}.npz`];
        assert.deepEqual(Object.keys(r).sort(), Object.keys(tensors).sort());
        for (const [k, t] of Object.entries(tensors)) {
          assert.equal(r[k].dtype, DTYPES[t.dtype].numpy, `${file}/${k}`);
          assert.deepEqual(r[k].shape, [...t.shape], `${file}/${k}`);
          assert.equal(r[k].hex, hexOf(t), `${file}/${k}`);
        }
        assert.deepEqual(res[`${dir}/${file}.npz:methods`], [method]);
      }
      const stored = (await Deno.stat(`${dir}/stored.npz`)).size;
      const comp = (await Deno.stat(`${dir}/comp.npz`)).size;
      assert.ok(comp < stored - 15000, `compressed ${comp} vs stored ${stored}`);
    } finally {
      disposeAll(tensors);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "zip64 archives written with forceZip64 read back here and in Python's zipfile",
  ...needsNumpy,
  async fn() {
    const files = [
      { name: "a.npy", data: new Uint8Array([1, 2, 3]) },
      { name: "b.npy", data: new Uint8Array(1000).fill(7) },
    ];
    for (const compress of [false, true]) {
      const zip = await writeZip(files, { forceZip64: true, compress });
      const back = await readZip(zip);
      assert.deepEqual(
        back.map((e) => [e.name, [...e.data]]),
        files.map((e) => [e.name, [...e.data]]),
      );
      const dir = await Deno.makeTempDir();
      await Deno.writeFile(`${dir}/z.zip`, zip);
      const out = await py(
        `
with zipfile.ZipFile(sys.argv[1]) as z:
    assert z.testzip() is None
    print(json.dumps([[i.filename, list(z.read(i))] for i in z.infolist()]))
`,
        `${dir}/z.zip`,
      );
      assert.deepEqual(JSON.parse(out), files.map((e) => [e.name, [...e.data]]));
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("npz round trip, names and errors on save", async (t) => {
  await t.step("every dtype, bit-exact, stored and compressed", async () => {
    const src: Record<string, Tensor> = {};
    NP_DTYPES.forEach((d, i) => (src[d] = randomBits([2, 3, 2], d, 50 + i)));
    for (const compress of [false, true]) {
      const back = await decodeNpz(await encodeNpz(src, { compress }));
      for (const [k, v] of Object.entries(src)) {
        assert.equal(back[k].dtype, v.dtype);
        assert.deepEqual(bytesOf(back[k]), bytesOf(v));
      }
      disposeAll(back);
    }
    disposeAll(src);
  });
  await t.step("a key named __proto__ is an ordinary entry", async () => {
    const x = tensor([1]);
    const src: Record<string, Tensor> = {};
    Object.defineProperty(src, "__proto__", { value: x, enumerable: true });
    const back = await decodeNpz(await encodeNpz(src));
    assert.deepEqual(Object.keys(back), ["__proto__"]);
    assert.ok(Object.hasOwn(back, "__proto__"));
    disposeAll(back);
    x.dispose();
  });
  await t.step("bf16 is refused with a hint", async () => {
    const x = tensor([1], { dtype: "bf16" });
    await assert.rejects(encodeNpz({ x }), (e: unknown) => {
      assert.ok(e instanceof DTypeError);
      assert.match(e.message, /astype\("f32"\)/);
      return true;
    });
    x.dispose();
  });
  await t.step("crc32 matches the standard check value", () => {
    assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  });
});

/** Little-endian field edits on an archive copy. */
function patch(b: Uint8Array, at: number, v: number, bytes: 2 | 4): Uint8Array {
  const c = b.slice();
  const dv = new DataView(c.buffer);
  if (bytes === 2) dv.setUint16(at, v, true);
  else dv.setUint32(at, v, true);
  return c;
}

/** Offset of the first central directory entry (from the end record). */
function cdOffset(b: Uint8Array): number {
  return new DataView(b.buffer, b.byteOffset).getUint32(b.length - 22 + 16, true);
}

/** A one-entry deflated archive whose entry declares `declared` uncompressed bytes. */
async function lyingDeflate(actual: Uint8Array, declared: number): Promise<Uint8Array> {
  const zip = await writeZip([{ name: "x.npy", data: actual }], { compress: true });
  const cd = cdOffset(zip);
  return patch(patch(zip, 22, declared, 4), cd + 24, declared, 4);
}

Deno.test("malformed .npz archives give FormatError naming the entry", async (t) => {
  const valid = await sampleNpz();
  const cd = cdOffset(valid);
  await t.step("not a zip at all", () => expectFormatError(new Uint8Array(100), "not a zip"));
  await t.step("too short", () => expectFormatError(new Uint8Array(5), "too short"));
  await t.step(
    "central directory offset past the end",
    () => expectFormatError(patch(valid, valid.length - 22 + 16, 1 << 30, 4), "central directory"),
  );
  await t.step(
    "entry count larger than the directory",
    () =>
      expectFormatError(
        patch(patch(valid, valid.length - 12, 60000, 2), valid.length - 14, 60000, 2),
        "too small",
      ),
  );
  await t.step(
    "local header offset pointing nowhere",
    () => expectFormatError(patch(valid, cd + 42, 5, 4), 'entry "a.npy"'),
  );
  await t.step(
    "local header offset past the end",
    () => expectFormatError(patch(valid, cd + 42, 0xfffffff0, 4), "past the end"),
  );
  await t.step(
    "compressed size larger than the file",
    () => expectFormatError(patch(valid, cd + 20, 1 << 30, 4), "past the end"),
  );
  await t.step(
    "stored entry whose sizes disagree",
    () => expectFormatError(patch(valid, cd + 24, 10, 4), "declares"),
  );
  await t.step("corrupt data fails the CRC-32", () => {
    const b = valid.slice();
    b[30 + 5 + 130] ^= 0x40; // a data byte of a.npy
    return expectFormatError(b, 'entry "a.npy" fails its CRC-32');
  });
  await t.step(
    "unsupported compression method",
    () => expectFormatError(patch(valid, cd + 10, 12, 2), "method 12"),
  );
  await t.step("encrypted entry", () => expectFormatError(patch(valid, cd + 8, 1, 2), "encrypted"));
  await t.step("overlapping entries", () => {
    // Point the second entry at the first one's local header.
    const second = cd + 46 + 5;
    return expectFormatError(patch(valid, second + 42, 0, 4), "overlap");
  });
  await t.step("an entry that is not a .npy file", async () => {
    const zip = await writeZip([{ name: "x.npy", data: new TextEncoder().encode("hello") }]);
    await expectFormatError(zip, /entry "x\.npy".*magic/);
  });
  await t.step("a bad .npy inside names the archive and entry, and leaks nothing", async () => {
    const before = memory();
    const good = tensor([1, 2]);
    const okBytes = await encodeNpz({ good });
    good.dispose();
    const entries = await readZip(okBytes);
    const zip = await writeZip([
      ...entries,
      { name: "bad.npy", data: entries[0].data.subarray(0, 80) },
    ]);
    await expectFormatError(zip, /decodeNpz: <bytes>, entry "bad\.npy": .*truncated/);
    assert.deepEqual(memory(), before);
  });
  await t.step("duplicate array names", async () => {
    const e = await readZip(await sampleNpz());
    await expectFormatError(await writeZip([e[0], { name: "a", data: e[0].data }]), "two arrays");
  });
  await t.step("deflate bomb: 16 MiB of zeros declaring 1000 bytes stops early", async () => {
    const t0 = performance.now();
    await expectFormatError(await lyingDeflate(new Uint8Array(16 << 20), 1000), "declared 1000");
    assert.ok(performance.now() - t0 < 2000);
  });
  await t.step("declared size beyond what deflate can produce", async () => {
    await expectFormatError(await lyingDeflate(new Uint8Array(100), 0xfffffff0), "deflate bomb");
  });
  await t.step("declared size larger than the real output", async () => {
    await expectFormatError(await lyingDeflate(new Uint8Array(100), 150), "inflates to 100");
  });
  await t.step("deflate stream cut short or followed by junk", async () => {
    const zip = await writeZip(
      [{ name: "x.npy", data: new Uint8Array(5000).map((_, i) => i * 7) }],
      {
        compress: true,
      },
    );
    const cd = cdOffset(zip);
    const comp = new DataView(zip.buffer).getUint32(cd + 20, true);
    for (const size of [1, 10, comp - 1, comp + 4]) {
      await expectFormatError(patch(patch(zip, 18, size, 4), cd + 20, size, 4), /entry "x\.npy"/);
    }
  });
  await t.step("corrupt deflate stream", async () => {
    const zip = await writeZip([{ name: "x.npy", data: new Uint8Array(500).fill(3) }], {
      compress: true,
    });
    const b = zip.slice();
    b[30 + 5] = 0xff; // first block header: invalid block type
    await expectFormatError(b, /entry "x\.npy"/);
  });
  await t.step("the error names the file on disk", async () => {
    const dir = await Deno.makeTempDir();
    await Deno.writeFile(`${dir}/broken.npz`, valid.subarray(0, 100));
    await assert.rejects(loadNpz(`${dir}/broken.npz`), (e: unknown) => {
      assert.ok(e instanceof FormatError);
      assert.ok(e.message.includes("loadNpz") && e.message.includes("broken.npz"), e.message);
      return true;
    });
    await Deno.remove(dir, { recursive: true });
  });
});

Deno.test("fuzz: decodeNpz gives tensors or FormatError, never a crash or a hang", async (t) => {
  const t0 = performance.now();
  const stored = await sampleNpz(false);
  const comp = await sampleNpz(true);
  await t.step("truncation at every length", async () => {
    for (const v of [stored, comp]) {
      for (let n = 0; n < v.length; n++) await expectFormatError(v.subarray(0, n), /./);
    }
  });
  await t.step("random bytes", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), (b) => decodesOrFormatError(b)),
      { seed: 5, numRuns: 200 },
    );
  });
  await t.step("random byte flips anywhere in stored and deflated archives", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 3 }),
        (useComp, flips) => {
          const b = (useComp ? comp : stored).slice();
          for (const [i, v] of flips) b[i % b.length] = v;
          return decodesOrFormatError(b);
        },
      ),
      { seed: 6, numRuns: 1500 },
    );
  });
  assert.ok(performance.now() - t0 < 10_000, "fuzzing took too long");
});
