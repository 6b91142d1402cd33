import assert from "node:assert/strict";
import fc from "fast-check";
import {
  abs,
  acos,
  add,
  asin,
  atan,
  atan2,
  ceil,
  clip,
  ComputeError,
  cos,
  cosh,
  div,
  type DType,
  DTypeError,
  elu,
  eq,
  erf,
  exp,
  expm1,
  floor,
  floorDiv,
  ge,
  gelu,
  gt,
  hardswish,
  isfinite,
  isinf,
  isnan,
  le,
  leakyRelu,
  log,
  log1p,
  log2,
  logaddexp,
  logicalAnd,
  logicalNot,
  logicalOr,
  logicalXor,
  lt,
  maximum,
  memory,
  minimum,
  mish,
  mod,
  mul,
  ne,
  neg,
  pow,
  relu,
  round,
  rsqrt,
  selu,
  ShapeError,
  sigmoid,
  sign,
  silu,
  sin,
  sinh,
  softplus,
  sqrt,
  square,
  sub,
  tan,
  tanh,
  type Tensor,
  tensor,
  type TensorLike,
  zeros,
} from "../../mod.ts";
import {
  assertMatches,
  needsNumpy,
  numpy,
  NUMPY_DTYPES,
  type RefCase,
  toF64,
  type Tolerance,
} from "../helpers/numpy.ts";
import {
  arbBroadcastPair,
  arbShape,
  FC_PARAMS,
  type Layout,
  LAYOUTS,
  makeTensor,
  type ValueOptions,
} from "../helpers/gen.ts";

// ---- the ops under test and their NumPy references ------------------------------------------

type BinaryFn = (a: TensorLike, b: TensorLike) => Tensor;
type UnaryFn = (x: TensorLike) => Tensor;

const BINARY: Record<string, [BinaryFn, string]> = {
  add: [add, "np.add"],
  sub: [sub, "np.subtract"],
  mul: [mul, "np.multiply"],
  div: [div, "np.true_divide"],
  floorDiv: [floorDiv, "np.floor_divide"],
  mod: [mod, "np.remainder"],
  pow: [pow, "np.power"],
  atan2: [atan2, "np.arctan2"],
  logaddexp: [logaddexp, "np.logaddexp"],
  minimum: [minimum, "np.minimum"],
  maximum: [maximum, "np.maximum"],
  eq: [eq, "np.equal"],
  ne: [ne, "np.not_equal"],
  lt: [lt, "np.less"],
  le: [le, "np.less_equal"],
  gt: [gt, "np.greater"],
  ge: [ge, "np.greater_equal"],
  logicalAnd: [logicalAnd, "np.logical_and"],
  logicalOr: [logicalOr, "np.logical_or"],
  logicalXor: [logicalXor, "np.logical_xor"],
};

/**
 * Unary ops: ours, and the NumPy expression over `x`. Ops NumPy lacks are written as NumPy
 * formulas over `X` (x in float64) and cast once to NumPy's float dtype for x (`fr(x)`), which is
 * the dtype rule they follow; `erf` is scipy.special.erf.
 */
const UNARY: Record<string, [UnaryFn, string, "numpy" | "formula"]> = {
  neg: [neg, "np.negative(x)", "numpy"],
  abs: [abs, "np.abs(x)", "numpy"],
  sign: [sign, "np.sign(x)", "numpy"],
  exp: [exp, "np.exp(x)", "numpy"],
  expm1: [expm1, "np.expm1(x)", "numpy"],
  log: [log, "np.log(x)", "numpy"],
  log1p: [log1p, "np.log1p(x)", "numpy"],
  log2: [log2, "np.log2(x)", "numpy"],
  sqrt: [sqrt, "np.sqrt(x)", "numpy"],
  square: [square, "np.square(x)", "numpy"],
  sin: [sin, "np.sin(x)", "numpy"],
  cos: [cos, "np.cos(x)", "numpy"],
  tan: [tan, "np.tan(x)", "numpy"],
  asin: [asin, "np.arcsin(x)", "numpy"],
  acos: [acos, "np.arccos(x)", "numpy"],
  atan: [atan, "np.arctan(x)", "numpy"],
  sinh: [sinh, "np.sinh(x)", "numpy"],
  cosh: [cosh, "np.cosh(x)", "numpy"],
  tanh: [tanh, "np.tanh(x)", "numpy"],
  round: [round, "np.round(x)", "numpy"],
  floor: [floor, "np.floor(x)", "numpy"],
  ceil: [ceil, "np.ceil(x)", "numpy"],
  isnan: [isnan, "np.isnan(x)", "numpy"],
  isinf: [isinf, "np.isinf(x)", "numpy"],
  isfinite: [isfinite, "np.isfinite(x)", "numpy"],
  logicalNot: [logicalNot, "np.logical_not(x)", "numpy"],
  rsqrt: [rsqrt, "1 / np.sqrt(X)", "formula"],
  erf: [erf, "erf(X)", "formula"],
  sigmoid: [sigmoid, "1 / (1 + np.exp(-X))", "formula"],
  relu: [relu, "np.maximum(X, 0)", "formula"],
  leakyRelu: [leakyRelu, "np.where(X >= 0, X, 0.01 * X)", "formula"],
  elu: [elu, "np.where(X > 0, X, np.expm1(X))", "formula"],
  selu: [selu, "SCALE * np.where(X > 0, X, ALPHA * np.expm1(X))", "formula"],
  gelu: [gelu, "0.5 * X * (1 + erf(X / np.sqrt(2)))", "formula"],
  silu: [silu, "X / (1 + np.exp(-X))", "formula"],
  mish: [mish, "X * np.tanh(np.logaddexp(0, X))", "formula"],
  hardswish: [hardswish, "X * np.clip(X + 3, 0, 6) / 6", "formula"],
  softplus: [softplus, "np.where(X > 20, X, np.log1p(np.exp(X)))", "formula"],
};

