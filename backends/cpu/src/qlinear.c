/*
 * quantLinear (contract: core/ops/quant_linear.ts) on packed GGUF weights: y[i, j] = x[i, :] · w[j, :]
 * for f32 activations x (m×k) and a weight w (n×k) kept in its storage type: f32, f16, bf16, Q4_0,
 * Q8_0, Q4_K, Q6_K in both modes below, Q4_1, Q5_0, Q5_1 and IQ4_NL in "f32" mode.
 *
 * Two modes, as the contract's `activations` attribute says:
 *   - "ggml" (QL_GGML): the activations are first quantized the way llama.cpp's CPU path does
 *     (`qlin_quant`: Q8_0 for Q4_0/Q8_0 weights, Q8_K for the K-quants), then each block's dot is an
 *     exact integer dot product (relaxed-SIMD i8·i7 dots where the runtime has them, i16 SIMD
 *     otherwise) scaled by the two block scales, as ggml's vec_dot kernels compute it; only the
 *     f32 accumulation order across blocks differs from llama.cpp's.
 *   - "f32" (QL_F32): each weight row is decoded to f32 in chunks (the same decoders, value for
 *     value, as core/quant) and dotted with the f32 activations in f32 SIMD lanes.
 *
 * One job slot is a range of output columns (weight rows); a slot runs every activation row
 * against its weight rows, reading each weight row once for up to QL_R activation rows, so the
 * unpacking of a block is shared by the rows of a prefill. The job block's fields are listed in
 * abi.ts (JOB_IA.qlinear).
 */
#include "par.h"
#include "half.h"
#include "qlinear_k.h"
#include "qgemm_tile.h"
#include "qrepack.h"
#include "simd_dot.h"

#pragma STDC FP_CONTRACT OFF


typedef signed char qi8x16 __attribute__((vector_size(16)));

/*
 * Byte shifts followed by a mask, through 16-bit lanes: wasm's i8x16 shifts cost V8 several x86
 * instructions (there is no byte shift), a 16-bit shift one; the mask drops the bits that cross
 * from the neighbouring byte.
 */
#define SHR4_LO(v) wasm_v128_and(wasm_u16x8_shr((v), 4), wasm_i8x16_splat(0x0f))
#define SHL_MASK(v, n, m) wasm_v128_and(wasm_i16x8_shl((v), (n)), wasm_i8x16_splat(m))
#define SHR_MASK(v, n, m) wasm_v128_and(wasm_u16x8_shr((v), (n)), wasm_i8x16_splat(m))

/*
 * i16x8 lanes whose sum is Σ a[t]·b[t] over the 16 bytes: a signed (−128..127), b in 0..127.
 * Each lane holds at most two products, so it never overflows for |a| ≤ 128, b ≤ 127.
 */
INLINE v128_t dot16(v128_t a, v128_t b) {
#ifdef __wasm_relaxed_simd__
  return (v128_t)__builtin_wasm_relaxed_dot_i8x16_i7x16_s_i16x8((qi8x16)a, (qi8x16)b);
#else
  const v128_t lo = wasm_i16x8_mul(wasm_i16x8_extend_low_i8x16(a), wasm_u16x8_extend_low_u8x16(b));
  const v128_t hi =
    wasm_i16x8_mul(wasm_i16x8_extend_high_i8x16(a), wasm_u16x8_extend_high_u8x16(b));
  return wasm_i16x8_add(lo, hi);
#endif
}

/* An IEEE half stored little-endian at p, as float (exact). */
INLINE float h2f(const uint8_t *p) {
  return bits_f32(half_to_float_bits((uint32_t)p[0] | ((uint32_t)p[1] << 8)));
}

