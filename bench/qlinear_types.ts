/**
 * Matrix-vector speed of the WASM quantLinear kernels (`activations: "ggml"`) for every GGUF weight
 * type they run, against llama.cpp's CPU matmul on the same blocks in the same run: ggml's own
 * graph (`ggml_mul_mat` + `ggml_graph_compute_with_ctx`) from node-llama-cpp's prebuilt
 * libggml-cpu-zen4.so (the variant llama.cpp picks on this machine), opened with Deno.dlopen, in a
 * plain CPU context (so its vec_dot kernels, not the repacked ones of a model load). Reports
 * weight GB/s (weight bytes / time, activation quantization included on both sides) of the best
 * of the reps (the machine is shared: the fastest rep is the least disturbed one), reps
 * interleaved ours / llama.cpp, at 1 and 2 threads.
 *
 *     deno run -A bench/qlinear_types.ts [--n 16384] [--k 4096] [--reps 7] [--types q2_k,q5_k]
 *       [--ggml-cpu zen4]   (the libggml-cpu-<variant>.so to time: x64, haswell, icelake, …)
 */
import { parseArgs } from "node:util";
import { fromTyped, quantLinear, ready, type Tensor } from "../mod.ts";
import { quantize } from "../core/ops/blocks.ts";
import { setWasmThreads } from "../backends/wasm/mod.ts";
import { type BlockDType, byteLength } from "../core/dtype.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    n: { type: "string", default: "16384" },
    k: { type: "string", default: "4096" },
    reps: { type: "string", default: "7" },
    "ggml-cpu": { type: "string", default: "zen4" },
    types: {
      type: "string",
      default: "q4_0,q4_1,q5_0,q5_1,q8_0,q2_k,q3_k,q4_k,q5_k,q6_k,iq4_nl,iq4_xs",
    },
  },
});
const N = Number(values.n), K = Number(values.k), REPS = Number(values.reps);
const TYPES = values.types.split(",") as BlockDType[];
/** ggml_type ids. */
const GGML_ID: Record<string, number> = {
  q4_0: 2,
  q4_1: 3,
  q5_0: 6,
  q5_1: 7,
  q8_0: 8,
  q2_k: 10,
  q3_k: 11,
  q4_k: 12,
  q5_k: 13,
  q6_k: 14,
  iq4_nl: 20,
  iq4_xs: 23,
};

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
const cpu = Deno.dlopen(new URL(`libggml-cpu-${values["ggml-cpu"]}.so`, DIR), {
  ggml_cpu_init: { parameters: [], result: "void" },
  ggml_graph_compute_with_ctx: { parameters: ["pointer", "pointer", "i32"], result: "i32" },
});
cpu.symbols.ggml_cpu_init();
await ready();

const best = (a: number[]) => Math.min(...a);

const rand = (() => {
  let s = 12345;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  return () => (u() + u() + u() - 1.5) * 0.5;
})();
const wf = Float32Array.from({ length: N * K }, rand);
const xf = Float32Array.from({ length: K }, rand);
const load = () => Deno.loadavg()[0].toFixed(1);

console.log(`n ${N} k ${K}, ${REPS} reps, load ${load()} at start`);
console.log("| type | weight MB | threads | ours GB/s | llama.cpp GB/s | ratio | load |");
console.log("| ---- | --------- | ------- | --------- | -------------- | ----- | ---- |");
for (const type of TYPES) {
  using wt = quantize(fromTyped(wf, [N, K], "f32"), type);
  const bytes = wt.bytesSync();
  const wbytes = byteLength(type, N * K);
  // ggml side: the same blocks in a context of its own
  const params = new Uint8Array(24);
  new DataView(params.buffer).setBigUint64(0, BigInt(wbytes + 4 * K + (64 << 20)), true);
  const ctx = base.symbols.ggml_init(params);
  const gw = base.symbols.ggml_new_tensor_2d(ctx, GGML_ID[type], BigInt(K), BigInt(N));
  const gx = base.symbols.ggml_new_tensor_2d(ctx, 0, BigInt(K), 1n);
  new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(base.symbols.ggml_get_data(gw)!, wbytes))
    .set(bytes);
  new Float32Array(Deno.UnsafePointerView.getArrayBuffer(base.symbols.ggml_get_data(gx)!, 4 * K))
    .set(xf);
  const gy = base.symbols.ggml_mul_mat(ctx, gw, gx);
  const gf = base.symbols.ggml_new_graph(ctx);
  base.symbols.ggml_build_forward_expand(gf, gy);
  const gyData = new Float32Array(
    Deno.UnsafePointerView.getArrayBuffer(base.symbols.ggml_get_data(gy)!, 4 * N),
  );
  const x: Tensor = fromTyped(xf, [1, K], "f32");
  for (const threads of [1, 2]) {
    setWasmThreads(threads);
    const ours: number[] = [], theirs: number[] = [];
    let maxDiff = 0;
    for (let r = 0; r < REPS + 1; r++) {
      let t = performance.now();
      const y = quantLinear(x, wt, { activations: "ggml" });
      const yv = y.dataSync() as Float32Array;
      const a = performance.now() - t;
      t = performance.now();
      if (cpu.symbols.ggml_graph_compute_with_ctx(ctx, gf, threads) !== 0) throw new Error("ggml");
      const b = performance.now() - t;
      if (r > 0) ours.push(a), theirs.push(b); // rep 0 warms up
      if (r === REPS) {
        for (let j = 0; j < N; j++) maxDiff = Math.max(maxDiff, Math.abs(yv[j] - gyData[j]));
      }
      y.dispose();
    }
    const go = wbytes / best(ours) / 1e6, gl = wbytes / best(theirs) / 1e6;
    if (!(maxDiff < 1e-2)) throw new Error(`${type}: results differ from llama.cpp by ${maxDiff}`);
    console.log(
      `| ${type} | ${(wbytes / 1e6).toFixed(1)} | ${threads} | ${go.toFixed(2)} | ${
        gl.toFixed(2)
      } | ${(go / gl).toFixed(2)} | ${load()} |`,
    );
  }
  x.dispose();
  base.symbols.ggml_free(ctx);
}
