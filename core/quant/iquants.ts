/**
 * ggml's "i-quants": lattice codebooks IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ1_M
 * (decode only: their quantizers need llama.cpp's neighbour search and an importance matrix) and
 * the non-linear 4-bit IQ4_NL / IQ4_XS (decode and the reference quantizers, no importance
 * matrix). Layouts as in `ggml-common.h`.
 *
 * @module
 */
import { halfTable, writeHalf } from "./half.ts";
import { iq1sGrid, iq2sGrid, iq2xsGrid, iq2xxsGrid, iq3sGrid, iq3xxsGrid } from "./grids.ts";
import { GROUP_MAX_EPS, nearestInt } from "./kfit.ts";

const fr = Math.fround;

/** ggml's `ksigns_iq2xs`: seven sign bits plus an eighth that makes the count even. */
const KSIGNS = new Uint8Array(128);
for (let i = 0; i < 128; i++) {
  let p = 0;
  for (let b = i; b; b >>= 1) p ^= b & 1;
  KSIGNS[i] = i | (p << 7);
}

const u16 = (x: Uint8Array, o: number) => x[o] | (x[o + 1] << 8);
const u32 = (x: Uint8Array, o: number) =>
  (x[o] | (x[o + 1] << 8) | (x[o + 2] << 16) | (x[o + 3] << 24)) >>> 0;

/** Write 8 (or `n`) signed grid values `db·g` starting at `y[o]`. */
function put(
  y: Float32Array,
  o: number,
  db: number,
  grid: Uint8Array,
  g: number,
  signs: number,
  n: number,
  bit0: number,
): void {
  for (let j = 0; j < n; j++) {
    const v = fr(db * grid[g + j]);
    y[o + j] = signs & (1 << (bit0 + j)) ? -v : v;
  }
}

/** Dequantize IQ2_XXS blocks (66 bytes per 256). */
export function dequantizeIQ2_XXS(x: Uint8Array, y: Float32Array): void {
  const h = halfTable();
  const nb = y.length / 256;
  for (let i = 0; i < nb; i++) {
    const b = 66 * i;
    let o = 256 * i;
    const d = h[u16(x, b)];
    for (let ib = 0; ib < 8; ib++) {
      const q = b + 2 + 8 * ib;
      const aux1 = u32(x, q + 4);
      const db = fr(fr(d * fr(0.5 + (aux1 >>> 28))) * 0.25);
      for (let l = 0; l < 4; l++) {
        put(y, o, db, iq2xxsGrid, 8 * x[q + l], KSIGNS[(aux1 >>> (7 * l)) & 127], 8, 0);
        o += 8;
      }
    }
  }
}

/** Dequantize IQ2_XS blocks (74 bytes per 256). */
export function dequantizeIQ2_XS(x: Uint8Array, y: Float32Array): void {
  const h = halfTable();
  const nb = y.length / 256;
  for (let i = 0; i < nb; i++) {
    const b = 74 * i;
    let o = 256 * i;
    const d = h[u16(x, b)];
    for (let ib = 0; ib < 8; ib++) {
      const sc = x[b + 66 + ib];
      const db0 = fr(fr(d * fr(0.5 + (sc & 0xf))) * 0.25);
      const db1 = fr(fr(d * fr(0.5 + (sc >> 4))) * 0.25);
      for (let l = 0; l < 4; l++) {
        const q = u16(x, b + 2 + 2 * (4 * ib + l));
        put(y, o, l < 2 ? db0 : db1, iq2xsGrid, 8 * (q & 511), KSIGNS[q >> 9], 8, 0);
        o += 8;
      }
    }
  }
}

/** Dequantize IQ2_S blocks (82 bytes per 256). */
export function dequantizeIQ2_S(x: Uint8Array, y: Float32Array): void {
  const h = halfTable();
  const nb = y.length / 256;
  for (let i = 0; i < nb; i++) {
    const b = 82 * i;
    let o = 256 * i;
    const d = h[u16(x, b)];
    for (let ib = 0; ib < 8; ib++) {
      const sc = x[b + 74 + ib], qh = x[b + 66 + ib];
      const db0 = fr(fr(d * fr(0.5 + (sc & 0xf))) * 0.25);
      const db1 = fr(fr(d * fr(0.5 + (sc >> 4))) * 0.25);
      for (let l = 0; l < 4; l++) {
        const g = x[b + 2 + 4 * ib + l] | ((qh << (8 - 2 * l)) & 0x300);
        put(y, o, l < 2 ? db0 : db1, iq2sGrid, 8 * g, x[b + 34 + 4 * ib + l], 8, 0);
        o += 8;
      }
    }
  }
}

