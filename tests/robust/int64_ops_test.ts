/**
 * Issue 19, class 6 over every op that takes i64: elementwise arithmetic (floor division and
 * modulo of negatives, MIN // -1, integer powers), min/max/clip, comparisons past 2^53,
 * reductions and scans, sort/argsort, matmul/dot/einsum/outer, scatterAdd/where, astype both
 * ways near ±2^63 and creation from bigints — each against NumPy's int64 on values near ±2^53
 * and ±2^63. The ops run with every CPU plugin registered (WASM, OpenBLAS when present), so a
 * plugin that took i64 and computed it in float64 would fail here; the trace says which ran.
 */
import assert from "node:assert/strict";
import {
  dot,
  einsum,
  full,
  matmul,
  outer,
  scatterAdd,
  type Tensor,
  tensor,
  traceKernels,
  where,
} from "../../mod.ts";
import { needsNumpy, PYTHON } from "../helpers/numpy.ts";

const P53 = 2n ** 53n, MIN = -(2n ** 63n), MAX = 2n ** 63n - 1n;
/** 12 values (a 3×4 matrix) near ±2^53 and ±2^63, with small ones and zero. */
const VALS = [
  P53 + 1n,
  -P53 - 3n,
  2n ** 62n + 12345n,
  MIN,
  MAX,
  987654321987654321n,
  -7n,
  7n,
  0n,
  3037000500n,
  -4611686018427387905n,
  P53,
];
/** Divisors/exponents: negatives, ±1, zero, and large. */
const DIVS = [-1n, 2n, P53, -3n, -1n, 10n, 2n, -2n, 3n, 0n, 7n, -(P53 + 1n)];
const EXPS = [2n, 3n, 1n, 0n, 2n, 2n, 5n, 21n, 0n, 2n, 3n, 1n];
/** Values for the float → i64 cast: in range near 2^63, out of range, non-finite. */
const FLOATS = [2 ** 62, -(2 ** 63), 2 ** 63, 1e19, -1e19, 9007199254740993, 2.75, -2.75];

const PY = `
import numpy as np, json, sys
a = json.loads(sys.argv[1])
V = np.array([int(s) for s in a["vals"]], dtype=np.int64)
D = np.array([int(s) for s in a["divs"]], dtype=np.int64)
E = np.array([int(s) for s in a["exps"]], dtype=np.int64)
F = np.array(a["floats"], dtype=np.float64)
x = V.reshape(3, 4); d = D.reshape(3, 4); xt = x.T; i32 = np.arange(-6, 6, dtype=np.int32).reshape(3, 4)
small = np.array([[3, -2, 5], [7, 11, -13]], dtype=np.int64) * np.int64(2**31 + 1)
with np.errstate(all="ignore"):
  r = dict(
    floorDiv=x // d, mod=x % d, pow=x ** E.reshape(3, 4), minimum=np.minimum(x, d),
    maximum=np.maximum(x, xt.T[::-1]), eq=x == V[::-1].reshape(3, 4), lt=x < V[::-1].reshape(3, 4),
    ge=x >= d, ne=x != d, gt=xt > xt[::-1], le=x <= d,
    mixedAdd=x + i32, mixedFloorDiv=x // (i32 | 1), mixedMax=np.maximum(x, i32),
    minDivNeg1=np.array([V.min() // np.int64(-1)]), modScalar=x % np.int64(-3), addScalar=x + np.int64(1),
    neg=-x, abs=np.abs(x), sign=np.sign(x), square=x * x, clip=np.clip(x, -10**15, 10**15),
    sum0=x.sum(0), sum1=x.sum(1), prod0=d.prod(0), prodAll=np.array([x[2].prod()]),
    max0=x.max(0), min1=x.min(1), maxAll=np.array([x.max()]), argmax0=x.argmax(0),
    argmin1=x.argmin(1), argmaxAll=np.array([x.argmax()]),
    cumsum1=np.cumsum(x, 1), cumsumFlat=np.cumsum(x), cumprod0=np.cumprod(d, 0),
    sort=np.sort(x, 1), sortT=np.sort(xt, 0), argsort=np.argsort(x, 1, kind="stable"),
    matmul=small.T @ small, dot=np.dot(V[:6], V[6:]), outer=np.outer(V[:3], V[9:]),
    einsum=np.einsum("ij,ij->i", x, d),
    f64=V.astype(np.float64), f32=V.astype(np.float32), i32=V.astype(np.int32),
    u32=V.astype(np.uint32), u8=V.astype(np.uint8), b=V.astype(np.bool_), fromF=F.astype(np.int64),
  )
def enc(e):
  e = e.item()
  return e if isinstance(e, float) else str(e)
print(json.dumps({k: [enc(e) for e in np.asarray(v).ravel()] for k, v in r.items()}))`;

function strs(t: Tensor): string[] {
  const c = t.contiguous();
  const d = c.dataSync();
  c.dispose();
  return Array.from(
    d as ArrayLike<unknown>,
    (v) => (t.dtype === "bool" ? (v ? "True" : "False") : String(v)),
  );
}

