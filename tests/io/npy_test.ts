import assert from "node:assert/strict";
import fc from "fast-check";
import {
  ALL_DTYPES,
  decodeNpy,
  type DType,
  DTypeError,
  DTYPES,
  encodeNpy,
  FormatError,
  fromTyped,
  loadNpy,
  memory,
  saveNpy,
  type Tensor,
  tensor,
} from "../../mod.ts";
import { needsNumpy, PYTHON } from "../helpers/numpy.ts";
import { rng } from "../helpers/gen.ts";

const NP_DTYPES = ALL_DTYPES.filter((d) => d !== "bf16");
const NP_NAME: Record<string, string> = {
  f32: "float32",
  f64: "float64",
  f16: "float16",
  i8: "int8",
  u8: "uint8",
  i16: "int16",
  u16: "uint16",
  i32: "int32",
  u32: "uint32",
  i64: "int64",
  bool: "bool",
};

/** Run a Python script (NumPy imported as np) with the given argv; return stdout. */
async function py(script: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command(PYTHON!, {
    args: ["-c", "import sys, json, io\nimport numpy as np\n" + script, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`python failed:\n${err}`);
  return new TextDecoder().decode(out.stdout);
}

function bytesOf(t: Tensor): Uint8Array {
  const d = t.dataSync();
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** A tensor of random raw bits (every float bit pattern: NaN payloads, -0, inf, subnormals). */
function randomBits(shape: number[], dtype: DType, seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const r = rng(seed);
  const raw = new Uint8Array(n * DTYPES[dtype].bytes);
  for (let i = 0; i < raw.length; i++) raw[i] = dtype === "bool" ? (r() < 0.5 ? 1 : 0) : r() * 256;
  return fromTyped(raw, shape, dtype);
}

/** A small valid .npy file for the fuzz tests. */
function sampleNpy(): Uint8Array {
  const t = tensor([[1, -2, 3], [4.5, 5, 6]]);
  const b = encodeNpy(t);
  t.dispose();
  return b;
}

/** A .npy file with a hand-written header text (version 1.0) followed by `data`. */
function withHeader(header: string, data = new Uint8Array(0), version = 1): Uint8Array {
  const h = new TextEncoder().encode(header);
  const pre = version === 1 ? 10 : 12;
  const out = new Uint8Array(pre + h.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const v = new DataView(out.buffer);
  if (version === 1) v.setUint16(8, h.length, true);
  else v.setUint32(8, h.length, true);
  out.set(h, pre);
  out.set(data, pre + h.length);
  return out;
}

function expectFormatError(bytes: Uint8Array, part: string | RegExp): void {
  assert.throws(() => decodeNpy(bytes), (e: unknown) => {
    assert.ok(e instanceof FormatError, `expected FormatError, got ${e}`);
    if (typeof part === "string") assert.ok(e.message.includes(part), e.message);
    else assert.match(e.message, part);
    return true;
  });
}

/** Decode and require a FormatError or a valid tensor: never another error. */
function decodesOrFormatError(bytes: Uint8Array): void {
  try {
    const t = decodeNpy(bytes);
    assert.ok(t.size >= 0);
    t.dispose();
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
  }
}

Deno.test({
  name: "loadNpy reads what np.save writes, bit-exact, for every dtype and layout",
  ...needsNumpy,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      // Python writes each case's .npy plus its expected raw little-endian C-order bytes.
      const manifest = JSON.parse(
        await py(
          `
dir = sys.argv[1]
rs = np.random.default_rng(7)
names = ${JSON.stringify(NP_NAME)}
cases = []
def raw(a):
    c = np.ascontiguousarray(a)
    return c.astype(c.dtype.newbyteorder('<')).tobytes()
def add(label, a, version=None):
    i = len(cases)
    p = f"{dir}/{i}.npy"
    if version is None:
        np.save(p, a)
    else:
        with open(p, 'wb') as f:
            np.lib.format.write_array(f, a, version=version)
    open(f"{dir}/{i}.raw", 'wb').write(raw(a))
    cases.append({"label": label, "path": p, "raw": f"{dir}/{i}.raw", "shape": list(a.shape)})
for ours, name in names.items():
    dt = np.dtype(name)
    def rand(shape):
        n = int(np.prod(shape))
        if dt.kind == 'b':
            return (rs.integers(0, 2, n) == 1).reshape(shape)
        return np.frombuffer(rs.bytes(n * dt.itemsize), dtype=dt).reshape(shape).copy()
    for shape in [(), (0,), (3, 0, 2), (7,), (2, 3), (2, 3, 4, 5)]:
        add(f"{ours} {shape}", rand(shape))
    add(f"{ours} fortran 2-d", np.asfortranarray(rand((3, 5))))
    add(f"{ours} fortran 4-d", np.asfortranarray(rand((2, 3, 4, 5))))
    add(f"{ours} transposed view", rand((4, 3)).T)
    add(f"{ours} big-endian", rand((3, 4)).astype(dt.newbyteorder('>')))
    add(f"{ours} big-endian fortran", np.asfortranarray(rand((3, 4)).astype(dt.newbyteorder('>'))))
    add(f"{ours} version 2.0", rand((5, 2)), (2, 0))
    add(f"{ours} version 3.0", rand((2, 2)), (3, 0))
if True:
    specials = np.array([np.nan, -np.nan, np.inf, -np.inf, -0.0, 0.0, 1e-45, 3.4e38], dtype=np.float32)
    add("f32 specials", specials)
    add("f16 specials", specials.astype(np.float16))
    add("f64 specials", specials.astype(np.float64))
    add("bool as ?", np.array([True, False, True]))
print(json.dumps(cases))
`,
          dir,
        ),
      );
      for (const c of manifest) {
        const dtype = c.label.split(" ")[0] as DType;
        const t = await loadNpy(c.path);
        assert.deepEqual([...t.shape], c.shape, c.label);
        assert.equal(t.dtype, dtype, c.label);
        assert.deepEqual(bytesOf(t), await Deno.readFile(c.raw), c.label);
        t.dispose();
      }
      assert.ok(manifest.length > 100);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "saveNpy writes what np.load reads bit-exact, byte-identical to np.save's own file",
  ...needsNumpy,
  async fn() {
    const dir = await Deno.makeTempDir();
    const ours: { path: string; t: Tensor; label: string }[] = [];
    try {
      let seed = 1;
      for (const dtype of NP_DTYPES) {
        for (const shape of [[], [0], [2, 0, 3], [9], [3, 4], [2, 3, 2, 3]]) {
          ours.push({ t: randomBits(shape, dtype, seed++), label: `${dtype} ${shape}`, path: "" });
        }
        // Non-contiguous views are written in their logical C order.
        const base = randomBits([4, 6], dtype, seed++);
        ours.push({ t: base.T, label: `${dtype} transposed`, path: "" });
        ours.push({ t: base.slice("::2", "1::3"), label: `${dtype} strided`, path: "" });
        ours.push({ t: base.slice(":1").expand([3, 6]), label: `${dtype} expanded`, path: "" });
        ours.push({ t: base.flip(1), label: `${dtype} flipped`, path: "" });
        base.dispose();
      }
      const specials = new Float32Array([NaN, -NaN, Infinity, -Infinity, -0, 0, 1e-45]);
      const bits = new Uint32Array(specials.buffer);
      bits[1] = 0xffc00001; // negative NaN with a payload
      ours.push({ t: fromTyped(specials, [7], "f32"), label: "f32 specials", path: "" });
      ours.push({
        t: fromTyped(new Uint16Array([0x7e01, 0xfc00, 0x7c00, 0x8000, 0x0001]), [5], "f16"),
        label: "f16 specials",
        path: "",
      });
      for (const [i, c] of ours.entries()) {
        c.path = `${dir}/${i}.npy`;
        if (i % 2) await saveNpy(c.path, c.t);
        else await Deno.writeFile(c.path, encodeNpy(c.t));
      }
      const res = JSON.parse(
        await py(
          `
out = []
for p in sys.argv[1:]:
    a = np.load(p)
    b = io.BytesIO()
    np.save(b, a)
    out.append({"dtype": a.dtype.str, "shape": list(a.shape), "hex": a.tobytes().hex(),
                "same_file": b.getvalue() == open(p, 'rb').read(), "c": a.flags.c_contiguous})
print(json.dumps(out))
`,
          ...ours.map((c) => c.path),
        ),
      );
      for (const [i, c] of ours.entries()) {
        const r = res[i];
        const info = DTYPES[c.t.dtype];
        assert.equal(r.dtype.slice(1), info.numpy, c.label);
        assert.deepEqual(r.shape, [...c.t.shape], c.label);
        const hex = Array.from(bytesOf(c.t), (b) => b.toString(16).padStart(2, "0")).join("");
        assert.equal(r.hex, hex, c.label);
        assert.ok(r.same_file, `${c.label}: np.save writes different bytes`);
      }
    } finally {
      for (const c of ours) c.t.dispose();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("npy round trip keeps every dtype, shape and bit", async (t) => {
  for (const [k, dtype] of NP_DTYPES.entries()) {
    await t.step(dtype, () => {
      const a = randomBits([3, 1, 4], dtype, 100 + k);
      const b = decodeNpy(encodeNpy(a));
      assert.equal(b.dtype, dtype);
      assert.deepEqual(b.shape, [3, 1, 4]);
      assert.deepEqual(bytesOf(b), bytesOf(a));
      a.dispose();
      b.dispose();
    });
  }
  await t.step("a URL path works for save and load", async () => {
    const dir = await Deno.makeTempDir();
    const url = new URL(`file://${dir}/x.npy`);
    const a = tensor([1, 2, 3], { dtype: "i16" });
    await saveNpy(url, a);
    const b = await loadNpy(url);
    assert.deepEqual(b.toArraySync(), [1, 2, 3]);
    a.dispose();
    b.dispose();
    await Deno.remove(dir, { recursive: true });
  });
  await t.step("Fortran order comes back as a view with the right logical layout", () => {
    // np.asfortranarray(np.arange(6, dtype=np.int32).reshape(2, 3)), header written by hand.
    const data = new Uint8Array(new Int32Array([0, 3, 1, 4, 2, 5]).buffer);
    const b = decodeNpy(
      withHeader("{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3), }\n", data),
    );
    assert.deepEqual(b.toArraySync(), [[0, 1, 2], [3, 4, 5]]);
    b.dispose();
  });
  await t.step("Python 2 long integers (3L) and double quotes parse", () => {
    const b = decodeNpy(
      withHeader(
        '{"descr": "|u1", "fortran_order": False, "shape": (2L, 1L)}',
        new Uint8Array([7, 9]),
      ),
    );
    assert.deepEqual(b.toArraySync(), [[7], [9]]);
    b.dispose();
  });
  await t.step("bool bytes other than 0/1 read as true", () => {
    const b = decodeNpy(
      withHeader(
        "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }",
        new Uint8Array([0, 2, 255]),
      ),
    );
    assert.deepEqual(b.toArraySync(), [false, true, true]);
    b.dispose();
  });
});

Deno.test("saveNpy refuses bf16 with a hint to convert", async () => {
  const a = tensor([1, 2], { dtype: "bf16" });
  assert.throws(() => encodeNpy(a), (e: unknown) => {
    assert.ok(e instanceof DTypeError);
    assert.match(e.message, /astype\("f32"\)/);
    return true;
  });
  await assert.rejects(saveNpy("/nonexistent/never.npy", a), DTypeError);
  a.dispose();
});

Deno.test("malformed .npy files give FormatError naming what is wrong", async (t) => {
  const hdr = (shape: string, descr = "<f4", fo = "False") =>
    `{'descr': '${descr}', 'fortran_order': ${fo}, 'shape': ${shape}, }`;
  const cases: [string, Uint8Array, string | RegExp][] = [
    ["empty file", new Uint8Array(0), "truncated"],
    ["bad magic", new TextEncoder().encode("PK\x03\x04 not npy at all"), "magic"],
    ["truncated preamble", sampleNpy().subarray(0, 8), "truncated"],
    [
      "unknown version",
      (() => {
        const b = sampleNpy();
        b[6] = 4;
        return b;
      })(),
      "version 4.0",
    ],
    ["header longer than the file", sampleNpy().subarray(0, 60), "truncated"],
    ["header not a dict", withHeader("[1, 2, 3]"), "dict literal"],
    ["header with code", withHeader("__import__('os').system('ls')"), "dict literal"],
    ["trailing junk after the dict", withHeader(hdr("(1,)") + " x"), "end of the header"],
    ["missing key", withHeader("{'descr': '<f4', 'shape': (1,)}"), "expected exactly"],
    ["extra key", withHeader(hdr("(1,)").replace("}", "'x': 1}")), "expected exactly"],
    ["duplicate key", withHeader("{'descr': '<f4', 'descr': '<f4', 'shape': ()}"), "repeats"],
    ["shape of floats", withHeader(hdr("(2.5,)")), "dict literal"],
    ["shape of strings", withHeader(hdr("('a',)")), "tuple of integers"],
    ["shape not a tuple", withHeader(hdr("(3)")), "tuple of integers"],
    ["shape a list", withHeader(hdr("[3]")), "tuple of integers"],
    ["negative dim", withHeader(hdr("(-3,)")), "negative"],
    ["huge integer", withHeader(hdr(`(${"9".repeat(50)},)`)), "40 digits"],
    ["dim beyond 2**53", withHeader(hdr("(18014398509481984,)")), "absurd"],
    ["absurd shape (2**60,)", withHeader(hdr("(1152921504606846976,)")), "absurd"],
    ["data shorter than the shape", withHeader(hdr("(3,)"), new Uint8Array(11)), "truncated"],
    ["(2**30, 2**30) needs more data", withHeader(hdr("(1073741824, 1073741824)")), "truncated"],
    ["65 dims", withHeader(hdr(`(${"1, ".repeat(65)})`)), "at most 64"],
    ["fortran_order not a bool", withHeader(hdr("(1,)", "<f4", "0")), "True or False"],
    ["unknown descr", withHeader(hdr("(1,)", "<x4"), new Uint8Array(4)), "unknown dtype"],
    ["object dtype", withHeader(hdr("(1,)", "|O"), new Uint8Array(8)), "pickle"],
    ["uint64", withHeader(hdr("(1,)", "<u8"), new Uint8Array(8)), "uint64"],
    ["complex", withHeader(hdr("(1,)", "<c8"), new Uint8Array(8)), "complex"],
    ["unicode", withHeader(hdr("(1,)", "<U3"), new Uint8Array(12)), "unicode"],
    ["void (ml_dtypes bfloat16)", withHeader(hdr("(1,)", "<V2"), new Uint8Array(2)), "void"],
    ["long double", withHeader(hdr("(1,)", "<f16"), new Uint8Array(16)), "extended"],
    [
      "structured dtype",
      withHeader("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }"),
      "structured",
    ],
    ["descr not a string", withHeader(hdr("(1,)").replace("'<f4'", "4")), "not a string"],
    ["unterminated string", withHeader("{'descr': '<f4"), "unterminated"],
    ["deep nesting", withHeader(`{'shape': ${"(".repeat(100000)}`), "nests deeper"],
  ];
  for (const [name, bytes, part] of cases) {
    await t.step(name, () => expectFormatError(bytes, part));
  }
  await t.step("the error names the file", async () => {
    const dir = await Deno.makeTempDir();
    await Deno.writeFile(`${dir}/bad.npy`, new Uint8Array([1, 2, 3]));
    await assert.rejects(loadNpy(`${dir}/bad.npy`), (e: unknown) => {
      assert.ok(e instanceof FormatError);
      assert.ok(e.message.includes("loadNpy") && e.message.includes("bad.npy"), e.message);
      return true;
    });
    await Deno.remove(dir, { recursive: true });
  });
  await t.step("a 3.0 header with invalid UTF-8 bytes", () => {
    const b = withHeader("{'descr': 'X'}", undefined, 3);
    b[12 + 11] = 0xff;
    expectFormatError(b, "UTF-8");
  });
});

Deno.test("a header declaring shape (1<<40,) over 10 bytes of data throws without allocating", () => {
  const before = memory();
  const rss = Deno.memoryUsage().rss;
  const t0 = performance.now();
  expectFormatError(
    withHeader(
      "{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776,), }",
      new Uint8Array(10),
    ),
    "truncated",
  );
  assert.ok(performance.now() - t0 < 100);
  assert.ok(Deno.memoryUsage().rss - rss < 64 << 20);
  assert.deepEqual(memory(), before);
});

Deno.test("fuzz: decodeNpy gives a tensor or FormatError, never a crash or a hang", async (t) => {
  const valid = sampleNpy();
  const t0 = performance.now();
  await t.step("random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => decodesOrFormatError(b)),
      { seed: 1, numRuns: 300 },
    );
  });
  await t.step("random bytes after a valid magic and version", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 1, max: 3 }), (b, v) => {
        const x = new Uint8Array(8 + b.length);
        x.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, v, 0]);
        x.set(b, 8);
        decodesOrFormatError(x);
      }),
      { seed: 2, numRuns: 300 },
    );
  });
  await t.step("truncation at every length", () => {
    for (let n = 0; n < valid.length; n++) expectFormatError(valid.subarray(0, n), /./);
    decodesOrFormatError(valid);
  });
  await t.step("random byte flips in the header", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: 127 }), fc.nat({ max: 255 })), {
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
  await t.step("random shape strings", () => {
    const token = fc.constantFrom(
      "(",
      ")",
      ",",
      " ",
      "-",
      "0",
      "1",
      "7",
      "65536",
      "4294967296",
      "1152921504606846976",
      "L",
      "True",
      "[",
      "]",
      "'",
      "{",
      "}",
      "None",
      ".5",
    );
    fc.assert(
      fc.property(fc.array(token, { maxLength: 20 }), fc.uint8Array({ maxLength: 64 }), (ts, d) => {
        const header = `{'descr': '<i2', 'fortran_order': False, 'shape': ${ts.join("")}, }`;
        decodesOrFormatError(withHeader(header, d));
      }),
      { seed: 4, numRuns: 1000 },
    );
  });
  assert.ok(performance.now() - t0 < 10_000, "fuzzing took too long");
});

Deno.test("decoding (C and Fortran order) and failures leave no tensors behind", () => {
  const before = memory();
  const data = new Uint8Array(new Int32Array([0, 3, 1, 4, 2, 5]).buffer);
  for (const fo of ["True", "False"]) {
    const b = decodeNpy(
      withHeader(`{'descr': '<i4', 'fortran_order': ${fo}, 'shape': (2, 3), }`, data),
    );
    encodeNpy(b);
    b.dispose();
  }
  for (let n = 0; n < 40; n++) decodesOrFormatError(sampleNpy().subarray(0, n));
  assert.deepEqual(memory(), before);
});
