/**
 * The OpenBLAS plugin against the scalar backend (the reference), kernel by kernel, on random
 * inputs in many memory layouts; its routing, fallback and absence rules.
 *
 * Every case builds the same input views and runs the OpenBLAS kernel and the scalar kernel on
 * them directly (both kernels get fresh zero-filled outputs), so the comparison does not depend on
 * which other plugins are registered.
 *
 * Tolerances:
 * - matmul: |ours − ref| ≤ rtol·Σ|a||b| elementwise, rtol 1e-4 for f32 (sgemm accumulates in f32,
 *   the reference in f64: the error is ≤ k·2^-24·Σ|a||b|) and 1e-10 for f64.
 * - LAPACK kernels: |ours − ref| ≤ rtol·(|ref| + max|ref|), rtol 1e-4 for f32 (the default
 *   computes f32 in double precision like NumPy, so both round the same f64 result: the
 *   tolerance only covers the algorithms' differences, with margin) and 1e-10 for f64. Inputs are
 *   well-conditioned (diagonally shifted or random of small size), so the reference algorithms
 *   (Jacobi eigen/SVD, unblocked Householder) and LAPACK's agree far below these bounds.
 *   Eigenvectors and singular vectors are compared up to sign (their sign is not unique); the
 *   complement columns of a full SVD only by orthogonality; general eigenvectors by modulus and
 *   by the residual ‖A·v − λ·v‖.
 * - The "single" f32 mode (`s*` routines) uses rtol 2e-3 on condition numbers below ~30.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  abs,
  backends,
  broadcastTo,
  copyInto,
  type DType,
  type KernelEntry,
  type KernelFn,
  LinAlgError,
  matmul,
  randn,
  registerBackend,
  scalarBackend,
  Tensor,
  tensor,
  traceKernels,
  unregisterBackend,
  zeros,
} from "../../mod.ts";
import {
  blasThreads,
  openblasBackend,
  setBlasThreads,
  setLapackF32Precision,
} from "../../backends/openblas/mod.ts";
import { linalg } from "../../core/ops/linalg.ts";
import { disposeWasmThreads, poolStats, wasmThreads } from "../../backends/cpu/pool.ts";
import { gemm as splitGemm } from "../../backends/openblas/split.ts";
import type { GemmPair } from "../../backends/openblas/gemm_job.ts";
import { CblasNoTrans, loadBlas } from "../../backends/openblas/ffi.ts";
import { storagePtr } from "../../backends/openblas/ptr.ts";
import { arbBroadcastPair, rng } from "../helpers/gen.ts";
import { planOf } from "../helpers/kernels.ts";
import type { OpName } from "../../core/ops/contracts/mod.ts";

const status = backends().find((b) => b.name === "openblas");
const present = status?.status === "available";
const inCI = Deno.env.get("CI") === "true";
const opts = { ignore: !present };

Deno.test("openblas plugin is present (required when CI=true)", () => {
  if (inCI) {
    assert.ok(present, `CI requires the OpenBLAS plugin; it is absent: ${status?.reason}`);
  }
  if (!present) {
    console.warn(`openblas absent (${status?.reason}): its tests are skipped`);
    return;
  }
  const caps = status!.capabilities as
    & { config?: string; library?: string }
    & typeof status.capabilities;
  assert.match(caps!.config ?? "", /OpenBLAS/);
  assert.ok(caps!.features!.includes("lapack"), "LAPACK symbols bound");
  assert.ok((caps!.threads ?? 0) >= 1);
});

// ---- helpers ---------------------------------------------------------------------------------

interface Spec {
  shape: readonly number[];
  dtype: DType;
}

/** Run kernel `op` of the plugin (asserting it accepts the call) or of the scalar backend. */
function runOn(
  which: "openblas" | "scalar",
  op: string,
  inputs: Tensor[],
  attrs: Record<string, unknown>,
  specs: Spec[],
): Tensor[] {
  const outputs = specs.map((s) => Tensor.empty(s.shape, s.dtype));
  const call = { op, inputs, outputs, attrs };
  if (which === "openblas") {
    const run = planOf(openblasBackend, op, call);
    assert.ok(run, `openblas declined ${op} on ${desc(inputs)}`);
    run(call);
  } else {
    (scalarBackend.kernels[op as OpName] as KernelFn)(call);
  }
  return outputs;
}

function both(op: string, inputs: Tensor[], attrs: Record<string, unknown>, specs: Spec[]) {
  return {
    ours: runOn("openblas", op, inputs, attrs, specs),
    ref: runOn("scalar", op, inputs, attrs, specs),
  };
}

function desc(ts: Tensor[]): string {
  return ts.map((t) => `${t.dtype}${JSON.stringify(t.shape)}/${JSON.stringify(t.strides)}`)
    .join(", ");
}

function disposeAll(...ts: (Tensor | Tensor[])[]): void {
  for (const t of ts.flat()) t.dispose();
}

function nums(t: Tensor): number[] {
  return Array.from(t.dataSync() as ArrayLike<number | bigint>, Number);
}

/** |x − y| ≤ rtol·(|y| + max|ref|) elementwise; NaN only matches NaN. */
function close(ours: Tensor, ref: Tensor, rtol: number, what: string, scale = 0): void {
  assert.deepEqual(ours.shape, ref.shape, `${what}: shape`);
  assert.equal(ours.dtype, ref.dtype, `${what}: dtype`);
  closeArr(nums(ours), nums(ref), rtol, what, scale);
}

/** As {@link close}, with `scale` a lower bound of the magnitude the errors are relative to. */
function closeArr(x: number[], y: number[], rtol: number, what: string, scale = 0): void {
  for (const v of y) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < y.length; i++) {
    const a = x[i], b = y[i];
    if (Number.isNaN(b) || !Number.isFinite(b)) {
      assert.ok(
        Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b)),
        `${what}[${i}]: ${a} vs ${b}`,
      );
      continue;
    }
    assert.ok(
      Math.abs(a - b) <= rtol * (Math.abs(b) + scale) + 1e-300,
      `${what}[${i}]: ${a} vs ${b} (rtol ${rtol})`,
    );
  }
}

