/*
 * Depthwise conv2d (f32, groups == input channels, one input channel per group): each output
 * plane is a sum of KH·KW shifted, scaled rows of one input plane — no column matrix, no GEMM
 * with a single output row. A slot computes whole output planes (n, o); output channel o reads
 * input channel o / mult. 3×3 kernels with stride 1 or 2 keep 4-8 outputs in registers over
 * all taps (dw3_plane; on rows copied into a zero-padded ring: dw3_ring, and at stride 1
 * dw3_ring4 / dw3_ring2, four / two output rows per pass sharing their input loads); other kernels accumulate taps row by row into the output row (in L1),
 * four outputs per f32x4 where the input row is contiguous and the stride is 1, else one by one.
 *
 * ia: 0 C, 1 H, 2 W, 3 KH, 4 KW, 5 OH, 6 OW, 7 sh, 8 sw, 9 pt, 10 pl, 11 dh, 12 dw,
 *     13..16 input strides (n, c, h, w), 17 mult (output channels per input channel),
 *     18 O (output channels), 19 has bias;
 * ptr: 0 out (N, O, OH, OW) contiguous, 1 input, 2 weight (O, 1, KH, KW) contiguous, 3 bias;
 * total = N·O planes.
 */
#include "par.h"
#include <wasm_simd128.h>

static inline v128_t madd(v128_t acc, v128_t a, v128_t b) {
#ifdef __wasm_relaxed_simd__
  return __builtin_wasm_relaxed_madd_f32x4(a, b, acc);
#else
  return wasm_f32x4_add(acc, wasm_f32x4_mul(a, b));
#endif
}

/* One output element of a 3×3 plane by taps checked one by one (the border columns). */
static inline float dw3_at(const float *src, const float *w, float b, int32_t H, int32_t W,
                           int32_t xh, int32_t ih0, int32_t iw0) {
  float acc = b;
  for (int32_t kh = 0; kh < 3; kh++) {
    const int32_t ih = ih0 + kh;
    if (ih < 0 || ih >= H) continue;
    const float *row = src + (int64_t)ih * xh;
    for (int32_t kw = 0; kw < 3; kw++) {
      const int32_t iw = iw0 + kw;
      if (iw >= 0 && iw < W) acc += w[kh * 3 + kw] * row[iw];
    }
  }
  return acc;
}

/*
 * A 3×3 plane, stride 1 or 2, no dilation, rows contiguous: the outputs whose three columns are
 * inside the row (all but one or two at each border) in registers, 8 (stride 1) or 4 (stride 2)
 * at a time, summing the taps of each valid row in the order of the generic loop (bias, then
 * row by row, left to right); rows outside the input are skipped, never multiplied by zero (a
 * NaN or infinity in the input stays where the reference puts it). Stride 2 splits even and odd
 * columns with shuffles; no load reaches past the last element a tap reads.
 */
