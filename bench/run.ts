/**
 * `deno task bench`: times our ops and NumPy's on the same machine in the same run, and prints
 * the median, the spread (p10–p90) and the ratio NumPy time / our time (> 1: we are faster).
 *
 * Options: `--samples N` (default 15), `--min-ms M` (each sample repeats the op until it lasts
 * at least M ms; default 20), `--json FILE` (write all numbers), `--filter TEXT`.
 */
import { backends, randn, ready, seed, type Tensor, traceKernels } from "../mod.ts";
import { parseArgs } from "node:util";

interface Case {
  name: string;
  op: "add" | "exp" | "sum" | "softmax" | "matmul";
  shapes: number[][];
}
interface Stat {
  median_ms: number;
  p10_ms: number;
  p90_ms: number;
  samples: number;
}

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    samples: { type: "string", default: "15" },
    "min-ms": { type: "string", default: "20" },
    json: { type: "string" },
    filter: { type: "string", default: "" },
  },
});
const samples = Number(args.samples), minMs = Number(args["min-ms"]);
const casesUrl = new URL("./cases.json", import.meta.url);
const cases = (JSON.parse(await Deno.readTextFile(casesUrl)) as Case[])
  .filter((c) => c.name.includes(args.filter!));

const OPS: Record<Case["op"], (...t: Tensor[]) => Tensor> = {
  add: (a, b) => a.add(b),
  exp: (a) => a.exp(),
  sum: (a) => a.sum(),
  softmax: (a) => a.softmax(-1),
  matmul: (a, b) => a.matmul(b),
};

function measure(fn: () => void): Stat {
  fn();
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
  return { median_ms: q(0.5), p10_ms: q(0.1), p90_ms: q(0.9), samples };
}

function numpyTimes(): Record<string, Stat> & { _env?: { numpy: string; blas: string } } {
  const python = Deno.env.get("APRENDER_PYTHON") ??
    (exists(".venv-ref/bin/python") ? ".venv-ref/bin/python" : "python3");
  const tmp = Deno.makeTempFileSync({ suffix: ".json" });
  Deno.writeTextFileSync(tmp, JSON.stringify(cases));
  const script = new URL("./numpy_bench.py", import.meta.url).pathname;
  const out = new Deno.Command(python, { args: [script, tmp, String(samples), String(minMs)] })
    .outputSync();
  Deno.removeSync(tmp);
  if (!out.success) {
    throw new Error(`NumPy benchmark failed: ${new TextDecoder().decode(out.stderr)}`);
  }
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

const fmt = (ms: number) => ms < 1 ? `${(ms * 1000).toFixed(1)} µs` : `${ms.toFixed(2)} ms`;
const spread = (s: Stat) => `±${((s.p90_ms - s.p10_ms) / 2 / s.median_ms * 100).toFixed(0)}%`;

await ready();
console.log(`backends: ${backends().map((b) => `${b.name} (${b.status})`).join(", ")}`);
console.log(
  `samples ${samples}, each ≥ ${minMs} ms; ratio = NumPy time / ours (> 1: ours faster)\n`,
);

// Ours first, then NumPy, so both run in this same process tree back to back.
seed(0);
const ours: Record<string, Stat & { backend: string }> = {};
for (const c of cases) {
  const inputs = c.shapes.map((s) => randn(s));
  const fn = OPS[c.op];
  const { trace } = traceKernels(() => fn(...inputs).dispose());
  ours[c.name] = {
    ...measure(() => fn(...inputs).dispose()),
    backend: trace.at(-1)?.backend ?? "?",
  };
  for (const t of inputs) t.dispose();
}
const np = numpyTimes();

const rows = cases.map((c) => {
  const o = ours[c.name], n = np[c.name] as Stat;
  return {
    case: c.name,
    backend: o.backend,
    ours: `${fmt(o.median_ms)} ${spread(o)}`,
    numpy: `${fmt(n.median_ms)} ${spread(n)}`,
    ratio: (n.median_ms / o.median_ms).toFixed(3),
  };
});
const w = (k: keyof typeof rows[0]) => Math.max(k.length, ...rows.map((r) => r[k].length));
const keys = ["case", "backend", "ours", "numpy", "ratio"] as const;
console.log(keys.map((k) => k.padEnd(w(k))).join("  "));
for (const r of rows) console.log(keys.map((k) => r[k].padEnd(w(k))).join("  "));
console.log(`\nNumPy ${np._env?.numpy} (BLAS: ${np._env?.blas}), Deno ${Deno.version.deno}`);
if (args.json) {
  await Deno.writeTextFile(args.json, JSON.stringify({ ours, numpy: np, samples, minMs }, null, 2));
}