const RTOL: Record<string, number> = { f32: 1e-4, f64: 1e-10 };

/** Memory layouts of a batch of matrices holding the same logical values. */
type Layout = "contiguous" | "transposed" | "strided" | "padded" | "batch-broadcast" | "flipped";

/**
 * A tensor of `shape` holding `vals` (C order) in `layout`:
 * transposed (column-major matrices), strided (every other element of a larger tensor), padded
 * (row stride > columns, nonzero offset: BLAS's lda), batch-broadcast (the first matrix expanded
 * over the batch: the logical values become that matrix repeated), flipped (negative strides).
 */
function place(
  vals: ArrayLike<number>,
  shape: readonly number[],
  dtype: DType,
  layout: Layout,
): Tensor {
  const r = shape.length;
  const c = tensor(Array.from(vals), { dtype, shape });
  switch (layout) {
    case "contiguous":
      return c;
    case "transposed": {
      const sw = c.swapaxes(r - 2, r - 1);
      const cc = sw.contiguous();
      const v = cc.swapaxes(r - 2, r - 1);
      disposeAll(c, sw, cc);
      return v;
    }
    case "strided": {
      const big = zeros(shape.map((d) => 2 * d), { dtype });
      const v = big.slice(...shape.map(() => "::2"));
      copyInto(v, c);
      disposeAll(big, c);
      return v;
    }
    case "padded": {
      const cols = shape[r - 1];
      const big = zeros([...shape.slice(0, -1), cols + 3], { dtype });
      const v = big.slice(...shape.slice(0, -1).map(() => ":"), `1:${cols + 1}`);
      copyInto(v, c);
      disposeAll(big, c);
      return v;
    }
    case "batch-broadcast": {
      if (r < 3) return c;
      const one = c.slice(...shape.slice(0, -2).map(() => "0:1"));
      const own = one.contiguous();
      const v = own.expand(shape);
      disposeAll(c, one, own);
      return v;
    }
    case "flipped": {
      const f = c.flip();
      const cc = f.contiguous();
      const v = cc.flip();
      disposeAll(c, f, cc);
      return v;
    }
  }
}

function randMat(seed: number, count: number, lo = -1, hi = 1): Float64Array {
  const r = rng(seed);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = lo + r() * (hi - lo);
  return out;
}

/** `nb` random n×n matrices shifted by `shift`·I (well-conditioned for shift ≳ n/2). */
function shifted(seed: number, nb: number, n: number, shift: number): Float64Array {
  const v = randMat(seed, nb * n * n);
  for (let b = 0; b < nb; b++) for (let i = 0; i < n; i++) v[b * n * n + i * n + i] += shift;
  return v;
}

/** `nb` symmetric n×n matrices; SPD (M·Mᵀ/n + I) when `spd`. */
function symmetric(seed: number, nb: number, n: number, spd: boolean): Float64Array {
  const m = randMat(seed, nb * n * n);
  const out = new Float64Array(nb * n * n);
  for (let b = 0; b < nb; b++) {
    const o = b * n * n;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        if (spd) {
          let s = i === j ? 1 : 0;
          for (let p = 0; p < n; p++) s += m[o + i * n + p] * m[o + j * n + p] / n;
          out[o + i * n + j] = s;
        } else out[o + i * n + j] = (m[o + i * n + j] + m[o + j * n + i]) / 2;
      }
    }
  }
  return out;
}

const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Random case parameters shared by the LAPACK tests. */
interface Case {
  batch: readonly number[];
  m: number;
  n: number;
  dtype: DType;
  layout: Layout;
  seed: number;
}

const MAT_LAYOUTS: Layout[] = ["contiguous", "transposed", "strided", "padded", "batch-broadcast"];

function cases(numRuns: number, seed: number, maxDim = 7, square = false): Case[] {
  return fc.sample(
    fc.record({
      batch: fc.oneof(
        fc.constant([]),
        fc.constant([]),
        fc.array(fc.integer({ min: 1, max: 3 }), {
          minLength: 1,
          maxLength: 2,
        }),
      ),
      m: fc.oneof(fc.integer({ min: 1, max: maxDim }), fc.constantFrom(1, 13, 24)),
      n: fc.oneof(fc.integer({ min: 1, max: maxDim }), fc.constantFrom(1, 11, 24)),
      dtype: fc.constantFrom<DType>("f32", "f64") as fc.Arbitrary<DType>,
      layout: fc.constantFrom(...MAT_LAYOUTS),
      seed: fc.integer({ min: 1, max: 1e6 }),
    }).map((c) => (square ? { ...c, n: c.m } : c)),
    { seed, numRuns },
  );
}

function label(c: Case): string {
  return `${c.dtype} batch ${JSON.stringify(c.batch)} ${c.m}×${c.n} ${c.layout}`;
}

// ---- matmul ----------------------------------------------------------------------------------

/** Σ|a||b| per output element, by the scalar kernel on |a|, |b|. */
function absProducts(av: Tensor, bv: Tensor, spec: Spec): Tensor {
  const aa = abs(av), ab = abs(bv);
  const [out] = runOn("scalar", "matmul", [aa, ab], {}, [spec]);
  disposeAll(aa, ab);
  return out;
}