const SETUP = [
  "from scipy.special import erf",
  "X = x.astype(np.float64)",
  "def fr(x): return np.exp(np.zeros(0, x.dtype)).dtype",
  "SCALE = 1.0507009873554804934193349852946",
  "ALPHA = 1.6732632423543772848170429916717",
].join("\n");

function unaryRef(name: string, x: Tensor): RefCase {
  const [, expr, kind] = UNARY[name];
  return {
    expr: kind === "numpy" ? expr : `np.asarray(${expr}).astype(fr(x))`,
    arrays: { x },
    setup: SETUP,
  };
}

/** Tolerance for a result dtype: looser for f16 (NumPy computes f16 math in f32, we in f64). */
function tolFor(d: DType, loose = false): Tolerance {
  switch (d) {
    case "f16":
      return { rtol: 2e-3, atol: 2e-3 };
    case "bf16":
      return { rtol: 1e-2, atol: 1e-2, dtype: false };
    case "f32":
      return loose ? { rtol: 1e-4, atol: 1e-5 } : {};
    default:
      return {};
  }
}

/** Values in the domain where an op is interesting (others give NaN, still checked elsewhere). */
function domain(op: string, dtype: DType): ValueOptions {
  const float = dtype.startsWith("f") || dtype === "bf16";
  if (!float) return op === "pow" ? { lo: 0, hi: 4 } : {};
  switch (op) {
    case "log":
    case "log1p":
    case "log2":
    case "sqrt":
    case "rsqrt":
      return { lo: -0.5, hi: 6 };
    case "asin":
    case "acos":
      return { lo: -1.1, hi: 1.1 };
    case "softplus":
      return { lo: -30, hi: 30 };
    default:
      return {};
  }
}

interface Check {
  label: string;
  ours: Tensor;
  ref: RefCase;
  tol?: Tolerance;
}

/** Evaluate all references in one NumPy call and compare; frees every tensor involved. */
async function verify(checks: Check[]): Promise<void> {
  try {
    const refs = await numpy(checks.map((c) => c.ref));
    checks.forEach((c, i) => {
      const r = refs[i];
      assert.ok(!r.error, `${c.label}: numpy raised ${r.error}`);
      assertMatches(c.ours, r.results[0], c.tol, c.label);
    });
  } finally {
    for (const c of checks) {
      c.ours.dispose();
      for (const t of Object.values(c.ref.arrays ?? {})) t.dispose();
    }
  }
}

const NP_DTYPES = NUMPY_DTYPES;

// ---- tests -------------------------------------------------------------------------------------

Deno.test("binary ops match numpy on random broadcast shapes, layouts and dtype mixes", {
  ...needsNumpy,
}, async (t) => {
  const pairs = fc.sample(arbBroadcastPair(), { seed: FC_PARAMS.seed, numRuns: 120 });
  const dtypePairs: [DType, DType][] = [
    ["f32", "f32"],
    ["f64", "f64"],
    ["f32", "f64"],
    ["i32", "f32"],
    ["i8", "u8"],
    ["i16", "bool"],
    ["f16", "f16"],
    ["i64", "i32"],
    ["u8", "f16"],
    ["bool", "bool"],
    ["u16", "i8"],
    ["u32", "f64"],
    ["bf16", "bf16"],
    ["bf16", "i8"],
  ];
  const names = Object.keys(BINARY);
  for (const [k, name] of names.entries()) {
    await t.step(`${name} broadcasts like numpy`, async () => {
      const checks: Check[] = [];
      for (let i = 0; i < 14; i++) {
        const [sa, sb] = pairs[(k * 14 + i) % pairs.length];
        let [da, db] = dtypePairs[(i + k) % dtypePairs.length];
        if (name === "sub" && da === "bool" && db === "bool") da = "i8";
        const la: Layout = LAYOUTS[i % 4], lb: Layout = LAYOUTS[(i >> 2) % 4];
        const a = makeTensor(sa, da, 1000 * k + i, la, domain(name, da));
        const b = makeTensor(sb, db, 2000 * k + i, lb, domain(name, db));
        const [fn, np] = BINARY[name];
        const ours = fn(a, b);
        checks.push({
          label: `${name} ${da}${JSON.stringify(sa)} ${la}, ${db}${JSON.stringify(sb)} ${lb}`,
          ours,
          ref: { expr: `${np}(a, b)`, arrays: { a, b } },
          tol: tolFor(ours.dtype, name === "pow"),
        });
      }
      await verify(checks);
    });
  }
});

