import assert from "node:assert/strict";
import fc from "fast-check";
import {
  ALL_DTYPES,
  type DType,
  DTypeError,
  gather,
  IndexError,
  indexSelect,
  maskedSelect,
  memory,
  nonzero,
  scatter,
  scatterAdd,
  ShapeError,
  take,
  type Tensor,
  tensor,
  where,
} from "../../mod.ts";
import { assertMatches, needsNumpy, numpy, NUMPY_DTYPES, type RefCase } from "../helpers/numpy.ts";
import { arbBroadcastPair, arbShape, LAYOUTS, makeTensor, rng } from "../helpers/gen.ts";

const DTYPES = ALL_DTYPES;
const NP_DTYPES = NUMPY_DTYPES;
const INDEX_DTYPES: DType[] = ["i8", "i16", "i32", "i64", "u8", "u16", "u32"];

interface Case {
  ours: Tensor;
  ref: RefCase;
  label: string;
  dtype?: boolean;
}

async function check(cases: Case[], inputs: Tensor[]): Promise<void> {
  const refs = await numpy(cases.map((c) => c.ref));
  cases.forEach((c, i) => {
    assert.equal(refs[i].error, undefined, `${c.label}: numpy raised ${refs[i].error}`);
    assertMatches(c.ours, refs[i].results[0], { dtype: c.dtype ?? true }, c.label);
  });
  for (const c of cases) c.ours.dispose();
  for (const t of inputs) t.dispose();
}

const pick = <T>(xs: readonly T[], n: number): T => xs[n % xs.length];

/** Random indices into an axis of length `n` (negatives too unless the dtype is unsigned). */
function indexTensor(shape: number[], n: number, dtype: DType, seed: number): Tensor {
  const r = rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  const unsigned = dtype.startsWith("u");
  const vals = Array.from({ length: size }, () => {
    const k = Math.floor(r() * n);
    return !unsigned && r() < 0.3 ? k - n : k;
  });
  return tensor(vals, { dtype, shape });
}

/** Distinct indices along `axis` (a prefix of a random permutation per position). */
function distinctIndex(shape: number[], axis: number, n: number, seed: number): Tensor {
  const r = rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  const vals = new Array<number>(size);
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const outer = size / (inner * shape[axis] || 1);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const perm = [...Array(n).keys()];
      for (let k = n - 1; k > 0; k--) {
        const j = Math.floor(r() * (k + 1));
        [perm[k], perm[j]] = [perm[j], perm[k]];
      }
      for (let k = 0; k < shape[axis]; k++) {
        vals[(o * shape[axis] + k) * inner + i] = perm[k];
      }
    }
  }
  return tensor(vals, { dtype: "i64", shape });
}

const SETUP = `
def sub(i, ax):
    return tuple(slice(None) if k == ax else slice(0, d) for k, d in enumerate(i.shape))
def along(i, ax):
    out = []
    for k, d in enumerate(i.shape):
        if k == ax:
            out.append(i)
        else:
            sh = [1] * i.ndim
            sh[k] = d
            out.append(np.arange(d).reshape(sh))
    return tuple(out)
def scat(x, ax, i, s, add):
    y = x.copy()
    v = y[sub(i, ax)]
    if np.ndim(s) > 0:
        s = s[tuple(slice(0, d) for d in i.shape)]
    if add:
        np.add.at(v, along(i, ax), s)
    else:
        np.put_along_axis(v, i, s, axis=ax)
    return y
`;

