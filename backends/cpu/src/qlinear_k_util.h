/*
 * Helpers shared by qlinear_k.c (integer "ggml" kernels) and qlinear_k_f32.c ("f32" mode
 * decoders): the K-quants' scale unpacking, f16 scales, IQ4's table, f32 lane sums.
 */
#ifndef APRENDER_QLINEAR_K_UTIL_H
#define APRENDER_QLINEAR_K_UTIL_H
#include "qlinear_k.h"
#include "half.h"
#include "simd_dot.h"


/* ggml's kvalues_iq4nl. */
static const int8_t IQ4NL[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                 1,    13,   25,  38,  53,  69,  89,  113};

INLINE float h2f(const uint8_t *p) {
  return bits_f32(half_to_float_bits((uint32_t)p[0] | ((uint32_t)p[1] << 8)));
}


/* Q4_K/Q5_K's 6-bit scale and min of sub-block j (ggml's get_scale_min_k4). */
INLINE void scale_min_k4(int j, const uint8_t *q, int32_t *sc, int32_t *mn) {
  if (j < 4) {
    *sc = q[j] & 63;
    *mn = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4);
    *mn = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

/* Q3_K's signed 6-bit scale j (bias 32 removed). */
INLINE int32_t scale_q3(const uint8_t *s, int j) {
  const int32_t low = j < 8 ? s[j] & 0xf : s[j - 8] >> 4;
  return (low | (((s[8 + (j % 4)] >> (2 * (j >> 2))) & 3) << 4)) - 32;
}

#endif