Deno.test("matmul: openblas equals the scalar kernel on random batched views", opts, async (t) => {
  const arb = fc.record({
    pair: arbBroadcastPair({ maxRank: 2, maxDim: 3 }),
    m: fc.oneof(fc.integer({ min: 1, max: 9 }), fc.constantFrom(1, 17, 33)),
    k: fc.oneof(fc.integer({ min: 1, max: 9 }), fc.constantFrom(1, 16, 31)),
    n: fc.oneof(fc.integer({ min: 1, max: 9 }), fc.constantFrom(1, 17, 40)),
    dtype: fc.constantFrom<DType>("f32", "f64"),
    la: fc.constantFrom<Layout>("contiguous", "transposed", "padded", "batch-broadcast"),
    lb: fc.constantFrom<Layout>("contiguous", "transposed", "padded", "batch-broadcast"),
    seed: fc.integer({ min: 1, max: 1e6 }),
  });
  const list = fc.sample(arb, { seed: 7, numRuns: 150 });
  // Large and odd sizes (blocked, threaded GEMM paths) and pure GEMV shapes.
  list.push(
    {
      pair: [[], []],
      m: 200,
      k: 200,
      n: 200,
      dtype: "f32",
      la: "contiguous",
      lb: "contiguous",
      seed: 1,
    },
    {
      pair: [[2], [1]],
      m: 130,
      k: 257,
      n: 67,
      dtype: "f64",
      la: "transposed",
      lb: "padded",
      seed: 2,
    },
    { pair: [[3], []], m: 1, k: 300, n: 50, dtype: "f32", la: "padded", lb: "transposed", seed: 3 },
    {
      pair: [[], [2]],
      m: 70,
      k: 300,
      n: 1,
      dtype: "f32",
      la: "transposed",
      lb: "batch-broadcast",
      seed: 4,
    },
  );
  await t.step(`${list.length} cases: f32 rtol 1e-4, f64 rtol 1e-10 of Σ|a||b|`, () => {
    for (const c of list) {
      const [sa, sb] = c.pair;
      const a = place(randMat(c.seed, prod(sa) * c.m * c.k), [...sa, c.m, c.k], c.dtype, c.la);
      const b = place(randMat(c.seed + 1, prod(sb) * c.k * c.n), [...sb, c.k, c.n], c.dtype, c.lb);
      const batch = sa.length >= sb.length
        ? sa.map((d, i) => Math.max(d, sb[i - sa.length + sb.length] ?? 1))
        : sb.map((d, i) => Math.max(d, sa[i - sb.length + sa.length] ?? 1));
      const av = broadcastTo(a, [...batch, c.m, c.k]), bv = broadcastTo(b, [...batch, c.k, c.n]);
      const spec = { shape: [...batch, c.m, c.n], dtype: c.dtype };
      const { ours: [o], ref: [r] } = both("matmul", [av, bv], {}, [spec]);
      const bound = absProducts(av, bv, spec);
      const x = nums(o), y = nums(r), s = nums(bound);
      const what = `${c.dtype} ${desc([av, bv])}`;
      for (let i = 0; i < y.length; i++) {
        assert.ok(
          Math.abs(x[i] - y[i]) <= RTOL[c.dtype] * s[i] + 1e-300,
          `${what} [${i}]: ${x[i]} vs ${y[i]}`,
        );
      }
      disposeAll(a, b, av, bv, o, r, bound);
    }
  });
});

Deno.test("matmul: openblas declines layouts BLAS cannot read in place", opts, () => {
  const supports = (a: Tensor, b: Tensor, dtype: DType = a.dtype) =>
    planOf(openblasBackend, "matmul", {
      op: "matmul",
      inputs: [a, b],
      outputs: [Tensor.empty([...a.shape.slice(0, -1), b.shape.at(-1)!], dtype)],
      attrs: {},
    }) !== null;
  const ok = place(randMat(1, 12), [3, 4], "f32", "contiguous");
  const okB = place(randMat(2, 20), [4, 5], "f32", "contiguous");
  assert.equal(supports(ok, okB), true);
  for (const layout of ["strided", "flipped"] as Layout[]) {
    const a = place(randMat(1, 12), [3, 4], "f32", layout);
    assert.equal(supports(a, okB), false, layout);
    assert.equal(supports(ok, place(randMat(2, 20), [4, 5], "f32", layout)), false, layout);
  }
  // A row broadcast inside the matrix (stride 0 between rows).
  const row = place(randMat(3, 4), [1, 4], "f32", "contiguous");
  assert.equal(supports(row.expand([3, 4]), okB), false);
  // Other dtypes and mixed operands.
  const i = tensor([[1, 2], [3, 4]], { dtype: "i32" });
  assert.equal(supports(i, i), false);
  const d = place(randMat(4, 20), [4, 5], "f64", "contiguous");
  assert.equal(supports(ok, d, "f64"), false);
});

Deno.test("matmul: declined layouts still compute, on another backend", opts, () => {
  const a = place(randMat(5, 6 * 7), [6, 7], "f32", "strided");
  const b = place(randMat(6, 7 * 5), [7, 5], "f32", "flipped");
  const { result, trace } = traceKernels(() => matmul(a, b));
  assert.notEqual(trace.at(-1)?.backend, "openblas");
  const ac = a.contiguous(), bc = b.contiguous();
  const ref = matmul(ac, bc);
  closeArr(nums(result), nums(ref), 1e-5, "fallback matmul");
  disposeAll(a, b, ac, bc, ref, result);
});

// ---- routing ---------------------------------------------------------------------------------

Deno.test(
  "routing: openblas runs f32/f64 matmul, scalar runs i32; removal falls back",
  opts,
  () => {
    const a = tensor([[1, 2], [3, 4]]), b = tensor([[5, 6], [7, 8]]);
    const f = traceKernels(() => matmul(a, b));
    assert.deepEqual(f.trace.at(-1), { op: "matmul", backend: "openblas" });
    assert.deepEqual(f.result.toArraySync(), [[19, 22], [43, 50]]);
    const a64 = a.astype("f64");
    const g = traceKernels(() => matmul(a64, a64.T));
    assert.equal(g.trace.at(-1)?.backend, "openblas");
    const ai = tensor([[1, 2], [3, 4]], { dtype: "i32" });
    const h = traceKernels(() => matmul(ai, ai));
    assert.deepEqual(h.trace.at(-1), { op: "matmul", backend: "scalar" });
    assert.deepEqual(h.result.toArraySync(), [[7, 10], [15, 22]]);
    const s = tensor([[2, 1], [1, 3]], { dtype: "f64" });
    assert.equal(traceKernels(() => linalg.inv(s)).trace.at(-1)?.op, "linalg.inv");
    assert.equal(traceKernels(() => linalg.inv(s)).trace.at(-1)?.backend, "openblas");
    try {
      assert.equal(unregisterBackend("openblas"), true);
      const r = traceKernels(() => matmul(a, b));
      assert.notEqual(r.trace.at(-1)?.backend, "openblas");
      assert.deepEqual(r.result.toArraySync(), [[19, 22], [43, 50]]);
      const iv = traceKernels(() => linalg.inv(s));
      assert.equal(iv.trace.at(-1)?.backend, "scalar");
      closeArr(nums(iv.result), [0.6, -0.2, -0.2, 0.4], 1e-12, "inv after removal");
      disposeAll(r.result, iv.result);
    } finally {
      registerBackend(openblasBackend, { priority: 20 });
    }
    assert.equal(traceKernels(() => matmul(a, b)).trace.at(-1)?.backend, "openblas");
    disposeAll(a, b, a64, ai, s, f.result, g.result, h.result);
  },
);

