/**
 * GPU benchmark of the WebGPU plugin (`deno task bench:gpu`, or `deno run -A bench/gpu.ts`):
 * copy bandwidth (the reference), elementwise add on 64M f32, row softmax 4096×4096, sgemm 4096²
 * f32 (plus f16 inputs), and a chain of 100 small dependent ops. PyTorch (CUDA) is timed in the
 * same call when `python3 -c "import torch"` finds a GPU, and ratios are printed.
 *
 * Timing: each case records R ops into the shared encoder, submits, and waits for the queue
 * (`onSubmittedWorkDone`); the time per op is the wall time over R, median of N trials after a
 * warm-up. The chain case times 100 dependent ops on a 256-element tensor including the final
 * readback, the way a user's loop would see it.
 *
 * Environment: BENCH_SMALL=1 shrinks every size (for a software adapter); OUT=<dir> also writes
 * `gpu_bench.json` and `gpu_bench.md` there. Needs no network (no npm imports).
 *
 * @module
 */
import { copyInto, ready, type Tensor, tensor, tidy } from "../mod.ts";
import { webgpuContext } from "../internal.ts";

const SMALL = Deno.env.get("BENCH_SMALL") === "1";
const N_ELEM = SMALL ? 1 << 20 : 64 << 20;
const ROWS = SMALL ? 256 : 4096, COLS = SMALL ? 1024 : 4096;
const MM = SMALL ? 512 : 4096;
const TRIALS = SMALL ? 3 : 7;

interface Row {
  name: string;
  unit: string;
  ours: number;
  torch?: number;
  target?: string;
  pass?: boolean;
  note?: string;
}

await ready();
const ctx = webgpuContext();
if (!ctx) {
  console.error("webgpu backend unavailable: no adapter");
  Deno.exit(1);
}
const info = ctx.adapter.info;
const device = `${info.description || info.vendor} (${info.architecture || "?"})` +
  (info.isFallbackAdapter ? " [fallback adapter]" : "");

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function sync(): Promise<void> {
  ctx!.flush();
  await ctx!.device.queue.onSubmittedWorkDone();
}

/** Median seconds per op of `op` run `reps` times per trial. */
async function time(reps: number, op: () => void): Promise<number> {
  op();
  await sync();
  const ts: number[] = [];
  for (let t = 0; t < TRIALS; t++) {
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) op();
    await sync();
    ts.push((performance.now() - t0) / 1000 / reps);
  }
  return median(ts);
}

async function gpuTensor(shape: number[], dtype: "f32" | "f16" = "f32"): Promise<Tensor> {
  const n = shape.reduce((a, b) => a * b, 1);
  const host = new Float32Array(n);
  for (let i = 0; i < n; i++) host[i] = ((i * 2654435761) % 1000) / 1000 - 0.5;
  const t = tensor(host).reshape(shape);
  const c = dtype === "f32" ? t : t.astype(dtype);
  const g = await c.to("gpu");
  if (c !== t) c.dispose();
  t.dispose();
  return g;
}

const rows: Row[] = [];

// ---- copy: the driver's buffer copy (reference) and our copy kernel ----------------------------
{
  const x = await gpuTensor([N_ELEM]);
  const y = await gpuTensor([N_ELEM]);
  const bytes = 2 * N_ELEM * 4;
  const src = x.storage as unknown as { buffer: GPUBuffer; base: number };
  const dst = y.storage as unknown as { buffer: GPUBuffer; base: number };
  const raw = await time(20, () => {
    ctx.encoder.copyBufferToBuffer(src.buffer, src.base, dst.buffer, dst.base, N_ELEM * 4);
  });
  rows.push({ name: "copy (copyBufferToBuffer)", unit: "GB/s", ours: bytes / raw / 1e9 });
  const kern = await time(20, () => {
    copyInto(y, x);
  });
  rows.push({ name: "copy kernel (copyInto)", unit: "GB/s", ours: bytes / kern / 1e9 });
  x.dispose();
  y.dispose();
}

