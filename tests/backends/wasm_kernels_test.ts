/**
 * The WASM plugin's elementwise, reduction, softmax and conv2d kernels against the scalar
 * backend's kernels on the same inputs (random shapes, broadcasting, non-contiguous views), f32
 * and f64; routing (traceKernels shows wasm ran them, and that declined calls fall back); the f32
 * exp/log accuracy in ulps; threads; and the heap after 10k ops in tidy().
 *
 * Tolerances (relative, per element, against the scalar backend, which computes in f64 and
 * rounds once):
 * - add sub mul div minimum maximum neg abs relu square sqrt: exact (bitwise, NaN = NaN).
 * - f32 exp, log: rtol 3e-7 (the SIMD polynomials are ≤ 2 ulp; a 1 ulp error is ≤ 1.2e-7
 *   relative); tanh sigmoid silu gelu(tanh): rtol 1e-6 (composed of exp, a division and a few
 *   roundings; gelu rtol 2e-6 on |x| ≤ 4, since its exp argument 2u is itself rounded to f32, which adds
 *   |2u|·6e-8 relative error, as in any f32 gelu). Subnormal f32 results: absolute 1e-36.
 *   f64: exp, log rtol 1e-15; tanh sigmoid silu rtol 1e-14; gelu 1e-11 (the scalar reference's
 *   0.5·x·(1 + tanh u) cancels for x < 0, where ours computes x·sigmoid(2u)).
 * - sums and means: rtol 1e-6 for f32 (contiguous lines add blocks of 256 in f32x4 lanes, each
 *   block widened into f64 lanes: ≤ 11 f32 roundings per element, fewer than NumPy's pairwise
 *   sum; strided lines accumulate in f64 lanes), plus an absolute 2e-8·Σ|x| where sums cancel;
 *   1e-12 for f64 (compensated lanes vs the scalar Neumaier sum); max/min/argmax/argmin exact.
 * - softmax/logSoftmax: f32 rtol 4e-6 on inputs in [-20, 20] (x − max is rounded to f32 before
 *   exp, as NumPy's float32 softmax does, adding |x − max|·6e-8 relative error; the scalar
 *   backend subtracts in f64), f64 rtol 1e-13; logSoftmax also atol 1e-13, for the reference's
 *   cancellation in x − (max + log z) (ours computes (x − max) − log z).
 * - conv2d f32: |ours − ref| ≤ 1e-5 · Σ|w·x| per output (f32 accumulation vs f64).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  acos,
  all,
  any,
  asin,
  atan,
  atan2,
  broadcastShapes,
  clip,
  conv2d,
  cos,
  cosh,
  cumprod,
  cumsum,
  type DType,
  elu,
  hardswish,
  isfinite,
  isinf,
  isnan,
  leakyRelu,
  logicalAnd,
  logicalNot,
  logicalOr,
  logicalXor,
  logsumexp,
  mish,
  norm,
  prod,
  ready,
  scalarBackend,
  selu,
  sin,
  sinh,
  softplus,
  std,
  tan,
  type Tensor,
  tensor,
  tidy,
  traceKernels,
  variance,
  where,
} from "../../mod.ts";
import { setHostAllocator } from "../../internal.ts";
import { setWasmThreads, wasmHeapStats, wasmThreads } from "../../backends/wasm/mod.ts";
import { loadRuntime } from "../../backends/cpu/runtime.ts";
import { arbBroadcastPair, arbShape, type Layout, makeTensor, rng } from "../helpers/gen.ts";
import { blasAvailable, convBackends, runOn } from "../helpers/kernels.ts";

await ready();
const LAYOUTS: Layout[] = ["contiguous", "transposed", "strided", "expanded"];

/** The scalar backend's kernel `op` on `inputs` into a fresh output. */
const scalarRun = (
  op: string,
  inputs: Tensor[],
  shape: readonly number[],
  dtype: DType,
  attrs: Record<string, unknown> = {},
) => runOn(scalarBackend, op, inputs, shape, dtype, attrs);

/** Run `fn`, assert the last kernel ran on `backend`, and return its result. */
function on<T>(backend: string, op: string, fn: () => T): T {
  const { result, trace } = traceKernels(fn);
  const rec = trace.filter((r) => r.op === op).at(-1);
  assert.equal(rec?.backend, backend, `${op} ran on ${rec?.backend}, expected ${backend}`);
  return result;
}

/** Elementwise |a − b| ≤ atol + rtol·|b| with NaN matching NaN; rtol 0 and atol 0 = bitwise. */
function assertClose(ours: Tensor, ref: Tensor, rtol: number, atol = 0, what = ""): void {
  assert.deepEqual(ours.shape, ref.shape, `${what}: shape`);
  assert.equal(ours.dtype, ref.dtype, `${what}: dtype`);
  const a = ours.dataSync() as ArrayLike<number | bigint>,
    b = ref.dataSync() as ArrayLike<
      number | bigint
    >;
  for (let i = 0; i < a.length; i++) {
    const x = Number(a[i]), y = Number(b[i]);
    if (Number.isNaN(y)) {
      assert.ok(Number.isNaN(x), `${what}: [${i}] ours ${x}, expected NaN`);
      continue;
    }
    if (rtol === 0 && atol === 0) {
      assert.ok(Object.is(x, y), `${what}: [${i}] ours ${x}, reference ${y}`);
      continue;
    }
    if (x === y) continue;
    assert.ok(
      Math.abs(x - y) <= atol + rtol * Math.abs(y),
      `${what}: [${i}] ours ${x}, reference ${y} (rel ${Math.abs(x - y) / Math.abs(y)})`,
    );
  }
}

const BIN = ["add", "sub", "mul", "div", "minimum", "maximum"] as const;

