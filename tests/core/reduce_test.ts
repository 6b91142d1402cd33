import assert from "node:assert/strict";
import fc from "fast-check";
import {
  all,
  any,
  argmax,
  argmin,
  type Axis,
  cumprod,
  cumsum,
  type DType,
  IndexError,
  logSoftmax,
  logsumexp,
  max,
  mean,
  memory,
  min,
  norm,
  prod,
  ShapeError,
  softmax,
  std,
  sum,
  type Tensor,
  tensor,
  variance,
} from "../../mod.ts";
import {
  assertMatches,
  needsNumpy,
  numpy,
  type RefCase,
  type Tolerance,
} from "../helpers/numpy.ts";
import {
  arbShape,
  FC_PARAMS,
  type Layout,
  LAYOUTS,
  makeTensor,
  randomValues,
  rng,
} from "../helpers/gen.ts";

/** Python helpers shared by every reference case. */
const SETUP = `
def A(ax):
    return tuple(ax) if isinstance(ax, list) else ax
def hp(f, a, *args, **kw):
    # NumPy's result dtype, with the values computed in float64 (our kernels accumulate in f64).
    r = np.asarray(f(a, *args, **kw))
    if a.dtype.kind == 'f':
        return np.asarray(f(a.astype(np.float64), *args, **kw)).astype(r.dtype)
    return r
def fdt(a):
    return np.exp(np.zeros(1, a.dtype)).dtype
def lse(a, axis, keepdims):
    dt = a.dtype if a.dtype.kind == 'f' else np.dtype(np.float64)
    x = a.astype(np.float64)
    m = np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    m = np.where(np.isfinite(m), m, 0)
    r = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return r.reshape(np.sum(x, axis=axis, keepdims=keepdims).shape).astype(dt)
def sm(a, axis):
    x = a.astype(np.float64)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return (e / e.sum(axis=axis, keepdims=True)).astype(fdt(a))
def lsm(a, axis):
    x = a.astype(np.float64)
    m = x.max(axis=axis, keepdims=True)
    return (x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))).astype(fdt(a))
`;

const DTYPES: DType[] = ["f32", "f64", "f16", "i32", "i8", "u8", "bool", "i64"];
const UNSIGNED = new Set<DType>(["u8", "u16", "u32"]);
const isFloatDType = (d: DType) => d === "f32" || d === "f64" || d === "f16" || d === "bf16";

/** Float values with ~8% each of NaN, +inf and -inf. */
function specialValues(n: number, dtype: DType, seed: number): number[] {
  const v = randomValues(n, dtype, seed);
  const r = rng(seed ^ 0x5bd1e995);
  for (let i = 0; i < n; i++) {
    const u = r();
    if (u < 0.08) v[i] = NaN;
    else if (u < 0.16) v[i] = Infinity;
    else if (u < 0.24) v[i] = -Infinity;
  }
  return v;
}

/** Like makeTensor, with NaN/±inf mixed into the values (contiguous, transposed or strided). */
function specialTensor(shape: number[], dtype: DType, seed: number, layout: Layout): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  if (layout === "transposed") {
    const base = tensor(specialValues(n, dtype, seed), { dtype, shape: [...shape].reverse() });
    const v = base.T;
    base.dispose();
    return v;
  }
  if (layout === "strided") {
    const big = shape.map((d) => 2 * d);
    const base = tensor(specialValues(n * 2 ** shape.length, dtype, seed), { dtype, shape: big });
    const v = base.slice(...shape.map(() => "::2"));
    base.dispose();
    return v;
  }
  return tensor(specialValues(n, dtype, seed), { dtype, shape });
}

interface Case {
  shape: number[];
  pick: number;
  keepdims: boolean;
  layout: Layout;
  dtype: DType;
  seed: number;
  ddof: number;
  special: boolean;
}

const arbCase = (dtypes: DType[]): fc.Arbitrary<Case> =>
  fc.record({
    shape: arbShape({ maxRank: 4, maxDim: 4 }),
    pick: fc.nat(),
    keepdims: fc.boolean(),
    layout: fc.constantFrom(...LAYOUTS),
    dtype: fc.constantFrom(...dtypes),
    seed: fc.nat(),
    ddof: fc.constantFrom(0, 1),
    special: fc.boolean(),
  });