Deno.test("unary ops match numpy on random shapes, layouts and dtypes", {
  ...needsNumpy,
}, async (t) => {
  const shapes = fc.sample(arbShape(), { seed: 43, numRuns: 100 });
  const dtypes: DType[] = ["f32", "f64", "f16", "bf16", "i8", "u8", "i16", "i32", "bool", "u32"];
  const names = Object.keys(UNARY);
  const checks: Check[] = [];
  for (const [k, name] of names.entries()) {
    for (let i = 0; i < dtypes.length; i++) {
      const d = dtypes[i];
      if (d === "bool" && (name === "neg" || name === "sign")) continue;
      const shape = shapes[(k * 10 + i) % shapes.length];
      const layout = LAYOUTS[(i + k) % 4];
      const x = makeTensor(shape, d, 100 * k + i, layout, domain(name, d));
      const ours = UNARY[name][0](x);
      checks.push({
        label: `${name} ${d}${JSON.stringify(shape)} ${layout}`,
        ours,
        ref: unaryRef(name, x),
        tol: tolFor(ours.dtype),
      });
    }
  }
  await t.step(`${checks.length} cases over ${names.length} ops`, () => verify(checks));
});

Deno.test("every layout pair gives numpy's result", { ...needsNumpy }, async () => {
  const checks: Check[] = [];
  for (const la of LAYOUTS) {
    for (const lb of LAYOUTS) {
      for (const [da, db] of [["f32", "f32"], ["f64", "i32"], ["i16", "u8"]] as [DType, DType][]) {
        const a = makeTensor([3, 4, 5], da, 1, la), b = makeTensor([4, 5], db, 2, lb);
        checks.push({
          label: `add ${da} ${la} + ${db} ${lb}`,
          ours: add(a, b),
          ref: { expr: "a + b", arrays: { a, b } },
        });
        const c = makeTensor([3, 4, 5], da, 3, la), e = makeTensor([3, 1, 5], db, 4, lb);
        checks.push({
          label: `maximum ${da} ${la}, ${db} ${lb}`,
          ours: maximum(c, e),
          ref: { expr: "np.maximum(a, b)", arrays: { a: c, b: e } },
        });
      }
      const x = makeTensor([4, 3, 2], "f32", 5, la);
      checks.push({ label: `exp ${la}`, ours: exp(x), ref: { expr: "np.exp(x)", arrays: { x } } });
    }
  }
  await verify(checks);
});

Deno.test("binary result dtypes and values match numpy for every dtype pair", {
  ...needsNumpy,
}, async (t) => {
  for (const [name, [fn, np]] of Object.entries(BINARY)) {
    await t.step(name, async () => {
      const checks: Check[] = [];
      const raised: boolean[] = [];
      for (const da of NP_DTYPES) {
        for (const db of NP_DTYPES) {
          const a = tensor([0, 1, 2, 5], { dtype: da }), b = tensor([1, 3, 2, 1], { dtype: db });
          let ours: Tensor;
          try {
            ours = fn(a, b);
            raised.push(false);
          } catch (e) {
            assert.ok(e instanceof DTypeError, `${name}(${da}, ${db}) threw ${e}`);
            raised.push(true);
            ours = zeros([0]);
          }
          checks.push({
            label: `${name}(${da}, ${db})`,
            ours,
            ref: { expr: `${np}(a, b)`, arrays: { a, b } },
          });
        }
      }
      const refs = await numpy(checks.map((c) => c.ref));
      try {
        checks.forEach((c, i) => {
          assert.equal(raised[i], !!refs[i].error, `${c.label}: numpy ${refs[i].error ?? "ok"}`);
          if (!raised[i]) assertMatches(c.ours, refs[i].results[0], {}, c.label);
        });
      } finally {
        for (const c of checks) {
          c.ours.dispose();
          for (const x of Object.values(c.ref.arrays ?? {})) x.dispose();
        }
      }
    });
  }
});

