/**
 * Creation functions: tensor() from every kind of JS data, filled tensors, ranges and identities
 * against NumPy, for every dtype, and the errors bad arguments give.
 */
import assert from "node:assert/strict";
import {
  ALL_DTYPES,
  arange,
  type DType,
  DTypeError,
  eye,
  full,
  fullLike,
  linspace,
  ones,
  onesLike,
  ShapeError,
  type Tensor,
  tensor,
  zeros,
  zerosLike,
} from "../../mod.ts";
import { fromBF16Bits } from "../../internal.ts";
import { assertMatches, needsNumpy, numpy, toF64 } from "../helpers/numpy.ts";

/** NumPy's name for our dtype (bf16 has none: callers skip it). */
const NP: Record<string, string> = {
  f32: "float32",
  f64: "float64",
  f16: "float16",
  i8: "int8",
  u8: "uint8",
  i16: "int16",
  u16: "uint16",
  i32: "int32",
  u32: "uint32",
  i64: "int64",
  bool: "bool",
};

Deno.test("tensor() builds tensors from JS data", async (t) => {
  await t.step("nested number arrays infer the shape and default to f32", () => {
    const a = tensor([[1, 2, 3], [4, 5, 6]]);
    assert.deepEqual(a.shape, [2, 3]);
    assert.equal(a.dtype, "f32");
    assert.deepEqual(a.toArraySync(), [[1, 2, 3], [4, 5, 6]]);
    assert.deepEqual(tensor([[[1], [2]]]).shape, [1, 2, 1]);
  });
  await t.step("a number or boolean gives a 0-d tensor", () => {
    const s = tensor(2.5);
    assert.deepEqual(s.shape, []);
    assert.equal(s.item(), 2.5);
    assert.equal(tensor(true).dtype, "bool");
    assert.equal(tensor(true).item(), true);
  });
  await t.step("booleans give bool tensors", () => {
    const b = tensor([[true, false], [false, true]]);
    assert.equal(b.dtype, "bool");
    assert.deepEqual(b.toArraySync(), [[true, false], [false, true]]);
  });
  await t.step("bigints give i64 tensors and keep all 64 bits", () => {
    const big = [2n ** 62n + 1n, -(2n ** 63n), 2n ** 63n - 1n];
    const a = tensor(big);
    assert.equal(a.dtype, "i64");
    assert.deepEqual([...(a.dataSync() as BigInt64Array)], big);
    assert.deepEqual([...(tensor([[1n, 2n]]).dataSync() as BigInt64Array)], [1n, 2n]);
    assert.equal(tensor(7n).dtype, "i64");
  });
  await t.step("typed arrays keep their element type", () => {
    const cases: [ArrayLike<number> | BigInt64Array, DType][] = [
      [new Float32Array([1.5, 2]), "f32"],
      [new Float64Array([1.5, 2]), "f64"],
      [new Float16Array([1.5, 2]), "f16"],
      [new Int8Array([-1, 2]), "i8"],
      [new Uint8Array([1, 255]), "u8"],
      [new Uint8ClampedArray([1, 255]), "u8"],
      [new Int16Array([-300, 2]), "i16"],
      [new Uint16Array([1, 60000]), "u16"],
      [new Int32Array([-1, 2 ** 31 - 1]), "i32"],
      [new Uint32Array([1, 2 ** 32 - 1]), "u32"],
      [new BigInt64Array([-1n, 2n]), "i64"],
    ];
    for (const [data, dtype] of cases) {
      const a = tensor(data as never);
      assert.equal(a.dtype, dtype, data.constructor.name);
      assert.deepEqual([...toF64(a)], Array.from(data as ArrayLike<number>, Number));
    }
  });
  await t.step("a flat typed array or list takes the shape option", () => {
    const a = tensor(new Int32Array([1, 2, 3, 4, 5, 6]), { shape: [2, 3] });
    assert.deepEqual(a.shape, [2, 3]);
    assert.deepEqual(a.toArraySync(), [[1, 2, 3], [4, 5, 6]]);
    assert.deepEqual(tensor([1, 2, 3, 4], { shape: [2, 2] }).toArraySync(), [[1, 2], [3, 4]]);
    assert.deepEqual(tensor([5], { shape: [] }).shape, []);
  });
  await t.step("the dtype option converts with NumPy's casts", () => {
    assert.deepEqual(tensor([1.7, -1.7, 300], { dtype: "i32" }).toArraySync(), [1, -1, 300]);
    assert.deepEqual(tensor([0, 2, -1], { dtype: "bool" }).toArraySync(), [false, true, true]);
    assert.deepEqual(tensor([true, false], { dtype: "f64" }).toArraySync(), [1, 0]);
    assert.deepEqual(tensor(new Float64Array([1.5, -2.5]), { dtype: "i16" }).toArraySync(), [
      1,
      -2,
    ]);
    assert.deepEqual(tensor(new BigInt64Array([3n, -4n]), { dtype: "f32" }).toArraySync(), [3, -4]);
    assert.deepEqual(tensor([0.1], { dtype: "f16" }).toArraySync(), [Math.f16round(0.1)]);
    assert.deepEqual(tensor([1, 2.5], { dtype: "i64" }).dataSync(), new BigInt64Array([1n, 2n]));
    assert.deepEqual(tensor(new Uint8Array([0, 7]), { dtype: "bool" }).toArraySync(), [
      false,
      true,
    ]);
  });
  await t.step("bf16 rounds to nearest even; a Uint16Array is taken as raw bf16 bits", () => {
    const a = tensor([1, 0.1, -3.140625], { dtype: "bf16" });
    assert.deepEqual(a.toArraySync(), [1, 0.10009765625, -3.140625]);
    assert.deepEqual(tensor(new Uint16Array([0x3f80, 0xc000]), { dtype: "bf16" }).toArraySync(), [
      1,
      -2,
    ]);
  });
  await t.step("empty nested arrays give empty tensors", () => {
    assert.deepEqual(tensor([]).shape, [0]);
    assert.deepEqual(tensor([[], []]).shape, [2, 0]);
  });
  await t.step("tensor(t) copies a tensor, converting with the dtype option", () => {
    const a = tensor([1, 2]);
    const b = tensor(a);
    const c = tensor(a, { dtype: "i32" });
    a.dispose();
    assert.deepEqual(b.toArraySync(), [1, 2]);
    assert.equal(c.dtype, "i32");
  });
});

