/**
 * GPU benchmark of the WebGPU plugin (`deno task bench:gpu`, or `deno run -A bench/gpu.ts`).
 *
 * Every case is timed two ways:
 * - **GPU time**: timestamp queries around our own compute passes (`GpuContext.startTiming`), the
 *   time the GPU spends per op;
 * - **wall time**: R ops recorded, then one readback, over R (a user's steady-state throughput;
 *   R = 100 for the big cases, 1000 for the chain). Deno's readback costs ≥ 10 ms however little
 *   work preceded it (`mapAsync` polls, then sleeps 10 ms): that floor is its own row, and
 *   `bench/readback_floor.ts` reproduces it with raw WebGPU alone.
 *
 * Next to ours: a raw WGSL kernel for the same work (its own pipeline, no library code) and
 * PyTorch/CUDA (CUDA events), both in the same run. Medians of TRIALS with the min–max spread.
 *
 * Environment: BENCH_SMALL=1 shrinks every size (software adapters); OUT=<dir> also writes
 * `gpu_bench.json` and `gpu_bench.md` there. Needs no network (no npm imports).
 *
 * @module
 */
import { ready, type Tensor, tensor, tidy } from "../mod.ts";
import { webgpuContext } from "../internal.ts";
import { PassTimer } from "../backends/webgpu/timing.ts";
import { RAW_ADD, RAW_AFFINE, RAW_SOFTMAX, rawKernel } from "./gpu_raw.ts";

const SMALL = Deno.env.get("BENCH_SMALL") === "1";
const N_ELEM = SMALL ? 1 << 20 : 64 << 20;
const ROWS = SMALL ? 256 : 4096, COLS = SMALL ? 1024 : 4096;
const MM = SMALL ? 512 : 4096;
const TRIALS = SMALL ? 3 : 7;
const R_BIG = SMALL ? 10 : 100;
const R_CHAIN = 1000;

await ready();
const ctx = webgpuContext();
if (!ctx) {
  console.error("webgpu backend unavailable: no adapter");
  Deno.exit(1);
}
const info = ctx.adapter.info;
const device = `${info.description || info.vendor}` +
  (info.isFallbackAdapter ? " [fallback adapter]" : "");
const timed = ctx.device.features.has("timestamp-query");

/** Median and spread of samples. */
interface Stat {
  med: number;
  lo: number;
  hi: number;
}
const stat = (xs: number[]): Stat => {
  const s = [...xs].sort((a, b) => a - b);
  return { med: s[Math.floor(s.length / 2)], lo: s[0], hi: s[s.length - 1] };
};

/** One row: a quantity per op in `unit`, computed from seconds per op by `conv`. */
interface Row {
  name: string;
  unit: string;
  oursGpu?: Stat;
  oursWall?: Stat;
  rawGpu?: Stat;
  rawWall?: Stat;
  torch?: number;
  target?: string;
  pass?: boolean;
}
const rows: Row[] = [];

// A readback that waits for everything submitted before it.
const tick = await tensor([0]).to("gpu");
async function readback(): Promise<void> {
  const t = tick.add(0);
  await t.data();
  t.dispose();
}

/** Seconds per op of `op` over `reps` ops and one readback, per trial. */
async function wallOf(reps: number, op: () => void): Promise<number[]> {
  op();
  await readback();
  const out: number[] = [];
  for (let t = 0; t < TRIALS; t++) {
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) op();
    await readback();
    out.push((performance.now() - t0) / 1000 / reps);
  }
  return out;
}

/** GPU seconds per op of `op` (timestamps of our passes), per trial. */
async function gpuOf(reps: number, op: () => void): Promise<number[] | undefined> {
  if (!timed) return undefined;
  op(); // warm-up: the GPU's clocks ramp up over the first ops
  await readback();
  const out: number[] = [];
  for (let t = 0; t < TRIALS; t++) {
    ctx!.startTiming();
    for (let r = 0; r < reps; r++) op();
    const { ns } = await ctx!.stopTiming();
    out.push(ns / 1e9 / reps);
  }
  return out;
}

