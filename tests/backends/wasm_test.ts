import assert from "node:assert/strict";
import {
  type DType,
  fromTyped,
  type KernelFn,
  matmul,
  ready,
  registerBackend,
  scalarBackend,
  Tensor,
  tensor,
  traceKernels,
} from "../../mod.ts";
import { fromBF16Bits, type HostStorage, setHostAllocator, toBF16Bits } from "../../internal.ts";
import {
  disposeWasmThreads,
  setWasmSpin,
  setWasmThreads,
  wasmBackend,
  wasmHeapStats,
  wasmThreads,
} from "../../backends/wasm/mod.ts";
import { WasmHeap } from "../../backends/cpu/heap.ts";
import { detectFeatures, loadRuntime } from "../../backends/cpu/runtime.ts";
import { poolStats } from "../../backends/cpu/pool.ts";
import { type Layout, makeTensor, rng } from "../helpers/gen.ts";
import { assertMatches, needsNumpy, numpy } from "../helpers/numpy.ts";

// Above every other CPU plugin (OpenBLAS also has matmul), so that these tests exercise wasm.
registerBackend(wasmBackend, { priority: 1000 });
await ready();

type MatLayout = Layout | "flipped";

/** An (…batch, rows, cols) operand in one of several layouts (same logical values per seed). */
function operand(shape: number[], dtype: DType, seed: number, layout: MatLayout): Tensor {
  if (layout !== "flipped") return makeTensor(shape, dtype, seed, layout, { lo: -1, hi: 1 });
  const base = makeTensor(shape, dtype, seed, "contiguous", { lo: -1, hi: 1 });
  const v = base.flip(); // negative strides on every axis
  base.dispose();
  return v;
}

/** The scalar backend's matmul kernel on the same (batch-equal) operands: the reference. */
function scalarMatmul(a: Tensor, b: Tensor): Tensor {
  const r = a.ndim;
  const out = Tensor.empty([...a.shape.slice(0, r - 1), b.shape[r - 1]], a.dtype);
  (scalarBackend.kernels.matmul as KernelFn)({
    op: "matmul",
    inputs: [a, b],
    outputs: [out],
    attrs: {},
  });
  return out;
}

/** Σ_p |a_ip|·|b_pj| per output element: the scale of the rounding error of each dot product. */
function absProducts(a: Tensor, b: Tensor): Float64Array {
  const r = a.ndim, m = a.shape[r - 2], k = a.shape[r - 1], n = b.shape[r - 1];
  const av = Float64Array.from(a.dataSync() as Float32Array, Math.abs);
  const bv = Float64Array.from(b.dataSync() as Float32Array, Math.abs);
  const nb = a.shape.slice(0, r - 2).reduce((x, y) => x * y, 1);
  const out = new Float64Array(nb * m * n);
  for (let t = 0; t < nb; t++) {
    for (let i = 0; i < m; i++) {
      for (let p = 0; p < k; p++) {
        const x = av[t * m * k + i * k + p];
        for (let j = 0; j < n; j++) out[t * m * n + i * n + j] += x * bv[t * k * n + p * n + j];
      }
    }
  }
  return out;
}

/**
 * |ours − ref| ≤ rtol · Σ|a||b| elementwise. The WASM kernel accumulates in the operands' dtype
 * (f32 in f32 with fused multiply-adds, in blocks of 256) while the scalar reference accumulates
 * in f64 and rounds once, so the difference is bounded by k·u·Σ|a||b| (u = 2^-24 for f32):
 * rtol 1e-4 covers k up to ~1600 for f32, and 1e-12 covers f64 (u = 2^-53) with a wide margin.
 */
function assertClose(ours: Tensor, ref: Tensor, scale: Float64Array, rtol: number, what: string) {
  assert.deepEqual(ours.shape, ref.shape, `${what}: shape`);
  assert.equal(ours.dtype, ref.dtype, `${what}: dtype`);
  const x = ours.dataSync() as Float64Array, y = ref.dataSync() as Float64Array;
  for (let i = 0; i < x.length; i++) {
    const err = Math.abs(x[i] - y[i]);
    if (!(err <= rtol * scale[i] + 1e-30)) {
      assert.fail(`${what}: element ${i}: ${x[i]} vs scalar ${y[i]} (|diff| ${err})`);
    }
  }
}

function inHeap(t: Tensor): boolean {
  return (t.storage as HostStorage).allocator === loadRuntime().heap;
}

const EDGE = [1, 7, 33, 65, 127];
const LAYOUTS: MatLayout[] = ["contiguous", "transposed", "strided", "flipped"];