// ---- elementwise add ----------------------------------------------------------------------------
{
  const a = await gpuTensor([N_ELEM]);
  const b = await gpuTensor([N_ELEM]);
  const s = await time(20, () => a.add(b).dispose());
  rows.push({
    name: `add ${N_ELEM / (1 << 20)}M f32`,
    unit: "GB/s",
    ours: (3 * N_ELEM * 4) / s / 1e9,
    target: "≥ 2000",
  });
  a.dispose();
  b.dispose();
}

// ---- softmax ------------------------------------------------------------------------------------
{
  const x = await gpuTensor([ROWS, COLS]);
  const s = await time(20, () => x.softmax(-1).dispose());
  rows.push({
    name: `softmax ${ROWS}×${COLS} f32 (rows)`,
    unit: "GB/s",
    ours: (2 * ROWS * COLS * 4) / s / 1e9,
    target: "≥ 50% of copy",
  });
  x.dispose();
}

// ---- sgemm --------------------------------------------------------------------------------------
for (const dt of ["f32", "f16"] as const) {
  const a = await gpuTensor([MM, MM], dt);
  const b = await gpuTensor([MM, MM], dt);
  const s = await time(SMALL ? 2 : 10, () => a.matmul(b).dispose());
  rows.push({
    name: `${dt === "f32" ? "sgemm" : "hgemm (f32 accumulate)"} ${MM}² ${dt}`,
    unit: "TFLOP/s",
    ours: (2 * MM ** 3) / s / 1e12,
    target: dt === "f32" ? "≥ 20" : undefined,
  });
  a.dispose();
  b.dispose();
}

// ---- chain of small dependent ops ---------------------------------------------------------------
{
  const x = await gpuTensor([256]);
  const chain = async () => {
    const t0 = performance.now();
    const y = tidy(() => {
      let t = x;
      for (let i = 0; i < 50; i++) t = t.mul(0.5).add(0.25);
      return t;
    });
    await y.data();
    y.dispose();
    return (performance.now() - t0) / 100;
  };
  for (let w = 0; w < 3; w++) await chain();
  const ts: number[] = [];
  for (let t = 0; t < Math.max(TRIALS, 9); t++) ts.push(await chain());
  rows.push({
    name: "chain of 100 small dependent ops (incl. readback)",
    unit: "µs/op",
    ours: median(ts) * 1000,
    target: "≤ 10",
  });
  // The same without the scalar operands (tensor-tensor ops only).
  const t1 = [];
  for (let t = 0; t < Math.max(TRIALS, 9); t++) {
    const t0 = performance.now();
    const y = tidy(() => {
      let t = x;
      for (let i = 0; i < 100; i++) t = t.add(x);
      return t;
    });
    await y.data();
    y.dispose();
    t1.push((performance.now() - t0) / 100);
  }
  rows.push({ name: "chain of 100 tensor-tensor adds", unit: "µs/op", ours: median(t1) * 1000 });
  x.dispose();
}

// ---- PyTorch in the same call -------------------------------------------------------------------
const PY = `
import json, time, torch
assert torch.cuda.is_available()
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
dev = "cuda"
N, R, C, M, T = ${N_ELEM}, ${ROWS}, ${COLS}, ${MM}, ${TRIALS}
def timed(reps, f):
    f(); torch.cuda.synchronize()
    out = []
    for _ in range(T):
        s = torch.cuda.Event(enable_timing=True); e = torch.cuda.Event(enable_timing=True)
        s.record()
        for _ in range(reps): f()
        e.record(); torch.cuda.synchronize()
        out.append(s.elapsed_time(e) / 1000 / reps)
    return sorted(out)[len(out) // 2]
r = {}
x = torch.rand(N, device=dev); y = torch.empty_like(x)
r["copy"] = 2 * N * 4 / timed(20, lambda: y.copy_(x)) / 1e9
a = torch.rand(N, device=dev); b = torch.rand(N, device=dev)
r["add"] = 3 * N * 4 / timed(20, lambda: torch.add(a, b)) / 1e9
s = torch.rand(R, C, device=dev)
r["softmax"] = 2 * R * C * 4 / timed(20, lambda: torch.softmax(s, -1)) / 1e9
for dt, key in ((torch.float32, "sgemm"), (torch.float16, "hgemm")):
    p = torch.rand(M, M, device=dev, dtype=dt); q = torch.rand(M, M, device=dev, dtype=dt)
    r[key] = 2 * M ** 3 / timed(10, lambda: p @ q) / 1e12
z = torch.rand(256, device=dev)
def chain():
    t0 = time.perf_counter(); t = z
    for _ in range(50): t = t * 0.5 + 0.25
    t.cpu(); return (time.perf_counter() - t0) / 100 * 1e6
for _ in range(3): chain()
r["chain"] = sorted(chain() for _ in range(9))[4]
def chain2():
    t0 = time.perf_counter(); t = z
    for _ in range(100): t = t + z
    t.cpu(); return (time.perf_counter() - t0) / 100 * 1e6
for _ in range(3): chain2()
r["chain2"] = sorted(chain2() for _ in range(9))[4]
r["device"] = torch.cuda.get_device_name(0)
print("JSON" + json.dumps(r))
`;

