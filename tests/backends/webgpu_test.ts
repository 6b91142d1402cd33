/**
 * The WebGPU plugin against the scalar backend (the reference) on random inputs, on whatever
 * adapter the machine has (Mesa's software rasterizer in CI: shapes stay small). Under CI=true the
 * plugin must be present.
 *
 * Tolerances: the GPU computes floats in f32 (the scalar backend in float64, rounded once), so
 * f32 arithmetic agrees to about 1 ulp (rtol 2e-6), GPU transcendentals to a few ulp (rtol 1e-5,
 * atol 1e-6 where results cross 0), f32 tree reductions to rtol 1e-5 (sums of values in
 * [0.5, 1.5]), matmul/conv to atol 1e-5·K (different summation order); f16 results may differ by
 * one f16 ulp from double rounding (rtol 2e-3); integer, bool, index and raw-copy results exactly.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import * as C from "../../mod.ts";
import {
  backends,
  copyInto,
  DeviceError,
  type DType,
  IndexError,
  memory,
  type Tensor,
  tensor,
  tidy,
  traceKernels,
} from "../../mod.ts";
import { webgpuContext } from "../../internal.ts";
import { BINARY, REDUCE_OPS, UNARY } from "../../backends/webgpu/kernels.ts";
import { runKernel, runKernel1 } from "../../core/op.ts";
import type { PoolAttrs } from "../../core/backend/attrs.ts";
import { arbBroadcastPair, arbShape, type Layout, makeTensor } from "../helpers/gen.ts";
import { GPU_TEST } from "../helpers/webgpu.ts";

const opts = GPU_TEST;
const fns = C as unknown as Record<string, (...a: unknown[]) => Tensor>;
type Out = Tensor | Tensor[];

/** Tolerances of one comparison. */
interface Tol {
  rtol: number;
  atol: number;
}
const EXACT: Tol = { rtol: 0, atol: 0 };

/** Run `op` on GPU copies of `cpuIn` and on `cpuIn`; outputs must match within `tol`. */
async function compare(name: string, cpuIn: Tensor[], op: (...t: Tensor[]) => Out, tol: Tol) {
  const gpuIn = await Promise.all(cpuIn.map((t) => t.to("gpu")));
  const { result, trace } = traceKernels(() => op(...gpuIn));
  const got = [result].flat();
  assert.ok(
    trace.length > 0 && trace.every((r) => r.backend === "webgpu"),
    `${name}: ran on ${JSON.stringify(trace)}`,
  );
  const want = [op(...cpuIn)].flat();
  for (let o = 0; o < want.length; o++) {
    const g = got[o], w = want[o];
    assert.deepEqual(g.shape, w.shape, `${name}: shape`);
    assert.equal(g.dtype, w.dtype, `${name}: dtype`);
    const a = await g.data(), e = w.dataSync();
    for (let i = 0; i < e.length; i++) {
      const x = Number(a[i]), y = Number(e[i]);
      const where = `${name}[${o}][${i}]: got ${x}, want ${y}`;
      if (Number.isNaN(y)) assert.ok(Number.isNaN(x), where);
      else if (!Number.isFinite(y)) assert.equal(x, y, where);
      else assert.ok(Math.abs(x - y) <= tol.atol + tol.rtol * Math.abs(y), where);
    }
  }
  for (const t of [...gpuIn, ...got, ...want]) t.dispose();
}

const layouts: Layout[] = ["contiguous", "transposed", "strided", "expanded"];
const POSITIVE = new Set(["log", "sqrt", "rsqrt", "log2", "log1p", "acos", "asin"]);

