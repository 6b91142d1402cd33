/**
 * matmul, dot, outer and einsum against NumPy (np.matmul, np.dot, np.outer, np.einsum).
 *
 * Tolerances: our scalar kernels accumulate floats in float64 and round once, while NumPy's BLAS
 * and einsum loops accumulate f32 in f32. So f32 results use rtol 1e-5 plus atol 1e-5·k (k = the
 * number of summed terms) for sums that cancel to near 0; f64 uses rtol 1e-12, atol 1e-12·k;
 * f16 uses rtol 2e-3 (about one f16 ulp: NumPy accumulates f16 in f32 and rounds once, as we do
 * from float64) and atol 2e-3·k; bf16 (NumPy computes it in f32) rtol 1e-2, atol 1e-2·k with the
 * dtype check off. Integer and bool results must match exactly, overflow wrap-around included.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  dot,
  type DType,
  einsum,
  matmul,
  memory,
  outer,
  ShapeError,
  type Tensor,
  tensor,
} from "../../mod.ts";
import { assertMatches, needsNumpy, numpy, type Tolerance } from "../helpers/numpy.ts";
import { arbBroadcastPair, FC_PARAMS, type Layout, LAYOUTS, makeTensor } from "../helpers/gen.ts";

const DTYPE_PAIRS: [DType, DType][] = [
  ["f32", "f32"],
  ["f32", "f32"],
  ["f64", "f64"],
  ["f32", "f64"],
  ["i32", "f32"],
  ["i8", "i8"],
  ["bool", "bool"],
  ["f16", "f16"],
  ["i32", "i32"],
  ["u8", "i8"],
  ["i64", "i64"],
  ["u32", "u16"],
  ["bool", "f32"],
  ["bf16", "bf16"],
];

/** Tolerance for a result of dtype `d` summing `k` products. */
function tolFor(d: DType, k: number): Tolerance {
  const kk = Math.max(1, k);
  switch (d) {
    case "f32":
      return { rtol: 1e-5, atol: 1e-5 * kk };
    case "f64":
      return { rtol: 1e-12, atol: 1e-12 * kk };
    case "f16":
      return { rtol: 2e-3, atol: 2e-3 * kk };
    case "bf16":
      return { rtol: 1e-2, atol: 1e-2 * kk, dtype: false };
    default:
      return { rtol: 0, atol: 0 };
  }
}

function disposeAll(ts: Tensor[]): void {
  for (const t of ts) t.dispose();
}

interface MatCase {
  a: Tensor;
  b: Tensor;
  k: number;
  label: string;
}

