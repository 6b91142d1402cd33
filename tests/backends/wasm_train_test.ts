/**
 * The WASM plugin's training kernels against the scalar backend's on the same inputs (random
 * shapes, strides, windows, groups; f32 and f64): `copy` (raw strided copies of every dtype,
 * broadcast sources, conversions), `maxPool2d`, `avgPool2d` and their gradients, `reluBackward`,
 * `conv2dBackwardInput` and `conv2dBackwardWeight`; routing through the ops and autograd
 * (traceKernels), the calls they decline, and the heap after many training ops in tidy().
 *
 * Tolerances, per element against the scalar backend (which computes in f64 and rounds once):
 * - copy, maxPool2d, avgPool2d (f64 sums in the same order), reluBackward: exact (bitwise).
 * - maxPool2dBackward, avgPool2dBackward: f64 exact; f32 rtol 1e-6 + atol 1e-6 (overlapping
 *   windows add their gradients in f32, the reference in f64; inputs in [-3, 3]).
 * - conv2dBackwardInput / conv2dBackwardWeight (f32 only on WASM): |ours − ref| ≤ 1e-5 · Σ|terms|
 *   bound (f32 GEMM accumulation): atol 2e-6 · (terms per output), values in [-1, 1].
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  avgPool2d,
  conv2d,
  type DType,
  type KernelEntry,
  type KernelFn,
  leakyRelu,
  maxPool2d,
  ready,
  relu,
  scalarBackend,
  Tensor,
  tensor,
  tidy,
  traceKernels,
} from "../../mod.ts";
import { setHostAllocator } from "../../internal.ts";
import { wasmBackend, wasmHeapStats } from "../../backends/wasm/mod.ts";
import { setConvGradChunk, setDirectWeightGradTaps } from "../../backends/cpu/im2col.ts";
import { loadRuntime } from "../../backends/cpu/runtime.ts";
import { arbShape, type Layout, LAYOUTS, makeTensor } from "../helpers/gen.ts";
import { blasAvailable, convBackends, planOf, runOn } from "../helpers/kernels.ts";
import { openblasBackend } from "../../mod.ts";
import type { OpName } from "../../core/ops/contracts/mod.ts";

await ready();

type Attrs = Record<string, unknown>;

/** The scalar backend's kernel `op` into a fresh output. */
const scalarRun = (op: string, inputs: Tensor[], shape: readonly number[], d: DType, a?: Attrs) =>
  runOn(scalarBackend, op, inputs, shape, d, a);

/** The WASM kernel `op` (asserting that it accepts the call) into a fresh output. */
const wasmRun = (op: string, inputs: Tensor[], shape: readonly number[], d: DType, a?: Attrs) =>
  runOn(wasmBackend, op, inputs, shape, d, a);

/** Whether the WASM kernel `op` accepts the call. */
function wasmAccepts(op: string, inputs: Tensor[], out: Tensor, attrs: Attrs = {}): boolean {
  return planOf(wasmBackend, op, { op, inputs, outputs: [out], attrs }) !== null;
}

/** Run `fn` and assert that the last `op` call ran on `backend`. */
function on<T>(backend: string, op: string, fn: () => T): T {
  const { result, trace } = traceKernels(fn);
  const rec = trace.filter((r) => r.op === op).at(-1);
  assert.equal(rec?.backend, backend, `${op} ran on ${rec?.backend}, expected ${backend}`);
  return result;
}

/** |a − b| ≤ atol + rtol·|b| per element, NaN matching NaN; rtol = atol = 0: bitwise (Object.is). */
function assertClose(ours: Tensor, ref: Tensor, rtol: number, atol: number, what: string) {
  assert.deepEqual(ours.shape, ref.shape, `${what}: shape`);
  assert.equal(ours.dtype, ref.dtype, `${what}: dtype`);
  const a = ours.dataSync() as ArrayLike<number | bigint | boolean>;
  const b = ref.dataSync() as ArrayLike<number | bigint | boolean>;
  for (let i = 0; i < a.length; i++) {
    if (typeof a[i] === "bigint" || typeof a[i] === "boolean") {
      assert.equal(a[i], b[i], `${what}: [${i}]`);
      continue;
    }
    const x = Number(a[i]), y = Number(b[i]);
    if (Number.isNaN(y)) {
      assert.ok(Number.isNaN(x), `${what}: [${i}] ours ${x}, expected NaN`);
    } else if (rtol === 0 && atol === 0) {
      assert.ok(Object.is(x, y), `${what}: [${i}] ours ${x}, reference ${y}`);
    } else {
      assert.ok(
        Math.abs(x - y) <= atol + rtol * Math.abs(y),
        `${what}: [${i}] ours ${x}, ref ${y}`,
      );
    }
  }
}

