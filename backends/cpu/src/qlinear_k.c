/*
 * quantLinear (contract: core/ops/quant_linear.ts) for the weight types qlinear.c leaves here:
 * Q2_K, Q3_K, Q5_K and IQ4_XS in both modes, and the "ggml" mode of Q4_1, Q5_0, Q5_1, IQ4_NL.
 *
 * "ggml" mode pairs each weight type with the activation type llama.cpp's CPU path uses
 * (`vec_dot_type`): Q8_1 for Q4_1/Q5_1 (quantized by qlin_quant_q8_1 below), Q8_0 for
 * Q5_0/IQ4_NL and Q8_K for the K-quants and IQ4_XS (qlinear_quant.h's qlin_quant modes 1 and 2).
 * Each block's dot is an exact integer dot (relaxed-SIMD i8·i7 dots where the runtime has them)
 * scaled as ggml's vec_dot kernels scale it, so only the f32 accumulation order differs from
 * llama.cpp's. Signed weight levels (IQ4's table) are multiplied as |w|·(a·sign w), which keeps
 * the unsigned operand in 0..127.
 *
 * "f32" mode (qlinear_k_f32.c) decodes a weight row in chunks to f32 (value for value as
 * core/quant) and dots it with the activations in f32 SIMD lanes.
 *
 * A slot is a range of weight rows; each weight row's blocks are unpacked once for up to QK_R
 * activation rows, as in qlinear.c.
 */
#include "qlinear_k_util.h"
#include "ggml_round.h"

#pragma STDC FP_CONTRACT OFF

typedef signed char qk_i8x16 __attribute__((vector_size(16)));

/* Byte shifts with a mask, through 16-bit lanes (see qlinear.c). */
#define SHR_MASK(v, n, m) wasm_v128_and(wasm_u16x8_shr((v), (n)), wasm_i8x16_splat(m))
#define SHL_MASK(v, n, m) wasm_v128_and(wasm_i16x8_shl((v), (n)), wasm_i8x16_splat(m))

enum { QT_Q4_1 = 7, QT_Q5_0 = 8, QT_Q5_1 = 9, QT_IQ4_NL = 10 };
#define QK_R 4

/* i16x8 lanes summing to Σ a[t]·b[t]: a signed (|a| ≤ 127), b in 0..127 (two products a lane). */
INLINE v128_t dot16(v128_t a, v128_t b) {
#ifdef __wasm_relaxed_simd__
  return (v128_t)__builtin_wasm_relaxed_dot_i8x16_i7x16_s_i16x8((qk_i8x16)a, (qk_i8x16)b);
#else
  const v128_t lo = wasm_i16x8_mul(wasm_i16x8_extend_low_i8x16(a), wasm_u16x8_extend_low_u8x16(b));
  const v128_t hi =
    wasm_i16x8_mul(wasm_i16x8_extend_high_i8x16(a), wasm_u16x8_extend_high_u8x16(b));
  return wasm_i16x8_add(lo, hi);
#endif
}

/* a with the sign of each lane flipped where neg is all ones (a ≠ −128). */
INLINE v128_t flip(v128_t a, v128_t neg) { return wasm_i8x16_sub(wasm_v128_xor(a, neg), neg); }

/* Four halves (the low 16 bits of each i32 lane) as f32, exactly: half.h's conversion in lanes. */
INLINE v128_t h2f_x4(v128_t h) {
  const v128_t em = wasm_v128_and(h, wasm_i32x4_splat(0x7fff));
  const v128_t sign = wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_splat(0x8000)), 16);
  const v128_t fin = wasm_f32x4_mul(wasm_i32x4_shl(em, 13), wasm_f32x4_splat(0x1p112f));
  const v128_t spec = wasm_v128_or(wasm_i32x4_splat(0x7f800000),
                                   wasm_i32x4_shl(wasm_v128_and(em, wasm_i32x4_splat(0x3ff)), 13));
  const v128_t big = wasm_i32x4_ge(em, wasm_i32x4_splat(0x7c00));
  return wasm_v128_or(wasm_v128_bitselect(spec, fin, big), sign);
}