Deno.test("wasm elementwise kernels", async (t) => {
  await t.step("binary ops match the scalar backend bitwise on broadcast, strided views", () => {
    const pairs = fc.sample(arbBroadcastPair({ maxRank: 4, maxDim: 6 }), { seed: 7, numRuns: 60 });
    let k = 0;
    for (const dtype of ["f32", "f64"] as DType[]) {
      for (const [sa, sb] of pairs) {
        const la = LAYOUTS[k % 4], lb = LAYOUTS[(k >> 2) % 4];
        const a = makeTensor(sa, dtype, k, la, { lo: -3, hi: 3 });
        const b = makeTensor(sb, dtype, k + 1000, lb, { lo: -3, hi: 3 });
        const op = BIN[k++ % BIN.length];
        const ours = on(
          "wasm",
          op,
          () => (a as unknown as Record<string, (x: Tensor) => Tensor>)[op](b),
        );
        const ref = scalarRun(op, [a, b], ours.shape, dtype);
        assertClose(
          ours,
          ref,
          0,
          0,
          `${op} ${dtype} ${la}${JSON.stringify(sa)} ${lb}${JSON.stringify(sb)}`,
        );
        for (const x of [a, b, ours, ref]) x.dispose();
      }
    }
  });

  await t.step("comparisons and predicates (bool outputs) match the scalar backend", () => {
    const pairs = fc.sample(arbBroadcastPair({ maxRank: 4, maxDim: 6 }), { seed: 9, numRuns: 40 });
    const CMP = ["eq", "ne", "lt", "le", "gt", "ge"] as const;
    const PRED = { isnan, isinf, isfinite };
    let k = 0;
    for (const dtype of ["f32", "f64"] as DType[]) {
      for (const [sa, sb] of pairs) {
        const la = LAYOUTS[k % 4], lb = LAYOUTS[(k >> 2) % 4];
        // Few distinct values (ties), NaN and infinities among them.
        const vals = [NaN, -Infinity, Infinity, -1, 0, 1, 2];
        const pick = (s: number[], seed: number, layout: Layout) => {
          const t = makeTensor(s, dtype, seed, layout, { lo: 0, hi: vals.length - 0.01 });
          const q = tensor(
            Array.from(t.dataSync() as Float64Array, (v) => vals[Math.floor(v)]),
            { dtype, shape: s },
          );
          t.dispose();
          return q;
        };
        const a = pick(sa, k, la), b = pick(sb, k + 1000, lb);
        const op = CMP[k++ % CMP.length];
        const ours = on("wasm", op, () => a[op](b));
        const ref = scalarRun(op, [a, b], ours.shape, "bool");
        assert.deepEqual(ours.dataSync(), ref.dataSync(), `${op} ${dtype} ${sa} ${sb}`);
        for (const [name, fn] of Object.entries(PRED)) {
          const p = on("wasm", name, () => fn(a));
          const pr = scalarRun(name, [a], p.shape, "bool");
          assert.deepEqual(p.dataSync(), pr.dataSync(), `${name} ${dtype} ${sa}`);
          p.dispose();
          pr.dispose();
        }
        for (const x of [a, b, ours, ref]) x.dispose();
      }
    }
  });

  await t.step(
    "where (any dtype, broadcast cond/a/b, strided views) equals the scalar kernel",
    () => {
      const dtypes: DType[] = ["f32", "f64", "i32", "i64", "u8", "f16", "bool", "i16"];
      let k = 0;
      for (const dtype of dtypes) {
        for (let r = 0; r < 6; r++) {
          const [sa, sb] = fc.sample(arbBroadcastPair({ maxRank: 3, maxDim: 5 }), {
            seed: 100 + k,
            numRuns: 1,
          })[0];
          const lay = LAYOUTS[k % 4];
          const x = makeTensor(sa, "f32", k, lay, { lo: -1, hi: 1 });
          const c = x.gt(0); // bool, in x's (broadcast) shape
          const a = makeTensor(sb, dtype, k + 1, LAYOUTS[(k + 1) % 4], { lo: -50, hi: 50 });
          const b = makeTensor(sa, dtype, k + 2, LAYOUTS[(k + 2) % 4], { lo: -50, hi: 50 });
          const ours = on("wasm", "where", () => where(c, a, b));
          const ref = scalarRun("where", [c, a, b], ours.shape, ours.dtype);
          assert.deepEqual(ours.dataSync(), ref.dataSync(), `where ${dtype} ${sa} ${sb} ${lay}`);
          for (const v of [x, c, a, b, ours, ref]) v.dispose();
          k += 3;
        }
      }
    },
  );

  await t.step("logical ops of bool tensors (broadcast, strided) equal the scalar kernels", () => {
    const pairs = fc.sample(arbBroadcastPair({ maxRank: 4, maxDim: 6 }), { seed: 13, numRuns: 24 });
    const OPS = { logicalAnd, logicalOr, logicalXor } as const;
    let k = 0;
    for (const [sa, sb] of pairs) {
      const x = makeTensor(sa, "f32", k, LAYOUTS[k % 4], { lo: -1, hi: 1 });
      const y = makeTensor(sb, "f32", k + 1, LAYOUTS[(k + 1) % 4], { lo: -1, hi: 1 });
      const a = x.gt(0), bt = y.gt(0.3);
      // Views of bool tensors too: transposed (reversed axes) when there are several.
      const av = a.ndim > 1 ? a.permute([...a.shape.keys()].reverse()) : a;
      const bv = bt.ndim > 1 ? bt.permute([...bt.shape.keys()].reverse()) : bt;
      let fits = true;
      try {
        broadcastShapes(av.shape, bv.shape);
      } catch {
        fits = false; // reversed views that no longer broadcast together
      }
      for (const [name, fn] of fits ? Object.entries(OPS) : []) {
        const ours = on("wasm", name, () => fn(av, bv));
        const ref = scalarRun(name, [av, bv], ours.shape, "bool");
        assert.deepEqual(ours.dataSync(), ref.dataSync(), `${name} ${sa} ${sb}`);
        ours.dispose();
        ref.dispose();
      }
      const n = on("wasm", "logicalNot", () => logicalNot(av));
      const nr = scalarRun("logicalNot", [av], n.shape, "bool");
      assert.deepEqual(n.dataSync(), nr.dataSync(), `logicalNot ${sa}`);
      for (const v of new Set([x, y, a, bt, av, bv, n, nr])) v.dispose();
      k += 2;
    }
  });

  await t.step("atan2, pow, floorDiv and mod equal the scalar kernels, specials included", () => {
    const sp = [NaN, 0, -0, 1, -1, Infinity, -Infinity, 0.5, -0.5, 2, -2, 3, -3, 2.5, 1e-30, 1e30];
    for (const dtype of ["f32", "f64"] as DType[]) {
      const a = tensor(sp.flatMap((x) => sp.map(() => x)), { dtype });
      const b = tensor(sp.flatMap(() => sp), { dtype });
      const ra = makeTensor([3000], dtype, 31, "contiguous", { lo: -20, hi: 20 });
      const rb = makeTensor([3000], dtype, 32, "strided", { lo: -20, hi: 20 });
      const pa = makeTensor([3000], dtype, 33, "contiguous", { lo: 0, hi: 10 });
      const pb = makeTensor([3000], dtype, 34, "transposed", { lo: -30, hi: 30 });
      const made = [a, b, ra, rb, pa, pb];
      const cases: [string, Tensor, Tensor][] = [["atan2", a, b], ["atan2", ra, rb]];
      // floorDiv / mod (exact fmod, both dtypes): random operands, the grid of specials, huge
      // quotients, subnormals and exponent differences near the format's whole range.
      const hard = dtype === "f32"
        ? [[3e9, 0.3], [-7e8, 3], [5, -0.5], [-5, 0.25], [1e-30, 3], [3e38, 1e-38], [-1e-45, 3e-45]]
        : [
          [3e9, 0.3],
          [1e308, 3e-308],
          [-1.7e308, 5e-324],
          [5e-324, 3e-320],
          [-1e300, 7.1],
          [2 ** 60 + 2 ** 9, 3],
          [1e22, 0.1],
          [-2.5e-310, 1e-311],
          [123.456, -1e-300],
          [-0, 5],
          [7, -1e-320],
        ];
      const big = tensor(hard.map((p) => p[0]), { dtype });
      const div = tensor(hard.map((p) => p[1]), { dtype });
      made.push(big, div);
      cases.push(["floorDiv", ra, rb], ["mod", ra, rb], ["floorDiv", a, b], ["mod", a, b]);
      cases.push(["floorDiv", big, div], ["mod", big, div], ["mod", div, big]);
      const rbi = rb.round();
      made.push(rbi);
      cases.push(["pow", a, b], ["pow", pa, pb], ["pow", ra, rbi]);
      for (const [op, x, y] of cases) {
        const fns: Record<string, () => Tensor> = {
          atan2: () => atan2(x, y),
          pow: () => x.pow(y),
          floorDiv: () => x.floorDiv(y),
          mod: () => x.mod(y),
        };
        const ours = on("wasm", op, fns[op]);
        const ref = scalarRun(op, [x, y], ours.shape, dtype);
        // atan2: atan of the rounded quotient (≤ 2 ulp f64); pow: f64 exp/log rounded to f32, and
        // pow64 (≤ 0.51 ulp) for f64 against V8's Math.pow (< 1 ulp);
        // floorDiv/mod: bit for bit (an exact fmod and the reference's f64 operations).
        const exact = op === "floorDiv" || op === "mod";
        if (exact) {
          const o = [...ours.dataSync()], r = [...ref.dataSync()];
          o.forEach((v, i) =>
            assert.ok(Object.is(v, r[i]), `${op} ${dtype} [${i}]: ${v} vs ${r[i]}`)
          );
        }
        const rtol = exact ? 0 : dtype === "f32" ? 1.2e-7 : op === "pow" ? 3.4e-16 : 2e-15;
        assertClose(
          ours,
          ref,
          rtol,
          exact ? 0 : dtype === "f32" ? 1e-45 : 5e-324,
          `${op} ${dtype}`,
        );
        ours.dispose();
        ref.dispose();
      }
      for (const v of made) v.dispose();
    }
  });

  await t.step("binary ops: NaN, ±0 and infinities like the scalar backend", () => {
    for (const dtype of ["f32", "f64"] as DType[]) {
      const vals = [NaN, 0, -0, 1, -1, Infinity, -Infinity, 2.5];
      const a = tensor(vals.flatMap((x) => vals.map(() => x)), { dtype });
      const b = tensor(vals.flatMap(() => vals), { dtype });
      for (const op of BIN) {
        const ours = on(
          "wasm",
          op,
          () => (a as unknown as Record<string, (x: Tensor) => Tensor>)[op](b),
        );
        const ref = scalarRun(op, [a, b], ours.shape, dtype);
        assertClose(ours, ref, 0, 0, `${op} ${dtype} specials`);
        ours.dispose();
        ref.dispose();
      }
      a.dispose();
      b.dispose();
    }
  });

  await t.step("row + broadcast vector, scalar operands and large threaded calls", () => {
    for (const threads of [1, 2]) {
      setWasmThreads(threads);
      for (
        const [sa, sb] of [[[600, 500], [500]], [[600, 500], [600, 1]], [[300000], []], [
          [1, 1],
          [700, 400],
        ]] as number[][][]
      ) {
        const a = makeTensor(sa, "f32", 1, "contiguous"),
          b = makeTensor(sb, "f32", 2, "contiguous");
        for (const op of ["add", "mul", "div"] as const) {
          const ours = on("wasm", op, () => a[op](b));
          const ref = scalarRun(op, [a, b], ours.shape, "f32");
          assertClose(ours, ref, 0, 0, `${op} ${JSON.stringify(sa)} ${JSON.stringify(sb)}`);
          ours.dispose();
          ref.dispose();
        }
        a.dispose();
        b.dispose();
      }
    }
    setWasmThreads(navigator.hardwareConcurrency || 1);
  });

  const UN: [
    string,
    number,
    number,
    (x: Tensor) => Tensor,
    { lo: number; hi: number },
    number?, // f64 absolute tolerance, where 1 + erf cancels (exact gelu)
  ][] = [
    ["exp", 3e-7, 1e-15, (x) => x.exp(), { lo: -80, hi: 80 }],
    ["log", 3e-7, 1e-15, (x) => x.log(), { lo: 1e-30, hi: 1e30 }],
    ["tanh", 1e-6, 1e-14, (x) => x.tanh(), { lo: -12, hi: 12 }],
    ["sigmoid", 1e-6, 1e-14, (x) => x.sigmoid(), { lo: -60, hi: 60 }],
    ["silu", 1e-6, 1e-14, (x) => x.silu(), { lo: -60, hi: 60 }],
    ["gelu", 2e-6, 1e-11, (x) => x.gelu("tanh"), { lo: -4, hi: 4 }],
    ["relu", 0, 0, (x) => x.relu(), { lo: -5, hi: 5 }],
    ["sqrt", 0, 0, (x) => x.sqrt(), { lo: 0, hi: 1e6 }],
    ["neg", 0, 0, (x) => x.neg(), { lo: -5, hi: 5 }],
    ["abs", 0, 0, (x) => x.abs(), { lo: -5, hi: 5 }],
    ["square", 0, 0, (x) => x.square(), { lo: -1e3, hi: 1e3 }],
    ["floor", 0, 0, (x) => x.floor(), { lo: -5, hi: 5 }],
    ["ceil", 0, 0, (x) => x.ceil(), { lo: -5, hi: 5 }],
    ["round", 0, 0, (x) => x.round(), { lo: -5, hi: 5 }],
    ["sign", 0, 0, (x) => x.sign(), { lo: -5, hi: 5 }],
    // 1/√x in the element type: two roundings (≤ 1 ulp); the reference rounds once.
    ["rsqrt", 2.4e-7, 4.5e-16, (x) => x.rsqrt(), { lo: 1e-6, hi: 1e6 }],
    // x·(min(max(x + 3, 0), 6)/6): x + 3 is exact where it matters (Sterbenz), then 2 roundings.
    ["hardswish", 3e-7, 5e-16, (x) => hardswish(x), { lo: -5, hi: 5 }],
    ["clip", 0, 0, (x) => clip(x, -1.5, 2), { lo: -5, hi: 5 }],
    // x·slope in the element type (the reference multiplies in f64 and rounds once).
    ["leakyRelu", 1.2e-7, 2.3e-16, (x) => leakyRelu(x, 0.02), { lo: -5, hi: 5 }],
    // expm1 = (u − 1)·x / log u (Kahan) from the ≤ 2 ulp exp and log: a few ulp.
    ["expm1", 1e-6, 1e-14, (x) => x.expm1(), { lo: -20, hi: 20 }],
    ["log1p", 1e-6, 1e-14, (x) => x.log1p(), { lo: -0.999, hi: 1e6 }],
    ["elu", 1e-6, 1e-14, (x) => elu(x, 0.7), { lo: -20, hi: 5 }],
    ["selu", 1e-6, 1e-14, (x) => selu(x), { lo: -20, hi: 5 }],
    ["softplus", 1e-6, 1e-14, (x) => softplus(x, 2, 15), { lo: -20, hi: 20 }],
    ["mish", 2e-6, 1e-13, (x) => mish(x), { lo: -20, hi: 20 }],
    // From e^(|x|/2) squared (≤ 2 ulp each) or expm1 below |x| = 1.
    ["sinh", 1e-6, 1e-14, (x) => sinh(x), { lo: -80, hi: 80 }],
    ["cosh", 1e-6, 1e-14, (x) => cosh(x), { lo: -80, hi: 80 }],
    // Cody-Waite reduction and fdlibm kernels in f64 (f32 rounded once); tan = sin/cos.
    ["sin", 2.4e-7, 1e-15, (x) => x.sin(), { lo: -100, hi: 100 }],
    ["cos", 2.4e-7, 1e-15, (x) => x.cos(), { lo: -100, hi: 100 }],
    ["tan", 2.4e-7, 2e-15, (x) => tan(x), { lo: -100, hi: 100 }],
    // Cody's erf in f64 like the reference (f32 rounded once); exact gelu through it.
    ["erf", 1.2e-7, 1e-15, (x) => x.erf(), { lo: -6, hi: 6 }],
    // gelu: 0.5·x·(1 + erf(x/√2)) cancels for x < 0 in both implementations: absolute bound.
    ["geluErf", 2.4e-7, 2e-15, (x) => x.gelu(), { lo: -8, hi: 8 }, 4e-15],
    // fdlibm's atan in f64 (asin, acos through atan without cancellation near ±1).
    ["atan", 1.2e-7, 1e-15, (x) => atan(x), { lo: -50, hi: 50 }],
    ["asin", 1.2e-7, 2e-15, (x) => asin(x), { lo: -1, hi: 1 }],
    ["acos", 1.2e-7, 2e-15, (x) => acos(x), { lo: -1, hi: 1 }],
    // log·log2(e) (≤ 3 ulp); powers of two exactly (below).
    ["log2", 5e-7, 1e-15, (x) => x.log2(), { lo: 1e-30, hi: 1e30 }],
  ];
  /** The kernel name of table rows named otherwise. */
  const KERNEL: Record<string, string> = { geluErf: "gelu" };
  /** The attrs each op's kernel receives (as the core ops pass them). */
  const ATTRS: Record<string, Record<string, unknown>> = {
    gelu: { approximate: "tanh" },
    geluErf: { approximate: "none" },
    clip: { min: -1.5, max: 2 },
    leakyRelu: { negativeSlope: 0.02 },
    elu: { alpha: 0.7 },
    softplus: { beta: 2, threshold: 15 },
  };

  await t.step("unary ops match the scalar backend within their stated tolerances", () => {
    const shapes = fc.sample(arbShape({ maxRank: 4, maxDim: 9 }), { seed: 11, numRuns: 12 });
    shapes.push([4099], [70000]);
    let k = 0;
    for (const [op, r32, r64, fn, range, atol64] of UN) {
      for (const dtype of ["f32", "f64"] as DType[]) {
        for (const shape of shapes) {
          const layout = LAYOUTS[k % 4];
          const x = makeTensor(shape, dtype, k++, layout, range);
          const ours = on("wasm", KERNEL[op] ?? op, () => fn(x));
          const attrs = ATTRS[op] ?? {};
          const ref = scalarRun(KERNEL[op] ?? op, [x], ours.shape, dtype, attrs);
          // Subnormal f32 results (exp, sigmoid, silu far left) carry few digits: absolute slack.
          const atol = dtype === "f32" ? 1e-37 : atol64 ?? 1e-300;
          assertClose(
            ours,
            ref,
            dtype === "f32" ? r32 : r64,
            r32 ? atol : 0,
            `${op} ${dtype} ${layout}${JSON.stringify(shape)}`,
          );
          for (const v of [x, ours, ref]) v.dispose();
        }
      }
    }
  });

  await t.step("unary specials: NaN, ±inf, 0, negative logs, overflow and underflow", () => {
    const vals = [
      NaN,
      Infinity,
      -Infinity,
      0,
      -0,
      -1,
      1e-40,
      88.7,
      89,
      -87.5,
      -103,
      -200,
      1e-45,
      3.4e38,
      0.5, // halves round to even: 0, 2, -2, -0
      2.5,
      -2.5,
      -0.5,
    ];
    for (const dtype of ["f32", "f64"] as DType[]) {
      const x = tensor(vals, { dtype });
      for (const [op, r32, r64, fn, , atol64] of UN) {
        const ours = on("wasm", KERNEL[op] ?? op, () => fn(x));
        const attrs = ATTRS[op] ?? {};
        const ref = scalarRun(KERNEL[op] ?? op, [x], ours.shape, dtype, attrs);
        // Composite f32 functions pass through subnormal intermediates far left (silu(-103) is
        // 103·e^-103): there only an absolute bound holds.
        const atol = dtype === "f32" ? (r32 > 3e-7 ? 1e-36 : 2e-45) : atol64 ?? 5e-324;
        const rtol = dtype === "f32" ? Math.max(r32, 3e-7) : Math.max(r64, 1e-15);
        assertClose(ours, ref, rtol, atol, `${op} ${dtype} specials`);
        ours.dispose();
        ref.dispose();
      }
      x.dispose();
    }
  });

  await t.step("sin/cos/tan of large arguments (Payne–Hanek) match the scalar kernel", () => {
    // Past |x| = 1e5 each lane is reduced exactly (r correctly rounded), then the same kernels:
    // within 2 ulp of V8's Math.sin/cos/tan (itself < 1 ulp). Included: the double closest to a
    // multiple of π/2 (6381956970095103·2^797, r ≈ 4.7e-19), the largest double, the edges of
    // the Cody–Waite range, ±inf and NaN (NaN results).
    const next = rng(77);
    const vals = [
      2,
      1e5,
      100000.00000000001,
      -3e7,
      1e22,
      6381956970095103 * 2 ** 797,
      1.7976931348623157e308,
    ];
    for (let i = 0; i < 2000; i++) {
      vals.push((next() < 0.5 ? -1 : 1) * 10 ** (5 + next() * 303) * (1 + next()));
    }
    vals.push(Infinity, -Infinity, NaN, -0, 0.5);
    for (const dtype of ["f32", "f64"] as DType[]) {
      const x = tensor(vals, { dtype });
      for (const [op, fn] of [["sin", sin], ["cos", cos], ["tan", tan]] as const) {
        const ours = on("wasm", op, () => fn(x));
        const ref = scalarRun(op, [x], ours.shape, dtype);
        assertClose(ours, ref, dtype === "f32" ? 1.2e-7 : 4.5e-16, 0, `${op} ${dtype} large`);
        ours.dispose();
        ref.dispose();
      }
      x.dispose();
    }
  });

  await t.step("log2 of powers of two is exact", () => {
    for (const dtype of ["f32", "f64"] as DType[]) {
      const ks = [0, 1, 2, -1, 10, -100, 100, -126, 127];
      const x = tensor(ks.map((k) => 2 ** k), { dtype });
      const y = on("wasm", "log2", () => x.log2());
      assert.deepEqual(Array.from(y.dataSync() as Float32Array), ks, dtype);
      x.dispose();
      y.dispose();
    }
  });

  await t.step("f32 exp and log are within 2 ulp of the correctly rounded result (sweep)", () => {
    const n = 400000;
    const xs = new Float32Array(n);
    for (let i = 0; i < n; i++) xs[i] = -87 + (175 * i) / n + 1e-3 * Math.sin(i);
    const ys = new Float32Array(n);
    for (let i = 0; i < n; i++) ys[i] = Math.exp((i / n - 0.5) * 160) * (1 + 0.3 * Math.sin(i));
    const ulpErr = (got: Float32Array, want: (i: number) => number): number => {
      const gb = new Int32Array(got.buffer);
      const w = new Float32Array(1), wb = new Int32Array(w.buffer);
      let worst = 0;
      for (let i = 0; i < got.length; i++) {
        w[0] = want(i);
        worst = Math.max(worst, Math.abs(gb[i] - wb[0]));
      }
      return worst;
    };
    const x = tensor(xs), y = tensor(ys);
    const e = on("wasm", "exp", () => x.exp()), l = on("wasm", "log", () => y.log());
    const eu = ulpErr(e.dataSync() as Float32Array, (i) => Math.exp(xs[i]));
    const lu = ulpErr(l.dataSync() as Float32Array, (i) => Math.log(ys[i]));
    assert.ok(eu <= 2, `exp: ${eu} ulp`);
    assert.ok(lu <= 2, `log: ${lu} ulp`);
    for (const v of [x, y, e, l]) v.dispose();
  });
});

