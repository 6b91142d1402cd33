/**
 * Issue 19, classes 1, 2, 3 and 11 on the loaders: decompression bombs with honest sizes stop
 * at the size budget before anything is inflated; untrusted enumerated fields never reach
 * `Object.prototype`; partially valid files and checkpoints are refused at load time naming the
 * field; OS errors are an IOError keeping the cause. Each class: the repro, then a
 * reviewer's variant of the same class.
 */
import assert from "node:assert/strict";
import {
  ArgumentError,
  decodeGguf,
  decodeIdx,
  decodeNpy,
  decodeNpz,
  decodeSafetensors,
  encodeNpy,
  encodeNpz,
  encodeSafetensors,
  FormatError,
  IOError,
  loadCheckpoint,
  loadIdx,
  loadNpy,
  loadNpz,
  loadOnnx,
  loadSafetensors,
  nn,
  openGguf,
  openSafetensors,
  optim,
  saveCheckpoint,
  saveGguf,
  saveNpy,
  saveNpz,
  saveSafetensors,
  tensor,
  zeros,
} from "../../mod.ts";
import { budgetOf, DEFAULT_MAX_BYTES } from "../../io/budget.ts";
import { writeZip } from "../../io/zip.ts";

async function gzip(b: Uint8Array): Promise<Uint8Array> {
  const s = new Blob([b as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(s).arrayBuffer());
}

/** A one-entry deflated archive of `data` whose entry declares `declared` bytes. */
async function npzDeclaring(data: Uint8Array, declared: number): Promise<Uint8Array> {
  const zip = await writeZip([{ name: "x.npy", data }], { compress: true });
  const dv = new DataView(zip.buffer);
  const cd = dv.getUint32(zip.length - 22 + 16, true);
  dv.setUint32(22, declared, true);
  dv.setUint32(cd + 24, declared, true);
  return zip;
}

function noise(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

async function rejectsFast(p: Promise<unknown>, what: RegExp): Promise<void> {
  const t0 = performance.now(), rss0 = Deno.memoryUsage().rss;
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof FormatError, String(e));
    assert.match((e as Error).message, what);
    return true;
  });
  assert.ok(performance.now() - t0 < 3000, "refused before inflating");
  assert.ok(Deno.memoryUsage().rss - rss0 < 256 * 2 ** 20, "nothing large was allocated");
}

Deno.test("class 1: a 1.46 MB npz declaring 1.5 GB stops at the budget, before inflating", async () => {
  // Deflate cannot shrink noise, so 1.46 MB of it declaring 1.5 GB passes the ratio check
  // (deflate's ~1032:1): only the budget stops it.
  const bomb = await npzDeclaring(noise(1_460_000), 1_500_000_000);
  await rejectsFast(decodeNpz(bomb), /maxBytes budget of 536870912/);
  await rejectsFast(loadNpz(bomb), /maxBytes/);
  // The budget is validated: NaN, negative, fractional and non-numbers are ArgumentErrors.
  for (const bad of [NaN, -1, 1.5, "1e9", null]) {
    await assert.rejects(decodeNpz(bomb, { maxBytes: bad as never }), ArgumentError);
    assert.throws(() => decodeIdx(new Uint8Array(4), { maxBytes: bad as never }), ArgumentError);
  }
  assert.equal(budgetOf("x", undefined, 10), DEFAULT_MAX_BYTES);
  assert.equal(budgetOf("x", undefined, DEFAULT_MAX_BYTES + 5), DEFAULT_MAX_BYTES + 5);
});

