/**
 * Seeds and one-case runners for fuzzing the whole loaders (not only headers): npy, npz (stored
 * and deflated), IDX (raw and gzip) and checkpoints. The corpus holds a decompression bomb of
 * each compression kind (deflate in npz, gzip in IDX): one whose honest-looking header declares
 * 1.5 GB (the budget must refuse it before inflating) and one whose stream inflates far past what
 * it declares (inflation must stop at the declared size).
 *
 * A case's outcome: "ok" (decoded, and every tensor read back consistently), "typed" (a
 * ComputeError: FormatError, AllocationError, CheckpointError, ...), or a defect: any other
 * error, or accepted garbage (a result that is inconsistent, or a checkpoint that loads and then
 * fails in `opt.step()`).
 */
import { ComputeError } from "../../core/errors.ts";
import {
  decodeIdx,
  decodeNpy,
  decodeNpz,
  decodeSafetensors,
  encodeIdx,
  encodeNpy,
  encodeNpz,
  encodeSafetensors,
  loadCheckpoint,
  loadIdx,
  nn,
  optim,
  saveCheckpoint,
  type Tensor,
  tensor,
} from "../../mod.ts";
import { writeZip } from "../../io/zip.ts";
import { mutate, rng } from "./gguf_cases.ts";

/** Outcome of one case. */
export type LoaderOutcome = "ok" | "typed" | { defect: unknown };