Deno.test("matmul matches np.matmul", { ...needsNumpy }, async (t) => {
  await t.step("random batch-broadcast shapes, 1-D operands, layouts and dtype mixes", async () => {
    const arb = fc.tuple(
      arbBroadcastPair({ maxRank: 2, maxDim: 3 }),
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 1, max: 9 }),
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 0, max: 5 }), // 0: a is 1-D, 1: b is 1-D, 2: both, else matrices
      fc.constantFrom(...LAYOUTS),
      fc.constantFrom(...LAYOUTS),
      fc.integer({ min: 0, max: DTYPE_PAIRS.length - 1 }),
    );
    const samples = fc.sample(arb, { seed: FC_PARAMS.seed, numRuns: 160 });
    const cases: MatCase[] = samples.map(([[ba, bb], m, k, n, vec, la, lb, di], i) => {
      const [da, db] = DTYPE_PAIRS[di];
      const sa = vec === 0 || vec === 2 ? [k] : [...ba, m, k];
      const sb = vec === 1 || vec === 2 ? [k] : [...bb, k, n];
      return {
        a: makeTensor(sa, da, 2 * i + 1, la),
        b: makeTensor(sb, db, 2 * i + 2, lb),
        k,
        label: `${da}${JSON.stringify(sa)} ${la} @ ${db}${JSON.stringify(sb)} ${lb}`,
      };
    });
    // Every batch-broadcast combination up to rank 4, all four layouts.
    const batches = [[], [1], [3], [2, 1], [1, 3], [2, 3]];
    let seed = 1000;
    for (const ba of batches) {
      for (const bb of batches) {
        const bc = broadcastable(ba, bb);
        if (!bc) continue;
        const la = LAYOUTS[seed % 4], lb = LAYOUTS[(seed >> 2) % 4];
        cases.push({
          a: makeTensor([...ba, 2, 5], "f32", seed++, la),
          b: makeTensor([...bb, 5, 3], "f32", seed++, lb),
          k: 5,
          label: `f32 ${JSON.stringify(ba)} vs ${JSON.stringify(bb)} batches (${la}, ${lb})`,
        });
      }
    }
    const refs = await numpy(
      cases.map((c) => ({ expr: "np.matmul(a, b)", arrays: { a: c.a, b: c.b } })),
    );
    cases.forEach((c, i) => {
      const got = matmul(c.a, c.b);
      assert.equal(refs[i].error, undefined, c.label);
      assertMatches(got, refs[i].results[0], tolFor(got.dtype, c.k), c.label);
      disposeAll([got, c.a, c.b]);
    });
  });

  await t.step("(2,1,3,4) @ (5,4,6) broadcasts to (2,5,3,6); large and empty shapes", async () => {
    const cases: MatCase[] = [
      { a: makeTensor([2, 1, 3, 4], "f32", 1), b: makeTensor([5, 4, 6], "f32", 2), k: 4 },
      { a: makeTensor([64, 130], "f32", 3), b: makeTensor([130, 47], "f32", 4), k: 130 },
      {
        a: makeTensor([33, 70], "f32", 5, "transposed"),
        b: makeTensor([70, 20], "f32", 6, "strided"),
        k: 70,
      },
      { a: makeTensor([40, 67], "f64", 7), b: makeTensor([67, 9], "f64", 8, "transposed"), k: 67 },
      { a: makeTensor([3, 0], "f32", 9), b: makeTensor([0, 4], "f32", 10), k: 0 },
      { a: makeTensor([0, 2, 3], "f32", 11), b: makeTensor([3, 4], "f32", 12), k: 3 },
      { a: makeTensor([2, 3], "i32", 13), b: makeTensor([3, 0], "i32", 14), k: 3 },
      { a: makeTensor([0], "f32", 15), b: makeTensor([0], "f32", 16), k: 0 },
      { a: makeTensor([4], "f32", 17), b: makeTensor([4], "f32", 18), k: 4 },
      { a: makeTensor([20, 30], "f16", 19), b: makeTensor([30, 10], "f16", 20), k: 30 },
    ].map((c) => ({ ...c, label: `${c.a.dtype}${JSON.stringify(c.a.shape)} @ ${c.b.shape}` }));
    const refs = await numpy(
      cases.map((c) => ({ expr: "np.matmul(a, b)", arrays: { a: c.a, b: c.b } })),
    );
    cases.forEach((c, i) => {
      const got = matmul(c.a, c.b);
      assertMatches(got, refs[i].results[0], tolFor(got.dtype, c.k), c.label);
      disposeAll([got, c.a, c.b]);
    });
  });

  await t.step("integer overflow wraps like numpy (i8, i32, u32, u8×i8)", async () => {
    const cases = [
      {
        a: tensor([[100, 100, 100]], { dtype: "i8" }),
        b: tensor([[3], [2], [1]], { dtype: "i8" }),
      },
      {
        a: tensor([[2 ** 30, 2 ** 30 - 7, -(2 ** 30)]], { dtype: "i32" }),
        b: tensor([[3], [5], [-7]], { dtype: "i32" }),
      },
      {
        a: tensor([[4e9, 3e9, 123456789]], { dtype: "u32" }),
        b: tensor([[4e9], [7], [4e9]], { dtype: "u32" }),
      },
      { a: tensor([[250, 200]], { dtype: "u8" }), b: tensor([[-128], [127]], { dtype: "i8" }) },
    ];
    const refs = await numpy(
      cases.map((c) => ({ expr: "np.matmul(a, b)", arrays: { a: c.a, b: c.b } })),
    );
    cases.forEach((c, i) => {
      const got = matmul(c.a, c.b);
      assertMatches(got, refs[i].results[0], { rtol: 0, atol: 0 }, `case ${i}`);
      disposeAll([got, c.a, c.b]);
    });
  });
});

function broadcastable(x: number[], y: number[]): boolean {
  for (let i = 1; i <= Math.min(x.length, y.length); i++) {
    const p = x[x.length - i], q = y[y.length - i];
    if (p !== q && p !== 1 && q !== 1) return false;
  }
  return true;
}

