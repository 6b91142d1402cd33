/**
 * linalg (solve, inv, det, slogdet, cholesky, qr, eigh, eig, svd, lstsq, pinv, matrixRank)
 * against NumPy 2 (np.linalg), plus residual checks computed here with plain loops.
 *
 * Tolerances. NumPy's linalg computes f32 inputs in float64 (LAPACK's d* routines) and rounds the
 * results to f32, exactly as our scalar kernels do. So f32 and f64 differ only by the algorithms
 * (both backward stable, different rounding: forward errors ≤ ~n·eps·cond(A)·‖result‖) and, for
 * f32, by the final rounding, which can differ by one f32 ulp (~1.2e-7 relative). Hence:
 * - values vs NumPy: |ours − numpy| ≤ 1e-13·cond(A)·max|numpy| (+ rtol 1e-6 for f32, a few ulps);
 *   with the random matrices here (cond < ~1e4) that is within 1e-9 relative to the result's
 *   norm for f64; singular values and eigenvalues, perfectly conditioned, use 1e-12·‖A‖ (f64);
 * - residuals (‖A·x − b‖, ‖Q·R − A‖, ‖QᵀQ − I‖, ‖U·diag(s)·Vh − A‖, ‖A·v − λ·v‖): f64 ≤ 1e-12
 *   relative to ‖A‖ (backward stability), f32 ≤ 1e-5 relative (the factors are rounded to f32,
 *   each entry off by ≤ 6e-8 relative, summed over n ≤ 8 terms).
 * Eigenvectors and singular vectors are unique only up to sign: both sides are normalized
 * (largest-magnitude component positive) before comparing, and only where the spectrum is well
 * separated (gap > 1e-3·‖A‖), since vectors move by ~eps·‖A‖/gap.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type DType,
  DTypeError,
  LinAlgError,
  memory,
  ShapeError,
  type Tensor,
  tensor,
} from "../../mod.ts";
import { linalg } from "../../mod.ts";
import {
  assertMatches,
  needsNumpy,
  numpy,
  type RefArray,
  type RefCase,
  toF64,
} from "../helpers/numpy.ts";
import { type Layout, makeTensor, rng } from "../helpers/gen.ts";

// ---- helpers ---------------------------------------------------------------------------------

const MATRIX_LAYOUTS: Layout[] = ["contiguous", "transposed", "strided"];

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) if (Number.isFinite(a[i])) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Compare with NumPy: |ours − numpy| ≤ rel·max|numpy| + rtol·|numpy|. */
function near(
  actual: Tensor,
  exp: RefArray,
  what: string,
  rel: number,
  rtol = 0,
  scale = maxAbs(exp.values),
): void {
  assertMatches(actual, exp, { rtol, atol: rel * scale }, what);
}

/** f32 gets a few ulps of relative slack on top (the final rounding to f32 may differ by 1 ulp). */
const rtolOf = (d: DType) => (d === "f32" ? 1e-6 : 0);
/** Residual tolerance relative to the matrix norm. */
const resTol = (d: DType) => (d === "f32" ? 1e-5 : 1e-12);

/** Batch count and matrix views over C-order data. */
function batches(shape: readonly number[]): number {
  return shape.slice(0, -2).reduce((a, b) => a * b, 1);
}

/** C = A·B for row-major (r×k)·(k×c). */
function mm(
  a: Float64Array,
  ao: number,
  b: Float64Array,
  bo: number,
  r: number,
  k: number,
  c: number,
): Float64Array {
  const out = new Float64Array(r * c);
  for (let i = 0; i < r; i++) {
    for (let j = 0; j < c; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += a[ao + i * k + t] * b[bo + t * c + j];
      out[i * c + j] = s;
    }
  }
  return out;
}

/** Max |QᵀQ − I| over the columns of a row-major r×c matrix. */
function orthErr(q: Float64Array, qo: number, r: number, c: number): number {
  let e = 0;
  for (let i = 0; i < c; i++) {
    for (let j = 0; j < c; j++) {
      let s = 0;
      for (let t = 0; t < r; t++) s += q[qo + t * c + i] * q[qo + t * c + j];
      e = Math.max(e, Math.abs(s - (i === j ? 1 : 0)));
    }
  }
  return e;
}

/** Flip columns (axis -1 indexes columns) so each column's largest-|.| entry is positive. */
function fixColumnSigns(v: Float64Array, rows: number, cols: number, count: number): number[][] {
  const signs: number[][] = [];
  for (let b = 0; b < count; b++) {
    const o = b * rows * cols, sg: number[] = [];
    for (let j = 0; j < cols; j++) {
      let at = 0;
      for (let i = 1; i < rows; i++) {
        if (Math.abs(v[o + i * cols + j]) > Math.abs(v[o + at * cols + j])) at = i;
      }
      const s = v[o + at * cols + j] < 0 ? -1 : 1;
      sg.push(s);
      for (let i = 0; i < rows; i++) v[o + i * cols + j] *= s;
    }
    signs.push(sg);
  }
  return signs;
}

/** The NumPy side of the sign normalization, as a setup snippet. */
const NP_SIGNS = `
def fixcols(v):
    idx = np.argmax(np.abs(v), axis=-2)
    s = np.sign(np.take_along_axis(v, idx[..., None, :], axis=-2))
    s[s == 0] = 1
    return v * s
def fixsvd(u, s, vh):
    k = s.shape[-1]
    v = np.swapaxes(vh[..., :k, :], -1, -2)
    idx = np.argmax(np.abs(v), axis=-2)
    sg = np.sign(np.take_along_axis(v, idx[..., None, :], axis=-2))
    sg[sg == 0] = 1
    return u[..., :, :k] * sg, np.swapaxes(v * sg, -1, -2)
def mingap(w, scale):
    w = np.sort(w, axis=-1)
    g = np.diff(w, axis=-1)
    return float(g.min() / max(scale, 1e-300)) if g.size else 1.0
`;

