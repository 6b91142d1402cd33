/**
 * ggml's K-quants: 256-element super-blocks Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and Q8_K, with their
 * reference quantizers (`quantize_row_q*_K_ref`, no importance matrix) and decoders. Layouts as in
 * `ggml-common.h`; every f32 intermediate is rounded as the C code rounds it.
 *
 * @module
 */
import { halfTable, writeHalf } from "./half.ts";
import { GROUP_MAX_EPS, makeQ3Quants, makeQkx2Quants, makeQxQuants, nearestInt } from "./kfit.ts";

const fr = Math.fround;
const F01 = fr(0.1);

/** Scale `j` and min `j` of the 12-byte 6-bit packing used by Q4_K and Q5_K. */
function scaleMinK4(j: number, q: Uint8Array, o: number): [number, number] {
  if (j < 4) return [q[o + j] & 63, q[o + j + 4] & 63];
  return [
    (q[o + j + 4] & 0xf) | ((q[o + j - 4] >> 6) << 4),
    (q[o + j + 4] >> 4) | ((q[o + j] >> 6) << 4),
  ];
}

/** Pack 2-bit levels of a 256 block as Q2_K/Q3_K do (four 32-runs per byte column). */
function pack2(L: Uint8Array | Int8Array, y: Uint8Array, qo: number): void {
  for (let j = 0; j < 256; j += 128) {
    for (let l = 0; l < 32; l++) {
      y[qo + j / 4 + l] = L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
        (L[j + l + 96] << 6);
    }
  }
}

const L8 = new Uint8Array(256);
const W32 = new Float32Array(32);
const SC16 = new Float32Array(16);
const MN16 = new Float32Array(16);

/** Q2_K: 16 4-bit scale/min pairs, 2-bit levels, f16 d and dmin (84 bytes). */
export function quantizeQ2_K(x: Float32Array, y: Uint8Array): void {
  const nb = x.length / 256;
  const w = W32.subarray(0, 16);
  for (let i = 0; i < nb; i++) {
    const o = 256 * i, b = 84 * i;
    let maxScale = 0, maxMin = 0;
    for (let j = 0; j < 16; j++) {
      for (let l = 0; l < 16; l++) w[l] = Math.abs(x[o + 16 * j + l]);
      const [s, m] = makeQkx2Quants(16, 3, x, o + 16 * j, w, L8, 16 * j, -0.5, F01, 15, true);
      SC16[j] = s;
      MN16[j] = m;
      if (s > maxScale) maxScale = s;
      if (m > maxMin) maxMin = m;
    }
    if (maxScale > 0) {
      const iscale = fr(15 / maxScale);
      for (let j = 0; j < 16; j++) y[b + j] = nearestInt(fr(iscale * SC16[j])) & 0xff;
      writeHalf(y, b + 80, fr(maxScale / 15));
    } else {
      y.fill(0, b, b + 16);
      writeHalf(y, b + 80, 0);
    }
    if (maxMin > 0) {
      const iscale = fr(15 / maxMin);
      for (let j = 0; j < 16; j++) y[b + j] |= nearestInt(fr(iscale * MN16[j])) << 4;
      writeHalf(y, b + 82, fr(maxMin / 15));
    } else {
      writeHalf(y, b + 82, 0);
    }
    const h = halfTable();
    const dAll = h[y[b + 80] | (y[b + 81] << 8)], mAll = h[y[b + 82] | (y[b + 83] << 8)];
    for (let j = 0; j < 16; j++) {
      const d = fr(dAll * (y[b + j] & 0xf));
      if (!d) continue;
      const dm = fr(mAll * (y[b + j] >> 4));
      for (let ii = 0; ii < 16; ii++) {
        const l = nearestInt(fr(fr(x[o + 16 * j + ii] + dm) / d));
        L8[16 * j + ii] = l < 0 ? 0 : l > 3 ? 3 : l;
      }
    }
    pack2(L8, y, b + 16);
  }
}