/** A raw kernel's dispatches: GPU time (timestamps) and wall time (one wait), per trial. */
async function rawOf(
  reps: number,
  record: (pass: GPUComputePassEncoder, r: number) => void,
): Promise<{ gpu?: number[]; wall: number[] }> {
  const gpu: number[] = [], wall: number[] = [];
  const once = async (time: boolean) => {
    const timer = time && timed ? new PassTimer(ctx!.device) : null;
    const t0 = performance.now();
    const enc = ctx!.device.createCommandEncoder();
    const pass = enc.beginComputePass(timer ? { timestampWrites: timer.writes() } : undefined);
    for (let r = 0; r < reps; r++) record(pass, r);
    pass.end();
    ctx!.device.queue.submit([enc.finish()]);
    await readback();
    const w = (performance.now() - t0) / 1000 / reps;
    if (timer) gpu.push((await timer.read()).ns / 1e9 / reps);
    return w;
  };
  await once(false);
  for (let t = 0; t < TRIALS; t++) wall.push(await once(false));
  if (timed) { for (let t = 0; t < TRIALS; t++) await once(true); }
  return { gpu: timed ? gpu : undefined, wall };
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
const f = (v: number) => v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
const cell = (s?: Stat) => s ? `${f(s.med)} (${f(s.lo)}–${f(s.hi)})` : "—";
const bufOf = (t: Tensor) => t.storage as unknown as { buffer: GPUBuffer; base: number };
const conv = (xs: number[] | undefined, f: (s: number) => number) =>
  xs ? stat(xs.map(f)) : undefined;

// ---- the readback floor -------------------------------------------------------------------------
{
  const w = await wallOf(1, () => {});
  rows.push({
    name: "readback floor (one 1-element op + data())",
    unit: "ms",
    oursWall: conv(w, (s) => s * 1e3),
  });
}

// ---- elementwise add ----------------------------------------------------------------------------
{
  const a = await gpuTensor([N_ELEM]), b = await gpuTensor([N_ELEM]);
  const bytes = 3 * N_ELEM * 4, gbs = (s: number) => bytes / s / 1e9;
  const op = () => a.add(b).dispose();
  const out = await gpuTensor([N_ELEM]);
  const k = rawKernel(ctx.device, RAW_ADD, 3);
  const group = k.bind([bufOf(a), bufOf(b), bufOf(out)].map((s) => s.buffer));
  const wg = N_ELEM / 4 / 256, gx = Math.min(wg, 32768), gy = Math.ceil(wg / gx);
  const raw = await rawOf(R_BIG, (pass) => {
    pass.setPipeline(k.pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(gx, gy);
  });
  rows.push({
    name: `add ${N_ELEM / (1 << 20)}M f32 (${R_BIG} per readback)`,
    unit: "GB/s",
    oursGpu: conv(await gpuOf(R_BIG, op), gbs),
    oursWall: conv(await wallOf(R_BIG, op), gbs),
    rawGpu: conv(raw.gpu, gbs),
    rawWall: conv(raw.wall, gbs),
    target: "GPU ≥ 2400, wall ≥ 2000",
  });
  for (const t of [a, b, out]) t.dispose();
}

// ---- softmax ------------------------------------------------------------------------------------
{
  const x = await gpuTensor([ROWS, COLS]);
  const y = await gpuTensor([ROWS, COLS]);
  const bytes = 2 * ROWS * COLS * 4, gbs = (s: number) => bytes / s / 1e9;
  const op = () => x.softmax(-1).dispose();
  const k = rawKernel(ctx.device, RAW_SOFTMAX(COLS), 2);
  const group = k.bind([bufOf(x).buffer, bufOf(y).buffer]);
  const raw = await rawOf(R_BIG, (pass) => {
    pass.setPipeline(k.pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(ROWS);
  });
  rows.push({
    name: `softmax ${ROWS}×${COLS} f32 (rows)`,
    unit: "GB/s",
    oursGpu: conv(await gpuOf(R_BIG, op), gbs),
    oursWall: conv(await wallOf(R_BIG, op), gbs),
    rawGpu: conv(raw.gpu, gbs),
    rawWall: conv(raw.wall, gbs),
    target: "GPU ≥ 1300",
  });
  x.dispose();
  y.dispose();
}

// ---- sgemm --------------------------------------------------------------------------------------
for (const dt of ["f32", "f16"] as const) {
  const a = await gpuTensor([MM, MM], dt), b = await gpuTensor([MM, MM], dt);
  const tf = (s: number) => (2 * MM ** 3) / s / 1e12;
  const op = () => a.matmul(b).dispose();
  const reps = SMALL ? 2 : 50;
  rows.push({
    name: `${dt === "f32" ? "sgemm" : "hgemm (default kernel)"} ${MM}² ${dt}`,
    unit: "TFLOP/s",
    oursGpu: conv(await gpuOf(reps, op), tf),
    oursWall: conv(await wallOf(reps, op), tf),
    target: dt === "f32" ? "≥ 30" : "≥ 1.6× sgemm",
  });
  a.dispose();
  b.dispose();
}

// ---- f16 GEMM variants: GPU time by summation, and accuracy (PyTorch compares below) -----------
const hgemmVariants: string[] = [];
const HG_ERR = SMALL ? 256 : 1024;
/** f16 GEMM configurations [chunk of f16 sums (0: f32 math), K tile]; 1 << 20: f16 sums over all
 * of K (inaccurate: only the speed ceiling of f16 accumulation). */
const HG_VARIANTS = [[0, 16], [16, 16], [8, 16], [16, 32], [32, 32], [64, 32], [1 << 20, 32]];
const hgName = (chunk: number, tile: number) =>
  chunk === 0
    ? "f32 math"
    : chunk >= 1 << 20
    ? `f16 sums over all K (speed ceiling only), K tile ${tile}`
    : `f16 math, f32 every ${chunk} terms, K tile ${tile}`;
{
  const a = await gpuTensor([MM, MM], "f16"), b = await gpuTensor([MM, MM], "f16");
  const tf = (s: number) => (2 * MM ** 3) / s / 1e12;
  const saved = [ctx.f16GemmChunk, ctx.f16GemmTile];
  for (const [chunk, tile] of HG_VARIANTS) {
    ctx.f16GemmChunk = chunk;
    ctx.f16GemmTile = tile;
    const g = conv(await gpuOf(SMALL ? 2 : 20, () => a.matmul(b).dispose()), tf);
    hgemmVariants.push(`hgemm ${MM}² ${hgName(chunk, tile)}: ${cell(g)} TFLOP/s GPU time`);
  }
  a.dispose();
  b.dispose();
  // Accuracy on HG_ERR² (inputs in [-0.5, 0.5)): our outputs go to Python, which compares them
  // and PyTorch's fp16 matmul with a float64 product of the same f16 inputs.
  const ea = await gpuTensor([HG_ERR, HG_ERR], "f16"),
    eb = await gpuTensor([HG_ERR, HG_ERR], "f16");
  const tb = eb.transpose().contiguous(); // a different matrix for B
  const bytes = async (t: Tensor) => new Uint8Array((await t.data() as Uint16Array).buffer);
  await Deno.writeFile("/tmp/hg_a.bin", await bytes(ea));
  await Deno.writeFile("/tmp/hg_b.bin", await bytes(tb));
  for (const [chunk, tile] of HG_VARIANTS) {
    ctx.f16GemmChunk = chunk;
    ctx.f16GemmTile = tile;
    const c = ea.matmul(tb);
    await Deno.writeFile(`/tmp/hg_c_${chunk}_${tile}.bin`, await bytes(c));
    c.dispose();
  }
  [ctx.f16GemmChunk, ctx.f16GemmTile] = saved;
  for (const t of [ea, eb, tb]) t.dispose();
}
for (const l of hgemmVariants) console.log(l);

// ---- host cost of one op, by kind (CPU time to record, submits every ctx.batch) ----------------
const hostParts: string[] = [];
{
  const x = await gpuTensor([256]);
  const s = await gpuTensor([1]);
  const N = 2000;
  for (
    const [name, op] of [
      ["x.mul(x)", () => x.mul(x).dispose()],
      ["x.mul(s) (1-element tensor)", () => x.mul(s).dispose()],
      ["x.mul(0.5) (weak scalar)", () => x.mul(0.5).dispose()],
      ["x.exp()", () => x.exp().dispose()],
    ] as const
  ) {
    const xs: number[] = [];
    for (let t = 0; t < TRIALS; t++) {
      const t0 = performance.now();
      for (let i = 0; i < N; i++) op();
      xs.push((performance.now() - t0) * 1000 / N);
      await readback();
    }
    hostParts.push(`host time per op, ${name}: ${cell(stat(xs))} µs`);
  }
  // A 1000-op chain recorded with no submit in between, then one flush: where host time goes.
  const saved = ctx.batch;
  ctx.batch = 1e9;
  const rec: number[] = [], fl: number[] = [];
  for (let t = 0; t < TRIALS + 1; t++) {
    const t0 = performance.now();
    const y = tidy(() => {
      let u = x;
      for (let i = 0; i < R_CHAIN / 2; i++) u = u.mul(0.5).add(0.25);
      return u;
    });
    const t1 = performance.now();
    ctx.flush();
    const t2 = performance.now();
    y.dispose();
    await readback();
    if (t > 0) { // the first trial allocates fresh buffers and bind groups
      rec.push((t1 - t0) * 1000 / R_CHAIN);
      fl.push((t2 - t1) * 1000 / R_CHAIN);
    }
  }
  ctx.batch = saved;
  hostParts.push(
    `host time per op of a ${R_CHAIN}-op chain without submits: record ${cell(stat(rec))} µs, ` +
      `then one flush (finish + submit) ${cell(stat(fl))} µs/op`,
  );
  x.dispose();
  s.dispose();
}
for (const l of hostParts) console.log(l);

// ---- chain of small dependent ops ---------------------------------------------------------------
{
  const x = await gpuTensor([256]);
  const us = (s: number) => s * 1e6;
  const chain = (n: number) => () => {
    const y = tidy(() => {
      let t = x;
      for (let i = 0; i < n; i++) t = t.mul(0.5).add(0.25);
      return t;
    });
    y.dispose();
  };
  // R_CHAIN ops (R_CHAIN / 2 steps of mul + add), then one readback.
  const wall = await wallOf(1, chain(R_CHAIN / 2));
  const gpu = await gpuOf(1, chain(R_CHAIN / 2));
  // Host cost: CPU time to record the ops (no waiting).
  const host: number[] = [];
  for (let t = 0; t < TRIALS; t++) {
    const t0 = performance.now();
    chain(R_CHAIN / 2)();
    host.push((performance.now() - t0) / 1000 / R_CHAIN);
    await readback();
  }
  // Own buffers: our small tensors share slab buffers, which one binding cannot split.
  const [p, q] = [0, 1].map(() => ctx.device.createBuffer({ size: 1024, usage: 0x80 | 0x8 }));
  const k = rawKernel(ctx.device, RAW_AFFINE, 2);
  const g01 = k.bind([p, q]), g10 = k.bind([q, p]);
  const raw = await rawOf(R_CHAIN, (pass, r) => {
    pass.setPipeline(k.pipeline);
    pass.setBindGroup(0, r % 2 ? g10 : g01);
    pass.dispatchWorkgroups(1);
  });
  rows.push({
    name: `chain of ${R_CHAIN} small dependent ops (256 elements), one readback`,
    unit: "µs/op",
    oursGpu: conv(gpu?.map((s) => s / R_CHAIN), us),
    oursWall: conv(wall.map((s) => s / R_CHAIN), us),
    rawGpu: conv(raw.gpu, us),
    rawWall: conv(raw.wall, us),
    target: "GPU ≤ 5, wall ≤ 20",
  });
  // Submits every `batch` dispatches: how much overlap of host and GPU pays.
  const saved = ctx.batch;
  for (const b of [32, 128, 256]) {
    ctx.batch = b;
    const wb = await wallOf(1, chain(R_CHAIN / 2));
    const c = cell(conv(wb.map((s) => s / R_CHAIN), us));
    console.log(`chain wall with a submit every ${b} dispatches: ${c} µs/op`);
  }
  ctx.batch = saved;
  // The raw API's own host cost for the same chain, recorded into one pass with nothing of ours:
  // with two bind groups made beforehand, and with a bind group made per dispatch (what a
  // library must do when an op's buffers or offsets change).
  const rawHost = (fresh: boolean) => {
    const xs: number[] = [];
    for (let t = 0; t < TRIALS + 1; t++) {
      const t0 = performance.now();
      const enc = ctx.device.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.setPipeline(k.pipeline);
      for (let r = 0; r < R_CHAIN; r++) {
        pass.setBindGroup(0, fresh ? k.bind(r % 2 ? [q, p] : [p, q]) : r % 2 ? g10 : g01);
        pass.dispatchWorkgroups(1);
      }
      pass.end();
      const cmd = enc.finish();
      if (t > 0) xs.push((performance.now() - t0) / 1000 / R_CHAIN);
      ctx.device.queue.submit([cmd]);
    }
    return xs;
  };
  const rawKept = rawHost(false), rawFresh = rawHost(true);
  await readback();
  rows.push({
    name: "host time to record one small op",
    unit: "µs/op",
    oursWall: conv(host, us),
    rawWall: conv(rawFresh, us),
    target: "≤ 5",
  });
  console.log(
    `raw WebGPU host time per dispatch (one pass, no library code): bind groups made beforehand ` +
      `${cell(conv(rawKept, us))} µs, a bind group per dispatch ${cell(conv(rawFresh, us))} µs`,
  );
  x.dispose();
  p.destroy();
  q.destroy();
}

// ---- PyTorch in the same call -------------------------------------------------------------------
const PY = `
import json, time, torch
assert torch.cuda.is_available()
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
dev = "cuda"
N, R, C, M, T, RB, RC = ${N_ELEM}, ${ROWS}, ${COLS}, ${MM}, ${TRIALS}, ${R_BIG}, ${R_CHAIN}
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
a = torch.rand(N, device=dev); b = torch.rand(N, device=dev)
r["add"] = 3 * N * 4 / timed(RB, lambda: torch.add(a, b)) / 1e9
s = torch.rand(R, C, device=dev)
r["softmax"] = 2 * R * C * 4 / timed(RB, lambda: torch.softmax(s, -1)) / 1e9
for dt, key in ((torch.float32, "sgemm"), (torch.float16, "hgemm")):
    p = torch.rand(M, M, device=dev, dtype=dt); q = torch.rand(M, M, device=dev, dtype=dt)
    r[key] = 2 * M ** 3 / timed(10, lambda: p @ q) / 1e12
z = torch.rand(256, device=dev)
def chain():
    t0 = time.perf_counter(); t = z
    for _ in range(RC // 2): t = t * 0.5 + 0.25
    t.cpu(); return (time.perf_counter() - t0) / RC * 1e6
for _ in range(3): chain()
r["chain"] = sorted(chain() for _ in range(T))[T // 2]
import numpy as np, os
if os.path.exists("/tmp/hg_a.bin"):
    E = ${HG_ERR}
    ld = lambda f: torch.from_numpy(np.fromfile(f, dtype=np.float16).reshape(E, E))
    A, B = ld("/tmp/hg_a.bin"), ld("/tmp/hg_b.bin")
    ref = A.double().cuda() @ B.double().cuda()
    scale = (A.double().abs().cuda() @ B.double().abs().cuda() + ref.abs()) * 2.0 ** -11
    def err(c):
        d = (c.double() - ref).abs()
        return {"max_abs": d.max().item(), "mean_abs": d.mean().item(), "max_u": (d / scale).max().item()}
    r["hg_err"] = {"torch_fp16": err(A.cuda() @ B.cuda())}
    for c, t in ${JSON.stringify(HG_VARIANTS)}:
        r["hg_err"][f"ours_{c}_{t}"] = err(ld(f"/tmp/hg_c_{c}_{t}.bin").cuda())
r["device"] = torch.cuda.get_device_name(0)
print("JSON" + json.dumps(r))
`;
let torch: Record<string, number | string | Record<string, unknown>> | null = null;
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
const torchKey = ["", "add", "softmax", "sgemm", "hgemm", "chain", ""];
rows.forEach((r, i) => {
  const v = torch?.[torchKey[i]];
  if (typeof v === "number") r.torch = v;
});

// Pass/fail against the issue's targets.
const [, add, soft, sg, hg, chain, host] = rows;
const med = (s?: Stat) => s?.med ?? NaN;
add.pass = med(add.oursGpu) >= 2400 && med(add.oursWall) >= 2000;
soft.pass = med(soft.oursGpu) >= 1300;
sg.pass = Math.max(med(sg.oursGpu), med(sg.oursWall)) >= 30;
hg.pass = med(hg.oursGpu) >= 1.6 * med(sg.oursGpu);
chain.pass = med(chain.oursGpu) <= 5 && med(chain.oursWall) <= 20;
host.pass = med(host.oursWall) <= 5;

const lower = (r: Row) => r.unit !== "GB/s" && r.unit !== "TFLOP/s";
const lines = [
  `WebGPU on ${device}; PyTorch: ${torch ? torch.device : `absent (${torchNote})`}`,
  `command: deno run -A bench/gpu.ts${
    SMALL ? " (BENCH_SMALL=1)" : ""
  }; median (min–max) of ${TRIALS}`,
  "",
  "| case | unit | ours GPU time | ours wall | raw WGSL GPU time | raw WGSL wall | PyTorch (CUDA events) | ours GPU vs PyTorch | target | pass |",
  "|---|---|---|---|---|---|---|---|---|---|",
  ...rows.map((r) => {
    const ratio = r.torch === undefined || !r.oursGpu
      ? "—"
      : (lower(r) ? r.torch / r.oursGpu.med : r.oursGpu.med / r.torch).toFixed(2);
    return `| ${r.name} | ${r.unit} | ${cell(r.oursGpu)} | ${cell(r.oursWall)} | ${
      cell(r.rawGpu)
    } | ${cell(r.rawWall)} | ${r.torch === undefined ? "—" : f(r.torch)} | ${ratio} | ${
      r.target ?? ""
    } | ${r.pass === undefined ? "" : r.pass ? "yes" : "NO"} |`;
  }),
];
lines.push("", ...hgemmVariants, ...hostParts);
if (torch?.hg_err) {
  lines.push(
    `hgemm error on ${HG_ERR}² vs a float64 product of the same f16 inputs (max_u: max |err| / ` +
      `(2^-11·(Σ|a||b| + |c|))): ${JSON.stringify(torch.hg_err)}`,
  );
}
const table = lines.join("\n");
console.log(table);
const json = JSON.stringify({ device, torch, rows, small: SMALL, date: new Date().toISOString() });
const dir = Deno.env.get("OUT");
if (dir) {
  await Deno.writeTextFile(`${dir}/gpu_bench.json`, json + "\n");
  await Deno.writeTextFile(`${dir}/gpu_bench.md`, table + "\n");
}