/** An axis argument for rank `rank`: all (undefined/null), one (maybe negative), a list, or []. */
function pickAxis(rank: number, pick: number): Axis {
  const mode = pick % 5;
  if (rank === 0) return mode < 2 ? undefined : mode < 4 ? null : [];
  const neg = (a: number, bit: number) => ((pick >> bit) & 1 ? a - rank : a);
  switch (mode) {
    case 0:
      return undefined;
    case 1:
      return neg((pick >> 3) % rank, 7);
    case 2: {
      const list: number[] = [];
      for (let i = 0; i < rank; i++) if ((pick >> (8 + i)) & 1) list.push(neg(i, 12 + i));
      return list.length ? list : [neg(rank - 1, 20)];
    }
    case 3:
      return [];
    default:
      return null;
  }
}

/** One axis (maybe negative) or undefined. */
function pickOneAxis(rank: number, pick: number): number | undefined {
  if (rank === 0 || pick % 3 === 0) return undefined;
  const a = (pick >> 2) % rank;
  return (pick >> 6) & 1 ? a - rank : a;
}

const pyAxis = (axis: Axis) => (axis === undefined ? null : axis);

function input(c: Case): Tensor {
  return c.special && isFloatDType(c.dtype)
    ? specialTensor(c.shape, c.dtype, c.seed, c.layout)
    : makeTensor(c.shape, c.dtype, c.seed, c.layout);
}

/** Tolerances: f16 allows one ulp (double rounding of f64 results); f64 stats 1e-10. */
function tolFor(dtype: DType, op: string): Tolerance {
  if (dtype === "f16") return { rtol: 2e-3, atol: 1e-3 };
  if (dtype === "f32") return { rtol: 1e-5, atol: 1e-6 };
  return ["var", "std", "mean", "logsumexp", "norm"].includes(op)
    ? { rtol: 1e-10, atol: 1e-10 }
    : {};
}

interface OpSpec {
  name: string;
  ours: (t: Tensor, axis: Axis, kd: boolean, ddof: number) => Tensor;
  ref: string;
  /** NumPy gives uint64 for unsigned inputs, we give i64. */
  u64?: boolean;
}

const OPS: OpSpec[] = [
  {
    name: "sum",
    ours: (t, a, k) => sum(t, a, k),
    ref: "hp(np.sum, a, axis=A(ax), keepdims=kd)",
    u64: true,
  },
  {
    name: "mean",
    ours: (t, a, k) => mean(t, a, k),
    ref: "hp(np.mean, a, axis=A(ax), keepdims=kd)",
  },
  {
    name: "var",
    ours: (t, a, k, d) => variance(t, a, { keepdims: k, ddof: d }),
    ref: "hp(np.var, a, axis=A(ax), keepdims=kd, ddof=dd)",
  },
  {
    name: "std",
    ours: (t, a, k, d) => std(t, a, { keepdims: k, ddof: d }),
    ref: "hp(np.std, a, axis=A(ax), keepdims=kd, ddof=dd)",
  },
  { name: "min", ours: (t, a, k) => min(t, a, k), ref: "np.min(a, axis=A(ax), keepdims=kd)" },
  { name: "max", ours: (t, a, k) => max(t, a, k), ref: "np.max(a, axis=A(ax), keepdims=kd)" },
  {
    name: "prod",
    ours: (t, a, k) => prod(t, a, k),
    ref: "hp(np.prod, a, axis=A(ax), keepdims=kd)",
    u64: true,
  },
  { name: "any", ours: (t, a, k) => any(t, a, k), ref: "np.any(a, axis=A(ax), keepdims=kd)" },
  { name: "all", ours: (t, a, k) => all(t, a, k), ref: "np.all(a, axis=A(ax), keepdims=kd)" },
  { name: "logsumexp", ours: (t, a, k) => logsumexp(t, a, k), ref: "lse(a, A(ax), kd)" },
];

/** One differential case: our computation and NumPy's. */
interface Work {
  label: string;
  ours: () => Tensor;
  ref: RefCase;
  tol: Tolerance;
}