/** Dequantize Q2_K blocks. */
export function dequantizeQ2_K(x: Uint8Array, y: Float32Array): void {
  const h = halfTable();
  const nb = y.length / 256;
  for (let i = 0; i < nb; i++) {
    const b = 84 * i;
    let o = 256 * i;
    const d = h[x[b + 80] | (x[b + 81] << 8)], min = h[x[b + 82] | (x[b + 83] << 8)];
    let is = 0;
    for (let n = 0; n < 2; n++) {
      const q = b + 16 + 32 * n;
      for (let shift = 0; shift < 8; shift += 2) {
        for (let half = 0; half < 32; half += 16) {
          const sc = x[b + is++];
          const dl = fr(d * (sc & 0xf)), ml = fr(min * (sc >> 4));
          for (let l = 0; l < 16; l++) y[o++] = fr(dl * ((x[q + half + l] >> shift) & 3)) - ml;
        }
      }
    }
  }
}

const LI8 = new Int8Array(256);

/** Q3_K's 6-bit signed scale `j` (bias 32 removed) from its 12-byte packing. */
function scaleQ3(s: Uint8Array, o: number, j: number): number {
  const low = j < 8 ? s[o + j] & 0xf : s[o + j - 8] >> 4;
  return (low | (((s[o + 8 + (j % 4)] >> (2 * (j >> 2))) & 3) << 4)) - 32;
}

/** Q3_K: 2-bit levels + high-bit mask, 16 6-bit scales, f16 d (110 bytes). */
export function quantizeQ3_K(x: Float32Array, y: Uint8Array): void {
  const nb = x.length / 256;
  for (let i = 0; i < nb; i++) {
    const o = 256 * i, b = 110 * i, so = b + 96;
    let maxScale = 0, amax = 0;
    for (let j = 0; j < 16; j++) {
      SC16[j] = makeQ3Quants(16, 4, x, o + 16 * j, LI8, 16 * j);
      const a = Math.abs(SC16[j]);
      if (a > amax) {
        amax = a;
        maxScale = SC16[j];
      }
    }
    y.fill(0, so, so + 12);
    if (maxScale) {
      const iscale = fr(-32 / maxScale);
      for (let j = 0; j < 16; j++) {
        let l = (nearestInt(fr(iscale * SC16[j])) << 24) >> 24;
        l = (l < -32 ? -32 : l > 31 ? 31 : l) + 32;
        if (j < 8) y[so + j] = l & 0xf;
        else y[so + j - 8] |= (l & 0xf) << 4;
        y[so + 8 + (j % 4)] |= (l >> 4) << (2 * (j >> 2));
      }
      writeHalf(y, b + 108, fr(1 / iscale));
    } else {
      writeHalf(y, b + 108, 0);
    }
    const dAll = halfTable()[y[b + 108] | (y[b + 109] << 8)];
    for (let j = 0; j < 16; j++) {
      const d = fr(dAll * scaleQ3(y, so, j));
      if (!d) continue;
      for (let ii = 0; ii < 16; ii++) {
        const l = nearestInt(fr(x[o + 16 * j + ii] / d));
        LI8[16 * j + ii] = (l < -4 ? -4 : l > 3 ? 3 : l) + 4;
      }
    }
    y.fill(0, b, b + 32);
    let m = 0, hm = 1;
    for (let j = 0; j < 256; j++) {
      if (LI8[j] > 3) {
        y[b + m] |= hm;
        LI8[j] -= 4;
      }
      if (++m === 32) {
        m = 0;
        hm <<= 1;
      }
    }
    pack2(LI8, y, b + 32);
  }
}

/** Dequantize Q3_K blocks. */
export function dequantizeQ3_K(x: Uint8Array, y: Float32Array): void {
  const h = halfTable();
  const nb = y.length / 256;
  for (let i = 0; i < nb; i++) {
    const b = 110 * i;
    let o = 256 * i;
    const dAll = h[x[b + 108] | (x[b + 109] << 8)];
    let is = 0, m = 1;
    for (let n = 0; n < 2; n++) {
      const q = b + 32 + 32 * n;
      for (let shift = 0; shift < 8; shift += 2) {
        for (let half = 0; half < 32; half += 16) {
          const dl = fr(dAll * scaleQ3(x, b + 96, is++));
          for (let l = 0; l < 16; l++) {
            const v = ((x[q + half + l] >> shift) & 3) - ((x[b + half + l] & m) ? 0 : 4);
            y[o++] = dl * v;
          }
        }
        m <<= 1;
      }
    }
  }
}

