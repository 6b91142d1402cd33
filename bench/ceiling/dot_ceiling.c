/*
 * WASM int8 dot-product throughput with no memory traffic (bench/dot_ceiling.ts builds and runs
 * it): chains of independent accumulators held in registers for a fixed number of iterations.
 * The inputs come from memory once (the compiler cannot fold them), the loop body only computes.
 */
#include <wasm_simd128.h>
#include <stdint.h>
typedef signed char i8x16 __attribute__((vector_size(16)));
typedef short i16x8 __attribute__((vector_size(16)));
#define EXPORT(n) __attribute__((export_name(n)))

static v128_t in[4];
static v128_t out[16];

EXPORT("buf") void *buf(void) { return in; }
EXPORT("res") void *res(void) { return out; }

/* NACC independent i32x4.relaxed_dot_i8x16_i7x16_add_s chains: 16 MACs each per op. */
#define DOTADD_CHAINS(NAME, NACC)                                                        \
  EXPORT(#NAME) int32_t NAME(int32_t iters) {                                          \
    const v128_t a0 = in[0], a1 = in[1], b0 = in[2], b1 = in[3];                        \
    v128_t acc[NACC];                                                                   \
    for (int j = 0; j < NACC; j++) acc[j] = wasm_i32x4_splat(j);                       \
    for (int32_t i = 0; i < iters; i++) {                                               \
      _Pragma("clang loop unroll(full)") for (int j = 0; j < NACC; j++)                \
        acc[j] = (v128_t)__builtin_wasm_relaxed_dot_i8x16_i7x16_add_s_i32x4(           \
          (i8x16)(j & 1 ? a1 : a0), (i8x16)(j & 2 ? b1 : b0), (v128_t)acc[j]);          \
      __asm__ volatile("" ::: "memory");                                                \
    }                                                                                   \
    v128_t s = acc[0];                                                                  \
    for (int j = 1; j < NACC; j++) s = wasm_i32x4_add(s, acc[j]);                       \
    out[0] = s;                                                                         \
    return wasm_i32x4_extract_lane(s, 0);                                               \
  }
DOTADD_CHAINS(dotadd4, 4)
DOTADD_CHAINS(dotadd8, 8)
DOTADD_CHAINS(dotadd12, 12)

/* The i16 form (pmaddubsw-like) + i16 add, as the current kernels' dot16 pairs: 32 MACs per 3 ops. */
#define DOT16_CHAINS(NAME, NACC)                                                         \
  EXPORT(#NAME) int32_t NAME(int32_t iters) {                                          \
    const v128_t b = in[1], c = in[2];                                                  \
    v128_t acc[NACC];                                                                   \
    for (int j = 0; j < NACC; j++) acc[j] = wasm_i32x4_splat(j);                       \
    for (int32_t i = 0; i < iters; i++) {                                               \
      _Pragma("clang loop unroll(full)") for (int j = 0; j < NACC; j++) {              \
        /* the accumulator as the signed operand: no two chains share a product */      \
        const v128_t p = wasm_i16x8_add(                                                \
          (v128_t)__builtin_wasm_relaxed_dot_i8x16_i7x16_s_i16x8((i8x16)acc[j], (i8x16)b), \
          (v128_t)__builtin_wasm_relaxed_dot_i8x16_i7x16_s_i16x8((i8x16)c, (i8x16)b)); \
        acc[j] = wasm_i32x4_add(acc[j], wasm_i32x4_extadd_pairwise_i16x8(p));           \
      }                                                                                 \
      __asm__ volatile("" ::: "memory");                                                \
    }                                                                                   \
    v128_t s = acc[0];                                                                  \
    for (int j = 1; j < NACC; j++) s = wasm_i32x4_add(s, acc[j]);                       \
    out[0] = s;                                                                         \
    return wasm_i32x4_extract_lane(s, 0);                                               \
  }
DOT16_CHAINS(dot16x8, 8)

/* i32x4.dot_i16x8_s (pmaddwd) chains: 8 MACs per op + add. */
EXPORT("dot_i16") int32_t dot_i16(int32_t iters) {
  const v128_t b = in[1];
  v128_t acc[8];
  for (int j = 0; j < 8; j++) acc[j] = wasm_i32x4_splat(j);
  for (int32_t i = 0; i < iters; i++) {
    _Pragma("clang loop unroll(full)") for (int j = 0; j < 8; j++)
      acc[j] = wasm_i32x4_add(acc[j], wasm_i32x4_dot_i16x8(acc[j], b));
    __asm__ volatile("" ::: "memory");
  }
  v128_t s = acc[0];
  for (int j = 1; j < 8; j++) s = wasm_i32x4_add(s, acc[j]);
  out[0] = s;
  return wasm_i32x4_extract_lane(s, 0);
}