INLINE uint32_t load_u32(const uint8_t *p) {
  uint32_t v;
  __builtin_memcpy(&v, p, 4);
  return v;
}


INLINE int32_t hsum_i32(v128_t v) {
  return wasm_i32x4_extract_lane(v, 0) + wasm_i32x4_extract_lane(v, 1) +
         wasm_i32x4_extract_lane(v, 2) + wasm_i32x4_extract_lane(v, 3);
}

/* [Σ v0, Σ v1, Σ v2, Σ v3] for four i32x4 vectors. */
INLINE v128_t hsum4_i32(v128_t v0, v128_t v1, v128_t v2, v128_t v3) {
  const v128_t a =
    wasm_i32x4_add(wasm_i32x4_shuffle(v0, v1, 0, 4, 2, 6), wasm_i32x4_shuffle(v0, v1, 1, 5, 3, 7));
  const v128_t b =
    wasm_i32x4_add(wasm_i32x4_shuffle(v2, v3, 0, 4, 2, 6), wasm_i32x4_shuffle(v2, v3, 1, 5, 3, 7));
  return wasm_i32x4_add(wasm_i32x4_shuffle(a, b, 0, 1, 4, 5), wasm_i32x4_shuffle(a, b, 2, 3, 6, 7));
}

/* |kvalues_iq4nl|: the unsigned operand of the IQ4 dots. */
#define IQ4_ABS wasm_i8x16_make(127, 104, 83, 65, 49, 35, 22, 10, 1, 13, 25, 38, 53, 69, 89, 113)

/* Quantized activations: row r's levels at qs + r·k, block scales at d + r·nd, sums at s + r·ns. */
typedef struct {
  const int8_t *qs;
  const float *d;
  const int32_t *s; /* Σ levels per block (Q8_0) or per 16 (Q8_K); for Q8_1 the f32 bits of s */
  int32_t k, nd, ns;
} kacts_t;

/* ---- 32-element blocks: Q4_1, Q5_1 (× Q8_1), Q5_0, IQ4_NL (× Q8_0) ---- */