const SC8 = new Float32Array(8);
const MN8 = new Float32Array(8);

/**
 * The shared part of Q4_K and Q5_K: per-32 weighted scale/min fits, their 6-bit packing at
 * `y[b + 4 ..]`, f16 d/dmin at `y[b]`, and the final levels in `L8`.
 */
function fitK4(
  x: Float32Array,
  o: number,
  y: Uint8Array,
  b: number,
  nmax: number,
  rmin: number,
  nstep: number,
): void {
  let maxScale = 0, maxMin = 0;
  for (let j = 0; j < 8; j++) {
    let sumX2 = 0;
    for (let l = 0; l < 32; l++) sumX2 = fr(sumX2 + fr(x[o + 32 * j + l] * x[o + 32 * j + l]));
    const avX = fr(Math.sqrt(fr(sumX2 / 32)));
    for (let l = 0; l < 32; l++) W32[l] = fr(avX + Math.abs(x[o + 32 * j + l]));
    const [s, m] = makeQkx2Quants(
      32,
      nmax,
      x,
      o + 32 * j,
      W32,
      L8,
      32 * j,
      rmin,
      F01,
      nstep,
      false,
    );
    SC8[j] = s;
    MN8[j] = m;
    if (s > maxScale) maxScale = s;
    if (m > maxMin) maxMin = m;
  }
  const invScale = maxScale > 0 ? fr(63 / maxScale) : 0;
  const invMin = maxMin > 0 ? fr(63 / maxMin) : 0;
  const s = b + 4;
  for (let j = 0; j < 8; j++) {
    const ls = Math.min(63, nearestInt(fr(invScale * SC8[j])) & 0xff);
    const lm = Math.min(63, nearestInt(fr(invMin * MN8[j])) & 0xff);
    if (j < 4) {
      y[s + j] = ls;
      y[s + j + 4] = lm;
    } else {
      y[s + j + 4] = (ls & 0xf) | ((lm & 0xf) << 4);
      y[s + j - 4] |= (ls >> 4) << 6;
      y[s + j] |= (lm >> 4) << 6;
    }
  }
  writeHalf(y, b, fr(maxScale / 63));
  writeHalf(y, b + 2, fr(maxMin / 63));
  const h = halfTable();
  const dAll = h[y[b] | (y[b + 1] << 8)], mAll = h[y[b + 2] | (y[b + 3] << 8)];
  for (let j = 0; j < 8; j++) {
    const [sc, m] = scaleMinK4(j, y, s);
    const d = fr(dAll * sc);
    if (!d) continue;
    const dm = fr(mAll * m);
    for (let ii = 0; ii < 32; ii++) {
      const l = nearestInt(fr(fr(x[o + 32 * j + ii] + dm) / d));
      L8[32 * j + ii] = l < 0 ? 0 : l > nmax ? nmax : l;
    }
  }
}

/** Q4_K: f16 d, dmin, 8 6-bit scale/min pairs, 4-bit levels (144 bytes). */
export function quantizeQ4_K(x: Float32Array, y: Uint8Array): void {
  const nb = x.length / 256;
  for (let i = 0; i < nb; i++) {
    const o = 256 * i, b = 144 * i;
    fitK4(x, o, y, b, 15, -1, 20);
    for (let j = 0; j < 4; j++) {
      for (let l = 0; l < 32; l++) {
        y[b + 16 + 32 * j + l] = L8[64 * j + l] | (L8[64 * j + l + 32] << 4);
      }
    }
  }
}

/** Dequantize Q4_K blocks. */
export function dequantizeQ4_K(x: Uint8Array, y: Float32Array): void {
  const h = halfTable();
  const nb = y.length / 256;
  for (let i = 0; i < nb; i++) {
    const b = 144 * i;
    let o = 256 * i;
    const d = h[x[b] | (x[b + 1] << 8)], min = h[x[b + 2] | (x[b + 3] << 8)];
    for (let j = 0; j < 4; j++) {
      const [s1, m1] = scaleMinK4(2 * j, x, b + 4);
      const [s2, m2] = scaleMinK4(2 * j + 1, x, b + 4);
      const d1 = fr(d * s1), n1 = fr(min * m1), d2 = fr(d * s2), n2 = fr(min * m2);
      const q = b + 16 + 32 * j;
      for (let l = 0; l < 32; l++) y[o++] = fr(d1 * (x[q + l] & 0xf)) - n1;
      for (let l = 0; l < 32; l++) y[o++] = fr(d2 * (x[q + l] >> 4)) - n2;
    }
  }
}