/** Dequantize IQ3_XXS blocks (98 bytes per 256). */
export function dequantizeIQ3_XXS(x: Uint8Array, y: Float32Array): void {
  const h = halfTable();
  const nb = y.length / 256;
  for (let i = 0; i < nb; i++) {
    const b = 98 * i;
    let o = 256 * i;
    const d = h[u16(x, b)];
    for (let ib = 0; ib < 8; ib++) {
      const aux = u32(x, b + 66 + 4 * ib);
      const db = fr(fr(d * fr(0.5 + (aux >>> 28))) * 0.5);
      const q = b + 2 + 8 * ib;
      for (let l = 0; l < 4; l++) {
        const signs = KSIGNS[(aux >>> (7 * l)) & 127];
        put(y, o, db, iq3xxsGrid, 4 * x[q + 2 * l], signs, 4, 0);
        put(y, o + 4, db, iq3xxsGrid, 4 * x[q + 2 * l + 1], signs, 4, 4);
        o += 8;
      }
    }
  }
}

/** Dequantize IQ3_S blocks (110 bytes per 256). */
export function dequantizeIQ3_S(x: Uint8Array, y: Float32Array): void {
  const h = halfTable();
  const nb = y.length / 256;
  for (let i = 0; i < nb; i++) {
    const b = 110 * i;
    let o = 256 * i;
    const d = h[u16(x, b)];
    for (let ib = 0; ib < 8; ib++) {
      const sc = x[b + 106 + (ib >> 1)];
      const db = fr(d * (1 + 2 * (ib & 1 ? sc >> 4 : sc & 0xf)));
      const qh = x[b + 66 + ib], q = b + 2 + 8 * ib, s = b + 74 + 4 * ib;
      for (let l = 0; l < 4; l++) {
        const g1 = x[q + 2 * l] | ((qh << (8 - 2 * l)) & 256);
        const g2 = x[q + 2 * l + 1] | ((qh << (7 - 2 * l)) & 256);
        put(y, o, db, iq3sGrid, 4 * g1, x[s + l], 4, 0);
        put(y, o + 4, db, iq3sGrid, 4 * g2, x[s + l], 4, 4);
        o += 8;
      }
    }
  }
}

const i8 = (v: number) => (v << 24) >> 24;

/** Dequantize IQ1_S blocks (50 bytes per 256). */
export function dequantizeIQ1_S(x: Uint8Array, y: Float32Array): void {
  const h = halfTable();
  const nb = y.length / 256;
  for (let i = 0; i < nb; i++) {
    const b = 50 * i;
    let o = 256 * i;
    const d = h[u16(x, b)];
    for (let ib = 0; ib < 8; ib++) {
      const qh = u16(x, b + 34 + 2 * ib);
      const dl = fr(d * (2 * ((qh >> 12) & 7) + 1));
      const delta = qh & 0x8000 ? -0.125 : 0.125;
      for (let l = 0; l < 4; l++) {
        const g = 8 * (x[b + 2 + 4 * ib + l] | (((qh >> (3 * l)) & 7) << 8));
        for (let j = 0; j < 8; j++) y[o + j] = dl * (i8(iq1sGrid[g + j]) + delta);
        o += 8;
      }
    }
  }
}

