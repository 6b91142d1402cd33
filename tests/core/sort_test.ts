import assert from "node:assert/strict";
import fc from "fast-check";
import { argsort, type DType, IndexError, sort, type Tensor, tensor, topk } from "../../mod.ts";
import { assertMatches, needsNumpy, numpy, type RefCase } from "../helpers/numpy.ts";
import {
  arbShape,
  FC_PARAMS,
  type Layout,
  LAYOUTS,
  makeTensor,
  randomValues,
  rng,
} from "../helpers/gen.ts";

/** NumPy references: stable ascending, and stable descending with NaN first (PyTorch). */
const SETUP = `
def dargsort(a, axis):
    n = a.shape[axis]
    i = np.argsort(np.flip(a, axis), axis=axis, kind='stable')
    return n - 1 - np.flip(i, axis)
def ordr(a, axis, desc):
    return dargsort(a, axis) if desc else np.argsort(a, axis=axis, kind='stable')
def topk(a, k, axis, largest):
    i = np.take(ordr(a, axis, largest), np.arange(k), axis=axis)
    return np.take_along_axis(a, i, axis=axis), i
`;

const DTYPES: DType[] = ["f32", "f64", "f16", "i32", "i8", "u8", "bool", "i64", "bf16"];
const isFloat = (d: DType) => d === "f32" || d === "f64" || d === "f16" || d === "bf16";

interface Case {
  shape: number[];
  pick: number;
  layout: Layout;
  dtype: DType;
  seed: number;
  descending: boolean;
}

/** Values with NaN, ±inf and repeated values for floats; a small range (many ties) for ints. */
function input(c: Case): Tensor {
  if (!isFloat(c.dtype)) return makeTensor(c.shape, c.dtype, c.seed, c.layout, { lo: 0, hi: 3 });
  if (c.layout === "expanded") return makeTensor(c.shape, c.dtype, c.seed, c.layout);
  const n = c.shape.reduce((a, b) => a * b, 1) * (c.layout === "strided" ? 2 ** c.shape.length : 1);
  const v = randomValues(n, c.dtype, c.seed).map((x) => Math.round(x * 2) / 2);
  const r = rng(c.seed + 1);
  for (let i = 0; i < n; i++) {
    const u = r();
    if (u < 0.1) v[i] = NaN;
    else if (u < 0.15) v[i] = Infinity;
    else if (u < 0.2) v[i] = -Infinity;
  }
  if (c.layout === "strided") {
    const base = tensor(v, { dtype: c.dtype, shape: c.shape.map((d) => 2 * d) });
    const t = base.slice(...c.shape.map(() => "::2"));
    base.dispose();
    return t;
  }
  if (c.layout === "transposed") {
    const base = tensor(v, { dtype: c.dtype, shape: [...c.shape].reverse() });
    const t = base.T;
    base.dispose();
    return t;
  }
  return tensor(v, { dtype: c.dtype, shape: c.shape });
}

const arbCase: fc.Arbitrary<Case> = fc.record({
  shape: arbShape({ minRank: 1, maxRank: 4, maxDim: 5 }),
  pick: fc.nat(),
  layout: fc.constantFrom(...LAYOUTS),
  dtype: fc.constantFrom(...DTYPES),
  seed: fc.nat(),
  descending: fc.boolean(),
});

interface Work {
  label: string;
  ours: () => Tensor[];
  ref: RefCase;
  dtype: boolean;
}

async function compare(work: Work[]): Promise<void> {
  const refs = await numpy(work.map((w) => ({ ...w.ref, setup: SETUP })));
  work.forEach((w, i) => {
    assert.ok(!refs[i].error, `${w.label}: numpy raised ${refs[i].error}`);
    const ours = w.ours();
    ours.forEach((t, j) => {
      // Sorting moves values without arithmetic: exact for every dtype (bf16 values are exact
      // in numpy's float32 copy; its dtype is reported as f32, hence dtype: false there).
      assertMatches(
        t,
        refs[i].results[j],
        { rtol: 0, atol: 0, dtype: w.dtype || j === 1 },
        w.label,
      );
      t.dispose();
    });
  });
}

const label = (op: string, c: Case, extra: string) =>
  `${op}(${c.dtype} ${JSON.stringify(c.shape)} ${c.layout}, ${extra}, desc=${c.descending})`;

