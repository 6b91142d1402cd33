/**
 * i64 → f32 on the WebGPU backend rounds once to nearest-even, as NumPy's cast and our CPU
 * backends do (WGSL leaves inexact integer → float conversions to the implementation, and the
 * kernel used to round twice: high word times 2^32 plus low word). Values around every rounding
 * case: exact, ties to even, ties broken by a sticky bit far below, carries into the next binade,
 * both signs, and the extremes.
 */
import assert from "node:assert/strict";
import { fromTyped } from "../../mod.ts";
import { GPU_TEST } from "../helpers/webgpu.ts";

function cases(): bigint[] {
  const out: bigint[] = [0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n)];
  for (let p = 23n; p <= 62n; p++) {
    const b = 2n ** p;
    const ulp = p >= 23n ? 2n ** (p - 23n) : 1n; // spacing of f32 values in [2^p, 2^(p+1))
    for (
      const d of [
        0n,
        1n,
        ulp / 2n,
        ulp / 2n + 1n,
        ulp / 2n - 1n,
        ulp,
        ulp + ulp / 2n,
        3n * ulp / 2n,
      ]
    ) {
      for (const v of [b + d, 2n * b - 1n - d, b + 2n ** (p - 1n) + d]) {
        if (v < 2n ** 63n) out.push(v, -v);
      }
    }
  }
  let x = 0x9e3779b97f4a7c15n; // a few hundred pseudo-random words
  for (let i = 0; i < 300; i++) {
    x = (x * 6364136223846793005n + 1442695040888963407n) & (2n ** 64n - 1n);
    out.push(BigInt.asIntN(64, x >> BigInt(i % 40)));
  }
  return out;
}

Deno.test({
  name: "webgpu: i64 → f32 rounds once, to nearest even, equal to the CPU cast",
  ...GPU_TEST,
}, async () => {
  const vals = cases();
  const cpu = fromTyped(BigInt64Array.from(vals), [vals.length], "i64");
  const want = cpu.astype("f32").dataSync() as Float32Array;
  // the CPU cast is the nearest f32 (ties to an even mantissa), checked here in exact integers
  const bits = new Uint32Array(1), f32 = new Float32Array(bits.buffer);
  const abs = (x: bigint) => (x < 0n ? -x : x);
  for (let i = 0; i < vals.length; i++) {
    const v = vals[i], f = want[i];
    if (abs(v) < 2n ** 24n) {
      assert.equal(BigInt(f), v, `cpu ${v} → ${f} must be exact`);
      continue;
    }
    const err = v - BigInt(f);
    if (err === 0n) continue;
    f32[0] = f;
    bits[0] += (err > 0n) === (f > 0) ? 1 : -1; // the f32 neighbour on v's side
    const away = f32[0];
    if (!Number.isFinite(away)) continue;
    const alt = v - BigInt(away);
    assert.ok(abs(err) <= abs(alt), `cpu ${v} → ${f} is not the nearest (${away} is nearer)`);
    if (abs(err) === abs(alt)) {
      f32[0] = f;
      assert.equal(bits[0] & 1, 0, `cpu ${v} → ${f}: a tie must go to the even mantissa`);
    }
  }
  const gpu = await cpu.to("gpu");
  const got = await gpu.astype("f32").data() as Float32Array;
  for (let i = 0; i < vals.length; i++) {
    assert.ok(Object.is(got[i], want[i]), `i64 ${vals[i]} → f32: gpu ${got[i]}, cpu ${want[i]}`);
  }
});
