/**
 * `deno task bench`: our ops vs NumPy timed on the same machine in the same run, with 1 and 2
 * threads (WASM workers and OpenBLAS threads here; `OPENBLAS_NUM_THREADS` for NumPy). Ratio =
 * NumPy time / ours (> 1: ours faster). Median of `--samples` samples, each repeating the op for
 * at least `--min-ms`, after `--warm-ms` of untimed calls on both sides (V8 compiles hot code on
 * a background thread for the first second or more, and those compiles take a core from the
 * pool's workers: the steady state is what a long-running program sees); spread = (p90 − p10) / 2
 * / median. Each row names the backend that ran each kernel; "(wasm only)" rows run with the
 * OpenBLAS plugin unregistered.
 *
 *   deno task bench [--samples 25] [--min-ms 30] [--warm-ms 1000] [--rounds 1] [--filter add]
 *     [--json FILE]
 *     [--only scalar]   (keep only the named CPU plugins, e.g. the scalar baseline)
 *
 * `--rounds R` repeats the whole comparison R times (ours, then NumPy, alternating) and prints
 * the range of the ratios, since other processes share this machine. Also prints the cost of
 * the dispatcher's output allocation (alloc + zero-fill + free) for the 1M-element outputs.
 */
import {
  backends,
  conv2d,
  linear,
  openblasBackend,
  randn,
  ready,
  registerBackend,
  seed,
  setBlasThreads,
  setWasmThreads,
  Tensor,
  traceKernels,
  unregisterBackend,
} from "../mod.ts";
import { parseArgs } from "node:util";

interface Stat {
  median_ms: number;
  p10_ms: number;
  p90_ms: number;
}
interface Case {
  name: string;
  shapes: number[][];
  /** Our op over the inputs. */
  ours: (t: Tensor[]) => Tensor;
  /** NumPy expression over a list `a` of float32 arrays (float64 with `f64`; Python source). */
  numpy: string;
  /** Inputs in float64 (both sides) instead of float32. */
  f64?: boolean;
  /** The first input's absolute values (both sides, before timing). */
  abs0?: boolean;
  /** Plugins to unregister while timing ours (e.g. ["openblas"] for the WASM GEMM alone). */
  without?: string[];
  /** Floating-point operations of one call, to print GFLOP/s. */
  flops?: number;
}

const softmaxNp = "(lambda e: e / e.sum(axis=-1, keepdims=True))(np.exp(a[0] - a[0].max(axis=-1, " +
  "keepdims=True)))";
const mm = (n: number, without?: string[]): Case => ({
  name: `matmul ${n} f32${without ? " (wasm only)" : ""}`,
  shapes: [[n, n], [n, n]],
  ours: ([a, b]) => a.matmul(b),
  numpy: "a[0] @ a[1]",
  without,
  flops: 2 * n ** 3,
});

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    samples: { type: "string", default: "25" },
    "min-ms": { type: "string", default: "30" },
    "warm-ms": { type: "string", default: "1000" },
    rounds: { type: "string", default: "1" },
    filter: { type: "string", default: "" },
    json: { type: "string" },
    only: { type: "string" },
  },
});
const samples = Number(args.samples), minMs = Number(args["min-ms"]);
const warmMs = Number(args["warm-ms"]);
const rounds = Number(args.rounds);

