/**
 * Our block codecs against llama.cpp's own `quantize_row_*_ref` / `dequantize_row_*`
 * (libggml-base.so via Deno.dlopen): quantized bytes and decoded values must be bit-identical.
 */
import assert from "node:assert/strict";
import { BLOCK_DTYPES, type BlockDType } from "../../../core/dtype.ts";
import {
  bf16ToF32Row,
  BLOCK_CODECS,
  dequantizeRow,
  f16ToF32Row,
  f32ToBF16Row,
  f32ToF16Row,
  quantizeRow,
} from "../../../core/quant/mod.ts";
import { ggml, haveGgml, refDequantize, refQuantize } from "../../helpers/ggml_oracle.ts";

/** ggml's symbol spelling of our lower-case names (K-quants keep an upper-case K). */
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

/** Inputs: gaussian-ish, uniform, all-zero blocks, constant blocks, tiny and huge magnitudes. */
function inputs(seed: number, n: number): Float32Array[] {
  const r = rng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
  const out: Float32Array[] = [];
  out.push(Float32Array.from({ length: n }, () => gauss()));
  out.push(Float32Array.from({ length: n }, () => 2 * r() - 1));
  out.push(Float32Array.from({ length: n }, () => r() * 3 + 0.5)); // all positive
  out.push(Float32Array.from({ length: n }, () => gauss() * 1e-6));
  out.push(Float32Array.from({ length: n }, () => gauss() * 1e4));
  const mixed = Float32Array.from({ length: n }, () => gauss());
  mixed.fill(0, 256, 512); // an all-zero block (not the first: iq4_nl's ref leaves it uninitialised)
  mixed.fill(0.75, 512, 768); // a constant block
  for (let i = 768; i < 1024; i++) mixed[i] = i % 7 === 0 ? gauss() * 100 : gauss() * 0.01;
  out.push(mixed);
  out.push(Float32Array.from({ length: n }, (_, i) => 0.1 + 2 * Math.cos(i + seed)));
  return out;
}

const N = 1024;
const QUANTIZABLE = (Object.keys(BLOCK_CODECS) as BlockDType[]).filter((t) =>
  BLOCK_CODECS[t].quantize !== null
);

for (const type of QUANTIZABLE) {
  Deno.test({
    name: `quantizeRow ${type} equals llama.cpp's quantize_row_${ggmlName(type)}_ref bit for bit`,
    ignore: !haveGgml(),
    fn() {
      const info = BLOCK_DTYPES[type];
      const nbytes = (N / info.blockSize) * info.blockBytes;
      for (const seed of [1, 2, 3]) {
        for (const [k, x] of inputs(seed, N).entries()) {
          const ours = new Uint8Array(nbytes);
          quantizeRow(type, x, ours);
          const ref = refQuantize(ggmlName(type), x, nbytes);
          const bad = ours.findIndex((v, i) => v !== ref[i]);
          assert.equal(bad, -1, `${type} seed ${seed} input ${k}: first differing byte ${bad}`);
        }
      }
    },
  });
}

for (const type of Object.keys(BLOCK_CODECS) as BlockDType[]) {
  Deno.test({
    name: `dequantizeRow ${type} equals llama.cpp's decoder bit for bit on random blocks`,
    ignore: !haveGgml(),
    fn() {
      const info = BLOCK_DTYPES[type];
      const nb = N / info.blockSize;
      const r = rng(7 + info.ggml);
      const bytes = Uint8Array.from({ length: nb * info.blockBytes }, () => (r() * 256) | 0);
      // keep f16 scales finite and moderate: scales are where NaN/Inf would hide mismatches
      sanitizeScales(type, bytes, nb, r);
      const ours = new Float32Array(N);
      dequantizeRow(type, bytes, ours);
      let ref: Float32Array;
      if (type === "q8_1") {
        // ggml has no dequantize_row_q8_1: its blocks are Q8_0's with a sum between scale and qs
        const q8 = new Uint8Array(nb * 34);
        for (let b = 0; b < nb; b++) {
          q8.set(bytes.subarray(36 * b, 36 * b + 2), 34 * b);
          q8.set(bytes.subarray(36 * b + 4, 36 * b + 36), 34 * b + 2);
        }
        ref = refDequantize("q8_0", q8, N);
      } else {
        ref = refDequantize(ggmlName(type), bytes, N);
      }
      for (let i = 0; i < N; i++) {
        assert.ok(!Number.isNaN(ours[i]), `${type}[${i}] is NaN`);
        if (!Object.is(ours[i], ref[i])) {
          assert.fail(`${type}[${i}]: ours ${ours[i]} vs llama.cpp ${ref[i]}`);
        }
      }
    },
  });
}