Deno.test("unary result dtypes and values match numpy for every dtype", {
  ...needsNumpy,
}, async () => {
  const checks: Check[] = [];
  const raised = new Set<string>();
  for (const name of Object.keys(UNARY)) {
    for (const d of NP_DTYPES) {
      const x = tensor([0, 1, 2, 5], { dtype: d });
      let ours: Tensor;
      try {
        ours = UNARY[name][0](x);
      } catch (e) {
        assert.ok(e instanceof DTypeError, `${name}(${d}) threw ${e}`);
        raised.add(`${name}(${d})`);
        ours = zeros([0]);
      }
      checks.push({ label: `${name}(${d})`, ours, ref: unaryRef(name, x), tol: tolFor(d) });
    }
  }
  const refs = await numpy(checks.map((c) => c.ref));
  try {
    checks.forEach((c, i) => {
      assert.equal(raised.has(c.label), !!refs[i].error, `${c.label}: numpy ${refs[i].error}`);
      if (!raised.has(c.label)) assertMatches(c.ours, refs[i].results[0], c.tol, c.label);
    });
    // NumPy raises exactly for these (UFuncTypeError / TypeError).
    assert.deepEqual([...raised].sort(), ["neg(bool)", "sign(bool)"]);
  } finally {
    for (const c of checks) {
      c.ours.dispose();
      (c.ref.arrays!.x as Tensor).dispose();
    }
  }
});

Deno.test("bf16 operands promote like ml_dtypes and compute like numpy's f32", {
  ...needsNumpy,
}, async () => {
  // NumPy has no bf16: the reference sees the same values as f32; dtypes are checked here.
  const cases: [BinaryFn, string, DType, DType, DType][] = [
    [add, "np.add", "bf16", "bf16", "bf16"],
    [mul, "np.multiply", "bf16", "i8", "bf16"],
    [sub, "np.subtract", "u8", "bf16", "bf16"],
    [div, "np.true_divide", "bf16", "f16", "f32"],
    [maximum, "np.maximum", "bf16", "i16", "f32"],
    [add, "np.add", "bf16", "i32", "f64"],
    [atan2, "np.arctan2", "bf16", "bool", "bf16"],
    [lt, "np.less", "bf16", "f32", "bool"],
  ];
  const checks: Check[] = cases.map(([fn, np, da, db, want], i) => {
    const a = makeTensor([3, 4], da, i), b = makeTensor([4], db, 10 + i);
    const ours = fn(a, b);
    assert.equal(ours.dtype, want, `${np}(${da}, ${db})`);
    return {
      label: `${np}(${da}, ${db})`,
      ours,
      ref: { expr: `${np}(a, b)`, arrays: { a, b } },
      tol: { rtol: 1e-2, atol: 1e-2, dtype: false },
    };
  });
  const x = makeTensor([5, 3], "bf16", 99);
  const e = exp(x);
  assert.equal(e.dtype, "bf16");
  checks.push({
    label: "exp bf16",
    ours: e,
    ref: { expr: "np.exp(x)", arrays: { x } },
    tol: tolFor("bf16"),
  });
  await verify(checks);
});

Deno.test("special values (NaN, ±inf, ±0) match numpy, signs of zero included", {
  ...needsNumpy,
}, async (t) => {
  const specials = [NaN, Infinity, -Infinity, 0, -0, 1, -1, 0.5, -0.5, 1.5, 2.5, -2.5, 3, 1e-300];
  const n = specials.length;
  /** Compare values and, away from NaN, the sign bit NumPy returns as a second result. */
  async function verifySigned(checks: Check[], signed: (label: string) => boolean) {
    const refs = await numpy(
      checks.map((c) => ({ ...c.ref, expr: `(lambda r: [r, np.signbit(r)])(${c.ref.expr})` })),
    );
    try {
      checks.forEach((c, i) => {
        assert.ok(!refs[i].error, `${c.label}: ${refs[i].error}`);
        const [val, sb] = refs[i].results;
        assertMatches(c.ours, val, c.tol, c.label);
        if (!signed(c.label) || !c.ours.dtype.startsWith("f")) return;
        const got = toF64(c.ours);
        got.forEach((v, j) => {
          if (Number.isNaN(v)) return;
          const neg = v < 0 || Object.is(v, -0);
          assert.equal(
            neg,
            sb.values[j] === 1,
            `${c.label} element ${j}: got ${v}, numpy signbit ${sb.values[j]}`,
          );
        });
      });
    } finally {
      for (const c of checks) {
        c.ours.dispose();
        for (const x of Object.values(c.ref.arrays ?? {})) x.dispose();
      }
    }
  }
  for (const d of ["f64", "f32"] as DType[]) {
    await t.step(`binary ops on every pair of specials (${d})`, async () => {
      const checks: Check[] = Object.entries(BINARY).map(([name, [fn, np]]) => {
        const a = tensor(specials, { dtype: d }).reshape([n, 1]);
        const b = tensor(specials, { dtype: d });
        return {
          label: `${name} ${d}`,
          ours: fn(a, b),
          ref: { expr: `${np}(a, b)`, arrays: { a, b } },
        };
      });
      await verifySigned(checks, () => true);
    });
    await t.step(`unary ops on specials (${d})`, async () => {
      const vals = [...specials, 20, -20, 40, -40, 700, 1e300, -1e300, 0.46875, 4, 27, -6];
      const checks: Check[] = Object.keys(UNARY).map((name) => {
        const x = tensor(vals, { dtype: d });
        return { label: name, ours: UNARY[name][0](x), ref: unaryRef(name, x) };
      });
      // Sign bits are NumPy's own only for NumPy's ufuncs, not for the formulas.
      await verifySigned(checks, (label) => UNARY[label][2] === "numpy");
    });
  }
});