/** Evaluate `cases` with NumPy in one process and compare each. */
async function compare(cases: Work[]): Promise<void> {
  const refs = await numpy(cases.map((c) => ({ ...c.ref, setup: SETUP })));
  cases.forEach((c, i) => {
    const r = refs[i];
    assert.ok(!r.error, `${c.label}: numpy raised ${r.error}`);
    const ours = c.ours();
    assertMatches(ours, r.results[0], c.tol, c.label);
    ours.dispose();
  });
}

const label = (op: string, c: Case, axis: unknown) =>
  `${op}(${c.dtype} ${JSON.stringify(c.shape)} ${c.layout}${c.special ? " nan/inf" : ""}, ` +
  `axis=${JSON.stringify(axis)}, keepdims=${c.keepdims}, ddof=${c.ddof})`;

Deno.test("reductions match numpy on random shapes, axes, layouts and dtypes", {
  ...needsNumpy,
}, async () => {
  const cases = fc.sample(arbCase(DTYPES), { seed: FC_PARAMS.seed, numRuns: 240 });
  const work: Work[] = [];
  for (const c of cases) {
    const t = input(c);
    const axis = pickAxis(c.shape.length, c.pick);
    for (const op of OPS) {
      const tol = { ...tolFor(c.dtype, op.name), dtype: !(op.u64 && UNSIGNED.has(c.dtype)) };
      work.push({
        label: label(op.name, c, axis),
        ours: () => op.ours(t, axis, c.keepdims, c.ddof),
        ref: {
          expr: op.ref,
          arrays: { a: t },
          scalars: { ax: pyAxis(axis), kd: c.keepdims, dd: c.ddof },
        },
        tol,
      });
    }
  }
  await compare(work);
});

Deno.test("bf16 reductions match numpy's float32 values (dtype stays bf16)", {
  ...needsNumpy,
}, async () => {
  const cases = fc.sample(arbCase(["bf16"]), { seed: 7, numRuns: 30 });
  const work: Work[] = [];
  for (const c of cases) {
    const t = input(c);
    const axis = pickAxis(c.shape.length, c.pick);
    for (const op of OPS) {
      work.push({
        label: label(op.name, c, axis),
        ours: () => {
          const r = op.ours(t, axis, c.keepdims, c.ddof);
          const want = ["any", "all"].includes(op.name) ? "bool" : "bf16";
          assert.equal(r.dtype, want, `${op.name} of bf16 gives ${want}`);
          return r;
        },
        ref: {
          expr: op.ref,
          arrays: { a: t },
          scalars: { ax: pyAxis(axis), kd: c.keepdims, dd: c.ddof },
        },
        // bf16 has 8 significant bits: results rounded once to bf16 are within 2^-8 relative.
        tol: { rtol: 1e-2, atol: 1e-2, dtype: false },
      });
    }
  }
  await compare(work);
});

Deno.test("result dtypes equal numpy's for every dtype", { ...needsNumpy }, async () => {
  const all12: DType[] = [
    "f32",
    "f64",
    "f16",
    "i8",
    "u8",
    "i16",
    "u16",
    "i32",
    "u32",
    "i64",
    "bool",
  ];
  const work: Work[] = [];
  for (const d of all12) {
    const t = makeTensor([2, 3], d, 3);
    const cases: [string, () => Tensor, string, boolean][] = [
      ["sum", () => sum(t, 1), "np.sum(a, axis=1)", true],
      ["prod", () => prod(t, 0), "np.prod(a, axis=0)", true],
      ["mean", () => mean(t), "np.mean(a)", false],
      ["var", () => variance(t, 0), "np.var(a, axis=0)", false],
      ["std", () => std(t, 0), "np.std(a, axis=0)", false],
      ["min", () => min(t, 1), "np.min(a, axis=1)", false],
      ["max", () => max(t, 1), "np.max(a, axis=1)", false],
      ["argmax", () => argmax(t, 1), "np.argmax(a, axis=1)", false],
      ["argmin", () => argmin(t), "np.argmin(a)", false],
      ["any", () => any(t, 1), "np.any(a, axis=1)", false],
      ["cumsum", () => cumsum(t, 1), "np.cumsum(a, axis=1)", true],
      ["cumprod", () => cumprod(t), "np.cumprod(a)", true],
      ["softmax", () => softmax(t), "sm(a, -1)", false],
      ["logsumexp", () => logsumexp(t, 1), "lse(a, 1, False)", false],
      ["norm", () => norm(t), "np.linalg.norm(a)", false],
    ];
    for (const [name, ours, expr, u64] of cases) {
      work.push({
        label: `${name}(${d})`,
        ours,
        ref: { expr, arrays: { a: t } },
        tol: { ...tolFor(d, name), dtype: !(u64 && UNSIGNED.has(d)) },
      });
    }
  }
  await compare(work);
  // Where NumPy says uint64 we say i64 (no uint64 dtype): checked explicitly.
  assert.equal(sum(tensor([1, 2], { dtype: "u8" })).dtype, "i64");
  assert.equal(cumsum(tensor([1, 2], { dtype: "u32" })).dtype, "i64");
});