/** Overwrite each block's scale fields with random finite f16/f32 values of moderate size. */
function sanitizeScales(type: BlockDType, bytes: Uint8Array, nb: number, r: () => number) {
  const info = BLOCK_DTYPES[type];
  const half = () => {
    const h = new Float16Array([(r() * 2 - 1) * 4]);
    return new Uint8Array(h.buffer);
  };
  const at: Record<string, number[]> = {
    q4_0: [0],
    q4_1: [0, 2],
    q5_0: [0],
    q5_1: [0, 2],
    q8_0: [0],
    q8_1: [0, 2],
    q2_k: [80, 82],
    q3_k: [108],
    q4_k: [0, 2],
    q5_k: [0, 2],
    q6_k: [208],
    iq2_xxs: [0],
    iq2_xs: [0],
    iq3_xxs: [0],
    iq1_s: [0],
    iq4_nl: [0],
    iq3_s: [0],
    iq2_s: [0],
    iq4_xs: [0],
    tq1_0: [52],
    tq2_0: [64],
  };
  for (let b = 0; b < nb; b++) {
    const o = b * info.blockBytes;
    for (const off of at[type] ?? []) bytes.set(half(), o + off);
    if (type === "q8_k") bytes.set(new Uint8Array(new Float32Array([r() * 2 - 1]).buffer), o);
    if (type === "mxfp4") bytes[o] = 100 + ((r() * 50) | 0);
    if (type === "iq1_m") {
      // the f16 scale's nibbles sit in the top 4 bits of the four u16 scale words
      const h = new Uint16Array(new Float16Array([(r() * 2 - 1) * 4]).buffer)[0];
      for (let w = 0; w < 4; w++) {
        const p = o + 48 + 2 * w;
        bytes[p + 1] = (bytes[p + 1] & 0x0f) | (((h >> (4 * w)) & 0xf) << 4);
      }
    }
  }
}

/** llama.cpp's round-trip thresholds (`tests/test-quantize-fns.cpp`) on its synthetic data. */
const RMSE: Partial<Record<BlockDType, number>> = {
  q2_k: 0.0075,
  q3_k: 0.004,
  tq1_0: 0.01,
  tq2_0: 0.01,
};

for (const type of QUANTIZABLE) {
  Deno.test(`${type} round-trips 0.1 + 2·cos(i) within llama.cpp's error threshold`, () => {
    const n = 4096;
    const x = Float32Array.from({ length: n }, (_, i) => 0.1 + 2 * Math.cos(i));
    const info = BLOCK_DTYPES[type];
    const q = new Uint8Array((n / info.blockSize) * info.blockBytes);
    quantizeRow(type, x, q);
    const y = new Float32Array(n);
    dequantizeRow(type, q, y);
    let s = 0;
    for (let i = 0; i < n; i++) s += (x[i] - y[i]) ** 2;
    const err = Math.sqrt(s) / n;
    const limit = RMSE[type] ?? 0.002;
    assert.ok(err <= limit, `${type}: error ${err} > ${limit}`);
  });
}

Deno.test({
  name: "f16/bf16 rows convert like ggml's fp16/bf16 row functions, every bit pattern",
  ignore: !haveGgml(),
  fn() {
    const g = ggml();
    const all = new Uint16Array(65536).map((_, i) => i);
    const bytes = new Uint8Array(all.buffer);
    for (
      const [ours, theirs] of [
        [f16ToF32Row, g.ggml_fp16_to_fp32_row],
        [bf16ToF32Row, g.ggml_bf16_to_fp32_row],
      ] as const
    ) {
      const a = new Float32Array(65536), b = new Float32Array(65536);
      ours(bytes, a);
      theirs(bytes, b, 65536n);
      // compare bits: NaN payloads included
      assert.deepEqual(new Uint32Array(a.buffer), new Uint32Array(b.buffer));
    }
    // f32 → f16/bf16: every f16 value, the midpoints between neighbours (ties to even), overflow
    // and underflow edges, random bits
    const r = rng(5);
    const xs = new Float32Array(3 * 65536);
    const f16 = new Float32Array(new Float16Array(all.buffer));
    for (let i = 0; i < 65536; i++) {
      xs[3 * i] = f16[i];
      xs[3 * i + 1] = i < 65535 ? (f16[i] + f16[i + 1]) / 2 : 1e9;
      xs[3 * i + 2] = new Float32Array(new Uint32Array([(r() * 2 ** 32) >>> 0]).buffer)[0];
    }
    const finite = xs.filter((v) => !Number.isNaN(v)); // NaN payload rounding is unspecified
    const n = BigInt(finite.length);
    for (
      const [ours, theirs] of [
        [f32ToF16Row, g.ggml_fp32_to_fp16_row],
        [f32ToBF16Row, g.ggml_fp32_to_bf16_row_ref],
      ] as const
    ) {
      const a = new Uint8Array(2 * finite.length), b = new Uint8Array(2 * finite.length);
      ours(finite, a);
      theirs(finite, b, n);
      const bad = a.findIndex((v, i) => v !== b[i]);
      assert.equal(bad, -1, `first difference at byte ${bad}: x = ${finite[bad >> 1]}`);
    }
  },
});
