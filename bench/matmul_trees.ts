/**
 * Our matmul 128 f32 alone in one source tree (to compare two trees' builds without NumPy, whose
 * timings swing by 1000× when the machine is loaded): 3000 timed calls after 300 warm-up,
 * min / p10 / p25 / median in µs, the backend that ran it and the load average.
 * Usage: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE deno run -A bench/matmul_trees.ts TREE [THREADS]
 * (TREE: the root of a checkout, e.g. a worktree of an older commit, or `$PWD`).
 */
const root = Deno.args[0].replace(/\/$/, "");
const m = await import(`file://${root}/mod.ts`);
await m.ready();
const threads = Number(Deno.args[1] ?? 2);
m.setWasmThreads(threads);
m.setBlasThreads?.(threads);
m.seed?.(1);
const a = m.randn([128, 128]), b = m.randn([128, 128]);
for (let i = 0; i < 300; i++) a.matmul(b).dispose();
const ts: number[] = [];
for (let i = 0; i < 3000; i++) {
  const t0 = performance.now();
  const c = a.matmul(b);
  ts.push(performance.now() - t0);
  c.dispose();
}
ts.sort((x, y) => x - y);
const q = (p: number) => (ts[Math.floor(p * ts.length)] * 1000).toFixed(1);
const { trace } = m.traceKernels(() => a.matmul(b));
console.log(
  `${root.split("/").pop()} ${threads}t: min ${q(0)} p10 ${q(0.1)} p25 ${q(0.25)} median ${
    q(0.5)
  } µs  ${JSON.stringify(trace.map((r: { backend: string }) => r.backend))} load ${
    Deno.loadavg()[0].toFixed(1)
  }`,
);
