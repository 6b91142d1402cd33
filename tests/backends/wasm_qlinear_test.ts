/**
 * The WASM plugin's `quantLinear` kernel (backends/cpu/src/qlinear.c) against the scalar backend's
 * reference kernel, for every weight type it runs, both activation modes, m = 1 (decode) and m > 1
 * (prefill, including the rows past a multiple of 4), an odd number of output columns; its
 * activation quantizer against llama.cpp's own `quantize_row_q8_0_ref` / `quantize_row_q8_K_ref`
 * (libggml-base), byte for byte; results independent of the thread count; and routing (types and
 * modes it lacks fall back to the scalar kernel).
 *
 * Tolerance, per output: |ours − scalar| ≤ 1e-6 · Σ_c |w[j, c]·a[i, c]| (the decoded weight times
 * the activation as the mode rounds it). Both sides compute the same products exactly — the weights
 * decode to the same f32 values, and under "ggml" the activation levels are byte-identical and
 * the integer block dots exact — so the difference is only f32 accumulation (ours) against f64
 * (scalar): at most a few f32 roundings of partial sums, ≤ ~10·6e-8 of Σ|w·a| for k ≤ 1024.
 */
import assert from "node:assert/strict";
import {
  fromBlocks,
  fromTyped,
  quantLinear,
  ready,
  scalarBackend,
  type Tensor,
  traceKernels,
  wasmBackend,
} from "../../mod.ts";
import { setWasmThreads, wasmThreads } from "../../backends/wasm/mod.ts";
import { loadRuntime } from "../../backends/cpu/runtime.ts";
import { heapScratch } from "../../backends/cpu/jobs.ts";
import { type BlockDType, byteLength, type StorageDType } from "../../core/dtype.ts";
import { dequantizeRow, quantizeRow } from "../../core/quant/mod.ts";
import { bf16ToF32Row, f16ToF32Row, f32ToBF16Row, f32ToF16Row } from "../../core/quant/half.ts";
import { ggmlActivationType } from "../../backends/scalar/kernels/quant_linear.ts";
import { haveGgml, refDequantize, refQuantize } from "../helpers/ggml_oracle.ts";
import { runOn } from "../helpers/kernels.ts";

await ready();

function rng(seed: number) {
  let s = seed >>> 0;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  return () => (u() + u() + u() + u() - 2) * 1.7;
}

const WASM_TYPES = [
  "f32",
  "f16",
  "bf16",
  "q4_0",
  "q8_0",
  "q4_k",
  "q6_k",
  "q4_1",
  "q5_0",
  "q5_1",
  "iq4_nl",
] as const;
const GGML_TYPES = new Set(["f32", "q4_0", "q8_0", "q4_k", "q6_k"]);

/** A weight [n, k] of `type` from random values, and its f32 decode. */
function weight(
  type: string,
  n: number,
  k: number,
  seed: number,
): { w: Tensor<StorageDType>; f: Float32Array } {
  const rand = rng(seed);
  const wf = Float32Array.from({ length: n * k }, rand);
  const f = new Float32Array(n * k);
  if (type === "f32") return { w: fromTyped(wf, [n, k], "f32"), f: wf };
  if (type === "f16" || type === "bf16") {
    const b = new Uint8Array(n * k * 2);
    (type === "f16" ? f32ToF16Row : f32ToBF16Row)(wf, b);
    (type === "f16" ? f16ToF32Row : bf16ToF32Row)(b, f);
    return { w: fromTyped(new Uint16Array(b.buffer), [n, k], type), f };
  }
  const bytes = new Uint8Array(byteLength(type as BlockDType, n * k));
  quantizeRow(type as BlockDType, wf, bytes);
  dequantizeRow(type as BlockDType, bytes, f);
  return { w: fromBlocks(bytes, type as BlockDType, [n, k]), f };
}