Deno.test("class 1 (variant): a gzip IDX bomb with an honest header, and an explicit budget", async () => {
  // Header: u8, 1 dimension of 1.5e9 items, then 4 MiB of the zeros it promises.
  const body = new Uint8Array(8 + 4 * 2 ** 20);
  body.set([0, 0, 8, 1]);
  new DataView(body.buffer).setUint32(4, 1_500_000_000, false);
  await rejectsFast(loadIdx(await gzip(body)), /maxBytes budget/);
  // A real payload inflates into one buffer of its declared size and loads within its budget;
  // the caller's smaller budget refuses it before inflating.
  const data = new Uint8Array(8 + 3 * 2 ** 20);
  data.set([0, 0, 8, 1]);
  new DataView(data.buffer).setUint32(4, 3 * 2 ** 20, false);
  data.fill(7, 8);
  const gz = await gzip(data);
  const t = await loadIdx(gz);
  assert.equal(t.size, 3 * 2 ** 20);
  assert.equal(t.dataSync()[12345], 7);
  t.dispose();
  await rejectsFast(loadIdx(gz, { maxBytes: 2 ** 20 }), /maxBytes budget of 1048576/);
  const npz = await encodeNpz({ a: zeros([2 ** 18]) }, { compress: true });
  await rejectsFast(decodeNpz(npz, { maxBytes: 2 ** 19 }), /entry "a\.npy" needs/);
  const ok = await decodeNpz(npz, { maxBytes: 2 ** 21 });
  assert.equal(ok.a.size, 2 ** 18);
  ok.a.dispose();
});

Deno.test("class 1 (variant): a size lie inflates only ~1 MiB past what it declares", async () => {
  // 64 MiB of zeros deflate to ~65 KB; given the whole stream at once the runtime inflated it
  // in one 64 MiB chunk before the declared-size check could stop it (RSS grew by 64-128 MiB).
  const zeros64 = new Uint8Array(64 * 2 ** 20);
  const lie = await npzDeclaring(zeros64, 1000);
  const idx = new Uint8Array(8 + 64 * 2 ** 20);
  idx.set([0, 0, 8, 1]);
  new DataView(idx.buffer).setUint32(4, 16, false); // declares 16 bytes
  const gz = await gzip(idx);
  for (const [what, load] of [["npz", () => decodeNpz(lie)], ["IDX", () => loadIdx(gz)]] as const) {
    const rss0 = Deno.memoryUsage().rss;
    await assert.rejects(load(), (e: unknown) => {
      assert.ok(e instanceof FormatError, String(e));
      assert.match((e as Error).message, /size lie or a decompression bomb/);
      return true;
    });
    const grew = (Deno.memoryUsage().rss - rss0) / 2 ** 20;
    assert.ok(grew < 24, `${what}: RSS grew by ${grew.toFixed(1)} MiB`);
  }
});

function npyWithDescr(descr: string): Uint8Array {
  let h = `{'descr': '${descr}', 'fortran_order': False, 'shape': (1,), }`;
  while ((10 + h.length + 1) % 64) h += " ";
  h += "\n";
  const b = new Uint8Array(10 + h.length + 8);
  b.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(b.buffer).setUint16(8, h.length, true);
  for (let i = 0; i < h.length; i++) b[10 + i] = h.charCodeAt(i);
  return b;
}

function stWithDtype(dtype: string): Uint8Array {
  const h = JSON.stringify({ w: { dtype, shape: [1], data_offsets: [0, 4] } });
  const b = new Uint8Array(8 + h.length + 4);
  new DataView(b.buffer).setBigUint64(0, BigInt(h.length), true);
  b.set(new TextEncoder().encode(h), 8);
  return b;
}

const PROTO_NAMES = ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf"];

Deno.test("class 2: a dtype named after an Object.prototype member is a FormatError", () => {
  assert.throws(() => decodeNpy(npyWithDescr("constructor")), FormatError);
  assert.throws(() => decodeSafetensors(stWithDtype("constructor")), FormatError);
  // Variant: every prototype member, with and without a byte-order prefix.
  for (const n of PROTO_NAMES) {
    for (const d of [n, `<${n}`, `|${n}`]) {
      assert.throws(() => decodeNpy(npyWithDescr(d)), FormatError, d);
    }
    assert.throws(() => decodeSafetensors(stWithDtype(n)), FormatError, n);
  }
});

