/*
 * f16 <-> f32 and bf16 <-> f32 conversions over contiguous arrays. Written branch-free on 32-bit
 * integers so that clang vectorizes the loops into SIMD128 (there is no f16 instruction in wasm).
 * f32 -> f16 and f32 -> bf16 round to nearest even; NaNs stay NaNs (quiet), infinities and
 * overflow give infinities, f16 subnormals are exact both ways.
 */
#include "half.h"

EXPORT("f16_to_f32") void f16_to_f32(const uint16_t *restrict src, uint32_t *restrict dst,
                                     uint32_t n) {
  for (uint32_t i = 0; i < n; i++) dst[i] = half_to_float_bits(src[i]);
}

EXPORT("f32_to_f16") void f32_to_f16(const uint32_t *restrict src, uint16_t *restrict dst,
                                     uint32_t n) {
  for (uint32_t i = 0; i < n; i++) dst[i] = (uint16_t)float_bits_to_half(src[i]);
}

EXPORT("bf16_to_f32") void bf16_to_f32(const uint16_t *restrict src, uint32_t *restrict dst,
                                       uint32_t n) {
  for (uint32_t i = 0; i < n; i++) dst[i] = (uint32_t)src[i] << 16;
}

EXPORT("f32_to_bf16") void f32_to_bf16(const uint32_t *restrict src, uint16_t *restrict dst,
                                       uint32_t n) {
  for (uint32_t i = 0; i < n; i++) dst[i] = (uint16_t)float_bits_to_bf16(src[i]);
}