async function compress(b: Uint8Array, kind: "gzip" | "deflate-raw"): Promise<Uint8Array> {
  const s = new Blob([b as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream(kind),
  );
  return new Uint8Array(await new Response(s).arrayBuffer());
}

function noise(n: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = 12345;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/** The deflated one-entry archive of `data`, its entry declaring `declared` bytes. */
async function zipDeclaring(data: Uint8Array, declared: number): Promise<Uint8Array> {
  const zip = await writeZip([{ name: "x.npy", data }], { compress: true });
  const dv = new DataView(zip.buffer);
  const cd = dv.getUint32(zip.length - 22 + 16, true);
  dv.setUint32(22, declared, true);
  dv.setUint32(cd + 24, declared, true);
  return zip;
}

function idxHeader(n: number, extra: number): Uint8Array {
  const b = new Uint8Array(8 + extra);
  b.set([0, 0, 8, 1]);
  new DataView(b.buffer).setUint32(4, n, false);
  return b;
}

/** Seeds per format: valid files first, then the bombs. */
export async function loaderSeeds(): Promise<Record<string, Uint8Array[]>> {
  const small = [
    tensor([[1.5, -2], [3, 4]]),
    tensor([1, 2, 3], { dtype: "i64" }),
    tensor(7, { dtype: "f64" }),
    tensor([true, false]),
    tensor([[1, 2, 3]], { dtype: "u8" }),
  ];
  const npy = small.map((t) => encodeNpy(t));
  const npz = [
    await encodeNpz({ a: small[0], b: small[1], c: small[2] }),
    await encodeNpz({ a: small[0], b: small[3] }, { compress: true }),
    await zipDeclaring(noise(1_460_000), 1_500_000_000), // honest-looking 1.5 GB member
    await zipDeclaring(new Uint8Array(16 << 20), 1000), // inflates far past its declared size
  ];
  const idx = [
    encodeIdx(tensor([[0, 255], [128, 7]], { dtype: "u8" })),
    encodeIdx(tensor([1.5, 2, -3], { dtype: "f32" })),
    await compress(encodeIdx(tensor([[1, 2], [3, 4]], { dtype: "i16" })), "gzip"),
    await compress(idxHeader(1_500_000_000, 4 << 20), "gzip"), // header declares 1.5 GB
    await compress(idxHeader(16, 16 << 20), "gzip"), // inflates far past its header
  ];
  for (const t of small) t.dispose();
  return { npy, npz, idx, checkpoint: [await validCheckpoint()] };
}

function makeTraining() {
  const model = new nn.Linear(3, 2);
  const opt = new optim.Adam(model.parameters(), { lr: 0.01 });
  const sched = new optim.StepLR(opt, { stepSize: 2 });
  return { model, opt, sched };
}

async function validCheckpoint(): Promise<Uint8Array> {
  const { model, opt, sched } = makeTraining();
  const x = tensor([[1, 2, 3]]);
  model.forward(x).sum().backward();
  opt.step();
  sched.step();
  const path = await Deno.makeTempFile({ suffix: ".safetensors" });
  await saveCheckpoint(path, { model, optimizer: opt, scheduler: sched, epoch: 3 });
  const b = await Deno.readFile(path);
  await Deno.remove(path);
  x.dispose();
  return b;
}

/** Every tensor reads back: as many elements as its shape holds. */
function consistent(ts: Tensor[]): string | null {
  for (const t of ts) {
    const d = t.dataSync();
    if (d.length !== t.size) return `tensor of shape ${t.shape} read ${d.length} elements`;
  }
  return null;
}

function classify(e: unknown): LoaderOutcome {
  return e instanceof ComputeError ? "typed" : { defect: e };
}

/** Run one case of `format` on `b`. */
export async function runLoaderCase(format: string, b: Uint8Array): Promise<LoaderOutcome> {
  let out: Tensor[] = [];
  try {
    if (format === "npy") {
      const t = decodeNpy(b);
      out = [t];
      // A decoded array must survive its own round trip.
      const back = decodeNpy(encodeNpy(t));
      out.push(back);
      if (back.shape.join() !== t.shape.join()) return { defect: "npy round trip changed shape" };
    } else if (format === "npz") {
      out = Object.values(await decodeNpz(b));
    } else if (format === "idx") {
      const t = b[0] === 0x1f ? await loadIdx(b) : decodeIdx(b);
      out = [t];
    } else if (format === "checkpoint") {
      const { model, opt, sched } = makeTraining();
      try {
        await loadCheckpoint(b, { model, optimizer: opt, scheduler: sched });
        // Accepted state must be usable: a step and a scheduler step must not fail.
        const x = tensor([[1, 2, 3]]);
        model.forward(x).sum().backward();
        opt.step();
        sched.step();
        x.dispose();
        const lr = opt.paramGroups[0].lr;
        if (!Number.isFinite(lr)) return { defect: `checkpoint loaded a non-finite lr ${lr}` };
        out = model.parameters();
        const bad = consistent(out);
        out = [];
        if (bad) return { defect: bad };
      } catch (e) {
        if (e instanceof ComputeError) return "typed";
        return { defect: e };
      } finally {
        for (const p of model.parameters()) p.dispose();
        opt.disposeState();
      }
      return "ok";
    }
    const bad = consistent(out);
    return bad ? { defect: `accepted garbage: ${bad}` } : "ok";
  } catch (e) {
    return classify(e);
  } finally {
    for (const t of out) t.dispose();
  }
}

const ODD: unknown[] = [
  null,
  "fast",
  "abc",
  -1,
  0,
  1.5,
  1e308,
  [],
  {},
  true,
  { $number: "NaN" },
  { $number: "Infinity" },
  [null],
  [1, 2, 3],
  "__proto__",
  "constructor",
];

/**
 * Mutate a checkpoint's metadata as JSON: one leaf of "optim", "scheduler", "epoch" or "extra"
 * replaced by an odd value (a string for a number, null, NaN, a wrong-length array, ...), the
 * tensors kept. These get past the file format to the loader's own validation.
 */
export function mutateCheckpointMeta(src: Uint8Array, r: () => number): Uint8Array {
  let file;
  try {
    file = decodeSafetensors(src);
  } catch {
    return src;
  }
  const { tensors, metadata } = file;
  try {
    const keys = ["optim", "scheduler", "epoch", "extra"].filter((k) => k in metadata);
    if (keys.length === 0) return src;
    const key = keys[Math.floor(r() * keys.length)];
    const meta: Record<string, string> = { ...metadata };
    const pick = ODD[Math.floor(r() * ODD.length)];
    if (key === "epoch") meta.epoch = typeof pick === "string" ? pick : JSON.stringify(pick);
    else {
      let root: unknown;
      try {
        root = JSON.parse(meta[key]);
      } catch {
        return src; // a byte mutation already broke this JSON: the loader's own test
      }
      // Walk to a random node and replace one of its children (or the root).
      let node: unknown = { root };
      let k: string | number = "root";
      for (let depth = 0; depth < 5; depth++) {
        const next: unknown = (node as Record<string, unknown>)[k];
        if (next === null || typeof next !== "object" || r() < 0.25) break;
        const ks: string[] = Object.keys(next as object);
        if (ks.length === 0) break;
        node = next;
        k = ks[Math.floor(r() * ks.length)];
      }
      if (r() < 0.1) delete (node as Record<string, unknown>)[k];
      else (node as Record<string, unknown>)[k] = pick;
      meta[key] = JSON.stringify((node as Record<string, unknown>).root ?? root);
    }
    return encodeSafetensors(tensors, meta);
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
}

/** What {@link fuzzLoader} counts. */
export interface LoaderFuzzStats {
  /** Cases that loaded (and read back consistently). */
  ok: number;
  /** Cases refused with a ComputeError. */
  typed: number;
  /** Untyped errors and accepted garbage. */
  defects: number;
  /** Cases over 5 s. */
  slow: number;
  /** The slowest case, in ms. */
  maxMs: number;
  /** Peak resident set size seen after a case, in bytes. */
  peakRss: number;
  /** Resident memory when the run started (in a shared test process, other files' memory). */
  baseRss: number;
  /** The largest growth of resident memory over one case (after minus before), in bytes. */
  maxGrowth: number;
  /** The case with that growth, and its input's length in bytes. */
  maxGrowthCase: { index: number; inputBytes: number };
  /** The first defects (message). */
  first: string[];
}

/**
 * `cases` cases of `format` from `corpus` (seeds first, then 1–3 mutations of a seed, mostly of
 * the first two valid seeds, the bombs now and then), with a fixed `seed`.
 */
export async function fuzzLoader(
  format: string,
  corpus: Uint8Array[],
  cases: number,
  seed: number,
): Promise<LoaderFuzzStats> {
  const r = rng(seed);
  const stats: LoaderFuzzStats = {
    ok: 0,
    typed: 0,
    defects: 0,
    slow: 0,
    maxMs: 0,
    peakRss: 0,
    baseRss: Deno.memoryUsage().rss,
    maxGrowth: 0,
    maxGrowthCase: { index: -1, inputBytes: 0 },
    first: [],
  };
  for (let i = 0; i < cases; i++) {
    // Mostly mutants of the first two (valid) seeds, which reach deeper; the bombs now and then.
    let b = i < corpus.length
      ? corpus[i]
      : r() < 0.9
      ? corpus[Math.floor(r() * Math.min(2, corpus.length))]
      : corpus[Math.floor(r() * corpus.length)];
    if (i >= corpus.length) {
      for (let k = 1 + Math.floor(r() * 3); k > 0; k--) {
        b = format === "checkpoint" && r() < 0.5 ? mutateCheckpointMeta(b, r) : mutate(b, r);
      }
    }
    const rss0 = Deno.memoryUsage().rss;
    const t = performance.now();
    const out = await runLoaderCase(format, b);
    const ms = performance.now() - t;
    const rss = Deno.memoryUsage().rss;
    stats.maxMs = Math.max(stats.maxMs, ms);
    stats.peakRss = Math.max(stats.peakRss, rss);
    if (rss - rss0 > stats.maxGrowth) {
      stats.maxGrowth = rss - rss0;
      stats.maxGrowthCase = { index: i, inputBytes: b.length };
    }
    if (ms > 5000) stats.slow++;
    if (typeof out === "string") stats[out]++;
    else {
      stats.defects++;
      if (stats.defects <= 5) {
        stats.first.push(`${format} case ${i} (seed ${seed}): ${out.defect}`);
        await Deno.writeFile(`fuzz-defect-${format}-${seed}-${i}.bin`, b);
      }
    }
  }
  return stats;
}