Deno.test("thread count: setBlasThreads / blasThreads", opts, () => {
  const before = blasThreads();
  assert.ok(before >= 1);
  try {
    setBlasThreads(1);
    assert.equal(blasThreads(), 1);
    const a = place(randMat(9, 300 * 300), [300, 300], "f32", "contiguous");
    const r1 = matmul(a, a);
    setBlasThreads(2);
    assert.equal(blasThreads(), 2);
    const r2 = matmul(a, a);
    closeArr(nums(r1), nums(r2), 1e-5, "1 vs 2 threads");
    disposeAll(a, r1, r2);
    assert.throws(() => setBlasThreads(0), RangeError);
  } finally {
    setBlasThreads(before);
  }
});

// ---- GEMM split over the pool ------------------------------------------------------------------

/** Whether large GEMMs are cut into blocks for the pool here (two or more threads of both). */
const splits = () => wasmThreads() >= 2 && blasThreads() >= 2;

Deno.test(
  "large GEMMs run as blocks on the pool: equal the scalar kernel for every transpose, both " +
    "split axes, f32/f64, matmul and linear (beta = 1)",
  opts,
  () => {
    const before = poolStats().workerSlots;
    // m·n·k above OpenBLAS's threading threshold (262144); sides not multiples of the block
    // alignment (16), cut along n (n ≥ m) or along m.
    const shapes = [[40, 300, 250], [250, 300, 40], [67, 129, 333], [333, 65, 67]];
    let seed = 100;
    for (const dtype of ["f32", "f64"] as DType[]) {
      for (const [m, k, n] of shapes) {
        for (const la of ["contiguous", "transposed"] as Layout[]) {
          for (const lb of ["contiguous", "transposed"] as Layout[]) {
            const a = place(randMat(++seed, m * k), [m, k], dtype, la);
            const b = place(randMat(++seed, k * n), [k, n], dtype, lb);
            const spec = { shape: [m, n], dtype };
            const { ours: [o], ref: [r] } = both("matmul", [a, b], {}, [spec]);
            const bound = absProducts(a, b, spec);
            const x = nums(o), y = nums(r), sc = nums(bound);
            for (let i = 0; i < y.length; i++) {
              assert.ok(
                Math.abs(x[i] - y[i]) <= RTOL[dtype] * sc[i],
                `${dtype} ${m}×${k}·${k}×${n} ${la}/${lb} [${i}]: ${x[i]} vs ${y[i]}`,
              );
            }
            disposeAll(a, b, o, r, bound);
          }
        }
      }
      // linear: the bias written into the output, then blocks of one GEMM that add to it.
      const [m, k, n] = [67, 129, 333];
      const x = place(randMat(++seed, m * k), [m, k], dtype, "contiguous");
      const w = place(randMat(++seed, n * k), [n, k], dtype, "contiguous");
      const bias = place(randMat(++seed, n), [n], dtype, "contiguous");
      const { ours: [o], ref: [r] } = both("linear", [x, w, bias], {}, [{ shape: [m, n], dtype }]);
      close(o, r, RTOL[dtype], `linear ${dtype}`, k);
      disposeAll(x, w, bias, o, r);
    }
    const s = poolStats();
    assert.equal(s.errors, 0, s.lastError);
    if (splits()) assert.ok(s.workerSlots > before, "no GEMM block ran on a pool worker");
  },
);

Deno.test(
  "a pool worker that cannot open the library claims no block; the main thread runs them all",
  { ignore: !present || !splits() },
  async () => {
    const load = loadBlas();
    assert.ok(load.ok);
    const pair = [
      load.lib.symbols.cblas_sgemm,
      load.lib.symbols.cblas_dgemm,
    ] as unknown as GemmPair;
    const threads: number[] = [];
    const target = {
      path: "/nonexistent/libopenblas.so.0",
      gemm: pair,
      setThreads: (n: number) => threads.push(n),
    };
    const [m, k, n] = [64, 200, 256];
    const a = place(randMat(1, m * k), [m, k], "f32", "contiguous");
    const b = place(randMat(2, k * n), [k, n], "f32", "contiguous");
    const ref = matmul(a, b);
    const out = zeros([m, n]);
    const slots = poolStats().workerSlots;
    for (let i = 0; i < 20; i++) {
      splitGemm(
        target,
        2,
        false,
        CblasNoTrans,
        CblasNoTrans,
        m,
        n,
        k,
        1,
        storagePtr(a),
        k,
        storagePtr(b),
        n,
        0,
        storagePtr(out),
        n,
      );
    }
    closeArr(nums(out), nums(ref), 1e-6, "blocks run by the main thread");
    assert.equal(poolStats().workerSlots, slots, "a worker ran a block without the library");
    assert.equal(poolStats().errors, 0);
    // OpenBLAS ran on one thread during each split call and was restored after.
    assert.deepEqual(threads.slice(0, 4), [1, 2, 1, 2]);
    // The plugin's own job block (a new id) has the workers bind the real library again.
    const own = poolStats().workerSlots;
    for (let i = 0; i < 20; i++) {
      const again = matmul(a, b);
      closeArr(nums(again), nums(ref), 1e-6, "the plugin's blocks after the failed binding");
      again.dispose();
    }
    assert.ok(poolStats().workerSlots > own, "no worker ran a block of the plugin's GEMM");
    disposeAll(a, b, ref, out);
    await disposeWasmThreads();
  },
);

// ---- absence ---------------------------------------------------------------------------------

/**
 * Import the library in a fresh `deno run` (program on stdin; `deno eval` would grant every
 * permission) with `flags`, and report the plugin's status.
 */