/** A float64 tensor holding `values` with `shape`, laid out as `layout`. */
function layoutTensor(values: number[], shape: number[], dtype: DType, layout: Layout): Tensor {
  const size = values.length;
  if (layout === "transposed") {
    const rev = [...shape].reverse();
    const cs = (s: number[]) => s.map((_, i) => s.slice(i + 1).reduce((a, b) => a * b, 1));
    const st = cs(shape), rst = cs(rev);
    const data = new Array<number>(size);
    for (let f = 0; f < size; f++) {
      let rem = f, off = 0;
      for (let ax = 0; ax < shape.length; ax++) {
        const i = Math.floor(rem / st[ax]);
        rem -= i * st[ax];
        off += i * rst[shape.length - 1 - ax];
      }
      data[off] = values[f];
    }
    const base = tensor(data, { dtype, shape: rev });
    const v = base.T;
    base.dispose();
    return v;
  }
  if (layout === "strided") {
    // Interleave with junk along the last axis, then take every other column.
    const last = shape[shape.length - 1];
    const data: number[] = [];
    for (let i = 0; i < size; i++) data.push(values[i], 999);
    const base = tensor(data, { dtype, shape: [...shape.slice(0, -1), 2 * last] });
    const v = base.slice(...shape.slice(0, -1).map(() => ":"), "::2");
    base.dispose();
    return v;
  }
  return tensor(values, { dtype, shape });
}

function randn(n: number, seed: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => 6 * r() - 3);
}

interface SquareCase {
  n: number;
  batch: number[];
  dtype: DType;
  layout: Layout;
  seed: number;
}

const arbSquare = fc.record({
  n: fc.integer({ min: 1, max: 8 }),
  batch: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
  dtype: fc.constantFrom<DType>("f32", "f64", "f64", "i32"),
  layout: fc.constantFrom<Layout>(...MATRIX_LAYOUTS),
  seed: fc.nat(),
});

const arbRect = fc.record({
  m: fc.integer({ min: 1, max: 8 }),
  n: fc.integer({ min: 1, max: 8 }),
  batch: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
  dtype: fc.constantFrom<DType>("f32", "f64", "f64", "i32"),
  layout: fc.constantFrom<Layout>("contiguous", "transposed", "strided", "expanded"),
  seed: fc.nat(),
});

const linalgDtype = (d: DType): DType => (d === "f32" ? "f32" : "f64");

const cpuState = () => ({ t: memory().tensors, b: memory().devices.cpu?.bytes ?? 0 });

// ---- tests -----------------------------------------------------------------------------------