const ALL_CASES: Case[] = [
  { name: "add 1K f32", shapes: [[1e3], [1e3]], ours: ([a, b]) => a.add(b), numpy: "a[0] + a[1]" },
  { name: "exp 1K f32", shapes: [[1e3]], ours: ([a]) => a.exp(), numpy: "np.exp(a[0])" },
  { name: "sum 1K f32", shapes: [[1e3]], ours: ([a]) => a.sum(), numpy: "a[0].sum()" },
  { name: "softmax 1K f32", shapes: [[1e3]], ours: ([a]) => a.softmax(-1), numpy: softmaxNp },
  { name: "add 1M f32", shapes: [[1e6], [1e6]], ours: ([a, b]) => a.add(b), numpy: "a[0] + a[1]" },
  { name: "mul 1M f32", shapes: [[1e6], [1e6]], ours: ([a, b]) => a.mul(b), numpy: "a[0] * a[1]" },
  { name: "exp 1M f32", shapes: [[1e6]], ours: ([a]) => a.exp(), numpy: "np.exp(a[0])" },
  { name: "tanh 1M f32", shapes: [[1e6]], ours: ([a]) => a.tanh(), numpy: "np.tanh(a[0])" },
  { name: "sin 1M f32", shapes: [[1e6]], ours: ([a]) => a.sin(), numpy: "np.sin(a[0])" },
  {
    name: "pow 1M f64",
    shapes: [[1e6], [1e6]],
    ours: ([a, b]) => a.pow(b),
    numpy: "a[0] ** a[1]",
    f64: true,
    abs0: true,
  },
  {
    name: "floorDiv 1M f64",
    shapes: [[1e6], [1e6]],
    ours: ([a, b]) => a.floorDiv(b),
    numpy: "a[0] // a[1]",
    f64: true,
  },
  { name: "relu 1M f32", shapes: [[1e6]], ours: ([a]) => a.relu(), numpy: "np.maximum(a[0], 0)" },
  { name: "sum 1M f32", shapes: [[1e6]], ours: ([a]) => a.sum(), numpy: "a[0].sum()" },
  { name: "mean 1M f32", shapes: [[1e6]], ours: ([a]) => a.mean(), numpy: "a[0].mean()" },
  {
    name: "sum axis 0 (1000,1000) f32",
    shapes: [[1000, 1000]],
    ours: ([a]) => a.sum(0),
    numpy: "a[0].sum(axis=0)",
  },
  {
    name: "max axis 1 (1000,1000) f32",
    shapes: [[1000, 1000]],
    ours: ([a]) => a.max(1),
    numpy: "a[0].max(axis=1)",
  },
  {
    name: "softmax 1M f32",
    shapes: [[1e6]],
    ours: ([a]) => a.softmax(-1),
    numpy: softmaxNp,
  },
  {
    name: "softmax (1000,1000) f32",
    shapes: [[1000, 1000]],
    ours: ([a]) => a.softmax(-1),
    numpy: softmaxNp,
  },
  mm(128),
  mm(512),
  mm(1024),
  mm(1024, ["openblas"]),
  {
    name: "broadcast add (1000,1000)+(1000,)",
    shapes: [[1000, 1000], [1000]],
    ours: ([a, b]) => a.add(b),
    numpy: "a[0] + a[1]",
  },
  {
    name: "MLP fwd 64x784→256→10 relu",
    shapes: [[64, 784], [784, 256], [256], [256, 10], [10]],
    ours: ([x, w1, b1, w2, b2]) => {
      const h1 = x.matmul(w1), h2 = h1.add(b1), h = h2.relu(), o1 = h.matmul(w2);
      const o = o1.add(b2);
      for (const t of [h1, h2, h, o1]) t.dispose();
      return o;
    },
    numpy: "np.maximum(a[0] @ a[1] + a[2], 0) @ a[3] + a[4]",
  },
  {
    // The same MLP as a model runs it: nn.functional.linear with PyTorch's (out, in) weights.
    name: "MLP fwd 64x784→256→10 relu, linear",
    shapes: [[64, 784], [256, 784], [256], [10, 256], [10]],
    ours: ([x, w1, b1, w2, b2]) => {
      const h1 = linear(x, w1, b1), h = h1.relu(), o = linear(h, w2, b2);
      h1.dispose();
      h.dispose();
      return o;
    },
    numpy: "np.maximum(a[0] @ a[1].T + a[2], 0) @ a[3].T + a[4]",
  },
  {
    name: "conv2d 8x16x32x32 * 32x16x3x3 pad 1",
    shapes: [[8, 16, 32, 32], [32, 16, 3, 3]],
    ours: ([x, w]) => conv2d(x, w, { padding: 1 }),
    // im2col by a strided view + one tensordot (a BLAS GEMM), NumPy's usual conv recipe.
    numpy: "np.tensordot(np.lib.stride_tricks.sliding_window_view(np.pad(a[0], " +
      "((0,0),(0,0),(1,1),(1,1))), (3,3), axis=(2,3)), a[1], axes=([1,4,5],[1,2,3]))" +
      ".transpose(0,3,1,2)",
  },
];
// With --only, rows that remove a plugin (the WASM-only GEMM) make no sense.
const CASES = ALL_CASES.filter((c) => c.name.includes(args.filter!) && !(args.only && c.without));
// The scalar backend is single-threaded: one thread count is enough for it alone.
const THREADS = args.only && !/wasm|openblas/.test(args.only) ? [1] : [1, 2];