/** Values near 1 (products of many stay finite), through a strided view. */
function small2(shape: number[], dtype: DType, seed: number): Tensor {
  return makeTensor(shape, dtype, seed + 900, "strided", { lo: 0.8, hi: 1.2 });
}

Deno.test("wasm reduction and softmax kernels", async (t) => {
  await t.step("sum mean max min argmax argmin over random axes of random views", () => {
    const shapes = fc.sample(arbShape({ minRank: 1, maxRank: 4, maxDim: 7 }), {
      seed: 3,
      numRuns: 40,
    });
    let k = 0;
    for (const dtype of ["f32", "f64"] as DType[]) {
      for (const shape of shapes) {
        const layout = LAYOUTS[k % 4];
        const x = makeTensor(shape, dtype, k, layout, { lo: -10, hi: 10 });
        const r = k++ % 3;
        const axes = r === 0 ? null : shape.map((_, i) => i).filter((i) => (i + k) % r === 0);
        for (const op of ["sum", "mean", "max", "min", "argmax", "argmin"] as const) {
          const arg = op === "argmax" || op === "argmin";
          const ax = arg ? (axes && axes.length ? axes[0] : null) : axes;
          const ours = on(
            "wasm",
            op,
            () =>
              arg
                ? (x as unknown as Record<string, (a: number | null) => Tensor>)[op](
                  ax as number | null,
                )
                : (x as unknown as Record<string, (a: number[] | undefined) => Tensor>)[op](
                  ax === null ? undefined : ax as number[],
                ),
          );
          const normAxes = ax === null
            ? shape.map((_, i) => i)
            : typeof ax === "number"
            ? [ax]
            : ax;
          const ref = scalarRun(op, [x], ours.shape, ours.dtype, { axes: normAxes });
          const tol = op === "sum" || op === "mean" ? (dtype === "f32" ? 1e-6 : 1e-12) : 0;
          assertClose(
            ours,
            ref,
            tol,
            tol ? 1e-12 : 0,
            `${op} ${dtype} ${layout}${JSON.stringify(shape)} axes ${JSON.stringify(ax)}`,
          );
          ours.dispose();
          ref.dispose();
        }
        // prod, logsumexp and vector norms: element by element in f64 like the reference.
        // Tolerances: prod f32 4e-7 / f64 bitwise (same order, same f64 products); logsumexp
        // 1e-6 / 1e-14 (the SIMD exp and log); norms 1e-6 / 1e-14.
        const small = makeTensor(shape, dtype, k + 500, layout, { lo: 0.5, hi: 1.5 });
        const ax1 = axes && axes.length ? axes[0] : 0;
        const stats: [string, () => Tensor, Record<string, unknown>, number][] = [
          ["prod", () => prod(small, axes ?? undefined), {}, dtype === "f32" ? 4e-7 : 0],
          ["logsumexp", () => logsumexp(x, axes ?? undefined), {}, dtype === "f32" ? 1e-6 : 1e-14],
          ...[2, 1, 0, Infinity, -Infinity, 3, 0.5, -1, -2.5].map((ord) =>
            [
              "norm",
              () => norm(x, ord, ax1),
              { ord },
              dtype === "f32" ? 1e-6 : 1e-14,
            ] as [string, () => Tensor, Record<string, unknown>, number]
          ),
        ];
        for (const [op, fn, extra, tol] of stats) {
          const src = op === "prod" ? small : x;
          const ours = on("wasm", op, fn);
          const opAxes = op === "norm" ? [ax1] : axes === null ? shape.map((_, i) => i) : axes;
          const ref = scalarRun(op, [src], ours.shape, ours.dtype, { axes: opAxes, ...extra });
          assertClose(ours, ref, tol, tol ? 1e-300 : 0, `${op} ${JSON.stringify(extra)} ${dtype}`);
          ours.dispose();
          ref.dispose();
        }
        small.dispose();
        // any / all over the same axes: float inputs (zeros, NaN counts as true) and bool ones.
        const opAxesAll = axes === null ? shape.map((_, i) => i) : axes;
        const zeroed = x.mul(x.gt(3).astype(dtype)); // mostly zeros, some non-zero values
        const flags = x.gt(8);
        for (const src of [zeroed, flags]) {
          for (const [op, fn] of [["any", any], ["all", all]] as const) {
            const ours = on("wasm", op, () => fn(src, axes ?? undefined));
            const ref = scalarRun(op, [src], ours.shape, "bool", { axes: opAxesAll });
            assert.deepEqual(ours.dataSync(), ref.dataSync(), `${op} ${src.dtype} ${shape}`);
            ours.dispose();
            ref.dispose();
          }
        }
        zeroed.dispose();
        flags.dispose();
        // cumsum / cumprod along one axis: f64 running value rounded per element, like the
        // reference (bitwise).
        for (const [op, fn] of [["cumsum", cumsum], ["cumprod", cumprod]] as const) {
          const src = op === "cumprod" ? small2(shape, dtype, k) : x;
          for (const axis of [ax1, null]) {
            // axis null: the flattened scan (one line when the view's axes coalesce, else rows
            // with the running value carried across)
            const ours = on("wasm", op, () => fn(src, axis));
            const ref = scalarRun(op, [src], ours.shape, ours.dtype, { axis });
            assertClose(ours, ref, 0, 0, `${op} axis ${axis} ${dtype}${JSON.stringify(shape)}`);
            for (const v of [ours, ref]) v.dispose();
          }
          if (src !== x) src.dispose();
        }
        // var and std (ddof 0 and 1): two passes in f64 like the reference, f32 results rounded
        // once (rtol 1e-6 for f32: the f32 mean's sum runs in blocked f32 lanes; 1e-12 for f64).
        const normAxes = axes === null ? shape.map((_, i) => i) : axes;
        for (const ddof of [0, 1]) {
          for (const op of ["var", "std"] as const) {
            const ours = on(
              "wasm",
              op,
              () =>
                op === "var"
                  ? variance(x, axes ?? undefined, { ddof })
                  : std(x, axes ?? undefined, { ddof }),
            );
            const ref = scalarRun(op, [x], ours.shape, ours.dtype, { axes: normAxes, ddof });
            const tol = dtype === "f32" ? 1e-6 : 1e-12;
            assertClose(
              ours,
              ref,
              tol,
              1e-12,
              `${op} ddof ${ddof} ${dtype}${JSON.stringify(shape)}`,
            );
            ours.dispose();
            ref.dispose();
          }
        }
        x.dispose();
      }
    }
  });

  await t.step(
    "1M-element f32 sum and mean match within 1e-6 (1 and 2 threads), NaN in max",
    () => {
      const x = makeTensor([1 << 20], "f32", 5, "contiguous", { lo: -1, hi: 3 });
      for (const threads of [1, 2]) {
        setWasmThreads(threads);
        for (const op of ["sum", "mean", "max", "argmax", "min", "argmin"] as const) {
          const ours = on("wasm", op, () => x[op]());
          const ref = scalarRun(op, [x], [], ours.dtype, { axes: [0] });
          assertClose(
            ours,
            ref,
            op === "sum" || op === "mean" ? 1e-6 : 0,
            0,
            `${op} 1M @${threads}`,
          );
          ours.dispose();
          ref.dispose();
        }
        const rows = makeTensor([1000, 1000], "f32", 6, "transposed");
        for (const axis of [0, 1]) {
          const ours = on("wasm", "sum", () => rows.sum(axis));
          const ref = scalarRun("sum", [rows], ours.shape, "f32", { axes: [axis] });
          // Lines of 1000 values in [-1, 1] (Σ|x| ≈ 500) whose sums cancel to ~1: contiguous lines
          // add in f32 blocks, so the error is a few f32 roundings of Σ|x| (≤ 1.1e-8·Σ|x| here;
          // NumPy's pairwise float32 sum of the same rows: up to 1.5e-8·Σ|x|), not of the sum.
          assertClose(ours, ref, 1e-6, 1e-5, `sum axis ${axis}`);
          ours.dispose();
          ref.dispose();
        }
        rows.dispose();
        // Column reductions (axis 0 of C-order rows: adjacent lines) with NaN in some columns.
        for (const dtype of ["f32", "f64"] as const) {
          const vals = Array.from({ length: 37 * 515 }, (_, i) => Math.sin(i * 0.37) * 3);
          vals[5 * 515 + 3] = NaN; // column 3, row 5
          vals[515 + 514] = NaN; // column 514, row 1 (past the first tile of 512)
          const m = tensor(vals, { dtype, shape: [37, 515] });
          for (const op of ["sum", "mean", "max", "min"] as const) {
            const ours = on("wasm", op, () => m[op](0));
            const ref = scalarRun(op, [m], ours.shape, dtype, { axes: [0] });
            assertClose(ours, ref, dtype === "f32" ? 1e-6 : 1e-14, 1e-6, `${op} axis 0 ${dtype}`);
            const o = ours.dataSync() as Float32Array;
            assert.ok(Number.isNaN(o[3]) && Number.isNaN(o[514]) && !Number.isNaN(o[0]), op);
            ours.dispose();
            ref.dispose();
          }
          m.dispose();
        }
        // A long mixed-sign line of odd length (blocks, then the tail) and a line with ±inf.
        const mixed = makeTensor([1_000_003], "f32", 7, "contiguous", { lo: -1, hi: 1 });
        const ours = on("wasm", "sum", () => mixed.sum()).item() as number;
        const ref = scalarRun("sum", [mixed], [], "f32", { axes: [0] });
        const absSum = (mixed.dataSync() as Float32Array).reduce((a, v) => a + Math.abs(v), 0);
        assert.ok(
          Math.abs(ours - (ref.item() as number)) <= 1e-6 * Math.abs(ref.item() as number) +
              2e-8 * absSum,
          `mixed 1M sum ${ours} vs ${ref.item()}`,
        );
        ref.dispose();
        mixed.dispose();
        const inf = tensor(Array.from({ length: 600 }, (_, i) => i === 300 ? Infinity : 1), {
          dtype: "f32",
        });
        assert.equal(on("wasm", "sum", () => inf.sum()).item(), Infinity);
        const both = tensor(
          Array.from({ length: 600 }, (_, i) => i === 10 ? Infinity : i === 500 ? -Infinity : 1),
          { dtype: "f32" },
        );
        assert.ok(Number.isNaN(on("wasm", "sum", () => both.sum()).item() as number));
      }
      const withNaN = tensor([1, 2, NaN, 5, NaN], { dtype: "f32" });
      assert.ok(Number.isNaN(on("wasm", "max", () => withNaN.max()).item() as number));
      assert.equal(on("wasm", "argmax", () => withNaN.argmax()).item(), 2);
      setWasmThreads(navigator.hardwareConcurrency || 1);
    },
  );

  await t.step("softmax and logSoftmax along any axis of random views", () => {
    const shapes = fc.sample(arbShape({ minRank: 1, maxRank: 4, maxDim: 7 }), {
      seed: 9,
      numRuns: 30,
    });
    shapes.push([3, 5000], [200000]);
    let k = 0;
    for (const threads of [1, 2]) {
      setWasmThreads(threads);
      for (const dtype of ["f32", "f64"] as DType[]) {
        for (const shape of shapes) {
          const layout = LAYOUTS[k % 4];
          const x = makeTensor(shape, dtype, k, layout, { lo: -20, hi: 20 });
          const axis = k++ % shape.length;
          for (const op of ["softmax", "logSoftmax"] as const) {
            const ours = on("wasm", op, () => x[op](axis));
            const ref = scalarRun(op, [x], ours.shape, dtype, { axis });
            // logSoftmax near 0: the reference's x − (max + log z) cancels, losing ~1e-14 absolute.
            const atol = op === "logSoftmax" ? 1e-13 : dtype === "f32" ? 1e-30 : 0;
            assertClose(
              ours,
              ref,
              dtype === "f32" ? 4e-6 : 1e-13,
              atol,
              `${op} ${dtype} ${layout}${JSON.stringify(shape)} axis ${axis}`,
            );
            ours.dispose();
            ref.dispose();
          }
          x.dispose();
        }
      }
    }
    // x − max down to −120: vectors with lanes below −87 (subnormal or zero exps) take the
    // general exp, the others the fast one; rtol 8e-6 for |x − max|·6e-8 (see the header).
    for (const threads of [1, 2]) {
      setWasmThreads(threads);
      for (const n of [1000, 100_003]) {
        const wide = makeTensor([n], "f32", n, "contiguous", { lo: -120, hi: 0 });
        const ours = on("wasm", "softmax", () => wide.softmax(0));
        const ref = scalarRun("softmax", [wide], [n], "f32", { axis: 0 });
        assertClose(ours, ref, 8e-6, 1e-36, `softmax [-120, 0] ${n} @${threads}`);
        ours.dispose();
        ref.dispose();
        wide.dispose();
      }
    }
    // Long contiguous lines (one job, and split over threads) holding NaN, +inf with −inf (the
    // max pass's NaN test sees inf − inf and rescans), or −inf among finite values.
    for (const threads of [1, 2]) {
      setWasmThreads(threads);
      for (const n of [1000, 200_000]) {
        for (const put of [[NaN], [Infinity, -Infinity], [-Infinity, -Infinity]]) {
          const data = new Float32Array(n).map((_, i) => Math.sin(i) * 5);
          put.forEach((v, j) => (data[(j + 1) * (n >> 2) + j] = v));
          const line = tensor(data, { dtype: "f32" });
          const ours = on("wasm", "softmax", () => line.softmax(0));
          const ref = scalarRun("softmax", [line], [n], "f32", { axis: 0 });
          assertClose(ours, ref, 4e-6, 1e-30, `softmax ${n} with ${put} @${threads}`);
          ours.dispose();
          ref.dispose();
          line.dispose();
        }
      }
    }
    const special = tensor([[1, Infinity, 2], [-Infinity, -Infinity, -Infinity], [NaN, 0, 1]]);
    const s = on("wasm", "softmax", () => special.softmax(1));
    const r = scalarRun("softmax", [special], [3, 3], "f32", { axis: 1 });
    assertClose(s, r, 0, 0, "softmax specials");
    setWasmThreads(navigator.hardwareConcurrency || 1);
  });
});