Deno.test("linalg: LU family (solve, inv, det, slogdet)", { ...needsNumpy }, async (t) => {
  await t.step(
    "solve, inv, det, slogdet match numpy on random stacks (f32, f64, ints; 3 layouts)",
    async () => {
      const cases: (SquareCase & { bKind: number; k: number })[] = fc.sample(
        fc.tuple(arbSquare, fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 3 }))
          .map(([c, bKind, k]) => ({ ...c, bKind, k })),
        { seed: 11, numRuns: 50 },
      );
      const built = cases.map((c) => {
        const a = makeTensor([...c.batch, c.n, c.n], c.dtype, c.seed, c.layout);
        // b: (n,), (..., n, k) with a's batch, or (n, k) broadcast over a's batch.
        const bShape = c.bKind === 0 ? [c.n] : c.bKind === 1 ? [...c.batch, c.n, c.k] : [c.n, c.k];
        const b = makeTensor(bShape, c.dtype === "i32" ? "f32" : c.dtype, c.seed + 1);
        return { c, a, b };
      });
      const refs = await numpy(built.flatMap(({ a, b }): RefCase[] => [
        { expr: "np.linalg.solve(a, b)", arrays: { a, b } },
        { expr: "np.linalg.inv(a)", arrays: { a } },
        { expr: "np.linalg.det(a)", arrays: { a } },
        { expr: "tuple(np.linalg.slogdet(a))", arrays: { a } },
        { expr: "np.max(np.linalg.cond(a))", arrays: { a } },
      ]));
      built.forEach(({ c, a, b }, i) => {
        const [rs, ri, rd, rl, rc] = refs.slice(5 * i, 5 * i + 5);
        const what = `case ${i} ${JSON.stringify(c)}`;
        if (rs.error) {
          assert.throws(() => linalg.solve(a, b), LinAlgError, what);
          return;
        }
        const cond = Math.max(1, rc.results[0].values[0]);
        const d = linalgDtype(c.dtype);
        const x = linalg.solve(a, b), inv = linalg.inv(a), det = linalg.det(a);
        const { sign, logabsdet } = linalg.slogdet(a);
        near(x, rs.results[0], `${what} solve`, 1e-13 * cond, rtolOf(d));
        near(inv, ri.results[0], `${what} inv`, 1e-13 * cond, rtolOf(d));
        assertMatches(det, rd.results[0], { rtol: 1e-13 * c.n * cond + rtolOf(d), atol: 0 }, what);
        assertMatches(sign, rl.results[0], { rtol: 0, atol: 0 }, `${what} sign`);
        assertMatches(logabsdet, rl.results[1], {
          rtol: 0,
          atol: 1e-13 * c.n * cond + rtolOf(d),
        }, `${what} logabsdet`);
        for (const r of [x, inv, det, sign, logabsdet, a, b]) r.dispose();
      });
    },
  );

  await t.step("solve's residual ‖A·x − b‖ is at rounding level (plain loops)", () => {
    for (const dtype of ["f32", "f64"] as DType[]) {
      for (let s = 0; s < 10; s++) {
        const n = 1 + (s % 8), k = 1 + (s % 3);
        const a = makeTensor([2, n, n], dtype, 100 + s, "transposed");
        const b = makeTensor([2, n, k], dtype, 200 + s);
        const x = linalg.solve(a, b);
        const A = toF64(a), B = toF64(b), X = toF64(x);
        for (let bi = 0; bi < 2; bi++) {
          const ax = mm(A, bi * n * n, X, bi * n * k, n, n, k);
          let err = 0;
          for (let i = 0; i < n * k; i++) err = Math.max(err, Math.abs(ax[i] - B[bi * n * k + i]));
          const scale = maxAbs(A.subarray(bi * n * n, (bi + 1) * n * n)) * maxAbs(X) * n +
            maxAbs(B);
          assert.ok(err <= resTol(dtype) * scale, `${dtype} n=${n}: residual ${err} vs ${scale}`);
        }
        for (const r of [a, b, x]) r.dispose();
      }
    }
  });

  await t.step("solve broadcasts batch axes of a and b like numpy (stride-0 views)", async () => {
    const base = makeTensor([1, 3, 3], "f64", 5);
    const a = base.expand([4, 3, 3]);
    const b = makeTensor([2, 1, 3, 2], "f64", 6);
    const b1 = makeTensor([3], "f64", 7);
    const [r, r1] = await numpy([
      { expr: "np.linalg.solve(a, b)", arrays: { a, b } },
      { expr: "np.linalg.solve(a, b)", arrays: { a, b: b1 } },
    ]);
    const x = linalg.solve(a, b), x1 = linalg.solve(a, b1);
    assert.deepEqual(x.shape, [2, 4, 3, 2]);
    assert.deepEqual(x1.shape, [4, 3]);
    near(x, r.results[0], "solve (4,3,3) with (2,1,3,2)", 1e-10);
    near(x1, r1.results[0], "solve (4,3,3) with (3,)", 1e-10);
    for (const t of [base, a, b, b1, x, x1]) t.dispose();
  });

  await t.step("singular matrices: solve/inv raise LinAlgError, det is 0 (numpy)", async () => {
    const s = tensor([[1, 2, 3], [2, 4, 6], [1, 0, 1]], { dtype: "f64" });
    assert.throws(
      () => linalg.solve(s, [1, 2, 3]),
      (e: Error) =>
        e instanceof LinAlgError && /solve: matrix \(3, 3\) is singular/.test(e.message) &&
        /lstsq or pinv/.test(e.message),
    );
    assert.throws(
      () => linalg.inv(s),
      (e: Error) => e instanceof LinAlgError && /^inv:/.test(e.message),
    );
    const stack = tensor([[[1, 0], [0, 1]], [[1, 1], [1, 1]]]);
    assert.throws(
      () => linalg.inv(stack),
      (e: Error) =>
        e instanceof LinAlgError && /matrix \[1\] of the stack \(2, 2, 2\)/.test(e.message),
    );
    const [rd, rl] = await numpy([
      { expr: "np.linalg.det(a)", arrays: { a: s } },
      { expr: "tuple(np.linalg.slogdet(a))", arrays: { a: s } },
    ]);
    const det = linalg.det(s), { sign, logabsdet } = linalg.slogdet(s);
    assertMatches(det, rd.results[0]);
    assertMatches(sign, rl.results[0]);
    assertMatches(logabsdet, rl.results[1]);
    for (const t of [s, stack, det, sign, logabsdet]) t.dispose();
  });

  await t.step(
    "NaN input propagates like numpy (solve, inv, det, slogdet, cholesky, qr)",
    async () => {
      const a = tensor([[1, NaN], [3, 4]], { dtype: "f64" });
      const b = tensor([1, 1], { dtype: "f64" });
      // NumPy (OpenBLAS's potrf) lets a NaN through cholesky instead of raising.
      const spd = tensor([[4, NaN], [NaN, 4]], { dtype: "f64" });
      const refs = await numpy([
        { expr: "np.linalg.solve(a, b)", arrays: { a, b } },
        { expr: "np.linalg.inv(a)", arrays: { a } },
        { expr: "np.linalg.det(a)", arrays: { a } },
        { expr: "tuple(np.linalg.slogdet(a))", arrays: { a } },
        { expr: "np.linalg.cholesky(a)", arrays: { a: spd } },
        { expr: "tuple(np.linalg.qr(a))", arrays: { a } },
      ]);
      const qr = linalg.qr(a);
      const outs = [
        linalg.solve(a, b),
        linalg.inv(a),
        linalg.det(a),
        ...Object.values(linalg.slogdet(a)),
        linalg.cholesky(spd),
        qr.q,
        qr.r,
      ];
      const expected = [
        refs[0].results[0],
        refs[1].results[0],
        refs[2].results[0],
        ...refs[3].results,
        refs[4].results[0],
        ...refs[5].results,
      ];
      outs.forEach((o, i) => assertMatches(o, expected[i], {}, `output ${i}`));
      for (const t of [a, b, spd, ...outs]) t.dispose();
    },
  );
});