Deno.test("indexing ops match numpy", { ...needsNumpy }, async (t) => {
  const before = memory().tensors;

  await t.step("take with any integer index dtype, shape and axis, like np.take", async () => {
    const arb = fc.tuple(
      arbShape({ minRank: 1, maxRank: 3, maxDim: 4 }),
      arbShape({ minRank: 0, maxRank: 2, maxDim: 4, allowEmpty: true }),
      fc.option(fc.nat(), { nil: undefined }),
      fc.nat(),
      fc.nat(),
    );
    const cases: Case[] = [], inputs: Tensor[] = [];
    fc.sample(arb, { seed: 11, numRuns: 60 }).forEach(([shape, ishape, ax, d, l], n) => {
      const x = makeTensor(shape, pick(DTYPES, n), n, pick(LAYOUTS, l));
      const axis = ax === undefined ? undefined : (ax % (2 * shape.length)) - shape.length;
      const len = axis === undefined ? x.size : shape[(axis + shape.length) % shape.length];
      const i = indexTensor(ishape, len, pick(INDEX_DTYPES, d), n);
      inputs.push(x, i);
      cases.push({
        ours: take(x, i, axis),
        ref: {
          expr: axis === undefined ? "np.take(x, i)" : `np.take(x, i, axis=${axis})`,
          arrays: { x, i },
        },
        label: `take ${x.dtype}${JSON.stringify(shape)} idx ${i.dtype}${
          JSON.stringify(ishape)
        } axis ${axis}`,
        dtype: x.dtype !== "bf16",
      });
    });
    const x = makeTensor([3, 4], "i64", 1, "transposed");
    inputs.push(x);
    cases.push({
      ours: take(x, [[0, -1], [2, 1]], 1),
      ref: { expr: "np.take(x, [[0, -1], [2, 1]], axis=1)", arrays: { x } },
      label: "take with a JS nested array",
    });
    cases.push({
      ours: take(x, new Int32Array([5, -12])),
      ref: { expr: "np.take(x, [5, -12])", arrays: { x } },
      label: "take with an Int32Array, flattened",
    });
    await check(cases, inputs);
  });

  await t.step("indexSelect picks slices along an axis like np.take", async () => {
    const arb = fc.tuple(
      arbShape({ minRank: 1, maxRank: 4, maxDim: 4 }),
      fc.integer({ min: 0, max: 6 }),
      fc.nat(),
      fc.nat(),
    );
    const cases: Case[] = [], inputs: Tensor[] = [];
    fc.sample(arb, { seed: 12, numRuns: 40 }).forEach(([shape, k, ax, l], n) => {
      const axis = ax % shape.length;
      const x = makeTensor(shape, pick(NP_DTYPES, n), n, pick(LAYOUTS, l));
      const i = indexTensor([k], shape[axis], pick(INDEX_DTYPES, n), n + 1);
      inputs.push(x, i);
      cases.push({
        ours: n % 2 ? indexSelect(x, axis, i) : x.indexSelect(axis, i),
        ref: { expr: `np.take(x, i, axis=${axis})`, arrays: { x, i } },
        label: `indexSelect ${JSON.stringify(shape)} axis ${axis}`,
      });
    });
    await check(cases, inputs);
  });

  await t.step("gather equals np.take_along_axis (on the index's leading block)", async () => {
    const arb = fc.tuple(
      arbShape({ minRank: 1, maxRank: 4, maxDim: 4 }),
      fc.nat(),
      fc.array(fc.nat(), { minLength: 4, maxLength: 4 }),
      fc.integer({ min: 0, max: 5 }),
      fc.nat(),
    );
    const cases: Case[] = [], inputs: Tensor[] = [];
    fc.sample(arb, { seed: 13, numRuns: 60 }).forEach(([shape, ax, cuts, k, l], n) => {
      const axis = ax % shape.length;
      // Off the axis the index may be shorter than x (PyTorch); every third case it is equal.
      const ishape = shape.map((d, i) => i === axis ? k : n % 3 === 0 ? d : 1 + (cuts[i] % d));
      const x = makeTensor(shape, pick(DTYPES, n), n, pick(LAYOUTS, l));
      const i = indexTensor(ishape, shape[axis], pick(INDEX_DTYPES, n + l), n);
      inputs.push(x, i);
      cases.push({
        ours: n % 2 ? gather(x, axis, i) : x.gather(axis - shape.length, i),
        ref: {
          expr: `np.take_along_axis(x[sub(i, ${axis})], i.astype(np.int64), axis=${axis})`,
          arrays: { x, i },
          setup: SETUP,
        },
        label: `gather ${x.dtype}${JSON.stringify(shape)} idx ${JSON.stringify(ishape)} ax ${axis}`,
        dtype: x.dtype !== "bf16",
      });
    });
    await check(cases, inputs);
  });

  await t.step("scatter writes src (tensor or number) like np.put_along_axis", async () => {
    const arb = fc.tuple(
      arbShape({ minRank: 1, maxRank: 3, maxDim: 4 }),
      fc.nat(),
      fc.array(fc.nat(), { minLength: 3, maxLength: 3 }),
      fc.nat(),
      fc.integer({ min: 0, max: 2 }),
    );
    const cases: Case[] = [], inputs: Tensor[] = [];
    fc.sample(arb, { seed: 14, numRuns: 50 }).forEach(([shape, ax, cuts, l, srcKind], n) => {
      const axis = ax % shape.length;
      const ishape = shape.map((d, i) => 1 + (cuts[i] % d));
      const dtype = pick(DTYPES, n);
      const x = makeTensor(shape, dtype, n, pick(LAYOUTS, l));
      const i = distinctIndex(ishape, axis, shape[axis], n);
      inputs.push(x, i);
      const tol = { dtype: dtype !== "bf16" };
      if (srcKind === 0) {
        const v = dtype === "bool" ? 1 : 3;
        const xc = x.clone();
        cases.push({
          ours: scatter(x, axis, i, v),
          ref: { expr: `scat(x, ${axis}, i, ${v}, False)`, arrays: { x, i }, setup: SETUP },
          label: `scatter number into ${dtype}${JSON.stringify(shape)} axis ${axis}`,
          ...tol,
        });
        assert.deepEqual(x.toArraySync(), xc.toArraySync(), "scatter leaves x unchanged");
        xc.dispose();
        return;
      }
      // A src larger than the index (only its leading block is read), of the same dtype or not.
      const sdtype = srcKind === 1 ? dtype : "i8";
      const s = makeTensor(shape.map((d) => d + 1), sdtype, n + 100, pick(LAYOUTS, l + 1), {
        lo: 0,
        hi: 1,
      });
      inputs.push(s);
      cases.push({
        ours: scatter(x, axis, i, s),
        ref: {
          expr: `scat(x, ${axis}, i, s.astype(x.dtype), False)`,
          arrays: { x, i, s },
          setup: SETUP,
        },
        label: `scatter ${sdtype} into ${dtype}${JSON.stringify(shape)} idx ${
          JSON.stringify(ishape)
        } axis ${axis}`,
        ...tol,
      });
    });
    await check(cases, inputs);
  });

  await t.step("scatterAdd accumulates repeated indices like np.add.at", async () => {
    const dtypes: DType[] = ["f32", "f64", "f16", "i8", "i32", "i64", "u16", "bool"];
    const arb = fc.tuple(
      arbShape({ minRank: 1, maxRank: 3, maxDim: 4 }),
      fc.nat(),
      fc.array(fc.nat(), { minLength: 3, maxLength: 3 }),
      fc.integer({ min: 1, max: 8 }),
      fc.nat(),
    );
    const cases: Case[] = [], inputs: Tensor[] = [];
    fc.sample(arb, { seed: 15, numRuns: 50 }).forEach(([shape, ax, cuts, k, l], n) => {
      const axis = ax % shape.length;
      const ishape = shape.map((d, i) => (i === axis ? k : 1 + (cuts[i] % d)));
      const dtype = pick(dtypes, n);
      const x = makeTensor(shape, dtype, n, pick(LAYOUTS, l));
      const i = indexTensor(ishape, shape[axis], pick(INDEX_DTYPES, n), n);
      const s = makeTensor(ishape, dtype, n + 7, pick(LAYOUTS, l + 2));
      inputs.push(x, i, s);
      cases.push({
        ours: scatterAdd(x, axis, i, s),
        ref: {
          expr: `scat(x, ${axis}, i.astype(np.int64), s, True)`,
          arrays: { x, i, s },
          setup: SETUP,
        },
        label: `scatterAdd ${dtype}${JSON.stringify(shape)} idx ${
          JSON.stringify(ishape)
        } axis ${axis}`,
      });
    });
    await check(cases, inputs);
  });

  await t.step("where broadcasts cond, a, b and promotes a with b like np.where", async () => {
    const arb = fc.tuple(arbBroadcastPair({ maxRank: 4 }), fc.nat(), fc.nat(), fc.nat());
    const cases: Case[] = [], inputs: Tensor[] = [];
    fc.sample(arb, { seed: 16, numRuns: 60 }).forEach(([[sa, sb], da, db, l], n) => {
      const csh = n % 2 ? sa.slice(1) : sb;
      const cdtype = n % 3 === 0 ? "f32" : "bool";
      const c = makeTensor(csh, cdtype, n, pick(LAYOUTS, l), { lo: -1, hi: 1 });
      const a = makeTensor(sa, pick(NP_DTYPES, da), n + 1, pick(LAYOUTS, l + 1));
      const b = makeTensor(sb, pick(NP_DTYPES, db), n + 2, pick(LAYOUTS, l + 2));
      inputs.push(c, a, b);
      if (n % 5 === 4) {
        // A JS number is a weak scalar: an integer keeps an int/float dtype, a fraction a float.
        const v = a.dtype === "bool" ? true : a.dtype.startsWith("f") ? 0.5 : 7;
        cases.push({
          ours: where(c, v, a),
          ref: { expr: `np.where(c, ${v === true ? "True" : v}, a)`, arrays: { c, a } },
          label: `where(c, ${v}, ${a.dtype})`,
        });
        return;
      }
      cases.push({
        ours: where(c, a, b),
        ref: { expr: "np.where(c, a, b)", arrays: { c, a, b } },
        label: `where ${cdtype}${JSON.stringify(csh)}, ${a.dtype}${JSON.stringify(sa)}, ${b.dtype}${
          JSON.stringify(sb)
        }`,
      });
    });
    await check(cases, inputs);
  });

  await t.step("maskedSelect is x[mask] after broadcasting", async () => {
    const arb = fc.tuple(arbBroadcastPair({ maxRank: 3 }), fc.nat(), fc.nat());
    const cases: Case[] = [], inputs: Tensor[] = [];
    fc.sample(arb, { seed: 17, numRuns: 40 }).forEach(([[sx, sm], d, l], n) => {
      const x = makeTensor(sx, pick(DTYPES, d), n, pick(LAYOUTS, l));
      const m = makeTensor(sm, "bool", n + 1, pick(LAYOUTS, l + 1));
      inputs.push(x, m);
      cases.push({
        ours: maskedSelect(x, m),
        ref: { expr: "(lambda bx, bm: bx[bm])(*np.broadcast_arrays(x, m))", arrays: { x, m } },
        label: `maskedSelect ${x.dtype}${JSON.stringify(sx)} mask ${JSON.stringify(sm)}`,
        dtype: x.dtype !== "bf16",
      });
    });
    await check(cases, inputs);
  });

  await t.step("nonzero gives i64 (n, ndim) coordinates like np.argwhere", async () => {
    const arb = fc.tuple(arbShape({ minRank: 0, maxRank: 4, maxDim: 4 }), fc.nat());
    const cases: Case[] = [], inputs: Tensor[] = [];
    fc.sample(arb, { seed: 18, numRuns: 40 }).forEach(([shape, l], n) => {
      const dtype = pick(DTYPES, n);
      const x = makeTensor(shape, dtype, n, pick(LAYOUTS, l), { lo: -1, hi: 1 });
      inputs.push(x);
      const y = dtype.startsWith("f") || dtype === "bf16" ? x.astype("i8") : x;
      if (y !== x) inputs.push(y);
      cases.push({
        ours: nonzero(y),
        ref: { expr: "np.argwhere(x)", arrays: { x: y } },
        label: `nonzero ${y.dtype}${JSON.stringify(shape)}`,
      });
    });
    const f = tensor([0, NaN, -0, 2.5]);
    inputs.push(f);
    cases.push({
      ours: nonzero(f),
      ref: { expr: "np.argwhere(x)", arrays: { x: f } },
      label: "NaN",
    });
    await check(cases, inputs);
  });

  await t.step("no tensor leaks", () => {
    assert.equal(memory().tensors, before);
  });
});