Deno.test({ name: "webgpu unary ops match scalar on views, f32 and f16", ...opts }, async (t) => {
  let seed = 1;
  await t.step("every unary op in f32 over all layouts", async () => {
    for (const op of Object.keys(UNARY)) {
      const shapes = fc.sample(arbShape({ minRank: 0, maxRank: 3, maxDim: 5 }), {
        seed,
        numRuns: 2,
      });
      for (const s of shapes) {
        const range = POSITIVE.has(op) ? { lo: 0.1, hi: 0.95 } : { lo: -3, hi: 3 };
        const x = makeTensor(
          s,
          op === "logicalNot" ? "bool" : "f32",
          seed++,
          layouts[seed % 4],
          range,
        );
        // GPU transcendentals are not correctly rounded: a few f32 ulp.
        await compare(`${op} ${s}`, [x], (a) => fns[op](a), { rtol: 1e-5, atol: 2e-6 });
        x.dispose();
      }
    }
  });
  await t.step("parametrized activations take their attributes", async () => {
    const x = makeTensor([3, 7], "f32", seed++, "transposed", { lo: -4, hi: 4 });
    const tol = { rtol: 1e-5, atol: 2e-6 };
    await compare("leakyRelu 0.2", [x], (a) => C.leakyRelu(a, 0.2), tol);
    await compare("elu 0.5", [x], (a) => C.elu(a, 0.5), tol);
    await compare("softplus", [x], (a) => C.softplus(a, 2, 3), tol);
    await compare("gelu tanh", [x], (a) => C.gelu(a, "tanh"), tol);
    await compare("clip", [x], (a) => C.clip(a, -1, 0.5), EXACT);
    x.dispose();
  });
  await t.step("NaN and infinities propagate like the scalar backend", async () => {
    const x = tensor([NaN, Infinity, -Infinity, 0, -0, 2, -2]);
    for (const op of ["isnan", "isinf", "isfinite", "relu", "abs", "sign", "clip", "sigmoid"]) {
      await compare(`${op} specials`, [x], (a) => op === "clip" ? C.clip(a, -1, 1) : fns[op](a), {
        rtol: 1e-6,
        atol: 0,
      });
    }
    const y = tensor([1, NaN, 3, -2, 0, 2, 0.5]);
    for (const op of ["minimum", "maximum", "pow", "eq", "ne", "lt", "ge"]) {
      await compare(`${op} specials`, [x, y], (a, b) => fns[op](a, b), { rtol: 1e-6, atol: 0 });
    }
    // 16 contiguous elements take the vec4 path; NaN must survive relu's select there too.
    const v = tensor([NaN, -1, 2, -Infinity, 0, NaN, -0, 3, -NaN, 1, -2, Infinity, 5, -5, NaN, 0]);
    for (const op of ["relu", "leakyRelu", "elu", "selu"]) {
      await compare(`${op} vec4 specials`, [v], (a) => fns[op](a), { rtol: 1e-6, atol: 0 });
    }
    x.dispose();
    y.dispose();
    v.dispose();
  });
  await t.step("f16 elementwise computes in f32 and rounds once (rtol 2e-3)", async () => {
    const a = makeTensor([4, 6], "f16", seed++, "transposed", { lo: 0.5, hi: 2 });
    const b = makeTensor([6], "f16", seed++, "contiguous", { lo: 0.5, hi: 2 });
    for (const op of ["add", "mul", "div", "maximum"]) {
      await compare(`f16 ${op}`, [a, b], (x, y) => fns[op](x, y), { rtol: 2e-3, atol: 0 });
    }
    for (const op of ["exp", "relu", "tanh", "gelu", "sqrt"]) {
      await compare(`f16 ${op}`, [a], (x) => fns[op](x), { rtol: 2e-3, atol: 1e-4 });
    }
    await compare("f16 gt → bool", [a, b], (x, y) => C.gt(x, y), EXACT);
    a.dispose();
    b.dispose();
  });
});

Deno.test({ name: "webgpu binary ops broadcast like scalar", ...opts }, async (t) => {
  const pairs = fc.sample(arbBroadcastPair({ maxRank: 4, maxDim: 4 }), { seed: 7, numRuns: 12 });
  let seed = 100;
  await t.step("f32 with broadcasting and views", async () => {
    for (const op of Object.keys(BINARY)) {
      for (const [sa, sb] of pairs.slice(0, 3)) {
        const a = makeTensor(sa, "f32", seed++, layouts[seed % 4], { lo: 0.5, hi: 2 });
        const b = makeTensor(sb, "f32", seed++, layouts[(seed + 1) % 4], { lo: 0.5, hi: 2 });
        // pow/atan2/div/mod go through GPU functions: a few ulp.
        await compare(`${op} ${sa}×${sb}`, [a, b], (x, y) => fns[op](x, y), {
          rtol: 1e-5,
          atol: 1e-6,
        });
        a.dispose();
        b.dispose();
      }
    }
  });
  await t.step("integer and bool ops are exact and wrap like NumPy", async () => {
    const intOps = ["add", "sub", "mul", "minimum", "maximum", "floorDiv", "mod", "eq", "lt", "ge"];
    for (const dt of ["i32", "i8", "u8", "i16"] as DType[]) {
      const [sa, sb] = pairs[seed % pairs.length];
      const a = makeTensor(sa, dt, seed++, "transposed");
      const b = makeTensor(sb, dt, seed++, "expanded");
      for (const op of intOps) await compare(`${dt} ${op}`, [a, b], (x, y) => fns[op](x, y), EXACT);
      await compare(`${dt} neg/abs/square`, [a], (x) => C.square(C.abs(C.neg(x))), EXACT);
      a.dispose();
      b.dispose();
    }
    const p = makeTensor([3, 5], "bool", seed++, "transposed");
    const q = makeTensor([5], "bool", seed++);
    for (const op of ["logicalAnd", "logicalOr", "logicalXor", "add", "mul"]) {
      await compare(`bool ${op}`, [p, q], (x, y) => fns[op](x, y), EXACT);
    }
    await compare(
      "weak scalar on f32",
      [makeTensor([9], "f32", 3)],
      (x) => x.mul(0.5).add(2),
      EXACT,
    );
    p.dispose();
    q.dispose();
  });
  await t.step("integer floor division and remainder: negatives, zero, MIN / -1", async () => {
    // Implementation-defined in WGSL's targets (GLSL's % of negatives, SPIR-V's SRem on NVIDIA).
    const xs = [-362, 362, -7, 7, -6, 0, 5, -2147483648, -2147483648, 2147483647, -1, 13];
    const ys = [17, -17, 2, -2, 3, 4, 0, -1, 7, -3, 5, -13];
    const a = tensor(xs, { dtype: "i32" }), b = tensor(ys, { dtype: "i32" });
    for (const op of ["floorDiv", "mod"]) {
      await compare(`i32 ${op} edge cases`, [a, b], (x, y) => fns[op](x, y), EXACT);
    }
    const a8 = tensor([-128, -7, 7, -100, 100, 0], { dtype: "i8" });
    const b8 = tensor([-1, 3, -3, 7, -7, 0], { dtype: "i8" });
    for (const op of ["floorDiv", "mod"]) {
      await compare(`i8 ${op} edge cases`, [a8, b8], (x, y) => fns[op](x, y), EXACT);
    }
    for (const t of [a, b, a8, b8]) t.dispose();
  });
  await t.step("where broadcasts a bool condition with two operands", async () => {
    const c = makeTensor([3, 1, 4], "bool", seed++, "contiguous");
    const a = makeTensor([2, 4], "f32", seed++, "transposed");
    const b = makeTensor([4], "f32", seed++);
    await compare("where f32", [c, a, b], (x, y, z) => C.where(x, y, z), EXACT);
    const ai = makeTensor([2, 4], "i32", seed++, "transposed");
    await compare("where i32", [c, ai, ai], (x, y, z) => C.where(x, y, z.neg()), EXACT);
    for (const t of [c, a, b, ai]) t.dispose();
  });
});