Deno.test("sort/argsort match numpy's stable sort on every axis, layout and dtype", {
  ...needsNumpy,
}, async () => {
  const cases = fc.sample(arbCase, { seed: FC_PARAMS.seed, numRuns: 250 });
  const work: Work[] = [];
  for (const c of cases) {
    const t = input(c);
    const r = c.shape.length;
    const axis = (c.pick % (2 * r)) - r;
    const exact = c.dtype !== "bf16";
    const scalars = { ax: axis, desc: c.descending };
    work.push({
      label: label("sort", c, `axis=${axis}`),
      ours: () => [sort(t, axis, c.descending)],
      ref: {
        expr: "np.take_along_axis(a, ordr(a, ax, desc), axis=ax)",
        arrays: { a: t },
        scalars,
      },
      dtype: exact,
    });
    work.push({
      label: label("argsort", c, `axis=${axis}`),
      ours: () => [argsort(t, axis, c.descending)],
      ref: { expr: "ordr(a, ax, desc)", arrays: { a: t }, scalars },
      dtype: true,
    });
    if (!c.descending) {
      work.push({
        label: label("np.sort", c, `axis=${axis}`),
        ours: () => [sort(t, axis)],
        ref: { expr: "np.sort(a, axis=ax)", arrays: { a: t }, scalars },
        dtype: exact,
      });
    }
  }
  await compare(work);
});

Deno.test("topk matches an argsort-based numpy reference (largest and smallest)", {
  ...needsNumpy,
}, async () => {
  const cases = fc.sample(arbCase, { seed: 3, numRuns: 200 });
  const work: Work[] = [];
  for (const c of cases) {
    const t = input(c);
    const r = c.shape.length;
    const axis = (c.pick % (2 * r)) - r;
    const n = c.shape[(axis + r) % r];
    const k = (c.pick >> 5) % (n + 1);
    work.push({
      label: label("topk", c, `k=${k} axis=${axis}`),
      ours: () => topk(t, k, { axis, largest: c.descending }),
      ref: {
        expr: "topk(a, k, ax, largest)",
        arrays: { a: t },
        scalars: { ax: axis, k, largest: c.descending },
      },
      dtype: c.dtype !== "bf16",
    });
  }
  await compare(work);
});

Deno.test("argsort is stable: ties keep their order, ascending and descending", () => {
  const t = tensor([2, 1, 2, 1, NaN, 2, NaN]);
  assert.deepEqual(argsort(t).toArraySync(), [1, 3, 0, 2, 5, 4, 6]);
  assert.deepEqual(argsort(t, -1, true).toArraySync(), [4, 6, 0, 2, 5, 1, 3]);
  assert.deepEqual(sort(t, 0, true).toArraySync(), [NaN, NaN, 2, 2, 2, 1, 1]);
  assert.equal(argsort(t).dtype, "i64");
  const [v, i] = topk(tensor([[3, 1, 3], [0, 0, -1]]), 2, { largest: false });
  assert.deepEqual(v.toArraySync(), [[1, 3], [-1, 0]]);
  assert.deepEqual(i.toArraySync(), [[1, 0], [2, 0]]);
});

Deno.test("sort keeps i64 values exactly and sorts along non-last axes of views", () => {
  const big = tensor(new BigInt64Array([2n ** 60n + 1n, -5n, 2n ** 60n + 3n]));
  assert.deepEqual([...sort(big).dataSync() as BigInt64Array], [
    -5n,
    2n ** 60n + 1n,
    2n ** 60n + 3n,
  ]);
  const m = tensor([[3, 1], [2, 4], [1, 0]]).T; // shape [2, 3], transposed view
  assert.deepEqual(sort(m, 0).toArraySync(), [[1, 2, 0], [3, 4, 1]]);
  assert.deepEqual(sort(m, 1, true).toArraySync(), [[3, 2, 1], [4, 1, 0]]);
});

Deno.test("sort errors: bad axis names the op and rank, topk checks k", () => {
  const t = tensor([[1, 2], [3, 4]]);
  assert.throws(
    () => sort(t, 2),
    (e: Error) =>
      e instanceof IndexError && e.message.startsWith("sort") && /rank 2/.test(e.message),
  );
  assert.throws(
    () => argsort(t, -3),
    (e: Error) => e instanceof IndexError && e.message.startsWith("argsort"),
  );
  assert.throws(() => sort(tensor(5)), IndexError);
  assert.throws(
    () => topk(t, 3),
    (e: Error) => e instanceof IndexError && /k=3/.test(e.message) && /length 2/.test(e.message),
  );
  assert.throws(() => topk(t, -1), IndexError);
  assert.throws(() => topk(t, 1, { axis: 5 }), IndexError);
  const [v, i] = topk(t, 0);
  assert.deepEqual(v.shape, [2, 0]);
  assert.deepEqual(i.shape, [2, 0]);
  assert.deepEqual(sort(tensor([], { shape: [2, 0] })).shape, [2, 0]);
});