Deno.test("linalg: cholesky and qr", { ...needsNumpy }, async (t) => {
  await t.step("cholesky matches numpy (lower/upper, stacks, layouts) and L·Lᵀ = A", async () => {
    const cases = fc.sample(
      fc.tuple(arbSquare, fc.boolean()),
      { seed: 12, numRuns: 30 },
    );
    const built = cases.map(([c, upper]) => {
      // A = M·Mᵀ + n·I, symmetric positive definite.
      const nb = c.batch.reduce((p, q) => p * q, 1), n = c.n;
      const m = randn(nb * n * n, c.seed), vals: number[] = [];
      for (let b = 0; b < nb; b++) {
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < n; j++) {
            let s = i === j ? n : 0;
            for (let k = 0; k < n; k++) s += m[b * n * n + i * n + k] * m[b * n * n + j * n + k];
            vals.push(c.dtype === "i32" ? Math.round(s) + (i === j ? n * n : 0) : s);
          }
        }
      }
      const a = layoutTensor(vals, [...c.batch, n, n], c.dtype, c.layout);
      return { c, upper, a };
    });
    const refs = await numpy(built.map(({ a, upper }) => ({
      expr: `np.linalg.cholesky(a, upper=${upper ? "True" : "False"})`,
      arrays: { a },
    })));
    built.forEach(({ c, upper, a }, i) => {
      const what = `case ${i} ${JSON.stringify(c)} upper=${upper}`;
      const d = linalgDtype(c.dtype);
      const l = linalg.cholesky(a, { upper });
      near(l, refs[i].results[0], what, 1e-13, rtolOf(d));
      const L = toF64(l), A = toF64(a), n = c.n;
      for (let b = 0; b < batches(a.shape); b++) {
        const o = b * n * n;
        for (let p = 0; p < n; p++) {
          for (let q = 0; q < n; q++) {
            let s = 0;
            for (let k = 0; k < n; k++) {
              s += upper
                ? L[o + k * n + p] * L[o + k * n + q]
                : L[o + p * n + k] * L[o + q * n + k];
            }
            assert.ok(
              Math.abs(s - A[o + p * n + q]) <= resTol(d) * maxAbs(A),
              `${what}: reconstruction`,
            );
          }
        }
      }
      l.dispose();
      a.dispose();
    });
  });

  await t.step("cholesky of a non-positive-definite matrix raises LinAlgError", () => {
    const a = tensor([[1, 2], [2, 1]]);
    assert.throws(
      () => linalg.cholesky(a),
      (e: Error) =>
        e instanceof LinAlgError &&
        /cholesky: matrix \(2, 2\) is not positive definite/.test(e.message),
    );
    a.dispose();
  });

  await t.step("qr matches numpy in every mode (LAPACK signs); Q·R = A and QᵀQ = I", async () => {
    const cases = fc.sample(
      fc.tuple(
        arbRect,
        fc.constantFrom("reduced", "complete", "r") as fc.Arbitrary<
          "reduced" | "complete" | "r"
        >,
      ),
      { seed: 13, numRuns: 40 },
    );
    const built = cases.map(([c, mode]) => ({
      c,
      mode,
      a: makeTensor([...c.batch, c.m, c.n], c.dtype, c.seed, c.layout),
    }));
    const refs = await numpy(built.map(({ a, mode }) => ({
      expr: mode === "r" ? "np.linalg.qr(a, mode='r')" : `tuple(np.linalg.qr(a, mode='${mode}'))`,
      arrays: { a },
    })));
    built.forEach(({ c, mode, a }, i) => {
      const what = `case ${i} ${JSON.stringify(c)} ${mode}`;
      const d = linalgDtype(c.dtype);
      const A = toF64(a), scale = maxAbs(A);
      if (mode === "r") {
        const { r } = linalg.qr(a, { mode: "r" });
        near(r, refs[i].results[0], `${what} r`, 1e-12, rtolOf(d), scale);
        r.dispose();
        a.dispose();
        return;
      }
      const { q, r } = linalg.qr(a, { mode });
      // Rank-deficient inputs (expanded layout) leave reflectors undetermined: residuals only.
      if (c.layout !== "expanded") {
        near(q, refs[i].results[0], `${what} q`, 1e-11, rtolOf(d), 1);
        near(r, refs[i].results[1], `${what} r`, 1e-11, rtolOf(d), scale);
      }
      const Q = toF64(q), R = toF64(r);
      const m = c.m, n = c.n, qc = q.shape[q.ndim - 1];
      for (let b = 0; b < batches(a.shape); b++) {
        const qr = mm(Q, b * m * qc, R, b * qc * n, m, qc, n);
        for (let k = 0; k < m * n; k++) {
          assert.ok(
            Math.abs(qr[k] - A[b * m * n + k]) <= resTol(d) * Math.max(scale, 1),
            `${what}: Q·R`,
          );
        }
        assert.ok(orthErr(Q, b * m * qc, m, qc) <= resTol(d), `${what}: QᵀQ`);
        for (let p = 0; p < qc; p++) {
          for (let k = 0; k < Math.min(p, n); k++) assert.equal(R[b * qc * n + p * n + k], 0);
        }
      }
      for (const x of [q, r, a]) x.dispose();
    });
  });
});