Deno.test({ name: "webgpu copies convert dtypes and write into views", ...opts }, async (t) => {
  await t.step("astype between GPU dtypes", async () => {
    const f = makeTensor([3, 5], "f32", 11, "transposed", { lo: -300, hi: 300 });
    for (const to of ["f16", "bf16", "i32", "i8", "u8", "i16", "bool", "i64", "u32"] as DType[]) {
      if (to === "u32") continue;
      // f32 → f16/bf16 rounds once (ties to even); to ints truncates (in range here).
      await compare(`f32→${to}`, [f], (x) => x.astype(to), EXACT);
    }
    for (const from of ["f16", "i32", "i8", "u8", "bool", "i64"] as DType[]) {
      const x = makeTensor([4, 3], from, 12, "strided");
      await compare(`${from}→f32`, [x], (a) => a.astype("f32"), EXACT);
      await compare(`${from}→i32`, [x], (a) => a.astype("i32"), EXACT);
      x.dispose();
    }
    const big = tensor([2 ** 40 + 3, -(2 ** 35), 7], { dtype: "i64" });
    await compare("i64→i32 wraps", [big], (a) => a.astype("i32"), EXACT);
    await compare("i64 contiguous copy", [big], (a) => a.flip(0).contiguous(), EXACT);
    f.dispose();
    big.dispose();
  });
  await t.step("copyInto a strided view and through an aliasing view", async () => {
    const dst = tensor(new Float32Array(24)).reshape([4, 6]);
    const src = makeTensor([2, 3], "f32", 13, "transposed");
    const g = await dst.to("gpu"), s = await src.to("gpu");
    const { trace } = traceKernels(() => copyInto(g.slice("1:3", "::2"), s));
    assert.ok(trace.every((r) => r.backend === "webgpu"));
    copyInto(dst.slice("1:3", "::2"), src);
    assert.deepEqual(await g.data(), dst.dataSync());
    // Source and destination in one storage: copied through a temporary.
    copyInto(g.slice("0:2", "0:3"), g.slice("2:4", "3:6"));
    copyInto(dst.slice("0:2", "0:3"), dst.slice("2:4", "3:6"));
    assert.deepEqual(await g.data(), dst.dataSync());
    const b = tensor(new Uint8Array(10), { dtype: "bool" });
    const gb = await b.to("gpu");
    const m = tensor([true, true, false], { dtype: "bool" });
    const gm = await m.to("gpu");
    copyInto(gb.slice("1::3"), gm);
    copyInto(b.slice("1::3"), m);
    assert.deepEqual(await gb.data(), b.dataSync(), "bool bytes merged into words atomically");
    for (const x of [dst, src, g, s, b, gb, m, gm]) x.dispose();
  });
});