Deno.test("parametrized activations and clip match their numpy formulas", {
  ...needsNumpy,
}, async () => {
  const x = () =>
    tensor([-40, -3, -1, -0.5, 0, 0.25, 1, 2.5, 3, 7, 40, NaN, Infinity, -Infinity], {
      dtype: "f64",
    });
  const f32 = () => makeTensor([4, 5], "f32", 3, "transposed", { lo: -5, hi: 5 });
  const cases: [Tensor, string, Tensor][] = [];
  const add1 = (fn: (t: Tensor) => Tensor, expr: string, input: Tensor) =>
    cases.push([fn(input), expr, input]);
  add1((t) => leakyRelu(t, 0.2), "np.where(x >= 0, x, 0.2 * x)", x());
  add1((t) => elu(t, 0.5), "np.where(x > 0, x, 0.5 * np.expm1(x))", x());
  add1((t) => gelu(t, "tanh"), "0.5*x*(1+np.tanh(np.sqrt(2/np.pi)*(x+0.044715*x**3)))", x());
  add1(
    (t) => gelu(t, "tanh"),
    "(0.5*X*(1+np.tanh(np.sqrt(2/np.pi)*(X+0.044715*X**3)))).astype(np.float32)",
    f32(),
  );
  add1((t) => softplus(t, 2, 5), "np.where(2 * x > 5, x, np.log1p(np.exp(2 * x)) / 2)", x());
  add1(
    (t) => softplus(t, 0.5),
    "np.where(0.5 * X > 20, X, np.log1p(np.exp(0.5 * X)) / 0.5).astype(np.float32)",
    f32(),
  );
  add1((t) => clip(t, -1, 2), "np.clip(x, -1, 2)", x());
  add1((t) => clip(t, null, 0.5), "np.clip(x, None, 0.5)", x());
  add1((t) => clip(t, 0.25, null), "np.clip(x, 0.25, None)", f32());
  add1((t) => clip(t, -10, 10), "np.clip(x, -10, 10)", makeTensor([7], "i16", 4, "strided"));
  add1((t) => clip(t, 0, 1000), "np.clip(x, 0, 1000)", makeTensor([7], "i8", 4));
  await verify(cases.map(([ours, expr, x], i) => ({
    label: `case ${i}: ${expr}`,
    ours,
    ref: { expr, arrays: { x }, setup: "X = x.astype(np.float64)" },
  })));
});

Deno.test("erf matches scipy.special.erf to 1e-12 in f64", { ...needsNumpy }, async () => {
  const vals: number[] = [];
  for (let i = 0; i <= 3000; i++) vals.push(-7 + (14 * i) / 3000);
  vals.push(
    1e-300,
    -1e-20,
    1e-9,
    0.46875,
    -0.46875,
    0.4687500001,
    4,
    4.0000001,
    5.5,
    26.5,
    27,
    1e10,
  );
  const x = tensor(vals, { dtype: "f64" });
  const g = tensor(vals.filter((v) => Math.abs(v) < 8), { dtype: "f64" });
  await verify([
    {
      label: "erf",
      ours: erf(x),
      ref: { expr: "erf(x)", arrays: { x }, setup: "from scipy.special import erf" },
      tol: { rtol: 1e-12, atol: 1e-300 },
    },
    {
      label: "gelu exact",
      ours: gelu(g),
      ref: {
        expr: "0.5 * x * (1 + erf(x / np.sqrt(2)))",
        arrays: { x: g },
        setup: "from scipy.special import erf",
      },
      // 1 + erf(x/√2) cancels for x ≪ 0 in the reference formula as in ours: absolute bound.
      tol: { rtol: 1e-12, atol: 1e-15 },
    },
  ]);
});

