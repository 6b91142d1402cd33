/**
 * Timing of `matmul` 1024×1024 f32 on the OpenBLAS plugin with 1 and 2 threads, next to NumPy's
 * `a @ b` timed in the same run (NumPy started once per thread count, with
 * `OPENBLAS_NUM_THREADS` / `OMP_NUM_THREADS` set). Prints the median of many runs and the ratio
 * NumPy time / ours (> 1: we are faster).
 *
 * Run: `deno run --allow-ffi --allow-run --allow-env --allow-read backends/openblas/bench_matmul.ts`
 * (options: `--n 1024 --runs 30`).
 *
 * @module
 */
import { backends, matmul, type Tensor, tensor, traceKernels } from "../../mod.ts";
import { blasThreads, setBlasThreads } from "./mod.ts";

function arg(name: string, dflt: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : dflt;
}

const N = arg("n", 1024), RUNS = arg("runs", 30);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function random(n: number, seed: number): Float32Array {
  let x = seed;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x / 2 ** 32 - 0.5;
  }
  return out;
}

function timeOurs(a: Tensor, b: Tensor): number {
  for (let i = 0; i < 3; i++) matmul(a, b).dispose();
  const ts: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    const c = matmul(a, b);
    ts.push(performance.now() - t0);
    c.dispose();
  }
  return median(ts);
}

async function timeNumpy(threads: number): Promise<number> {
  const py = `
import time, numpy as np
n, runs = ${N}, ${RUNS}
rng = np.random.default_rng(0)
a = (rng.random((n, n), dtype=np.float32) - 0.5)
b = (rng.random((n, n), dtype=np.float32) - 0.5)
for _ in range(3): a @ b
ts = []
for _ in range(runs):
    t0 = time.perf_counter(); c = a @ b; ts.append((time.perf_counter() - t0) * 1e3)
print(float(np.median(ts)))
`;
  const env = {
    OPENBLAS_NUM_THREADS: String(threads),
    OMP_NUM_THREADS: String(threads),
    MKL_NUM_THREADS: String(threads),
  };
  const out = await new Deno.Command("python3", { args: ["-c", py], env, stdout: "piped" })
    .output();
  if (out.code !== 0) throw new Error("python3 with numpy failed");
  return Number(new TextDecoder().decode(out.stdout).trim());
}

const status = backends().find((b) => b.name === "openblas");
if (status?.status !== "available") {
  console.error(`openblas absent: ${status?.reason}`);
  Deno.exit(1);
}
const a = tensor(random(N * N, 1), { shape: [N, N] });
const b = tensor(random(N * N, 2), { shape: [N, N] });
const ran = traceKernels(() => matmul(a, b));
ran.result.dispose();
console.log(`matmul ${N}×${N} f32 ran on: ${ran.trace.at(-1)?.backend}`);
console.log(`library config: ${(status.capabilities as { config?: string }).config}`);
const saved = blasThreads();
const gflop = 2 * N ** 3 / 1e9;
for (const threads of [1, 2]) {
  setBlasThreads(threads);
  const ours = timeOurs(a, b);
  const np = await timeNumpy(threads);
  console.log(
    `threads ${threads}: ours ${ours.toFixed(2)} ms (${(gflop / ours * 1e3).toFixed(1)} ` +
      `GFLOP/s), numpy ${np.toFixed(2)} ms (${(gflop / np * 1e3).toFixed(1)} GFLOP/s), ` +
      `ratio numpy/ours ${(np / ours).toFixed(3)}`,
  );
}
setBlasThreads(saved);
a.dispose();
b.dispose();