Deno.test("wasm plugin probes SIMD, relaxed SIMD and threads and reports them", () => {
  const f = detectFeatures();
  assert.equal(f.simd128, true);
  assert.equal(f.threads, true);
  const status = wasmBackend.probe();
  assert.ok(!(status instanceof Promise));
  assert.equal(status.available, true);
  assert.ok(status.features?.includes("simd128"));
  assert.ok(status.features?.includes("threads"));
  assert.equal(status.features?.includes("relaxed-simd"), f.relaxedSimd);
  assert.equal(status.threads, wasmThreads());
  assert.ok(status.dtypes?.includes("f32") && status.dtypes.includes("f64"));
});

Deno.test("wasm matmul matches the scalar kernel on edge sizes and strided views", async (t) => {
  setWasmThreads(1);
  for (const dtype of ["f32", "f64"] as const) {
    await t.step(`${dtype}: m, n, k in {1, 7, 33, 65, 127}, every operand layout`, () => {
      const r = rng(dtype === "f32" ? 1 : 2);
      const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)];
      for (let c = 0; c < 40; c++) {
        const m = pick(EDGE), n = pick(EDGE), k = pick(EDGE);
        const la = LAYOUTS[c % 4], lb = pick(LAYOUTS);
        const a = operand([m, k], dtype, 10 * c, la), b = operand([k, n], dtype, 10 * c + 1, lb);
        const { result, trace } = traceKernels(() => matmul(a, b));
        assert.deepEqual(trace, [{ op: "matmul", backend: "wasm" }]);
        const ref = scalarMatmul(a, b);
        const what = `${dtype} (${m}x${k} ${la}) @ (${k}x${n} ${lb})`;
        assertClose(result, ref, absProducts(a, b), dtype === "f32" ? 1e-4 : 1e-12, what);
        for (const x of [a, b, result, ref]) x.dispose();
      }
    });
    await t.step(`${dtype}: batched, with broadcast (stride-0) batch axes and k = 0`, () => {
      const cases: [number[], number[], MatLayout][] = [
        [[3, 17, 9], [3, 9, 21], "contiguous"],
        [[2, 3, 6, 40], [2, 3, 40, 5], "transposed"],
        [[4, 13, 70], [1, 70, 11], "strided"],
        [[5, 33, 20], [5, 20, 19], "flipped"],
        [[2, 4, 0], [2, 0, 3], "contiguous"],
      ];
      for (const [i, [sa, sb, layout]] of cases.entries()) {
        const a = operand(sa, dtype, 100 + i, layout), b = operand(sb, dtype, 200 + i, layout);
        const { result, trace } = traceKernels(() => matmul(a, b));
        assert.deepEqual(trace, [{ op: "matmul", backend: "wasm" }]);
        const bb = b.broadcastTo([...result.shape.slice(0, -2), ...sb.slice(-2)]);
        const ab = a.broadcastTo([...result.shape.slice(0, -2), ...sa.slice(-2)]);
        const ref = scalarMatmul(ab, bb);
        assertClose(result, ref, absProducts(ab, bb), dtype === "f32" ? 1e-4 : 1e-12, `${sa}`);
        for (const x of [a, b, ab, bb, result, ref]) x.dispose();
      }
    });
  }
});

Deno.test("wasm matmul agrees with NumPy on batched broadcasting products", {
  ...needsNumpy,
}, async () => {
  setWasmThreads(1);
  const specs: [number[], number[], MatLayout, MatLayout][] = [
    [[64, 48], [48, 80], "contiguous", "transposed"],
    [[2, 1, 33, 17], [3, 17, 65], "strided", "contiguous"],
    [[127], [127, 7], "contiguous", "flipped"],
    [[6, 127, 1], [1, 5], "transposed", "contiguous"],
  ];
  for (const dtype of ["f32", "f64"] as const) {
    const ins = specs.map(([sa, sb, la, lb], i) => [
      operand(sa, dtype, 300 + i, la),
      operand(sb, dtype, 400 + i, lb),
    ]);
    const outs = ins.map(([a, b]) => {
      const { result, trace } = traceKernels(() => matmul(a, b));
      assert.deepEqual(trace, [{ op: "matmul", backend: "wasm" }]);
      return result;
    });
    const refs = await numpy(ins.map(([a, b]) => ({ expr: "np.matmul(a, b)", arrays: { a, b } })));
    for (let i = 0; i < specs.length; i++) {
      // f32: NumPy's BLAS accumulates in f32 too, in another order; see assertClose for why 1e-4.
      const tol = dtype === "f32" ? { rtol: 1e-4, atol: 1e-4 } : { rtol: 1e-12, atol: 1e-12 };
      assertMatches(outs[i], refs[i].results[0], tol, `${dtype} ${specs[i][0]} @ ${specs[i][1]}`);
    }
    for (const x of [...ins.flat(), ...outs]) x.dispose();
  }
});

