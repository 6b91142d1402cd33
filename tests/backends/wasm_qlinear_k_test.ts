/**
 * The WASM `quantLinear` kernels of backends/cpu/src/qlinear_k.c — Q2_K, Q3_K, Q5_K, IQ4_XS in both
 * activation modes and the "ggml" mode of Q4_1, Q5_0, Q5_1, IQ4_NL — against the scalar backend's
 * reference kernel (odd shapes: k several blocks with a tail past a multiple of 4 blocks, m 1…9,
 * n odd) and, in "ggml" mode, against llama.cpp's own dot kernels (`ggml_vec_dot_*_generic` of
 * libggml-cpu, on activations quantized by libggml-base's `quantize_row_q8_*_ref`); the Q8_1
 * activation quantizer byte for byte against `quantize_row_q8_1_ref`; the same bits on 1 and 2
 * threads.
 *
 * Tolerance, per output: |ours − ref| ≤ 1e-6 · Σ_c |w[j, c]·a[i, c]| (decoded weight times the
 * activation as the mode rounds it), as in wasm_qlinear_test.ts: the products are the same exact
 * values on both sides, so only f32 accumulation differs. One documented exception against the
 * scalar kernel: for Q4_1/Q5_1 in "ggml" mode llama.cpp adds m·s per block with s = f16(d·Σq) (Q8_1's
 * stored sum), which the scalar kernel (decoded activations) does not round; that term's rounding,
 * Σ_b |m_b|·|s_b − d_b·Σq_b|, computed from the blocks here, is added to the bound. Against
 * llama.cpp itself no such term is needed.
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
import { type BlockDType, byteLength } from "../../core/dtype.ts";
import { dequantizeRow, quantizeRow } from "../../core/quant/mod.ts";
import { f16ToF32Row } from "../../core/quant/half.ts";
import { ggmlActivationType } from "../../backends/scalar/kernels/quant_linear.ts";
import { haveGgml, refQuantize } from "../helpers/ggml_oracle.ts";
import { ggmlVecDot } from "../helpers/ggml_cpu_oracle.ts";
import { runOn } from "../helpers/kernels.ts";

await ready();

function rng(seed: number) {
  let s = seed >>> 0;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  return () => (u() + u() + u() + u() - 2) * 1.7;
}

const BOTH = ["q2_k", "q3_k", "q5_k", "iq4_xs"] as const;
const GGML_ONLY = ["q4_1", "q5_0", "q5_1", "iq4_nl"] as const;
type QType = (typeof BOTH)[number] | (typeof GGML_ONLY)[number];
const blockOf = (t: QType) => (t.endsWith("_k") || t === "iq4_xs" ? 256 : 32);

const f16 = (b: Uint8Array, o: number) => {
  const v = new Float32Array(1);
  f16ToF32Row(b.subarray(o, o + 2), v);
  return v[0];
};

/** A weight [n, k] of `type` from random values: its blocks and its f32 decode. */
function weight(type: QType, n: number, k: number, seed: number) {
  const wf = Float32Array.from({ length: n * k }, rng(seed));
  const bytes = new Uint8Array(byteLength(type, n * k));
  quantizeRow(type, wf, bytes);
  const f = new Float32Array(n * k);
  dequantizeRow(type, bytes, f);
  return { w: fromBlocks(bytes, type, [n, k]), bytes, f };
}

/** Activation row `x` quantized to `type`'s `vec_dot_type` (our codec; bytes as llama.cpp's). */
function actBlocks(type: QType, x: Float32Array): Uint8Array {
  const t = ggmlActivationType(type) as BlockDType;
  const b = new Uint8Array(byteLength(t, x.length));
  quantizeRow(t, x, b);
  return b;
}

/** m rows of k activations, row 1 all zero (zero scales) when m > 1. */
function acts(m: number, k: number, seed: number): Float32Array {
  const x = Float32Array.from({ length: m * k }, rng(seed));
  if (m > 1) x.fill(0, k, 2 * k);
  return x;
}

