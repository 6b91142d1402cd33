/**
 * The ONNX Transpose fast path (io/onnx/ops/transpose.ts: a batched 2-D transpose, one WASM SIMD
 * job) against index arithmetic in JS: every permutation of 1- to 4-D shapes with odd extents
 * and length-1 axes, f32 with NaN payloads and -0 (compared as bits) and i32; which
 * permutations take the job (asMatrices). Models through it (BlazeFace's NHWC input and
 * outputs) are compared with onnxruntime in models_test.ts.
 */
import "../../backends/runtime.ts";
import assert from "node:assert/strict";
import { fromTyped } from "../../core/ops/creation.ts";
import { asMatrices, transposeFast } from "../../io/onnx/ops/transpose.ts";
import { loadRuntime } from "../../backends/cpu/runtime.ts";

function perms(n: number): number[][] {
  if (n === 0) return [[]];
  return perms(n - 1).flatMap((p) =>
    Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)])
  );
}

/** y[i…] = x[permuted i…] by strides: the reference. */
function reference(x: Uint32Array, shape: number[], perm: number[]): Uint32Array {
  const st = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const os = perm.map((a) => shape[a]);
  const out = new Uint32Array(x.length);
  const idx = os.map(() => 0);
  for (let k = 0; k < out.length; k++) {
    out[k] = x[idx.reduce((a, v, d) => a + v * st[perm[d]], 0)];
    for (let d = os.length - 1; d >= 0; d--) {
      if (++idx[d] < os[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

Deno.test("asMatrices finds (B, R, C) → (B, C, R) and nothing else", () => {
  assert.deepEqual(asMatrices([1, 32, 16, 16], [0, 2, 3, 1]), [1, 32, 256]);
  assert.deepEqual(asMatrices([1, 128, 128, 3], [0, 3, 1, 2]), [1, 16384, 3]);
  assert.deepEqual(asMatrices([2, 3, 4, 5], [0, 2, 3, 1]), [2, 3, 20]);
  assert.deepEqual(asMatrices([2, 3, 4], [1, 0, 2]), null); // (R, C, D) → (C, R, D): not 2-D
  assert.deepEqual(asMatrices([2, 3, 4], [2, 1, 0]), null);
  assert.deepEqual(asMatrices([2, 3], [0, 1]), null); // identity
  assert.deepEqual(asMatrices([2, 1, 3], [2, 1, 0]), [1, 2, 3]); // length-1 axes dropped
});

Deno.test("Transpose fast path equals index arithmetic, bit for bit", () => {
  loadRuntime();
  const shapes = [[7], [5, 9], [1, 6], [3, 1, 7], [4, 6, 5], [2, 3, 5, 7], [1, 13, 9, 3], [
    2,
    8,
    4,
    4,
  ]];
  let fast = 0;
  for (const shape of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    const bits = Uint32Array.from({ length: n }, (_, i) => (Math.imul(i + 1, 2654435761) >>> 0));
    bits[0] = 0x7fc01234; // a NaN with a payload
    bits[n - 1] = 0x80000000; // -0
    for (const perm of perms(shape.length)) {
      const want = reference(bits, shape, perm);
      for (const dtype of ["f32", "i32"] as const) {
        const x = dtype === "f32"
          ? fromTyped(new Float32Array(bits.buffer.slice(0)), shape, "f32")
          : fromTyped(new Int32Array(bits.buffer.slice(0)), shape, "i32");
        const y = transposeFast(x, perm);
        assert.equal(y !== null, asMatrices(shape, perm) !== null, `${shape} ${perm}`);
        if (y !== null) {
          fast++;
          assert.deepEqual(y.shape, perm.map((a) => shape[a]));
          const got = new Uint32Array((y.dataSync() as Float32Array | Int32Array).buffer);
          assert.deepEqual(got, want, `${dtype} ${shape} perm ${perm}`);
          y.dispose();
        }
        x.dispose();
      }
    }
  }
  assert.ok(fast >= 40, `only ${fast} cases took the fast path`);
  // Not a permutation: no fast path (the op's view path raises the typed error).
  const x = fromTyped(new Float32Array(6), [2, 3], "f32");
  assert.equal(transposeFast(x, [1, 1]), null);
  assert.equal(transposeFast(x, [2, 0]), null);
  x.dispose();
});