Deno.test("integer arithmetic wraps and divides like numpy", { ...needsNumpy }, async () => {
  const i32 = (v: number[]) => tensor(v, { dtype: "i32" });
  const cases: [() => Tensor, string, Record<string, Tensor>][] = [];
  const a8 = tensor([100, -128, 127, -7, 7, 0], { dtype: "i8" });
  const b8 = tensor([100, -1, 1, 2, -2, 0], { dtype: "i8" });
  const big = i32([65536, 123456789, -2147483648, 46341, -99999, 7]);
  const big2 = i32([65536, 987654321, -1, 46341, 99999, 0]);
  const u32 = tensor([4000000000, 3, 65537, 1], { dtype: "u32" });
  const exps = i32([31, 19, 0, 2, 7, 40]);
  for (const [name, [, np]] of Object.entries(BINARY)) {
    if (name === "pow") continue;
    cases.push([() => BINARY[name][0](a8, b8), `${np}(a, b)`, { a: a8, b: b8 }]);
    cases.push([() => BINARY[name][0](big, big2), `${np}(a, b)`, { a: big, b: big2 }]);
  }
  cases.push([() => pow(i32([3, 3, 5, -7, 2, -1]), exps), "np.power(a, b)", {
    a: i32([3, 3, 5, -7, 2, -1]),
    b: exps,
  }]);
  cases.push([() => pow(a8, tensor([3, 2, 5, 3, 9, 0], { dtype: "i8" })), "np.power(a, b)", {
    a: a8,
    b: tensor([3, 2, 5, 3, 9, 0], { dtype: "i8" }),
  }]);
  cases.push([() => mul(u32, u32), "a * a", { a: u32 }]);
  cases.push([() => square(big), "np.square(a)", { a: big }]);
  cases.push([() => abs(a8), "np.abs(a)", { a: a8 }]);
  cases.push([() => neg(a8), "np.negative(a)", { a: a8 }]);
  cases.push([() => neg(tensor([0, 1, 255], { dtype: "u8" })), "np.negative(a)", {
    a: tensor([0, 1, 255], { dtype: "u8" }),
  }]);
  const checks = cases.map(([f, expr, arrays], i) => ({
    label: `case ${i}: ${expr}`,
    ours: f(),
    ref: { expr, arrays },
  }));
  const refs = await numpy(checks.map((c) => c.ref));
  checks.forEach((c, i) => {
    assert.ok(!refs[i].error, `${c.label}: ${refs[i].error}`);
    assertMatches(c.ours, refs[i].results[0], {}, c.label);
    c.ours.dispose();
  });
  assert.deepEqual(add(tensor([100], { dtype: "i8" }), 100).toArraySync(), [-56]);
});

Deno.test("f64 pow, floorDiv and mod on hard operands match numpy", { ...needsNumpy }, async () => {
  // pow within 1 ulp of glibc's (both ≤ 0.51 ulp): x near 1 with huge y, results at the
  // overflow edge and in the subnormal range, integer and half powers, huge and tiny bases.
  // floorDiv / mod: exact (an exact fmod), huge quotients, subnormals, signs.
  const f64 = (v: number[]) => tensor(v, { dtype: "f64" });
  const px = f64([
    1 + 1e-10,
    1 - 1e-12,
    2,
    0.5,
    10,
    1e-300,
    1.7e308,
    -3,
    -2.5,
    7.25,
    1e10,
    0.9999,
    3,
  ]);
  const py = f64([1e12, 3e13, 1023.9, -1074.5, 308.2, 1.08, 1, 3, 2, 0.5, -30.5, 7e6, -2]);
  const dx = f64([1e308, -1.7e308, 5e-324, -1e300, 2 ** 60 + 512, 1e22, -2.5e-310, 123.456, 7, -0]);
  const dy = f64([3e-308, 5e-324, 3e-320, 7.1, 3, 0.1, 1e-311, -1e-300, -1e-320, 5]);
  const exact = { rtol: 0, atol: 0 };
  const cases: [Tensor, string, Record<string, Tensor>, { rtol: number; atol: number }][] = [
    [pow(px, py), "np.power(a, b)", { a: px, b: py }, { rtol: 2.3e-16, atol: 1e-323 }],
    [floorDiv(dx, dy), "np.floor_divide(a, b)", { a: dx, b: dy }, exact],
    [floorDiv(dy, dx), "np.floor_divide(b, a)", { a: dx, b: dy }, exact],
    [mod(dx, dy), "np.remainder(a, b)", { a: dx, b: dy }, exact],
    [mod(dy, dx), "np.remainder(b, a)", { a: dx, b: dy }, exact],
  ];
  const refs = await numpy(cases.map(([, expr, arrays]) => ({ expr, arrays })));
  cases.forEach(([ours, expr, , tol], i) => {
    assert.ok(!refs[i].error, `${expr}: ${refs[i].error}`);
    assertMatches(ours, refs[i].results[0], tol, expr);
    ours.dispose();
  });
  for (const t of [px, py, dx, dy]) t.dispose();
});