/** Σ_c |w·a| per output (a as the mode rounds it), and the Q8_1 s-rounding term (see header). */
function bounds(
  type: QType,
  mode: "f32" | "ggml",
  wb: Uint8Array,
  f: Float32Array,
  x: Float32Array,
  m: number,
  n: number,
  k: number,
) {
  const mag = new Float64Array(m * n), extra = new Float64Array(m * n);
  const xa = new Float32Array(x.length);
  const t = ggmlActivationType(type) as BlockDType;
  const ab: Uint8Array[] = [];
  for (let i = 0; i < m; i++) {
    const row = x.subarray(i * k, (i + 1) * k);
    if (mode === "f32") xa.set(row, i * k);
    else {
      ab.push(actBlocks(type, row));
      dequantizeRow(t, ab[i], xa.subarray(i * k, (i + 1) * k));
    }
  }
  const min = mode === "ggml" && (type === "q4_1" || type === "q5_1");
  const wbpb = min ? byteLength(type, 32) : 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let c = 0; c < k; c++) s += Math.abs(f[j * k + c] * xa[i * k + c]);
      mag[i * n + j] = s;
      if (!min) continue;
      let e = 0;
      for (let b = 0; b < k / 32; b++) {
        const a = ab[i].subarray(36 * b, 36 * b + 36);
        let sum = 0;
        for (let c = 0; c < 32; c++) sum += (a[4 + c] << 24) >> 24;
        const mw = f16(wb, (j * k / 32 + b) * wbpb + 2);
        e += Math.abs(mw) * Math.abs(f16(a, 2) - f16(a, 0) * sum);
      }
      extra[i * n + j] = e;
    }
  }
  return { mag, extra, ab };
}

function vsScalar(
  type: QType,
  mode: "f32" | "ggml",
  m: number,
  n: number,
  k: number,
  seed: number,
) {
  const { w, bytes, f } = weight(type, n, k, seed);
  const xv = acts(m, k, seed + 1);
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
  const { mag, extra } = bounds(type, mode, bytes, f, xv, m, n, k);
  for (let o = 0; o < m * n; o++) {
    const tol = 1e-6 * mag[o] + extra[o] * (1 + 1e-6);
    assert.ok(
      Math.abs(a[o] - r[o]) <= tol,
      `${type} ${mode} m=${m} n=${n} k=${k} [${o}]: ours ${a[o]}, scalar ${r[o]} (tol ${tol})`,
    );
  }
  for (const t of [ours, ref, x, w]) t.dispose();
}

Deno.test("wasm quantLinear (qlinear_k.c) equals the scalar kernel over odd shapes", () => {
  for (const type of [...BOTH, ...GGML_ONLY]) {
    const qk = blockOf(type);
    const modes = (BOTH as readonly string[]).includes(type)
      ? ["f32", "ggml"] as const
      : ["ggml"] as const;
    for (const mode of modes) {
      // k: one block; several blocks with one past a multiple of 4 (the 32-block kernels' tail)
      for (let m = 1; m <= 9; m++) vsScalar(type, mode, m, 5, qk === 32 ? 32 * 9 : 256 * 3, m);
      vsScalar(type, mode, 2, 3, qk, 11);
      vsScalar(type, mode, 6, 9, qk === 32 ? 32 * 14 : 256 * 2, 12);
    }
  }
});