Deno.test("linalg: eigenproblems", { ...needsNumpy }, async (t) => {
  await t.step("eigh matches numpy (values; sign-fixed vectors); A·v = λ·v, VᵀV = I", async () => {
    const cases = fc.sample(fc.tuple(arbSquare, fc.constantFrom<"L" | "U">("L", "U")), {
      seed: 14,
      numRuns: 40,
    });
    const built = cases.map(([c, uplo]) => ({
      c,
      uplo,
      a: makeTensor([...c.batch, c.n, c.n], c.dtype, c.seed, c.layout),
    }));
    const refs = await numpy(built.map(({ a, uplo }) => ({
      setup: NP_SIGNS,
      expr: `(lambda r: (r[0], fixcols(r[1]), mingap(r[0], np.abs(r[0]).max())))` +
        `(np.linalg.eigh(a, UPLO='${uplo}'))`,
      arrays: { a },
    })));
    built.forEach(({ c, uplo, a }, i) => {
      const what = `case ${i} ${JSON.stringify(c)} ${uplo}`;
      const d = linalgDtype(c.dtype);
      const { eigenvalues: w, eigenvectors: v } = linalg.eigh(a, { uplo });
      const [rw, rv, rgap] = refs[i].results;
      const A = toF64(a), n = c.n, scale = maxAbs(A);
      near(w, rw, `${what} eigenvalues`, 1e-12, rtolOf(d), n * scale);
      const V = toF64(v), W = toF64(w);
      const nb = batches(a.shape);
      if (rgap.values[0] > 1e-3) {
        fixColumnSigns(V, n, n, nb);
        const fixed = tensor(Array.from(V), { dtype: d, shape: [...v.shape] });
        near(fixed, rv, `${what} eigenvectors`, 1e-9, rtolOf(d), 1);
        fixed.dispose();
      }
      for (let b = 0; b < nb; b++) {
        const o = b * n * n;
        // Symmetric matrix from the triangle that was read.
        const S = new Float64Array(n * n);
        for (let p = 0; p < n; p++) {
          for (let q = 0; q < n; q++) {
            const lo = p >= q;
            S[p * n + q] = (uplo === "L") === lo ? A[o + p * n + q] : A[o + q * n + p];
          }
        }
        const sv = mm(S, 0, V, o, n, n, n);
        for (let p = 0; p < n; p++) {
          for (let q = 0; q < n; q++) {
            const err = Math.abs(sv[p * n + q] - W[b * n + q] * V[o + p * n + q]);
            assert.ok(err <= resTol(d) * n * Math.max(scale, 1), `${what}: A·v = λv`);
          }
        }
        assert.ok(orthErr(V, o, n, n) <= resTol(d), `${what}: VᵀV`);
        for (let q = 1; q < n; q++) assert.ok(W[b * n + q - 1] <= W[b * n + q], "ascending");
      }
      for (const x of [w, v, a]) x.dispose();
    });
  });

  await t.step("eig: eigenvalues match numpy's (as a set); A·v = λ·v with ‖v‖ = 1", async () => {
    const cases = fc.sample(arbSquare, { seed: 15, numRuns: 40 });
    const built = cases.map((c) => ({
      c,
      a: makeTensor([...c.batch, c.n, c.n], c.dtype, c.seed, c.layout),
    }));
    // Special matrices: rotation (complex pair), defective Jordan block, identity, permutation.
    const special = [
      [[0, -1], [1, 0]],
      [[2, 1], [0, 2]],
      [[1, 0, 0], [0, 1, 0], [0, 0, 1]],
      [[0, 0, 1], [1, 0, 0], [0, 1, 0]],
      [[1, 2, 3], [4, 5, 6], [7, 8, 10]],
    ].map((m) => ({
      c: { n: m.length, batch: [], dtype: "f64" as DType, layout: "contiguous" as Layout, seed: 0 },
      a: tensor(m, { dtype: "f64" }),
    }));
    const all = [...built, ...special];
    const refs = await numpy(all.map(({ a }) => ({
      expr:
        "(lambda w: (w.real.copy(), w.imag.copy()))(np.linalg.eigvals(a).astype(np.complex128))",
      arrays: { a },
    })));
    all.forEach(({ c, a }, i) => {
      const what = `case ${i} ${JSON.stringify(c)}`;
      const d = linalgDtype(c.dtype);
      const r = linalg.eig(a);
      const WR = toF64(r.eigenvaluesReal), WI = toF64(r.eigenvaluesImag);
      const VR = toF64(r.eigenvectorsReal), VI = toF64(r.eigenvectorsImag);
      const A = toF64(a), n = c.n, nb = batches(a.shape), scale = Math.max(maxAbs(A), 1);
      const [nr, ni] = refs[i].results;
      const isDefective = i === built.length + 1;
      for (let b = 0; b < nb; b++) {
        // Match each numpy eigenvalue to the nearest unused one of ours.
        const used = new Set<number>();
        for (let p = 0; p < n; p++) {
          let best = -1, bestD = Infinity;
          for (let q = 0; q < n; q++) {
            if (used.has(q)) continue;
            const dd = Math.hypot(
              WR[b * n + q] - nr.values[b * n + p],
              WI[b * n + q] - ni.values[b * n + p],
            );
            if (dd < bestD) bestD = dd, best = q;
          }
          used.add(best);
          // A defective eigenvalue is only determined to ~sqrt(eps).
          const tol = isDefective ? 1e-7 : (d === "f32" ? 1e-6 : 1e-10) * n * scale;
          assert.ok(bestD <= tol, `${what}: eigenvalue ${p} off by ${bestD}`);
        }
        for (let q = 0; q < n; q++) {
          const lr = WR[b * n + q], li = WI[b * n + q];
          let norm = 0;
          for (let p = 0; p < n; p++) {
            // (A·v − λ·v)_p in complex arithmetic.
            let sr = 0, si = 0;
            for (let k = 0; k < n; k++) {
              sr += A[b * n * n + p * n + k] * VR[b * n * n + k * n + q];
              si += A[b * n * n + p * n + k] * VI[b * n * n + k * n + q];
            }
            const vr = VR[b * n * n + p * n + q], vi = VI[b * n * n + p * n + q];
            sr -= lr * vr - li * vi;
            si -= lr * vi + li * vr;
            assert.ok(Math.hypot(sr, si) <= resTol(d) * 10 * n * scale, `${what}: A·v = λv`);
            norm += vr * vr + vi * vi;
          }
          assert.ok(Math.abs(Math.sqrt(norm) - 1) <= resTol(d) * 10, `${what}: ‖v‖ = 1`);
        }
      }
      for (
        const x of [
          r.eigenvaluesReal,
          r.eigenvaluesImag,
          r.eigenvectorsReal,
          r.eigenvectorsImag,
          a,
        ]
      ) x.dispose();
    });
  });

  await t.step("eig lists a conjugate pair adjacently, positive imaginary part first", () => {
    const r = linalg.eig(tensor([[1, -2, 0], [2, 1, 0], [0, 0, 3]], { dtype: "f64" }));
    const wr = toF64(r.eigenvaluesReal), wi = toF64(r.eigenvaluesImag);
    const j = [...wi].findIndex((x) => x !== 0);
    assert.ok(j >= 0 && wi[j] > 0 && wi[j + 1] === -wi[j] && wr[j] === wr[j + 1]);
    assert.ok(Math.abs(wi[j] - 2) < 1e-12 && Math.abs(wr[j] - 1) < 1e-12);
    for (const x of Object.values(r)) x.dispose();
  });

  await t.step(
    "eig refuses Inf/NaN (numpy too); eigh returns NaN for them (numpy too)",
    async () => {
      const a = tensor([[1, NaN], [3, 4]], { dtype: "f64" });
      const [re] = await numpy([{ expr: "np.linalg.eig(a)", arrays: { a } }]);
      assert.match(re.error!, /LinAlgError/);
      assert.throws(
        () => linalg.eig(a),
        (e: Error) =>
          e instanceof LinAlgError && /eig: matrix \(2, 2\) holds Inf or NaN/.test(e.message),
      );
      const s = tensor([[4, NaN], [NaN, 4]], { dtype: "f64" });
      const [rh] = await numpy([{ expr: "np.linalg.eigh(a)[0]", arrays: { a: s } }]);
      const { eigenvalues, eigenvectors } = linalg.eigh(s);
      assertMatches(eigenvalues, rh.results[0]);
      for (const x of [a, s, eigenvalues, eigenvectors]) x.dispose();
    },
  );
});