/** Raw bits of a tensor's elements (f16/f32/f64 NaN payloads compared exactly). */
function bits(t: Tensor): string {
  const c = t.contiguous();
  const s = c.storage as unknown as { byteOffset?: number };
  void s;
  const v = c.dataSync() as ArrayLike<number | bigint | boolean>;
  const out: string[] = [];
  for (let i = 0; i < v.length; i++) out.push(Object.is(v[i], -0) ? "-0" : String(v[i]));
  c.dispose();
  return out.join(",");
}

const ALL: DType[] = [
  "f32",
  "f64",
  "f16",
  "bf16",
  "i8",
  "u8",
  "i16",
  "u16",
  "i32",
  "u32",
  "i64",
  "bool",
];
const CONVERSIONS: [DType, DType][] = [
  ["f32", "f64"],
  ["f64", "f32"],
  ["f16", "f32"],
  ["f32", "f16"],
  ["bf16", "f32"],
  ["f32", "bf16"],
  ["i32", "f32"],
  ["i32", "f64"],
  ["f32", "i32"],
  ["f64", "i32"],
  ["u8", "f32"],
  ["u8", "f64"],
  ["bool", "f32"],
  ["bool", "f64"],
];

Deno.test("wasm copy kernel", async (t) => {
  await t.step("raw copies of every dtype through any strides match the scalar copy", () => {
    const shapes = fc.sample(arbShape({ minRank: 0, maxRank: 5, maxDim: 5 }), {
      seed: 11,
      numRuns: 48,
    });
    let k = 0;
    for (const shape of shapes) {
      const dtype = ALL[k % ALL.length], layout = LAYOUTS[k % 4];
      const src = makeTensor(shape, dtype, k++, layout);
      const ours = wasmRun("copy", [src], shape, dtype);
      const ref = scalarRun("copy", [src], shape, dtype);
      if (!src.isContiguous) on("wasm", "copy", () => src.contiguous()).dispose();
      assert.equal(bits(ours), bits(ref), `copy ${dtype} ${layout} ${JSON.stringify(shape)}`);
      for (const x of [src, ours, ref]) x.dispose();
    }
  });

  await t.step("into strided views, from broadcast sources, negative strides", () => {
    for (const dtype of ["f32", "f64", "i64", "u8", "f16"] as DType[]) {
      const dst = tensor(new Array(4 * 6 * 5).fill(0), { dtype, shape: [4, 6, 5] });
      const view = dst.slice("::2", "1::2", "::-1"); // (2, 3, 5), negative last stride
      const src = makeTensor([3, 1], dtype, 3); // broadcast to (2, 3, 5)
      const ref = Tensor.empty(view.shape, dtype);
      (scalarBackend.kernels.copy as KernelFn)({
        op: "copy",
        inputs: [src],
        outputs: [ref],
        attrs: {},
      });
      const k = wasmBackend.kernels.copy as KernelEntry;
      const call = { op: "copy", inputs: [src], outputs: [view], attrs: {} };
      assert.ok(k.supports!(call));
      k.run(call);
      assert.equal(bits(view), bits(ref), dtype);
      for (const x of [dst, view, src, ref]) x.dispose();
    }
  });

  await t.step(
    "conversions match the scalar backend bit for bit, incl. NaN, ±inf, rounding, wrap",
    () => {
      const special = [
        NaN,
        Infinity,
        -Infinity,
        -0,
        0,
        0.5,
        -1.5,
        2.5,
        65504,
        65520,
        1e-8,
        3e9,
        -3e9,
        2 ** 31,
        -(2 ** 31) - 1,
        4294967296 + 7,
        1e20,
        0.1,
        1 / 3,
        255,
      ];
      let k = 0;
      for (const [from, to] of CONVERSIONS) {
        for (const layout of ["contiguous", "transposed", "strided", "expanded"] as Layout[]) {
          const base = makeTensor([5, 7], from, k++, layout, { lo: -300, hi: 300 });
          const ours = on("wasm", "copy", () => base.astype(to));
          const ref = scalarRun("copy", [base], base.shape, to);
          assert.equal(bits(ours), bits(ref), `${from}→${to} ${layout}`);
          for (const x of [base, ours, ref]) x.dispose();
        }
        if (from.startsWith("f") || from === "bf16") {
          const s = tensor(special, { dtype: from });
          const ours = on("wasm", "copy", () => s.astype(to));
          const ref = scalarRun("copy", [s], s.shape, to);
          assert.equal(bits(ours), bits(ref), `${from}→${to} special values`);
          for (const x of [s, ours, ref]) x.dispose();
        }
      }
    },
  );

  await t.step("a large copy runs on the pool and matches", () => {
    const a = makeTensor([600, 700], "f32", 9, "transposed");
    const ours = on("wasm", "copy", () => a.contiguous());
    const ref = scalarRun("copy", [a], a.shape, "f32");
    assertClose(ours, ref, 0, 0, "large transposed copy");
    for (const x of [a, ours, ref]) x.dispose();
  });

  await t.step("declines conversions it lacks and standalone buffers", () => {
    const i = tensor([1, 2, 3], { dtype: "i64" });
    on("scalar", "copy", () => i.astype("f32"));
    const h = tensor([1, 2, 3], { dtype: "f16" });
    on("scalar", "copy", () => h.astype("f64"));
    const rt = loadRuntime();
    setHostAllocator(null);
    const outside = tensor([1, 2, 3], { dtype: "f32" });
    setHostAllocator(rt.heap);
    on("scalar", "copy", () => outside.astype("f64"));
    for (const x of [i, h, outside]) x.dispose();
  });
});