static void dw3_plane(float *dst, const float *src, const float *w, float b, int32_t H,
                      int32_t W, int32_t OH, int32_t OW, int32_t st, int32_t pt, int32_t pl,
                      int32_t xh) {
  /* interior columns [c0, c1): 0 <= ow*st - pl and ow*st - pl + 2 <= W - 1 */
  int32_t c0 = (pl + st - 1) / st;
  int32_t c1 = W - 3 + pl < 0 ? 0 : (W - 3 + pl) / st + 1;
  if (c1 > OW) c1 = OW;
  if (c0 > c1) c0 = c1;
  const v128_t vb = wasm_f32x4_splat(b);
  for (int32_t oh = 0; oh < OH; oh++) {
    float *orow = dst + (int64_t)oh * OW;
    const int32_t ih0 = oh * st - pt;
    const float *rows[3];
    v128_t w0[3], w1[3], w2[3];
    int32_t nr = 0;
    for (int32_t kh = 0; kh < 3; kh++) {
      const int32_t ih = ih0 + kh;
      if (ih < 0 || ih >= H) continue;
      rows[nr] = src + (int64_t)ih * xh - pl;
      w0[nr] = wasm_f32x4_splat(w[kh * 3]);
      w1[nr] = wasm_f32x4_splat(w[kh * 3 + 1]);
      w2[nr] = wasm_f32x4_splat(w[kh * 3 + 2]);
      nr++;
    }
    for (int32_t ow = 0; ow < c0; ow++) orow[ow] = dw3_at(src, w, b, H, W, xh, ih0, ow * st - pl);
    int32_t ow = c0;
    if (st == 1) {
      for (; ow + 8 <= c1; ow += 8) {
        v128_t a0 = vb, a1 = vb;
        for (int32_t r = 0; r < nr; r++) {
          const float *p = rows[r] + ow;
          a0 = madd(a0, w0[r], wasm_v128_load(p));
          a1 = madd(a1, w0[r], wasm_v128_load(p + 4));
          a0 = madd(a0, w1[r], wasm_v128_load(p + 1));
          a1 = madd(a1, w1[r], wasm_v128_load(p + 5));
          a0 = madd(a0, w2[r], wasm_v128_load(p + 2));
          a1 = madd(a1, w2[r], wasm_v128_load(p + 6));
        }
        wasm_v128_store(orow + ow, a0);
        wasm_v128_store(orow + ow + 4, a1);
      }
      for (; ow + 4 <= c1; ow += 4) {
        v128_t a0 = vb;
        for (int32_t r = 0; r < nr; r++) {
          const float *p = rows[r] + ow;
          a0 = madd(a0, w0[r], wasm_v128_load(p));
          a0 = madd(a0, w1[r], wasm_v128_load(p + 1));
          a0 = madd(a0, w2[r], wasm_v128_load(p + 2));
        }
        wasm_v128_store(orow + ow, a0);
      }
    } else if (st == 2) {
      for (; ow + 4 <= c1; ow += 4) {
        v128_t a0 = vb;
        for (int32_t r = 0; r < nr; r++) {
          const float *p = rows[r] + 2 * ow;
          const v128_t lo = wasm_v128_load(p), hi = wasm_v128_load(p + 4);
          const v128_t ev = wasm_i32x4_shuffle(lo, hi, 0, 2, 4, 6);
          const v128_t od = wasm_i32x4_shuffle(lo, hi, 1, 3, 5, 7);
          const v128_t e2 = wasm_f32x4_replace_lane(wasm_i32x4_shuffle(lo, hi, 2, 4, 6, 6), 3, p[8]);
          a0 = madd(a0, w0[r], ev);
          a0 = madd(a0, w1[r], od);
          a0 = madd(a0, w2[r], e2);
        }
        wasm_v128_store(orow + ow, a0);
      }
    }
    for (; ow < OW; ow++) orow[ow] = dw3_at(src, w, b, H, W, xh, ih0, ow * st - pl);
  }
}

/* Widest padded row kept on the stack by dw3_ring (three rows: 12 KiB). */
#define RING_W 1024

/* The four outputs at padded-row position p (stride 1: p..p+5 read; stride 2: p..p+8). */
static inline v128_t dw3_quad(const float *const *rows, const v128_t *w0, const v128_t *w1,
                              const v128_t *w2, int32_t nr, v128_t acc, int32_t st, int32_t p) {
  for (int32_t r = 0; r < nr; r++) {
    const float *q = rows[r] + p;
    if (st == 1) {
      acc = madd(acc, w0[r], wasm_v128_load(q));
      acc = madd(acc, w1[r], wasm_v128_load(q + 1));
      acc = madd(acc, w2[r], wasm_v128_load(q + 2));
    } else {
      const v128_t lo = wasm_v128_load(q), hi = wasm_v128_load(q + 4);
      acc = madd(acc, w0[r], wasm_i32x4_shuffle(lo, hi, 0, 2, 4, 6));
      acc = madd(acc, w1[r], wasm_i32x4_shuffle(lo, hi, 1, 3, 5, 7));
      acc = madd(acc, w2[r],
                 wasm_f32x4_replace_lane(wasm_i32x4_shuffle(lo, hi, 2, 4, 6, 6), 3, q[8]));
    }
  }
  return acc;
}