Deno.test("argmin/argmax match numpy: flattened or one axis, ties first, NaN wins", {
  ...needsNumpy,
}, async () => {
  const cases = fc.sample(arbCase(DTYPES), { seed: 11, numRuns: 200 });
  const work: Work[] = [];
  for (const c of cases) {
    // Small integer ranges make many ties; expanded layouts repeat values.
    const t = c.special && isFloatDType(c.dtype)
      ? specialTensor(c.shape, c.dtype, c.seed, c.layout)
      : makeTensor(
        c.shape,
        c.dtype,
        c.seed,
        c.layout,
        isFloatDType(c.dtype) ? {} : { lo: 0, hi: 2 },
      );
    const axis = pickOneAxis(c.shape.length, c.pick);
    for (const [name, f] of [["argmin", argmin], ["argmax", argmax]] as const) {
      work.push({
        label: label(name, c, axis),
        ours: () => f(t, axis, c.keepdims),
        ref: {
          expr: `np.${name}(a, axis=ax, keepdims=kd)`,
          arrays: { a: t },
          scalars: { ax: pyAxis(axis), kd: c.keepdims },
        },
        tol: {},
      });
    }
  }
  await compare(work);
});

Deno.test("argmax breaks ties by the first index and lets NaN win", () => {
  assert.deepEqual(argmax(tensor([1, 3, 3, 2])).toArraySync(), 1);
  assert.deepEqual(argmin(tensor([[2, 0, 0], [0, 0, 5]]), 1).toArraySync(), [1, 0]);
  assert.deepEqual(argmax(tensor([1, NaN, Infinity, NaN])).toArraySync(), 1);
  assert.deepEqual(argmin(tensor([-Infinity, 0, NaN])).toArraySync(), 2);
  assert.deepEqual(max(tensor([1, NaN, 3])).item(), NaN);
  assert.deepEqual(argmax(tensor([[1, 2], [3, 0]]), undefined, true).shape, [1, 1]);
});

Deno.test("cumsum/cumprod match numpy: flattened or one axis, all layouts and dtypes", {
  ...needsNumpy,
}, async () => {
  const cases = fc.sample(arbCase([...DTYPES, "u16"]), { seed: 5, numRuns: 160 });
  const work: Work[] = [];
  for (const c of cases) {
    const axis = pickOneAxis(c.shape.length, c.pick);
    const small = isFloatDType(c.dtype) ? {} : { lo: UNSIGNED.has(c.dtype) ? 0 : -2, hi: 2 };
    const t = c.special && isFloatDType(c.dtype)
      ? specialTensor(c.shape, c.dtype, c.seed, c.layout)
      : makeTensor(c.shape, c.dtype, c.seed, c.layout, small);
    for (const [name, f] of [["cumsum", cumsum], ["cumprod", cumprod]] as const) {
      work.push({
        label: label(name, c, axis),
        ours: () => f(t, axis),
        ref: {
          expr: `hp(np.${name}, a, axis=ax)`,
          arrays: { a: t },
          scalars: { ax: pyAxis(axis) },
        },
        tol: { ...tolFor(c.dtype, name), dtype: !UNSIGNED.has(c.dtype) },
      });
    }
  }
  await compare(work);
});