Deno.test("class 3: a truncated 0-d .npy is a FormatError, not a wrong value", () => {
  const full = encodeNpy(tensor(3.5, { dtype: "f64" }));
  for (let cut = 1; cut <= 8; cut++) {
    assert.throws(() => decodeNpy(full.subarray(0, full.length - cut)), FormatError, `cut ${cut}`);
  }
  assert.equal(decodeNpy(full).item(), 3.5);
  // Variant: the same cut on a safetensors scalar and a 1-element array.
  const st = encodeSafetensors({ s: tensor(2, { dtype: "i64" }) });
  assert.throws(() => decodeSafetensors(st.subarray(0, st.length - 1)), FormatError);
  const one = encodeNpy(tensor([1], { dtype: "i32" }));
  assert.throws(() => decodeNpy(one.subarray(0, one.length - 1)), FormatError);
});

async function savedCheckpoint(): Promise<{
  bytes: Uint8Array;
  make: () => { model: nn.Linear; opt: optim.Adam; sched: optim.StepLR };
}> {
  const make = () => {
    const model = new nn.Linear(3, 2);
    const opt = new optim.Adam(model.parameters(), { lr: 0.01 });
    const sched = new optim.StepLR(opt, { stepSize: 2 });
    return { model, opt, sched };
  };
  const { model, opt, sched } = make();
  const x = tensor([[1, 2, 3]]);
  const loss = model.forward(x).sum();
  loss.backward();
  opt.step();
  sched.step();
  const path = await Deno.makeTempFile({ suffix: ".safetensors" });
  await saveCheckpoint(path, { model, optimizer: opt, scheduler: sched, epoch: 1 });
  const bytes = await Deno.readFile(path);
  await Deno.remove(path);
  return { bytes, make };
}

/** The checkpoint with its metadata field `key` rewritten by `edit`. */
function editMeta(bytes: Uint8Array, key: string, edit: (v: unknown) => unknown): Uint8Array {
  const { tensors, metadata } = decodeSafetensors(bytes);
  const meta = { ...metadata };
  const v = edit(key === "epoch" ? meta[key] : JSON.parse(meta[key]));
  meta[key] = key === "epoch" ? String(v) : JSON.stringify(v);
  const out = encodeSafetensors(tensors, meta);
  for (const t of Object.values(tensors)) t.dispose();
  return out;
}

Deno.test("class 3: mistyped, incomplete or null optimizer state fails at load, naming the field", async () => {
  const { bytes, make } = await savedCheckpoint();
  const edits: [string, string, (v: never) => unknown, RegExp][] = [
    ['lr: "fast"', "optim", (o: { paramGroups: { lr: unknown }[] }) => {
      o.paramGroups[0].lr = "fast";
      return o;
    }, /lr is "fast"/],
    ["betas: null", "optim", (o: { paramGroups: { betas: unknown }[] }) => {
      o.paramGroups[0].betas = null;
      return o;
    }, /betas is null/],
    ["NaN lr", "optim", (o: { paramGroups: { lr: unknown }[] }) => {
      o.paramGroups[0].lr = { $number: "NaN" };
      return o;
    }, /lr is NaN/],
    ["null state", "optim", () => null, /"optim" is null/],
    ['epoch "abc"', "epoch", () => "abc", /"epoch" is "abc"/],
    // Variants: a missing option, a boolean as a string, a fractional step, a scheduler field.
    ["no eps", "optim", (o: { paramGroups: Record<string, unknown>[] }) => {
      delete o.paramGroups[0].eps;
      return o;
    }, /has no "eps"/],
    ['amsgrad "yes"', "optim", (o: { paramGroups: Record<string, unknown>[] }) => {
      o.paramGroups[0].amsgrad = "yes";
      return o;
    }, /amsgrad is "yes"/],
    ["step 1.5", "optim", (o: { state: Record<string, Record<string, unknown>> }) => {
      o.state["0"].step = 1.5;
      return o;
    }, /"step" of parameter 0 is 1.5/],
    ['gamma "x"', "scheduler", (o: { state: Record<string, unknown> }) => {
      o.state.gamma = "x";
      return o;
    }, /gamma is "x"/],
  ];
  for (const [what, key, edit, msg] of edits) {
    const bad = editMeta(bytes, key, edit as (v: unknown) => unknown);
    const { model, opt, sched } = make();
    const before = model.weight.dataSync().slice();
    await assert.rejects(
      loadCheckpoint(bad, { model, optimizer: opt, scheduler: sched }),
      (e: unknown) => {
        assert.ok(e instanceof Error && e.name === "CheckpointError", `${what}: ${e}`);
        assert.match((e as Error).message, msg, what);
        return true;
      },
    );
    assert.deepEqual(model.weight.dataSync(), before, `${what}: the model is untouched`);
    assert.equal(opt.paramGroups[0].lr, 0.01, `${what}: the optimizer is untouched`);
  }
  // Incomplete tensor state: drop one parameter's second moment.
  const { tensors, metadata } = decodeSafetensors(bytes);
  const key = Object.keys(tensors).find((k) => k.endsWith(".expAvgSq"))!;
  tensors[key].dispose();
  delete tensors[key];
  const cut = encodeSafetensors(tensors, metadata);
  for (const t of Object.values(tensors)) t.dispose();
  const { model, opt } = make();
  await assert.rejects(loadCheckpoint(cut, { model, optimizer: opt }), /incomplete/);
  // The untouched file still loads.
  const ok = make();
  const r = await loadCheckpoint(bytes, {
    model: ok.model,
    optimizer: ok.opt,
    scheduler: ok.sched,
  });
  assert.equal(r.epoch, 1);
});