/** The activations as `mode` rounds them for weight `type` (what the products multiply). */
function rounded(type: string, mode: string, x: Float32Array, k: number): Float32Array {
  const t = ggmlActivationType(type);
  if (mode === "f32" || t === "f32") return x;
  const out = new Float32Array(x.length);
  const b = new Uint8Array(byteLength(t as BlockDType, k));
  for (let i = 0; i < x.length / k; i++) {
    quantizeRow(t as BlockDType, x.subarray(i * k, (i + 1) * k), b);
    dequantizeRow(t as BlockDType, b, out.subarray(i * k, (i + 1) * k));
  }
  return out;
}

function check(type: string, mode: "f32" | "ggml", m: number, n: number, k: number, seed: number) {
  const { w, f } = weight(type, n, k, seed);
  const xv = Float32Array.from({ length: m * k }, rng(seed + 1));
  if (m > 1) xv.fill(0, k, 2 * k); // an all-zero activation row (zero scales)
  const x = fromTyped(xv, [m, k], "f32");
  const attrs = { activations: mode };
  const ours = runOn(wasmBackend, "quantLinear", [x, w as unknown as Tensor], [m, n], "f32", attrs);
  const ref = runOn(
    scalarBackend,
    "quantLinear",
    [x, w as unknown as Tensor],
    [m, n],
    "f32",
    attrs,
  );
  const a = ours.dataSync() as Float32Array, r = ref.dataSync() as Float32Array;
  const xa = rounded(type, mode, xv, k);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let mag = 0;
      for (let c = 0; c < k; c++) mag += Math.abs(f[j * k + c] * xa[i * k + c]);
      const got = a[i * n + j], want = r[i * n + j];
      assert.ok(
        Math.abs(got - want) <= 1e-6 * mag,
        `${type} ${mode} m=${m} k=${k} [${i}, ${j}]: ours ${got}, scalar ${want} (Σ|w·a| ${mag})`,
      );
    }
  }
  for (const t of [ours, ref, x, w]) t.dispose();
}

Deno.test("wasm quantLinear equals the scalar kernel for each weight type, both modes", () => {
  for (const type of WASM_TYPES) {
    const block = type.endsWith("_k") ? 256 : ["f32", "f16", "bf16"].includes(type) ? 1 : 32;
    const ks = block === 256 ? [256, 768] : block === 32 ? [96, 1024] : [37, 300];
    const modes = GGML_TYPES.has(type) ? ["f32", "ggml"] as const : ["f32"] as const;
    for (const mode of modes) {
      for (const k of ks) {
        for (const m of [1, 6]) check(type, mode, m, 7, k, k + m);
      }
    }
  }
});

Deno.test("wasm quantLinear routes: its types run on wasm, the others fall back to scalar", () => {
  const cases: [string, "f32" | "ggml", string][] = [
    ["q4_0", "ggml", "wasm"],
    ["q6_k", "f32", "wasm"],
    ["f16", "f32", "wasm"],
    ["f16", "ggml", "scalar"],
    ["bf16", "ggml", "scalar"],
    ["q5_k", "ggml", "wasm"], // q5_k, q4_1 "ggml", q3_k: qlinear_k.c (wasm_qlinear_k_test.ts)
    ["q4_1", "f32", "wasm"],
    ["q4_1", "ggml", "wasm"],
    ["q3_k", "f32", "wasm"],
    ["tq2_0", "f32", "scalar"],
    ["mxfp4", "ggml", "scalar"],
  ];
  for (const [type, mode, backend] of cases) {
    const { w } = weight(type, 3, 256, 5);
    const x = fromTyped(Float32Array.from({ length: 256 }, rng(6)), [1, 256], "f32");
    const { result, trace } = traceKernels(() => quantLinear(x, w, { activations: mode }));
    const rec = trace.filter((t) => t.op === "quantLinear").at(-1);
    assert.equal(rec?.backend, backend, `${type} ${mode} ran on ${rec?.backend}`);
    for (const t of [result, x, w]) t.dispose();
  }
});

