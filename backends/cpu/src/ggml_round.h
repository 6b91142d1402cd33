/*
 * ggml's two float → integer roundings, bit for bit, shared by the quantizers (quantize.c) and
 * the quantized-linear kernel's activation quantizers (qlinear_quant.h).
 */
#ifndef APRENDER_GGML_ROUND_H
#define APRENDER_GGML_ROUND_H
#include "half.h"

/* ggml's nearest_int: round half to even through 1.5 * 2^23, bit for bit (any input). */
INLINE int32_t nearest_int(float f) {
  return (int32_t)(f32_bits(f + 12582912.f) & 0x007fffffu) - 0x00400000;
}
/* C's roundf: halves away from zero (x - trunc(x) is exact). */
INLINE float round_away(float f) {
  const float t = __builtin_truncf(f);
  return __builtin_fabsf(f - t) >= 0.5f ? t + __builtin_copysignf(1.f, f) : t;
}
#endif
