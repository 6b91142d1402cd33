/**
 * Several-row quantLinear (`activations: "ggml"`, a prefill's or a batch's rows) on Q4_0, Q8_0 and
 * Q4_K weights: the tiled kernel (backends/cpu/src/qgemm_tile.c), the matrix-vector kernel it
 * replaces for m ≥ 2 (qlinear.c, 4 rows a weight-row pass) and llama.cpp's own `ggml_mul_mat`
 * (node-llama-cpp 3.22.1's libggml-cpu-zen4.so through Deno.dlopen, a plain CPU context: its
 * vec_dot / llamafile sgemm kernels, not a model load's repacked ones), reps interleaved in one
 * run, at 1 and 2 threads. Reports GMAC/s of the best rep (the machine is shared: the fastest rep
 * is the least disturbed), the median, and checks that the tiled and old kernels agree. With
 * `--clock cpu` the times are the process's CPU time (node:process cpuUsage) instead of wall
 * time: on a loaded machine a one-thread run's CPU time does not count the time others held the
 * core (all three sides run on the calling thread at one thread; at two, spinning workers count).
 *
 * Q4_0 also runs the weight repacked at load (backends/wasm/qrepack.ts; column "repacked", which
 * must give the tiled kernel's bits, or the matrix-vector kernel's at m = 1).
 *
 * `QG_NOCHECK=1` skips the agreement check (timing an experimental kernel that computes less).
 *
 *     deno run -A bench/qgemm_tile.ts [--m 128] [--n 2048] [--k 2048] [--reps 7] [--types q4_0,q8_0,q4_k]
 */
import { parseArgs } from "node:util";
import process from "node:process";
import { fromTyped, quantLinear, ready } from "../mod.ts";
import { quantize } from "../core/ops/blocks.ts";
import { setWasmThreads } from "../backends/wasm/mod.ts";
import { setQuantLinearTiling } from "../backends/wasm/qlinear.ts";
import { repackQ4_0 } from "../backends/wasm/qrepack.ts";
import { type BlockDType, byteLength } from "../core/dtype.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    m: { type: "string", default: "128" },
    n: { type: "string", default: "2048" },
    k: { type: "string", default: "2048" },
    reps: { type: "string", default: "7" },
    threads: { type: "string", default: "1,2" },
    types: { type: "string", default: "q4_0,q8_0,q4_k" },
    clock: { type: "string", default: "wall" },
  },
});
const M = Number(values.m), N = Number(values.n), K = Number(values.k), REPS = Number(values.reps);
const TYPES = values.types.split(",") as BlockDType[];
const GGML_ID: Record<string, number> = { q4_0: 2, q8_0: 8, q4_k: 12 };

const DIR = new URL(
  "../.refs/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/",
  import.meta.url,
);
const base = Deno.dlopen(new URL("libggml-base.so", DIR), {
  ggml_init: { parameters: [{ struct: ["usize", "pointer", "u8"] }], result: "pointer" },
  ggml_free: { parameters: ["pointer"], result: "void" },
  ggml_new_tensor_2d: { parameters: ["pointer", "i32", "i64", "i64"], result: "pointer" },
  ggml_get_data: { parameters: ["pointer"], result: "pointer" },
  ggml_mul_mat: { parameters: ["pointer", "pointer", "pointer"], result: "pointer" },
  ggml_new_graph: { parameters: ["pointer"], result: "pointer" },
  ggml_build_forward_expand: { parameters: ["pointer", "pointer"], result: "void" },
});
const cpu = Deno.dlopen(new URL("libggml-cpu-zen4.so", DIR), {
  ggml_cpu_init: { parameters: [], result: "void" },
  ggml_graph_compute_with_ctx: { parameters: ["pointer", "pointer", "i32"], result: "i32" },
});
cpu.symbols.ggml_cpu_init();
await ready();