let torch: Record<string, number | string> | null = null;
let torchNote = "";
try {
  const out = await new Deno.Command("python3", {
    args: ["-c", PY],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const text = new TextDecoder().decode(out.stdout);
  const line = text.split("\n").find((l) => l.startsWith("JSON"));
  if (out.success && line) torch = JSON.parse(line.slice(4));
  else torchNote = new TextDecoder().decode(out.stderr).trim().split("\n").at(-1) ?? "failed";
} catch (e) {
  torchNote = `python3 not runnable: ${(e as Error).message}`;
}
if (torch) {
  const keys = ["copy", "copy", "add", "softmax", "sgemm", "hgemm", "chain", "chain2"];
  rows.forEach((r, i) => {
    const k = keys[i];
    if (k && typeof torch![k] === "number") r.torch = torch![k] as number;
  });
}

// Pass/fail against the targets.
const copyRef = (torch?.copy as number | undefined) ?? rows[0].ours;
for (const r of rows) {
  if (r.target === "≥ 2000") r.pass = r.ours >= 2000;
  if (r.target === "≥ 20") r.pass = r.ours >= 20;
  if (r.target === "≤ 10") r.pass = r.ours <= 10;
  if (r.target === "≥ 50% of copy") {
    r.pass = r.ours >= 0.5 * copyRef;
    r.note = `${((100 * r.ours) / copyRef).toFixed(0)}% of ${copyRef.toFixed(0)} GB/s copy`;
  }
}

const fmt = (v: number | undefined) =>
  v === undefined ? "—" : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
const lowerIsBetter = (r: Row) => r.unit.startsWith("µs");
const lines = [
  `WebGPU on ${device}; PyTorch: ${torch ? torch.device : `absent (${torchNote})`}`,
  `command: deno run -A bench/gpu.ts${SMALL ? " (BENCH_SMALL=1)" : ""}; median of ${TRIALS}`,
  "",
  "| case | unit | ours | PyTorch | speed vs PyTorch | target | pass |",
  "|---|---|---|---|---|---|---|",
  ...rows.map((r) => {
    const ratio = r.torch === undefined
      ? "—"
      : (lowerIsBetter(r) ? r.torch / r.ours : r.ours / r.torch).toFixed(2);
    return `| ${r.name} | ${r.unit} | ${fmt(r.ours)} | ${fmt(r.torch)} | ${ratio} | ${
      r.target ?? ""
    }${r.note ? ` (${r.note})` : ""} | ${r.pass === undefined ? "" : r.pass ? "yes" : "NO"} |`;
  }),
];
const table = lines.join("\n");
console.log(table);
const json = JSON.stringify({ device, torch, rows, small: SMALL, date: new Date().toISOString() });
console.log(json);
const dir = Deno.env.get("OUT");
if (dir) {
  await Deno.writeTextFile(`${dir}/gpu_bench.json`, json + "\n");
  await Deno.writeTextFile(`${dir}/gpu_bench.md`, table + "\n");
}