async function probeInSubprocess(flags: string[], env: Record<string, string> = {}) {
  const root = new URL("../../", import.meta.url).href;
  const code = `import { backends } from "${root}mod.ts";
    const b = backends().find((x) => x.name === "openblas");
    console.log(JSON.stringify({ status: b?.status, reason: b?.reason }));`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, "-"],
    env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(code));
  await w.close();
  const out = await child.output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return JSON.parse(text.trim().split("\n").at(-1)!) as { status: string; reason?: string };
}

Deno.test("absent without --allow-ffi: reported with a permission reason, no crash", async () => {
  const r = await probeInSubprocess(["--allow-read", "--allow-env"]);
  assert.equal(r.status, "absent");
  assert.match(r.reason ?? "", /--allow-ffi/);
});

Deno.test("APRENDER_BLAS_PATH=/nonexistent: absent, the reason names the path", async () => {
  const r = await probeInSubprocess(["--allow-read", "--allow-env", "--allow-ffi"], {
    APRENDER_BLAS_PATH: "/nonexistent/libopenblas.so.0",
  });
  assert.equal(r.status, "absent");
  assert.match(r.reason ?? "", /\/nonexistent\/libopenblas\.so\.0/);
});

Deno.test("a library without the BLAS symbols: absent, the reason names the symbol", async () => {
  const libm = ["/lib/x86_64-linux-gnu/libm.so.6", "/lib/aarch64-linux-gnu/libm.so.6"]
    .find((p) => {
      try {
        return Deno.statSync(p).isFile;
      } catch {
        return false;
      }
    });
  if (!libm) return; // not a Debian-like system: nothing to point at
  const r = await probeInSubprocess(["--allow-read", "--allow-env", "--allow-ffi"], {
    APRENDER_BLAS_PATH: libm,
  });
  assert.equal(r.status, "absent");
  assert.ok(r.reason?.includes(libm), r.reason);
  assert.match(r.reason ?? "", /cblas_|openblas_/);
});

// ---- LAPACK kernels --------------------------------------------------------------------------

Deno.test("linalg.solve / inv / det / slogdet equal the scalar kernels", opts, () => {
  for (const c of cases(60, 11, 7, true)) {
    const { batch, n, dtype } = c, nb = prod(batch);
    const a = place(shifted(c.seed, nb, n, n), [...batch, n, n], dtype, c.layout);
    const k = 1 + (c.seed % 3);
    const b = place(randMat(c.seed + 5, nb * n * k), [...batch, n, k], dtype, c.layout);
    const rt = RTOL[dtype], w = label(c);
    let r = both("linalg.solve", [a, b], {}, [{ shape: [...batch, n, k], dtype }, {
      shape: batch,
      dtype: "i32",
    }]);
    close(r.ours[0], r.ref[0], rt, `solve ${w}`);
    assert.deepEqual(nums(r.ours[1]), nums(r.ref[1]), `solve info ${w}`);
    disposeAll(r.ours, r.ref);
    r = both("linalg.inv", [a], {}, [{ shape: a.shape, dtype }, { shape: batch, dtype: "i32" }]);
    close(r.ours[0], r.ref[0], rt, `inv ${w}`);
    disposeAll(r.ours, r.ref);
    r = both("linalg.det", [a], {}, [{ shape: batch, dtype }]);
    close(r.ours[0], r.ref[0], rt, `det ${w}`);
    disposeAll(r.ours, r.ref);
    r = both("linalg.slogdet", [a], {}, [{ shape: batch, dtype }, { shape: batch, dtype }]);
    close(r.ours[0], r.ref[0], 0, `slogdet sign ${w}`);
    close(r.ours[1], r.ref[1], rt, `slogdet log ${w}`);
    disposeAll(r.ours, r.ref, a, b);
  }
});

Deno.test("LU on two OpenBLAS threads does not overflow the JS thread's stack", opts, () => {
  // OpenBLAS's threaded getrf recurses with a 540 KB frame a level; under `deno test` JavaScript
  // runs on a 2 MiB stack, and solve/det crashed (SIGSEGV) in ~1 of 3 runs of this loop before
  // the plugin ran LU factorizations on one OpenBLAS thread.
  const before = blasThreads();
  setBlasThreads(2);
  try {
    for (let rep = 0; rep < 10; rep++) {
      for (const n of [48, 96, 200]) {
        const a = randn([n, n], { seed: n + rep, dtype: "f64" });
        const b = randn([n, 2], { seed: n + 1, dtype: "f64" });
        const x = linalg.solve(a, b), r = a.matmul(x).sub(b);
        const res = r.abs().max().item() as number;
        assert.ok(res < 1e-9, `solve n=${n}: residual ${res}`);
        const d = linalg.det(a);
        assert.ok(Number.isFinite(d.item() as number), `det n=${n}`);
        for (const t of [a, b, x, r, d]) t.dispose();
      }
    }
    assert.equal(blasThreads(), 2, "the thread count is restored after each LU");
  } finally {
    setBlasThreads(before);
  }
});

Deno.test(
  "linalg.det / slogdet of singular and NaN matrices match the scalar kernels",
  opts,
  () => {
    for (const dtype of ["f32", "f64"] as DType[]) {
      const a = tensor([[[1, 2], [2, 4]], [[0, 0], [0, 0]], [[NaN, 1], [1, 1]], [[0, 1], [1, 0]]], {
        dtype,
      });
      let r = both("linalg.det", [a], {}, [{ shape: [4], dtype }]);
      close(r.ours[0], r.ref[0], 0, `det ${dtype}`);
      disposeAll(r.ours, r.ref);
      r = both("linalg.slogdet", [a], {}, [{ shape: [4], dtype }, { shape: [4], dtype }]);
      close(r.ours[0], r.ref[0], 0, "sign");
      close(r.ours[1], r.ref[1], 0, "logabsdet");
      disposeAll(r.ours, r.ref, a);
    }
  },
);