Deno.test("wasm matmul gives identical results with 1 and 2 threads", async (t) => {
  try {
    for (const dtype of ["f32", "f64"] as const) {
      await t.step(`${dtype}: tall, wide and batched products`, () => {
        const shapes: [number[], number[]][] = [
          [[300, 190], [190, 257]], // rows split between threads
          [[40, 150], [150, 700]], // columns split
          [[7, 65, 80], [7, 80, 66]], // batch entries split
          [[1, 130, 129], [1, 129, 131]], // one batch entry: rows split
        ];
        for (const [i, [sa, sb]] of shapes.entries()) {
          const a = operand(sa, dtype, 500 + i, "transposed");
          const b = operand(sb, dtype, 600 + i, "contiguous");
          setWasmThreads(1);
          const one = matmul(a, b);
          setWasmThreads(2);
          const two = matmul(a, b);
          const again = matmul(a, b);
          assert.deepEqual(two.dataSync(), one.dataSync(), `${sa} @ ${sb}`);
          assert.deepEqual(again.dataSync(), one.dataSync(), `${sa} @ ${sb} (pool reused)`);
          const ref = scalarMatmul(a, b);
          assertClose(two, ref, absProducts(a, b), dtype === "f32" ? 1e-4 : 1e-12, `${sa}`);
          for (const x of [a, b, one, two, again, ref]) x.dispose();
        }
      });
    }
    await t.step("the worker ran part of the work", () => {
      const s = poolStats();
      assert.equal(s.errors, 0, s.lastError);
      assert.equal(s.workers, 1);
      assert.ok(s.workerSlots > 0, "no slot ran on the worker");
    });
    await t.step("setWasmThreads rejects bad counts", () => {
      assert.throws(() => setWasmThreads(0), RangeError);
      assert.throws(() => setWasmThreads(1.5), /integer from 1 to 256/);
    });
    await t.step("spinning or sleeping workers give the same results; setWasmSpin checks", () => {
      const a = operand([120, 90], "f32", 700, "contiguous");
      const b = operand([90, 300], "f32", 701, "contiguous");
      setWasmThreads(2);
      const before = setWasmSpin(0);
      assert.equal(before, 50);
      const sleeping = matmul(a, b);
      setWasmSpin(1000);
      const spinning = matmul(a, b);
      assert.equal(setWasmSpin(before), 1000);
      assert.deepEqual(spinning.dataSync(), sleeping.dataSync());
      assert.throws(() => setWasmSpin(-1), /microseconds from 0 to 1e6/);
      assert.throws(() => setWasmSpin(NaN), RangeError);
      for (const x of [a, b, sleeping, spinning]) x.dispose();
    });
  } finally {
    setWasmThreads(1);
    await disposeWasmThreads(); // workers must not outlive the test (sanitizers)
  }
});

Deno.test("wasm kernels decline what they cannot run in place, and another backend runs it", async (t) => {
  await t.step("tensors outside the wasm heap (standalone ArrayBuffers)", () => {
    setHostAllocator(null);
    const a = tensor([[1, 2], [3, 4]]), b = tensor([[1, 0], [0, 1]]);
    setHostAllocator(loadRuntime().heap);
    assert.equal(inHeap(a), false);
    const { result, trace } = traceKernels(() => matmul(a, b));
    assert.equal(trace.length, 1);
    assert.notEqual(trace[0].backend, "wasm");
    assert.deepEqual(result.toArraySync(), [[1, 2], [3, 4]]);
    for (const x of [a, b, result]) x.dispose();
  });
  await t.step("dtypes other than f32/f64, and mixed dtypes", () => {
    const a = tensor([[1, 2], [3, 4]], { dtype: "i32" }), f = tensor([[1, 2], [3, 4]]);
    for (const [x, y] of [[a, a], [a, f]]) {
      const { result, trace } = traceKernels(() => matmul(x, y));
      assert.equal(trace.length, 1);
      assert.notEqual(trace[0].backend, "wasm");
      assert.deepEqual(result.toArraySync(), [[7, 10], [15, 22]]);
      result.dispose();
    }
    a.dispose();
    f.dispose();
  });
});

