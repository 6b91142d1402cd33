/**
 * MXFP4 (OCP microscaling FP4): 32 E2M1 values sharing one E8M0 power-of-two scale (17 bytes).
 * The quantizer follows llama.cpp's `quantize_row_mxfp4_ref`.
 *
 * @module
 */

const fr = Math.fround;

/** E2M1 values, doubled (the scale below is halved to match), as ggml's `kvalues_mxfp4`. */
export const FP4_VALUES: readonly number[] = [
  0,
  1,
  2,
  3,
  4,
  6,
  8,
  12,
  0,
  -1,
  -2,
  -3,
  -4,
  -6,
  -8,
  -12,
];

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Half of the E8M0 scale `2^(e − 127)`, as ggml's `ggml_e8m0_to_fp32_half`. */
export function e8m0Half(e: number): number {
  u32[0] = e < 2 ? 0x00200000 << e : (e - 1) << 23;
  return f32[0];
}

function bestIndex(x: number, e: number): number {
  let best = 0;
  let bestErr = Math.abs(fr(fr(FP4_VALUES[0] * e) - x));
  for (let i = 1; i < 16; i++) {
    const err = Math.abs(fr(fr(FP4_VALUES[i] * e) - x));
    if (err < bestErr) {
      best = i;
      bestErr = err;
    }
  }
  return best;
}

/** Quantize to MXFP4 blocks. */
export function quantizeMXFP4(x: Float32Array, y: Uint8Array): void {
  const nb = x.length / 32;
  for (let i = 0; i < nb; i++) {
    const o = 32 * i, b = 17 * i;
    let amax = 0;
    for (let j = 0; j < 32; j++) {
      const a = Math.abs(x[o + j]);
      if (amax < a) amax = a;
    }
    const e = amax > 0 ? (Math.trunc(Math.floor(fr(Math.log2(amax))) - 2 + 127) & 0xff) : 0;
    const d = e8m0Half(e);
    y[b] = e;
    for (let j = 0; j < 16; j++) {
      y[b + 1 + j] = bestIndex(x[o + j], d) | (bestIndex(x[o + 16 + j], d) << 4);
    }
  }
}

/** Dequantize MXFP4 blocks. */
export function dequantizeMXFP4(x: Uint8Array, y: Float32Array): void {
  const nb = y.length / 32;
  for (let i = 0; i < nb; i++) {
    const b = 17 * i, o = 32 * i;
    const d = e8m0Half(x[b]);
    for (let j = 0; j < 16; j++) {
      const q = x[b + 1 + j];
      y[o + j] = FP4_VALUES[q & 15] * d;
      y[o + 16 + j] = FP4_VALUES[q >> 4] * d;
    }
  }
}