/** Dequantize IQ1_M blocks (56 bytes per 256; the f16 scale is spread over the scale nibbles). */
export function dequantizeIQ1_M(x: Uint8Array, y: Float32Array): void {
  const h = halfTable();
  const nb = y.length / 256;
  for (let i = 0; i < nb; i++) {
    const b = 56 * i;
    let o = 256 * i;
    const s0 = u16(x, b + 48), s1 = u16(x, b + 50), s2 = u16(x, b + 52), s3 = u16(x, b + 54);
    const sc = [s0, s1, s2, s3];
    const d = h[(s0 >> 12) | ((s1 >> 8) & 0xf0) | ((s2 >> 4) & 0xf00) | (s3 & 0xf000)];
    for (let ib = 0; ib < 8; ib++) {
      const s = sc[ib >> 1], sh = 6 * (ib % 2);
      const dl1 = fr(d * (2 * ((s >> sh) & 7) + 1));
      const dl2 = fr(d * (2 * ((s >> (sh + 3)) & 7) + 1));
      const qs = b + 4 * ib, qh0 = x[b + 32 + 2 * ib], qh1 = x[b + 33 + 2 * ib];
      const idx = [
        x[qs] | ((qh0 << 8) & 0x700),
        x[qs + 1] | ((qh0 << 4) & 0x700),
        x[qs + 2] | ((qh1 << 8) & 0x700),
        x[qs + 3] | ((qh1 << 4) & 0x700),
      ];
      const delta = [
        qh0 & 0x08 ? -0.125 : 0.125,
        qh0 & 0x80 ? -0.125 : 0.125,
        qh1 & 0x08 ? -0.125 : 0.125,
        qh1 & 0x80 ? -0.125 : 0.125,
      ];
      for (let l = 0; l < 4; l++) {
        const dl = l < 2 ? dl1 : dl2, g = 8 * idx[l];
        for (let j = 0; j < 8; j++) y[o + j] = dl * (i8(iq1sGrid[g + j]) + delta[l]);
        o += 8;
      }
    }
  }
}

/** ggml's `kvalues_iq4nl`: the 16 non-uniform levels of IQ4_NL and IQ4_XS. */
export const IQ4NL_VALUES: Int8Array = Int8Array.from([
  -127,
  -104,
  -83,
  -65,
  -49,
  -35,
  -22,
  -10,
  1,
  13,
  25,
  38,
  53,
  69,
  89,
  113,
]);

/** Dequantize IQ4_NL blocks (18 bytes per 32). */
export function dequantizeIQ4_NL(x: Uint8Array, y: Float32Array): void {
  const h = halfTable();
  const nb = y.length / 32;
  for (let i = 0; i < nb; i++) {
    const b = 18 * i, o = 32 * i;
    const d = h[u16(x, b)];
    for (let j = 0; j < 16; j++) {
      y[o + j] = d * IQ4NL_VALUES[x[b + 2 + j] & 0xf];
      y[o + j + 16] = d * IQ4NL_VALUES[x[b + 2 + j] >> 4];
    }
  }
}

/** Dequantize IQ4_XS blocks (136 bytes per 256). */
export function dequantizeIQ4_XS(x: Uint8Array, y: Float32Array): void {
  const h = halfTable();
  const nb = y.length / 256;
  for (let i = 0; i < nb; i++) {
    const b = 136 * i;
    const d = h[u16(x, b)], sh = u16(x, b + 2);
    for (let ib = 0; ib < 8; ib++) {
      const ls = ((x[b + 4 + (ib >> 1)] >> (4 * (ib % 2))) & 0xf) | (((sh >> (2 * ib)) & 3) << 4);
      const dl = fr(d * (ls - 32));
      const q = b + 8 + 16 * ib, o = 256 * i + 32 * ib;
      for (let j = 0; j < 16; j++) {
        y[o + j] = dl * IQ4NL_VALUES[x[q + j] & 0xf];
        y[o + j + 16] = dl * IQ4NL_VALUES[x[q + j] >> 4];
      }
    }
  }
}

/** ggml's `best_index_int8`: the nearest of the sorted `IQ4NL_VALUES` to `x`. */
function bestIndex(x: number): number {
  const v = IQ4NL_VALUES;
  if (x <= v[0]) return 0;
  if (x >= v[15]) return 15;
  let ml = 0, mu = 15;
  while (mu - ml > 1) {
    const mav = (ml + mu) >> 1;
    if (x < v[mav]) mu = mav;
    else ml = mav;
  }
  return fr(x - v[mu - 1]) < fr(v[mu] - x) ? mu - 1 : mu;
}

const L = new Uint8Array(256);
const W = new Float32Array(32);
const SCALES = new Float32Array(8);

/**
 * `quantize_row_iq4_nl_impl` without importance weights: per-32 scale search over `2·ntry + 1`
 * trial scales, then (for IQ4_XS) 6-bit sub-scales under one f16 super-scale.
 */