function measure(fn: () => void): Stat {
  const warmEnd = performance.now() + warmMs;
  do fn(); while (performance.now() < warmEnd);
  let t0 = performance.now();
  fn();
  const one = Math.max(performance.now() - t0, 1e-4);
  const inner = Math.max(1, Math.floor(minMs / one));
  const times: number[] = [];
  for (let s = 0; s < samples; s++) {
    t0 = performance.now();
    for (let i = 0; i < inner; i++) fn();
    times.push((performance.now() - t0) / inner);
  }
  times.sort((a, b) => a - b);
  const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
  return { median_ms: q(0.5), p10_ms: q(0.1), p90_ms: q(0.9) };
}

const PY = `
import json, sys, time
import numpy as np
cases = json.load(open(sys.argv[1])); samples = int(sys.argv[2]); min_ms = float(sys.argv[3])
warm_ms = float(sys.argv[4])
rng = np.random.default_rng(0)
# glibc raises its mmap threshold (and its trim threshold, to twice that) to the size of the
# largest mmapped block freed so far, up to 32 MiB. Until then NumPy's multi-MB temporaries can
# page-fault on every call (softmax 1M: 3.2 ms cold, 1.4 ms warm), and timings depend on which
# cases ran before. Freeing one 30 MiB block first puts every case in NumPy's fastest state.
_warm = np.ones(30 << 17); del _warm
def measure(fn):
    warm_end = time.perf_counter() + warm_ms / 1000
    fn()
    while time.perf_counter() < warm_end: fn()
    t0 = time.perf_counter(); fn(); one = max(time.perf_counter() - t0, 1e-7)
    inner = max(1, int((min_ms / 1000) / one)); times = []
    for _ in range(samples):
        t0 = time.perf_counter()
        for _ in range(inner): fn()
        times.append((time.perf_counter() - t0) / inner * 1000)
    times.sort(); q = lambda p: times[min(len(times) - 1, int(p * len(times)))]
    return {"median_ms": q(0.5), "p10_ms": q(0.1), "p90_ms": q(0.9)}
out = {}
for c in cases:
    dt = np.float64 if c.get("f64") else np.float32
    a = [rng.standard_normal(s, dtype=dt) for s in c["shapes"]]
    if c.get("abs0"): a[0] = np.abs(a[0])
    f = eval("lambda a: " + c["numpy"])
    out[c["name"]] = measure(lambda: f(a))
print(json.dumps(out))
`;