/** Q5_K: f16 d, dmin, 8 6-bit scale/min pairs, high-bit plane, 4-bit levels (176 bytes). */
export function quantizeQ5_K(x: Float32Array, y: Uint8Array): void {
  const nb = x.length / 256;
  for (let i = 0; i < nb; i++) {
    const o = 256 * i, b = 176 * i, qh = b + 16;
    fitK4(x, o, y, b, 31, -0.5, 15);
    y.fill(0, qh, qh + 32);
    let m1 = 1, m2 = 2;
    for (let n = 0; n < 256; n += 64) {
      const ql = b + 48 + n / 2;
      for (let j = 0; j < 32; j++) {
        let l1 = L8[n + j], l2 = L8[n + j + 32];
        if (l1 > 15) {
          l1 -= 16;
          y[qh + j] |= m1;
        }
        if (l2 > 15) {
          l2 -= 16;
          y[qh + j] |= m2;
        }
        y[ql + j] = l1 | (l2 << 4);
      }
      m1 <<= 2;
      m2 <<= 2;
    }
  }
}

/** Dequantize Q5_K blocks. */
export function dequantizeQ5_K(x: Uint8Array, y: Float32Array): void {
  const h = halfTable();
  const nb = y.length / 256;
  for (let i = 0; i < nb; i++) {
    const b = 176 * i, qh = b + 16;
    let o = 256 * i;
    const d = h[x[b] | (x[b + 1] << 8)], min = h[x[b + 2] | (x[b + 3] << 8)];
    let u1 = 1, u2 = 2;
    for (let j = 0; j < 4; j++) {
      const [s1, m1] = scaleMinK4(2 * j, x, b + 4);
      const [s2, m2] = scaleMinK4(2 * j + 1, x, b + 4);
      const d1 = fr(d * s1), n1 = fr(min * m1), d2 = fr(d * s2), n2 = fr(min * m2);
      const ql = b + 48 + 32 * j;
      for (let l = 0; l < 32; l++) {
        y[o++] = fr(d1 * ((x[ql + l] & 0xf) + (x[qh + l] & u1 ? 16 : 0))) - n1;
      }
      for (let l = 0; l < 32; l++) {
        y[o++] = fr(d2 * ((x[ql + l] >> 4) + (x[qh + l] & u2 ? 16 : 0))) - n2;
      }
      u1 <<= 2;
      u2 <<= 2;
    }
  }
}

/** Q6_K: 4+2-bit levels, 16 int8 scales, f16 d (210 bytes). */
export function quantizeQ6_K(x: Float32Array, y: Uint8Array): void {
  const nb = x.length / 256;
  for (let i = 0; i < nb; i++) {
    const o = 256 * i, b = 210 * i;
    let maxScale = 0, maxAbs = 0;
    for (let ib = 0; ib < 16; ib++) {
      const s = makeQxQuants(16, 32, x, o + 16 * ib, L8, 16 * ib);
      SC16[ib] = s;
      if (Math.abs(s) > maxAbs) {
        maxAbs = Math.abs(s);
        maxScale = s;
      }
    }
    if (maxAbs < GROUP_MAX_EPS) {
      y.fill(0, b, b + 210);
      continue;
    }
    const iscale = fr(-128 / maxScale);
    writeHalf(y, b + 208, fr(1 / iscale));
    for (let ib = 0; ib < 16; ib++) {
      y[b + 192 + ib] = Math.min(127, nearestInt(fr(iscale * SC16[ib]))) & 0xff;
    }
    const dAll = halfTable()[y[b + 208] | (y[b + 209] << 8)];
    for (let j = 0; j < 16; j++) {
      const d = fr(dAll * ((y[b + 192 + j] << 24) >> 24));
      if (!d) continue;
      for (let ii = 0; ii < 16; ii++) {
        const l = nearestInt(fr(x[o + 16 * j + ii] / d));
        L8[16 * j + ii] = (l < -32 ? -32 : l > 31 ? 31 : l) + 32;
      }
    }
    for (let j = 0; j < 256; j += 128) {
      const ql = b + j / 2, qh = b + 128 + j / 4;
      for (let l = 0; l < 32; l++) {
        const a = L8[j + l], c = L8[j + l + 32], e = L8[j + l + 64], f = L8[j + l + 96];
        y[ql + l] = (a & 0xf) | ((e & 0xf) << 4);
        y[ql + l + 32] = (c & 0xf) | ((f & 0xf) << 4);
        y[qh + l] = (a >> 4) | ((c >> 4) << 2) | ((e >> 4) << 4) | ((f >> 4) << 6);
      }
    }
  }
}