Deno.test("wasm and openblas conv2d match the scalar backend", async (t) => {
  await t.step("conv2d runs on openblas where present, else on wasm", () => {
    const x = makeTensor([2, 3, 6, 6], "f32", 1), w = makeTensor([4, 3, 3, 3], "f32", 2);
    on(blasAvailable() ? "openblas" : "wasm", "conv2d", () => conv2d(x, w)).dispose();
    x.dispose();
    w.dispose();
  });
  for (const backend of convBackends()) {
    await t.step(`${backend.name}: random stride, padding, dilation, groups, bias, strides`, () => {
      const cfg = fc.sample(
        fc.record({
          n: fc.integer({ min: 1, max: 3 }),
          g: fc.integer({ min: 1, max: 3 }),
          cg: fc.integer({ min: 1, max: 3 }),
          og: fc.integer({ min: 1, max: 3 }),
          h: fc.integer({ min: 3, max: 12 }),
          w: fc.integer({ min: 3, max: 12 }),
          kh: fc.integer({ min: 1, max: 3 }),
          kw: fc.integer({ min: 1, max: 3 }),
          s: fc.integer({ min: 1, max: 2 }),
          p: fc.integer({ min: 0, max: 1 }),
          d: fc.integer({ min: 1, max: 2 }),
          bias: fc.boolean(),
          layout: fc.constantFrom<Layout>("contiguous", "strided", "transposed"),
        }),
        { seed: 5, numRuns: 40 },
      );
      // Depthwise (src/conv_dw.c on wasm): channel multipliers 1 and 2, stride 2, dilation,
      // rows wider than a SIMD vector with tails, strided and transposed inputs.
      for (const [i, layout] of (["contiguous", "strided", "transposed"] as Layout[]).entries()) {
        cfg.push(
          {
            n: 2,
            g: 5,
            cg: 1,
            og: 1,
            h: 13,
            w: 19,
            kh: 3,
            kw: 3,
            s: 1,
            p: 1,
            d: 1,
            bias: true,
            layout,
          },
          {
            n: 1,
            g: 4,
            cg: 1,
            og: 2,
            h: 11,
            w: 17,
            kh: 3,
            kw: 5,
            s: 2,
            p: 1,
            d: 1,
            bias: i > 0,
            layout,
          },
          {
            n: 1,
            g: 3,
            cg: 1,
            og: 1,
            h: 9,
            w: 12,
            kh: 3,
            kw: 3,
            s: 1,
            p: 0,
            d: 2,
            bias: false,
            layout,
          },
        );
      }
      cfg.push({
        n: 2,
        g: 1,
        cg: 8,
        og: 16,
        h: 10,
        w: 9,
        kh: 1,
        kw: 1,
        s: 1,
        p: 0,
        d: 1,
        bias: true,
        layout: "contiguous",
      });
      let k = 0;
      for (const c of cfg) {
        if (c.d * (c.kh - 1) + 1 > c.h + 2 * c.p || c.d * (c.kw - 1) + 1 > c.w + 2 * c.p) continue;
        // openblas declines depthwise convolutions (the wasm kernel runs them).
        if (backend.name === "openblas" && c.cg === 1 && c.g > 1) continue;
        const x = makeTensor([c.n, c.g * c.cg, c.h, c.w], "f32", k++, c.layout, { lo: -1, hi: 1 });
        const w = makeTensor([c.g * c.og, c.cg, c.kh, c.kw], "f32", k++, "contiguous", {
          lo: -1,
          hi: 1,
        });
        const b = c.bias ? makeTensor([c.g * c.og], "f32", k++, "contiguous") : undefined;
        const opts = { stride: c.s, padding: c.p, dilation: c.d, groups: c.g, bias: b };
        const attrs = {
          stride: [c.s, c.s],
          padding: [c.p, c.p, c.p, c.p],
          dilation: [c.d, c.d],
          groups: c.g,
          hasBias: !!b,
        };
        const probe = conv2d(x, w, opts), shape = probe.shape;
        probe.dispose();
        const ours = runOn(backend, "conv2d", b ? [x, w, b] : [x, w], shape, "f32", attrs);
        const ref = scalarRun("conv2d", b ? [x, w, b] : [x, w], ours.shape, "f32", attrs);
        // Scale of the rounding error: Σ|w·x| ≤ taps (values in [-1, 1]) + |bias|.
        assertClose(ours, ref, 0, 1e-5 * (c.cg * c.kh * c.kw + 1), `conv2d ${JSON.stringify(c)}`);
        for (const v of [x, w, b, ours, ref]) v?.dispose();
      }
    });
  }
});