Deno.test("indexing ops reject bad input with typed errors", async (t) => {
  const x = tensor([[1, 2, 3], [4, 5, 6]]);
  await t.step("an index out of range is an IndexError naming op, index and axis length", () => {
    assert.throws(
      () => take(x, [0, 3], 1),
      (e: Error) =>
        e instanceof IndexError && /take/.test(e.message) && /index 3/.test(e.message) &&
        /length 3/.test(e.message),
    );
    assert.throws(() => take(x, [-7]), IndexError);
    assert.throws(() => indexSelect(x, 0, [2]), /indexSelect: index 2/);
    assert.throws(() => gather(x, 1, [[3]]), /gather: index 3/);
    assert.throws(() => scatter(x, 0, [[2]], 0), /scatter: index 2/);
    assert.throws(() => scatterAdd(x, 0, [[-3]], [[1]]), /scatterAdd: index -3/);
    assert.throws(() => take(x, [0], 2), IndexError);
  });
  await t.step("float or bool indices are DTypeErrors with a hint", () => {
    assert.throws(
      () => take(x, tensor([0, 1])),
      (e: Error) => e instanceof DTypeError && /astype/.test(e.message),
    );
    assert.throws(() => take(x, [0.5]), DTypeError);
    assert.throws(() => gather(x, 0, new Float32Array([0])), DTypeError);
    assert.throws(() => indexSelect(x, 0, tensor([true, false])), /maskedSelect/);
  });
  await t.step("shape mismatches are ShapeErrors", () => {
    assert.throws(() => indexSelect(x, 0, [[0]]), ShapeError);
    assert.throws(() => gather(x, 0, [0]), /same rank/);
    assert.throws(() => gather(x, 0, [[0, 0, 0, 0]]), ShapeError);
    assert.throws(() => scatter(x, 0, [[0, 1]], [[1]]), ShapeError);
    assert.throws(() => where(tensor([true, false, true]), x, tensor([1, 2])), ShapeError);
    assert.throws(() => maskedSelect(x, tensor([true, false])), ShapeError);
  });
  await t.step("maskedSelect needs a bool mask", () => {
    assert.throws(() => maskedSelect(x, tensor([1, 0, 1])), DTypeError);
  });
  await t.step("nonzero of a scalar and where with JS scalars", () => {
    const z = nonzero(tensor(3));
    assert.deepEqual(z.shape, [1, 0]);
    const w = where(tensor([true, false]), 1, 2.5);
    assert.deepEqual([w.dtype, w.toArraySync()], ["f32", [1, 2.5]]);
    const b = where(tensor([true, false]), true, tensor([false, false]));
    assert.deepEqual([b.dtype, b.toArraySync()], ["bool", [true, false]]);
    z.dispose();
    w.dispose();
    b.dispose();
  });
  x.dispose();
});