Deno.test("integer products wrap modulo 2^64 like numpy's int64", { ...needsNumpy }, async () => {
  const t = tensor([1000, -999, 998, 997, 996, 995, 994, 993], { dtype: "i32" });
  await compare([
    { label: "prod", ours: () => prod(t), ref: { expr: "np.prod(a)", arrays: { a: t } }, tol: {} },
    {
      label: "cumprod",
      ours: () => cumprod(t),
      ref: { expr: "np.cumprod(a)", arrays: { a: t } },
      tol: {},
    },
  ]);
});

Deno.test("softmax/logSoftmax match numpy's exp(x - max) / sum on every axis and layout", {
  ...needsNumpy,
}, async () => {
  const cases = fc.sample(arbCase([...DTYPES, "i16"]), { seed: 9, numRuns: 160 })
    .filter((c) => c.shape.length > 0);
  const work: Work[] = [];
  for (const c of cases) {
    const t = input(c);
    const r = c.shape.length;
    const axis = (c.pick % (2 * r)) - r; // -r .. r-1
    for (
      const [name, f, py] of [["softmax", softmax, "sm"], [
        "logSoftmax",
        logSoftmax,
        "lsm",
      ]] as const
    ) {
      work.push({
        label: label(name, c, axis),
        ours: () => f(t, axis),
        ref: { expr: `${py}(a, ax)`, arrays: { a: t }, scalars: { ax: axis } },
        tol: tolFor(c.dtype, name),
      });
    }
  }
  await compare(work);
});

Deno.test("softmax is stable for large inputs and handles inf/NaN rows like numpy", () => {
  const s = softmax(tensor([1000, 1000, -Infinity]));
  assert.deepEqual(s.toArraySync(), [0.5, 0.5, 0]);
  assert.deepEqual(logSoftmax(tensor([1e30, 0])).toArraySync(), [0, -1e30].map(Math.fround));
  assert.ok((softmax(tensor([Infinity, 1])).toArraySync() as number[]).every(Number.isNaN));
  assert.ok((softmax(tensor([NaN, 1])).toArraySync() as number[]).every(Number.isNaN));
  assert.equal(logsumexp(tensor([-Infinity, -Infinity])).item(), -Infinity);
  assert.equal(logsumexp(tensor([Infinity, 1])).item(), Infinity);
  assert.equal(logsumexp(tensor([], { dtype: "f64" })).item(), -Infinity);
  assert.equal(softmax(tensor([1, 2, 3], { dtype: "i8" })).dtype, "f16");
});

Deno.test(
  "norm matches np.linalg.norm for vector and matrix orders",
  { ...needsNumpy },
  async () => {
    const cases = fc.sample(arbCase(DTYPES), { seed: 13, numRuns: 120 });
    const vecOrds: [number | null, string][] = [
      [null, "None"],
      [2, "2"],
      [1, "1"],
      [Infinity, "np.inf"],
      [-Infinity, "-np.inf"],
      [0, "0"],
      [3, "3"],
      [0.5, "0.5"],
      [-1, "-1"],
    ];
    const matOrds: ["fro" | number | null, string][] = [
      [null, "None"],
      ["fro", "'fro'"],
      [1, "1"],
      [-1, "-1"],
      [Infinity, "np.inf"],
      [-Infinity, "-np.inf"],
    ];
    const work: Work[] = [];
    for (const c of cases) {
      const t = input(c);
      const r = c.shape.length;
      const tol = tolFor(c.dtype, "norm");
      const add = (lbl: string, ours: () => Tensor, expr: string, ax: unknown) =>
        work.push({
          label: lbl,
          ours,
          ref: { expr, arrays: { a: t }, scalars: { ax, kd: c.keepdims } },
          tol,
        });
      // No axis: the 2-norm of everything.
      add(
        label("norm", c, null),
        () => norm(t, null, null, c.keepdims),
        "hp(np.linalg.norm, a, keepdims=kd)",
        null,
      );
      if (r >= 1) {
        const ax = (c.pick % (2 * r)) - r;
        const [o, po] = vecOrds[(c.pick >> 4) % vecOrds.length];
        add(
          label(`norm ord=${po}`, c, ax),
          () => norm(t, o, ax, c.keepdims),
          `hp(np.linalg.norm, a, ord=${po}, axis=ax, keepdims=kd)`,
          ax,
        );
      }
      if (r >= 2) {
        const r0 = c.pick % r, r1 = (r0 + 1 + ((c.pick >> 3) % (r - 1))) % r;
        const axes = [r0, (c.pick >> 9) & 1 ? r1 - r : r1];
        const [o, po] = matOrds[(c.pick >> 5) % matOrds.length];
        add(
          label(`norm ord=${po}`, c, axes),
          () => norm(t, o, axes, c.keepdims),
          `hp(np.linalg.norm, a, ord=${po}, axis=A(ax), keepdims=kd)`,
          axes,
        );
      }
      if (r === 1 || r === 2) {
        const [o, po] = r === 1 ? [1, "1"] as const : [Infinity, "np.inf"] as const;
        add(
          label(`norm ord=${po}`, c, null),
          () => norm(t, o),
          `hp(np.linalg.norm, a, ord=${po})`,
          null,
        );
      }
    }
    await compare(work);
  },
);