Deno.test({ name: "webgpu reductions, scans and softmax match scalar", ...opts }, async (t) => {
  let seed = 200;
  await t.step("every reduction over axes and layouts", async () => {
    const cases = [[[3, 4, 5], 1], [[6, 7], undefined], [[2, 3, 4], [0, 2]], [[5], 0], [
      [2, 3],
      -1,
    ]] as const;
    for (const op of REDUCE_OPS) {
      for (const [shape, axis] of cases) {
        if (["norm", "argmax", "argmin"].includes(op) && Array.isArray(axis)) continue;
        const x = makeTensor([...shape], "f32", seed++, layouts[seed % 4], { lo: 0.5, hi: 1.5 });
        const fn = op === "var" ? "variance" : op;
        const run = op === "norm"
          ? (a: Tensor) => C.norm(a, axis === undefined ? null : 3, axis as number | undefined)
          : (a: Tensor) => fns[fn](a, axis);
        await compare(`${op} ${shape} axis ${axis}`, [x], run, {
          rtol: 1e-5,
          atol: 1e-6,
        });
        x.dispose();
      }
    }
  });
  await t.step("long reduced axes use workgroup trees and split passes", async () => {
    const wide = makeTensor([3, 3000], "f32", seed++, "contiguous", { lo: 0.5, hi: 1.5 });
    const tall = makeTensor([2500, 3], "f32", seed++, "transposed", { lo: 0.5, hi: 1.5 });
    const flat = makeTensor([40000], "f32", seed++, "contiguous", { lo: 0.5, hi: 1.5 });
    for (const op of ["sum", "max", "argmax", "argmin", "variance", "logsumexp", "mean"]) {
      await compare(`${op} wide`, [wide], (a) => fns[op](a, 1), { rtol: 1e-5, atol: 0 });
      await compare(`${op} tall`, [tall], (a) => fns[op](a, 0), { rtol: 1e-5, atol: 0 });
      await compare(`${op} flat`, [flat], (a) => fns[op](a), { rtol: 1e-5, atol: 0 });
    }
    await compare("std ddof", [wide], (a) => C.std(a, 1, { ddof: 1 }), { rtol: 1e-5, atol: 0 });
    const nan = tensor([[1, NaN, 3], [2, 5, 5]]);
    for (const op of ["max", "argmax", "argmin", "sum", "any", "all"]) {
      await compare(`${op} with NaN`, [nan], (a) => fns[op](a, 1), EXACT);
    }
    const h = makeTensor([4, 50], "f16", seed++, "transposed", { lo: 0.5, hi: 1.5 });
    await compare("f16 sum", [h], (a) => C.sum(a, 1), { rtol: 2e-3, atol: 0 });
    for (const x of [wide, tall, flat, nan, h]) x.dispose();
  });
  await t.step("softmax and logSoftmax along any axis", async () => {
    for (
      const [shape, axis, layout] of [
        [[4, 36], -1, "contiguous"],
        [[3, 5000], 1, "contiguous"],
        [
          [4, 33],
          0,
          "transposed",
        ],
        [[2, 3, 5], 1, "strided"],
        [[6, 10], -1, "expanded"],
      ] as const
    ) {
      const x = makeTensor([...shape], "f32", seed++, layout);
      await compare(`softmax ${shape} ${axis} ${layout}`, [x], (a) => a.softmax(axis), {
        rtol: 1e-5,
        atol: 1e-7,
      });
      await compare(`logSoftmax ${shape} ${axis}`, [x], (a) => a.logSoftmax(axis), {
        rtol: 1e-5,
        atol: 1e-5,
      });
      x.dispose();
    }
    const s = tensor([[1, Infinity, 2], [-Infinity, -Infinity, 0], [NaN, 1, 2], [1, 2, 3]]);
    await compare("softmax specials", [s], (a) => a.softmax(-1), { rtol: 1e-6, atol: 1e-7 });
    s.dispose();
  });
  await t.step("cumsum and cumprod along an axis and flattened", async () => {
    const x = makeTensor([4, 3000], "f32", seed++, "contiguous", { lo: 0, hi: 1 });
    await compare("cumsum long", [x], (a) => a.cumsum(1), { rtol: 1e-5, atol: 1e-4 });
    const y = makeTensor([3, 4, 5], "f32", seed++, "transposed", { lo: 0.8, hi: 1.2 });
    await compare("cumsum axis 0", [y], (a) => a.cumsum(0), { rtol: 1e-6, atol: 1e-6 });
    await compare("cumsum flat", [y], (a) => a.cumsum(), { rtol: 1e-5, atol: 1e-5 });
    await compare("cumprod axis 2", [y], (a) => a.cumprod(2), { rtol: 1e-5, atol: 0 });
    x.dispose();
    y.dispose();
  });
});