Deno.test({
  name: "class 6 (every op): i64 ops equal NumPy's int64 near ±2^53 and ±2^63, on every plugin",
  ...needsNumpy,
  fn: async () => {
    const x = tensor(VALS).reshape([3, 4]), d = tensor(DIVS).reshape([3, 4]);
    const e = tensor(EXPS).reshape([3, 4]), xt = x.T;
    const rev = tensor(VALS.slice().reverse()).reshape([3, 4]);
    const i32 = tensor(Array.from({ length: 12 }, (_, k) => k - 6), { dtype: "i32" })
      .reshape([3, 4]);
    const i32odd = tensor(Array.from({ length: 12 }, (_, k) => (k - 6) | 1), { dtype: "i32" })
      .reshape([3, 4]);
    const small = tensor([[3n, -2n, 5n], [7n, 11n, -13n]]).mul(2n ** 31n + 1n as never);
    const v = tensor(VALS);
    const { result: ours, trace } = traceKernels(() => ({
      floorDiv: x.floorDiv(d),
      mod: x.mod(d),
      pow: x.pow(e),
      minimum: x.minimum(d),
      maximum: x.maximum(xt.T.flip(0)),
      eq: x.eq(rev),
      lt: x.lt(rev),
      ge: x.ge(d),
      ne: x.ne(d),
      gt: xt.gt(xt.flip(0)),
      le: x.le(d),
      mixedAdd: x.add(i32),
      mixedFloorDiv: x.floorDiv(i32odd),
      mixedMax: x.maximum(i32),
      minDivNeg1: tensor([MIN]).floorDiv(-1),
      modScalar: x.mod(-3),
      addScalar: x.add(1),
      neg: x.neg(),
      abs: x.abs(),
      sign: x.sign(),
      square: x.square(),
      clip: x.clip(-1e15, 1e15),
      sum0: x.sum(0),
      sum1: x.sum(1),
      prod0: d.prod(0),
      prodAll: tensor(VALS.slice(8)).prod().reshape([1]),
      max0: x.max(0),
      min1: x.min(1),
      maxAll: x.max().reshape([1]),
      argmax0: x.argmax(0),
      argmin1: x.argmin(1),
      argmaxAll: x.argmax().reshape([1]),
      cumsum1: x.cumsum(1),
      cumsumFlat: x.cumsum(),
      cumprod0: d.cumprod(0),
      sort: x.sort(1),
      sortT: xt.sort(0),
      argsort: x.argsort(1),
      matmul: matmul(small.T, small),
      dot: dot(tensor(VALS.slice(0, 6)), tensor(VALS.slice(6))).reshape([1]),
      outer: outer(tensor(VALS.slice(0, 3)), tensor(VALS.slice(9))),
      einsum: einsum("ij,ij->i", x, d),
      f64: v.astype("f64"),
      f32: v.astype("f32"),
      i32: v.astype("i32"),
      u32: v.astype("u32"),
      u8: v.astype("u8"),
      b: v.astype("bool"),
      fromF: tensor(FLOATS, { dtype: "f64" }).astype("i64"),
    }));
    const o = await new Deno.Command(PYTHON!, {
      args: [
        "-c",
        PY,
        JSON.stringify({
          vals: VALS.map(String),
          divs: DIVS.map(String),
          exps: EXPS.map(String),
          floats: FLOATS,
        }),
      ],
    }).output();
    assert.equal(o.code, 0, new TextDecoder().decode(o.stderr));
    const ref = JSON.parse(new TextDecoder().decode(o.stdout)) as Record<string, unknown[]>;
    for (const [k, t] of Object.entries(ours)) {
      assert.deepEqual(strs(t), ref[k].map(String), k); // floats: JSON numbers, exact
      t.dispose();
    }
    // Which plugins ran: every CPU plugin present had the chance; none changed a value above.
    const ran = new Set(trace.map((r) => r.backend));
    assert.ok(ran.has("scalar"), `plugins that ran: ${[...ran]}`);
  },
});

Deno.test("class 6 (variant): bigint creation keeps 64 bits; integer powers refuse negatives", () => {
  assert.equal(full([2], P53 + 1n).dataSync()[1], P53 + 1n);
  assert.equal(full([1], P53 + 1n).dtype, "i64");
  assert.throws(() => full([1], 2n ** 63n), /out of bounds for i64/);
  // A bigint anywhere (not only first) makes the data i64 and keeps its bits.
  const t = tensor([1, 2n ** 60n + 1n]);
  assert.equal(t.dtype, "i64");
  assert.equal(t.dataSync()[1], 2n ** 60n + 1n);
  assert.equal(tensor([1n, 2.5]).dtype, "f64");
  // A BigInt64Array into a narrower dtype wraps from all 64 bits, like astype.
  assert.deepEqual(
    Array.from(
      tensor(new BigInt64Array([P53 + 1n, -1n]), { dtype: "i32" }).dataSync() as Int32Array,
    ),
    [1, -1],
  );
  assert.throws(() => tensor([2n]).pow(tensor([-1n])), /negative integer powers/);
  // scatterAdd and where into i64 stay exact.
  const s = scatterAdd(tensor([P53, 0n]), 0, [0, 0], tensor([1n, 1n]));
  assert.equal(s.dataSync()[0], P53 + 2n);
  const w = where(tensor([true, false]), tensor([P53 + 1n, 0n]), tensor([1, 2], { dtype: "i32" }));
  assert.deepEqual(Array.from(w.dataSync() as BigInt64Array), [P53 + 1n, 2n]);
});
