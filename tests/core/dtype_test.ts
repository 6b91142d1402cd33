import assert from "node:assert/strict";
import {
  ALL_DTYPES,
  type DType,
  DTypeError,
  DTYPES,
  finfo,
  iinfo,
  isDType,
  isFloat,
  isInt,
  promoteTypes,
  resultType,
  tensor,
} from "../../mod.ts";
import {
  castNumber,
  checkDType,
  floatResult,
  fromBF16Bits,
  scalarPromote,
  toBF16Bits,
} from "../../internal.ts";
import { assertMatches, needsNumpy, npName, numpy, type RefCase } from "../helpers/numpy.ts";

/** Every dtype NumPy has (all but bf16). */
const NP_DTYPES = ALL_DTYPES.filter((d) => DTYPES[d].numpy !== null);

/** A NumPy expression's result dtype, by evaluating `np.zeros(0, <dtype expr>)`. */
async function numpyDtypes(exprs: string[]): Promise<string[]> {
  const refs = await numpy(exprs.map((e): RefCase => ({ expr: `np.zeros(0, ${e})` })));
  return refs.map((r, i) => {
    assert.ok(!r.error, `${exprs[i]}: ${r.error}`);
    return r.results[0].dtype;
  });
}

Deno.test("promoteTypes equals np.promote_types for every pair of numpy dtypes", {
  ...needsNumpy,
}, async () => {
  const pairs = NP_DTYPES.flatMap((a) => NP_DTYPES.map((b) => [a, b] as const));
  const want = await numpyDtypes(
    pairs.map(([a, b]) => `np.promote_types('${DTYPES[a].numpy}', '${DTYPES[b].numpy}')`),
  );
  pairs.forEach(([a, b], i) => assert.equal(promoteTypes(a, b), want[i], `${a}, ${b}`));
  assert.equal(pairs.length, 121);
});

Deno.test("floatResult equals the dtype of numpy's exp for every numpy dtype", {
  ...needsNumpy,
}, async () => {
  const want = await numpyDtypes(
    NP_DTYPES.map((d) => `np.exp(np.zeros(1, '${DTYPES[d].numpy}')).dtype`),
  );
  NP_DTYPES.forEach((d, i) => assert.equal(floatResult(d), want[i], d));
  assert.equal(floatResult("bf16"), "bf16");
});

Deno.test("resultType folds promotion like np.result_type over arrays", {
  ...needsNumpy,
}, async () => {
  const lists: DType[][] = [
    ["i8", "u8", "f16"],
    ["bool", "u16", "i8"],
    ["u32", "i16", "f32"],
    ["u8", "u16", "u32", "i8"],
    ["f16", "i16"],
    ["bool"],
  ];
  const want = await numpyDtypes(
    lists.map((l) =>
      `np.result_type(${l.map((d) => `np.zeros(1, '${DTYPES[d].numpy}')`).join(", ")})`
    ),
  );
  lists.forEach((l, i) => assert.equal(resultType(...l), want[i], l.join(", ")));
  assert.throws(() => resultType(), DTypeError);
});

Deno.test("bf16 promotes like ml_dtypes' bfloat16", () => {
  // NumPy has no bf16; ml_dtypes' rules: bf16 holds every 8-bit int and bool, not f16.
  const table: [DType, DType][] = [
    ["bf16", "bf16"],
    ["f16", "f32"],
    ["f32", "f32"],
    ["f64", "f64"],
    ["bool", "bf16"],
    ["i8", "bf16"],
    ["u8", "bf16"],
    ["i16", "f32"],
    ["u16", "f32"],
    ["i32", "f64"],
    ["u32", "f64"],
    ["i64", "f64"],
  ];
  for (const [other, want] of table) {
    assert.equal(promoteTypes("bf16", other), want, `bf16, ${other}`);
    assert.equal(promoteTypes(other, "bf16"), want, `${other}, bf16`);
  }
});

Deno.test("scalarPromote follows NEP 50 weak scalars, with an f32/i32 default", {
  ...needsNumpy,
}, async () => {
  // Where NumPy's weak Python scalars agree with ours, compare directly.
  const agree: [DType, number | boolean][] = [];
  for (const d of NP_DTYPES) {
    agree.push([d, true]);
    if (isFloat(d)) agree.push([d, 2.5], [d, 3]);
    if (isInt(d)) agree.push([d, 3]);
  }
  const arrays = agree.map(([d]) => tensor([1], { dtype: d }));
  const refs = await numpy(agree.map(([, s], i) => ({
    expr: "np.add(a, s)",
    arrays: { a: arrays[i] },
    scalars: { s },
  })));
  arrays.forEach((a) => a.dispose());
  agree.forEach(([d, s], i) =>
    assert.equal(scalarPromote(d, s), refs[i].results[0].dtype, `${d}, ${s}`)
  );
  // Deliberate difference: NumPy gives float64 / int64 (its defaults), we give f32 / i32.
  for (const d of NP_DTYPES.filter((x) => !isFloat(x))) assert.equal(scalarPromote(d, 2.5), "f32");
  assert.equal(scalarPromote("bool", 3), "i32");
  assert.equal(scalarPromote("bf16", 2.5), "bf16");
  assert.equal(scalarPromote("i8", NaN), "f32");
});

