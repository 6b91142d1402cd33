/**
 * The WASM plugin's `quantize` kernel (backends/cpu/src/quantize.c) against llama.cpp's own
 * `quantize_row_*_ref` (libggml-base.so) and against core/quant's codecs: packed bytes must be
 * identical (tolerance: none). Also: routing (the kernel runs where it should and declines
 * strided inputs and types it lacks), results independent of the thread count, and blocks
 * holding NaN, infinities, huge and subnormal values (bytes equal to ggml's there too).
 */
import assert from "node:assert/strict";
import { ready, setWasmThreads, tensor, traceKernels, wasmThreads } from "../../mod.ts";
import { BLOCK_DTYPES, type BlockDType } from "../../core/dtype.ts";
import { BLOCK_CODECS } from "../../core/quant/mod.ts";
import { haveGgml, refQuantize } from "../helpers/ggml_oracle.ts";

await ready();

/** The types quantize.c implements (the rest fall back to the scalar backend's codecs). */
const TYPES: BlockDType[] = [
  "q4_0",
  "q4_1",
  "q5_0",
  "q5_1",
  "q8_0",
  "q8_1",
  "q2_k",
  "q3_k",
  "q4_k",
  "q5_k",
  "q6_k",
  "q8_k",
  "iq4_xs",
];

/** ggml's symbol spelling (K-quants keep an upper-case K). */
const ggmlName = (t: BlockDType) => t.replace(/_k$/, "_K");

/** Deterministic PRNG (mulberry32). */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Gaussian, uniform, positive, tiny, huge, mixed (zero/constant/outlier blocks), cos inputs. */
function inputs(seed: number, n: number): Float32Array[] {
  const r = rng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
  const mixed = Float32Array.from({ length: n }, () => gauss());
  mixed.fill(0, 256, 512);
  mixed.fill(0.75, 512, 768);
  for (let i = 768; i < 1024; i++) mixed[i] = i % 7 === 0 ? gauss() * 100 : gauss() * 0.01;
  return [
    Float32Array.from({ length: n }, () => gauss()),
    Float32Array.from({ length: n }, () => 2 * r() - 1),
    Float32Array.from({ length: n }, () => r() * 3 + 0.5),
    Float32Array.from({ length: n }, () => gauss() * 1e-6),
    Float32Array.from({ length: n }, () => gauss() * 1e4),
    mixed,
    Float32Array.from({ length: n }, (_, i) => 0.1 + 2 * Math.cos(i + seed)),
  ];
}

/** `x` as [rows, cols] quantized through the tensor API; the bytes and the backends that ran. */
function viaKernel(type: BlockDType, x: Float32Array, cols: number) {
  using t = tensor(x).reshape([x.length / cols, cols]);
  const { result, trace } = traceKernels(() => t.astype(type));
  using q = result;
  return { bytes: q.bytesSync(), backends: trace.map((r) => r.backend) };
}

function codec(type: BlockDType, x: Float32Array): Uint8Array {
  const info = BLOCK_DTYPES[type];
  const out = new Uint8Array((x.length / info.blockSize) * info.blockBytes);
  BLOCK_CODECS[type].quantize!(x, out);
  return out;
}

const firstDiff = (a: Uint8Array, b: Uint8Array) =>
  a.length !== b.length ? -2 : a.findIndex((v, i) => v !== b[i]);

for (const type of TYPES) {
  Deno.test({
    name: `wasm quantize ${type} equals llama.cpp's quantize_row_${ggmlName(type)}_ref bit for bit`,
    ignore: !haveGgml(),
    fn() {
      const N = 2048;
      const nbytes = (N / BLOCK_DTYPES[type].blockSize) * BLOCK_DTYPES[type].blockBytes;
      for (const seed of [1, 2, 3]) {
        for (const [k, x] of inputs(seed, N).entries()) {
          const { bytes, backends } = viaKernel(type, x, 512);
          assert.deepEqual(backends, ["wasm"]);
          const ref = refQuantize(ggmlName(type), x, nbytes);
          assert.equal(firstDiff(bytes, ref), -1, `${type} seed ${seed} input ${k}`);
        }
      }
    },
  });
}

Deno.test({
  name: "wasm quantize equals llama.cpp on NaN, infinities, huge and subnormal values",
  ignore: !haveGgml(),
  fn() {
    const r = rng(7);
    const x = Float32Array.from({ length: 4096 }, () => (r() - 0.5) * 4);
    const specials = [NaN, Infinity, -Infinity, 3e38, -3e38, 1e-40, -0, 5e6];
    for (let b = 0; b < 16; b++) x[256 * b + ((b * 37) % 256)] = specials[b % specials.length];
    x.fill(NaN, 3584, 3616); // a whole 32-block of NaN
    for (const type of TYPES) {
      const { bytes } = viaKernel(type, x, 1024);
      assert.equal(firstDiff(bytes, refQuantize(ggmlName(type), x, bytes.length)), -1, type);
    }
  },
});

Deno.test("wasm quantize gives the same bytes on 1 and 2 threads, and on 3-D tensors", () => {
  const before = wasmThreads();
  const r = rng(11);
  const x = Float32Array.from({ length: 64 * 1024 }, () => r() * 2 - 1);
  try {
    for (const type of ["q4_k", "q6_k", "q8_0"] as BlockDType[]) {
      setWasmThreads(1);
      const one = viaKernel(type, x, 1024).bytes;
      setWasmThreads(2);
      const two = viaKernel(type, x, 1024).bytes;
      assert.equal(firstDiff(one, two), -1, type);
      assert.equal(firstDiff(one, codec(type, x)), -1, type);
      using t = tensor(x).reshape([4, 16, 1024]);
      using q = t.astype(type);
      assert.equal(firstDiff(q.bytesSync(), one), -1, `${type} 3-D`);
    }
  } finally {
    setWasmThreads(before);
  }
});

Deno.test("wasm quantize declines strided inputs and types it lacks (the scalar codecs run)", () => {
  const r = rng(5);
  const x = Float32Array.from({ length: 512 * 2 }, () => r() * 2 - 1);
  using m = tensor(x).reshape([512, 2]);
  using t = m.transpose(); // rows of 512 read with stride 2
  const { result, trace } = traceKernels(() => t.astype("q4_k"));
  using q = result;
  assert.deepEqual(trace.map((e) => e.backend), ["scalar"]);
  const rows = Float32Array.from({ length: 1024 }, (_, i) => x[(i % 512) * 2 + (i >> 9)]);
  assert.equal(firstDiff(q.bytesSync(), codec("q4_k", rows)), -1);
  const iq = viaKernel("iq4_nl", rows, 512);
  assert.deepEqual(iq.backends, ["scalar"]);
});