/*
 * dw3_plane for planes up to RING_W padded columns and finite weights: each input row the
 * outputs read is copied once into a ring of three zero-padded rows, so every output (borders
 * included) is a SIMD lane and no tap is checked. Padded columns contribute 0·w = 0 (hence
 * finite weights only); rows outside the input are still skipped.
 */
static void dw3_ring(float *dst, const float *src, const float *w, float b, int32_t H,
                     int32_t W, int32_t OH, int32_t OW, int32_t st, int32_t pt, int32_t pl,
                     int32_t xh, int32_t PW) {
  float ring[3][RING_W];
  int32_t tag[3] = {-1, -1, -1};
  const v128_t vb = wasm_f32x4_splat(b);
  for (int32_t oh = 0; oh < OH; oh++) {
    float *orow = dst + (int64_t)oh * OW;
    const float *rows[3];
    v128_t w0[3], w1[3], w2[3];
    int32_t nr = 0;
    for (int32_t kh = 0; kh < 3; kh++) {
      const int32_t ih = oh * st - pt + kh;
      if (ih < 0 || ih >= H) continue;
      float *slot = ring[ih % 3];
      if (tag[ih % 3] != ih) {
        const float *in = src + (int64_t)ih * xh;
        for (int32_t i = 0; i < pl; i++) slot[i] = 0.0f;
        for (int32_t i = 0; i < W; i++) slot[pl + i] = in[i];
        for (int32_t i = pl + W; i < PW; i++) slot[i] = 0.0f;
        tag[ih % 3] = ih;
      }
      rows[nr] = slot;
      w0[nr] = wasm_f32x4_splat(w[kh * 3]);
      w1[nr] = wasm_f32x4_splat(w[kh * 3 + 1]);
      w2[nr] = wasm_f32x4_splat(w[kh * 3 + 2]);
      nr++;
    }
    int32_t ow = 0;
    /* Independent sums in flight (4 at stride 1, 2 at stride 2): one chain of 9 dependent
       multiply-adds is bound by their latency, not by throughput. Loads stay inside the
       padded row (PW columns). */
    if (st == 1) {
      for (; ow + 16 <= OW; ow += 16) {
        v128_t a0 = vb, a1 = vb, a2 = vb, a3 = vb;
        for (int32_t r = 0; r < nr; r++) {
          const float *q = rows[r] + ow;
          const v128_t k[3] = {w0[r], w1[r], w2[r]};
          for (int32_t kw = 0; kw < 3; kw++) {
            a0 = madd(a0, k[kw], wasm_v128_load(q + kw));
            a1 = madd(a1, k[kw], wasm_v128_load(q + 4 + kw));
            a2 = madd(a2, k[kw], wasm_v128_load(q + 8 + kw));
            a3 = madd(a3, k[kw], wasm_v128_load(q + 12 + kw));
          }
        }
        wasm_v128_store(orow + ow, a0);
        wasm_v128_store(orow + ow + 4, a1);
        wasm_v128_store(orow + ow + 8, a2);
        wasm_v128_store(orow + ow + 12, a3);
      }
    } else {
      for (; ow + 8 <= OW; ow += 8) {
        v128_t a0 = vb, a1 = vb;
        for (int32_t r = 0; r < nr; r++) {
          const float *q = rows[r] + 2 * ow;
          const v128_t l0 = wasm_v128_load(q), h0 = wasm_v128_load(q + 4);
          const v128_t l1 = wasm_v128_load(q + 8), h1 = wasm_v128_load(q + 12);
          a0 = madd(a0, w0[r], wasm_i32x4_shuffle(l0, h0, 0, 2, 4, 6));
          a1 = madd(a1, w0[r], wasm_i32x4_shuffle(l1, h1, 0, 2, 4, 6));
          a0 = madd(a0, w1[r], wasm_i32x4_shuffle(l0, h0, 1, 3, 5, 7));
          a1 = madd(a1, w1[r], wasm_i32x4_shuffle(l1, h1, 1, 3, 5, 7));
          /* columns 2, 4, 6, 8 (and 10 … 16): shifted loads, inside the padded row */
          const v128_t l2 = wasm_v128_load(q + 2), h2 = wasm_v128_load(q + 6);
          const v128_t l3 = wasm_v128_load(q + 10), h3 = wasm_v128_load(q + 14);
          a0 = madd(a0, w2[r], wasm_i32x4_shuffle(l2, h2, 0, 2, 4, 6));
          a1 = madd(a1, w2[r], wasm_i32x4_shuffle(l3, h3, 0, 2, 4, 6));
        }
        wasm_v128_store(orow + ow, a0);
        wasm_v128_store(orow + ow + 4, a1);
      }
    }
    for (; ow < OW; ow += 4) {
      const v128_t a = dw3_quad(rows, w0, w1, w2, nr, vb, st, ow * st);
      if (ow + 4 <= OW) {
        wasm_v128_store(orow + ow, a);
      } else {
        float t[4];
        wasm_v128_store(t, a);
        for (int32_t i = 0; ow + i < OW; i++) orow[ow + i] = t[i];
      }
    }
  }
}