function iq4Impl(x: Float32Array, o: number, y: Uint8Array, b: number, xs: boolean, ntry: number) {
  const nsub = xs ? 8 : 1;
  let maxScale = 0, amaxScale = 0;
  for (let ib = 0; ib < nsub; ib++) {
    const xo = o + 32 * ib;
    let amax = 0, max = 0;
    for (let j = 0; j < 32; j++) {
      W[j] = fr(x[xo + j] * x[xo + j]);
      const ax = Math.abs(x[xo + j]);
      if (ax > amax) {
        amax = ax;
        max = x[xo + j];
      }
    }
    if (amax < GROUP_MAX_EPS) {
      SCALES[ib] = 0;
      continue;
    }
    let d = ntry > 0 ? fr(-max / IQ4NL_VALUES[0]) : fr(max / IQ4NL_VALUES[0]);
    let id = fr(1 / d);
    let sumqx = 0, sumq2 = 0;
    for (let j = 0; j < 32; j++) {
      const l = bestIndex(fr(id * x[xo + j]));
      L[32 * ib + j] = l;
      const wq = fr(W[j] * IQ4NL_VALUES[l]);
      sumqx = fr(sumqx + fr(wq * x[xo + j]));
      sumq2 = fr(sumq2 + fr(wq * IQ4NL_VALUES[l]));
    }
    d = sumq2 > 0 ? fr(sumqx / sumq2) : 0;
    let best = fr(d * sumqx);
    for (let itry = -ntry; itry <= ntry; itry++) {
      id = fr((itry + IQ4NL_VALUES[0]) / max);
      sumqx = sumq2 = 0;
      for (let j = 0; j < 32; j++) {
        const q = IQ4NL_VALUES[bestIndex(fr(id * x[xo + j]))];
        const wq = fr(W[j] * q);
        sumqx = fr(sumqx + fr(wq * x[xo + j]));
        sumq2 = fr(sumq2 + fr(wq * q));
      }
      if (sumq2 > 0 && fr(sumqx * sumqx) > fr(best * sumq2)) {
        d = fr(sumqx / sumq2);
        best = fr(d * sumqx);
      }
    }
    SCALES[ib] = d;
    if (Math.abs(d) > amaxScale) {
      amaxScale = Math.abs(d);
      maxScale = d;
    }
  }
  if (xs) {
    y[b + 2] = y[b + 3] = 0;
    const d = fr(-maxScale / 32);
    writeHalf(y, b, d);
    const id = d ? fr(1 / d) : 0;
    for (let ib = 0; ib < 8; ib++) {
      let l = nearestInt(fr(id * SCALES[ib]));
      l = l < -32 ? -32 : l > 31 ? 31 : l;
      const dl = fr(d * l);
      const idl = dl ? fr(1 / dl) : 0;
      for (let j = 0; j < 32; j++) L[32 * ib + j] = bestIndex(fr(idl * x[o + 32 * ib + j]));
      l += 32;
      if (ib % 2 === 0) y[b + 4 + (ib >> 1)] = l & 0xf;
      else y[b + 4 + (ib >> 1)] |= (l & 0xf) << 4;
      const sh = (y[b + 2] | (y[b + 3] << 8)) | ((l >> 4) << (2 * ib));
      y[b + 2] = sh & 0xff;
      y[b + 3] = sh >> 8;
    }
  } else {
    writeHalf(y, b, SCALES[0]);
    if (ntry > 0) {
      const id = SCALES[0] ? fr(1 / SCALES[0]) : 0;
      for (let j = 0; j < 32; j++) L[j] = bestIndex(fr(id * x[o + j]));
    }
  }
  const q = b + (xs ? 8 : 2);
  for (let i = 0; i < 2 * nsub; i += 2) {
    for (let j = 0; j < 16; j++) y[q + 8 * i + j] = L[16 * i + j] | (L[16 * i + 16 + j] << 4);
  }
}

/** IQ4_NL as `quantize_row_iq4_nl_ref` (one scale search, no trial scales). */
export function quantizeIQ4_NL(x: Float32Array, y: Uint8Array): void {
  L.fill(0);
  for (let i = 0; i < x.length / 32; i++) iq4Impl(x, 32 * i, y, 18 * i, false, -1);
}

/** IQ4_XS as `quantize_row_iq4_xs_ref` (15 trial scales per 32, 6-bit sub-scales). */
export function quantizeIQ4_XS(x: Float32Array, y: Uint8Array): void {
  L.fill(0);
  for (let i = 0; i < x.length / 256; i++) iq4Impl(x, 256 * i, y, 136 * i, true, 7);
}