Deno.test({ name: "webgpu matmul, conv and pooling match scalar", ...opts }, async (t) => {
  let seed = 300;
  await t.step("matmul over layouts, batches and edges", async () => {
    for (
      const [m, k, n, batch, la, lb, dt] of [
        [1, 1, 1, [], "contiguous", "contiguous", "f32"],
        [7, 33, 65, [], "contiguous", "transposed", "f32"],
        [130, 9, 129, [2], "contiguous", "transposed", "f32"],
        [5, 6, 7, [2, 3], "strided", "contiguous", "f32"],
        [128, 32, 128, [], "contiguous", "contiguous", "f32"],
        [64, 20, 136, [], "transposed", "transposed", "f32"],
        [3, 0, 4, [], "contiguous", "contiguous", "f32"],
        [16, 24, 12, [3], "contiguous", "contiguous", "f16"],
        // Long K over few tiles: split K (partials summed by a second kernel), thin or not.
        [4, 5000, 8, [], "contiguous", "transposed", "f32"],
        [130, 1100, 70, [2], "transposed", "contiguous", "f32"],
      ] as const
    ) {
      const a = makeTensor([...batch, m, k], dt, seed++, la);
      const b = makeTensor([k, n], dt, seed++, lb);
      // Summation order differs from the scalar backend's float64 accumulation.
      await compare(
        `matmul ${[...batch, m, k]}@${[k, n]} ${la}/${lb} ${dt}`,
        [a, b],
        (x, y) => x.matmul(y),
        dt === "f16" ? { rtol: 2e-3, atol: 1e-3 } : { rtol: 1e-5, atol: 1e-5 * k },
      );
      a.dispose();
      b.dispose();
    }
  });
  await t.step(
    "linear: bias in the epilogue, in the split-K sum, and the simple kernel",
    async () => {
      for (
        const [m, k, n, withBias] of [
          [7, 9, 5, true],
          [130, 40, 70, true],
          [64, 1200, 40, true],
          [128, 32, 128, false],
          [3, 0, 4, true],
        ] as const
      ) {
        const x = makeTensor([m, k], "f32", seed++);
        const w = makeTensor([n, k], "f32", seed++);
        const b = makeTensor([n], "f32", seed++);
        await compare(
          `linear ${m}×${k} → ${n} bias=${withBias}`,
          withBias ? [x, w, b] : [x, w],
          (p, q, r) => C.linear(p, q, r ?? null),
          { rtol: 1e-5, atol: 1e-5 * (k + 1) },
        );
        for (const t of [x, w, b]) t.dispose();
      }
    },
  );
  await t.step("conv2d with stride, padding, dilation, groups and bias", async () => {
    const x = makeTensor([2, 4, 9, 8], "f32", seed++, "transposed");
    const w = makeTensor([6, 2, 3, 3], "f32", seed++, "strided");
    const b = makeTensor([6], "f32", seed++);
    const tol = { rtol: 1e-5, atol: 1e-5 * 18 };
    await compare(
      "conv2d groups",
      [x, w, b],
      (p, q, r) =>
        C.conv2d(p, q, { bias: r, stride: [2, 1], padding: [1, 2], dilation: [1, 2], groups: 2 }),
      tol,
    );
    const w2 = makeTensor([5, 4, 3, 2], "f32", seed++);
    await compare("conv2d same", [x, w2], (p, q) => C.conv2d(p, q, { padding: "same" }), tol);
    // 16 output channels of 64 pixels: the tiled implicit GEMM (unless kernels are simple here).
    const w3 = makeTensor([16, 4, 3, 3], "f32", seed++, "transposed");
    const b3 = makeTensor([16], "f32", seed++);
    await compare(
      "conv2d tiled",
      [x, w3, b3],
      (p, q, r) => C.conv2d(p, q, { bias: r, padding: 1 }),
      {
        rtol: 1e-5,
        atol: 1e-5 * 36,
      },
    );
    for (const t of [x, w, b, w2, w3, b3]) t.dispose();
  });
  await t.step("conv2d on the 128×128 implicit GEMM (≥ 32 channels per group)", async () => {
    // Edges of every kind: K not a multiple of 16 or 4, rows and columns past the tile, output
    // planes not a multiple of 4 (scalar stores), a strided input view, groups, f16 inputs.
    const cases = [
      {
        x: [2, 8, 9, 10],
        xl: "transposed",
        w: [40, 8, 3, 3],
        s: [2, 1],
        p: [1, 1],
        d: [1, 2],
        g: 1,
      },
      {
        x: [3, 8, 8, 8],
        xl: "contiguous",
        w: [64, 4, 3, 3],
        s: [1, 1],
        p: [1, 1],
        d: [1, 1],
        g: 2,
      },
      {
        x: [2, 8, 12, 12],
        xl: "strided",
        w: [130, 8, 1, 1],
        s: [2, 2],
        p: [0, 0],
        d: [1, 1],
        g: 1,
      },
      {
        x: [1, 3, 11, 13],
        xl: "contiguous",
        w: [33, 3, 5, 4],
        s: [2, 3],
        p: [2, 1],
        d: [1, 1],
        g: 1,
      },
    ] as const;
    for (const [i, c] of cases.entries()) {
      for (const dt of ["f32", "f16"] as const) {
        const x = makeTensor([...c.x], dt, seed++, c.xl);
        const w = makeTensor([...c.w], dt, seed++);
        const b = makeTensor([c.w[0]], dt, seed++);
        const k = c.w[1] * c.w[2] * c.w[3];
        await compare(
          `conv2d gemm case ${i} ${dt}`,
          [x, w, b],
          (p, q, r) =>
            C.conv2d(p, q, {
              bias: i % 2 === 0 ? r : undefined,
              stride: [...c.s],
              padding: [...c.p],
              dilation: [...c.d],
              groups: c.g,
            }),
          dt === "f16" ? { rtol: 2e-3, atol: 1e-3 * k } : { rtol: 1e-5, atol: 1e-5 * k },
        );
        for (const t of [x, w, b]) t.dispose();
      }
    }
  });
  await t.step(
    "conv2d gradients on the implicit GEMMs (strides, dilation, groups, split K)",
    async () => {
      // [N, C, H, W], [O, C/groups, KH, KW], stride, padding [t, b, l, r], dilation, groups.
      const cases = [
        [[2, 32, 7, 6], [32, 32, 3, 3], [1, 1], [1, 1, 1, 1], [1, 1], 1],
        [[2, 40, 9, 8], [36, 40, 3, 3], [2, 2], [1, 1, 1, 1], [1, 1], 1],
        [[1, 64, 8, 10], [64, 32, 3, 2], [2, 1], [2, 0, 1, 1], [2, 1], 2],
        [[2, 33, 6, 6], [40, 33, 1, 1], [2, 2], [0, 0, 0, 0], [1, 1], 1],
        // 1024 output pixels over one tile of outputs: the weight gradient splits K.
        [[4, 8, 16, 16], [32, 8, 3, 3], [1, 1], [1, 1, 1, 1], [1, 1], 1],
      ] as const;
      for (const [i, [xs, ws, stride, padding, dilation, groups]] of cases.entries()) {
        const oh = Math.floor(
          (xs[2] + padding[0] + padding[1] - dilation[0] * (ws[2] - 1) - 1) / stride[0],
        ) + 1;
        const ow = Math.floor(
          (xs[3] + padding[2] + padding[3] - dilation[1] * (ws[3] - 1) - 1) / stride[1],
        ) + 1;
        const lay = i % 2 ? "transposed" : "contiguous";
        const g = makeTensor([xs[0], ws[0], oh, ow], "f32", seed++, lay);
        const w = makeTensor([...ws], "f32", seed++);
        const x = makeTensor([...xs], "f32", seed++, lay);
        const attrs = {
          stride: [...stride] as [number, number],
          padding: [...padding] as [number, number, number, number],
          dilation: [...dilation] as [number, number],
          groups,
          hasBias: false,
        };
        const k = (ws[0] / groups) * ws[2] * ws[3];
        // (The input gradient's kernel takes ≥ 32 input channels per group.)
        if (ws[1] >= 32) {
          await compare(
            `conv2dBackwardInput case ${i}`,
            [g, w],
            (a, b) =>
              runKernel1("conv2dBackwardInput", [a, b], attrs, { shape: [...xs], dtype: "f32" }),
            { rtol: 1e-5, atol: 1e-5 * k },
          );
        }
        const terms = xs[0] * oh * ow;
        await compare(
          `conv2dBackwardWeight case ${i}`,
          [x, g],
          (a, b) =>
            runKernel1("conv2dBackwardWeight", [a, b], attrs, { shape: [...ws], dtype: "f32" }),
          { rtol: 1e-5, atol: 1e-5 * terms },
        );
        for (const t of [g, w, x]) t.dispose();
      }
    },
  );
  await t.step("fused batch norm and its gradient", async () => {
    for (const [shape, affine] of [[[3, 4, 5, 6], true], [[5, 3], false]] as const) {
      const C = shape[1];
      const x = makeTensor([...shape], "f32", seed++, "contiguous", { lo: -2, hi: 3 });
      const w = makeTensor([C], "f32", seed++);
      const b = makeTensor([C], "f32", seed++);
      const g = makeTensor([...shape], "f32", seed++);
      const attrs = { eps: 1e-5, hasWeight: affine, hasBias: affine };
      const stats = [{ shape: [C], dtype: "f32" as const }, { shape: [C], dtype: "f32" as const }];
      const fwd = (xs: Tensor, ...p: Tensor[]) =>
        runKernel("batchNormTrain", [xs, ...p], attrs, [
          { shape: xs.shape, dtype: "f32" },
          ...stats,
        ]);
      // Sums over 90 values per channel: f32 tree sums on the GPU vs float64 on the CPU.
      const tol = { rtol: 1e-5, atol: 1e-5 };
      await compare(`batchNormTrain ${shape}`, affine ? [x, w, b] : [x], fwd, tol);
      const [, mean, v] = fwd(x, ...(affine ? [w, b] : []));
      await compare(
        `batchNormBackward ${shape}`,
        affine ? [g, x, mean, v, w] : [g, x, mean, v],
        (...ins) =>
          runKernel("batchNormBackward", ins, attrs, [{ shape: x.shape, dtype: "f32" }, ...stats]),
        { rtol: 1e-4, atol: 1e-4 },
      );
      const rm = makeTensor([C], "f32", seed++),
        rv = makeTensor([C], "f32", seed++, "contiguous", {
          lo: 0.5,
          hi: 2,
        });
      await compare(`batchNormRunning ${shape}`, [mean, v, rm, rv], (bm, bv, m, r) => {
        runKernel("batchNormRunning", [bm, bv], { momentum: 0.1, count: x.size / C }, [m, r]);
        return [m, r];
      }, { rtol: 1e-6, atol: 1e-7 });
      for (const t of [x, w, b, g, mean, v, rm, rv]) t.dispose();
    }
  });
  await t.step("fused layer norm and its gradient", async () => {
    for (const [shape, size, affine] of [[[5, 3, 40], 120, true], [[70, 9], 9, false]] as const) {
      const x = makeTensor([...shape], "f32", seed++, "contiguous", { lo: -2, hi: 3 });
      const w = makeTensor([size], "f32", seed++);
      const b = makeTensor([size], "f32", seed++);
      const g = makeTensor([...shape], "f32", seed++);
      const rows = x.size / size;
      const attrs = { eps: 1e-5, size, hasWeight: affine, hasBias: affine };
      const row = { shape: [rows], dtype: "f32" as const };
      const fwd = (xs: Tensor, ...p: Tensor[]) =>
        runKernel("layerNorm", [xs, ...p], attrs, [{ shape: xs.shape, dtype: "f32" }, row, row]);
      await compare(`layerNorm ${shape}`, affine ? [x, w, b] : [x], fwd, {
        rtol: 1e-5,
        atol: 1e-5,
      });
      const [, mean, rstd] = fwd(x, ...(affine ? [w, b] : []));
      const par = { shape: [size], dtype: "f32" as const };
      await compare(
        `layerNormBackward ${shape}`,
        affine ? [g, x, mean, rstd, w] : [g, x, mean, rstd],
        (...ins) =>
          runKernel("layerNormBackward", ins, attrs, [{ shape: x.shape, dtype: "f32" }, par, par]),
        { rtol: 1e-4, atol: 1e-4 },
      );
      for (const t of [x, w, b, g, mean, rstd]) t.dispose();
    }
  });
  await t.step("reluBackward (relu and leakyRelu gradients in one pass)", async () => {
    const x = makeTensor([3, 5, 7], "f32", seed++, "transposed");
    const g = makeTensor([3, 5, 7], "f32", seed++);
    for (const attrs of [{}, { negativeSlope: 0.1 }]) {
      await compare(
        `reluBackward ${JSON.stringify(attrs)}`,
        [x, g],
        (a, b) => runKernel1("reluBackward", [a, b], attrs, { shape: a.shape, dtype: "f32" }),
        EXACT,
      );
    }
    x.dispose();
    g.dispose();
  });
  await t.step("pooling and its gradients", async () => {
    const x = makeTensor([2, 3, 9, 8], "f32", seed++, "transposed");
    const g = makeTensor([2, 3, 5, 4], "f32", seed++);
    const tol = { rtol: 1e-6, atol: 1e-6 };
    await compare(
      "maxPool2d",
      [x],
      (a) => C.maxPool2d(a, { kernelSize: 3, stride: 2, padding: 1 }),
      tol,
    );
    await compare(
      "avgPool2d",
      [x],
      (a) => C.avgPool2d(a, { kernelSize: [2, 3], stride: 2, padding: 1, countIncludePad: false }),
      tol,
    );
    const attrs: PoolAttrs = {
      kernel: [3, 3],
      stride: [2, 2],
      padding: [1, 1, 1, 1],
      dilation: [1, 1],
    };
    for (const op of ["maxPool2dBackward", "avgPool2dBackward"] as const) {
      await compare(
        op,
        [x, g],
        (a, b) =>
          runKernel1(op, [a, b], { ...attrs, countIncludePad: true }, {
            shape: a.shape,
            dtype: "f32",
          }),
        tol,
      );
    }
    x.dispose();
    g.dispose();
  });
});