interface PoolCase {
  n: number;
  c: number;
  h: number;
  w: number;
  k: [number, number];
  s: [number, number];
  p: [number, number];
  d: [number, number];
  layout: Layout;
  cip: boolean;
}

const arbPool = fc.record({
  n: fc.integer({ min: 1, max: 3 }),
  c: fc.integer({ min: 1, max: 3 }),
  h: fc.integer({ min: 1, max: 9 }),
  w: fc.integer({ min: 1, max: 9 }),
  k: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
  s: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
  p: fc.tuple(fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 1 })),
  d: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
  layout: fc.constantFrom<Layout>(...LAYOUTS),
  cip: fc.boolean(),
});

function poolGeometry(c: PoolCase, isMax: boolean) {
  const d = isMax ? c.d : [1, 1] as [number, number];
  const p = [Math.min(c.p[0], c.k[0] >> 1), Math.min(c.p[1], c.k[1] >> 1)];
  const oh = Math.floor((c.h + 2 * p[0] - d[0] * (c.k[0] - 1) - 1) / c.s[0]) + 1;
  const ow = Math.floor((c.w + 2 * p[1] - d[1] * (c.k[1] - 1) - 1) / c.s[1]) + 1;
  const attrs = {
    kernel: c.k,
    stride: c.s,
    padding: [p[0], p[0], p[1], p[1]],
    dilation: d,
    countIncludePad: c.cip,
  };
  return { oh, ow, attrs };
}

