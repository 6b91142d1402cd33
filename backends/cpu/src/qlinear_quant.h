/*
 * qlinear.c's activation quantizers (included once, into that translation unit): llama.cpp's
 * quantize_row_q8_0 / quantize_row_q8_K rounding of f32 activations, byte for byte.
 */
#ifndef QLINEAR_QUANT_H
#define QLINEAR_QUANT_H
#include "ggml_round.h"

/* ---- activation quantization (llama.cpp's quantize_row_q8_0 / quantize_row_q8_K) ---- */

/* C's roundf (halves away from zero), then to int8 the way the scalar kernel does (NaN → 0). */
INLINE int32_t round_away_i8(float v) {
  float t = round_away(v);
  if (!(t == t)) return 0;
  t = t < -128.0f ? -128.0f : t > 127.0f ? 127.0f : t;
  return (int32_t)t;
}

/*
 * Quantize m rows of k activations: mode 1 Q8_0 (32-blocks: d = its f16 scale as f32, s = Σq per
 * block), mode 2 Q8_K (256-blocks: d f32, s = Σq per 16), mode 3 Q8_0 with the levels stored as
 * int16 (for Q8_0 weights, whose dots run in 16-bit lanes). qs is m×k int8 (int16 in mode 3).
 */
/* Lane-wise round_away (x − trunc x is exact), as i32 (NaN → 0: trunc_sat). */
INLINE v128_t round_away_i32x4(v128_t v) {
  const v128_t t = wasm_f32x4_trunc(v);
  const v128_t half = wasm_f32x4_ge(wasm_f32x4_abs(wasm_f32x4_sub(v, t)), wasm_f32x4_splat(0.5f));
  const v128_t one = wasm_v128_or(wasm_f32x4_splat(1.0f),
                                  wasm_v128_and(v, wasm_i32x4_splat((int32_t)0x80000000u)));
  return wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_add(t, wasm_v128_and(half, one)));
}

/* Lane-wise max |x| over n floats (n a multiple of 16), skipping NaN like the scalar `a > amax`. */
INLINE float amax_f32(const float *x, int32_t n) {
  v128_t m0 = wasm_f32x4_splat(0), m1 = m0, m2 = m0, m3 = m0;
  for (int32_t j = 0; j < n; j += 16) {
    m0 = wasm_f32x4_pmax(m0, wasm_f32x4_abs(wasm_v128_load(x + j)));
    m1 = wasm_f32x4_pmax(m1, wasm_f32x4_abs(wasm_v128_load(x + j + 4)));
    m2 = wasm_f32x4_pmax(m2, wasm_f32x4_abs(wasm_v128_load(x + j + 8)));
    m3 = wasm_f32x4_pmax(m3, wasm_f32x4_abs(wasm_v128_load(x + j + 12)));
  }
  const v128_t m = wasm_f32x4_pmax(wasm_f32x4_pmax(m0, m1), wasm_f32x4_pmax(m2, m3));
  float r = 0;
  for (int l = 0; l < 4; l++) {
    const float a = l == 0 ? wasm_f32x4_extract_lane(m, 0) : l == 1 ? wasm_f32x4_extract_lane(m, 1)
                  : l == 2 ? wasm_f32x4_extract_lane(m, 2) : wasm_f32x4_extract_lane(m, 3);
    if (a > r) r = a;
  }
  return r;
}

/* Sixteen i32 lanes (four vectors) → sixteen int8 (values within −128..127 after rounding). */
INLINE v128_t narrow16(v128_t a, v128_t b, v128_t c, v128_t e) {
  return wasm_i8x16_narrow_i16x8(wasm_i16x8_narrow_i32x4(a, b), wasm_i16x8_narrow_i32x4(c, e));
}

