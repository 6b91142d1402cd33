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
EXPORT("qlin_quant") void qlin_quant(const float *x, int32_t m, int32_t k, int32_t mode,
                                     int8_t *qs, float *d, int32_t *s) {
  const int32_t total = m * k;
  if (mode == 1 || mode == 3) {
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
    float amax = 0, max = 0;
    for (int32_t j = 0; j < 256; j++) {
      const float a = __builtin_fabsf(xb[j]);
      if (a > amax) {
        amax = a;
        max = xb[j];
      }
    }
    int8_t *q = qs + 256 * b;
    if (amax == 0) {
      for (int32_t j = 0; j < 256; j++) q[j] = 0;
      for (int32_t j = 0; j < 16; j++) s[16 * b + j] = 0;
      d[b] = 0;
      continue;
    }
    const float iscale = -127.0f / max;
    for (int32_t j = 0; j < 256; j++) {
      const int32_t l = nearest_int(iscale * xb[j]);
      q[j] = (int8_t)(l < 127 ? l : 127);
    }
    for (int32_t j = 0; j < 16; j++) {
      int32_t sum = 0;
      for (int32_t t = 0; t < 16; t++) sum += q[16 * j + t];
      s[16 * b + j] = sum;
    }
    d[b] = 1.0f / iscale;
  }
}

#endif