Deno.test("linalg.cholesky (lower and upper) equals the scalar kernel", opts, () => {
  for (const c of cases(40, 12, 7, true)) {
    const { batch, n, dtype } = c, nb = prod(batch);
    const a = place(symmetric(c.seed, nb, n, true), [...batch, n, n], dtype, c.layout);
    for (const upper of [false, true]) {
      const r = both("linalg.cholesky", [a], { upper }, [{ shape: a.shape, dtype }, {
        shape: batch,
        dtype: "i32",
      }]);
      close(r.ours[0], r.ref[0], RTOL[dtype], `cholesky upper=${upper} ${label(c)}`);
      assert.deepEqual(nums(r.ours[1]), nums(r.ref[1]));
      disposeAll(r.ours, r.ref);
    }
    a.dispose();
  }
  // Not positive definite: info = the failing minor, as in the reference.
  const bad = tensor([[1, 2], [2, 1]], { dtype: "f64" });
  const r = both("linalg.cholesky", [bad], { upper: false }, [{ shape: [2, 2], dtype: "f64" }, {
    shape: [],
    dtype: "i32",
  }]);
  assert.deepEqual(nums(r.ours[1]), [2]);
  assert.deepEqual(nums(r.ref[1]), [2]);
  disposeAll(r.ours, r.ref, bad);
});

Deno.test("linalg.qr (reduced, complete, r) equals the scalar kernel", opts, () => {
  for (const c of cases(50, 13)) {
    const { batch, m, n, dtype } = c, nb = prod(batch), k = Math.min(m, n);
    const a = place(randMat(c.seed, nb * m * n), [...batch, m, n], dtype, c.layout);
    for (const mode of ["reduced", "complete", "r"] as const) {
      const qc = mode === "complete" ? m : k;
      const specs = mode === "r"
        ? [{ shape: [...batch, k, n], dtype }]
        : [{ shape: [...batch, m, qc], dtype }, { shape: [...batch, qc, n], dtype }];
      const r = both("linalg.qr", [a], { mode }, specs);
      for (let i = 0; i < specs.length; i++) {
        close(r.ours[i], r.ref[i], RTOL[dtype], `qr ${mode} out ${i} ${label(c)}`);
      }
      disposeAll(r.ours, r.ref);
    }
    a.dispose();
  }
});

/** Flip the sign of column j of the row-major (rows × cols) matrix x[o..] to agree with y. */
function alignColumns(
  x: number[],
  y: number[],
  o: number,
  rows: number,
  cols: number,
  upTo = cols,
) {
  const signs: number[] = [];
  for (let j = 0; j < upTo; j++) {
    let d = 0;
    for (let i = 0; i < rows; i++) d += x[o + i * cols + j] * y[o + i * cols + j];
    const s = d < 0 ? -1 : 1;
    signs.push(s);
    for (let i = 0; i < rows; i++) x[o + i * cols + j] *= s;
  }
  return signs;
}

Deno.test("linalg.eigh equals the scalar kernel (vectors up to sign)", opts, () => {
  for (const c of cases(40, 14, 7, true)) {
    const { batch, n, dtype } = c, nb = prod(batch);
    const a = place(symmetric(c.seed, nb, n, false), [...batch, n, n], dtype, c.layout);
    for (const uplo of ["L", "U"]) {
      const r = both("linalg.eigh", [a], { uplo }, [
        { shape: [...batch, n], dtype },
        { shape: a.shape, dtype },
        { shape: batch, dtype: "i32" },
      ]);
      const w = label(c);
      close(r.ours[0], r.ref[0], RTOL[dtype], `eigh w ${w}`);
      const x = nums(r.ours[1]), y = nums(r.ref[1]);
      const nbEff = a.size / (n * n);
      for (let b = 0; b < nbEff; b++) alignColumns(x, y, b * n * n, n, n);
      closeArr(x, y, dtype === "f32" ? 1e-3 : 1e-8, `eigh v ${w}`);
      assert.deepEqual(nums(r.ours[2]), nums(r.ref[2]));
      disposeAll(r.ours, r.ref);
    }
    a.dispose();
  }
  // Non-finite input: NaN values and vectors, info 0 (as NumPy and the reference).
  const nan = tensor([[1, NaN], [NaN, 1]], { dtype: "f64" });
  const r = both("linalg.eigh", [nan], { uplo: "L" }, [
    { shape: [2], dtype: "f64" },
    { shape: [2, 2], dtype: "f64" },
    { shape: [], dtype: "i32" },
  ]);
  for (let i = 0; i < 3; i++) close(r.ours[i], r.ref[i], 0, `eigh NaN out ${i}`);
  disposeAll(r.ours, r.ref, nan);
});

Deno.test(
  "linalg.eig: eigenvalues equal the scalar kernel's, vectors solve A·v = λ·v",
  opts,
  () => {
    for (const c of cases(40, 15, 7, true)) {
      const { batch, n, dtype } = c, nb = prod(batch);
      const a = place(randMat(c.seed, nb * n * n), [...batch, n, n], dtype, c.layout);
      const vals = { shape: [...batch, n], dtype }, vecs = { shape: a.shape, dtype };
      const r = both("linalg.eig", [a], {}, [vals, vals, vecs, vecs, {
        shape: batch,
        dtype: "i32",
      }]);
      const w = label(c);
      assert.deepEqual(nums(r.ours[4]), nums(r.ref[4]), `eig info ${w}`);
      const [wr, wi, vr, vi] = r.ours.map(nums), [rwr, rwi, rvr, rvi] = r.ref.map(nums);
      const A = nums(a.contiguous());
      const tol = dtype === "f32" ? 1e-4 : 1e-10;
      for (let b = 0; b < a.size / (n * n); b++) {
        for (let j = 0; j < n; j++) {
          // The reference eigenvalue closest to ours (the order is not specified).
          let best = -1, bd = Infinity;
          for (let q = 0; q < n; q++) {
            const d = Math.hypot(wr[b * n + j] - rwr[b * n + q], wi[b * n + j] - rwi[b * n + q]);
            if (d < bd) bd = d, best = q;
          }
          assert.ok(bd <= tol * (1 + Math.hypot(wr[b * n + j], wi[b * n + j])), `eig λ ${w}`);
          // |v| componentwise equals the reference's (normalization: norm 1, largest real).
          for (let i = 0; i < n; i++) {
            const o = b * n * n + i * n;
            const m1 = Math.hypot(vr[o + j], vi[o + j]),
              m2 = Math.hypot(rvr[o + best], rvi[o + best]);
            assert.ok(Math.abs(m1 - m2) <= (dtype === "f32" ? 1e-3 : 1e-7), `eig |v| ${w}`);
          }
          // Residual ‖A·v − λ·v‖ (complex).
          const lr = wr[b * n + j], li = wi[b * n + j];
          for (let i = 0; i < n; i++) {
            let sr = 0, si = 0;
            for (let p = 0; p < n; p++) {
              const apq = A[b * n * n + i * n + p], o = b * n * n + p * n + j;
              sr += apq * vr[o];
              si += apq * vi[o];
            }
            const o = b * n * n + i * n + j;
            sr -= lr * vr[o] - li * vi[o];
            si -= lr * vi[o] + li * vr[o];
            assert.ok(
              Math.hypot(sr, si) <= tol * 10 * n,
              `eig residual ${w}: ${Math.hypot(sr, si)}`,
            );
          }
        }
      }
      disposeAll(r.ours, r.ref, a);
    }
    const nan = tensor([[1, NaN], [0, 1]], { dtype: "f64" });
    const v2 = { shape: [2], dtype: "f64" as DType }, m2 = { shape: [2, 2], dtype: "f64" as DType };
    const r = both("linalg.eig", [nan], {}, [v2, v2, m2, m2, { shape: [], dtype: "i32" }]);
    assert.deepEqual(nums(r.ours[4]), [-1]);
    assert.deepEqual(nums(r.ref[4]), [-1]);
    disposeAll(r.ours, r.ref, nan);
  },
);