Deno.test("empty reductions: sum 0, prod 1, mean NaN, min/max/argmax throw like numpy", {
  ...needsNumpy,
}, async () => {
  const e = tensor([], { shape: [0, 3] });
  await compare([
    { label: "sum", ours: () => sum(e), ref: { expr: "np.sum(a)", arrays: { a: e } }, tol: {} },
    {
      label: "prod axis 0",
      ours: () => prod(e, 0),
      ref: { expr: "np.prod(a, axis=0)", arrays: { a: e } },
      tol: {},
    },
    { label: "mean", ours: () => mean(e), ref: { expr: "np.mean(a)", arrays: { a: e } }, tol: {} },
    {
      label: "var",
      ours: () => variance(e, 0),
      ref: { expr: "np.var(a, axis=0)", arrays: { a: e } },
      tol: {},
    },
    {
      label: "max over a non-empty axis of an empty tensor",
      ours: () => max(e, 1),
      ref: { expr: "np.max(a, axis=1)", arrays: { a: e } },
      tol: {},
    },
    { label: "any", ours: () => any(e), ref: { expr: "np.any(a)", arrays: { a: e } }, tol: {} },
    {
      label: "all",
      ours: () => all(e, 0),
      ref: { expr: "np.all(a, axis=0)", arrays: { a: e } },
      tol: {},
    },
    {
      label: "cumsum",
      ours: () => cumsum(e, 0),
      ref: { expr: "np.cumsum(a, axis=0)", arrays: { a: e } },
      tol: {},
    },
    {
      label: "norm",
      ours: () => norm(e),
      ref: { expr: "np.linalg.norm(a)", arrays: { a: e } },
      tol: {},
    },
  ]);
  assert.throws(
    () => max(e),
    (err: Error) => err instanceof ShapeError && /max.*\(0, 3\)/.test(err.message),
  );
  assert.throws(() => min(e, 0), ShapeError);
  assert.throws(
    () => argmax(e),
    (err: Error) => err instanceof ShapeError && /argmax.*empty/.test(err.message),
  );
  assert.throws(() => argmin(e, 0), ShapeError);
  assert.throws(() => norm(e, Infinity, 0), ShapeError);
  assert.deepEqual(argmax(e, 1).shape, [0]);
});

Deno.test("bad axes throw IndexError naming the op and the rank", () => {
  const t = tensor([[1, 2], [3, 4]]);
  for (
    const [name, f] of [
      ["sum", () => sum(t, 2)],
      ["mean", () => mean(t, -3)],
      [
        "max",
        () => max(t, [0, 5]),
      ],
      ["argmax", () => argmax(t, 2)],
      ["cumsum", () => cumsum(t, 3)],
      ["softmax", () => softmax(t, 2)],
      [
        "logsumexp",
        () => logsumexp(t, -3),
      ],
    ] as const
  ) {
    assert.throws(
      f,
      (e: Error) =>
        e instanceof IndexError && e.message.startsWith(name) && e.message.includes("rank 2"),
    );
  }
  assert.throws(
    () => sum(t, [0, -2]),
    (e: Error) => e instanceof IndexError && /repeated/.test(e.message),
  );
  assert.throws(() => variance(t, [1, 1]), IndexError);
  assert.throws(
    () => softmax(tensor(1)),
    (e: Error) => e instanceof IndexError && /scalar/.test(e.message),
  );
  assert.throws(() => sum(t, 0.5), IndexError);
});