Deno.test("matmul rejects bad shapes with ShapeError", () => {
  const a = makeTensor([3, 4], "f32", 1), b = makeTensor([5, 6], "f32", 2);
  assert.throws(() => matmul(a, b), (e: Error) => {
    assert.ok(e instanceof ShapeError);
    assert.match(e.message, /^matmul: \(3, 4\) @ \(5, 6\): inner dimensions do not match/);
    assert.match(e.message, /\(4 ≠ 5\)/);
    assert.match(e.message, /Did you mean to transpose one of the tensors\?/);
    return true;
  });
  const s = tensor(2);
  assert.throws(() => matmul(s, a), (e: Error) => e instanceof ShapeError && /0-d/.test(e.message));
  assert.throws(() => matmul(a, s), ShapeError);
  const x = makeTensor([2, 3, 4], "f32", 3), y = makeTensor([3, 4, 5], "f32", 4);
  assert.throws(
    () => matmul(x, y),
    (e: Error) => e instanceof ShapeError && /batch dimensions \(2,\) and \(3,\)/.test(e.message),
  );
  const v = makeTensor([5], "f32", 5);
  assert.throws(() => matmul(a, v), (e: Error) => /\(4 ≠ 5\)/.test(e.message));
  disposeAll([a, b, s, x, y, v]);
});

Deno.test("matmul, dot, outer and einsum free their intermediates", () => {
  const a = makeTensor([2, 3, 4], "f32", 1, "transposed"), b = makeTensor([4], "f32", 2);
  const at = a.slice(0).T, c = makeTensor([3, 4, 2], "f32", 3), s = tensor(2);
  const before = memory().tensors;
  const outs = [
    matmul(a, b),
    matmul(b, at),
    dot(a, c),
    dot(s, a),
    dot(a, 3),
    outer(a, b),
    einsum("ijk,k->ji", a, b),
    einsum("...k,k", a, [1, 2, 3, 4]),
    a.matmul(b),
  ];
  assert.equal(memory().tensors, before + outs.length);
  disposeAll(outs);
  assert.equal(memory().tensors, before);
  assert.throws(() => matmul(a, c));
  assert.throws(() => einsum("ij", a));
  assert.equal(memory().tensors, before);
  disposeAll([a, b, at, c, s]);
});

Deno.test("dot matches np.dot (0-d to 3-d operands)", { ...needsNumpy }, async () => {
  const arb = fc.tuple(
    fc.integer({ min: 0, max: 3 }),
    fc.integer({ min: 0, max: 3 }),
    fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 5, maxLength: 5 }),
    fc.constantFrom(...LAYOUTS),
    fc.constantFrom(...LAYOUTS),
    fc.integer({ min: 0, max: DTYPE_PAIRS.length - 1 }),
  );
  const samples = fc.sample(arb, { seed: FC_PARAMS.seed, numRuns: 80 });
  const cases = samples.map(([ra, rb, dims, la, lb, di], i) => {
    const [da, db] = DTYPE_PAIRS[di];
    const k = dims[0];
    const sa = ra === 0 ? [] : [...dims.slice(1, ra), k];
    const sb = rb === 0 ? [] : rb === 1 ? [k] : [...dims.slice(2, rb), k, dims[4]];
    return {
      a: makeTensor(sa, da, 3 * i + 1, la as Layout),
      b: makeTensor(sb, db, 3 * i + 2, lb as Layout),
      k: ra === 0 || rb === 0 ? 1 : k,
    };
  });
  const refs = await numpy(
    cases.map((c) => ({ expr: "np.dot(a, b)", arrays: { a: c.a, b: c.b } })),
  );
  cases.forEach((c, i) => {
    const label = `dot ${c.a.dtype}${JSON.stringify(c.a.shape)} ${c.b.dtype}${
      JSON.stringify(c.b.shape)
    }`;
    assert.equal(refs[i].error, undefined, label);
    const got = dot(c.a, c.b);
    assertMatches(got, refs[i].results[0], tolFor(got.dtype, c.k), label);
    disposeAll([got, c.a, c.b]);
  });
});

Deno.test("dot takes a JS number as a weak scalar and names shapes in errors", () => {
  const a = tensor([1, 2, 3], { dtype: "f16" });
  const r = dot(2, a);
  assert.equal(r.dtype, "f16");
  assert.deepEqual(r.toArraySync(), [2, 4, 6]);
  const m = makeTensor([2, 3, 4], "f32", 1), n = makeTensor([5, 3, 2], "f32", 2);
  assert.throws(
    () => dot(m, n),
    (e: Error) =>
      e instanceof ShapeError && /\(2, 3, 4\) and \(5, 3, 2\)/.test(e.message) &&
      /transpose/.test(e.message),
  );
  disposeAll([a, r, m, n]);
});

