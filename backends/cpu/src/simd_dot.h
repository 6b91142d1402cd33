/*
 * SIMD helpers shared by the quantLinear kernels (qlinear.c, qlinear_k*.c, qgemm_tile.c,
 * qrepack.c): the f32 FMA, lane sums, the i8 × u7 dot-accumulate, and the f32 row dot whose
 * operation order every "f32"-mode kernel shares (so their results are bit-identical).
 */
#ifndef APRENDER_SIMD_DOT_H
#define APRENDER_SIMD_DOT_H
#include "rt.h"

#ifdef __wasm_relaxed_simd__
#define FMA_F32(a, b, c) __builtin_wasm_relaxed_madd_f32x4((a), (b), (c))
#else
#define FMA_F32(a, b, c) wasm_f32x4_add(wasm_f32x4_mul((a), (b)), (c))
#endif

typedef signed char sd_i8x16 __attribute__((vector_size(16)));

/* Sum of the four f32 lanes, pairwise. */
INLINE float hsum(v128_t v) {
  return (wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1)) +
         (wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3));
}

/* c + the dots of bytes 4l..4l+3 of a (signed) and w (0..127) in lane l. */
INLINE v128_t dpa(v128_t a, v128_t w, v128_t c) {
#ifdef __wasm_relaxed_simd__
  return __builtin_wasm_relaxed_dot_i8x16_i7x16_add_s_i32x4((sd_i8x16)a, (sd_i8x16)w, c);
#else
  const v128_t lo = wasm_i16x8_mul(wasm_i16x8_extend_low_i8x16(a), wasm_u16x8_extend_low_u8x16(w));
  const v128_t hi =
    wasm_i16x8_mul(wasm_i16x8_extend_high_i8x16(a), wasm_u16x8_extend_high_u8x16(w));
  const v128_t x = wasm_i32x4_extadd_pairwise_i16x8(lo), y = wasm_i32x4_extadd_pairwise_i16x8(hi);
  return wasm_i32x4_add(c, wasm_i32x4_add(wasm_i32x4_shuffle(x, y, 0, 2, 4, 6),
                                          wasm_i32x4_shuffle(x, y, 1, 3, 5, 7)));
#endif
}

/* Σ a[i]·b[i] over len f32: four 4-lane chains over 16-element steps, then 4, then scalars. */
__attribute__((noinline, unused)) static float dot_f32(const float *restrict a,
                                                       const float *restrict b, int32_t len) {
  v128_t s0 = wasm_f32x4_splat(0), s1 = s0, s2 = s0, s3 = s0;
  int32_t i = 0;
  for (; i + 16 <= len; i += 16) {
    s0 = FMA_F32(wasm_v128_load(a + i), wasm_v128_load(b + i), s0);
    s1 = FMA_F32(wasm_v128_load(a + i + 4), wasm_v128_load(b + i + 4), s1);
    s2 = FMA_F32(wasm_v128_load(a + i + 8), wasm_v128_load(b + i + 8), s2);
    s3 = FMA_F32(wasm_v128_load(a + i + 12), wasm_v128_load(b + i + 12), s3);
  }
  for (; i + 4 <= len; i += 4) s0 = FMA_F32(wasm_v128_load(a + i), wasm_v128_load(b + i), s0);
  float s = hsum(wasm_f32x4_add(wasm_f32x4_add(s0, s1), wasm_f32x4_add(s2, s3)));
  for (; i < len; i++) s += a[i] * b[i];
  return s;
}
#endif