Deno.test("wasm pooling kernels match the scalar backend", async (t) => {
  const cases = fc.sample(arbPool, { seed: 21, numRuns: 80 }) as PoolCase[];
  cases.push({
    n: 2,
    c: 3,
    h: 8,
    w: 6,
    k: [2, 2],
    s: [2, 2],
    p: [0, 0],
    d: [1, 1],
    layout: "contiguous",
    cip: true,
  });
  cases.push({
    n: 2,
    c: 3,
    h: 9,
    w: 7,
    k: [2, 2],
    s: [2, 2],
    p: [0, 0],
    d: [1, 1],
    layout: "strided",
    cip: true,
  });
  await t.step("maxPool2d, avgPool2d and their gradients on random windows, f32 and f64", () => {
    let k = 0, ran = 0;
    for (const c of cases) {
      for (const dtype of ["f32", "f64"] as DType[]) {
        for (const isMax of [true, false]) {
          const { oh, ow, attrs } = poolGeometry(c, isMax);
          if (oh < 1 || ow < 1) continue;
          const x = makeTensor([c.n, c.c, c.h, c.w], dtype, k++, c.layout);
          const g = makeTensor([c.n, c.c, oh, ow], dtype, k++, LAYOUTS[k % 4]);
          const op = isMax ? "maxPool2d" : "avgPool2d";
          const fo = wasmRun(op, [x], [c.n, c.c, oh, ow], dtype, attrs);
          const fr = scalarRun(op, [x], [c.n, c.c, oh, ow], dtype, attrs);
          assertClose(fo, fr, 0, 0, `${op} ${dtype} ${JSON.stringify(c)}`);
          const bo = wasmRun(`${op}Backward`, [x, g], x.shape, dtype, attrs);
          const br = scalarRun(`${op}Backward`, [x, g], x.shape, dtype, attrs);
          const tol = dtype === "f32" ? 1e-6 : 0;
          assertClose(bo, br, tol, tol, `${op}Backward ${dtype} ${JSON.stringify(c)}`);
          for (const v of [x, g, fo, fr, bo, br]) v.dispose();
          ran++;
        }
      }
    }
    assert.ok(ran > 200, `${ran} cases`);
  });

  await t.step("max pooling: NaN wins, ties go to the first maximum, -inf windows", () => {
    for (const dtype of ["f32", "f64"] as DType[]) {
      const vals = [1, NaN, 3, 3, -Infinity, -Infinity, 2, 2, 5, 1, NaN, 0, -0, 0, 7, 7];
      const x = tensor(vals, { dtype, shape: [1, 1, 4, 4] });
      const g = tensor([1, 2, 3, 4, 5, 6, 7, 8, 9], { dtype, shape: [1, 1, 3, 3] });
      for (const [k, s] of [[2, 2], [2, 1], [3, 1]]) {
        const oh = Math.floor((4 - k) / s) + 1;
        const attrs = { kernel: [k, k], stride: [s, s], padding: [0, 0, 0, 0], dilation: [1, 1] };
        const gg = g.slice(`0:1`, "0:1", `0:${oh}`, `0:${oh}`);
        const fo = wasmRun("maxPool2d", [x], [1, 1, oh, oh], dtype, attrs);
        const fr = scalarRun("maxPool2d", [x], [1, 1, oh, oh], dtype, attrs);
        assertClose(fo, fr, 0, 0, `maxPool2d special k${k} s${s}`);
        const bo = wasmRun("maxPool2dBackward", [x, gg], x.shape, dtype, attrs);
        const br = scalarRun("maxPool2dBackward", [x, gg], x.shape, dtype, attrs);
        assertClose(bo, br, 0, 0, `maxPool2dBackward special k${k} s${s}`);
        for (const v of [gg, fo, fr, bo, br]) v.dispose();
      }
      x.dispose();
      g.dispose();
    }
  });

  await t.step(
    "2×2 max pooling (the SIMD path): NaN, ±inf, ties and -0 gradients, wide rows",
    () => {
      const pick = [NaN, -Infinity, Infinity, 1, 1, 2, -0, 0, -3];
      for (const [h, w] of [[4, 16], [6, 19], [5, 24]]) {
        const vals = Array.from(
          { length: 2 * h * w },
          (_, i) => pick[(i * 7 + (i >> 3)) % pick.length],
        );
        const x = tensor(vals, { dtype: "f32", shape: [1, 2, h, w] });
        const oh = h >> 1, ow = w >> 1;
        const g = tensor(
          Array.from({ length: 2 * oh * ow }, (_, i) => (i % 5 === 0 ? -0 : i - 7)),
          {
            dtype: "f32",
            shape: [1, 2, oh, ow],
          },
        );
        const attrs = { kernel: [2, 2], stride: [2, 2], padding: [0, 0, 0, 0], dilation: [1, 1] };
        const fo = wasmRun("maxPool2d", [x], g.shape, "f32", attrs);
        const fr = scalarRun("maxPool2d", [x], g.shape, "f32", attrs);
        assertClose(fo, fr, 0, 0, `maxPool2d 2x2 ${h}x${w}`);
        for (const gg of [g, g.permute([0, 1, 3, 2]).contiguous().permute([0, 1, 3, 2])]) {
          const bo = wasmRun("maxPool2dBackward", [x, gg], x.shape, "f32", attrs);
          const br = scalarRun("maxPool2dBackward", [x, gg], x.shape, "f32", attrs);
          assertClose(bo, br, 0, 0, `maxPool2dBackward 2x2 ${h}x${w}`);
          bo.dispose();
          br.dispose();
          if (gg !== g) {
            gg.dispose();
          }
        }
        for (const v of [x, g, fo, fr]) v.dispose();
      }
    },
  );

  await t.step("the ops route to wasm; f16 and standalone buffers fall back", () => {
    const x = makeTensor([2, 3, 8, 8], "f32", 1);
    on("wasm", "maxPool2d", () => maxPool2d(x, { kernelSize: 2 })).dispose();
    on("wasm", "avgPool2d", () => avgPool2d(x, { kernelSize: 3, stride: 2, padding: 1 })).dispose();
    const h = makeTensor([1, 1, 4, 4], "f16", 2);
    on("scalar", "maxPool2d", () => maxPool2d(h, { kernelSize: 2 })).dispose();
    const rt = loadRuntime();
    setHostAllocator(null);
    const outside = tensor(new Array(16).fill(1), { dtype: "f32", shape: [1, 1, 4, 4] });
    setHostAllocator(rt.heap);
    on("scalar", "maxPool2d", () => maxPool2d(outside, { kernelSize: 2 })).dispose();
    for (const v of [x, h, outside]) v.dispose();
  });
});

