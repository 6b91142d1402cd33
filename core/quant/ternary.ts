/**
 * Ternary blocks of 256 elements (values −d, 0, +d): TQ1_0 packs five trits per byte
 * (1.6875 bits per weight), TQ2_0 two bits per trit. Quantizers follow llama.cpp's
 * `quantize_row_tq*_ref` in f32 arithmetic.
 *
 * @module
 */
import { halfTable, writeHalf } from "./half.ts";
import { roundAway } from "./legacy.ts";

const fr = Math.fround;

function absMax(x: Float32Array, o: number): number {
  let amax = 0;
  for (let j = 0; j < 256; j++) {
    const a = Math.abs(x[o + j]);
    amax = amax > a ? amax : a;
  }
  return amax;
}

/** The trit (0, 1, 2 for −1, 0, +1) of `v·id`, as `lroundf(v·id) + 1`. */
const trit = (v: number, id: number): number => roundAway(fr(v * id)) + 1;

/** Five (or four) trits packed into a byte as a fixed-point fraction of 3^5 (rounded up). */
const packTrits = (q: number): number => ((q * 256 + 242) / 243) | 0;

/** TQ1_0: 48 bytes of five trits, 4 bytes of four trits, f16 scale (54 bytes per 256). */
export function quantizeTQ1_0(x: Float32Array, y: Uint8Array): void {
  const nb = x.length / 256;
  for (let i = 0; i < nb; i++) {
    let o = 256 * i;
    const b = 54 * i;
    const d = absMax(x, o);
    const id = d ? fr(1 / d) : 0;
    writeHalf(y, b + 52, d);
    for (let m = 0; m < 32; m++) {
      let q = 0;
      for (let n = 0; n < 5; n++) q = (q * 3 + trit(x[o + m + 32 * n], id)) & 0xff;
      y[b + m] = packTrits(q) & 0xff;
    }
    o += 160;
    for (let m = 0; m < 16; m++) {
      let q = 0;
      for (let n = 0; n < 5; n++) q = (q * 3 + trit(x[o + m + 16 * n], id)) & 0xff;
      y[b + 32 + m] = packTrits(q) & 0xff;
    }
    o += 80;
    for (let j = 0; j < 4; j++) {
      let q = 0;
      for (let m = 0; m < 4; m++) q = (q * 3 + trit(x[o + j + 4 * m], id)) & 0xff;
      y[b + 48 + j] = packTrits((q * 3) & 0xff) & 0xff;
    }
  }
}

const POW3 = [1, 3, 9, 27, 81, 243];

/** Dequantize TQ1_0 blocks. */
export function dequantizeTQ1_0(x: Uint8Array, y: Float32Array): void {
  const h = halfTable();
  const nb = y.length / 256;
  for (let i = 0; i < nb; i++) {
    const b = 54 * i;
    let o = 256 * i;
    const d = h[x[b + 52] | (x[b + 53] << 8)];
    for (let n = 0; n < 5; n++) {
      for (let m = 0; m < 32; m++) {
        const q = (x[b + m] * POW3[n]) & 0xff;
        y[o++] = (((q * 3) >> 8) - 1) * d;
      }
    }
    for (let n = 0; n < 5; n++) {
      for (let m = 0; m < 16; m++) {
        const q = (x[b + 32 + m] * POW3[n]) & 0xff;
        y[o++] = (((q * 3) >> 8) - 1) * d;
      }
    }
    for (let n = 0; n < 4; n++) {
      for (let j = 0; j < 4; j++) {
        const q = (x[b + 48 + j] * POW3[n]) & 0xff;
        y[o++] = (((q * 3) >> 8) - 1) * d;
      }
    }
  }
}

/** TQ2_0: 64 bytes of four 2-bit trits, f16 scale (66 bytes per 256). */
export function quantizeTQ2_0(x: Float32Array, y: Uint8Array): void {
  const nb = x.length / 256;
  for (let i = 0; i < nb; i++) {
    const o = 256 * i, b = 66 * i;
    const d = absMax(x, o);
    const id = d ? fr(1 / d) : 0;
    writeHalf(y, b + 64, d);
    for (let j = 0; j < 64; j += 32) {
      for (let m = 0; m < 32; m++) {
        let q = 0;
        for (let n = 0; n < 4; n++) q += (trit(x[o + 4 * j + m + 32 * n], id) & 3) << (2 * n);
        y[b + j + m] = q & 0xff;
      }
    }
  }
}

/** Dequantize TQ2_0 blocks. */
export function dequantizeTQ2_0(x: Uint8Array, y: Float32Array): void {
  const h = halfTable();
  const nb = y.length / 256;
  for (let i = 0; i < nb; i++) {
    const b = 66 * i;
    let o = 256 * i;
    const d = h[x[b + 64] | (x[b + 65] << 8)];
    for (let j = 0; j < 64; j += 32) {
      for (let l = 0; l < 4; l++) {
        for (let m = 0; m < 32; m++) y[o++] = (((x[b + j + m] >> (2 * l)) & 3) - 1) * d;
      }
    }
  }
}