Deno.test("outer matches np.outer (flattens any rank)", { ...needsNumpy }, async () => {
  const arb = fc.tuple(
    fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 3 }),
    fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }),
    fc.constantFrom(...LAYOUTS),
    fc.constantFrom(...LAYOUTS),
    fc.integer({ min: 0, max: DTYPE_PAIRS.length - 1 }),
  );
  const cases = fc.sample(arb, { seed: FC_PARAMS.seed, numRuns: 40 }).map(
    ([sa, sb, la, lb, di], i) => ({
      a: makeTensor(sa, DTYPE_PAIRS[di][0], 2 * i + 1, la),
      b: makeTensor(sb, DTYPE_PAIRS[di][1], 2 * i + 2, lb),
    }),
  );
  const refs = await numpy(
    cases.map((c) => ({ expr: "np.outer(a, b)", arrays: { a: c.a, b: c.b } })),
  );
  cases.forEach((c, i) => {
    const got = outer(c.a, c.b);
    assertMatches(got, refs[i].results[0], tolFor(got.dtype, 1), `outer case ${i}`);
    disposeAll([got, c.a, c.b]);
  });
});

interface EinCase {
  spec: string;
  ops: Tensor[];
  k: number;
}

function einRef(cases: EinCase[]) {
  return numpy(cases.map((c) => ({
    expr: `np.einsum(spec, ${c.ops.map((_, i) => `x${i}`).join(", ")})`,
    arrays: Object.fromEntries(c.ops.map((t, i) => [`x${i}`, t])),
    scalars: { spec: c.spec },
  })));
}

function checkEin(cases: EinCase[], refs: Awaited<ReturnType<typeof einRef>>): void {
  cases.forEach((c, i) => {
    const label = `einsum("${c.spec}") on ${
      c.ops.map((t) => `${t.dtype}${JSON.stringify(t.shape)}`).join(", ")
    }`;
    assert.equal(refs[i].error, undefined, `${label}: numpy raised ${refs[i].error}`);
    const got = einsum(c.spec, ...c.ops);
    assertMatches(got, refs[i].results[0], tolFor(got.dtype, c.k), label);
    disposeAll([got, ...c.ops]);
  });
}

