/**
 * The WASM module's fused residual op (binary code ADD_RELU: out = max(a + b, 0), relu's NaN and
 * -0 rules) against the scalar backend's add then relu on the same operands: bitwise equal (one
 * f32 rounding of the sum in both), NaN = NaN, over contiguous rows, a strided output (every
 * other element of an (N, C·P) block, as the ONNX residual fusion writes the first channels),
 * a broadcast operand (stride 0) and lengths off the 4-lane width.
 */
import "../../backends/runtime.ts";
import assert from "node:assert/strict";
import { scalarBackend, type Tensor } from "../../mod.ts";
import { fromTyped } from "../../core/ops/creation.ts";
import { loadRuntime } from "../../backends/cpu/runtime.ts";
import { address } from "../../backends/cpu/jobs.ts";
import { ADD_RELU, runElementwise } from "../../backends/cpu/elementwise.ts";
import { runOn } from "../helpers/kernels.ts";

/** Random f32 values with negatives, zeros of both signs, NaN and infinities mixed in. */
function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const special = [0, -0, NaN, Infinity, -Infinity, 1e-40, -1e-40];
  return Float32Array.from({ length: n }, () => {
    const u = next();
    return u < 0.1 ? special[Math.floor(next() * special.length)] : (next() - 0.5) * 8;
  });
}

/** Bitwise equality of two f32 arrays, any NaN equal to any NaN. */
function sameBits(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, what);
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]) && Number.isNaN(b[i])) continue;
    assert.ok(Object.is(a[i], b[i]), `${what}: [${i}] ${a[i]} vs scalar ${b[i]}`);
  }
}

Deno.test("ADD_RELU job equals the scalar backend's add then relu, bitwise", () => {
  loadRuntime();
  for (const [N, C, Cr, P] of [[1, 3, 3, 17], [2, 5, 3, 8], [1, 4, 1, 1], [3, 2, 2, 33]]) {
    const what = `N ${N} C ${C} Cr ${Cr} P ${P}`;
    const y0 = values(N * C * P, N * 1000 + C * 100 + P);
    const r0 = values(N * Cr * P, 7 + P);
    const y = fromTyped(y0, [N, C * P], "f32"), r = fromTyped(r0, [N, Cr * P], "f32");
    // Reference: the scalar backend's add on the first Cr·P of each row, then relu.
    const head = fromTyped(
      Float32Array.from(
        { length: N * Cr * P },
        (_, i) => y0[Math.floor(i / (Cr * P)) * C * P + (i % (Cr * P))],
      ),
      [N, Cr * P],
      "f32",
    );
    const sum = runOn(scalarBackend, "add", [head, r], [N, Cr * P], "f32");
    const want = runOn(scalarBackend, "relu", [sum], [N, Cr * P], "f32").dataSync() as Float32Array;
    const yo = address(y as Tensor);
    runElementwise("binary", ADD_RELU, "f32", [N, Cr * P], [yo, yo, address(r)], [
      [C * P, 1],
      [C * P, 1],
      [Cr * P, 1],
    ], false);
    const got = y.dataSync() as Float32Array;
    const gotHead = Float32Array.from(
      { length: N * Cr * P },
      (_, i) => got[Math.floor(i / (Cr * P)) * C * P + (i % (Cr * P))],
    );
    sameBits(gotHead, want, what);
    // The channels past Cr are untouched.
    for (let i = 0; i < got.length; i++) {
      if (i % (C * P) >= Cr * P) {
        assert.ok(Object.is(got[i], y0[i]) || (got[i] !== got[i] && y0[i] !== y0[i]), what);
      }
    }
    for (const t of [y, r, head, sum]) t.dispose();
  }
  // A broadcast second operand (stride 0) and a strided output.
  const n = 23, a0 = values(2 * n, 5), b0 = values(1, 9).fill(-1.5);
  const a = fromTyped(a0, [2 * n], "f32"), b = fromTyped(b0, [1], "f32");
  const want = a0.map((v, i) => {
    const s = Math.fround(v + b0[0]);
    return i % 2 === 0 ? (s < 0 ? 0 : s) : v;
  });
  const ao = address(a as Tensor);
  runElementwise("binary", ADD_RELU, "f32", [n], [ao, ao, address(b)], [[2], [2], [0]], false);
  sameBits(a.dataSync() as Float32Array, want, "broadcast, stride 2");
  a.dispose();
  b.dispose();
});