function numpyTimes(threads: number): Record<string, Stat> {
  const python = Deno.env.get("APRENDER_PYTHON") ??
    (exists(".venv-ref/bin/python") ? ".venv-ref/bin/python" : "python3");
  const tmp = Deno.makeTempFileSync({ suffix: ".json" });
  Deno.writeTextFileSync(
    tmp,
    JSON.stringify(
      CASES.map((c) => ({ ...c, ours: undefined, without: undefined })),
    ),
  );
  const n = String(threads);
  const out = new Deno.Command(python, {
    args: ["-c", PY, tmp, String(samples), String(minMs), String(warmMs)],
    env: { OPENBLAS_NUM_THREADS: n, OMP_NUM_THREADS: n, MKL_NUM_THREADS: n },
  }).outputSync();
  Deno.removeSync(tmp);
  if (!out.success) throw new Error(`NumPy failed: ${new TextDecoder().decode(out.stderr)}`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

function exists(p: string): boolean {
  try {
    Deno.statSync(p);
    return true;
  } catch {
    return false;
  }
}

function oursTimes(threads: number): Record<string, Stat & { backends: string }> {
  setWasmThreads(threads);
  if (backends().some((b) => b.name === "openblas" && b.status === "available")) {
    setBlasThreads(threads);
  }
  seed(0);
  const res: Record<string, Stat & { backends: string }> = {};
  for (const c of CASES) {
    const inputs = c.shapes.map((s, i) => {
      const x = randn(s);
      const y = c.abs0 && i === 0 ? x.abs() : x;
      const z = c.f64 ? y.astype("f64") : y;
      for (const t of new Set([x, y])) if (t !== z) t.dispose();
      return z;
    });
    const removed = (c.without ?? []).filter((name) => unregisterBackend(name));
    try {
      const { trace } = traceKernels(() => c.ours(inputs).dispose());
      const used = [...new Set(trace.map((r) => `${r.op}:${r.backend}`))].join(" ");
      res[c.name] = { ...measure(() => c.ours(inputs).dispose()), backends: used };
    } finally {
      if (removed.includes("openblas")) registerBackend(openblasBackend, { priority: 20 });
    }
    for (const t of inputs) t.dispose();
  }
  return res;
}

const fmt = (ms: number) => ms < 1 ? `${(ms * 1000).toFixed(1)} µs` : `${ms.toFixed(2)} ms`;
const spread = (s: Stat) => `±${((s.p90_ms - s.p10_ms) / 2 / s.median_ms * 100).toFixed(0)}%`;

await ready();
if (args.only) {
  const keep = new Set(args.only.split(","));
  for (const b of backends()) {
    if (b.device === "cpu" && !keep.has(b.name)) unregisterBackend(b.name);
  }
}
console.log(`backends: ${backends().map((b) => `${b.name} (${b.status})`).join(", ")}`);
console.log(
  `samples ${samples}, each ≥ ${minMs} ms after ${warmMs} ms of warm-up, ${rounds} round(s); ` +
    `ratio = NumPy / ours\n`,
);

// The dispatcher's output allocation: alloc + zero-fill + free of a 1M f32 tensor.
const alloc = measure(() => Tensor.empty([1e6], "f32").dispose());
console.log(`output allocation 1M f32 (alloc + zero-fill + free): ${fmt(alloc.median_ms)}\n`);

const all: {
  round: number;
  threads: number;
  ours: Record<string, Stat>;
  numpy: Record<string, Stat>;
}[] = [];
const ratios: Record<string, number[]> = {};
for (let r = 0; r < rounds; r++) {
  for (const threads of THREADS) {
    const ours = oursTimes(threads);
    const np = numpyTimes(threads);
    all.push({ round: r, threads, ours, numpy: np });
    console.log(`round ${r + 1}, ${threads} thread(s)`);
    const rows = CASES.map((c) => {
      const o = ours[c.name], n = np[c.name];
      const ratio = n.median_ms / o.median_ms;
      (ratios[`${c.name} @${threads}t`] ??= []).push(ratio);
      const gflops = c.flops ? (c.flops / o.median_ms / 1e6).toFixed(1) : "";
      return [
        c.name,
        `${fmt(o.median_ms)} ${spread(o)}`,
        `${fmt(n.median_ms)} ${spread(n)}`,
        ratio.toFixed(2),
        gflops,
        o.backends,
      ];
    });
    const head = ["case", "ours", "numpy", "ratio", "GFLOP/s", "kernels"];
    const w = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
    console.log(head.map((h, i) => h.padEnd(w[i])).join("  "));
    for (const row of rows) console.log(row.map((x, i) => x.padEnd(w[i])).join("  "));
    console.log();
  }
}
setWasmThreads(navigator.hardwareConcurrency || 1);
if (rounds > 1) {
  console.log("ratio ranges over rounds (min–max, median):");
  for (const [k, v] of Object.entries(ratios)) {
    const s = [...v].sort((a, b) => a - b);
    console.log(
      `  ${k.padEnd(48)} ${s[0].toFixed(2)}–${s.at(-1)!.toFixed(2)}  (${
        s[s.length >> 1].toFixed(2)
      })`,
    );
  }
}
if (args.json) await Deno.writeTextFile(args.json, JSON.stringify({ alloc, runs: all }, null, 2));