Deno.test("wasm kernels decline what they do not handle", async (t) => {
  await t.step(
    "ints, mixed dtypes, f16 and standalone buffers fall back to scalar",
    () => {
      const i = tensor([1, 2, 3], { dtype: "i32" });
      on("scalar", "add", () => i.add(i));
      on("scalar", "sum", () => i.sum());
      const f = tensor([1, 2, 3], { dtype: "f32" }), d = tensor([1, 2, 3], { dtype: "f64" });
      on("wasm", "add", () => f.add(d.astype("f32"))); // same dtype: wasm
      const h = tensor([1, 2, 3], { dtype: "f16" });
      on("scalar", "exp", () => h.exp());
      on("wasm", "gelu", () => f.gelu()); // the exact form, through erf
      on("scalar", "erf", () => f.astype("i32").erf()); // ints: the scalar backend
      on("wasm", "gelu", () => f.gelu("tanh"));
      const rt = loadRuntime();
      setHostAllocator(null);
      const outside = tensor([1, 2, 3], { dtype: "f32" });
      setHostAllocator(rt.heap);
      on("scalar", "exp", () => outside.exp());
      on("scalar", "sum", () => outside.sum());
      on("scalar", "softmax", () => outside.softmax());
    },
  );
});

Deno.test("wasm kernels leave the heap where it started after 10k ops in tidy()", () => {
  const a = tensor(Array.from({ length: 64 }, (_, i) => i / 7), { dtype: "f32" });
  const b = tensor(Array.from({ length: 8 }, (_, i) => i), { dtype: "f32" }).reshape([8]);
  const a2 = a.reshape([8, 8]);
  // Warm up the job block and pool buffers, which are allocated once.
  tidy(() => {
    a2.add(b).exp().sum(0).softmax(0);
    conv2d(a2.reshape([1, 1, 8, 8]), a2.slice("0:2", "0:3").reshape([2, 1, 1, 3]));
  });
  const before = wasmHeapStats()!;
  tidy(() => {
    for (let i = 0; i < 2000; i++) {
      const y = a2.add(b).mul(a2).exp(); // 3 ops
      y.sum(1); // 4
      y.softmax(0); // 5
    }
  });
  const after = wasmHeapStats()!;
  assert.equal(after.liveBytes, before.liveBytes);
  assert.equal(after.liveBlocks, before.liveBlocks);
  assert.ok(wasmThreads() >= 1);
});