/* Weight types (TS: backends/wasm/qlinear.ts QTYPE). */
enum {
  QT_F32 = 0,
  QT_F16 = 1,
  QT_BF16 = 2,
  QT_Q4_0 = 3,
  QT_Q8_0 = 4,
  QT_Q4_K = 5,
  QT_Q6_K = 6,
  QT_Q4_1 = 7, /* f32 mode only, as the next three */
  QT_Q5_0 = 8,
  QT_Q5_1 = 9,
  QT_IQ4_NL = 10
};
/* ggml's kvalues_iq4nl. */
static const int8_t IQ4NL[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                 1,    13,   25,  38,  53,  69,  89,  113};
/* QL_TILED: "ggml" for several rows of Q4_0/Q8_0/Q4_K, interleaved int8 levels (qgemm_tile.c). */
enum { QL_F32 = 0, QL_GGML = 1, QL_TILED = 2 };
/* Activation rows one pass over a weight row serves. */
#define QL_R 4
/* f32 mode: elements of a weight row decoded at a time (a multiple of 256). */
#define QL_CHUNK 512

#include "qlinear_quant.h"

/* ---- integer dots of one weight row with R quantized activation rows ---- */

typedef struct {
  const int8_t *qs; /* row i0's levels; row r at qs + r·k */
  const float *d;   /* row i0's block scales; row r at d + r·nd */
  const int32_t *s; /* row i0's block sums; row r at s + r·ns */
  int32_t k, nd, ns;
} acts_t;


/* f16 → f32 of every half, filled once by qlin_init (the weights' block scales are halves). */
static float f16tab[65536];

EXPORT("qlin_init") void qlin_init(void) {
  if (f16tab[0x3c00] == 1.0f) return;
  for (uint32_t h = 0; h < 65536; h++) {
    const uint8_t b[2] = {(uint8_t)h, (uint8_t)(h >> 8)};
    f16tab[h] = h2f(b);
  }
}

INLINE float h2f_tab(const uint8_t *p) {
  uint16_t h;
  __builtin_memcpy(&h, p, 2);
  return f16tab[h];
}

/* [Σ v0, Σ v1, Σ v2, Σ v3] for four i32x4 vectors. */
INLINE v128_t hsum4_i32(v128_t v0, v128_t v1, v128_t v2, v128_t v3) {
  const v128_t a =
    wasm_i32x4_add(wasm_i32x4_shuffle(v0, v1, 0, 4, 2, 6), wasm_i32x4_shuffle(v0, v1, 1, 5, 3, 7));
  const v128_t b =
    wasm_i32x4_add(wasm_i32x4_shuffle(v2, v3, 0, 4, 2, 6), wasm_i32x4_shuffle(v2, v3, 1, 5, 3, 7));
  return wasm_i32x4_add(wasm_i32x4_shuffle(a, b, 0, 1, 4, 5), wasm_i32x4_shuffle(a, b, 2, 3, 6, 7));
}

/*
 * Q4_0 and Q8_0 (32-element blocks, one f16 scale each): four blocks at a time, their integer
 * sums gathered into one i32x4 and scaled by the four products of scales in one multiply-add.
 * Q4_0's levels are q − 8: Σ a·(q − 8) = Σ a·q − 8·Σa with Σa from the quantizer.
 */