EXPORT("qlin_quant") void qlin_quant(const float *x, int32_t m, int32_t k, int32_t mode,
                                     int8_t *qs, float *d, int32_t *s) {
  const int32_t total = m * k;
  if (mode == 1) {
    /* SIMD, the same values as the scalar loop below: amax is order-free, round_away lane-wise,
       the saturating narrows clamp to −128..127 as round_away_i8 does */
    for (int32_t b = 0; b < total / 32; b++) {
      const float *xb = x + 32 * b;
      const float dd = amax_f32(xb, 32) / 127.0f;
      const float id = dd != 0 ? 1.0f / dd : 0.0f;
      d[b] = bits_f32(half_to_float_bits(float_bits_to_half(f32_bits(dd))));
      const v128_t vid = wasm_f32x4_splat(id);
      v128_t q[8], sum = wasm_i32x4_splat(0);
      for (int t = 0; t < 8; t++) {
        q[t] = round_away_i32x4(wasm_f32x4_mul(wasm_v128_load(xb + 4 * t), vid));
        q[t] = wasm_i32x4_min(wasm_i32x4_max(q[t], wasm_i32x4_splat(-128)), wasm_i32x4_splat(127));
        sum = wasm_i32x4_add(sum, q[t]);
      }
      wasm_v128_store(qs + 32 * b, narrow16(q[0], q[1], q[2], q[3]));
      wasm_v128_store(qs + 32 * b + 16, narrow16(q[4], q[5], q[6], q[7]));
      s[b] = wasm_i32x4_extract_lane(sum, 0) + wasm_i32x4_extract_lane(sum, 1) +
             wasm_i32x4_extract_lane(sum, 2) + wasm_i32x4_extract_lane(sum, 3);
    }
    return;
  }
  if (mode == 3) {
    int16_t *qs16 = (int16_t *)(void *)qs;
    for (int32_t b = 0; b < total / 32; b++) {
      const float *xb = x + 32 * b;
      float amax = 0;
      for (int32_t j = 0; j < 32; j++) {
        const float a = __builtin_fabsf(xb[j]);
        if (a > amax) amax = a;
      }
      const float dd = amax / 127.0f;
      const float id = dd != 0 ? 1.0f / dd : 0.0f;
      d[b] = bits_f32(half_to_float_bits(float_bits_to_half(f32_bits(dd))));
      int32_t sum = 0;
      for (int32_t j = 0; j < 32; j++) {
        const int32_t q = round_away_i8(xb[j] * id);
        if (mode == 3) qs16[32 * b + j] = (int16_t)q;
        else qs[32 * b + j] = (int8_t)q;
        sum += q;
      }
      s[b] = sum;
    }
    return;
  }
  for (int32_t b = 0; b < total / 256; b++) {
    const float *xb = x + 256 * b;
    /* the first element of the largest |x| (the scalar scan's `max`), found after a SIMD amax */
    const float amax = amax_f32(xb, 256);
    float max = 0;
    for (int32_t j = 0; j < 256; j++)
      if (__builtin_fabsf(xb[j]) == amax) {
        max = xb[j];
        break;
      }
    int8_t *q = qs + 256 * b;
    if (amax == 0) {
      for (int32_t j = 0; j < 256; j++) q[j] = 0;
      for (int32_t j = 0; j < 16; j++) s[16 * b + j] = 0;
      d[b] = 0;
      continue;
    }
    const float iscale = -127.0f / max;
    /* nearest_int lane-wise: ggml's 1.5·2^23 trick, bit for bit */
    const v128_t vs = wasm_f32x4_splat(iscale), magic = wasm_f32x4_splat(12582912.f);
    for (int32_t j = 0; j < 256; j += 16) {
      v128_t l[4];
      for (int t = 0; t < 4; t++) {
        const v128_t f = wasm_f32x4_add(wasm_f32x4_mul(vs, wasm_v128_load(xb + j + 4 * t)), magic);
        l[t] = wasm_i32x4_sub(wasm_v128_and(f, wasm_i32x4_splat(0x007fffff)),
                              wasm_i32x4_splat(0x00400000));
        l[t] = wasm_i32x4_min(l[t], wasm_i32x4_splat(127));
      }
      const v128_t v = narrow16(l[0], l[1], l[2], l[3]);
      wasm_v128_store(q + j, v);
      /* Σ of the 16 levels */
      const v128_t w = wasm_i32x4_extadd_pairwise_i16x8(wasm_i16x8_extadd_pairwise_i8x16(v));
      s[16 * b + j / 16] = wasm_i32x4_extract_lane(w, 0) + wasm_i32x4_extract_lane(w, 1) +
                           wasm_i32x4_extract_lane(w, 2) + wasm_i32x4_extract_lane(w, 3);
    }
    d[b] = 1.0f / iscale;
  }
}

#endif
