/**
 * The tiled several-row quantLinear kernel (backends/cpu/src/qgemm_tile.c, `activations: "ggml"`,
 * m ≥ 2 rows of Q4_0 / Q8_0 / Q4_K) against the 4-row matrix-vector kernel it replaces
 * (`setQuantLinearTiling(false)`) and against a float64 reference.
 *
 * - Q4_0 and Q8_0: the same bits as the old kernel (both leave each block's exact integer dot in
 *   lane t of four blocks and apply the scales in the same f32 operations).
 * - Q4_K: the same exact integers summed in other lanes, so only f32 rounding differs:
 *   |tiled − old| ≤ 1e-6 · Σ_c |w·a|.
 * - float64 reference: Σ_c w[j, c]·a[i, c] over the decoded weights and the activations as the
 *   Q8_0 / Q8_K quantizer rounds them, in f64; |tiled − ref| ≤ 1e-6 · Σ_c |w·a| (a few f32
 *   roundings of partial sums, k ≤ 512).
 * Shapes cover a 4-weight-row tile plus 1-row remainders (n = 9), activation rows past the
 * 32-row tile (m = 37), m = 2 (the smallest tiled call), an all-zero row, and Q8_0 levels −128
 * (outside the i7 range: the kernel splits each level into nibbles).
 */
import assert from "node:assert/strict";
import { fromBlocks, fromTyped, quantLinear, ready, type Tensor } from "../../mod.ts";
import { setQuantLinearTiling } from "../../backends/wasm/qlinear.ts";
import { setWasmThreads, wasmThreads } from "../../backends/wasm/mod.ts";
import { type BlockDType, byteLength } from "../../core/dtype.ts";
import { dequantizeRow, quantizeRow } from "../../core/quant/mod.ts";
import { ggmlActivationType } from "../../backends/scalar/kernels/quant_linear.ts";

await ready();

function rng(seed: number) {
  let s = seed >>> 0;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  return () => (u() + u() + u() + u() - 2) * 1.7;
}

/**
 * Weight bytes [n, k] of `type` from random values (Q8_0: some levels forced to −128 in the first
 * half of the rows, so that groups with and without one both occur: the kernel's sign form and its
 * nibble fallback).
 */
function weightBytes(type: BlockDType, n: number, k: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(byteLength(type, n * k));
  quantizeRow(type, Float32Array.from({ length: n * k }, rng(seed)), bytes);
  if (type === "q8_0") {
    for (let b = 0; b < bytes.length / 2; b += 34 * 3) bytes[b + 2 + (b % 31)] = 0x80;
  }
  return bytes;
}

function decode(type: BlockDType, bytes: Uint8Array, len: number): Float32Array {
  const f = new Float32Array(len);
  dequantizeRow(type, bytes, f);
  return f;
}

function run(x: Tensor, w: Tensor, tiled: boolean): Float32Array {
  setQuantLinearTiling(tiled);
  try {
    const y = quantLinear(x, w, { activations: "ggml" });
    const v = (y.dataSync() as Float32Array).slice();
    y.dispose();
    return v;
  } finally {
    setQuantLinearTiling(true);
  }
}

function check(type: BlockDType, m: number, n: number, k: number, seed: number) {
  const bytes = weightBytes(type, n, k, seed);
  const wf = decode(type, bytes, n * k);
  const w = fromBlocks(bytes, type, [n, k]) as unknown as Tensor;
  const xv = Float32Array.from({ length: m * k }, rng(seed + 1));
  xv.fill(0, k, 2 * k); // an all-zero row (zero scales)
  const x = fromTyped(xv, [m, k], "f32");
  const tiled = run(x, w, true), old = run(x, w, false);
  // the activations as the quantizer rounds them
  const at = ggmlActivationType(type) as BlockDType;
  const xa = new Float32Array(m * k), qb = new Uint8Array(byteLength(at, k));
  for (let i = 0; i < m; i++) {
    quantizeRow(at, xv.subarray(i * k, (i + 1) * k), qb);
    dequantizeRow(at, qb, xa.subarray(i * k, (i + 1) * k));
  }
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let ref = 0, mag = 0;
      for (let c = 0; c < k; c++) {
        const p = wf[j * k + c] * xa[i * k + c];
        ref += p;
        mag += Math.abs(p);
      }
      const got = tiled[i * n + j], was = old[i * n + j], at_ = `${type} m=${m} [${i}, ${j}]`;
      assert.ok(Number.isFinite(got), `${at_}: ${got}`);
      if (type === "q4_k") {
        assert.ok(Math.abs(got - was) <= 1e-6 * mag, `${at_}: tiled ${got}, old ${was} (Σ ${mag})`);
      } else {assert.equal(
          Object.is(got, was) || got === was,
          true,
          `${at_}: tiled ${got}, old ${was}`,
        );}
      assert.ok(Math.abs(got - ref) <= 1e-6 * mag, `${at_}: tiled ${got}, f64 ${ref} (Σ ${mag})`);
    }
  }
  x.dispose();
  w.dispose();
}

Deno.test("tiled quantLinear equals the 4-row kernel (Q4_0, Q8_0 bits) and a float64 reference", () => {
  for (const type of ["q4_0", "q8_0", "q4_k"] as const) {
    const k = type === "q4_k" ? 512 : 384;
    for (const m of [2, 6, 37]) check(type, m, 9, k, m + k);
  }
});

Deno.test("tiled quantLinear gives the same bits on 1 and 2 threads", () => {
  const before = wasmThreads();
  try {
    for (const type of ["q4_0", "q8_0", "q4_k"] as const) {
      const m = 8, n = 67, k = 1024;
      const w = fromBlocks(weightBytes(type, n, k, 5), type, [n, k]) as unknown as Tensor;
      const x = fromTyped(Float32Array.from({ length: m * k }, rng(6)), [m, k], "f32");
      setWasmThreads(1);
      const one = run(x, w, true);
      setWasmThreads(2);
      assert.deepEqual(run(x, w, true), one, type);
      x.dispose();
      w.dispose();
    }
  } finally {
    setWasmThreads(before);
  }
});
