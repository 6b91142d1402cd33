/**
 * ggml's 32-element legacy blocks: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1. The quantizers follow
 * llama.cpp's `quantize_row_*_ref` step by step in f32 arithmetic (every intermediate rounded with
 * `Math.fround`), so their bytes equal llama.cpp's.
 *
 * @module
 */
import { halfTable, writeHalf } from "./half.ts";

const fr = Math.fround;

/** C's `roundf`: halves away from zero. */
export function roundAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/** C's float → int8_t conversion as x86 does it (truncate, keep the low 8 bits, signed). */
const toI8 = (x: number): number => (Math.trunc(x) << 24) >> 24;

/** Largest-magnitude element of a block (the signed value; the first one wins ties). */
function signedMax(x: Float32Array, o: number, n: number): number {
  let amax = 0, max = 0;
  for (let j = 0; j < n; j++) {
    const v = x[o + j];
    if (amax < Math.abs(v)) {
      amax = Math.abs(v);
      max = v;
    }
  }
  return max;
}

/** Q4_0: f16 scale + 32 nibbles; value = (q − 8)·d. */
export function quantizeQ4_0(x: Float32Array, y: Uint8Array): void {
  const nb = x.length / 32;
  for (let i = 0; i < nb; i++) {
    const o = 32 * i, b = 18 * i;
    const d = fr(signedMax(x, o, 32) / -8);
    const id = d ? fr(1 / d) : 0;
    writeHalf(y, b, d);
    for (let j = 0; j < 16; j++) {
      const x0 = fr(x[o + j] * id), x1 = fr(x[o + 16 + j] * id);
      const q0 = Math.min(15, toI8(fr(x0 + 8.5))), q1 = Math.min(15, toI8(fr(x1 + 8.5)));
      y[b + 2 + j] = (q0 & 0xff) | ((q1 << 4) & 0xff);
    }
  }
}

/** Dequantize Q4_0 blocks. */
export function dequantizeQ4_0(x: Uint8Array, y: Float32Array): void {
  const h = halfTable();
  const nb = y.length / 32;
  for (let i = 0; i < nb; i++) {
    const b = 18 * i, o = 32 * i;
    const d = h[x[b] | (x[b + 1] << 8)];
    for (let j = 0; j < 16; j++) {
      const q = x[b + 2 + j];
      y[o + j] = ((q & 15) - 8) * d;
      y[o + 16 + j] = ((q >> 4) - 8) * d;
    }
  }
}