Deno.test("linalg: SVD family (svd, pinv, lstsq, matrixRank)", { ...needsNumpy }, async (t) => {
  await t.step(
    "svd matches numpy (s; sign-fixed u, vh); U·diag(s)·Vh = A, U and Vh orthonormal",
    async () => {
      const cases = fc.sample(fc.tuple(arbRect, fc.boolean()), { seed: 16, numRuns: 40 });
      const built = cases.map(([c, full]) => ({
        c,
        full,
        a: makeTensor([...c.batch, c.m, c.n], c.dtype, c.seed, c.layout),
      }));
      const refs = await numpy(built.map(({ a, full }) => ({
        setup: NP_SIGNS,
        expr: `(lambda r: (r[1], *fixsvd(r[0], r[1], r[2]), ` +
          `np.min(np.diff(-r[1], axis=-1) / max(r[1].max(), 1e-300), initial=1.0)))` +
          `(np.linalg.svd(a, full_matrices=${full ? "True" : "False"}))`,
        arrays: { a },
      })));
      built.forEach(({ c, full, a }, i) => {
        const what = `case ${i} ${JSON.stringify(c)} full=${full}`;
        const d = linalgDtype(c.dtype);
        const { u, s, vh } = linalg.svd(a, { fullMatrices: full });
        const { s: s2 } = linalg.svd(a, { computeUV: false });
        const [rs, ru, rvh, rgap] = refs[i].results;
        const A = toF64(a), m = c.m, n = c.n, k = Math.min(m, n), scale = maxAbs(A);
        near(s, rs, `${what} s`, 1e-12, rtolOf(d), scale * Math.max(m, n));
        near(s2, rs, `${what} s (no uv)`, 1e-12, rtolOf(d), scale * Math.max(m, n));
        const uc = full ? m : k, vr = full ? n : k;
        assert.deepEqual(u.shape, [...c.batch, m, uc]);
        assert.deepEqual(vh.shape, [...c.batch, vr, n]);
        const U = toF64(u), S = toF64(s), VH = toF64(vh), nb = batches(a.shape);
        if (rgap.values[0] > 1e-3 && c.layout !== "expanded") {
          // Fix signs by vh's rows (as columns of v), carrying them to u's first k columns.
          const uk = new Float64Array(nb * m * k), vk = new Float64Array(nb * n * k);
          for (let b = 0; b < nb; b++) {
            for (let p = 0; p < m; p++) {
              for (let j = 0; j < k; j++) uk[b * m * k + p * k + j] = U[b * m * uc + p * uc + j];
            }
            for (let j = 0; j < k; j++) {
              for (let p = 0; p < n; p++) vk[b * n * k + p * k + j] = VH[b * vr * n + j * n + p];
            }
          }
          const signs = fixColumnSigns(vk, n, k, nb);
          for (let b = 0; b < nb; b++) {
            for (let p = 0; p < m; p++) {
              for (let j = 0; j < k; j++) uk[b * m * k + p * k + j] *= signs[b][j];
            }
          }
          const vhk = new Float64Array(nb * k * n);
          for (let b = 0; b < nb; b++) {
            for (let j = 0; j < k; j++) {
              for (let p = 0; p < n; p++) vhk[b * k * n + j * n + p] = vk[b * n * k + p * k + j];
            }
          }
          const tu = tensor(Array.from(uk), { dtype: d, shape: [...c.batch, m, k] });
          const tv = tensor(Array.from(vhk), { dtype: d, shape: [...c.batch, k, n] });
          near(tu, ru, `${what} u`, 1e-9, rtolOf(d), 1);
          near(tv, rvh, `${what} vh`, 1e-9, rtolOf(d), 1);
          tu.dispose();
          tv.dispose();
        }
        for (let b = 0; b < nb; b++) {
          // U[:, :k]·diag(s)·Vh[:k, :] = A
          for (let p = 0; p < m; p++) {
            for (let q = 0; q < n; q++) {
              let acc = 0;
              for (let j = 0; j < k; j++) {
                acc += U[b * m * uc + p * uc + j] * S[b * k + j] * VH[b * vr * n + j * n + q];
              }
              assert.ok(
                Math.abs(acc - A[b * m * n + p * n + q]) <= resTol(d) * k * Math.max(scale, 1),
                `${what}: U·diag(s)·Vh`,
              );
            }
          }
          assert.ok(orthErr(U, b * m * uc, m, uc) <= resTol(d), `${what}: UᵀU`);
          // Rows of Vh orthonormal: check Vhᵀ's columns.
          const vt = new Float64Array(n * vr);
          for (let j = 0; j < vr; j++) {
            for (let p = 0; p < n; p++) vt[p * vr + j] = VH[b * vr * n + j * n + p];
          }
          assert.ok(orthErr(vt, 0, n, vr) <= resTol(d), `${what}: Vh·Vhᵀ`);
          for (let j = 1; j < k; j++) assert.ok(S[b * k + j - 1] >= S[b * k + j], "descending");
        }
        for (const x of [u, s, vh, s2, a]) x.dispose();
      });
    },
  );

  await t.step("pinv matches numpy on random and rank-deficient stacks", async () => {
    const cases = fc.sample(arbRect.filter((c) => c.layout !== "expanded"), {
      seed: 17,
      numRuns: 30,
    });
    const built = cases.map((c) => ({
      c,
      rcond: undefined as number | undefined,
      a: makeTensor([...c.batch, c.m, c.n], c.dtype, c.seed, c.layout),
    }));
    // Rank 1 (repeated rows): a larger rcond makes the cutoff unambiguous.
    built.push({
      c: { m: 4, n: 3, batch: [2], dtype: "f64", layout: "expanded", seed: 3 },
      rcond: 1e-10,
      a: makeTensor([2, 4, 3], "f64", 3, "expanded"),
    });
    const refs = await numpy(built.map(({ a, rcond }) => ({
      expr: (rcond === undefined ? "np.linalg.pinv(a)" : `np.linalg.pinv(a, rcond=${rcond})`) +
        ", np.max(np.linalg.cond(a))",
      arrays: { a },
    })));
    built.forEach(({ c, a, rcond }, i) => {
      const d = linalgDtype(c.dtype);
      const p = linalg.pinv(a, { rcond });
      const [rp, rc] = refs[i].results;
      // NumPy's pinv rounds u, s, vh to f32 and multiplies them in f32: ~eps(f32)·cond(A).
      const cond = c.layout === "expanded" ? 1 : Math.max(1, rc.values[0]);
      const rel = d === "f32" ? 1e-6 * cond : 1e-12 * cond;
      near(p, rp, `case ${i} ${JSON.stringify(c)}`, rel, rtolOf(d));
      p.dispose();
      a.dispose();
    });
  });

  await t.step(
    "lstsq matches numpy: over/underdetermined, rank-deficient, b 1-D or 2-D",
    async () => {
      const cases = fc.sample(
        fc.record({
          m: fc.integer({ min: 1, max: 8 }),
          n: fc.integer({ min: 1, max: 8 }),
          k: fc.integer({ min: 0, max: 3 }),
          dtype: fc.constantFrom<DType>("f32", "f64", "i32"),
          layout: fc.constantFrom<Layout>("contiguous", "transposed", "strided", "expanded"),
          seed: fc.nat(),
        }),
        { seed: 18, numRuns: 40 },
      );
      const built = cases.map((c) => ({
        c,
        a: makeTensor([c.m, c.n], c.dtype, c.seed, c.layout),
        b: makeTensor(
          c.k === 0 ? [c.m] : [c.m, c.k],
          c.dtype === "i32" ? "f64" : c.dtype,
          c.seed + 9,
        ),
      }));
      const refs = await numpy(built.map(({ a, b }) => ({
        expr: "(lambda r: (r[0], r[1], np.array(r[2]), r[3]))(np.linalg.lstsq(a, b))",
        arrays: { a, b },
      })));
      built.forEach(({ c, a, b }, i) => {
        const what = `case ${i} ${JSON.stringify(c)}`;
        const d = linalgDtype(c.dtype);
        const r = linalg.lstsq(a, b);
        const [rx, rres, rrank, rs] = refs[i].results;
        assert.equal(r.rank, rrank.values[0], `${what}: rank`);
        // Rank-deficient solutions are minimum-norm: well defined, but less well conditioned.
        near(r.solution, rx, `${what} solution`, c.layout === "expanded" ? 1e-8 : 1e-10, rtolOf(d));
        assertMatches(
          r.residuals,
          rres,
          { rtol: 1e-8 + rtolOf(d), atol: 1e-9 },
          `${what} residuals`,
        );
        near(r.singularValues, rs, `${what} s`, 1e-12, rtolOf(d));
        for (const x of [r.solution, r.residuals, r.singularValues, a, b]) x.dispose();
      });
    },
  );

  await t.step("matrixRank matches numpy on matrices of known rank, tol/rtol, 1-D", async () => {
    const built: { a: Tensor; opts: { tol?: number; rtol?: number }; py: string }[] = [];
    for (let s = 0; s < 20; s++) {
      const m = 1 + (s % 7), n = 1 + ((s * 3) % 8), r = s % (Math.min(m, n) + 1);
      const nb = 1 + (s % 3);
      const B = randn(nb * m * r, s), C = randn(nb * r * n, s + 50), vals: number[] = [];
      for (let b = 0; b < nb; b++) {
        const prod = mm(Float64Array.from(B), b * m * r, Float64Array.from(C), b * r * n, m, r, n);
        vals.push(...prod);
      }
      const dtype: DType = s % 2 ? "f32" : "f64";
      built.push({
        a: layoutTensor(vals, [nb, m, n], dtype, MATRIX_LAYOUTS[s % 3]),
        opts: {},
        py: "np.linalg.matrix_rank(a)",
      });
    }
    const diag = tensor([[1, 0, 0], [0, 1e-3, 0], [0, 0, 1e-9]], { dtype: "f64" });
    built.push({ a: diag, opts: { tol: 1e-4 }, py: "np.linalg.matrix_rank(a, tol=1e-4)" });
    built.push({ a: diag, opts: { rtol: 1e-6 }, py: "np.linalg.matrix_rank(a, rtol=1e-6)" });
    built.push({ a: tensor([0, 0, 2]), opts: {}, py: "np.linalg.matrix_rank(a)" });
    built.push({ a: tensor([0, 0]), opts: {}, py: "np.linalg.matrix_rank(a)" });
    const refs = await numpy(
      built.map(({ a, py }) => ({ expr: `np.asarray(${py})`, arrays: { a } })),
    );
    built.forEach(({ a, opts }, i) => {
      const r = linalg.matrixRank(a, opts);
      assertMatches(r, refs[i].results[0], {}, `case ${i} ${JSON.stringify(a.shape)}`);
      r.dispose();
    });
    for (const { a } of built) a.dispose();
  });

  await t.step("the SVD family raises LinAlgError on NaN input (numpy too)", async () => {
    const a = tensor([[1, NaN], [3, 4]], { dtype: "f64" });
    const refs = await numpy([
      { expr: "np.linalg.svd(a)", arrays: { a } },
      { expr: "np.linalg.pinv(a)", arrays: { a } },
      { expr: "np.linalg.matrix_rank(a)", arrays: { a } },
    ]);
    // (np.linalg.lstsq raises LinAlgError too, but LAPACK prints to stdout while it fails, which
    // would garble the reference protocol, so it is not called here.)
    for (const r of refs) assert.match(r.error!, /LinAlgError/);
    const check = (e: Error) => e instanceof LinAlgError && /did not converge/.test(e.message);
    assert.throws(() => linalg.svd(a), check);
    assert.throws(() => linalg.svd(a, { computeUV: false }), check);
    assert.throws(() => linalg.pinv(a), check);
    assert.throws(() => linalg.matrixRank(a), check);
    assert.throws(() => linalg.lstsq(a, [1, 1]), check);
    a.dispose();
  });
});