Deno.test("filled tensors: zeros, ones, full and the *Like variants", async (t) => {
  await t.step("every dtype", () => {
    for (const dtype of ALL_DTYPES) {
      const z = zeros([2, 3], { dtype }), o = ones([2, 3], { dtype }), f = full([4], 3, { dtype });
      assert.equal(z.dtype, dtype);
      assert.deepEqual([...toF64(z)], [0, 0, 0, 0, 0, 0], dtype);
      assert.deepEqual([...toF64(o)], [1, 1, 1, 1, 1, 1], dtype);
      assert.deepEqual([...toF64(f)], dtype === "bool" ? [1, 1, 1, 1] : [3, 3, 3, 3], dtype);
    }
  });
  await t.step("defaults: f32, or bool for a boolean fill value", () => {
    assert.equal(zeros([1]).dtype, "f32");
    assert.equal(full([2], 1.5).dtype, "f32");
    assert.equal(full([2], true).dtype, "bool");
    assert.deepEqual(full([2], false).toArraySync(), [false, false]);
    assert.deepEqual(zeros([]).shape, []);
    assert.equal(ones([3, 0]).size, 0);
  });
  await t.step("full rounds the value to the dtype", () => {
    assert.deepEqual(full([1], 0.1, { dtype: "f32" }).toArraySync(), [Math.fround(0.1)]);
    assert.deepEqual(full([1], 2.9, { dtype: "i8" }).toArraySync(), [2]);
    assert.deepEqual(full([1], -1, { dtype: "bf16" }).toArraySync(), [-1]);
  });
  await t.step("*Like copy shape, dtype and device unless told otherwise", () => {
    const src = ones([2, 5], { dtype: "i16" });
    for (
      const [like, want] of [[zerosLike(src), 0], [onesLike(src), 1], [
        fullLike(src, 7),
        7,
      ]] as const
    ) {
      assert.deepEqual(like.shape, [2, 5]);
      assert.equal(like.dtype, "i16");
      assert.equal(like.device, src.device);
      assert.ok(toF64(like).every((v) => v === want));
    }
    assert.equal(zerosLike(src, { dtype: "f64" }).dtype, "f64");
    assert.equal(
      fullLike(src, 2.5, { dtype: "f16" }).toArraySync().toString(),
      "2.5,2.5,2.5,2.5,2.5,2.5,2.5,2.5,2.5,2.5",
    );
  });
});