#define DOT_Q32(NAME, BYTES, PREP, ISUM, CK)                                                 \
  INLINE void NAME(const uint8_t *w, const acts_t *A, const int R, float *out) {               \
    v128_t acc[QL_R];                                                                          \
    float tail[QL_R];                                                                          \
    for (int r = 0; r < R; r++) acc[r] = wasm_f32x4_splat(0), tail[r] = 0;                     \
    const int32_t nb = A->k / 32;                                                              \
    const v128_t m4 = wasm_i8x16_splat(0x0f);                                                  \
    (void)m4;                                                                                  \
    int32_t b = 0;                                                                             \
    for (; b + 4 <= nb; b += 4, w += 4 * (BYTES)) {                                            \
      const v128_t dw = wasm_f32x4_make(h2f_tab(w), h2f_tab(w + (BYTES)),                      \
                                        h2f_tab(w + 2 * (BYTES)), h2f_tab(w + 3 * (BYTES)));   \
      v128_t q0[4], q1[4];                                                                     \
      for (int t = 0; t < 4; t++) PREP(w + t * (BYTES), q0[t], q1[t]);                         \
      for (int r = 0; r < R; r++) {                                                            \
        const int8_t *a = A->qs + r * A->k + 32 * b;                                           \
        v128_t v[4];                                                                           \
        for (int t = 0; t < 4; t++)                                                            \
          v[t] = ISUM(wasm_v128_load(a + 32 * t), wasm_v128_load(a + 32 * t + 16), q0[t], q1[t]); \
        v128_t is = hsum4_i32(v[0], v[1], v[2], v[3]);                                         \
        if (CK) is = wasm_i32x4_sub(is, wasm_i32x4_mul(wasm_v128_load(A->s + r * A->ns + b),     \
                                                      wasm_i32x4_splat(CK)));                  \
        acc[r] = FMA_F32(wasm_f32x4_convert_i32x4(is),                                         \
                         wasm_f32x4_mul(dw, wasm_v128_load(A->d + r * A->nd + b)), acc[r]);    \
      }                                                                                        \
    }                                                                                          \
    for (; b < nb; b++, w += (BYTES)) {                                                        \
      const float dw = h2f_tab(w);                                                             \
      v128_t q0, q1;                                                                           \
      PREP(w, q0, q1);                                                                         \
      for (int r = 0; r < R; r++) {                                                            \
        const int8_t *a = A->qs + r * A->k + 32 * b;                                           \
        const v128_t is = ISUM(wasm_v128_load(a), wasm_v128_load(a + 16), q0, q1);            \
        const int32_t t = wasm_i32x4_extract_lane(is, 0) + wasm_i32x4_extract_lane(is, 1) +    \
                          wasm_i32x4_extract_lane(is, 2) + wasm_i32x4_extract_lane(is, 3) -    \
                          (CK) * A->s[r * A->ns + b];                                          \
        tail[r] += dw * A->d[r * A->nd + b] * (float)t;                                        \
      }                                                                                        \
    }                                                                                          \
    for (int r = 0; r < R; r++) out[r] = hsum(acc[r]) + tail[r];                               \
  }

#define PREP_Q4_0(p, lo, hi)                                                                   \
  do {                                                                                         \
    const v128_t q_ = wasm_v128_load((p) + 2);                                                 \
    lo = wasm_v128_and(q_, m4);                                                                \
    hi = SHR4_LO(q_);                                                                \
  } while (0)
INLINE v128_t isum_q4_0(v128_t a0, v128_t a1, v128_t lo, v128_t hi) {
  return wasm_i32x4_extadd_pairwise_i16x8(wasm_i16x8_add(dot16(a0, lo), dot16(a1, hi)));
}
/* CK: the level offset times Σa that each block's sum loses (8 for Q4_0). */
DOT_Q32(dot_q4_0, 18, PREP_Q4_0, isum_q4_0, 8)

/* Q8_0 block t's 32 levels widened to i16 (the activations come widened by qlin_quant mode 3). */
INLINE void widen_q8_0(const uint8_t *p, v128_t *q) {
  const v128_t q0 = wasm_v128_load(p + 2), q1 = wasm_v128_load(p + 18);
  q[0] = wasm_i16x8_extend_low_i8x16(q0);
  q[1] = wasm_i16x8_extend_high_i8x16(q0);
  q[2] = wasm_i16x8_extend_low_i8x16(q1);
  q[3] = wasm_i16x8_extend_high_i8x16(q1);
}
INLINE v128_t isum_q8_0(const int16_t *a, const v128_t *q) {
  const v128_t s0 = wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_v128_load(a), q[0]),
                                   wasm_i32x4_dot_i16x8(wasm_v128_load(a + 8), q[1]));
  const v128_t s1 = wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_v128_load(a + 16), q[2]),
                                   wasm_i32x4_dot_i16x8(wasm_v128_load(a + 24), q[3]));
  return wasm_i32x4_add(s0, s1);
}

