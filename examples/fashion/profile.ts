/**
 * `--profile N`: where the time of a training step goes. Runs N steps of the real training loop
 * with a profiling plugin registered above every CPU backend: it takes each kernel call, routes
 * it exactly like the registry would (highest-priority available backend that has the kernel
 * and accepts the call) and times it, so the table shows which backend ran which kernel and how
 * long it took. `traceKernels` cross-checks the routing; phases (forward, backward, optimizer)
 * are timed around the loop.
 *
 * @module
 */
import {
  type Backend,
  backends,
  type KernelCall,
  type KernelFn,
  nn,
  openblasBackend,
  optim,
  ready,
  registerBackend,
  scalarBackend,
  seed,
  tidy,
  traceKernels,
  unregisterBackend,
  wasmBackend,
} from "../../mod.ts";
import { planned } from "../../internal.ts";
import type { TrainArgs } from "./args.ts";
import { batch, epochOrder, loadSplit } from "./data.ts";
import { makeModel } from "./model.ts";

/** Per (op, backend): calls and milliseconds. */
export type KernelProfile = Map<string, { op: string; backend: string; calls: number; ms: number }>;

/** A delegating plugin that times every CPU kernel call; `stop()` unregisters it. */
function installProfiler(known: Backend[]): { profile: KernelProfile; stop: () => void } {
  const status = new Map(backends().map((b) => [b.name, b]));
  const chain = known
    .filter((b) => status.get(b.name)?.status === "available" && b.device === "cpu")
    .sort((a, b) => status.get(b.name)!.priority - status.get(a.name)!.priority);
  const profile: KernelProfile = new Map();
  const kernels: Record<string, KernelFn> = {};
  const tables = chain.map((b) => ({ name: b.name, table: planned(b.kernels) }));
  const ops = new Set(chain.flatMap((b) => Object.keys(b.kernels)));
  for (const op of ops) {
    kernels[op] = (call: KernelCall) => {
      for (const b of tables) {
        const k = b.table[op];
        if (!k) continue;
        const fn = typeof k === "function" ? k : k.plan(call);
        if (!fn) continue;
        const t0 = performance.now();
        const out = fn(call);
        const ms = performance.now() - t0;
        const key = `${op}\u0000${b.name}`;
        const rec = profile.get(key) ?? { op, backend: b.name, calls: 0, ms: 0 };
        rec.calls++;
        rec.ms += ms;
        profile.set(key, rec);
        return out;
      }
      throw new Error(`profiler: no CPU backend runs ${op}`);
    };
  }
  registerBackend({
    name: "profiler",
    device: "cpu",
    probe: () => ({ available: true }),
    kernels,
  }, { priority: 1e9 });
  return { profile, stop: () => void unregisterBackend("profiler") };
}

/** Run `args.profile` training steps (after 3 warm-up steps) and print the profile. */
export async function profileSteps(args: TrainArgs): Promise<void> {
  const list = await ready();
  console.log(
    "backends: " + list.map((b) => `${b.name}=${b.status}${b.reason ? ` (${b.reason})` : ""}`)
      .join(", "),
  );
  const limit = Math.max(args.trainLimit, (args.profile + 4) * args.batchSize);
  const data = await loadSplit(args.data, "train", limit);
  seed(args.seed);
  const model = makeModel();
  const lossFn = new nn.CrossEntropyLoss();
  const opt = new optim.AdamW(model.parameters(), { lr: args.lr, weightDecay: 1e-4 });
  const order = epochOrder(data.n, args.seed, 0);
  const phases = { forward: 0, backward: 0, optimizer: 0, batch: 0 };
  const step = (i: number, timed: boolean) => {
    let t = performance.now();
    const lap = (k: keyof typeof phases) => {
      const now = performance.now();
      if (timed) phases[k] += now - t;
      t = now;
    };
    const { x, y } = batch(data, order.subarray(i * args.batchSize, (i + 1) * args.batchSize));
    lap("batch");
    tidy(() => {
      opt.zeroGrad();
      const l = lossFn.call(model.call(x), y);
      l.item();
      lap("forward");
      l.backward();
      lap("backward");
    });
    opt.step();
    lap("optimizer");
    x.dispose();
    y.dispose();
  };
  for (let i = 0; i < 3; i++) step(i, false);
  // Which backend the registry itself picks, per op (without the profiler in the way).
  const routes = new Map<string, Set<string>>();
  for (const r of traceKernels(() => step(3, false)).trace) {
    if (!routes.has(r.op)) routes.set(r.op, new Set());
    routes.get(r.op)!.add(r.backend);
  }
  const { profile, stop } = installProfiler([openblasBackend, wasmBackend, scalarBackend]);
  const t0 = performance.now();
  try {
    for (let i = 0; i < args.profile; i++) step(4 + i, true);
  } finally {
    stop();
  }
  const total = performance.now() - t0;
  const rows = [...profile.values()].sort((a, b) => b.ms - a.ms);
  const kernelMs = rows.reduce((a, r) => a + r.ms, 0);
  const n = args.profile;
  console.log(
    `\n${n} steps of batch ${args.batchSize}: ${(total / n).toFixed(1)} ms/step, ` +
      `${((n * args.batchSize) / (total / 1000)).toFixed(0)} samples/s (profiler overhead ` +
      `included); kernels ${(100 * kernelMs / total).toFixed(1)}% of the time`,
  );
  console.log(
    "phases per step: " +
      Object.entries(phases).map(([k, v]) => `${k} ${(v / n).toFixed(1)} ms`).join(", "),
  );
  console.log("\nop                         backend     calls/step   ms/step   share");
  for (const r of rows) {
    const picked = [...(routes.get(r.op) ?? [])].join("+");
    console.log(
      `${r.op.padEnd(26)} ${r.backend.padEnd(10)} ${(r.calls / n).toFixed(1).padStart(10)} ` +
        `${(r.ms / n).toFixed(2).padStart(9)} ${(100 * r.ms / total).toFixed(1).padStart(6)}%` +
        (picked && picked !== r.backend ? `   (registry routes: ${picked})` : ""),
    );
  }
  model.dispose();
  lossFn.dispose();
}