/* Bit e of the 32-bit qh as 0x10 in byte e of [lo (e < 16), hi]. */
INLINE void q5_high(const uint8_t *p, v128_t *lo, v128_t *hi) {
  uint32_t qh;
  __builtin_memcpy(&qh, p, 4);
  const v128_t v = wasm_i32x4_splat((int32_t)qh);
  const v128_t bit = wasm_i8x16_make(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128);
  const v128_t b0 =
    wasm_i8x16_swizzle(v, wasm_i8x16_make(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1));
  const v128_t b1 =
    wasm_i8x16_swizzle(v, wasm_i8x16_make(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
  const v128_t x10 = wasm_i8x16_splat(0x10);
  *lo = wasm_v128_and(wasm_i8x16_eq(wasm_v128_and(b0, bit), bit), x10);
  *hi = wasm_v128_and(wasm_i8x16_eq(wasm_v128_and(b1, bit), bit), x10);
}

/* Block layout: bytes per block, offset of the nibbles. */
INLINE int32_t bytes32(const int T) {
  return T == QT_Q4_1 ? 20 : T == QT_Q5_0 ? 22 : T == QT_Q5_1 ? 24 : 18;
}

/* One block's unsigned levels (or IQ4 magnitudes) and, for IQ4_NL, negative-lane masks. */
INLINE void prep32(const int T, const uint8_t *p, v128_t *u) {
  const v128_t m4 = wasm_i8x16_splat(0x0f);
  const int qo = T == QT_Q4_1 ? 4 : T == QT_Q5_0 ? 6 : T == QT_Q5_1 ? 8 : 2;
  const v128_t q = wasm_v128_load(p + qo);
  v128_t lo = wasm_v128_and(q, m4), hi = SHR_MASK(q, 4, 0x0f);
  if (T == QT_Q5_0 || T == QT_Q5_1) {
    v128_t h0, h1;
    q5_high(p + qo - 4, &h0, &h1);
    lo = wasm_v128_or(lo, h0);
    hi = wasm_v128_or(hi, h1);
  }
  if (T == QT_IQ4_NL) {
    const v128_t eight = wasm_i8x16_splat(8);
    u[2] = wasm_i8x16_lt(lo, eight);
    u[3] = wasm_i8x16_lt(hi, eight);
    lo = wasm_i8x16_swizzle(IQ4_ABS, lo);
    hi = wasm_i8x16_swizzle(IQ4_ABS, hi);
  }
  u[0] = lo;
  u[1] = hi;
}

/* The block's integer dot as an i32x4 whose lanes sum to it. */
INLINE v128_t isum32(const int T, const int8_t *a, const v128_t *u) {
  const v128_t a0 = wasm_v128_load(a), a1 = wasm_v128_load(a + 16);
  if (T == QT_IQ4_NL) /* two products of up to 127² a lane: widen before adding */
    return wasm_i32x4_add(wasm_i32x4_extadd_pairwise_i16x8(dot16(flip(a0, u[2]), u[0])),
                          wasm_i32x4_extadd_pairwise_i16x8(dot16(flip(a1, u[3]), u[1])));
  return wasm_i32x4_extadd_pairwise_i16x8(wasm_i16x8_add(dot16(a0, u[0]), dot16(a1, u[1])));
}

/*
 * Per block b: Q4_1/Q5_1: d·d_a·Σ a·q + m·s_a (ggml's vec_dot_q{4,5}_1_q8_1); Q5_0:
 * d·d_a·(Σ a·q − 16·Σ a); IQ4_NL: d·d_a·Σ a·kv[q]. Four blocks at a time in f32 lanes.
 */
INLINE void dot32(const int T, const uint8_t *w, const kacts_t *A, const int R, float *out) {
  const int32_t B = bytes32(T), nb = A->k / 32;
  const int MIN = T == QT_Q4_1 || T == QT_Q5_1;
  v128_t acc[QK_R];
  float tail[QK_R];
  for (int r = 0; r < R; r++) acc[r] = wasm_f32x4_splat(0), tail[r] = 0;
  int32_t b = 0;
  for (; b + 4 <= nb; b += 4, w += 4 * B) {
    /* the four blocks' first words: d in the low half, Q4_1/Q5_1's m in the high one */
    const v128_t dm = wasm_i32x4_make((int32_t)load_u32(w), (int32_t)load_u32(w + B),
                                      (int32_t)load_u32(w + 2 * B), (int32_t)load_u32(w + 3 * B));
    const v128_t dw = h2f_x4(dm);
    const v128_t mw = MIN ? h2f_x4(wasm_u32x4_shr(dm, 16)) : dw;
    v128_t u[4][4];
    for (int t = 0; t < 4; t++) prep32(T, w + t * B, u[t]);
    for (int r = 0; r < R; r++) {
      const int8_t *a = A->qs + r * A->k + 32 * b;
      v128_t is = hsum4_i32(isum32(T, a, u[0]), isum32(T, a + 32, u[1]), isum32(T, a + 64, u[2]),
                            isum32(T, a + 96, u[3]));
      const v128_t sa = wasm_v128_load(A->s + r * A->ns + b);
      if (T == QT_Q5_0) is = wasm_i32x4_sub(is, wasm_i32x4_shl(sa, 4));
      acc[r] = FMA_F32(wasm_f32x4_convert_i32x4(is),
                       wasm_f32x4_mul(dw, wasm_v128_load(A->d + r * A->nd + b)), acc[r]);
      if (MIN) acc[r] = FMA_F32(mw, sa, acc[r]);
    }
  }
  for (; b < nb; b++, w += B) {
    const float dw = h2f(w), mw = MIN ? h2f(w + 2) : 0.0f;
    v128_t u[4];
    prep32(T, w, u);
    for (int r = 0; r < R; r++) {
      const int8_t *a = A->qs + r * A->k + 32 * b;
      const int32_t sa = A->s[r * A->ns + b];
      int32_t t = hsum_i32(isum32(T, a, u));
      if (T == QT_Q5_0) t -= 16 * sa;
      tail[r] += dw * A->d[r * A->nd + b] * (float)t;
      if (MIN) tail[r] += mw * bits_f32((uint32_t)sa);
    }
  }
  for (int r = 0; r < R; r++) out[r] = hsum(acc[r]) + tail[r];
}

/* ---- 256-element blocks × Q8_K ---- */

/* Bit `bit` of each byte of v moved to bit `to` (masked). */
INLINE v128_t bit_to(v128_t v, int bit, int to) {
  const int m = 1 << to;
  return bit < to ? SHL_MASK(v, to - bit, m) : bit > to ? SHR_MASK(v, bit - to, m)
                                                         : wasm_v128_and(v, wasm_i8x16_splat(m));
}

/* Lane i of an i16x8 in every lane. */
#define BCAST16(v, i) wasm_i16x8_shuffle((v), (v), i, i, i, i, i, i, i, i)
/* Run g's levels against its 16 activations, times its scale (lane g % 8 of S). */
#define RUN(g, S) \
  wasm_i32x4_dot_i16x8(dot16(wasm_v128_load(a + 16 * (g)), u[g]), BCAST16(S, (g) % 8))

/*
 * Sixteen runs of 16 levels u[g] (run g covers elements 16g.. and has scale g: lane g of s0, then
 * of s1, as i16) against each row: acc += d·d_a·(Σ_g sc_g·Σ a·u − bias·Σ_g sc_g·bsum_g); with
 * mins (m0, m1 like s0, s1), macc += dmin·d_a·Σ_g mn_g·bsum_g (Q2_K). The bsum dots run in SIMD
 * lanes: the per-16 sums of Q8_K (|Σ| ≤ 2032) narrow to i16 exactly.
 */
INLINE void runs16(const v128_t *u, v128_t s0, v128_t s1, const v128_t *mins, float d, float dmin,
                   const int bias, const kacts_t *A, int32_t b, const int R, v128_t *acc,
                   v128_t *macc) {
  for (int r = 0; r < R; r++) {
    const int8_t *a = A->qs + r * A->k + 256 * b;
    const int32_t *bs = A->s + r * A->ns + 16 * b;
    v128_t i0 = wasm_i32x4_add(wasm_i32x4_add(RUN(0, s0), RUN(1, s0)),
                               wasm_i32x4_add(RUN(2, s0), RUN(3, s0)));
    v128_t i1 = wasm_i32x4_add(wasm_i32x4_add(RUN(4, s0), RUN(5, s0)),
                               wasm_i32x4_add(RUN(6, s0), RUN(7, s0)));
    v128_t i2 = wasm_i32x4_add(wasm_i32x4_add(RUN(8, s1), RUN(9, s1)),
                               wasm_i32x4_add(RUN(10, s1), RUN(11, s1)));
    v128_t i3 = wasm_i32x4_add(wasm_i32x4_add(RUN(12, s1), RUN(13, s1)),
                               wasm_i32x4_add(RUN(14, s1), RUN(15, s1)));
    v128_t isum = wasm_i32x4_add(wasm_i32x4_add(i0, i1), wasm_i32x4_add(i2, i3));
    const v128_t b0 = wasm_i16x8_narrow_i32x4(wasm_v128_load(bs), wasm_v128_load(bs + 4));
    const v128_t b1 = wasm_i16x8_narrow_i32x4(wasm_v128_load(bs + 8), wasm_v128_load(bs + 12));
    /* Σ sc·a·(u − bias) = Σ sc·a·u − bias·Σ sc·Σa, lane by lane */
    if (bias) {
      const v128_t off = wasm_i32x4_add(wasm_i32x4_dot_i16x8(s0, b0), wasm_i32x4_dot_i16x8(s1, b1));
      isum = wasm_i32x4_sub(isum, wasm_i32x4_mul(off, wasm_i32x4_splat(bias)));
    }
    const float da = A->d[r * A->nd + b];
    acc[r] = FMA_F32(wasm_f32x4_convert_i32x4(isum), wasm_f32x4_splat(d * da), acc[r]);
    if (mins) {
      const v128_t ms =
        wasm_i32x4_add(wasm_i32x4_dot_i16x8(mins[0], b0), wasm_i32x4_dot_i16x8(mins[1], b1));
      macc[r] = FMA_F32(wasm_f32x4_convert_i32x4(ms), wasm_f32x4_splat(dmin * da), macc[r]);
    }
  }
}

INLINE void dot_q2_k(const uint8_t *w, const kacts_t *A, const int R, float *out) {
  v128_t acc[QK_R], macc[QK_R];
  for (int r = 0; r < R; r++) acc[r] = macc[r] = wasm_f32x4_splat(0);
  for (int32_t b = 0; b < A->k / 256; b++, w += 84) {
    /* scale g in the low nibble of byte g, its min in the high one */
    const v128_t sm = wasm_v128_load(w);
    const v128_t sc = wasm_v128_and(sm, wasm_i8x16_splat(0x0f)), mn = SHR_MASK(sm, 4, 0x0f);
    const v128_t mins[2] = {wasm_u16x8_extend_low_u8x16(mn), wasm_u16x8_extend_high_u8x16(mn)};
    v128_t u[16];
    for (int n = 0; n < 2; n++) {
      const v128_t q0 = wasm_v128_load(w + 16 + 32 * n), q1 = wasm_v128_load(w + 32 + 32 * n);
      for (int s = 0; s < 4; s++) {
        u[8 * n + 2 * s] = SHR_MASK(q0, 2 * s, 3);
        u[8 * n + 2 * s + 1] = SHR_MASK(q1, 2 * s, 3);
      }
    }
    runs16(u, wasm_u16x8_extend_low_u8x16(sc), wasm_u16x8_extend_high_u8x16(sc), mins, h2f(w + 80),
           h2f(w + 82), 0, A, b, R, acc, macc);
  }
  for (int r = 0; r < R; r++) out[r] = hsum(wasm_f32x4_sub(acc[r], macc[r]));
}

/* Q3_K's 16 signed 6-bit scales (bias 32 removed) as i8 lanes, from their 12-byte packing. */
INLINE v128_t scales_q3(const uint8_t *s) {
  const v128_t v = wasm_v128_load64_zero(s);
  /* low 4 bits: s[j] & 15 for j < 8, s[j − 8] >> 4 after */
  const v128_t lo = wasm_i8x16_shuffle(wasm_v128_and(v, wasm_i8x16_splat(0x0f)), SHR_MASK(v, 4, 0x0f),
                                       0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
  /* high 2 bits: (s[8 + j % 4] >> 2·(j / 4)) & 3 */
  uint32_t t32;
  __builtin_memcpy(&t32, s + 8, 4);
  const v128_t t = wasm_i32x4_splat((int32_t)t32);
  const v128_t ab = wasm_i8x16_shuffle(wasm_v128_and(t, wasm_i8x16_splat(3)), SHR_MASK(t, 2, 3), 0,
                                       1, 2, 3, 16, 17, 18, 19, 0, 0, 0, 0, 0, 0, 0, 0);
  const v128_t cd = wasm_i8x16_shuffle(SHR_MASK(t, 4, 3), SHR_MASK(t, 6, 3), 0, 1, 2, 3, 16, 17,
                                       18, 19, 0, 0, 0, 0, 0, 0, 0, 0);
  const v128_t hi = wasm_i8x16_shuffle(ab, cd, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
  return wasm_i8x16_sub(wasm_v128_or(lo, SHL_MASK(hi, 4, 0x30)), wasm_i8x16_splat(32));
}

INLINE void dot_q3_k(const uint8_t *w, const kacts_t *A, const int R, float *out) {
  v128_t acc[QK_R];
  for (int r = 0; r < R; r++) acc[r] = wasm_f32x4_splat(0);
  for (int32_t b = 0; b < A->k / 256; b++, w += 110) {
    const v128_t sc = scales_q3(w + 96);
    const v128_t h0 = wasm_v128_load(w), h1 = wasm_v128_load(w + 16);
    v128_t u[16];
    for (int n = 0; n < 2; n++) {
      const v128_t q0 = wasm_v128_load(w + 32 + 32 * n), q1 = wasm_v128_load(w + 48 + 32 * n);
      for (int s = 0; s < 4; s++) {
        /* level = low 2 bits + 4·(hmask bit) − 4 */
        u[8 * n + 2 * s] = wasm_v128_or(SHR_MASK(q0, 2 * s, 3), bit_to(h0, 4 * n + s, 2));
        u[8 * n + 2 * s + 1] = wasm_v128_or(SHR_MASK(q1, 2 * s, 3), bit_to(h1, 4 * n + s, 2));
      }
    }
    runs16(u, wasm_i16x8_extend_low_i8x16(sc), wasm_i16x8_extend_high_i8x16(sc), 0, h2f(w + 108),
           0, 4, A, b, R, acc, 0);
  }
  for (int r = 0; r < R; r++) out[r] = hsum(acc[r]);
}

INLINE void dot_q5_k(const uint8_t *w, const kacts_t *A, const int R, float *out) {
  v128_t acc[QK_R];
  float mins[QK_R];
  for (int r = 0; r < R; r++) acc[r] = wasm_f32x4_splat(0), mins[r] = 0;
  const v128_t m4 = wasm_i8x16_splat(0x0f);
  for (int32_t b = 0; b < A->k / 256; b++, w += 176) {
    const float d = h2f(w), dmin = h2f(w + 2);
    int32_t sc[8], mn[8];
    for (int j = 0; j < 8; j++) scale_min_k4(j, w + 4, &sc[j], &mn[j]);
    const v128_t h0 = wasm_v128_load(w + 16), h1 = wasm_v128_load(w + 32);
    v128_t lo[8], hi[8];
    for (int c = 0; c < 4; c++) {
      const v128_t q0 = wasm_v128_load(w + 48 + 32 * c), q1 = wasm_v128_load(w + 64 + 32 * c);
      lo[2 * c] = wasm_v128_or(wasm_v128_and(q0, m4), bit_to(h0, 2 * c, 4));
      lo[2 * c + 1] = wasm_v128_or(wasm_v128_and(q1, m4), bit_to(h1, 2 * c, 4));
      hi[2 * c] = wasm_v128_or(SHR_MASK(q0, 4, 0x0f), bit_to(h0, 2 * c + 1, 4));
      hi[2 * c + 1] = wasm_v128_or(SHR_MASK(q1, 4, 0x0f), bit_to(h1, 2 * c + 1, 4));
    }
    for (int r = 0; r < R; r++) {
      const int8_t *a = A->qs + r * A->k + 256 * b;
      const int32_t *bs = A->s + r * A->ns + 16 * b;
      v128_t isum = wasm_i32x4_splat(0);
      int32_t msum = 0;
      for (int c = 0; c < 4; c++) {
        /* sub-block 2c: low nibbles (+ bit 2c) of 32 bytes; 2c + 1: high nibbles (+ bit 2c + 1);
           four products of ≤ 31·127 a lane fit i16 */
        const int8_t *ac = a + 64 * c;
        const v128_t pl = wasm_i16x8_add(dot16(wasm_v128_load(ac), lo[2 * c]),
                                         dot16(wasm_v128_load(ac + 16), lo[2 * c + 1]));
        const v128_t ph = wasm_i16x8_add(dot16(wasm_v128_load(ac + 32), hi[2 * c]),
                                         dot16(wasm_v128_load(ac + 48), hi[2 * c + 1]));
        isum = wasm_i32x4_add(isum, wasm_i32x4_dot_i16x8(pl, wasm_i16x8_splat(sc[2 * c])));
        isum = wasm_i32x4_add(isum, wasm_i32x4_dot_i16x8(ph, wasm_i16x8_splat(sc[2 * c + 1])));
        msum += mn[2 * c] * (bs[4 * c] + bs[4 * c + 1]) +
                mn[2 * c + 1] * (bs[4 * c + 2] + bs[4 * c + 3]);
      }
      const float da = A->d[r * A->nd + b];
      acc[r] = FMA_F32(wasm_f32x4_convert_i32x4(isum), wasm_f32x4_splat(d * da), acc[r]);
      mins[r] += dmin * da * (float)msum;
    }
  }
  for (int r = 0; r < R; r++) out[r] = hsum(acc[r]) - mins[r];
}

INLINE void dot_iq4_xs(const uint8_t *w, const kacts_t *A, const int R, float *out) {
  v128_t acc[QK_R];
  for (int r = 0; r < R; r++) acc[r] = wasm_f32x4_splat(0);
  const v128_t m4 = wasm_i8x16_splat(0x0f), eight = wasm_i8x16_splat(8), tab = IQ4_ABS;
  for (int32_t b = 0; b < A->k / 256; b++, w += 136) {
    const uint32_t sh = (uint32_t)w[2] | ((uint32_t)w[3] << 8);
    v128_t u[16], neg[16], ls[8];
    for (int ib = 0; ib < 8; ib++) {
      const int32_t l = ((w[4 + (ib >> 1)] >> (4 * (ib % 2))) & 0xf) | (((sh >> (2 * ib)) & 3) << 4);
      ls[ib] = wasm_i16x8_splat((int16_t)(l - 32));
      const v128_t q = wasm_v128_load(w + 8 + 16 * ib);
      const v128_t nl = wasm_v128_and(q, m4), nh = SHR_MASK(q, 4, 0x0f);
      neg[2 * ib] = wasm_i8x16_lt(nl, eight);
      neg[2 * ib + 1] = wasm_i8x16_lt(nh, eight);
      u[2 * ib] = wasm_i8x16_swizzle(tab, nl);
      u[2 * ib + 1] = wasm_i8x16_swizzle(tab, nh);
    }
    const float d = h2f(w);
    for (int r = 0; r < R; r++) {
      const int8_t *a = A->qs + r * A->k + 256 * b;
      v128_t isum = wasm_i32x4_splat(0);
      for (int g = 0; g < 16; g++) {
        /* two products of up to 127² a lane: scale each run's lanes into i32 on their own */
        const v128_t p = dot16(flip(wasm_v128_load(a + 16 * g), neg[g]), u[g]);
        isum = wasm_i32x4_add(isum, wasm_i32x4_dot_i16x8(p, ls[g >> 1]));
      }
      acc[r] = FMA_F32(wasm_f32x4_convert_i32x4(isum), wasm_f32x4_splat(d * A->d[r * A->nd + b]),
                       acc[r]);
    }
  }
  for (int r = 0; r < R; r++) out[r] = hsum(acc[r]);
}

/* Separate small functions, optimized by V8 at their first call (see qlinear.c's ROW_FNS). */
#define ROW_FNS(N, CALL)                                                                      \
  __attribute__((noinline)) static void row4_##N(const uint8_t *w, const kacts_t *A, float *o) { \
    CALL(w, A, QK_R, o);                                                                      \
  }                                                                                           \
  __attribute__((noinline)) static void row1_##N(const uint8_t *w, const kacts_t *A, float *o) { \
    CALL(w, A, 1, o);                                                                         \
  }
#define D_Q4_1(w, A, R, o) dot32(QT_Q4_1, w, A, R, o)
#define D_Q5_0(w, A, R, o) dot32(QT_Q5_0, w, A, R, o)
#define D_Q5_1(w, A, R, o) dot32(QT_Q5_1, w, A, R, o)
#define D_IQ4_NL(w, A, R, o) dot32(QT_IQ4_NL, w, A, R, o)
ROW_FNS(q4_1, D_Q4_1)
ROW_FNS(q5_0, D_Q5_0)
ROW_FNS(q5_1, D_Q5_1)
ROW_FNS(iq4_nl, D_IQ4_NL)
ROW_FNS(q2_k, dot_q2_k)
ROW_FNS(q3_k, dot_q3_k)
ROW_FNS(q5_k, dot_q5_k)
ROW_FNS(iq4_xs, dot_iq4_xs)

typedef void (*row_fn)(const uint8_t *, const kacts_t *, float *);

/* ---- the job ---- */

#define IA(name) job->ia[IA_QLINEAR_##name]

static void ggml_rows_k(pjob_t *job, int32_t j0, int32_t j1) {
  const int32_t t = IA(WTYPE), m = IA(M), n = IA(N), k = IA(K), rb = IA(ROW_BYTES);
  const int32_t qk = t >= QT_Q2_K ? 256 : 32, sk = qk == 32 ? 32 : 16;
  row_fn f4, f1;
  switch (t) {
    case QT_Q4_1: f4 = row4_q4_1, f1 = row1_q4_1; break;
    case QT_Q5_0: f4 = row4_q5_0, f1 = row1_q5_0; break;
    case QT_Q5_1: f4 = row4_q5_1, f1 = row1_q5_1; break;
    case QT_IQ4_NL: f4 = row4_iq4_nl, f1 = row1_iq4_nl; break;
    case QT_Q2_K: f4 = row4_q2_k, f1 = row1_q2_k; break;
    case QT_Q3_K: f4 = row4_q3_k, f1 = row1_q3_k; break;
    case QT_Q5_K: f4 = row4_q5_k, f1 = row1_q5_k; break;
    default: f4 = row4_iq4_xs, f1 = row1_iq4_xs; break;
  }
  float *y = (float *)(uintptr_t)job->ptr[0];
  const uint8_t *w = (const uint8_t *)(uintptr_t)job->ptr[1];
  const kacts_t A = {(const int8_t *)(uintptr_t)job->ptr[2], (const float *)(uintptr_t)job->ptr[3],
                     (const int32_t *)(uintptr_t)(uint32_t)IA(SUMS), k, k / qk, k / sk};
  float o[QK_R];
  for (int32_t j = j0; j < j1; j++) {
    const uint8_t *wj = w + (size_t)j * rb;
    for (int32_t i = 0; i < m;) {
      kacts_t Ai = A;
      Ai.qs += (size_t)i * k;
      Ai.d += (size_t)i * A.nd;
      Ai.s += (size_t)i * A.ns;
      const int R = m - i >= QK_R ? QK_R : 1;
      (R == QK_R ? f4 : f1)(wj, &Ai, o);
      for (int r = 0; r < R; r++) y[(size_t)(i + r) * n + j] = o[r];
      i += R;
    }
  }
}

void qlk_rows(pjob_t *job, int32_t j0, int32_t j1) {
  if (IA(MODE) == 1) ggml_rows_k(job, j0, j1);
  else qlk_f32_rows(job, j0, j1); /* qlinear_k_f32.c */
}

/*
 * llama.cpp's quantize_row_q8_1_ref over m rows of k: levels and the f16 scale (as f32) as Q8_0's,
 * and per block s = f16(Σq · d) with d the unrounded f32 scale, stored as f32 bits in s.
 */
EXPORT("qlin_quant_q8_1")
void qlin_quant_q8_1(const float *x, int32_t m, int32_t k, int8_t *qs, float *d, float *s) {
  for (int32_t b = 0; b < m * k / 32; b++) {
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
      float v = round_away(xb[j] * id);
      if (!(v == v)) v = 0;
      v = v < -128.0f ? -128.0f : v > 127.0f ? 127.0f : v;
      qs[32 * b + j] = (int8_t)(int32_t)v;
      sum += (int32_t)v;
    }
    s[b] = bits_f32(half_to_float_bits(float_bits_to_half(f32_bits((float)sum * dd))));
  }
}