/** Dequantize Q6_K blocks. */
export function dequantizeQ6_K(x: Uint8Array, y: Float32Array): void {
  const h = halfTable();
  const nb = y.length / 256;
  for (let i = 0; i < nb; i++) {
    const b = 210 * i;
    const d = h[x[b + 208] | (x[b + 209] << 8)];
    for (let n = 0; n < 2; n++) {
      const ql = b + 64 * n, qh = b + 128 + 32 * n, sc = b + 192 + 8 * n, o = 256 * i + 128 * n;
      for (let l = 0; l < 32; l++) {
        const is = l >> 4, hb = x[qh + l];
        const q1 = ((x[ql + l] & 0xf) | ((hb & 3) << 4)) - 32;
        const q2 = ((x[ql + l + 32] & 0xf) | (((hb >> 2) & 3) << 4)) - 32;
        const q3 = ((x[ql + l] >> 4) | (((hb >> 4) & 3) << 4)) - 32;
        const q4 = ((x[ql + l + 32] >> 4) | (((hb >> 6) & 3) << 4)) - 32;
        y[o + l] = fr(d * ((x[sc + is] << 24) >> 24)) * q1;
        y[o + l + 32] = fr(d * ((x[sc + is + 2] << 24) >> 24)) * q2;
        y[o + l + 64] = fr(d * ((x[sc + is + 4] << 24) >> 24)) * q3;
        y[o + l + 96] = fr(d * ((x[sc + is + 6] << 24) >> 24)) * q4;
      }
    }
  }
}

const f32 = new Float32Array(1);
const f32b = new Uint8Array(f32.buffer);

/** Q8_K: f32 d, 256 int8 levels, 16 int16 sums of 16 (292 bytes); the activation type of K dots. */
export function quantizeQ8_K(x: Float32Array, y: Uint8Array): void {
  const nb = x.length / 256;
  for (let i = 0; i < nb; i++) {
    const o = 256 * i, b = 292 * i;
    let max = 0, amax = 0;
    for (let j = 0; j < 256; j++) {
      const ax = Math.abs(x[o + j]);
      if (ax > amax) {
        amax = ax;
        max = x[o + j];
      }
    }
    if (!amax) {
      y.fill(0, b, b + 292);
      continue;
    }
    const iscale = fr(-127 / max);
    for (let j = 0; j < 256; j++) {
      y[b + 4 + j] = Math.min(127, nearestInt(fr(iscale * x[o + j]))) & 0xff;
    }
    for (let j = 0; j < 16; j++) {
      let sum = 0;
      for (let ii = 0; ii < 16; ii++) sum += (y[b + 4 + 16 * j + ii] << 24) >> 24;
      y[b + 260 + 2 * j] = sum & 0xff;
      y[b + 261 + 2 * j] = (sum >> 8) & 0xff;
    }
    f32[0] = 1 / iscale;
    y.set(f32b, b);
  }
}

/** Dequantize Q8_K blocks. */
export function dequantizeQ8_K(x: Uint8Array, y: Float32Array): void {
  const nb = y.length / 256;
  for (let i = 0; i < nb; i++) {
    const b = 292 * i, o = 256 * i;
    f32b.set(x.subarray(b, b + 4));
    const d = f32[0];
    for (let j = 0; j < 256; j++) y[o + j] = d * ((x[b + 4 + j] << 24) >> 24);
  }
}