Deno.test({ name: "webgpu indexing and sorting match scalar", ...opts }, async (t) => {
  const y = makeTensor([4, 5], "f32", 400, "transposed");
  await t.step(
    "take, indexSelect, gather, scatter, scatterAdd with i32 and i64 indices",
    async () => {
      const i64 = tensor([[0, 2, -1], [3, 1, 1]], { dtype: "i64" });
      const i32 = tensor([2, 0, -5, 1], { dtype: "i32" });
      await compare("take i64", [y, i64], (a, i) => C.take(a, i, 0), EXACT);
      await compare("take flat", [y, i64], (a, i) => C.take(a, i), EXACT);
      await compare("indexSelect i32", [y, i32], (a, i) => C.indexSelect(a, 1, i), EXACT);
      const gi = tensor([[0, 1, 3], [3, 0, 2]], { dtype: "i64" });
      await compare("gather", [y, gi], (a, i) => C.gather(a, 1, i), EXACT);
      const si = tensor([[0, 1], [3, 4]], { dtype: "i64" });
      const src = makeTensor([2, 2], "f32", 401, "transposed");
      await compare("scatter", [y, si, src], (a, i, s) => C.scatter(a, 1, i, s), EXACT);
      const ai = tensor([[0, 0, 0], [3, 3, 1]], { dtype: "i32" });
      const as = makeTensor([2, 3], "f32", 402);
      // Atomic f32 additions in any order: rounding may differ in the last bit.
      await compare("scatterAdd", [y, ai, as], (a, i, s) => C.scatterAdd(a, 1, i, s), {
        rtol: 1e-6,
        atol: 1e-6,
      });
      const yi = makeTensor([4, 5], "i32", 403);
      await compare("scatterAdd i32", [yi, ai, ai], (a, i, s) => C.scatterAdd(a, 1, i, s), EXACT);
      for (const x of [i64, i32, gi, si, src, ai, as, yi]) x.dispose();
    },
  );
  await t.step("an index out of range raises an IndexError at the next readback", async () => {
    const g = await y.to("gpu");
    const bad = await tensor([0, 7], { dtype: "i64" }).to("gpu");
    const r = C.take(g, bad, 0);
    await assert.rejects(
      () => r.data(),
      (e: Error) => e instanceof IndexError && /take/.test(e.message),
    );
    const ok = g.add(1);
    await ok.data();
    for (const x of [g, bad, r, ok]) x.dispose();
  });
  await t.step("sort, argsort and topk with NaN and ties", async () => {
    const s = tensor([[3, NaN, 1, 3, -2], [0, 0, NaN, NaN, 5]]);
    for (const descending of [false, true]) {
      await compare(`sort ${descending}`, [s], (a) => C.sort(a, -1, descending), EXACT);
      await compare(`argsort ${descending}`, [s], (a) => C.argsort(a, -1, descending), EXACT);
    }
    await compare("topk", [y], (a) => C.topk(a, 3), EXACT);
    await compare(
      "topk smallest axis 0",
      [y],
      (a) => C.topk(a, 2, { axis: 0, largest: false }),
      EXACT,
    );
    await compare("topk NaN", [s], (a) => C.topk(a, 2), EXACT);
    s.dispose();
  });
  y.dispose();
});