function minMax(x: Float32Array, o: number, n: number): [number, number] {
  let min = Infinity, max = -Infinity;
  for (let j = 0; j < n; j++) {
    const v = x[o + j];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  // C starts from ±FLT_MAX: an all-NaN block keeps those
  if (min === Infinity) min = 3.4028234663852886e38;
  if (max === -Infinity) max = -3.4028234663852886e38;
  return [min, max];
}

/** Q4_1: f16 scale, f16 min, 32 nibbles; value = q·d + m. */
export function quantizeQ4_1(x: Float32Array, y: Uint8Array): void {
  const nb = x.length / 32;
  for (let i = 0; i < nb; i++) {
    const o = 32 * i, b = 20 * i;
    const [min, max] = minMax(x, o, 32);
    const d = fr(fr(max - min) / 15);
    const id = d ? fr(1 / d) : 0;
    writeHalf(y, b, d);
    writeHalf(y, b + 2, min);
    for (let j = 0; j < 16; j++) {
      const x0 = fr(fr(x[o + j] - min) * id), x1 = fr(fr(x[o + 16 + j] - min) * id);
      const q0 = Math.min(15, toI8(fr(x0 + 0.5))), q1 = Math.min(15, toI8(fr(x1 + 0.5)));
      y[b + 4 + j] = (q0 & 0xff) | ((q1 << 4) & 0xff);
    }
  }
}

/** Dequantize Q4_1 blocks. */
export function dequantizeQ4_1(x: Uint8Array, y: Float32Array): void {
  const h = halfTable();
  const nb = y.length / 32;
  for (let i = 0; i < nb; i++) {
    const b = 20 * i, o = 32 * i;
    const d = h[x[b] | (x[b + 1] << 8)], m = h[x[b + 2] | (x[b + 3] << 8)];
    for (let j = 0; j < 16; j++) {
      const q = x[b + 4 + j];
      y[o + j] = fr((q & 15) * d) + m;
      y[o + 16 + j] = fr((q >> 4) * d) + m;
    }
  }
}

function writeU32(y: Uint8Array, off: number, v: number): void {
  y[off] = v & 0xff;
  y[off + 1] = (v >>> 8) & 0xff;
  y[off + 2] = (v >>> 16) & 0xff;
  y[off + 3] = v >>> 24;
}

const readU32 = (x: Uint8Array, off: number): number =>
  (x[off] | (x[off + 1] << 8) | (x[off + 2] << 16) | (x[off + 3] << 24)) >>> 0;

/** Q5_0: f16 scale, 32 high bits, 32 nibbles; value = (q − 16)·d. */
export function quantizeQ5_0(x: Float32Array, y: Uint8Array): void {
  const nb = x.length / 32;
  for (let i = 0; i < nb; i++) {
    const o = 32 * i, b = 22 * i;
    const d = fr(signedMax(x, o, 32) / -16);
    const id = d ? fr(1 / d) : 0;
    writeHalf(y, b, d);
    let qh = 0;
    for (let j = 0; j < 16; j++) {
      const x0 = fr(x[o + j] * id), x1 = fr(x[o + 16 + j] * id);
      const q0 = Math.min(31, toI8(fr(x0 + 16.5))) & 0xff;
      const q1 = Math.min(31, toI8(fr(x1 + 16.5))) & 0xff;
      y[b + 6 + j] = (q0 & 15) | ((q1 & 15) << 4);
      qh |= ((q0 & 0x10) >> 4) << j;
      qh |= ((q1 & 0x10) >> 4) << (j + 16);
    }
    writeU32(y, b + 2, qh);
  }
}

/** Dequantize Q5_0 blocks. */
export function dequantizeQ5_0(x: Uint8Array, y: Float32Array): void {
  const h = halfTable();
  const nb = y.length / 32;
  for (let i = 0; i < nb; i++) {
    const b = 22 * i, o = 32 * i;
    const d = h[x[b] | (x[b + 1] << 8)];
    const qh = readU32(x, b + 2);
    for (let j = 0; j < 16; j++) {
      const q = x[b + 6 + j];
      y[o + j] = (((q & 15) | (((qh >>> j) << 4) & 0x10)) - 16) * d;
      y[o + 16 + j] = (((q >> 4) | ((qh >>> (j + 12)) & 0x10)) - 16) * d;
    }
  }
}

/** Q5_1: f16 scale, f16 min, 32 high bits, 32 nibbles; value = q·d + m. */
export function quantizeQ5_1(x: Float32Array, y: Uint8Array): void {
  const nb = x.length / 32;
  for (let i = 0; i < nb; i++) {
    const o = 32 * i, b = 24 * i;
    const [min, max] = minMax(x, o, 32);
    const d = fr(fr(max - min) / 31);
    const id = d ? fr(1 / d) : 0;
    writeHalf(y, b, d);
    writeHalf(y, b + 2, min);
    let qh = 0;
    for (let j = 0; j < 16; j++) {
      const x0 = fr(fr(x[o + j] - min) * id), x1 = fr(fr(x[o + 16 + j] - min) * id);
      const q0 = Math.trunc(fr(x0 + 0.5)) & 0xff, q1 = Math.trunc(fr(x1 + 0.5)) & 0xff;
      y[b + 8 + j] = (q0 & 15) | ((q1 & 15) << 4);
      qh |= ((q0 & 0x10) >> 4) << j;
      qh |= ((q1 & 0x10) >> 4) << (j + 16);
    }
    writeU32(y, b + 4, qh);
  }
}

/** Dequantize Q5_1 blocks. */
export function dequantizeQ5_1(x: Uint8Array, y: Float32Array): void {
  const h = halfTable();
  const nb = y.length / 32;
  for (let i = 0; i < nb; i++) {
    const b = 24 * i, o = 32 * i;
    const d = h[x[b] | (x[b + 1] << 8)], m = h[x[b + 2] | (x[b + 3] << 8)];
    const qh = readU32(x, b + 4);
    for (let j = 0; j < 16; j++) {
      const q = x[b + 8 + j];
      y[o + j] = fr(((q & 15) | (((qh >>> j) << 4) & 0x10)) * d) + m;
      y[o + 16 + j] = fr(((q >> 4) | ((qh >>> (j + 12)) & 0x10)) * d) + m;
    }
  }
}

function absMax(x: Float32Array, o: number, n: number): number {
  let amax = 0;
  for (let j = 0; j < n; j++) {
    const a = Math.abs(x[o + j]);
    // C's MAX(amax, a) is `amax > a ? amax : a`: a NaN element makes amax NaN
    amax = amax > a ? amax : a;
  }
  return amax;
}

/** Q8_0: f16 scale + 32 signed bytes; value = q·d. */
export function quantizeQ8_0(x: Float32Array, y: Uint8Array): void {
  const nb = x.length / 32;
  for (let i = 0; i < nb; i++) {
    const o = 32 * i, b = 34 * i;
    const d = fr(absMax(x, o, 32) / 127);
    const id = d ? fr(1 / d) : 0;
    writeHalf(y, b, d);
    for (let j = 0; j < 32; j++) y[b + 2 + j] = toI8(roundAway(fr(x[o + j] * id))) & 0xff;
  }
}

/** Dequantize Q8_0 blocks. */
export function dequantizeQ8_0(x: Uint8Array, y: Float32Array): void {
  const h = halfTable();
  const nb = y.length / 32;
  for (let i = 0; i < nb; i++) {
    const b = 34 * i, o = 32 * i;
    const d = h[x[b] | (x[b + 1] << 8)];
    for (let j = 0; j < 32; j++) y[o + j] = ((x[b + 2 + j] << 24) >> 24) * d;
  }
}

/** Q8_1: f16 scale, f16 `d·Σq`, 32 signed bytes (36-byte blocks); value = q·d. */
export function quantizeQ8_1(x: Float32Array, y: Uint8Array): void {
  const nb = x.length / 32;
  for (let i = 0; i < nb; i++) {
    const o = 32 * i, b = 36 * i;
    const d = fr(absMax(x, o, 32) / 127);
    const id = d ? fr(1 / d) : 0;
    writeHalf(y, b, d);
    let sum = 0;
    for (let j = 0; j < 32; j++) {
      const q = toI8(roundAway(fr(x[o + j] * id)));
      y[b + 4 + j] = q & 0xff;
      sum += q;
    }
    writeHalf(y, b + 2, fr(sum * d));
  }
}

/** Dequantize Q8_1 blocks (the stored sum is redundant and not read). */
export function dequantizeQ8_1(x: Uint8Array, y: Float32Array): void {
  const h = halfTable();
  const nb = y.length / 32;
  for (let i = 0; i < nb; i++) {
    const b = 36 * i, o = 32 * i;
    const d = h[x[b] | (x[b + 1] << 8)];
    for (let j = 0; j < 32; j++) y[o + j] = ((x[b + 4 + j] << 24) >> 24) * d;
  }
}