Deno.test({
  name: "ranges and identities match numpy",
  ...needsNumpy,
  async fn(t) {
    // arange(args) vs np.arange(args). Our default dtype is i32 for all-integer arguments and f32
    // otherwise (the library's 32-bit defaults; NumPy gives int64/float64), so dtypes are compared
    // through our own rule below and the values with {dtype: false}.
    const aranges: number[][] = [
      [5],
      [0],
      [-3],
      [2, 9],
      [9, 2],
      [10, 0, -3],
      [-5, 5, 2],
      [0, 1, 0.1],
      [1, 2, 0.25],
      [5, -5, -0.7],
      [0.5, 4],
      [-2.5, 2.5, 0.5],
      [0, 10, 3],
      [1e6, 1e6 + 10, 1.5],
      [3, 3],
      [0, -1, 0.3],
    ];
    const ours = aranges.map((a) => arange(a[0], a[1], a[2]));
    const r = await numpy(aranges.map((a) => ({ expr: `np.arange(*args)`, scalars: { args: a } })));
    await t.step("arange values, ints and floats, positive and negative steps", () => {
      aranges.forEach((a, i) => {
        const ints = a.every(Number.isInteger);
        assert.equal(ours[i].dtype, ints ? "i32" : "f32", JSON.stringify(a));
        assertMatches(
          ours[i],
          r[i].results[0],
          { dtype: false, rtol: 1e-6, atol: 1e-6 },
          `arange${JSON.stringify(a)}`,
        );
      });
    });
    await t.step(
      "arange with an explicit dtype, and i64 when an int range leaves i32",
      async () => {
        const cases: [number[], DType][] = [[[0, 6], "f64"], [[0, 6, 2], "u8"], [
          [1, 4, 0.5],
          "f64",
        ], [[-4, 4], "i8"]];
        const rr = await numpy(
          cases.map(([a, d]) => ({
            expr: `np.arange(*args, dtype='${NP[d]}')`,
            scalars: { args: a },
          })),
        );
        cases.forEach(([a, d], i) =>
          assertMatches(arange(a[0], a[1], a[2], { dtype: d }), rr[i].results[0], {}, `${a} ${d}`)
        );
        const big = arange(2 ** 31 - 2, 2 ** 31 + 2);
        assert.equal(big.dtype, "i64");
        assert.deepEqual(big.toArraySync(), [2 ** 31 - 2, 2 ** 31 - 1, 2 ** 31, 2 ** 31 + 1]);
        assert.equal(arange(0, 3e9, 1e9).dtype, "i32"); // last value 2e9 fits
        assert.equal(arange(0, 4e9, 1e9).dtype, "i64");
        assert.equal(arange(0, -4e9, -1e9).dtype, "i64");
      },
    );

    const spaces: [number, number, number, boolean][] = [
      [0, 1, 5, true],
      [0, 1, 5, false],
      [-3, 7, 50, true],
      [2, -2, 7, true],
      [2, -2, 7, false],
      [1, 1, 4, true],
      [0, 1, 1, true],
      [0, 1, 1, false],
      [0, 1, 0, true],
      [1e-3, 1e3, 33, false],
      [-1.5, 0.25, 101, true],
    ];
    const rs = await numpy(spaces.map(([a, b, n, e]) => ({
      expr: `np.linspace(${a}, ${b}, ${n}, endpoint=${e ? "True" : "False"})`,
    })));
    await t.step("linspace with and without the endpoint (f32; numpy computes in f64)", () => {
      spaces.forEach(([a, b, n, endpoint], i) => {
        const x = linspace(a, b, n, { endpoint });
        assert.equal(x.dtype, "f32");
        assertMatches(
          x,
          rs[i].results[0],
          { dtype: false, rtol: 1e-6, atol: 1e-7 },
          `linspace ${spaces[i]}`,
        );
      });
      spaces.forEach(([a, b, n, endpoint], i) => {
        const x = linspace(a, b, n, { endpoint, dtype: "f64" });
        assertMatches(
          x,
          rs[i].results[0],
          { rtol: 1e-15, atol: 1e-15 },
          `linspace f64 ${spaces[i]}`,
        );
      });
    });

    const eyes: [number, number | undefined, number][] = [
      [3, undefined, 0],
      [3, 5, 0],
      [5, 3, 1],
      [4, 4, -2],
      [2, 6, 4],
      [3, 3, 5],
      [3, 3, -5],
      [0, 2, 0],
      [1, 1, 0],
    ];
    const re = await numpy(
      eyes.map(([n, m, k]) => ({ expr: `np.eye(${n}, ${m ?? "None"}, k=${k})` })),
    );
    await t.step("eye(n, m, k) like np.eye (f32 here, float64 there)", () => {
      eyes.forEach(([n, m, k], i) => {
        const x = eye(n, m, { k });
        assert.equal(x.dtype, "f32");
        assertMatches(x, re[i].results[0], { dtype: false }, `eye(${n}, ${m}, k=${k})`);
      });
    });

    await t.step("every dtype NumPy has, dtype for dtype", async () => {
      const dts = ALL_DTYPES.filter((d) => d !== "bf16");
      const made: [Tensor, string][] = [];
      for (const d of dts) {
        made.push([zeros([2, 3], { dtype: d }), `np.zeros((2, 3), dtype='${NP[d]}')`]);
        made.push([ones([4], { dtype: d }), `np.ones(4, dtype='${NP[d]}')`]);
        made.push([full([2, 2], 5, { dtype: d }), `np.full((2, 2), 5, dtype='${NP[d]}')`]);
        made.push([eye(3, 4, { k: 1, dtype: d }), `np.eye(3, 4, k=1, dtype='${NP[d]}')`]);
        if (d !== "bool") {
          made.push([arange(0, 7, 2, { dtype: d }), `np.arange(0, 7, 2, dtype='${NP[d]}')`]);
          made.push([linspace(0, 12, 4, { dtype: d }), `np.linspace(0, 12, 4, dtype='${NP[d]}')`]);
          made.push([
            tensor([[1, 2], [3, 4]], { dtype: d }),
            `np.array([[1, 2], [3, 4]], dtype='${NP[d]}')`,
          ]);
        }
      }
      const rd = await numpy(made.map(([, expr]) => ({ expr })));
      made.forEach(([x, expr], i) => {
        assert.equal(rd[i].error, undefined, `${expr}: ${rd[i].error}`);
        assertMatches(x, rd[i].results[0], {}, expr);
      });
    });
    await t.step("bf16 (absent from NumPy) holds the same values", () => {
      const b = arange(0, 4, 1, { dtype: "bf16" });
      assert.deepEqual(Array.from(b.dataSync() as Uint16Array, fromBF16Bits), [0, 1, 2, 3]);
      assert.deepEqual(eye(2, 2, { dtype: "bf16" }).toArraySync(), [[1, 0], [0, 1]]);
      assert.deepEqual(linspace(0, 1, 3, { dtype: "bf16" }).toArraySync(), [0, 0.5, 1]);
    });
  },
});