Deno.test(
  { name: "webgpu ops without a kernel or across devices give DeviceErrors", ...opts },
  async () => {
    const g = await tensor([[1, 2], [3, 4]]).to("gpu");
    const c = tensor([1, 2]);
    assert.throws(
      () => C.nonzero(g),
      (e: Error) =>
        e instanceof DeviceError && /nonzero/.test(e.message) && /to\("cpu"\)/.test(e.message),
    );
    assert.throws(
      () => g.add(c),
      (e: Error) => e instanceof DeviceError && /gpu, cpu|cpu, gpu/.test(e.message),
    );
    // No f64 arithmetic on the GPU (WGSL has no f64); i64 arithmetic runs on u32 pairs
    // (kernels/int64.ts, checked against BigInt in webgpu_i64_test.ts).
    const d = await tensor([1, 2], { dtype: "f64" }).to("gpu");
    assert.throws(() => d.add(d), DeviceError);
    const i = await tensor([1, 2], { dtype: "i64" }).to("gpu");
    const i2 = i.add(i);
    assert.equal(i2.dtype, "i64");
    assert.deepEqual(Array.from(await i2.data() as BigInt64Array), [2n, 4n]);
    for (const t of [g, c, d, i, i2]) t.dispose();
    // The probe lists the kernels it built for this device.
    const gpuKernels = backends().find((b) => b.name === "webgpu")?.capabilities?.kernels ?? {};
    assert.ok("matmul" in gpuKernels && !("nonzero" in gpuKernels));
  },
);