/* Q8_0 × Q8_0 like Q4_0 above, the weight levels widened once per block for all R rows. */
INLINE void dot_q8_0(const uint8_t *w, const acts_t *A, const int R, float *out) {
  const int16_t *qa = (const int16_t *)(const void *)A->qs;
  v128_t acc[QL_R];
  float tail[QL_R];
  for (int r = 0; r < R; r++) acc[r] = wasm_f32x4_splat(0), tail[r] = 0;
  const int32_t nb = A->k / 32;
  int32_t b = 0;
  for (; b + 4 <= nb; b += 4, w += 4 * 34) {
    const v128_t dw =
      wasm_f32x4_make(h2f_tab(w), h2f_tab(w + 34), h2f_tab(w + 68), h2f_tab(w + 102));
    v128_t q[4][4];
    for (int t = 0; t < 4; t++) widen_q8_0(w + 34 * t, q[t]);
    for (int r = 0; r < R; r++) {
      const int16_t *a = qa + r * A->k + 32 * b;
      const v128_t is = hsum4_i32(isum_q8_0(a, q[0]), isum_q8_0(a + 32, q[1]),
                                  isum_q8_0(a + 64, q[2]), isum_q8_0(a + 96, q[3]));
      acc[r] = FMA_F32(wasm_f32x4_convert_i32x4(is),
                       wasm_f32x4_mul(dw, wasm_v128_load(A->d + r * A->nd + b)), acc[r]);
    }
  }
  for (; b < nb; b++, w += 34) {
    const float dw = h2f_tab(w);
    v128_t q[4];
    widen_q8_0(w, q);
    for (int r = 0; r < R; r++) {
      const v128_t is = isum_q8_0(qa + r * A->k + 32 * b, q);
      const int32_t t = wasm_i32x4_extract_lane(is, 0) + wasm_i32x4_extract_lane(is, 1) +
                        wasm_i32x4_extract_lane(is, 2) + wasm_i32x4_extract_lane(is, 3);
      tail[r] += dw * A->d[r * A->nd + b] * (float)t;
    }
  }
  for (int r = 0; r < R; r++) out[r] = hsum(acc[r]) + tail[r];
}