Deno.test("creation errors are typed and name the problem", async (t) => {
  await t.step("ragged nested arrays are ShapeErrors naming the element path", () => {
    assert.throws(
      () => tensor([[1, 2], [3]]),
      (e: Error) =>
        e instanceof ShapeError && /\[1\]/.test(e.message) && /length 1/.test(e.message),
    );
    assert.throws(
      () => tensor([[[1, 2], [3, 4]], [[5, 6], [7]]]),
      (e: Error) => e instanceof ShapeError && /\[1, 1\]/.test(e.message),
    );
    assert.throws(
      () => tensor([[1, 2], 3] as never),
      (e: Error) => e instanceof ShapeError && /\[1\]/.test(e.message),
    );
    assert.throws(
      () => tensor([1, [2]] as never),
      (e: Error) =>
        e instanceof ShapeError && /\[1\]/.test(e.message) && /an array/.test(e.message),
    );
    assert.throws(
      () => tensor(["a"] as never),
      (e: Error) => e instanceof ShapeError && /string/.test(e.message),
    );
  });
  await t.step("bad shapes are ShapeErrors", () => {
    assert.throws(
      () => zeros([2, -1]),
      (e: Error) => e instanceof ShapeError && /-1/.test(e.message),
    );
    assert.throws(() => ones([1.5]), ShapeError);
    assert.throws(() => full([NaN], 1), ShapeError);
    assert.throws(() => tensor([1, 2], { shape: [-2] }), ShapeError);
    assert.throws(() => eye(-1), ShapeError);
    assert.throws(() => eye(2, 2, { k: 0.5 }), ShapeError);
    assert.throws(() => linspace(0, 1, -1), ShapeError);
    assert.throws(() => linspace(0, 1, 2.5), ShapeError);
  });
  await t.step("data that does not fill the shape is a ShapeError", () => {
    assert.throws(
      () => tensor([1, 2, 3], { shape: [2, 2] }),
      (e: Error) =>
        e instanceof ShapeError && /3 values/.test(e.message) && /\(2, 2\)/.test(e.message),
    );
    assert.throws(() => tensor(new Float32Array(5), { shape: [2, 3] }), ShapeError);
  });
  await t.step("unknown dtypes are DTypeErrors listing the valid ones", () => {
    for (
      const make of [
        () => tensor([1], { dtype: "float32" as DType }),
        () => zeros([1], { dtype: "int" as DType }),
        () => ones([1], { dtype: "x" as DType }),
        () => full([1], 0, { dtype: "f128" as DType }),
        () => arange(3, undefined, 1, { dtype: "i128" as DType }),
        () => linspace(0, 1, 3, { dtype: "double" as DType }),
        () => eye(2, 2, { dtype: "" as DType }),
      ]
    ) {
      assert.throws(make, (e: Error) => e instanceof DTypeError && /f32, f64/.test(e.message));
    }
    assert.throws(() => full([1], "3" as never), DTypeError);
    assert.throws(() => tensor(new DataView(new ArrayBuffer(4)) as never), Error);
  });
  await t.step("arange rejects a zero step and non-finite bounds", () => {
    assert.throws(
      () => arange(0, 5, 0),
      (e: Error) => e instanceof ShapeError && /step/.test(e.message),
    );
    assert.throws(() => arange(0, Infinity), ShapeError);
    assert.throws(() => arange(NaN), ShapeError);
  });
});
