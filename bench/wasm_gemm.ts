/**
 * GFLOP/s of the WASM plugin's GEMM alone (no NumPy): square f32/f64 matmuls with 1 and 2
 * threads, median and spread of many runs timed with performance.now().
 *
 *   deno run -A bench/wasm_gemm.ts [sizes=256,512,1024] [runs=25]
 */
import { matmul, ready, registerBackend, type Tensor, traceKernels } from "../mod.ts";
import { disposeWasmThreads, setWasmThreads, wasmBackend } from "../backends/wasm/mod.ts";
import { makeTensor } from "../tests/helpers/gen.ts";

registerBackend(wasmBackend, { priority: 1000 }); // above OpenBLAS: time wasm alone
const status = (await ready()).find((b) => b.name === "wasm")!;
const sizes = (Deno.args[0] ?? "256,512,1024").split(",").map(Number);
const runs = Number(Deno.args[1] ?? 25);
console.log(`wasm: ${status.status} ${status.capabilities?.features?.join(" ") ?? status.reason}`);

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

for (const dtype of ["f32", "f64"] as const) {
  for (const n of sizes) {
    const a = makeTensor([n, n], dtype, 1), b = makeTensor([n, n], dtype, 2);
    const { trace } = traceKernels(() => matmul(a, b).dispose());
    if (trace[0].backend !== "wasm") throw new Error(`matmul ran on ${trace[0].backend}`);
    for (const threads of [1, 2]) {
      setWasmThreads(threads);
      for (let i = 0; i < 3; i++) matmul(a, b).dispose(); // warm-up (tier-up, pool start)
      const gflops: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        const c: Tensor = matmul(a, b);
        const ms = performance.now() - t0;
        c.dispose();
        gflops.push((2 * n ** 3) / (ms * 1e6));
      }
      console.log(
        `${dtype} ${n}x${n}x${n} threads=${threads}: median ${quantile(gflops, 0.5).toFixed(1)} ` +
          `GFLOP/s (p10 ${quantile(gflops, 0.1).toFixed(1)}, p90 ${
            quantile(gflops, 0.9).toFixed(1)
          }, ` +
          `max ${Math.max(...gflops).toFixed(1)}; ${runs} runs)`,
      );
    }
    a.dispose();
    b.dispose();
  }
}
setWasmThreads(1);
await disposeWasmThreads();
