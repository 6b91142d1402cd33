/**
 * Random numbers: the Philox4x32-10 known answers, the documented (seed, draw, index) → value
 * mapping, reproducibility, distribution checks against SciPy on large samples, dtypes and errors.
 */
import assert from "node:assert/strict";
import {
  DeviceError,
  type DType,
  DTypeError,
  Generator,
  IndexError,
  philox4x32,
  rand,
  randint,
  randn,
  seed,
  ShapeError,
  type Tensor,
} from "../../mod.ts";
import { fromBF16Bits } from "../../internal.ts";
import { needsNumpy, numpy, toF64 } from "../helpers/numpy.ts";

const hex = (w: Uint32Array) => [...w].map((x) => x.toString(16).padStart(8, "0")).join(" ");

Deno.test("philox4x32 matches the Random123 known-answer vectors", async (t) => {
  // kat_vectors from the Random123 distribution: philox4x32 10 rounds, counter, key, expected.
  const kats: [number[], number[], string][] = [
    [[0, 0, 0, 0], [0, 0], "6627e8d5 e169c58d bc57ac4c 9b00dbd8"],
    [
      [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
      [0xffffffff, 0xffffffff],
      "408f276d 41c83b0e a20bc7c6 6d5451fd",
    ],
    [
      [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
      [0xa4093822, 0x299f31d0],
      "d16cfe09 94fdcceb 5001e420 24126ea1",
    ],
  ];
  for (const [ctr, key, want] of kats) {
    await t.step(`counter ${ctr.map((x) => x.toString(16)).join(",")}`, () => {
      assert.equal(hex(philox4x32(ctr, key)), want);
    });
  }
  await t.step("a counter or key of the wrong length is a DTypeError", () => {
    assert.throws(() => philox4x32([0, 0, 0], [0, 0]), DTypeError);
  });
});

/** The documented mapping, written out independently with BigInt: words of element i, draw d. */
function words(seedValue: bigint, d: number, i: number): Uint32Array {
  const s = BigInt.asUintN(64, seedValue);
  return philox4x32(
    [i % 2 ** 32, Math.floor(i / 2 ** 32), d % 2 ** 32, Math.floor(d / 2 ** 32)],
    [Number(s & 0xffffffffn), Number(s >> 32n)],
  );
}

const u53 = (a: number, b: number) => (Math.floor(a / 32) * 2 ** 26 + Math.floor(b / 64)) / 2 ** 53;

Deno.test("values follow the documented (seed, draw, index) mapping", async (t) => {
  const g = new Generator(0x1234_5678_9abcn);
  const n = 50;
  await t.step("rand f32 = (w0 >>> 8)·2^-24 on draw 0", () => {
    const got = g.rand([n]).dataSync();
    for (let i = 0; i < n; i++) {
      assert.equal(got[i], Math.floor(words(g.seed, 0, i)[0] / 256) / 2 ** 24);
    }
  });
  await t.step("rand f64 = U53(w0, w1) on draw 1", () => {
    const got = g.rand([n], { dtype: "f64" }).dataSync();
    for (let i = 0; i < n; i++) {
      const w = words(g.seed, 1, i);
      assert.equal(got[i], u53(w[0], w[1]));
    }
  });
  await t.step("rand f16 and bf16 use the top 11 and 8 bits of w0", () => {
    const h = g.rand([n], { dtype: "f16" }).dataSync();
    const b = g.rand([n], { dtype: "bf16" }).dataSync();
    for (let i = 0; i < n; i++) {
      assert.equal(h[i], Math.floor(words(g.seed, 2, i)[0] / 2 ** 21) / 2 ** 11);
      assert.equal(
        fromBF16Bits(b[i] as number),
        Math.floor(words(g.seed, 3, i)[0] / 2 ** 24) / 256,
      );
    }
  });
  await t.step("randn f64 = sqrt(-2 ln(1 - U53(w0,w1)))·cos(2π U53(w2,w3))", () => {
    const got = g.randn([n], { dtype: "f64" }).dataSync();
    for (let i = 0; i < n; i++) {
      const w = words(g.seed, 4, i);
      const z = Math.sqrt(-2 * Math.log(1 - u53(w[0], w[1]))) *
        Math.cos(2 * Math.PI * u53(w[2], w[3]));
      assert.equal(got[i], z);
    }
  });
  await t.step("randint = low + floor(X·r / 2^128) with X the 128-bit block", () => {
    const cases: [bigint, bigint, DType][] = [
      [-7n, 1000n, "i32"],
      [0n, 2n ** 32n, "u32"],
      [-(2n ** 40n), 2n ** 62n, "i64"],
      [-(2n ** 63n), 2n ** 63n, "i64"],
    ];
    let d = 5;
    for (const [lo, hi, dtype] of cases) {
      const got = g.randint(lo, hi, [n], { dtype }).dataSync();
      for (let i = 0; i < n; i++) {
        const w = words(g.seed, d, i);
        const x = (BigInt(w[3]) << 96n) | (BigInt(w[2]) << 64n) | (BigInt(w[1]) << 32n) |
          BigInt(w[0]);
        assert.equal(BigInt(got[i]), lo + ((x * (hi - lo)) >> 128n), `${lo}..${hi} element ${i}`);
      }
      d++;
    }
    assert.equal(g.draws, d);
  });
  await t.step("element i does not depend on the shape of the draw", () => {
    const a = new Generator(9).rand([10]).dataSync();
    const b = new Generator(9).rand([2, 5]).dataSync();
    const c = new Generator(9).rand([4]).dataSync();
    assert.deepEqual(b, a);
    assert.deepEqual(c, a.slice(0, 4));
  });
});

Deno.test("seeding makes draws reproducible", async (t) => {
  await t.step("seed(n) resets the global stream", () => {
    seed(2024);
    const a = rand([100]).dataSync(),
      b = randn([100]).dataSync(),
      c = randint(0, 9, [100]).dataSync();
    seed(2024);
    assert.deepEqual(rand([100]).dataSync(), a);
    assert.deepEqual(randn([100]).dataSync(), b);
    assert.deepEqual(randint(0, 9, [100]).dataSync(), c);
  });
  await t.step("successive draws and different seeds differ", () => {
    seed(1);
    const a = rand([64]).dataSync(), b = rand([64]).dataSync();
    seed(2);
    const c = rand([64]).dataSync();
    assert.notDeepEqual(a, b);
    assert.notDeepEqual(a, c);
    assert.notDeepEqual(
      new Generator(2n ** 32n).rand([8]).dataSync(),
      new Generator(0).rand([8]).dataSync(),
    );
  });
  await t.step("{ seed } draws from a fresh generator and leaves the global stream alone", () => {
    seed(5);
    const first = rand([16]).dataSync();
    seed(5);
    const side = rand([16], { seed: 77 }).dataSync();
    assert.deepEqual(rand([16]).dataSync(), first);
    assert.deepEqual(side, new Generator(77).rand([16]).dataSync());
    assert.deepEqual(randn([4], { seed: 3 }).dataSync(), randn([4], { seed: 3 }).dataSync());
  });
  await t.step("seeds are 64-bit: negatives and bigints wrap modulo 2^64", () => {
    assert.deepEqual(
      new Generator(-1).rand([8]).dataSync(),
      new Generator(2n ** 64n - 1n).rand([8]).dataSync(),
    );
    assert.deepEqual(
      new Generator(2n ** 64n + 3n).rand([8]).dataSync(),
      new Generator(3).rand([8]).dataSync(),
    );
    assert.equal(new Generator(-1).seed, 2n ** 64n - 1n);
  });
  await t.step("a seed that is not an integer is a DTypeError", () => {
    assert.throws(() => seed(1.5), (e: Error) => e instanceof DTypeError && /seed/.test(e.message));
    assert.throws(() => new Generator(2 ** 60), DTypeError);
    assert.throws(() => rand([2], { seed: NaN }), DTypeError);
  });
  await t.step("a call that throws does not advance the stream", () => {
    const g = new Generator(4);
    assert.throws(() => g.rand([2], { dtype: "i32" }), DTypeError);
    assert.throws(() => g.randint(0, 1000, [2], { dtype: "i8" }), DTypeError);
    assert.equal(g.draws, 0);
  });
});

Deno.test({
  name: "distributions agree with scipy.stats on large samples",
  ...needsNumpy,
  async fn(t) {
    const N = 200_000;
    const g = new Generator(31337);
    const samples: [string, Tensor, string][] = [
      ["rand f32", g.rand([N]), "uniform"],
      ["rand f64", g.rand([N], { dtype: "f64" }), "uniform"],
      ["rand f32 (shape 400x500)", g.rand([400, 500]), "uniform"],
      ["randn f32", g.randn([N]), "norm"],
      ["randn f64", g.randn([N], { dtype: "f64" }), "norm"],
      ["randn f64 (seed 1)", new Generator(1).randn([N], { dtype: "f64" }), "norm"],
    ];
    const refs = await numpy(samples.map(([, x, dist]) => ({
      setup: "import scipy.stats",
      expr: `np.array([scipy.stats.kstest(x.ravel().astype(np.float64), '${dist}').pvalue, ` +
        `x.astype(np.float64).mean(), x.astype(np.float64).var(), x.min(), x.max()])`,
      arrays: { x },
    })));
    for (let k = 0; k < samples.length; k++) {
      const [what, , dist] = samples[k];
      await t.step(`${what}: Kolmogorov-Smirnov p > 1e-3, mean and variance in bounds`, () => {
        assert.equal(refs[k].error, undefined, refs[k].error);
        const [p, mean, variance, min, max] = refs[k].results[0].values;
        assert.ok(p > 1e-3, `KS p = ${p}`);
        // 5 standard errors of the mean and of the variance.
        if (dist === "uniform") {
          assert.ok(Math.abs(mean - 0.5) < 5 * Math.sqrt(1 / 12 / N), `mean ${mean}`);
          assert.ok(Math.abs(variance - 1 / 12) < 5 * Math.sqrt(1 / 180 / N), `var ${variance}`);
          assert.ok(min >= 0 && max < 1, `range [${min}, ${max}]`);
        } else {
          assert.ok(Math.abs(mean) < 5 / Math.sqrt(N), `mean ${mean}`);
          assert.ok(Math.abs(variance - 1) < 5 * Math.sqrt(2 / N), `var ${variance}`);
          assert.ok(min > -7 && max < 7, `range [${min}, ${max}]`);
        }
      });
    }

    await t.step("randint: chi-square uniformity over the range, and exact bounds", async () => {
      const ranges: [number, number, DType][] = [
        [-5, 12, "i32"],
        [0, 256, "u8"],
        [-128, 128, "i8"],
        [1000, 1037, "i64"],
        [0, 2, "bool"],
        [-300, -200, "i16"],
      ];
      const draws = ranges.map(([lo, hi, dtype]) => g.randint(lo, hi, [N], { dtype }));
      const r = await numpy(draws.map((x, k) => ({
        setup: "import scipy.stats",
        expr: `np.array([scipy.stats.chisquare(np.bincount(x.astype(np.int64) - lo, ` +
          `minlength=hi - lo)).pvalue, x.min(), x.max(), np.bincount(x.astype(np.int64) - lo).size])`,
        arrays: { x },
        scalars: { lo: ranges[k][0], hi: ranges[k][1] },
      })));
      for (let k = 0; k < ranges.length; k++) {
        const [lo, hi, dtype] = ranges[k];
        assert.equal(r[k].error, undefined, r[k].error);
        const [p, min, max, bins] = r[k].results[0].values;
        assert.equal(draws[k].dtype, dtype);
        assert.ok(p > 1e-3, `${dtype} [${lo}, ${hi}): chi-square p = ${p}`);
        assert.equal(min, lo);
        assert.equal(max, hi - 1);
        assert.equal(bins, hi - lo);
      }
    });

    await t.step(
      "draws from different seeds and neighbouring elements are uncorrelated",
      async () => {
        const a = new Generator(10).randn([N], { dtype: "f64" });
        const b = new Generator(11).randn([N], { dtype: "f64" });
        const r = await numpy([{
          expr: "np.array([np.corrcoef(a, b)[0, 1], np.corrcoef(a[1:], a[:-1])[0, 1]])",
          arrays: { a, b },
        }]);
        const [cross, lag] = r[0].results[0].values;
        assert.ok(Math.abs(cross) < 5 / Math.sqrt(N), `cross-seed correlation ${cross}`);
        assert.ok(Math.abs(lag) < 5 / Math.sqrt(N), `lag-1 correlation ${lag}`);
        a.dispose();
        b.dispose();
      },
    );
    for (const [, x] of samples) x.dispose();
  },
});

Deno.test("dtypes of random draws", async (t) => {
  const g = new Generator(8);
  await t.step("rand in f16 and bf16 stays in [0, 1) on the dtype's grid", () => {
    for (const [dtype, bits] of [["f16", 11], ["bf16", 8]] as const) {
      const x = toF64(g.rand([20000], { dtype }));
      let sum = 0;
      for (const v of x) {
        assert.ok(v >= 0 && v < 1, `${dtype} value ${v}`);
        assert.ok(
          Number.isInteger(v * 2 ** bits),
          `${dtype} value ${v} is off the 2^-${bits} grid`,
        );
        sum += v;
      }
      const mean = sum / x.length;
      assert.ok(Math.abs(mean - (0.5 - 2 ** -(bits + 1))) < 0.01, `${dtype} mean ${mean}`);
    }
  });
  await t.step("randn in f16 and bf16 is the f64 normal rounded to the dtype", () => {
    for (const dtype of ["f16", "bf16", "f32"] as const) {
      const low = toF64(new Generator(3).randn([500], { dtype }));
      const ref = new Generator(3).randn([500], { dtype: "f64" }).dataSync() as Float64Array;
      const rtol = { f16: 2 ** -11, bf16: 2 ** -8, f32: 2 ** -24 }[dtype];
      for (let i = 0; i < ref.length; i++) {
        assert.ok(Math.abs(low[i] - ref[i]) <= rtol * Math.abs(ref[i]) + 1e-30, `${dtype} ${i}`);
      }
    }
  });
  await t.step("randint fills every integer dtype, i64 across its whole range", () => {
    for (const dtype of ["i8", "u8", "i16", "u16", "i32", "u32", "i64", "bool"] as DType[]) {
      const t = g.randint(0, 2, [10], { dtype });
      assert.equal(t.dtype, dtype);
      assert.ok(toF64(t).every((v) => v === 0 || v === 1));
    }
    const full = g.randint(-(2n ** 63n), 2n ** 63n, [4000], { dtype: "i64" })
      .dataSync() as BigInt64Array;
    const neg = full.filter((v) => v < 0n).length;
    assert.ok(neg > 1800 && neg < 2200, `negatives ${neg}/4000`);
    assert.ok(full.some((v) => v > 2n ** 62n) && full.some((v) => v < -(2n ** 62n)));
    const u = g.randint(0, 2 ** 32, [4000], { dtype: "u32" }).dataSync() as Uint32Array;
    assert.ok(u.some((v) => v > 2 ** 31) && u.some((v) => v < 2 ** 31));
  });
  await t.step("0-d and empty shapes", () => {
    assert.deepEqual(g.rand([]).shape, []);
    assert.equal(g.randn([0, 3]).size, 0);
    assert.equal(g.randint(0, 5, [2, 0]).size, 0);
  });
  await t.step("device option: cpu works, an unknown device is a DeviceError", () => {
    assert.equal(rand([2], { device: "cpu" }).device, "cpu");
    assert.throws(() => rand([2], { device: "nowhere" }), DeviceError);
  });
});

Deno.test("random argument errors are typed and say what to do", async (t) => {
  await t.step("rand/randn need a float dtype", () => {
    assert.throws(
      () => rand([2], { dtype: "i32" }),
      (e: Error) => e instanceof DTypeError && /float/.test(e.message),
    );
    assert.throws(() => randn([2], { dtype: "bool" }), DTypeError);
    assert.throws(() => rand([2], { dtype: "float32" as DType }), DTypeError);
  });
  await t.step("randint needs an integer dtype that holds the range", () => {
    assert.throws(() => randint(0, 5, [2], { dtype: "f32" }), DTypeError);
    assert.throws(
      () => randint(0, 300, [2], { dtype: "i8" }),
      (e: Error) => e instanceof DTypeError && /i8/.test(e.message) && /\[0, 300\)/.test(e.message),
    );
    assert.throws(() => randint(-1, 5, [2], { dtype: "u8" }), DTypeError);
    assert.throws(() => randint(0, 2 ** 31 + 1, [2]), DTypeError);
    assert.throws(() => randint(0, 3, [2], { dtype: "bool" }), DTypeError);
    assert.throws(() => randint(-(2n ** 63n) - 1n, 0n, [2], { dtype: "i64" }), DTypeError);
  });
  await t.step("randint bounds must be integers with low < high", () => {
    assert.throws(() => randint(0.5, 3, [2]), DTypeError);
    assert.throws(
      () => randint(5, 5, [2]),
      (e: Error) => e instanceof IndexError && /empty/.test(e.message),
    );
    assert.throws(() => randint(6, 5, [2]), IndexError);
  });
  await t.step("bad shapes are ShapeErrors", () => {
    assert.throws(() => rand([-1]), ShapeError);
    assert.throws(() => randn([2.5]), ShapeError);
    assert.throws(() => randint(0, 2, [1, -3]), ShapeError);
  });
});