Deno.test("JS numbers are weak scalars (NEP 50), with our documented int+float → f32", {
  ...needsNumpy,
}, async () => {
  const checks: Check[] = [];
  const ops = ["add", "sub", "mul", "div", "floorDiv", "pow", "maximum", "lt", "eq", "logicalAnd"];
  NP_DTYPES.forEach((d, k) => {
    const cases: [string, number | boolean, boolean][] = [];
    for (const s of [3, 2.5, true, -0.1]) {
      for (const op of ops) {
        if (!(op === "sub" && d === "bool" && s === true)) cases.push([op, s, false]);
      }
    }
    cases.push(["sub", 7, true], ["div", 1, true], ["ge", 1.5, true], ["pow", 2, true]);
    cases.forEach(([op, s, first], i) => {
      const a = makeTensor([2, 3], d, 100 * k + i, "contiguous", { lo: 0, hi: 4 });
      const [fn, np] = BINARY[op];
      const ours = fn(...(first ? [s, a] : [a, s]) as [TensorLike, TensorLike]);
      // Deliberate difference (core/dtype.ts scalarPromote): a fractional number with an int or
      // bool tensor acts as f32 (NumPy: f64), an integer with a bool tensor as i32 (NumPy:
      // int64). The reference is NumPy with both operands of that dtype.
      const fractional = typeof s === "number" && !Number.isInteger(s);
      const boolResult = ["lt", "eq", "ge", "logicalAnd"].includes(op);
      const p = fractional && !d.startsWith("f")
        ? "float32"
        : d === "bool" && typeof s === "number"
        ? "int32"
        : null;
      const [x, y] = p && !boolResult
        ? [`a.astype(np.${p})`, `np.array(s, dtype=np.${p})`]
        : ["a", "s"];
      checks.push({
        label: `${op}(${first ? `${s}, ${d}` : `${d}, ${s}`})`,
        ours,
        ref: {
          expr: first ? `${np}(${y}, ${x})` : `${np}(${x}, ${y})`,
          arrays: { a },
          scalars: { s },
        },
        tol: tolFor(ours.dtype),
      });
    });
  });
  await verify(checks);
  // A float scalar is cast to the float tensor's dtype first, as NumPy does: f32(0.1) == 0.1.
  assert.deepEqual(eq(tensor([0.1]), 0.1).toArraySync(), [true]);
  // Comparisons use the exact number, even out of the integer dtype's range.
  assert.deepEqual(lt(tensor([1, 255], { dtype: "u8" }), 300).toArraySync(), [true, true]);
  assert.deepEqual(gt(tensor([3], { dtype: "i32" }), 2.5).toArraySync(), [true]);
  assert.equal(add(tensor([1], { dtype: "i8" }), 2.5).dtype, "f32");
  assert.equal(add(tensor([1], { dtype: "i32" }), 2.5).dtype, "f32");
  assert.equal(add(tensor([true]), 1).dtype, "i32");
  assert.equal(add(2, 3).dtype, "f32");
});

Deno.test("fast paths for float add/sub/mul/div agree with numpy, contiguous and broadcast", {
  ...needsNumpy,
}, async () => {
  const checks: Check[] = [];
  for (const d of ["f32", "f64", "f16"] as DType[]) {
    for (const [name, np] of [["add", "+"], ["sub", "-"], ["mul", "*"], ["div", "/"]]) {
      const a = makeTensor([64, 33], d, 1),
        b = makeTensor([64, 33], d, 2),
        c = makeTensor([33], d, 3);
      const s = makeTensor([], d, 4);
      const fn = BINARY[name][0];
      checks.push({
        label: `${name} ${d}`,
        ours: fn(a, b),
        ref: { expr: `a ${np} b`, arrays: { a, b } },
      });
      checks.push({
        label: `${name} ${d} row`,
        ours: fn(a, c),
        ref: { expr: `a ${np} b`, arrays: { a, b: c } },
      });
      checks.push({
        label: `${name} ${d} col`,
        ours: fn(c, a),
        ref: { expr: `b ${np} a`, arrays: { a, b: c } },
      });
      checks.push({
        label: `${name} ${d} 0-d`,
        ours: fn(a, s),
        ref: { expr: `a ${np} b`, arrays: { a, b: s } },
      });
    }
  }
  await verify(checks);
});

Deno.test("broadcasting mismatch is a ShapeError naming both shapes", () => {
  const a = zeros([2, 3]), b = zeros([4]);
  assert.throws(() => add(a, b), (e: Error) => {
    assert.ok(e instanceof ShapeError);
    assert.match(e.message, /add/);
    assert.match(e.message, /\(2, 3\)/);
    assert.match(e.message, /\(4,\)/);
    return true;
  });
  assert.throws(() => a.mul(zeros([3, 2])), ShapeError);
});