Deno.test({
  name: "wasm quantLinear 'ggml' mode equals llama.cpp's vec_dot kernels (libggml-cpu)",
  ignore: !haveGgml(),
  fn() {
    for (const type of [...BOTH, ...GGML_ONLY]) {
      const qk = blockOf(type);
      for (const [m, n, k] of [[1, 7, qk * 5], [5, 3, qk === 32 ? 32 * 13 : 256 * 2]]) {
        const { w, bytes, f } = weight(type, n, k, k + m);
        const xv = acts(m, k, m * 31 + k);
        const x = fromTyped(xv, [m, k], "f32");
        const { result: y, trace } = traceKernels(() => quantLinear(x, w, { activations: "ggml" }));
        assert.equal(trace.filter((t) => t.op === "quantLinear").at(-1)?.backend, "wasm", type);
        const got = y.dataSync() as Float32Array;
        const { mag, ab } = bounds(type, "ggml", bytes, f, xv, m, n, k);
        const rb = byteLength(type, k);
        const at = ggmlActivationType(type);
        for (let i = 0; i < m; i++) {
          // llama.cpp's own quantizer for the activations: the same bytes as ours
          const ref = refQuantize(
            at.replace("_k", "_K"),
            xv.subarray(i * k, (i + 1) * k),
            ab[i].length,
          );
          assert.deepEqual(ab[i], ref, `${type} activation row ${i} bytes`);
          for (let j = 0; j < n; j++) {
            const want = ggmlVecDot(type, k, bytes.subarray(j * rb, (j + 1) * rb), ref);
            const o = i * n + j;
            assert.ok(
              Math.abs(got[o] - want) <= 1e-6 * mag[o],
              `${type} m=${m} k=${k} [${i}, ${j}]: ours ${got[o]}, llama.cpp ${want} (Σ|w·a| ${
                mag[o]
              })`,
            );
          }
        }
        for (const t of [x, w, y]) t.dispose();
      }
    }
  },
});

Deno.test({
  name: "wasm Q8_1 activation quantizer equals llama.cpp's quantize_row_q8_1_ref",
  ignore: !haveGgml(),
  fn() {
    const rt = loadRuntime();
    const m = 3, k = 256, nb = (m * k) / 32;
    const x = acts(m, k, 4);
    x[300] = 1e-30; // a lone tiny value in a zero block
    x[520] = -37.5; // a block led by a negative value
    const buf = heapScratch(4 * m * k + m * k + 8 * nb);
    try {
      const xp = buf.ptr, qp = xp + 4 * m * k, dp = qp + m * k, sp = dp + 4 * nb;
      new Float32Array(rt.memory.buffer, xp, m * k).set(x);
      rt.exports.qlin_quant_q8_1(xp, m, k, qp, dp, sp);
      const qs = new Int8Array(rt.memory.buffer, qp, m * k).slice();
      const d = new Float32Array(rt.memory.buffer, dp, nb).slice();
      const s = new Float32Array(rt.memory.buffer, sp, nb).slice();
      const ref = refQuantize("q8_1", x, 36 * nb);
      for (let b = 0; b < nb; b++) {
        const blk = ref.subarray(36 * b, 36 * b + 36);
        assert.deepEqual(
          qs.subarray(32 * b, 32 * b + 32),
          new Int8Array(blk.slice(4).buffer),
          `levels ${b}`,
        );
        assert.ok(Object.is(d[b], f16(blk, 0)), `block ${b} d ${d[b]} vs ${f16(blk, 0)}`);
        assert.ok(Object.is(s[b], f16(blk, 2)), `block ${b} s ${s[b]} vs ${f16(blk, 2)}`);
      }
    } finally {
      buf.free();
    }
  },
});

Deno.test("wasm quantLinear (qlinear_k.c) gives the same bits on 1 and 2 threads", () => {
  const before = wasmThreads();
  try {
    for (const [type, mode] of [["q5_k", "ggml"], ["q5_1", "ggml"], ["iq4_xs", "f32"]] as const) {
      const k = 1024, n = 129, m = 5;
      const { w } = weight(type, n, k, 9);
      const x = fromTyped(acts(m, k, 3), [m, k], "f32");
      const run = (t: number) => {
        setWasmThreads(t);
        const y = quantLinear(x, w, { activations: mode });
        const v = (y.dataSync() as Float32Array).slice();
        y.dispose();
        return v;
      };
      const one = run(1), two = run(2);
      assert.deepEqual(two, one, `${type} ${mode}`);
      assert.ok(one.every(Number.isFinite));
      for (const t of [x, w]) t.dispose();
    }
  } finally {
    setWasmThreads(before);
  }
});