Deno.test("einsum matches np.einsum", { ...needsNumpy }, async (t) => {
  await t.step("named contractions, diagonals, traces, ellipsis and implicit output", async () => {
    const T = (shape: number[], seed: number, layout: Layout = "contiguous", d: DType = "f32") =>
      makeTensor(shape, d, seed, layout);
    const cases: EinCase[] = [
      { spec: "ij,jk->ik", ops: [T([3, 4], 1), T([4, 5], 2, "transposed")], k: 4 },
      { spec: "bij,bjk->bik", ops: [T([2, 3, 4], 3), T([2, 4, 5], 4, "strided")], k: 4 },
      { spec: "ii->i", ops: [T([4, 4], 5)], k: 1 },
      { spec: "ii->", ops: [T([4, 4], 6, "transposed")], k: 4 },
      { spec: "ii", ops: [T([3, 3], 7)], k: 3 },
      { spec: "ij->ji", ops: [T([2, 3], 8)], k: 1 },
      { spec: "ij->", ops: [T([2, 3], 9, "expanded")], k: 6 },
      { spec: "i,i->", ops: [T([5], 10), T([5], 11)], k: 5 },
      { spec: "i,j->ij", ops: [T([2], 12), T([3], 13)], k: 1 },
      { spec: "ij,jk", ops: [T([3, 4], 14), T([4, 2], 15)], k: 4 },
      { spec: "ba", ops: [T([2, 3], 16)], k: 1 },
      { spec: "Ba", ops: [T([2, 3], 17)], k: 1 },
      { spec: "aB", ops: [T([2, 3], 18)], k: 1 },
      { spec: "...ij,...jk->...ik", ops: [T([2, 1, 3, 4], 19), T([5, 4, 2], 20)], k: 4 },
      { spec: "ij...,jk...", ops: [T([2, 3, 4], 21), T([3, 5, 1], 22)], k: 3 },
      { spec: "...ii->...i", ops: [T([2, 3, 3], 23)], k: 1 },
      { spec: "i...->...", ops: [T([3, 2], 24)], k: 3 },
      { spec: "ij,ij->ij", ops: [T([2, 3], 25), T([1, 3], 26)], k: 1 },
      { spec: "i,i", ops: [T([3], 27), T([1], 28)], k: 3 },
      { spec: "iij->ji", ops: [T([3, 3, 2], 29)], k: 1 },
      {
        spec: "ijk,ikl,ilm->jm",
        ops: [T([2, 3, 2], 30), T([2, 2, 3], 31), T([2, 3, 2], 32)],
        k: 12,
      },
      { spec: " i j , j k -> i k ", ops: [T([2, 3], 33), T([3, 2], 34)], k: 3 },
      {
        spec: "ij,jk->ik",
        ops: [T([2, 3], 35, "contiguous", "i32"), T([3, 2], 36, "contiguous", "i8")],
        k: 3,
      },
      {
        spec: "i,i->",
        ops: [T([4], 37, "contiguous", "bool"), T([4], 38, "contiguous", "bool")],
        k: 4,
      },
      { spec: "ij->i", ops: [T([3, 4], 39, "strided", "f16")], k: 4 },
      {
        spec: "ij,j->i",
        ops: [T([3, 4], 40, "contiguous", "i64"), T([4], 41, "contiguous", "f64")],
        k: 4,
      },
      { spec: "i,j->", ops: [T([0], 42), T([3], 43)], k: 1 },
      { spec: "i->", ops: [T([0], 44)], k: 1 },
      { spec: "ij->j", ops: [T([3, 4], 45, "contiguous", "bf16")], k: 3 },
      { spec: "", ops: [T([], 46)], k: 1 },
      { spec: ",i->i", ops: [T([], 47), T([3], 48)], k: 1 },
      { spec: "...", ops: [T([2, 3], 49, "transposed")], k: 1 },
    ];
    checkEin(cases, await einRef(cases));
  });

  await t.step("random specs: up to 3 operands, repeated and summed labels", async () => {
    const arb = fc.record({
      sizes: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 5, maxLength: 5 }),
      terms: fc.array(fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 4 }), {
        minLength: 1,
        maxLength: 3,
      }),
      keep: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
      order: fc.array(fc.nat(), { minLength: 5, maxLength: 5 }),
      implicit: fc.boolean(),
      layouts: fc.array(fc.constantFrom(...LAYOUTS), { minLength: 3, maxLength: 3 }),
      dtypes: fc.integer({ min: 0, max: DTYPE_PAIRS.length - 1 }),
    });
    const letters = "abcde";
    const cases = fc.sample(arb, { seed: FC_PARAMS.seed, numRuns: 120 }).map((r, i) => {
      const used = [...new Set(r.terms.flat())];
      const out = used.filter((l) => r.keep[l]).sort((p, q) => r.order[p] - r.order[q] || p - q);
      const lhs = r.terms.map((term) => term.map((l) => letters[l]).join("")).join(",");
      const spec = r.implicit ? lhs : `${lhs}->${out.map((l) => letters[l]).join("")}`;
      const [d0, d1] = DTYPE_PAIRS[r.dtypes];
      const ops = r.terms.map((term, j) =>
        makeTensor(term.map((l) => r.sizes[l]), j % 2 ? d1 : d0, 10 * i + j, r.layouts[j])
      );
      const k = used.reduce((acc, l) => acc * (r.keep[l] ? 1 : r.sizes[l]), 1);
      return { spec, ops, k };
    });
    checkEin(cases, await einRef(cases));
  });
});

Deno.test("einsum rejects bad subscripts with clear errors", () => {
  const a = makeTensor([2, 3], "f32", 1), b = makeTensor([4, 5], "f32", 2);
  const bad: [() => unknown, RegExp][] = [
    [() => einsum("ij,jk->ik", a, b), /label "j" has length 3 in operand 0 .* but 4 in operand 1/],
    [() => einsum("ij,jk->ik", a), /describe 2 operands but 1 was given/],
    [() => einsum("ij->ik", a), /output label "k" does not appear/],
    [() => einsum("ij->ii", a), /output label "i" appears more than once/],
    [() => einsum("ijk", a), /operand 0 has shape \(2, 3\) \(2 axes\) but its subscripts "ijk"/],
    [() => einsum("ii", a), /repeats label "i" on axes of lengths 2 and 3/],
    [() => einsum("i...->", a), /no "\.\.\."/],
    [() => einsum("i1", a), /contains "1"/],
    [() => einsum("i.j", a), /stray "\."/],
    [() => einsum("ij->i->j", a), /more than once/],
    [() => einsum("ij"), /at least one operand/],
  ];
  for (const [f, re] of bad) {
    assert.throws(f, (e: Error) => {
      assert.ok(e instanceof ShapeError, `${e}`);
      assert.match(e.message, re);
      return true;
    });
  }
  disposeAll([a, b]);
});