Deno.test("wasm reluBackward matches the scalar backend bitwise", async (t) => {
  await t.step("random shapes and strides, relu and leaky, f32 and f64", () => {
    const shapes = fc.sample(arbShape({ minRank: 0, maxRank: 4, maxDim: 7 }), {
      seed: 31,
      numRuns: 40,
    });
    let k = 0;
    for (const shape of shapes) {
      for (const dtype of ["f32", "f64"] as DType[]) {
        const x = makeTensor(shape, dtype, k++, LAYOUTS[k % 4]);
        const g = makeTensor(shape, dtype, k++, LAYOUTS[(k >> 2) % 4]);
        for (const attrs of [{}, { negativeSlope: 0.01 }, { negativeSlope: -0.3 }]) {
          const o = wasmRun("reluBackward", [x, g], shape, dtype, attrs);
          const r = scalarRun("reluBackward", [x, g], shape, dtype, attrs);
          assertClose(o, r, 0, 0, `reluBackward ${dtype} ${JSON.stringify({ shape, attrs })}`);
          o.dispose();
          r.dispose();
        }
        x.dispose();
        g.dispose();
      }
    }
  });

  await t.step("NaN, ±0 and ±inf in x and g", () => {
    const v = [NaN, 0, -0, 1, -1, Infinity, -Infinity, 2.5];
    for (const dtype of ["f32", "f64"] as DType[]) {
      const x = tensor(v.flatMap((a) => v.map(() => a)), { dtype });
      const g = tensor(v.flatMap(() => v), { dtype });
      for (const attrs of [{}, { negativeSlope: 0.2 }]) {
        const o = wasmRun("reluBackward", [x, g], x.shape, dtype, attrs);
        const r = scalarRun("reluBackward", [x, g], x.shape, dtype, attrs);
        assertClose(o, r, 0, 0, `reluBackward special ${dtype}`);
        o.dispose();
        r.dispose();
      }
      x.dispose();
      g.dispose();
    }
  });

  await t.step("relu and leakyRelu gradients route to it; f16 falls back", () => {
    const x = makeTensor([4, 5], "f32", 3);
    x.requiresGrad = true;
    const { trace } = traceKernels(() => relu(x).sum().backward());
    assert.deepEqual(trace.filter((r) => r.op === "reluBackward").map((r) => r.backend), ["wasm"]);
    const gr = x.grad!.dataSync() as Float32Array, xv = x.dataSync() as Float32Array;
    for (let i = 0; i < xv.length; i++) assert.equal(gr[i], xv[i] > 0 ? 1 : 0);
    x.grad!.dispose();
    x.grad = null;
    on("wasm", "reluBackward", () => leakyRelu(x, 0.1).sum().backward());
    const gl = x.grad!.dataSync() as Float32Array;
    for (let i = 0; i < xv.length; i++) assert.equal(gl[i], xv[i] > 0 ? 1 : Math.fround(0.1));
    const h = makeTensor([3], "f16", 4);
    h.requiresGrad = true;
    on("scalar", "reluBackward", () => relu(h).sum().backward());
    x.grad!.dispose();
    h.grad?.dispose();
    x.dispose();
    h.dispose();
  });
});

interface ConvCase {
  n: number;
  g: number;
  cg: number;
  og: number;
  h: number;
  w: number;
  kh: number;
  kw: number;
  s: number;
  p: number;
  d: number;
  layout: Layout;
}