/* Q4_K's 6-bit scale and min of sub-block j (ggml's get_scale_min_k4). */
INLINE void scale_min_k4(int j, const uint8_t *q, uint8_t *sc, uint8_t *mn) {
  if (j < 4) {
    *sc = q[j] & 63;
    *mn = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4);
    *mn = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

INLINE void dot_q4_k(const uint8_t *w, const acts_t *A, const int R, float *out) {
  v128_t acc[QL_R];
  float mins[QL_R];
  for (int r = 0; r < R; r++) acc[r] = wasm_f32x4_splat(0), mins[r] = 0;
  const int32_t nb = A->k / 256;
  const v128_t m4 = wasm_i8x16_splat(0x0f);
  for (int32_t b = 0; b < nb; b++, w += 144) {
    const float d = h2f_tab(w), dmin = h2f_tab(w + 2);
    uint8_t sc[8], mn[8];
    for (int j = 0; j < 8; j++) scale_min_k4(j, w + 4, &sc[j], &mn[j]);
    v128_t lo[8], hi[8];
    for (int c = 0; c < 4; c++) {
      const v128_t q0 = wasm_v128_load(w + 16 + 32 * c), q1 = wasm_v128_load(w + 32 + 32 * c);
      lo[2 * c] = wasm_v128_and(q0, m4);
      lo[2 * c + 1] = wasm_v128_and(q1, m4);
      hi[2 * c] = SHR4_LO(q0);
      hi[2 * c + 1] = SHR4_LO(q1);
    }
    for (int r = 0; r < R; r++) {
      const int8_t *a = A->qs + r * A->k + 256 * b;
      const int32_t *bs = A->s + r * A->ns + 16 * b;
      v128_t isum = wasm_i32x4_splat(0);
      int32_t msum = 0;
      for (int c = 0; c < 4; c++) {
        /* sub-block 2c: low nibbles of 32 bytes; 2c + 1: their high nibbles */
        const int8_t *ac = a + 64 * c;
        const v128_t pl = wasm_i16x8_add(dot16(wasm_v128_load(ac), lo[2 * c]),
                                         dot16(wasm_v128_load(ac + 16), lo[2 * c + 1]));
        const v128_t ph = wasm_i16x8_add(dot16(wasm_v128_load(ac + 32), hi[2 * c]),
                                         dot16(wasm_v128_load(ac + 48), hi[2 * c + 1]));
        isum = wasm_i32x4_add(isum, wasm_i32x4_dot_i16x8(pl, wasm_i16x8_splat(sc[2 * c])));
        isum = wasm_i32x4_add(isum, wasm_i32x4_dot_i16x8(ph, wasm_i16x8_splat(sc[2 * c + 1])));
        msum += mn[2 * c] * (bs[4 * c] + bs[4 * c + 1]) + mn[2 * c + 1] * (bs[4 * c + 2] + bs[4 * c + 3]);
      }
      const float da = A->d[r * A->nd + b];
      acc[r] = FMA_F32(wasm_f32x4_convert_i32x4(isum), wasm_f32x4_splat(d * da), acc[r]);
      mins[r] += dmin * da * (float)msum;
    }
  }
  for (int r = 0; r < R; r++) out[r] = hsum(acc[r]) - mins[r];
}

INLINE void dot_q6_k(const uint8_t *w, const acts_t *A, const int R, float *out) {
  v128_t acc[QL_R];
  for (int r = 0; r < R; r++) acc[r] = wasm_f32x4_splat(0);
  const int32_t nb = A->k / 256;
  const v128_t m4 = wasm_i8x16_splat(0x0f), m30 = wasm_i8x16_splat(0x30);
  for (int32_t b = 0; b < nb; b++, w += 210) {
    const float d = h2f_tab(w + 208);
    const int8_t *sc = (const int8_t *)(w + 192);
    /* levels 0..63 of the 16 runs of 16 (run g uses scale sc[g]) */
    v128_t q[16];
    for (int n = 0; n < 2; n++) {
      const uint8_t *ql = w + 64 * n, *qh = w + 128 + 32 * n;
      for (int l = 0; l < 2; l++) {
        const v128_t a0 = wasm_v128_load(ql + 16 * l), a1 = wasm_v128_load(ql + 32 + 16 * l);
        const v128_t h = wasm_v128_load(qh + 16 * l);
        /* run index: 8n + l + 2·(0..3) matches the scalar decoder's sc[is + 2t] (is = l) */
        q[8 * n + l] = wasm_v128_or(wasm_v128_and(a0, m4), SHL_MASK(h, 4, 0x30));
        q[8 * n + l + 2] = wasm_v128_or(wasm_v128_and(a1, m4), SHL_MASK(h, 2, 0x30));
        q[8 * n + l + 4] = wasm_v128_or(SHR4_LO(a0), wasm_v128_and(h, m30));
        q[8 * n + l + 6] = wasm_v128_or(SHR4_LO(a1), SHR_MASK(h, 2, 0x30));
      }
    }
    for (int r = 0; r < R; r++) {
      const int8_t *a = A->qs + r * A->k + 256 * b;
      const int32_t *bs = A->s + r * A->ns + 16 * b;
      v128_t isum = wasm_i32x4_splat(0);
      int32_t off = 0;
      for (int g = 0; g < 16; g++) {
        const v128_t p = dot16(wasm_v128_load(a + 16 * g), q[g]);
        isum = wasm_i32x4_add(isum, wasm_i32x4_dot_i16x8(p, wasm_i16x8_splat(sc[g])));
        off += sc[g] * bs[g];
      }
      /* Σ sc·a·(q − 32) = Σ sc·a·q − 32·Σ sc·Σa: 8·Σ sc·Σa off each lane. */
      isum = wasm_i32x4_sub(isum, wasm_i32x4_splat(8 * off));
      acc[r] = FMA_F32(wasm_f32x4_convert_i32x4(isum), wasm_f32x4_splat(d * A->d[r * A->nd + b]),
                       acc[r]);
    }
  }
  for (int r = 0; r < R; r++) out[r] = hsum(acc[r]);
}

/*
 * One weight row against 4 (or 1) activation rows, as separate small functions: V8 compiles
 * WebAssembly first with its baseline compiler and swaps in optimized code only at function
 * entry (no on-stack replacement), so a function called once per row is optimized within the
 * first call, where one inlined into the slot loop would run baseline code for whole calls.
 */
#define ROW_FNS(T)                                                                             \
  __attribute__((noinline)) static void row4_##T(const uint8_t *w, const acts_t *A, float *o) { \
    dot_##T(w, A, QL_R, o);                                                                    \
  }                                                                                            \
  __attribute__((noinline)) static void row1_##T(const uint8_t *w, const acts_t *A, float *o) { \
    dot_##T(w, A, 1, o);                                                                       \
  }