Deno.test("the wasm heap allocator", async (t) => {
  const fresh = (maxPages = 1024) => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: maxPages, shared: true });
    return new WasmHeap(memory, 1000, maxPages);
  };
  await t.step("blocks are 64-byte aligned, disjoint, and grow the memory as needed", () => {
    const h = fresh();
    const r = rng(7);
    const blocks: [number, number][] = [];
    for (let i = 0; i < 200; i++) {
      const len = Math.floor(r() * 100_000);
      const off = h.alloc(len)!.byteOffset;
      assert.equal(off % 64, 0);
      assert.ok(off >= 1000 && off + len <= h.memory.buffer.byteLength);
      blocks.push([off, len]);
    }
    blocks.sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < blocks.length; i++) {
      assert.ok(blocks[i - 1][0] + Math.max(1, blocks[i - 1][1]) <= blocks[i][0]);
    }
  });
  await t.step("10k alloc/free cycles do not grow the heap", () => {
    const h = fresh();
    const r = rng(8);
    const sizes = [16, 100, 4096, 40_000, 300_000, 1 << 20];
    const cycles = (n: number) => {
      const live: number[] = [];
      for (let i = 0; i < n; i++) {
        live.push(h.alloc(sizes[Math.floor(r() * sizes.length)])!.byteOffset);
        if (live.length > 3 || r() < 0.5) h.free(live.splice(Math.floor(r() * live.length), 1)[0]);
      }
      for (const o of live) h.free(o);
    };
    // Same-size cycles reuse the same block.
    const first = h.alloc(300_000)!.byteOffset;
    h.free(first);
    const start = h.stats();
    for (let i = 0; i < 10_000; i++) h.free(h.alloc(300_000 - (i % 64))!.byteOffset);
    assert.deepEqual(h.stats(), start);
    // Mixed sizes with up to 4 live blocks: once warm, 10k more cycles do not grow it.
    cycles(2_000);
    const warm = h.stats();
    cycles(10_000);
    const after = h.stats();
    assert.equal(after.liveBytes, 0);
    assert.equal(after.liveBlocks, 0);
    assert.equal(after.memoryBytes, warm.memoryBytes);
    assert.ok(after.top <= warm.top, `top ${warm.top} → ${after.top}`);
  });
  await t.step("freed neighbours coalesce and the top is given back", () => {
    const h = fresh();
    const [a, b, c] = [1, 2, 3].map(() => h.alloc(100_000)!.byteOffset);
    const top = h.stats().top;
    h.free(a);
    h.free(b);
    const big = h.alloc(200_000)!.byteOffset; // fits only in a+b merged
    assert.equal(big, a);
    h.free(big);
    h.free(c); // a+b+c merge with the top
    assert.ok(h.stats().top < top);
    assert.equal(h.stats().freeBytes, 0);
    assert.equal(h.alloc(300_000)!.byteOffset, a);
  });
  await t.step("exhaustion returns null instead of throwing", () => {
    const h = fresh(4); // 256 KiB
    assert.notEqual(h.alloc(100_000), null);
    assert.equal(h.alloc(300_000), null);
    assert.notEqual(h.alloc(100_000), null);
  });
  await t.step("a tensor the heap cannot hold falls back to a standalone buffer", () => {
    const small = fresh(8);
    setHostAllocator(small);
    try {
      const big = Tensor.empty([1 << 20], "f32"); // 4 MiB > 512 KiB
      const fits = Tensor.empty([1000], "f32");
      assert.equal((big.storage as HostStorage).allocator, null);
      assert.equal((fits.storage as HostStorage).allocator, small);
      big.dispose();
      fits.dispose();
      assert.equal(small.stats().liveBytes, 0);
    } finally {
      setHostAllocator(loadRuntime().heap);
    }
  });
  await t.step("10k tensor create/matmul/dispose cycles leave the host heap where it was", () => {
    setWasmThreads(1);
    const a = tensor([[1, 2], [3, 4]]), b = tensor([[5, 6], [7, 8]]);
    matmul(a, b).dispose(); // warm-up: the GEMM job block is allocated once
    const before = wasmHeapStats()!;
    for (let i = 0; i < 10_000; i++) {
      const c = matmul(a, b);
      const d = c.astype("f16");
      c.dispose();
      d.dispose();
    }
    const after = wasmHeapStats()!;
    assert.equal(after.liveBytes, before.liveBytes);
    assert.equal(after.memoryBytes, before.memoryBytes);
    assert.ok(inHeap(a));
    a.dispose();
    b.dispose();
  });
});