Deno.test("bad dtypes and values raise typed errors like numpy", () => {
  const bools = tensor([true, false]);
  assert.throws(() => neg(bools), (e: Error) => e instanceof DTypeError && /neg/.test(e.message));
  assert.throws(() => sign(bools), DTypeError);
  assert.throws(
    () => sub(bools, bools),
    (e: Error) => e instanceof DTypeError && /logicalXor/.test(e.message),
  );
  assert.throws(() => sub(bools, true), DTypeError);
  assert.throws(
    () => pow(tensor([2, 3], { dtype: "i32" }), tensor([1, -1], { dtype: "i32" })),
    (e: Error) => e instanceof DTypeError && /negative integer powers/.test(e.message),
  );
  assert.throws(() => pow(tensor([2], { dtype: "i64" }), -2), DTypeError);
  assert.throws(
    () => add(tensor([1], { dtype: "u8" }), 300),
    (e: Error) => e instanceof DTypeError && /300/.test(e.message) && /u8/.test(e.message),
  );
  assert.throws(() => sub(tensor([1], { dtype: "u8" }), -1), DTypeError);
  assert.throws(() => gelu(tensor([1]), "fast" as "tanh"), ComputeError);
  // Float pow with a negative exponent is fine.
  assert.deepEqual(pow(tensor([2]), -1).toArraySync(), [0.5]);
});

Deno.test("ops take nested arrays and numbers, leave inputs untouched and leak nothing", () => {
  const before = memory().tensors;
  const a = tensor([[1, 2], [3, 4]]);
  const r1 = add([1, 2], [[10], [20]]);
  assert.deepEqual(r1.toArraySync(), [[11, 12], [21, 22]]);
  const r2 = mul(3, a);
  assert.deepEqual(r2.toArraySync(), [[3, 6], [9, 12]]);
  const a1 = a.sub(1), r3 = a1.div(2);
  assert.deepEqual(r3.toArraySync(), [[0, 0.5], [1, 1.5]]);
  assert.deepEqual(a.toArraySync(), [[1, 2], [3, 4]]);
  assert.throws(() => sub([true], [false]), DTypeError);
  assert.throws(() => add([1, 2, 3], [1, 2]), ShapeError);
  const u = tensor([1], { dtype: "u8" });
  assert.throws(() => add(u, -5), DTypeError);
  for (const t of [a, a1, u, r1, r2, r3]) t.dispose();
  assert.equal(memory().tensors, before);
});

Deno.test("tensor methods call the same ops", () => {
  const a = tensor([1, -2, 3]), b = tensor([2, 2, 2]);
  const show = (t: Tensor) => {
    const v = t.toArraySync();
    t.dispose();
    return v;
  };
  assert.deepEqual(show(a.add(b)), [3, 0, 5]);
  assert.deepEqual(show(a.floorDiv(b)), [0, -1, 1]);
  assert.deepEqual(show(a.mod(b)), [1, 0, 1]);
  assert.deepEqual(show(a.pow(2)), [1, 4, 9]);
  assert.deepEqual(show(a.minimum(0)), [0, -2, 0]);
  assert.deepEqual(show(a.maximum(0)), [1, 0, 3]);
  assert.deepEqual(show(a.neg()), [-1, 2, -3]);
  assert.deepEqual(show(a.abs()), [1, 2, 3]);
  assert.deepEqual(show(a.square()), [1, 4, 9]);
  assert.deepEqual(show(a.relu()), [1, 0, 3]);
  assert.deepEqual(show(a.clip(-1, 2)), [1, -1, 2]);
  assert.deepEqual(show(a.eq(b.sub(1))), [true, false, false]);
  assert.deepEqual(show(a.ne(1)), [false, true, true]);
  assert.deepEqual(show(a.lt(0)), [false, true, false]);
  assert.deepEqual(show(a.le(1)), [true, true, false]);
  assert.deepEqual(show(a.gt(1)), [false, false, true]);
  assert.deepEqual(show(a.ge(3)), [false, false, true]);
  assert.deepEqual(show(tensor([4]).sqrt()), [2]);
  assert.deepEqual(show(tensor([0]).exp()), [1]);
  assert.deepEqual(show(tensor([1]).log()), [0]);
  assert.deepEqual(show(tensor([0]).tanh()), [0]);
  assert.deepEqual(show(tensor([0]).sigmoid()), [0.5]);
  a.dispose();
  b.dispose();
});

Deno.test("empty and 0-d tensors broadcast like numpy", () => {
  const e = add(zeros([0, 3]), zeros([3]));
  assert.deepEqual(e.shape, [0, 3]);
  const s = add(tensor(2), tensor([[1], [2]]));
  assert.deepEqual(s.toArraySync(), [[3], [4]]);
  const z = exp(tensor(0));
  assert.deepEqual(z.shape, []);
  assert.equal(z.item(), 1);
  for (const t of [e, s, z]) t.dispose();
});