Deno.test({
  name: "webgpu batches ops into few submits and 10k ops in tidy leave GPU memory as it was",
  ...opts,
}, async () => {
  const ctx = webgpuContext()!;
  const src = tensor([1, 2, 3, 4]);
  const x = await src.to("gpu");
  src.dispose();
  const before = memory().devices.gpu?.bytes ?? 0;
  const submits = ctx.submits;
  const y = tidy(() => {
    let t = x;
    for (let i = 0; i < 10_000; i++) t = t.mul(0.5).add(0.5);
    return t;
  });
  const v = await y.data();
  assert.ok(Math.abs((v[0] as number) - 1) < 1e-6, `converges to 1, got ${v[0]}`);
  y.dispose();
  // at most what it was: the finalizer may free an earlier test's garbage meanwhile (GC timing)
  const after = memory().devices.gpu?.bytes ?? 0;
  assert.ok(after <= before, `GPU bytes ${after} after the loop, ${before} before`);
  // 20k dispatches in few submits (one per `ctx.batch` pending, a few more for the metadata
  // arena and the readback): never one per op.
  const most = Math.ceil(20_000 / ctx.batch) + 5;
  assert.ok(ctx.submits - submits <= most, `${ctx.submits - submits} submits (at most ${most})`);
  // Every kernel family in a loop leaves nothing behind either.
  const a = await makeTensor([8, 16], "f32", 500).to("gpu");
  const idx = await tensor([1, 0, 3], { dtype: "i64" }).to("gpu");
  const start = memory().devices.gpu?.bytes ?? 0;
  for (let r = 0; r < 20; r++) {
    const z = tidy(() =>
      a.matmul(a.T).softmax(-1).sum(0).add(C.take(a, idx, 0).max()).add(
        a.argmax(1).astype("f32").mean(),
      )
        .add(C.cumsum(a, 1).std()).add(C.topk(a, 2)[0].sum())
    );
    await z.data();
    z.dispose();
  }
  const end = memory().devices.gpu?.bytes ?? 0;
  assert.ok(end <= start, `GPU bytes ${end} after 20 rounds, ${start} before`);
  a.dispose();
  idx.dispose();
  x.dispose();
});

Deno.test(
  { name: "webgpu reads of several tensors in one Promise.all share one submit", ...opts },
  async () => {
    const ctx = webgpuContext()!;
    const xs = await Promise.all([0, 1, 2, 3, 4].map((i) => tensor([i, i + 1]).to("gpu")));
    const ys = xs.map((x) => x.mul(2).add(1));
    const submits = ctx.submits;
    const got = await Promise.all(ys.map((y) => y.data()));
    // Each readback costs ≥ 10 ms in Deno's WebGPU: reads started together wait once.
    assert.equal(ctx.submits - submits, 1);
    got.forEach((v, i) => assert.deepEqual(Array.from(v as Float32Array), [2 * i + 1, 2 * i + 3]));
    for (const t of [...xs, ...ys]) t.dispose();
  },
);