const rand = (() => {
  let s = 12345;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  return () => (u() + u() + u() - 1.5) * 0.5;
})();
const wf = Float32Array.from({ length: N * K }, rand);
const xf = Float32Array.from({ length: M * K }, rand);
const load = () => Deno.loadavg()[0].toFixed(1);
const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
const macs = M * N * K;
const cpuClock = values.clock === "cpu";
/** Milliseconds: wall clock, or the process's user + system CPU time. */
const now = () => {
  if (!cpuClock) return performance.now();
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

console.log(
  `m ${M} n ${N} k ${K}, ${REPS} reps, load ${load()} at start; GMAC/s best (median), ${
    cpuClock ? "CPU" : "wall"
  } time`,
);
console.log(
  "| type | threads | tiled | old (4-row) | repacked | llama.cpp | tiled/old | tiled/llama.cpp | " +
    "repacked/llama.cpp | load |",
);
console.log(
  "| ---- | ------- | ----- | ----------- | -------- | --------- | --------- | --------------- | " +
    "------------------ | ---- |",
);
for (const type of TYPES) {
  using wt = quantize(fromTyped(wf, [N, K], "f32"), type);
  const wbytes = byteLength(type, N * K);
  const params = new Uint8Array(24);
  new DataView(params.buffer).setBigUint64(
    0,
    BigInt(wbytes + 8 * M * K + 4 * M * N + (64 << 20)),
    true,
  );
  const ctx = base.symbols.ggml_init(params);
  const gw = base.symbols.ggml_new_tensor_2d(ctx, GGML_ID[type], BigInt(K), BigInt(N));
  const gx = base.symbols.ggml_new_tensor_2d(ctx, 0, BigInt(K), BigInt(M));
  new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(base.symbols.ggml_get_data(gw)!, wbytes))
    .set(wt.bytesSync());
  new Float32Array(
    Deno.UnsafePointerView.getArrayBuffer(base.symbols.ggml_get_data(gx)!, 4 * M * K),
  )
    .set(xf);
  const gy = base.symbols.ggml_mul_mat(ctx, gw, gx);
  const gf = base.symbols.ggml_new_graph(ctx);
  base.symbols.ggml_build_forward_expand(gf, gy);
  const x = fromTyped(xf, [M, K], "f32");
  using wr = quantize(fromTyped(wf, [N, K], "f32"), type);
  const hasRepack = repackQ4_0(wr);
  for (const threads of values.threads.split(",").map(Number)) {
    setWasmThreads(threads);
    const tT: number[] = [], tO: number[] = [], tL: number[] = [], tR: number[] = [];
    let maxDiff = 0, maxMag = 0;
    const run = (tiled: boolean, w = wt) => {
      setQuantLinearTiling(tiled);
      const t = now();
      const y = quantLinear(x, w, { activations: "ggml" });
      const v = y.dataSync() as Float32Array;
      const ms = now() - t;
      y.dispose();
      return { ms, v };
    };
    for (let r = 0; r < REPS + 1; r++) {
      const a = run(true), b = run(false);
      const t = now();
      if (cpu.symbols.ggml_graph_compute_with_ctx(ctx, gf, threads) !== 0) throw new Error("ggml");
      const c = now() - t;
      const rp = hasRepack ? run(true, wr) : null;
      if (r > 0) tT.push(a.ms), tO.push(b.ms), tL.push(c), rp && tR.push(rp.ms); // rep 0 warms up
      if (rp && rp.v.some((v, i) => !Object.is(v, a.v[i])) && !Deno.env.get("QG_NOCHECK")) {
        throw new Error(`${type}: repacked and tiled differ`);
      }
      for (let i = 0; i < a.v.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(a.v[i] - b.v[i]));
        maxMag = Math.max(maxMag, Math.abs(b.v[i]));
      }
    }
    setQuantLinearTiling(true);
    if (!(maxDiff <= 1e-5 * maxMag) && !Deno.env.get("QG_NOCHECK")) {
      throw new Error(`${type}: tiled and old differ by ${maxDiff}`);
    }
    const g = (a: number[], f: (a: number[]) => number) => (macs / f(a) / 1e6).toFixed(1);
    const best = (a: number[]) => Math.min(...a);
    console.log(
      `| ${type} | ${threads} | ${g(tT, best)} (${g(tT, median)}) | ${g(tO, best)} (${
        g(tO, median)
      }) | ${tR.length ? `${g(tR, best)} (${g(tR, median)})` : "–"} | ${g(tL, best)} (${
        g(tL, median)
      }) | ${(best(tO) / best(tT)).toFixed(2)} | ${(best(tL) / best(tT)).toFixed(2)} | ${
        tR.length ? (best(tL) / best(tR)).toFixed(2) : "–"
      } | ${load()} |`,
    );
  }
  x.dispose();
  base.symbols.ggml_free(ctx);
}