/*
 * dw3_ring at stride 1, two output rows per pass: rows oh and oh + 1 read input rows
 * oh − pt … oh − pt + 3, so each loaded input vector feeds both (24 loads per 16 outputs
 * instead of 36). Rows outside the input read a zero row (finite weights: 0·w adds 0, as
 * skipping them does); sums run in the same order as dw3_ring's.
 */
static void dw3_ring2(float *dst, const float *src, const float *w, float b, int32_t H,
                      int32_t W, int32_t OH, int32_t OW, int32_t pt, int32_t pl, int32_t xh,
                      int32_t PW) {
  float ring[5][RING_W];
  int32_t tag[4] = {-1, -1, -1, -1};
  float *zero = ring[4];
  for (int32_t i = 0; i < PW; i++) zero[i] = 0.0f;
  const v128_t vb = wasm_f32x4_splat(b);
  v128_t k[9];
  for (int32_t i = 0; i < 9; i++) k[i] = wasm_f32x4_splat(w[i]);
  for (int32_t oh = 0; oh < OH; oh += 2) {
    const int32_t two = oh + 1 < OH;
    const float *r[4];
    for (int32_t j = 0; j < 4; j++) {
      const int32_t ih = oh - pt + j;
      if (ih < 0 || ih >= H || (j == 3 && !two)) {
        r[j] = zero;
        continue;
      }
      float *slot = ring[ih & 3];
      if (tag[ih & 3] != ih) {
        const float *in = src + (int64_t)ih * xh;
        for (int32_t i = 0; i < pl; i++) slot[i] = 0.0f;
        for (int32_t i = 0; i < W; i++) slot[pl + i] = in[i];
        for (int32_t i = pl + W; i < PW; i++) slot[i] = 0.0f;
        tag[ih & 3] = ih;
      }
      r[j] = slot;
    }
    float *oa = dst + (int64_t)oh * OW, *ob = oa + OW;
    for (int32_t ow = 0; ow < OW; ow += 8) {
      v128_t a0 = vb, a1 = vb, b0 = vb, b1 = vb;
      for (int32_t j = 0; j < 4; j++) {
        const float *q = r[j] + ow;
        for (int32_t s = 0; s < 3; s++) {
          const v128_t x0 = wasm_v128_load(q + s), x1 = wasm_v128_load(q + 4 + s);
          if (j < 3) {
            a0 = madd(a0, k[j * 3 + s], x0);
            a1 = madd(a1, k[j * 3 + s], x1);
          }
          if (j > 0) {
            b0 = madd(b0, k[(j - 1) * 3 + s], x0);
            b1 = madd(b1, k[(j - 1) * 3 + s], x1);
          }
        }
      }
      if (ow + 8 <= OW) {
        wasm_v128_store(oa + ow, a0);
        wasm_v128_store(oa + ow + 4, a1);
        if (two) {
          wasm_v128_store(ob + ow, b0);
          wasm_v128_store(ob + ow + 4, b1);
        }
      } else {
        float ta[8], tb[8];
        wasm_v128_store(ta, a0);
        wasm_v128_store(ta + 4, a1);
        wasm_v128_store(tb, b0);
        wasm_v128_store(tb + 4, b1);
        for (int32_t i = 0; ow + i < OW; i++) {
          oa[ow + i] = ta[i];
          if (two) ob[ow + i] = tb[i];
        }
      }
    }
  }
}