Deno.test("wasm quantLinear gives the same bits on 1 and 2 threads", () => {
  const before = wasmThreads();
  try {
    for (const [type, mode] of [["q4_0", "ggml"], ["q4_k", "ggml"], ["q8_0", "f32"]] as const) {
      const k = 2048, n = 129;
      const { w } = weight(type, n, k, 9);
      for (const m of [1, 5]) {
        const x = fromTyped(Float32Array.from({ length: m * k }, rng(m)), [m, k], "f32");
        const run = (t: number) => {
          setWasmThreads(t);
          const y = quantLinear(x, w, { activations: mode });
          const v = (y.dataSync() as Float32Array).slice();
          y.dispose();
          return v;
        };
        const one = run(1), two = run(2);
        assert.deepEqual(two, one, `${type} ${mode} m=${m}`);
        assert.ok(one.every(Number.isFinite));
        x.dispose();
      }
      w.dispose();
    }
  } finally {
    setWasmThreads(before);
  }
});

Deno.test({
  name: "wasm activation quantizer equals llama.cpp's quantize_row_q8_0_ref / q8_K_ref",
  ignore: !haveGgml(),
  fn() {
    const rt = loadRuntime();
    const m = 3, k = 1024;
    const x = Float32Array.from({ length: m * k }, rng(3));
    x.fill(0, 256, 512); // whole zero blocks
    x[700] = 1e-30; // a lone tiny value in a block
    x[1100] = -37.5; // a block led by a negative value
    // exact halves (a block scale of 1 for Q8_0, iscale −1 for Q8_K): ties away from zero / even
    x.set([127, 2.5, -3.5, 0.5, -0.5, 1.5, -126.5], 1536);
    for (const [mode, type] of [[1, "q8_0"], [2, "q8_K"]] as const) {
      const qk = mode === 1 ? 32 : 256, sk = mode === 1 ? 32 : 16;
      const nd = (m * k) / qk, ns = (m * k) / sk;
      const buf = heapScratch(4 * m * k + m * k + 4 * nd + 4 * ns);
      try {
        const xp = buf.ptr, qp = xp + 4 * m * k, dp = qp + m * k, sp = dp + 4 * nd;
        new Float32Array(rt.memory.buffer, xp, m * k).set(x);
        rt.exports.qlin_quant(xp, m, k, mode, qp, dp, sp);
        const qs = new Int8Array(rt.memory.buffer, qp, m * k);
        const d = new Float32Array(rt.memory.buffer, dp, nd);
        const s = new Int32Array(rt.memory.buffer, sp, ns);
        const bpb = mode === 1 ? 34 : 292;
        const ref = refQuantize(type, x, nd * bpb);
        const refF = refDequantize(type, ref, m * k);
        const dv = new DataView(ref.buffer);
        for (let b = 0; b < nd; b++) {
          const o = b * bpb;
          const rq = new Int8Array(ref.buffer, o + (mode === 1 ? 2 : 4), qk);
          assert.deepEqual(qs.slice(b * qk, (b + 1) * qk), rq.slice(), `${type} block ${b} levels`);
          const rd = mode === 1 ? refF[b * qk] / (rq[0] || 1) : dv.getFloat32(o, true);
          if (mode === 1) {
            // the f16 scale: recover it from a nonzero level's decode
            const at = rq.findIndex((v) => v !== 0);
            const want = at < 0 ? null : refF[b * qk + at] / rq[at];
            if (want !== null) assert.equal(d[b], want, `${type} block ${b} scale`);
            assert.equal(s[b], rq.reduce((a, v) => a + v, 0), `${type} block ${b} sum`);
          } else {
            assert.ok(Object.is(d[b], rd), `${type} block ${b} scale ${d[b]} vs ${rd}`);
            for (let g = 0; g < 16; g++) {
              assert.equal(s[b * 16 + g], dv.getInt16(o + 260 + 2 * g, true), `bsum ${b}.${g}`);
            }
          }
        }
      } finally {
        buf.free();
      }
    }
  },
});