Deno.test("wasm and openblas conv2d gradient kernels match the scalar backend", async (t) => {
  const cfg = fc.sample(
    fc.record({
      n: fc.integer({ min: 1, max: 3 }),
      g: fc.integer({ min: 1, max: 3 }),
      cg: fc.integer({ min: 1, max: 3 }),
      og: fc.integer({ min: 1, max: 3 }),
      h: fc.integer({ min: 3, max: 11 }),
      w: fc.integer({ min: 3, max: 11 }),
      kh: fc.integer({ min: 1, max: 3 }),
      kw: fc.integer({ min: 1, max: 3 }),
      s: fc.integer({ min: 1, max: 2 }),
      p: fc.integer({ min: 0, max: 2 }),
      d: fc.integer({ min: 1, max: 2 }),
      layout: fc.constantFrom<Layout>("contiguous", "strided", "transposed"),
    }),
    { seed: 41, numRuns: 50 },
  ) as ConvCase[];
  cfg.push({
    n: 5,
    g: 1,
    cg: 16,
    og: 32,
    h: 14,
    w: 14,
    kh: 3,
    kw: 3,
    s: 1,
    p: 1,
    d: 1,
    layout: "contiguous",
  });
  cfg.push({
    n: 3,
    g: 2,
    cg: 3,
    og: 2,
    h: 7,
    w: 6,
    kh: 1,
    kw: 1,
    s: 1,
    p: 0,
    d: 1,
    layout: "strided",
  });

  await t.step(
    "conv2dBackwardInput and conv2dBackwardWeight on random geometry and strides (f32)",
    () => {
      let k = 0, ran = 0;
      for (const c of cfg) {
        const oh = Math.floor((c.h + 2 * c.p - c.d * (c.kh - 1) - 1) / c.s) + 1;
        const ow = Math.floor((c.w + 2 * c.p - c.d * (c.kw - 1) - 1) / c.s) + 1;
        if (oh < 1 || ow < 1) continue;
        const C = c.g * c.cg, O = c.g * c.og;
        const opt = { lo: -1, hi: 1 };
        const x = makeTensor([c.n, C, c.h, c.w], "f32", k++, c.layout, opt);
        const w = makeTensor([O, c.cg, c.kh, c.kw], "f32", k++, "contiguous", opt);
        const g = makeTensor(
          [c.n, O, oh, ow],
          "f32",
          k++,
          c.layout === "transposed" ? "strided" : c.layout,
          opt,
        );
        const attrs = {
          stride: [c.s, c.s],
          padding: [c.p, c.p, c.p, c.p],
          dilation: [c.d, c.d],
          groups: c.g,
          hasBias: false,
        };
        const ir = scalarRun("conv2dBackwardInput", [g, w], x.shape, "f32", attrs);
        const wr = scalarRun("conv2dBackwardWeight", [x, g], w.shape, "f32", attrs);
        // Weight gradient: the direct kernel (few taps, the default here) and, with it turned
        // off, the GEMM paths of both plugins.
        for (const taps of [32, 0]) {
          const old = setDirectWeightGradTaps(taps);
          try {
            for (const b of convBackends()) {
              const what = `${b.name} taps≤${taps} ${JSON.stringify(c)}`;
              const k = b.kernels.conv2dBackwardWeight as KernelEntry;
              const probe = Tensor.empty(w.shape, "f32");
              const call = { op: "conv2dBackwardWeight", inputs: [x, g], outputs: [probe], attrs };
              const takes = !k.supports || k.supports(call);
              probe.dispose();
              if (!takes) {
                // OpenBLAS leaves the shapes of the direct kernel to the WASM plugin.
                assert.equal(b.name, "openblas", what);
                continue;
              }
              const wo = runOn(b, "conv2dBackwardWeight", [x, g], w.shape, "f32", attrs);
              assertClose(wo, wr, 0, 2e-6 * c.n * oh * ow, `conv2dBackwardWeight ${what}`);
              wo.dispose();
            }
          } finally {
            setDirectWeightGradTaps(old);
          }
        }
        for (const b of convBackends()) {
          const what = `${b.name} ${JSON.stringify(c)}`;
          const io = runOn(b, "conv2dBackwardInput", [g, w], x.shape, "f32", attrs);
          assertClose(io, ir, 0, 2e-6 * c.og * c.kh * c.kw, `conv2dBackwardInput ${what}`);
          io.dispose();
        }
        for (const v of [x, w, g, ir, wr]) v.dispose();
        ran++;
      }
      assert.ok(ran > 30, `${ran} cases`);
    },
  );

  await t.step(
    "chunks of images (a small column budget) and blocks give the same gradients",
    () => {
      const old = setConvGradChunk(700);
      try {
        for (const [n, g, s] of [[7, 1, 1], [16, 2, 2], [9, 1, 1]]) {
          const x = makeTensor([n, 2 * g, 9, 8], "f32", n, "strided", { lo: -1, hi: 1 });
          const w = makeTensor([3 * g, 2, 3, 3], "f32", n + 1, "contiguous", { lo: -1, hi: 1 });
          const oh = Math.floor((9 + 2 - 3) / s) + 1, ow = Math.floor((8 + 2 - 3) / s) + 1;
          const gr = makeTensor([n, 3 * g, oh, ow], "f32", n + 2, "transposed", { lo: -1, hi: 1 });
          const attrs = {
            stride: [s, s],
            padding: [1, 1, 1, 1],
            dilation: [1, 1],
            groups: g,
            hasBias: false,
          };
          const ir = scalarRun("conv2dBackwardInput", [gr, w], x.shape, "f32", attrs);
          const wr = scalarRun("conv2dBackwardWeight", [x, gr], w.shape, "f32", attrs);
          for (const b of convBackends()) {
            const what = `${b.name} n${n} g${g}`;
            const io = runOn(b, "conv2dBackwardInput", [gr, w], x.shape, "f32", attrs);
            assertClose(io, ir, 0, 2e-6 * 27, `chunked conv2dBackwardInput ${what}`);
            const wo = runOn(b, "conv2dBackwardWeight", [x, gr], w.shape, "f32", attrs);
            assertClose(wo, wr, 0, 2e-6 * n * oh * ow, `chunked conv2dBackwardWeight ${what}`);
            io.dispose();
            wo.dispose();
          }
          for (const v of [x, w, gr, ir, wr]) v.dispose();
        }
      } finally {
        setConvGradChunk(old);
      }
    },
  );

  await t.step("the scalar kernels equal the composed im2col/col2im gradients (f64)", () => {
    // The conv2d rule's composed path, run on the scalar backend in f64 through autograd with
    // the kernels unavailable is covered by the torch tests; here: the f64 kernels vs a direct
    // definition from conv2d itself (the gradient of Σ conv2d(x, w)·g via finite structure).
    const x = makeTensor([2, 4, 6, 5], "f64", 1);
    const w = makeTensor([6, 2, 3, 2], "f64", 2);
    const attrs = {
      stride: [2, 1],
      padding: [1, 1, 0, 0],
      dilation: [1, 2],
      groups: 2,
      hasBias: false,
    };
    const y = conv2d(x, w, { stride: [2, 1], padding: [1, 0], dilation: [1, 2], groups: 2 });
    const g = makeTensor(y.shape, "f64", 3);
    // <conv2d(x, w), g> is linear in x and in w: <dx, e_i> = <conv2d(e_i, w), g>.
    const dx = scalarRun("conv2dBackwardInput", [g, w], x.shape, "f64", attrs);
    const dw = scalarRun("conv2dBackwardWeight", [x, g], w.shape, "f64", attrs);
    const gv = g.dataSync() as Float64Array;
    const dot = (xx: Tensor, ww: Tensor) =>
      tidy(() => {
        const v = conv2d(xx, ww, { stride: [2, 1], padding: [1, 0], dilation: [1, 2], groups: 2 })
          .dataSync() as Float64Array;
        return v.reduce((s, a, i) => s + a * gv[i], 0);
      });
    const probe = (shape: number[], i: number) => {
      const e = new Array(shape.reduce((a, b) => a * b, 1)).fill(0);
      e[i] = 1;
      return tensor(e, { dtype: "f64", shape });
    };
    const dxv = dx.dataSync() as Float64Array, dwv = dw.dataSync() as Float64Array;
    for (const i of [0, 7, 33, 61, 119, 200, 239]) {
      const e = probe(x.shape as number[], i);
      assert.ok(Math.abs(dot(e, w) - dxv[i]) < 1e-12, `dx[${i}]`);
      e.dispose();
    }
    for (let i = 0; i < w.size; i += 5) {
      const e = probe(w.shape as number[], i);
      assert.ok(Math.abs(dot(x, e) - dwv[i]) < 1e-12, `dw[${i}]`);
      e.dispose();
    }
    for (const v of [x, w, y, g, dx, dw]) v.dispose();
  });

  await t.step("autograd routes f32 conv2d gradients to openblas or wasm, f64 to scalar", () => {
    const f32 = blasAvailable() ? "openblas" : "wasm";
    for (const [dtype, backend] of [["f32", f32], ["f64", "scalar"]] as const) {
      // 8 input channels: 72 taps per output channel, past the direct weight-gradient kernel.
      const x = makeTensor([2, 8, 8, 8], dtype, 5);
      const w = makeTensor([4, 8, 3, 3], dtype, 6);
      x.requiresGrad = true;
      w.requiresGrad = true;
      const { trace } = traceKernels(() => conv2d(x, w, { padding: 1 }).sum().backward());
      const ran = (op: string) => trace.filter((r) => r.op === op).map((r) => r.backend);
      assert.deepEqual(ran("conv2dBackwardInput"), [backend]);
      assert.deepEqual(ran("conv2dBackwardWeight"), [backend]);
      assert.deepEqual(x.grad!.shape, x.shape);
      assert.deepEqual(w.grad!.shape, w.shape);
      for (const v of [x.grad!, w.grad!, x, w]) v.dispose();
    }
    // 3 input channels (27 taps): the weight gradient runs the WASM plugin's direct kernel.
    const x = makeTensor([2, 3, 8, 8], "f32", 7), w = makeTensor([4, 3, 3, 3], "f32", 8);
    x.requiresGrad = true;
    w.requiresGrad = true;
    const { trace } = traceKernels(() => conv2d(x, w, { padding: 1 }).sum().backward());
    assert.deepEqual(trace.filter((r) => r.op === "conv2dBackwardWeight").map((r) => r.backend), [
      "wasm",
    ]);
    for (const v of [x.grad!, w.grad!, x, w]) v.dispose();
  });

  await t.step("declines f64, weights that are not one strided axis, standalone buffers", () => {
    const attrs = {
      stride: [1, 1],
      padding: [0, 0, 0, 0],
      dilation: [1, 1],
      groups: 1,
      hasBias: false,
    };
    const x = makeTensor([1, 2, 4, 4], "f64", 1), g = makeTensor([1, 3, 2, 2], "f64", 2);
    const dw = Tensor.empty([3, 2, 3, 3], "f64");
    assert.equal(wasmAccepts("conv2dBackwardWeight", [x, g], dw, attrs), false);
    const w = makeTensor([3, 2, 3, 3], "f32", 3, "transposed");
    const g32 = makeTensor([1, 3, 2, 2], "f32", 4);
    const dx = Tensor.empty([1, 2, 4, 4], "f32");
    assert.equal(wasmAccepts("conv2dBackwardInput", [g32, w], dx, attrs), false);
    // OpenBLAS: f64 and a non-contiguous weight (its GEMMs read the weight as a matrix).
    const blas = (op: OpName, inputs: Tensor[], out: Tensor) =>
      (openblasBackend.kernels[op] as KernelEntry).supports!({ op, inputs, outputs: [out], attrs });
    assert.equal(blas("conv2dBackwardWeight", [x, g], dw), false);
    assert.equal(blas("conv2dBackwardInput", [g32, w], dx), false);
    for (const v of [x, g, dw, w, g32, dx]) v.dispose();
  });
});

Deno.test("wasm training kernels leave the heap where it started after many ops in tidy()", () => {
  const x = makeTensor([4, 3, 10, 10], "f32", 1);
  const w = makeTensor([5, 3, 3, 3], "f32", 2);
  x.requiresGrad = true;
  w.requiresGrad = true;
  const step = () =>
    tidy(() => {
      const y = maxPool2d(relu(conv2d(x, w, { padding: 1 })), { kernelSize: 2 });
      avgPool2d(y, { kernelSize: 2 }).astype("f64").astype("f32").permute([0, 3, 2, 1]).contiguous()
        .sum().backward();
      x.grad!.dispose();
      w.grad!.dispose();
      x.grad = null;
      w.grad = null;
    });
  step();
  const before = wasmHeapStats()!;
  for (let i = 0; i < 300; i++) step();
  const after = wasmHeapStats()!;
  assert.equal(after.liveBytes, before.liveBytes);
  assert.equal(after.liveBlocks, before.liveBlocks);
  x.dispose();
  w.dispose();
});