Deno.test("castNumber rounds and wraps like numpy's astype for in-range values", {
  ...needsNumpy,
}, async () => {
  const values = [0, -0, 0.1, 1 / 3, -2.5, 65504, 65520, 1e-8, 3.999, -7.5, 100, 255, -128, 1e40];
  const cases: [DType, number[]][] = [
    ["f32", values],
    ["f16", values],
    ["f64", values],
    ["bool", [0, -0, 0.5, -3, NaN]],
    ["i8", [0, 1.9, -1.9, 127, -128]],
    ["u8", [0, 3.7, 255]],
    ["i16", [-32768, 32767, 12.5]],
    ["u16", [0, 65535]],
    ["i32", [-2147483648, 2147483647, -0.5]],
    ["u32", [0, 4294967295]],
    ["i64", [-(2 ** 53), 2 ** 53, -3.5]],
  ];
  const refs = await numpy(cases.map(([d, v]) => ({
    expr: `np.array(v, dtype=np.float64).astype('${DTYPES[d].numpy}')`,
    scalars: { v },
  })));
  cases.forEach(([d, v], i) => {
    const ours = tensor(v.map((x) => castNumber(x, d)), { dtype: "f64" });
    assertMatches(ours, refs[i].results[0], { dtype: false, rtol: 0, atol: 0 }, d);
    ours.dispose();
  });
});

Deno.test("bf16 bits round to nearest even and keep NaN quiet", () => {
  assert.equal(fromBF16Bits(toBF16Bits(1)), 1);
  assert.equal(fromBF16Bits(toBF16Bits(1 + 2 ** -8)), 1); // tie → even mantissa
  assert.equal(fromBF16Bits(toBF16Bits(1 + 3 * 2 ** -8)), 1 + 2 ** -6); // tie → even (up)
  assert.equal(fromBF16Bits(toBF16Bits(1 + 2 ** -8 + 2 ** -12)), 1 + 2 ** -7); // above tie → up
  assert.equal(fromBF16Bits(toBF16Bits(-Infinity)), -Infinity);
  assert.ok(Number.isNaN(fromBF16Bits(toBF16Bits(NaN))));
  assert.equal(castNumber(1 + 2 ** -8, "bf16"), 1);
  assert.equal(castNumber(3e38, "f16"), Infinity);
  assert.equal(castNumber(300, "u8"), 44);
  assert.equal(castNumber(200, "i8"), -56);
});

Deno.test("dtype names are checked with a DTypeError listing the valid ones", () => {
  assert.ok(isDType("f32") && isDType("bool"));
  assert.ok(!isDType("float32") && !isDType(3) && !isDType("toString"));
  assert.throws(
    () => checkDType("float32", "zeros"),
    (e: Error) =>
      e instanceof DTypeError && /zeros/.test(e.message) && /"float32"/.test(e.message) &&
      /bf16/.test(e.message),
  );
  assert.deepEqual(ALL_DTYPES.length, 12);
  for (const d of ALL_DTYPES) assert.equal(DTYPES[d].bits, DTYPES[d].bytes * 8);
});

const FINFO_FIELDS = [
  "bits",
  "eps",
  "epsneg",
  "max",
  "min",
  "tiny",
  "smallest_normal",
  "smallest_subnormal",
  "precision",
  "resolution",
  "nexp",
  "nmant",
  "maxexp",
  "minexp",
  "machep",
  "negep",
] as const;

Deno.test("finfo equals np.finfo (ml_dtypes.finfo for bf16), field by field", {
  ...needsNumpy,
}, async () => {
  const floats: DType[] = ["f16", "bf16", "f32", "f64"];
  const refs = await numpy(
    floats.map((d) => ({
      setup: "import ml_dtypes" +
        (d === "bf16"
          ? "\nfi = ml_dtypes.finfo(ml_dtypes.bfloat16)"
          : `\nfi = np.finfo(np.${npName(d)})`),
      expr: `np.array([float(getattr(fi, k)) for k in fields], dtype=np.float64)`,
      scalars: { fields: [...FINFO_FIELDS] },
    })),
  );
  floats.forEach((d, i) => {
    assert.ok(!refs[i].error, refs[i].error);
    const f = finfo(d);
    const ours: Record<string, number> = {
      ...f,
      smallest_normal: f.smallestNormal,
      smallest_subnormal: f.smallestSubnormal,
    } as unknown as Record<string, number>;
    FINFO_FIELDS.forEach((k, j) => {
      assert.equal(ours[k], refs[i].results[0].values[j], `${d}.${k}`);
    });
  });
  assert.equal(finfo("f16").max, 65504);
  assert.equal(finfo("f32").eps, 2 ** -23);
  assert.throws(
    () => finfo("i32"),
    (e: Error) => e instanceof DTypeError && /iinfo/.test(e.message),
  );
  assert.throws(() => finfo("q4_0"), /q4_0 is a block-quantized storage type/);
});

Deno.test("iinfo equals np.iinfo exactly (i64 limits as bigints)", { ...needsNumpy }, async () => {
  const ints = ALL_DTYPES.filter(isInt);
  // Exact through float64: each limit as two 32-bit halves.
  const refs = await numpy(ints.map((d) => ({
    setup: `ii = np.iinfo(np.${npName(d)})`,
    expr: "np.array([ii.bits, ii.min >> 32, ii.min & 0xffffffff, ii.max >> 32, " +
      "ii.max & 0xffffffff], dtype=np.float64)",
  })));
  ints.forEach((d, i) => {
    assert.ok(!refs[i].error, refs[i].error);
    const [bits, minHi, minLo, maxHi, maxLo] = refs[i].results[0].values;
    const big = (hi: number, lo: number) => (BigInt(hi) << 32n) + BigInt(lo);
    const ii = iinfo(d);
    assert.equal(ii.bits, bits, d);
    assert.equal(ii.min, big(minHi, minLo), `${d}.min`);
    assert.equal(ii.max, big(maxHi, maxLo), `${d}.max`);
  });
  assert.equal(ints.length, 7);
  assert.throws(
    () => iinfo("f32"),
    (e: Error) => e instanceof DTypeError && /finfo/.test(e.message),
  );
  assert.throws(() => iinfo("bool"), DTypeError); // as NumPy
});
