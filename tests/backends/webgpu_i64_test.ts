/**
 * i64 → f32 on the WebGPU backend rounds once to nearest-even, as NumPy's cast and our CPU
 * backends do (WGSL leaves inexact integer → float conversions to the implementation, and the
 * kernel used to round twice: high word times 2^32 plus low word). Values around every rounding
 * case: exact, ties to even, ties broken by a sticky bit far below, carries into the next binade,
 * both signs, and the extremes.
 */
import assert from "node:assert/strict";
import { fromTyped, type Tensor, where } from "../../mod.ts";
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

/** Edge values of i64 arithmetic: carries and borrows across the word boundary, signs, ±2^63. */
function edges(): bigint[] {
  const v = [0n, 1n, -1n, 2n, -2n, 2n ** 63n - 1n, -(2n ** 63n), -(2n ** 63n) + 1n];
  for (const p of [31n, 32n, 33n, 47n, 62n]) {
    v.push(2n ** p, 2n ** p - 1n, -(2n ** p), -(2n ** p) + 1n);
  }
  v.push(0xffffffffn, 0x1_0000_0000n, 0xffff_ffff_ffffn, 3037000499n, 3037000500n, -3037000500n);
  v.push(0x7fff_ffff_8000_0000n, 0x1234_5678_9abc_def0n, -0x1234_5678_9abc_def0n);
  return v;
}

const w64 = (x: bigint) => BigInt.asIntN(64, x);

Deno.test({
  name: "webgpu: i64 add/sub/mul/neg/abs/max/min/compare/where equal BigInt (NumPy's int64 wrap)",
  ...GPU_TEST,
}, async () => {
  const v = edges(), n = v.length;
  // every pair: a along rows, b along columns (broadcast from (n,1) and (1,n))
  const a = await fromTyped(BigInt64Array.from(v), [n, 1], "i64").to("gpu");
  const b = await fromTyped(BigInt64Array.from(v), [1, n], "i64").to("gpu");
  const pairs = (f: (x: bigint, y: bigint) => bigint | boolean) =>
    v.flatMap((x) => v.map((y) => f(x, y)));
  const cases: [string, Tensor, (x: bigint, y: bigint) => bigint | boolean][] = [
    ["add", a.add(b), (x, y) => w64(x + y)],
    ["sub", a.sub(b), (x, y) => w64(x - y)],
    ["mul", a.mul(b), (x, y) => w64(x * y)],
    ["maximum", a.maximum(b), (x, y) => (x > y ? x : y)],
    ["minimum", a.minimum(b), (x, y) => (x < y ? x : y)],
    ["eq", a.eq(b), (x, y) => x === y],
    ["ne", a.ne(b), (x, y) => x !== y],
    ["lt", a.lt(b), (x, y) => x < y],
    ["le", a.le(b), (x, y) => x <= y],
    ["gt", a.gt(b), (x, y) => x > y],
    ["ge", a.ge(b), (x, y) => x >= y],
    ["where", where(a.lt(b), a, b), (x, y) => (x < y ? x : y)],
  ];
  for (const [name, t, f] of cases) {
    const got = Array.from(await t.data() as ArrayLike<bigint | boolean | number>);
    const want = pairs(f);
    assert.equal(got.length, want.length, name);
    for (let i = 0; i < want.length; i++) {
      const g = typeof want[i] === "boolean" ? Boolean(got[i]) : got[i];
      assert.equal(g, want[i], `${name}(${v[Math.floor(i / n)]}, ${v[i % n]}): gpu ${g}`);
    }
  }
  const flat = await fromTyped(BigInt64Array.from(v), [n], "i64").to("gpu");
  assert.deepEqual(Array.from(await flat.neg().data() as BigInt64Array), v.map((x) => w64(-x)));
  assert.deepEqual(
    Array.from(await flat.abs().data() as BigInt64Array),
    v.map((x) => w64(x < 0n ? -x : x)), // abs(-2^63) wraps to -2^63, as NumPy's
  );
});

Deno.test({
  name: "webgpu: i64 with narrower integers, weak scalars and strided views",
  ...GPU_TEST,
}, async () => {
  const v = edges(), n = v.length;
  const a = await fromTyped(BigInt64Array.from(v), [n], "i64").to("gpu");
  const i32 = [-(2 ** 31), -1, 0, 1, 2 ** 31 - 1];
  const x = await fromTyped(Int32Array.from(i32), [5, 1], "i32").to("gpu");
  const sum = a.reshape([1, n]).add(x); // i32 is sign-extended
  assert.equal(sum.dtype, "i64");
  const got = Array.from(await sum.data() as BigInt64Array);
  const want = i32.flatMap((p) => v.map((q) => w64(q + BigInt(p))));
  assert.deepEqual(got, want);
  const u8 = await fromTyped(Uint8Array.from([0, 255, 128]), [3], "u8").to("gpu");
  const big = await fromTyped(BigInt64Array.from([-1n, 2n ** 40n, -(2n ** 63n)]), [3], "i64")
    .to("gpu");
  assert.deepEqual(
    Array.from(await big.sub(u8).data() as BigInt64Array),
    [-1n, 2n ** 40n - 255n, w64(-(2n ** 63n) - 128n)], // u8 is zero-extended
  );
  // a weak scalar keeps the dtype (BatchNorm's num_batches_tracked += 1), wrapping at 2^63 - 1
  const nbt = await fromTyped(BigInt64Array.from([2n ** 63n - 2n]), [], "i64").to("gpu");
  const n1 = nbt.add(1);
  assert.equal(n1.dtype, "i64");
  assert.deepEqual(Array.from(await n1.data() as BigInt64Array), [2n ** 63n - 1n]);
  assert.deepEqual(Array.from(await n1.add(1).data() as BigInt64Array), [-(2n ** 63n)]);
  assert.deepEqual(Array.from(await nbt.ne(-100).data() as Uint8Array), [1]);
  // strided operands (a transposed view) and a bool output not a multiple of 4 long
  const m = await fromTyped(BigInt64Array.from(v.slice(0, 15)), [3, 5], "i64").to("gpu");
  const mt = m.transpose();
  const cmp = Array.from(await mt.gt(0).data() as Uint8Array).map(Boolean);
  const vt = [0, 1, 2, 3, 4].flatMap((j) => [0, 1, 2].map((i) => v[i * 5 + j]));
  assert.deepEqual(cmp, vt.map((q) => q > 0n));
  assert.deepEqual(
    Array.from(await mt.add(mt).data() as BigInt64Array),
    vt.map((q) => w64(2n * q)),
  );
});