Deno.test("linalg: empty matrices, bad input, memory", { ...needsNumpy }, async (t) => {
  await t.step("0×0 and empty-batch matrices give numpy's shapes and values", async () => {
    const e = tensor([], { dtype: "f64", shape: [0, 0] });
    const e2 = tensor([], { dtype: "f32", shape: [0, 3, 3] });
    const w = tensor([], { dtype: "f64", shape: [3, 0] });
    const refs = await numpy([
      { expr: "np.linalg.det(a)", arrays: { a: e } },
      { expr: "np.linalg.inv(a)", arrays: { a: e } },
      { expr: "np.linalg.det(a)", arrays: { a: e2 } },
      { expr: "np.linalg.solve(a, np.zeros((0, 3, 1), np.float32))", arrays: { a: e2 } },
      { expr: "tuple(np.linalg.svd(a))", arrays: { a: w } },
      { expr: "tuple(np.linalg.qr(a, mode='complete'))", arrays: { a: w } },
      { expr: "np.linalg.pinv(a)", arrays: { a: w } },
      { expr: "tuple(np.linalg.eigh(a))", arrays: { a: e2 } },
    ]);
    const z = tensor([], { dtype: "f32", shape: [0, 3, 1] });
    const outs: [Tensor, RefArray][] = [
      [linalg.det(e), refs[0].results[0]],
      [linalg.inv(e), refs[1].results[0]],
      [linalg.det(e2), refs[2].results[0]],
      [linalg.solve(e2, z), refs[3].results[0]],
    ];
    const s = linalg.svd(w);
    outs.push([s.u, refs[4].results[0]], [s.s, refs[4].results[1]], [s.vh, refs[4].results[2]]);
    const q = linalg.qr(w, { mode: "complete" });
    outs.push([q.q, refs[5].results[0]], [q.r, refs[5].results[1]]);
    outs.push([linalg.pinv(w), refs[6].results[0]]);
    const h = linalg.eigh(e2);
    outs.push([h.eigenvalues, refs[7].results[0]], [h.eigenvectors, refs[7].results[1]]);
    outs.forEach(([ours, ref], i) => assertMatches(ours, ref, {}, `output ${i}`));
    for (const x of [e, e2, w, z, ...outs.map((o) => o[0])]) x.dispose();
  });

  await t.step("non-square or 1-D input is a ShapeError naming the op and shape", () => {
    const a = tensor([[1, 2, 3], [4, 5, 6]]);
    for (
      const [name, f] of [
        ["solve", () => linalg.solve(a, [1, 2])],
        ["inv", () => linalg.inv(a)],
        ["det", () => linalg.det(a)],
        ["slogdet", () => linalg.slogdet(a)],
        ["cholesky", () => linalg.cholesky(a)],
        ["eigh", () => linalg.eigh(a)],
        ["eig", () => linalg.eig(a)],
      ] as const
    ) {
      assert.throws(
        f,
        (e: Error) =>
          e instanceof ShapeError &&
          e.message.startsWith(`${name}: the last two axes must be square`) &&
          e.message.includes("(2, 3)"),
        name,
      );
    }
    assert.throws(
      () => linalg.svd([1, 2, 3]),
      (e: Error) => e instanceof ShapeError && /at least 2 axes/.test(e.message),
    );
    assert.throws(() => linalg.qr(5), ShapeError);
    const sq = tensor([[1, 0], [0, 1]]);
    assert.throws(
      () => linalg.solve(sq, [1, 2, 3]),
      (e: Error) => e instanceof ShapeError && /b needs 2 rows/.test(e.message),
    );
    // NumPy 2: a 2-D b is a matrix, never a stack of vectors.
    assert.throws(
      () =>
        linalg.solve(
          tensor([[[1, 0], [0, 1]]]).expand([3, 2, 2]),
          tensor([[1, 2], [3, 4], [5, 6]]),
        ),
      ShapeError,
    );
    assert.throws(() => linalg.lstsq(tensor([[[1]]]), [1]), ShapeError);
    assert.throws(() => linalg.lstsq(sq, [1, 2, 3]), ShapeError);
    a.dispose();
    sq.dispose();
  });

  await t.step("f16/bf16 are a DTypeError with a hint (numpy refuses float16)", () => {
    const h = tensor([[1, 0], [0, 1]], { dtype: "f16" });
    const bh = tensor([[1, 0], [0, 1]], { dtype: "bf16" });
    assert.throws(
      () => linalg.inv(h),
      (e: Error) => e instanceof DTypeError && /astype\("f32"\)/.test(e.message),
    );
    assert.throws(() => linalg.svd(bh), DTypeError);
    h.dispose();
    bh.dispose();
  });

  await t.step("bad options are errors", () => {
    const a = tensor([[1, 0], [0, 1]]);
    assert.throws(() => linalg.qr(a, { mode: "raw" as never }), /mode must be/);
    assert.throws(() => linalg.eigh(a, { uplo: "X" as never }), /uplo must be/);
    assert.throws(() => linalg.pinv(a, { rcond: 1e-3, rtol: 1e-3 }), /not both/);
    a.dispose();
  });

  await t.step("results and intermediates are released, also when an op throws", () => {
    const a = makeTensor([2, 4, 4], "f32", 1, "transposed");
    const ai = tensor([[1, 2], [3, 5]], { dtype: "i32" });
    const sing = tensor([[1, 1], [1, 1]]);
    const negdef = tensor([[-1, 0], [0, -1]]);
    const before = cpuState();
    const outs: Tensor[] = [
      linalg.solve(a, [1, 2, 3, 4]),
      linalg.inv(ai),
      linalg.det(ai),
      ...Object.values(linalg.slogdet(a)),
      ...Object.values(linalg.qr(a)),
      ...Object.values(linalg.eigh(a)),
      ...Object.values(linalg.eig(a)),
      ...Object.values(linalg.svd(a, { fullMatrices: false })),
      linalg.pinv(a),
      linalg.matrixRank(a),
      linalg.matrixRank([1, 2]),
    ];
    const ls = linalg.lstsq(ai, [1, 2]);
    outs.push(ls.solution, ls.residuals, ls.singularValues);
    for (
      const f of [
        () => linalg.inv(sing),
        () => linalg.solve(sing, [[1], [2]]),
        () => linalg.cholesky(negdef),
      ]
    ) {
      try {
        f();
      } catch { /* expected */ }
    }
    for (const o of outs) o.dispose();
    assert.deepEqual(cpuState(), before);
    for (const x of [a, ai, sing, negdef]) x.dispose();
  });
});