ROW_FNS(q4_0)
ROW_FNS(q8_0)
ROW_FNS(q4_k)
ROW_FNS(q6_k)

/* ---- f32 mode: decode a chunk of a weight row, dot it with each activation row ---- */

/* Decode elements [c0, c0 + len) of weight row w (len a multiple of the block size). */
__attribute__((noinline)) static void decode_chunk(int32_t t, const uint8_t *w, int32_t c0, int32_t len, float *restrict y) {
  switch (t) {
    case QT_F32: __builtin_memcpy(y, w + 4 * c0, 4 * (size_t)len); break;
    case QT_F16:
      for (int32_t i = 0; i < len; i++) y[i] = h2f_tab(w + 2 * (c0 + i));
      break;
    case QT_BF16:
      for (int32_t i = 0; i < len; i++) {
        const uint8_t *p = w + 2 * (c0 + i);
        y[i] = bits_f32(((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 24));
      }
      break;
    case QT_Q4_0:
      for (int32_t b = 0; b < len / 32; b++) {
        const uint8_t *x = w + 18 * (c0 / 32 + b);
        const float d = h2f_tab(x);
        for (int j = 0; j < 16; j++) {
          y[32 * b + j] = (float)((x[2 + j] & 15) - 8) * d;
          y[32 * b + 16 + j] = (float)((x[2 + j] >> 4) - 8) * d;
        }
      }
      break;
    case QT_Q8_0:
      for (int32_t b = 0; b < len / 32; b++) {
        const uint8_t *x = w + 34 * (c0 / 32 + b);
        const float d = h2f_tab(x);
        for (int j = 0; j < 32; j++) y[32 * b + j] = (float)(int8_t)x[2 + j] * d;
      }
      break;
    case QT_Q4_K:
      for (int32_t b = 0; b < len / 256; b++) {
        const uint8_t *x = w + 144 * (c0 / 256 + b);
        const float d = h2f_tab(x), mn = h2f_tab(x + 2);
        float *o = y + 256 * b;
        for (int j = 0; j < 4; j++) {
          uint8_t s1, m1, s2, m2;
          scale_min_k4(2 * j, x + 4, &s1, &m1);
          scale_min_k4(2 * j + 1, x + 4, &s2, &m2);
          const float d1 = d * s1, n1 = mn * m1, d2 = d * s2, n2 = mn * m2;
          const uint8_t *q = x + 16 + 32 * j;
          for (int l = 0; l < 32; l++) *o++ = d1 * (float)(q[l] & 0xf) - n1;
          for (int l = 0; l < 32; l++) *o++ = d2 * (float)(q[l] >> 4) - n2;
        }
      }
      break;
    case QT_Q6_K:
      for (int32_t b = 0; b < len / 256; b++) {
        const uint8_t *x = w + 210 * (c0 / 256 + b);
        const float d = h2f_tab(x + 208);
        for (int n = 0; n < 2; n++) {
          const uint8_t *ql = x + 64 * n, *qh = x + 128 + 32 * n;
          const int8_t *sc = (const int8_t *)(x + 192 + 8 * n);
          float *o = y + 256 * b + 128 * n;
          for (int l = 0; l < 32; l++) {
            const int is = l >> 4, hb = qh[l];
            const int q1 = ((ql[l] & 0xf) | ((hb & 3) << 4)) - 32;
            const int q2 = ((ql[l + 32] & 0xf) | (((hb >> 2) & 3) << 4)) - 32;
            const int q3 = ((ql[l] >> 4) | (((hb >> 4) & 3) << 4)) - 32;
            const int q4 = ((ql[l + 32] >> 4) | (((hb >> 6) & 3) << 4)) - 32;
            o[l] = (d * (float)sc[is]) * (float)q1;
            o[l + 32] = (d * (float)sc[is + 2]) * (float)q2;
            o[l + 64] = (d * (float)sc[is + 4]) * (float)q3;
            o[l + 96] = (d * (float)sc[is + 6]) * (float)q4;
          }
        }
      }
      break;
    case QT_Q4_1:
      for (int32_t b = 0; b < len / 32; b++) {
        const uint8_t *x = w + 20 * (c0 / 32 + b);
        const float d = h2f_tab(x), m = h2f_tab(x + 2);
        for (int j = 0; j < 16; j++) {
          y[32 * b + j] = (float)(x[4 + j] & 15) * d + m;
          y[32 * b + 16 + j] = (float)(x[4 + j] >> 4) * d + m;
        }
      }
      break;
    case QT_Q5_0:
    case QT_Q5_1: {
      const int one = t == QT_Q5_1, bytes = one ? 24 : 22;
      for (int32_t b = 0; b < len / 32; b++) {
        const uint8_t *x = w + bytes * (c0 / 32 + b);
        const float d = h2f_tab(x), m = one ? h2f_tab(x + 2) : 0.0f;
        const uint8_t *hp = x + (one ? 4 : 2), *q = hp + 4;
        const uint32_t qh = (uint32_t)hp[0] | ((uint32_t)hp[1] << 8) | ((uint32_t)hp[2] << 16) |
                            ((uint32_t)hp[3] << 24);
        for (int j = 0; j < 16; j++) {
          const int l0 = (q[j] & 15) | (((qh >> j) << 4) & 0x10);
          const int l1 = (q[j] >> 4) | ((qh >> (j + 12)) & 0x10);
          if (one) {
            y[32 * b + j] = (float)l0 * d + m;
            y[32 * b + 16 + j] = (float)l1 * d + m;
          } else {
            y[32 * b + j] = (float)(l0 - 16) * d;
            y[32 * b + 16 + j] = (float)(l1 - 16) * d;
          }
        }
      }
      break;
    }
    case QT_IQ4_NL:
      for (int32_t b = 0; b < len / 32; b++) {
        const uint8_t *x = w + 18 * (c0 / 32 + b);
        const float d = h2f_tab(x);
        for (int j = 0; j < 16; j++) {
          y[32 * b + j] = d * (float)IQ4NL[x[2 + j] & 15];
          y[32 * b + 16 + j] = d * (float)IQ4NL[x[2 + j] >> 4];
        }
      }
      break;
    default: break;
  }
}


/* ---- the job ---- */

#define IA(name) job->ia[IA_QLINEAR_##name]

static void ggml_rows(pjob_t *job, int32_t j0, int32_t j1) {
  const int32_t t = IA(WTYPE), m = IA(M), n = IA(N), k = IA(K), rb = IA(ROW_BYTES);
  const int32_t qk = t == QT_Q4_0 || t == QT_Q8_0 ? 32 : 256;
  const int32_t sk = qk == 32 ? 32 : 16;
  float *y = (float *)(uintptr_t)job->ptr[0];
  const uint8_t *w = (const uint8_t *)(uintptr_t)job->ptr[1];
  acts_t A = {(const int8_t *)(uintptr_t)job->ptr[2], (const float *)(uintptr_t)job->ptr[3],
              (const int32_t *)(uintptr_t)(uint32_t)IA(SUMS), k, k / qk, k / sk};
  float o[QL_R];
  for (int32_t j = j0; j < j1; j++) {
    const uint8_t *wj = w + (size_t)j * rb;
    for (int32_t i = 0; i < m;) {
      acts_t Ai = A;
      Ai.qs += (size_t)i * k * (t == QT_Q8_0 ? 2 : 1);
      Ai.d += (size_t)i * A.nd;
      Ai.s += (size_t)i * A.ns;
      const int R = m - i >= QL_R ? QL_R : 1;
      switch (t) {
        case QT_Q4_0: R == QL_R ? row4_q4_0(wj, &Ai, o) : row1_q4_0(wj, &Ai, o); break;
        case QT_Q8_0: R == QL_R ? row4_q8_0(wj, &Ai, o) : row1_q8_0(wj, &Ai, o); break;
        case QT_Q4_K: R == QL_R ? row4_q4_k(wj, &Ai, o) : row1_q4_k(wj, &Ai, o); break;
        default: R == QL_R ? row4_q6_k(wj, &Ai, o) : row1_q6_k(wj, &Ai, o); break;
      }
      for (int r = 0; r < R; r++) y[(size_t)(i + r) * n + j] = o[r];
      i += R;
    }
  }
}

static void f32_rows(pjob_t *job, int32_t j0, int32_t j1) {
  const int32_t t = IA(WTYPE), m = IA(M), n = IA(N), k = IA(K), rb = IA(ROW_BYTES);
  float *y = (float *)(uintptr_t)job->ptr[0];
  const uint8_t *w = (const uint8_t *)(uintptr_t)job->ptr[1];
  const float *x = (const float *)(uintptr_t)job->ptr[2];
  float buf[QL_CHUNK] __attribute__((aligned(16)));
  for (int32_t j = j0; j < j1; j++) {
    const uint8_t *wj = w + (size_t)j * rb;
    for (int32_t c = 0; c < k; c += QL_CHUNK) {
      const int32_t len = MIN(QL_CHUNK, k - c);
      const float *row = buf;
      if (t == QT_F32) row = (const float *)(wj) + c;
      else decode_chunk(t, wj, c, len, buf);
      for (int32_t i = 0; i < m; i++) {
        const float s = dot_f32(row, x + (size_t)i * k + c, len);
        float *yi = y + (size_t)i * n + j;
        *yi = c == 0 ? s : *yi + s;
      }
    }
  }
}

void qlinear_slot(pjob_t *job, int32_t s) {
  SLOT_RANGE(IA(N), s, job->nslots, j0, j1);
  if (IA(MODE) == QL_TILED) qgemm_tile_rows(job, j0, j1); /* qgemm_tile.c */
  else if (IA(MODE) >= QL_REPACK_GGML) qrepack_rows(job, j0, j1); /* qrepack.c */
  else if (qlk_owns(IA(WTYPE), IA(MODE))) qlk_rows(job, j0, j1); /* qlinear_k.c */
  else if (IA(MODE) == QL_GGML) ggml_rows(job, j0, j1);
  else f32_rows(job, j0, j1);
}