/* Widest padded row of dw3_ring4 (nine rows on the stack: 18 KiB). */
#define RING4_W 512

/*
 * dw3_ring2 with four output rows per pass, one f32x4 of each (four sums, nine weights and
 * the loaded vector stay in registers): six input rows feed four output rows, 18 loads per 16
 * outputs. Same zero rows and summation order as dw3_ring2.
 */
static void dw3_ring4(float *dst, const float *src, const float *w, float b, int32_t H,
                      int32_t W, int32_t OH, int32_t OW, int32_t pt, int32_t pl, int32_t xh,
                      int32_t PW) {
  float ring[9][RING4_W];
  int32_t tag[8] = {-1, -1, -1, -1, -1, -1, -1, -1};
  float *zero = ring[8];
  for (int32_t i = 0; i < PW; i++) zero[i] = 0.0f;
  const v128_t vb = wasm_f32x4_splat(b);
  v128_t k[9];
  for (int32_t i = 0; i < 9; i++) k[i] = wasm_f32x4_splat(w[i]);
  for (int32_t oh = 0; oh < OH; oh += 4) {
    const int32_t nrow = OH - oh < 4 ? OH - oh : 4;
    const float *r[6];
    for (int32_t j = 0; j < 6; j++) {
      const int32_t ih = oh - pt + j;
      if (ih < 0 || ih >= H || j >= nrow + 2) {
        r[j] = zero;
        continue;
      }
      float *slot = ring[ih & 7];
      if (tag[ih & 7] != ih) {
        const float *in = src + (int64_t)ih * xh;
        for (int32_t i = 0; i < pl; i++) slot[i] = 0.0f;
        for (int32_t i = 0; i < W; i++) slot[pl + i] = in[i];
        for (int32_t i = pl + W; i < PW; i++) slot[i] = 0.0f;
        tag[ih & 7] = ih;
      }
      r[j] = slot;
    }
    float *o0 = dst + (int64_t)oh * OW;
    for (int32_t ow = 0; ow < OW; ow += 4) {
      v128_t a0 = vb, a1 = vb, a2 = vb, a3 = vb;
      for (int32_t j = 0; j < 6; j++) {
        const float *q = r[j] + ow;
        for (int32_t s = 0; s < 3; s++) {
          const v128_t x = wasm_v128_load(q + s);
          if (j < 3) a0 = madd(a0, k[j * 3 + s], x);
          if (j >= 1 && j < 4) a1 = madd(a1, k[(j - 1) * 3 + s], x);
          if (j >= 2 && j < 5) a2 = madd(a2, k[(j - 2) * 3 + s], x);
          if (j >= 3) a3 = madd(a3, k[(j - 3) * 3 + s], x);
        }
      }
      const v128_t acc[4] = {a0, a1, a2, a3};
      for (int32_t i = 0; i < nrow; i++) {
        float *o = o0 + (int64_t)i * OW + ow;
        if (ow + 4 <= OW) {
          wasm_v128_store(o, acc[i]);
        } else {
          float t[4];
          wasm_v128_store(t, acc[i]);
          for (int32_t c = 0; ow + c < OW; c++) o[c] = t[c];
        }
      }
    }
  }
}