Deno.test("class 11: a missing path or a directory is an IOError keeping the cause", async () => {
  const dir = await Deno.makeTempDir();
  const loaders: [string, (p: string) => Promise<unknown>][] = [
    ["loadNpy", loadNpy],
    ["loadNpz", loadNpz],
    ["loadSafetensors", loadSafetensors],
    ["loadIdx", loadIdx],
    ["openSafetensors", openSafetensors],
    ["openGguf", openGguf],
  ];
  for (const [op, load] of loaders) {
    for (
      const [path, cause, msg] of [
        [`${dir}/missing.bin`, Deno.errors.NotFound, /no such file/],
        [dir, Error, /directory/],
      ] as const
    ) {
      await assert.rejects(load(path), (e: unknown) => {
        assert.ok(e instanceof IOError, `${op} ${path}: ${e}`);
        assert.ok(
          (e as Error).message.startsWith(`${op}: cannot read ${path}`),
          (e as Error).message,
        );
        assert.match((e as Error).message, msg);
        assert.ok((e as Error).cause instanceof cause, `${op}: keeps the cause`);
        return true;
      });
    }
  }
  const model = new nn.Linear(1, 1);
  await assert.rejects(loadCheckpoint(`${dir}/none.safetensors`, { model }), IOError);
  await Deno.remove(dir);
});

