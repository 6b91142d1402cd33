import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decodeIdx,
  DTypeError,
  DTYPES,
  encodeIdx,
  FormatError,
  fromTyped,
  IOError,
  loadIdx,
  memory,
  type Tensor,
  tensor,
} from "../../mod.ts";
import { needsNumpy, PYTHON } from "../helpers/numpy.ts";
import { rng } from "../helpers/gen.ts";

const FASHION = "/usr/share/datasets/fashion-mnist";
const FASHION_FILES = [
  "train-images-idx3-ubyte.gz",
  "train-labels-idx1-ubyte.gz",
  "t10k-images-idx3-ubyte.gz",
  "t10k-labels-idx1-ubyte.gz",
];
const HAS_FASHION = (() => {
  try {
    return FASHION_FILES.every((f) => Deno.statSync(`${FASHION}/${f}`).isFile);
  } catch {
    return false;
  }
})();
if (!HAS_FASHION && Deno.env.get("CI") === "true") {
  throw new Error(`CI=true but ${FASHION} is missing: apt-get install dataset-fashion-mnist.`);
}

/** Our dtype → NumPy's big-endian descr of the IDX type. */
const IDX_NP: Record<string, string> = {
  u8: "u1",
  i8: "i1",
  i16: ">i2",
  i32: ">i4",
  f32: ">f4",
  f64: ">f8",
};

/** Run a Python script (NumPy imported as np) with the given argv; return stdout. */
async function py(script: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command(PYTHON!, {
    args: ["-c", "import sys, json, gzip\nimport numpy as np\n" + script, ...args],
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

/** Little-endian host bytes of a NumPy array written as raw '<' bytes. */
function sameBytes(a: Uint8Array, b: Uint8Array, label: string): void {
  assert.equal(a.length, b.length, `${label}: byte length`);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) assert.fail(`${label}: byte ${i} differs (${a[i]} vs ${b[i]})`);
  }
}

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const s = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(s).arrayBuffer());
}

/** A small valid IDX file (i16, shape (2, 3)) for the fuzz tests. */
function sampleIdx(): Uint8Array {
  const t = tensor([[1, -2, 300], [4, 5, -32768]], { dtype: "i16" });
  const b = encodeIdx(t);
  t.dispose();
  return b;
}

function expectFormatError(fn: () => unknown, part: string | RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof FormatError, `expected FormatError, got ${e}`);
    if (typeof part === "string") assert.ok(e.message.includes(part), e.message);
    else assert.match(e.message, part);
    return true;
  });
}

async function expectFormatErrorAsync(p: Promise<unknown>, part: string | RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof FormatError, `expected FormatError, got ${e}`);
    if (typeof part === "string") assert.ok(e.message.includes(part), e.message);
    else assert.match(e.message, part);
    return true;
  });
}

/** Decode and require a FormatError or a valid tensor: never another error. */
function decodesOrFormatError(bytes: Uint8Array): void {
  try {
    decodeIdx(bytes).dispose();
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
  }
}

async function loadsOrFormatError(bytes: Uint8Array): Promise<void> {
  try {
    (await loadIdx(bytes)).dispose();
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
  }
}