void convdw_slot(pjob_t *job, int32_t s) {
  SLOT_RANGE(job->total, s, job->nslots, lo, hi);
  const int32_t *a = job->ia;
  const int32_t H = a[1], W = a[2], KH = a[3], KW = a[4], OH = a[5], OW = a[6];
  const int32_t sh = a[7], sw = a[8], pt = a[9], pl = a[10], dh = a[11], dw = a[12];
  const int32_t xn = a[13], xc = a[14], xh = a[15], xw = a[16], mult = a[17], O = a[18];
  const int32_t has_bias = a[19];
  float *out = (float *)(uintptr_t)job->ptr[0];
  const float *x = (const float *)(uintptr_t)job->ptr[1];
  const float *wt = (const float *)(uintptr_t)job->ptr[2];
  const float *bias = (const float *)(uintptr_t)job->ptr[3];
  for (int32_t p = lo; p < hi; p++) {
    const int32_t n = p / O, o = p % O, c = o / mult;
    const float *src = x + (int64_t)n * xn + (int64_t)c * xc;
    const float *w = wt + (int64_t)o * KH * KW;
    const float b = has_bias ? bias[o] : 0.0f;
    float *dst = out + (int64_t)p * OH * OW;
    if (KH == 3 && KW == 3 && dh == 1 && dw == 1 && xw == 1 && sh == sw && (sh == 1 || sh == 2)) {
      /* Padded row width: the last quad reads up to (OW + 3)·st + 8 - 3 columns. */
      const int32_t PW = (OW + 4) * sh + 8;
      int32_t finite = 1;
      for (int32_t i = 0; i < 9; i++) finite &= (w[i] - w[i]) == 0.0f;
      if (PW <= RING4_W && PW >= pl + W && finite && sh == 1)
        dw3_ring4(dst, src, w, b, H, W, OH, OW, pt, pl, xh, PW);
      else if (PW <= RING_W && PW >= pl + W && finite && sh == 1)
        dw3_ring2(dst, src, w, b, H, W, OH, OW, pt, pl, xh, PW);
      else if (PW <= RING_W && PW >= pl + W && finite)
        dw3_ring(dst, src, w, b, H, W, OH, OW, sh, pt, pl, xh, PW);
      else
        dw3_plane(dst, src, w, b, H, W, OH, OW, sh, pt, pl, xh);
      continue;
    }
    for (int32_t oh = 0; oh < OH; oh++) {
      float *orow = dst + (int64_t)oh * OW;
      for (int32_t ow = 0; ow < OW; ow++) orow[ow] = b;
      for (int32_t kh = 0; kh < KH; kh++) {
        const int32_t ih = oh * sh - pt + kh * dh;
        if (ih < 0 || ih >= H) continue;
        const float *row = src + (int64_t)ih * xh;
        for (int32_t kw = 0; kw < KW; kw++) {
          const float wv = w[kh * KW + kw];
          /* ow range whose tap is inside: 0 <= ow*sw + t < W */
          const int32_t t = kw * dw - pl;
          int32_t ow0 = t >= 0 ? 0 : (-t + sw - 1) / sw;
          int32_t ow1 = W - 1 - t < 0 ? 0 : (W - 1 - t) / sw + 1;
          if (ow1 > OW) ow1 = OW;
          if (ow0 >= ow1) continue;
          int32_t ow = ow0;
          if (sw == 1 && xw == 1) {
            const v128_t vw = wasm_f32x4_splat(wv);
            const float *r = row + t;
            for (; ow + 4 <= ow1; ow += 4) {
              v128_t acc = wasm_v128_load(orow + ow);
              acc = madd(acc, vw, wasm_v128_load(r + ow));
              wasm_v128_store(orow + ow, acc);
            }
            for (; ow < ow1; ow++) orow[ow] += wv * r[ow];
          } else {
            for (; ow < ow1; ow++) orow[ow] += wv * row[(int64_t)(ow * sw + t) * xw];
          }
        }
      }
    }
  }
}
