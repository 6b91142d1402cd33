/*
 * f16 <-> f32 and f32 -> bf16 conversions of single values on their bits, branch-free on 32-bit
 * integers (clang vectorizes loops of them into SIMD128): convert.c's array conversions and the
 * block quantizers' f16 scales (quantize.c) share them.
 */
#ifndef APRENDER_HALF_H
#define APRENDER_HALF_H
#include "rt.h"

INLINE uint32_t f32_bits(float f) { return __builtin_bit_cast(uint32_t, f); }
INLINE float bits_f32(uint32_t u) { return __builtin_bit_cast(float, u); }

INLINE uint32_t half_to_float_bits(uint32_t h) {
  const uint32_t sign = (h & 0x8000u) << 16;
  const uint32_t em = h & 0x7fffu;
  /* Exponent and mantissa moved into place read as an f32 2^112 too small: scaling by 2^112
     rebiases normals and normalizes subnormals exactly. */
  const uint32_t finite = f32_bits(bits_f32(em << 13) * 0x1p112f);
  const uint32_t special = 0x7f800000u | ((em & 0x3ffu) << 13); /* inf / NaN (payload kept) */
  return (em >= 0x7c00u ? special : finite) | sign;
}

INLINE uint32_t float_bits_to_half(uint32_t x) {
  /* After F. Giesen's float_to_half_fast3_rtne. */
  const uint32_t sign = x & 0x80000000u;
  x ^= sign;
  const uint32_t big = x > 0x7f800000u ? 0x7e00u : 0x7c00u; /* NaN -> quiet NaN, else inf */
  /* Below 2^-14 the result is subnormal: adding 0.5 aligns the mantissa, rounding to even. */
  const uint32_t sub = f32_bits(bits_f32(x) + 0.5f) - 0x3f000000u;
  const uint32_t odd = (x >> 13) & 1u;
  const uint32_t norm = (x + ((uint32_t)(15 - 127) << 23) + 0xfffu + odd) >> 13;
  const uint32_t h = x >= 0x47800000u ? big : (x < 0x38800000u ? sub : norm);
  return h | (sign >> 16);
}

INLINE uint32_t float_bits_to_bf16(uint32_t u) {
  const uint32_t nan = (u >> 16) | 0x40u; /* keep sign, force a quiet NaN */
  const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  return (u & 0x7fffffffu) > 0x7f800000u ? nan : rounded;
}

#endif