Deno.test("f16 and bf16 conversions to and from f32 run in wasm, exactly", async (t) => {
  await t.step("f16 → f32 for all 65536 bit patterns", () => {
    const bits = new Uint16Array(65536).map((_, i) => i);
    const h = fromTyped(bits, [65536], "f16");
    const { result, trace } = traceKernels(() => h.astype("f32"));
    assert.deepEqual(trace, [{ op: "copy", backend: "wasm" }]);
    const got = result.dataSync() as Float32Array;
    const want = new Float16Array(bits.buffer);
    for (let i = 0; i < 65536; i++) {
      if (Number.isNaN(want[i])) assert.ok(Number.isNaN(got[i]), `bits ${i}`);
      else assert.ok(Object.is(got[i], want[i]), `bits ${i}: ${got[i]} vs ${want[i]}`);
    }
    h.dispose();
    result.dispose();
  });
  const f32Samples = () => {
    const r = rng(11);
    const u = new Uint32Array(200_000);
    for (let i = 0; i < u.length; i++) {
      const kind = i % 4;
      u[i] = kind === 0
        ? Math.floor(r() * 2 ** 32) // any bits: NaNs, infinities, huge, tiny
        : kind === 1
        ? (Math.floor(r() * 2 ** 32) & 0x807fffff) | ((100 + Math.floor(r() * 48)) << 23) // f16 range
        : kind === 2
        ? ((Math.floor(r() * 2 ** 19) << 13) | 0x1000) ^ (r() < 0.5 ? 0x80000000 : 0) // ties
        : Math.floor(r() * 2 ** 32) & 0x80ffffff; // tiny, subnormal
    }
    u.set([0x7f800000, 0xff800000, 0x477fe000, 0x477ff000, 0x477fefff, 0x33000000, 0x33000001]);
    return new Float32Array(u.buffer);
  };
  await t.step("f32 → f16 rounds to nearest even like Math.f16round", () => {
    const x = f32Samples();
    const src = fromTyped(x, [x.length], "f32");
    const { result, trace } = traceKernels(() => src.astype("f16"));
    assert.deepEqual(trace, [{ op: "copy", backend: "wasm" }]);
    const got = result.dataSync() as Float16Array;
    for (let i = 0; i < x.length; i++) {
      const want = Math.f16round(x[i]);
      if (Number.isNaN(want)) assert.ok(Number.isNaN(got[i]), `${x[i]}`);
      else assert.ok(Object.is(got[i], want), `${x[i]}: ${got[i]} vs ${want}`);
    }
    src.dispose();
    result.dispose();
  });
  await t.step("bf16 ↔ f32 match toBF16Bits / fromBF16Bits", () => {
    const x = f32Samples();
    const src = fromTyped(x, [x.length], "f32");
    const { result: b, trace } = traceKernels(() => src.astype("bf16"));
    const back = b.astype("f32");
    assert.equal(trace[0].backend, "wasm");
    const bits = b.dataSync() as Uint16Array, f = back.dataSync() as Float32Array;
    for (let i = 0; i < x.length; i++) {
      assert.equal(bits[i], toBF16Bits(x[i]), `${x[i]}`);
      assert.ok(Object.is(f[i], fromBF16Bits(bits[i])) || Number.isNaN(f[i]), `${x[i]}`);
    }
    for (const t of [src, b, back]) t.dispose();
  });
  await t.step("conversions the wasm copy lacks fall back to another backend", () => {
    // (strided f16/bf16 and f32 ↔ f64 copies run in wasm since the general copy kernel:
    // tests/backends/wasm_train_test.ts)
    const x = tensor([[1, 2], [3, 4]]);
    const { trace } = traceKernels(() => {
      x.T.astype("i64").dispose();
      x.astype("u16").dispose();
    });
    assert.equal(trace.length, 2);
    assert.ok(trace.every((r) => r.backend !== "wasm"), JSON.stringify(trace));
    x.dispose();
  });
});

Deno.test({
  name: "the committed wasm binaries are what backends/cpu/build.sh builds (clang-16)",
  ignore: (() => {
    try {
      return !new Deno.Command("clang-16", { args: ["--version"], stdout: "null" }).outputSync()
        .success;
    } catch {
      return true;
    }
  })(),
  fn() {
    const out = Deno.makeTempDirSync();
    try {
      const here = new URL("../../backends/cpu/", import.meta.url).pathname;
      const r = new Deno.Command("bash", { args: [`${here}build.sh`, out] }).outputSync();
      assert.ok(r.success, new TextDecoder().decode(r.stderr));
      for (const f of ["binaries.generated.ts", "dist/kernels-simd128.wasm"]) {
        assert.deepEqual(Deno.readFileSync(`${out}/${f}`), Deno.readFileSync(`${here}${f}`), f);
      }
    } finally {
      Deno.removeSync(out, { recursive: true });
    }
  },
});