Deno.test("class 1 (variant): GGUF and lazy safetensors reads take the same maxBytes budget", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // GGUF: a q8_0 tensor of 64 elements (68 bytes packed, 256 bytes as f32) and an f32 one.
    const g = `${dir}/m.gguf`;
    await saveGguf(g, {
      tensors: [
        { name: "q", shape: [64], type: "q8_0", data: new Float32Array(64).fill(1) },
        { name: "w", shape: [4], data: new Float32Array([1, 2, 3, 4]) },
      ],
    });
    using f = await openGguf(g); // default: what the file holds always reads
    assert.equal(f.readTensor("q").size, 64);
    assert.throws(() => f.readTensor("q", { maxBytes: 255 }), /tensor "q" needs 256 bytes/);
    assert.equal(f.readTensor("q", { maxBytes: 256, dequantize: false }).dtype, "q8_0");
    assert.throws(() => f.readTensorBytes("w", { maxBytes: 15 }), FormatError);
    using capped = await openGguf(g, { maxBytes: 100 });
    assert.throws(() => capped.readTensor("q"), /maxBytes budget of 100/);
    assert.equal(capped.readTensor("w").size, 4);
    const bytes = await Deno.readFile(g);
    assert.throws(() => decodeGguf(bytes, "m", { maxBytes: 100 }).readTensor("q"), FormatError);
    for (const bad of [NaN, -1, 1.5, "1"]) {
      await assert.rejects(openGguf(g, { maxBytes: bad as never }), ArgumentError);
      assert.throws(() => decodeGguf(bytes, "m", { maxBytes: bad as never }), ArgumentError);
    }
    // Lazy safetensors: a BF16 tensor reads as f32 at twice its bytes.
    const s = `${dir}/m.safetensors`;
    await saveSafetensors(s, { b: tensor([1, 2, 3, 4], { dtype: "bf16" }) });
    using st = await openSafetensors(s);
    assert.deepEqual(Array.from(st.readF32("b")), [1, 2, 3, 4]);
    using st2 = await openSafetensors(s, { maxBytes: 8 });
    assert.equal(st2.readBytes("b").length, 8);
    assert.throws(() => st2.readF32("b"), /tensor "b" needs 16 bytes/);
    await assert.rejects(openSafetensors(s, { maxBytes: NaN }), ArgumentError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("class 11 (variant): loadOnnx and every saver wrap OS errors in an IOError", async () => {
  const dir = await Deno.makeTempDir();
  const gone = `${dir}/missing/x`;
  const ops: [string, () => Promise<unknown>][] = [
    ["loadOnnx", () => loadOnnx(`${dir}/none.onnx`)],
    ["saveNpy", () => saveNpy(gone, tensor([1]))],
    ["saveNpz", () => saveNpz(gone, { a: tensor([1]) })],
    ["saveSafetensors", () => saveSafetensors(gone, { a: tensor([1]) })],
    ["saveGguf", () => saveGguf(gone, { tensors: [] })],
  ];
  for (const [op, f] of ops) {
    await assert.rejects(f(), (e: unknown) => {
      assert.ok(e instanceof IOError, `${op}: ${e}`);
      assert.match((e as Error).message, new RegExp(`^${op}: cannot (read|write) `));
      assert.ok((e as Error).cause instanceof Deno.errors.NotFound, `${op} keeps the cause`);
      return true;
    });
  }
  await Deno.remove(dir);
});

Deno.test("class 5 (variant): deeply nested JSON metadata is refused before it is parsed", async () => {
  // 2 million "[" in a 4 MB header: JSON.parse took ~2 s and +66 MiB (a 20 MB one 26 s, +561 MiB).
  const deep = "[".repeat(2_000_000) + "]".repeat(2_000_000);
  const st = stWithHeader(`{"a":${deep}}`);
  for (const f of [() => decodeSafetensors(st), () => openSafetensorsBytes(st)]) {
    const t0 = performance.now(), rss0 = Deno.memoryUsage().rss;
    await assert.rejects(async () => await f(), /nests deeper than 64 levels/);
    assert.ok(performance.now() - t0 < 1500, `refused in ${performance.now() - t0} ms`);
    assert.ok(Deno.memoryUsage().rss - rss0 < 32 * 2 ** 20, "nothing was built");
  }
  // The same in a checkpoint's optimizer metadata (a JSON string inside the header).
  const model = new nn.Linear(1, 1);
  const ck = encodeSafetensors(
    { "model.weight": tensor([[1]]), "model.bias": tensor([0]) },
    { format: "aprender.checkpoint", format_version: "1", optim: deep },
  );
  await assert.rejects(
    loadCheckpoint(ck, { model, optimizer: new optim.SGD(model.parameters(), { lr: 0.1 }) }),
    /metadata "optim" nests deeper than 64 levels/,
  );
});

function stWithHeader(h: string): Uint8Array {
  const b = new Uint8Array(8 + h.length);
  new DataView(b.buffer).setBigUint64(0, BigInt(h.length), true);
  b.set(new TextEncoder().encode(h), 8);
  return b;
}

async function openSafetensorsBytes(b: Uint8Array): Promise<void> {
  const path = await Deno.makeTempFile({ suffix: ".safetensors" });
  try {
    await Deno.writeFile(path, b);
    (await openSafetensors(path)).close();
  } finally {
    await Deno.remove(path);
  }
}