Deno.test("linalg.svd (full, reduced, values only) equals the scalar kernel", opts, () => {
  for (const c of cases(50, 16)) {
    const { batch, m, n, dtype } = c, nb = prod(batch), k = Math.min(m, n);
    const a = place(randMat(c.seed, nb * m * n), [...batch, m, n], dtype, c.layout);
    const w = label(c), rt = RTOL[dtype];
    const sv = both("linalg.svd", [a], { fullMatrices: false, computeUV: false }, [
      { shape: [...batch, k], dtype },
      { shape: batch, dtype: "i32" },
    ]);
    close(sv.ours[0], sv.ref[0], rt, `svd s ${w}`);
    assert.deepEqual(nums(sv.ours[1]), nums(sv.ref[1]));
    disposeAll(sv.ours, sv.ref);
    for (const full of [false, true]) {
      const uc = full ? m : k, vr = full ? n : k;
      const r = both("linalg.svd", [a], { fullMatrices: full, computeUV: true }, [
        { shape: [...batch, m, uc], dtype },
        { shape: [...batch, k], dtype },
        { shape: [...batch, vr, n], dtype },
        { shape: batch, dtype: "i32" },
      ]);
      close(r.ours[1], r.ref[1], rt, `svd s ${w}`);
      const u = nums(r.ours[0]), ru = nums(r.ref[0]), vh = nums(r.ours[2]), rvh = nums(r.ref[2]);
      const vtol = dtype === "f32" ? 1e-3 : 1e-8;
      for (let b = 0; b < a.size / (m * n); b++) {
        // Align the pair (u_j, vh_j) by the sign of u_j, for the first k singular triplets.
        const signs = alignColumns(u, ru, b * m * uc, m, uc, k);
        for (let j = 0; j < k; j++) {
          for (let i = 0; i < n; i++) vh[b * vr * n + j * n + i] *= signs[j];
        }
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < k; j++) {
            const o = b * m * uc + i * uc + j;
            assert.ok(Math.abs(u[o] - ru[o]) <= vtol, `svd u ${w} full=${full}`);
          }
        }
        for (let j = 0; j < k; j++) {
          for (let i = 0; i < n; i++) {
            const o = b * vr * n + j * n + i;
            assert.ok(Math.abs(vh[o] - rvh[o]) <= vtol, `svd vh ${w} full=${full}`);
          }
        }
        // The completed bases are orthonormal.
        for (let p = 0; p < uc; p++) {
          for (let q = p; q < uc; q++) {
            let d = 0;
            for (let i = 0; i < m; i++) {
              d += u[b * m * uc + i * uc + p] * u[b * m * uc + i * uc + q];
            }
            assert.ok(Math.abs(d - (p === q ? 1 : 0)) <= vtol, `svd UᵀU ${w}`);
          }
        }
        for (let p = 0; p < vr; p++) {
          for (let q = p; q < vr; q++) {
            let d = 0;
            for (let i = 0; i < n; i++) {
              d += vh[b * vr * n + p * n + i] * vh[b * vr * n + q * n + i];
            }
            assert.ok(Math.abs(d - (p === q ? 1 : 0)) <= vtol, `svd VVᵀ ${w}`);
          }
        }
      }
      disposeAll(r.ours, r.ref);
    }
    a.dispose();
  }
});

/** `nb` m×n matrices of rank ≤ r (products of m×r and r×n factors). */
function lowRank(seed: number, nb: number, m: number, n: number, r: number): Float64Array {
  const x = randMat(seed, nb * m * r), y = randMat(seed + 1, nb * r * n);
  const out = new Float64Array(nb * m * n);
  for (let b = 0; b < nb; b++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < r; p++) s += x[b * m * r + i * r + p] * y[b * r * n + p * n + j];
        out[b * m * n + i * n + j] = s;
      }
    }
  }
  return out;
}

Deno.test("linalg.pinv and linalg.matrixRank equal the scalar kernels", opts, () => {
  for (const c of cases(50, 17)) {
    const { batch, m, n, dtype } = c, nb = prod(batch);
    const deficient = c.seed % 2 === 0 && Math.min(m, n) > 1;
    const vals = deficient
      ? lowRank(c.seed, nb, m, n, Math.min(m, n) - 1)
      : randMat(c.seed, nb * m * n);
    const a = place(vals, [...batch, m, n], dtype, c.layout);
    const w = `${label(c)}${deficient ? " rank-deficient" : ""}`;
    const p = both("linalg.pinv", [a], { rcond: 1e-6 }, [
      { shape: [...batch, n, m], dtype },
      { shape: batch, dtype: "i32" },
    ]);
    close(p.ours[0], p.ref[0], dtype === "f32" ? 1e-3 : 1e-8, `pinv ${w}`);
    disposeAll(p.ours, p.ref);
    for (
      const attrs of [{ tol: null, rtol: null }, { tol: null, rtol: 1e-3 }, {
        tol: 0.5,
        rtol: null,
      }]
    ) {
      const r = both("linalg.matrixRank", [a], attrs, [
        { shape: batch, dtype: "i64" },
        { shape: batch, dtype: "i32" },
      ]);
      assert.deepEqual(nums(r.ours[0]), nums(r.ref[0]), `matrixRank ${JSON.stringify(attrs)} ${w}`);
      disposeAll(r.ours, r.ref);
    }
    a.dispose();
  }
});