Deno.test({
  name: "loadIdx reads the Fashion-MNIST .gz files exactly as NumPy reads them (gzip + frombuffer)",
  ...needsNumpy,
  ignore: needsNumpy.ignore || !HAS_FASHION,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      // NumPy's reading: gunzip, the dims from the header, np.frombuffer on the rest.
      const manifest = JSON.parse(
        await py(
          `
src, dst = sys.argv[1], sys.argv[2]
out = []
for i, f in enumerate(json.loads(sys.argv[3])):
    b = gzip.open(f"{src}/{f}").read()
    nd = b[3]
    dims = [int.from_bytes(b[4 + 4*k: 8 + 4*k], 'big') for k in range(nd)]
    a = np.frombuffer(b, dtype=np.uint8, offset=4 + 4*nd).reshape(dims)
    open(f"{dst}/{i}.raw", "wb").write(a.tobytes())
    out.append({"file": f, "shape": list(a.shape), "raw": f"{dst}/{i}.raw", "sum": int(a.sum(dtype=np.int64))})
print(json.dumps(out))
`,
          FASHION,
          dir,
          JSON.stringify(FASHION_FILES),
        ),
      );
      for (const m of manifest) {
        const t = await loadIdx(`${FASHION}/${m.file}`);
        assert.equal(t.dtype, "u8", m.file);
        assert.deepEqual(t.shape, m.shape, m.file);
        sameBytes(bytesOf(t), await Deno.readFile(m.raw), m.file);
        t.dispose();
      }
      assert.deepEqual(manifest.map((m: { shape: number[] }) => m.shape), [
        [60000, 28, 28],
        [60000],
        [10000, 28, 28],
        [10000],
      ]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "loadIdx reads IDX files NumPy writes for every IDX type, plain and gzipped, bit-exact",
  ...needsNumpy,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const manifest = JSON.parse(
        await py(
          `
dir = sys.argv[1]
types = json.loads(sys.argv[2])
codes = {"u1": 8, "i1": 9, ">i2": 11, ">i4": 12, ">f4": 13, ">f8": 14}
rs = np.random.default_rng(5)
cases = []
for ours, descr in types.items():
    dt = np.dtype(descr)
    for shape in [(), (0,), (7,), (3, 0, 2), (2, 3), (2, 3, 4, 5), (1,) * 9]:
        n = int(np.prod(shape))
        a = np.frombuffer(rs.bytes(n * dt.itemsize), dtype=dt).reshape(shape)
        hdr = bytes([0, 0, codes[descr], len(shape)]) + b"".join(int(d).to_bytes(4, "big") for d in shape)
        body = hdr + a.tobytes()
        for gz in (False, True):
            i = len(cases)
            p = f"{dir}/{i}.idx" + (".gz" if gz else "")
            if gz:
                with gzip.open(p, "wb") as f: f.write(body)
            else:
                open(p, "wb").write(body)
            open(f"{dir}/{i}.raw", "wb").write(a.astype(dt.newbyteorder("<")).tobytes())
            cases.append({"dtype": ours, "shape": list(shape), "path": p, "raw": f"{dir}/{i}.raw", "gz": gz})
print(json.dumps(cases))
`,
          dir,
          JSON.stringify(IDX_NP),
        ),
      );
      assert.ok(manifest.length >= 80);
      for (const c of manifest) {
        const label = `${c.dtype} ${JSON.stringify(c.shape)}${c.gz ? " gz" : ""}`;
        const t = await loadIdx(c.path);
        assert.equal(t.dtype, c.dtype, label);
        assert.deepEqual(t.shape, c.shape, label);
        sameBytes(bytesOf(t), await Deno.readFile(c.raw), label);
        t.dispose();
        if (!c.gz) {
          const u = decodeIdx(await Deno.readFile(c.path));
          sameBytes(bytesOf(u), await Deno.readFile(c.raw), `${label} decodeIdx`);
          u.dispose();
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "encodeIdx writes what NumPy reads back (big-endian, C order)",
  ...needsNumpy,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const r = rng(11);
      const cases: { path: string; dtype: string; shape: number[]; raw: string }[] = [];
      for (const dtype of Object.keys(IDX_NP)) {
        for (const shape of [[5], [2, 3], [3, 1, 4]]) {
          const n = shape.reduce((a, b) => a * b, 1);
          const raw = new Uint8Array(n * DTYPES[dtype as "u8"].bytes);
          for (let i = 0; i < raw.length; i++) raw[i] = r() * 256;
          const t = fromTyped(raw, shape, dtype as "u8");
          const i = cases.length;
          await Deno.writeFile(`${dir}/${i}.idx`, encodeIdx(t));
          await Deno.writeFile(`${dir}/${i}.raw`, bytesOf(t));
          t.dispose();
          cases.push({
            path: `${dir}/${i}.idx`,
            dtype: IDX_NP[dtype],
            shape,
            raw: `${dir}/${i}.raw`,
          });
        }
      }
      // A transposed (non-contiguous) view is written in its logical order.
      const base = tensor([[1, 2, 3], [4, 5, 6]], { dtype: "i32" });
      const tt = base.T;
      await Deno.writeFile(`${dir}/t.idx`, encodeIdx(tt));
      const ok = await py(
        `
for c in json.loads(sys.argv[1]):
    b = open(c["path"], "rb").read()
    nd = b[3]
    dims = [int.from_bytes(b[4 + 4*k: 8 + 4*k], "big") for k in range(nd)]
    assert dims == c["shape"], (dims, c)
    a = np.frombuffer(b, dtype=np.dtype(c["dtype"]), offset=4 + 4*nd).reshape(dims)
    ref = np.frombuffer(open(c["raw"], "rb").read(), dtype=np.dtype(c["dtype"]).newbyteorder("<")).reshape(dims)
    assert np.array_equal(a.view(np.uint8), ref.astype(a.dtype).view(np.uint8)), c
b = open(sys.argv[2], "rb").read()
assert b[:4] == bytes([0, 0, 12, 2]), b[:4]
a = np.frombuffer(b, dtype=">i4", offset=12).reshape(3, 2)
assert a.tolist() == [[1, 4], [2, 5], [3, 6]], a
print("ok")
`,
        JSON.stringify(cases),
        `${dir}/t.idx`,
      );
      assert.equal(ok.trim(), "ok");
      tt.dispose();
      base.dispose();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("encodeIdx / decodeIdx round-trip and refuse what IDX cannot hold", async (t) => {
  await t.step("round trip keeps dtype, shape and values, incl. NaN and -0", () => {
    const a = tensor([NaN, -0, Infinity, -1.5, 3.25e38], { dtype: "f32" });
    const b = decodeIdx(encodeIdx(a));
    assert.equal(b.dtype, "f32");
    sameBytes(bytesOf(b), bytesOf(a), "f32 specials");
    a.dispose();
    b.dispose();
  });
  await t.step("dtypes without an IDX type code throw DTypeError", () => {
    for (const dtype of ["f16", "bf16", "u16", "u32", "i64", "bool"] as const) {
      const x = tensor([1, 0], { dtype });
      assert.throws(() => encodeIdx(x), (e: unknown) => {
        assert.ok(e instanceof DTypeError);
        assert.match(e.message, new RegExp(`encodeIdx: dtype ${dtype}`));
        return true;
      });
      x.dispose();
    }
  });
  await t.step("nothing leaks", () => {
    const before = memory().devices.cpu?.bytes ?? 0;
    for (let i = 0; i < 20; i++) {
      const a = tensor([[1, 2], [3, 4]], { dtype: "u8" });
      decodeIdx(encodeIdx(a)).dispose();
      a.dispose();
    }
    assert.equal(memory().devices.cpu?.bytes ?? 0, before);
  });
});

Deno.test("malformed IDX gives FormatError naming the file and the problem", async (t) => {
  const valid = sampleIdx(); // 4 + 8 header bytes, 12 data bytes
  await t.step("truncated magic / header / data", () => {
    expectFormatError(() => decodeIdx(valid.subarray(0, 3)), "the magic number alone is 4");
    expectFormatError(() => decodeIdx(valid.subarray(0, 7)), "a 2-dimensional header is 12");
    expectFormatError(
      () => decodeIdx(valid.subarray(0, 20)),
      "need 12 bytes of data but only 8 follow the header",
    );
  });
  await t.step("trailing bytes", () => {
    const b = new Uint8Array(valid.length + 3);
    b.set(valid);
    expectFormatError(() => decodeIdx(b), "3 trailing bytes");
  });
  await t.step("bad magic and unknown type code", () => {
    const b = valid.slice();
    b[1] = 1;
    expectFormatError(() => decodeIdx(b), "must start with two zero bytes");
    const c = valid.slice();
    c[2] = 0x0a;
    expectFormatError(() => decodeIdx(c), "unknown IDX type code 0x0A");
  });
  await t.step("absurd dimensions are refused before any allocation", () => {
    const b = new Uint8Array([0, 0, 0x0e, 3, 255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 1, 0]);
    expectFormatError(() => decodeIdx(b), "maxBytes");
    const c = new Uint8Array([0, 0, 0x08, 1, 0, 0, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expectFormatError(() => decodeIdx(c, { maxBytes: 8 }), "more than the 8 bytes left");
  });
  await t.step("the name is in the message", () => {
    expectFormatError(() => decodeIdx(new Uint8Array(2), { name: "x.idx" }), "decodeIdx: x.idx:");
  });
  await t.step("gzipped bytes given to decodeIdx: a hint to use loadIdx", async () => {
    expectFormatError(() => decodeIdx(new Uint8Array(0)), "truncated");
    expectFormatError(() => decodeIdx(new Uint8Array([1, 2, 3, 4])), "not an IDX file");
    const gz = await gzip(valid);
    expectFormatError(() => decodeIdx(gz), "use loadIdx");
  });
  await t.step("corrupt and truncated gzip streams", async () => {
    const gz = await gzip(valid);
    await expectFormatErrorAsync(loadIdx(gz.subarray(0, gz.length - 9)), /gzip/);
    const bad = gz.slice();
    bad[12] ^= 0xff;
    bad[13] ^= 0x55;
    await expectFormatErrorAsync(loadIdx(bad), /./);
    await expectFormatErrorAsync(loadIdx(new Uint8Array([0x1f, 0x8b])), /gzip/);
  });
  await t.step("a gzip stream that inflates past its header's size stops early", async () => {
    // Header: 16 u8 items; then 64 MiB of zeros (a small gzip that would inflate hugely).
    const body = new Uint8Array(8 + 64 * 2 ** 20);
    body.set([0, 0, 8, 1, 0, 0, 0, 16]);
    const gz = await gzip(body);
    assert.ok(gz.length < 200_000);
    await expectFormatErrorAsync(loadIdx(gz, { name: "bomb.gz" }), "more than the 24 bytes");
  });
  await t.step(
    "loadIdx on a missing path: IOError with the platform's NotFound as cause",
    async () => {
      await assert.rejects(
        loadIdx("/nonexistent/x.idx"),
        (e: unknown) => e instanceof IOError && e.cause instanceof Deno.errors.NotFound,
      );
    },
  );
});

Deno.test("fuzz: decodeIdx / loadIdx give a tensor or FormatError, never a crash", async (t) => {
  const valid = sampleIdx();
  const gz = await gzip(valid);
  await t.step("random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => decodesOrFormatError(b)),
      { seed: 1, numRuns: 300 },
    );
  });
  await t.step("random dims and data after a valid type code", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(8, 9, 11, 12, 13, 14),
        fc.nat({ max: 6 }),
        fc.uint8Array({ maxLength: 120 }),
        (code, nd, rest) => {
          const b = new Uint8Array(4 + rest.length);
          b.set([0, 0, code, nd]);
          b.set(rest, 4);
          decodesOrFormatError(b);
        },
      ),
      { seed: 2, numRuns: 500 },
    );
  });
  await t.step("truncation at every length", () => {
    for (let n = 0; n < valid.length; n++) {
      expectFormatError(() => decodeIdx(valid.subarray(0, n)), /./);
    }
    decodesOrFormatError(valid);
  });
  await t.step("byte flips of a valid file", () => {
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
  });
  await t.step("byte flips and truncations of a gzipped file", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat({ max: gz.length - 1 }), fc.nat({ max: 255 })), {
          maxLength: 3,
        }),
        fc.nat({ max: gz.length }),
        async (flips, cut) => {
          const b = gz.slice(0, Math.max(2, cut));
          for (const [i, v] of flips) if (i < b.length) b[i] = v;
          await loadsOrFormatError(b);
        },
      ),
      { seed: 4, numRuns: 300 },
    );
  });
});