Deno.test("norm rejects orders it cannot compute with a clear error", () => {
  const m = tensor([[1, 2], [3, 4]]);
  assert.throws(() => norm(m, 2), (e: Error) => e instanceof ShapeError && /SVD/.test(e.message));
  assert.throws(
    () => norm(m, "nuc"),
    (e: Error) => e instanceof ShapeError && /SVD/.test(e.message),
  );
  assert.throws(
    () => norm(m, 3),
    (e: Error) => e instanceof ShapeError && /matrices/.test(e.message),
  );
  assert.throws(
    () => norm(tensor([1, 2]), "fro"),
    (e: Error) => e instanceof ShapeError && /vectors/.test(e.message),
  );
  assert.throws(
    () => norm(m, 1, [0, 0]),
    (e: Error) => e instanceof ShapeError && /duplicate/.test(e.message),
  );
  assert.throws(
    () => norm(tensor([[[1]]]), 1),
    (e: Error) => e instanceof ShapeError && /1-D or 2-D/.test(e.message),
  );
  assert.throws(() => norm(m, 1, [0, 1, 1]), ShapeError);
});

Deno.test(
  "1M-element f32 sum and softmax (fast paths) match numpy",
  { ...needsNumpy },
  async () => {
    const big = makeTensor([1000, 1000], "f32", 21);
    const t0 = performance.now();
    const s = sum(big);
    const s1 = sum(big, 1);
    const sm = softmax(big);
    const lsm = logSoftmax(big);
    const ms = performance.now() - t0;
    assert.ok(ms < 5000, `took ${ms} ms`);
    const refs = await numpy([
      { expr: "hp(np.sum, a)", arrays: { a: big }, setup: SETUP },
      { expr: "hp(np.sum, a, axis=1)", arrays: { a: big }, setup: SETUP },
      { expr: "sm(a, -1)", arrays: { a: big }, setup: SETUP },
      { expr: "lsm(a, -1)", arrays: { a: big }, setup: SETUP },
    ]);
    // f32 sums of 10^6 values accumulate in float64: only the final rounding differs.
    assertMatches(s, refs[0].results[0], { rtol: 1e-6, atol: 1e-3 });
    assertMatches(s1, refs[1].results[0], { rtol: 1e-5, atol: 1e-5 });
    // Two f32 roundings per softmax element (exp stored, then scaled).
    assertMatches(sm, refs[2].results[0], { rtol: 1e-6, atol: 1e-9 });
    assertMatches(lsm, refs[3].results[0], { rtol: 1e-6, atol: 1e-6 });
    for (const x of [big, s, s1, sm, lsm]) x.dispose();
  },
);

Deno.test("reductions accept nested arrays and leak no tensors", () => {
  const before = memory();
  assert.equal(sum([[1, 2], [3, 4]]).item(), 10); // result is collected below
  const results = [
    mean([1, 2, 3]),
    norm([[1, 2], [3, 4]], 1, [0, 1], true),
    norm([[1, 2], [3, 4]], -Infinity),
    softmax([1, 2]),
    cumprod([1, 2, 3]),
    argmax([1, 5, 2]),
  ];
  assert.deepEqual(results[1].shape, [1, 1]);
  assert.equal(results[2].item(), 3);
  for (const r of results) r.dispose();
  const after = memory();
  // Only the un-disposed sum result (one tensor) may remain.
  assert.ok(after.tensors - before.tensors <= 1, `${after.tensors - before.tensors} leaked`);
});

Deno.test("f64 sums are compensated: 1e16 + many ones is exact", () => {
  const vals = new Float64Array(1001).fill(1);
  vals[0] = 1e16;
  assert.equal(sum(tensor(vals)).item(), 1e16 + 1000);
  // Strided f32 sums accumulate in float64 too.
  const f = tensor(new Float32Array(2000).fill(0.1)).slice("::2");
  assert.equal(sum(f).item(), Math.fround(1000 * Math.fround(0.1)));
});