Deno.test(
  "linalg.lstsq equals the scalar kernel (over-, under-determined, rank-deficient)",
  opts,
  () => {
    for (const c of cases(50, 18, 8)) {
      const { m, n, dtype } = c;
      const k = 1 + (c.seed % 3);
      const layout = c.layout === "batch-broadcast" ? "contiguous" : c.layout;
      const deficient = c.seed % 3 === 0 && Math.min(m, n) > 1;
      const vals = deficient
        ? lowRank(c.seed, 1, m, n, Math.min(m, n) - 1)
        : randMat(c.seed, m * n);
      const a = place(vals, [m, n], dtype, layout);
      const b = place(randMat(c.seed + 9, m * k), [m, k], dtype, layout);
      const r = both("linalg.lstsq", [a, b], { rcond: c.seed % 5 === 0 ? 1e-3 : -1 }, [
        { shape: [n, k], dtype },
        { shape: [k], dtype },
        { shape: [], dtype: "i32" },
        { shape: [Math.min(m, n)], dtype },
        { shape: [], dtype: "i32" },
      ]);
      const w = `${dtype} ${m}×${n} k=${k} ${layout}${deficient ? " rank-deficient" : ""}`;
      const rt = dtype === "f32" ? 1e-3 : 1e-8;
      close(r.ours[0], r.ref[0], rt, `lstsq x ${w}`);
      // Residuals relative to ‖b‖² (an exact fit leaves rounding noise of that scale).
      const bb = nums(b).reduce((acc, v) => acc + v * v, 0);
      close(r.ours[1], r.ref[1], rt, `lstsq residuals ${w}`, bb);
      assert.deepEqual(nums(r.ours[2]), nums(r.ref[2]), `lstsq rank ${w}`);
      close(r.ours[3], r.ref[3], RTOL[dtype], `lstsq s ${w}`);
      assert.deepEqual(nums(r.ours[4]), [0]);
      disposeAll(r.ours, r.ref, a, b);
    }
  },
);

Deno.test("LAPACK kernels decline empty matrices (the scalar reference defines them)", opts, () => {
  const e = zeros([0, 0], { dtype: "f64" });
  const k = openblasBackend.kernels["linalg.inv"] as KernelEntry;
  const call = { op: "linalg.inv", inputs: [e], outputs: [e, Tensor.empty([], "i32")], attrs: {} };
  assert.equal(k.supports!(call), false);
  e.dispose();
});

// ---- ops through the plugin: errors and NaN --------------------------------------------------

function viaOpenblas<T>(op: string, f: () => T): T {
  const { result, trace } = traceKernels(f);
  assert.ok(
    trace.some((r) => r.op === op && r.backend === "openblas"),
    `${op} ran on openblas: ${JSON.stringify(trace)}`,
  );
  return result;
}

Deno.test("errors through the plugin: singular, not positive definite, non-finite", opts, () => {
  const singular = tensor([[1, 2], [2, 4]]);
  for (
    const [op, f] of [
      ["linalg.solve", () => linalg.solve(singular, tensor([1, 2]))],
      ["linalg.inv", () => linalg.inv(singular)],
    ] as const
  ) {
    assert.throws(() => viaOpenblas(op, f), (e: Error) => {
      assert.ok(e instanceof LinAlgError, `${op}: ${e}`);
      assert.match(e.message, new RegExp(op.slice(7)));
      return true;
    });
  }
  assert.throws(
    () => viaOpenblas("linalg.cholesky", () => linalg.cholesky(tensor([[1, 2], [2, 1]]))),
    (e: Error) => e instanceof LinAlgError && /cholesky/.test(e.message),
  );
  const nan = tensor([[1, NaN], [0, 2]]);
  assert.throws(() => linalg.eig(nan), LinAlgError);
  assert.throws(() => linalg.svd(nan), LinAlgError);
  // NaN propagates where NumPy propagates it: solve, inv and det give NaN, no error.
  const x = viaOpenblas("linalg.solve", () => linalg.solve(nan, tensor([1, 1])));
  assert.ok(nums(x).some(Number.isNaN));
  const d = viaOpenblas("linalg.det", () => linalg.det(nan));
  assert.ok(Number.isNaN(d.item() as number));
  disposeAll(singular, nan, x, d);
});

Deno.test("single-precision LAPACK mode for f32 (s* routines) agrees to ~cond·1e-7", opts, () => {
  const before = setLapackF32Precision("single");
  try {
    for (const c of cases(20, 19, 7, true)) {
      const { batch, n } = c, nb = prod(batch);
      const a = place(shifted(c.seed, nb, n, n), [...batch, n, n], "f32", c.layout);
      const b = place(randMat(c.seed + 5, nb * n), [...batch, n, 1], "f32", c.layout);
      let r = both("linalg.solve", [a, b], {}, [{ shape: [...batch, n, 1], dtype: "f32" }, {
        shape: batch,
        dtype: "i32",
      }]);
      close(r.ours[0], r.ref[0], 2e-3, `single solve ${label(c)}`);
      disposeAll(r.ours, r.ref);
      r = both("linalg.svd", [a], { fullMatrices: false, computeUV: false }, [
        { shape: [...batch, n], dtype: "f32" },
        { shape: batch, dtype: "i32" },
      ]);
      close(r.ours[0], r.ref[0], 2e-3, `single svd ${label(c)}`);
      disposeAll(r.ours, r.ref, a, b);
    }
  } finally {
    setLapackF32Precision(before);
  }
});
