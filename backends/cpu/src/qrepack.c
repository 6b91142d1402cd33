/*
 * Q4_0 weights repacked in place (same bytes, another order) for quantLinear: the layout that
 * qgemm_tile.c builds on the fly for each group of four 32-blocks × four weight rows (4×4 word
 * transposes, then one tile's worth of use) is written once, at load, so the products stream it:
 *
 *   rows 4R..4R+3 (4·row_bytes bytes, in place of those four rows) hold k/128 groups of 288 bytes;
 *   group g: 16 f16 scales, half 4j + t = row 4R + j's block 4g + t; then for row j, vector v < 4,
 *   lane t: bytes 4v..4v+3 of that block's 16 nibble bytes (byte b: element b low, b + 16 high).
 *
 * Lane t of vector v is then block t's elements 4v..4v+3 (low nibbles) or 16 + 4v.. (high), the
 * order of the interleaved Q8_0 activations (qlin_interleave), so one relaxed i8 dot per vector
 * leaves each block's integer dot in its own lane with no transposes; the four scales convert to
 * f32 with one SIMD sequence (h2f4) instead of four table loads. Rows past the last multiple of
 * four keep the GGUF layout (qgemm_tile.c runs them).
 *
 * The products do the same integer dots and the same f32 operations in the same order as
 * qlinear.c's matrix-vector kernel (m = 1) and qgemm_tile.c (m ≥ 2): the bits are those of the
 * unrepacked weight in "ggml" mode, and of qlinear.c's f32 mode in "f32" mode.
 */
#include "qrepack.h"
#include "qgemm_tile.h"
#include "qlinear_k_util.h"

#pragma STDC FP_CONTRACT OFF


/* Bytes of one repacked group (4 rows × 4 blocks). */
#define QR_G 288
/* Activation rows per tile (the accumulators live on the stack: QR_MB·4 vectors). */
#define QR_MB 64
/* f32 mode: elements of a row decoded at a time (qlinear.c's QL_CHUNK). */
#define QR_CHUNK 512

#define NO_UNROLL _Pragma("clang loop unroll(disable)")
#define LO4(v) wasm_v128_and((v), wasm_i8x16_splat(0x0f))
#define HI4(v) wasm_v128_and(wasm_u16x8_shr((v), 4), wasm_i8x16_splat(0x0f))


/* Four halves at p as f32 lanes, bit for bit half.h's half_to_float_bits. */
INLINE v128_t h2f4(const uint8_t *p) {
  const v128_t h = wasm_u32x4_load16x4(p);
  const v128_t sign = wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_splat(0x8000)), 16);
  const v128_t em = wasm_v128_and(h, wasm_i32x4_splat(0x7fff));
  const v128_t fin = wasm_f32x4_mul(wasm_i32x4_shl(em, 13), wasm_f32x4_splat(0x1p112f));
  const v128_t spec = wasm_v128_or(wasm_i32x4_splat(0x7f800000),
                                   wasm_i32x4_shl(wasm_v128_and(em, wasm_i32x4_splat(0x3ff)), 13));
  const v128_t big = wasm_i32x4_gt(em, wasm_i32x4_splat(0x7bff));
  return wasm_v128_or(wasm_v128_bitselect(spec, fin, big), sign);
}

/*
 * Repack the first n & ~3 rows of the n×k Q4_0 matrix w (k a multiple of 128) in place; tmp holds
 * 4·row_bytes bytes. qunpack_q4_0 restores the GGUF layout.
 */
EXPORT("qrepack_q4_0") void qrepack_q4_0(uint8_t *w, int32_t n, int32_t k, uint8_t *tmp) {
  const size_t rb = (size_t)k / 32 * 18;
  for (int32_t R = 0; R < n / 4; R++) {
    uint8_t *blk = w + (size_t)R * 4 * rb;
    __builtin_memcpy(tmp, blk, 4 * rb);
    for (int32_t g = 0; g < k / 128; g++) {
      uint8_t *o = blk + (size_t)g * QR_G;
      for (int j = 0; j < 4; j++)
        for (int t = 0; t < 4; t++) {
          const uint8_t *b = tmp + j * rb + (size_t)(4 * g + t) * 18;
          o[2 * (4 * j + t)] = b[0], o[2 * (4 * j + t) + 1] = b[1];
          for (int i = 0; i < 16; i++) o[32 + 64 * j + 16 * (i / 4) + 4 * t + i % 4] = b[2 + i];
        }
    }
  }
}

/* The inverse of qrepack_q4_0 (same arguments). */
EXPORT("qunpack_q4_0") void qunpack_q4_0(uint8_t *w, int32_t n, int32_t k, uint8_t *tmp) {
  const size_t rb = (size_t)k / 32 * 18;
  for (int32_t R = 0; R < n / 4; R++) {
    uint8_t *blk = w + (size_t)R * 4 * rb;
    __builtin_memcpy(tmp, blk, 4 * rb);
    for (int32_t g = 0; g < k / 128; g++) {
      const uint8_t *o = tmp + (size_t)g * QR_G;
      for (int j = 0; j < 4; j++)
        for (int t = 0; t < 4; t++) {
          uint8_t *b = blk + j * rb + (size_t)(4 * g + t) * 18;
          b[0] = o[2 * (4 * j + t)], b[1] = o[2 * (4 * j + t) + 1];
          for (int i = 0; i < 16; i++) b[2 + i] = o[32 + 64 * j + 16 * (i / 4) + 4 * t + i % 4];
        }
    }
  }
}

/* Interleaved Q8_0 activations of a tile's first row; row r at + r·k, + r·nb, + r·nb. */
typedef struct {
  const int8_t *qs;
  const float *d;
  const int32_t *s;
  int32_t k, nb;
} racts_t;

/*
 * One activation row against the four rows of a repacked block (m = 1, the decode matvec): eight
 * dot chains (low and high nibbles apart), the nibbles split as they are loaded. y[0..3].
 */
__attribute__((noinline)) static void row1_r(const uint8_t *blk, const racts_t *A, float *y) {
  v128_t acc[4];
  for (int j = 0; j < 4; j++) acc[j] = wasm_f32x4_splat(0);
  for (int32_t g = 0; g < A->k / 128; g++) {
    const uint8_t *p = blk + (size_t)g * QR_G;
    const int8_t *a = A->qs + 128 * g;
    /* −8·Σa per block: the level offset (Σ a·(q − 8) = Σ a·q − 8·Σa) */
    const v128_t i0 = wasm_i32x4_neg(wasm_i32x4_shl(wasm_v128_load(A->s + 4 * g), 3));
    v128_t lo[4], hi[4];
    for (int j = 0; j < 4; j++) lo[j] = i0, hi[j] = wasm_i32x4_splat(0);
    NO_UNROLL for (int v = 0; v < 4; v++) {
      const v128_t x0 = wasm_v128_load(a + 16 * v), x1 = wasm_v128_load(a + 64 + 16 * v);
      for (int j = 0; j < 4; j++) {
        const v128_t q = wasm_v128_load(p + 32 + 64 * j + 16 * v);
        lo[j] = dpa(x0, LO4(q), lo[j]);
        hi[j] = dpa(x1, HI4(q), hi[j]);
      }
    }
    const v128_t da = wasm_v128_load(A->d + 4 * g);
    for (int j = 0; j < 4; j++)
      acc[j] = FMA_F32(wasm_f32x4_convert_i32x4(wasm_i32x4_add(lo[j], hi[j])),
                       wasm_f32x4_mul(h2f4(p + 8 * j), da), acc[j]);
  }
  for (int j = 0; j < 4; j++) y[j] = hsum(acc[j]);
}

/*
 * R (1 or 2) activation rows r, r + 1 against the split nibbles W[8j + v] of group g: the four
 * blocks' exact dots per row j, scaled into acc[row·4 + j] (qgemm_tile.c's rows32 for Q4_0).
 */
INLINE void rows_r(const v128_t *W, const v128_t *dw, const racts_t *A, int32_t g, int32_t r,
                   const int R, v128_t *acc) {
  const int8_t *a0 = A->qs + (size_t)r * A->k + 128 * g, *a1 = a0 + (R > 1 ? A->k : 0);
  const int32_t *s0 = A->s + (size_t)r * A->nb + 4 * g;
  const float *d0 = A->d + (size_t)r * A->nb + 4 * g;
  const v128_t i0 = wasm_i32x4_neg(wasm_i32x4_shl(wasm_v128_load(s0), 3));
  const v128_t i1 = R > 1 ? wasm_i32x4_neg(wasm_i32x4_shl(wasm_v128_load(s0 + A->nb), 3)) : i0;
  v128_t is0[4], is1[4];
  for (int j = 0; j < 4; j++) is0[j] = i0, is1[j] = i1;
  /* two vectors a pass: +2–4% over rolled at m = 128 (bench/qgemm_tile.ts), while four (or fully
     unrolled) let clang hoist the loads past V8's registers: −10% */
  _Pragma("clang loop unroll_count(2)") for (int v = 0; v < 8; v++) {
    const v128_t x0 = wasm_v128_load(a0 + 16 * v), x1 = wasm_v128_load(a1 + 16 * v);
    for (int j = 0; j < 4; j++) {
      const v128_t u = wasm_v128_load(W + 8 * j + v);
      is0[j] = dpa(x0, u, is0[j]);
      if (R > 1) is1[j] = dpa(x1, u, is1[j]);
    }
  }
  const v128_t da0 = wasm_v128_load(d0);
  for (int j = 0; j < 4; j++)
    acc[r * 4 + j] =
      FMA_F32(wasm_f32x4_convert_i32x4(is0[j]), wasm_f32x4_mul(dw[j], da0), acc[r * 4 + j]);
  if (R > 1) {
    const v128_t da1 = wasm_v128_load(d0 + A->nb);
    for (int j = 0; j < 4; j++)
      acc[(r + 1) * 4 + j] = FMA_F32(wasm_f32x4_convert_i32x4(is1[j]),
                                     wasm_f32x4_mul(dw[j], da1), acc[(r + 1) * 4 + j]);
  }
}

/* All mb rows against group g's split nibbles, two at a time (not inlined: see qgemm_tile.c). */
__attribute__((noinline)) static void rows_all(const v128_t *W, const v128_t *dw,
                                               const racts_t *A, int32_t g, int32_t mb,
                                               v128_t *acc) {
  int32_t r = 0;
  for (; r + 2 <= mb; r += 2) rows_r(W, dw, A, g, r, 2, acc);
  if (r < mb) rows_r(W, dw, A, g, r, 1, acc);
}

/* mb (2..QR_MB) activation rows against a repacked block of four rows: y[r·n + j]. */
__attribute__((noinline)) static void tile_r(const uint8_t *blk, const racts_t *A, int32_t mb,
                                             float *y, int32_t n) {
  v128_t acc[QR_MB * 4];
  for (int32_t t = 0; t < mb * 4; t++) acc[t] = wasm_f32x4_splat(0);
  for (int32_t g = 0; g < A->k / 128; g++) {
    const uint8_t *p = blk + (size_t)g * QR_G;
    v128_t W[32], dw[4];
    for (int j = 0; j < 4; j++) {
      for (int v = 0; v < 4; v++) {
        const v128_t q = wasm_v128_load(p + 32 + 64 * j + 16 * v);
        W[8 * j + v] = LO4(q), W[8 * j + v + 4] = HI4(q);
      }
      dw[j] = h2f4(p + 8 * j);
    }
    rows_all(W, dw, A, g, mb, acc);
  }
  for (int32_t r = 0; r < mb; r++)
    for (int j = 0; j < 4; j++) y[(size_t)r * n + j] = hsum(acc[r * 4 + j]);
}


/*
 * Elements [c0, c0 + len) of weight row j as f32 (c0, len multiples of 128): from its repacked
 * block when j < n4, else from the GGUF row.
 */
__attribute__((noinline)) static void decode_r(const uint8_t *w, size_t rb, int32_t n4, int32_t j,
                                               int32_t c0, int32_t len, float *restrict y) {
  if (j >= n4) {
    for (int32_t b = 0; b < len / 32; b++) {
      const uint8_t *x = w + (size_t)j * rb + 18 * (size_t)(c0 / 32 + b);
      const float d = h2f(x);
      for (int i = 0; i < 16; i++) {
        y[32 * b + i] = (float)((x[2 + i] & 15) - 8) * d;
        y[32 * b + 16 + i] = (float)((x[2 + i] >> 4) - 8) * d;
      }
    }
    return;
  }
  const uint8_t *blk = w + (size_t)(j / 4) * 4 * rb;
  const int jj = j % 4;
  for (int32_t g = c0 / 128; g < (c0 + len) / 128; g++) {
    const uint8_t *p = blk + (size_t)g * QR_G;
    for (int t = 0; t < 4; t++) {
      const float d = h2f(p + 2 * (4 * jj + t));
      float *o = y + 128 * (g - c0 / 128) + 32 * t;
      for (int i = 0; i < 16; i++) {
        const uint8_t q = p[32 + 64 * jj + 16 * (i / 4) + 4 * t + i % 4];
        o[i] = (float)((q & 15) - 8) * d;
        o[16 + i] = (float)((q >> 4) - 8) * d;
      }
    }
  }
}

#define IA(name) job->ia[IA_QLINEAR_##name]

/* A slot's column range moved to whole blocks of four (ranges stay a partition of [0, n)). */
INLINE int32_t align4(int32_t j, int32_t n4) { return j >= n4 ? j : (j + 3) & ~3; }

void qrepack_rows(pjob_t *job, int32_t j0, int32_t j1) {
  const int32_t m = IA(M), n = IA(N), k = IA(K), n4 = n & ~3;
  const size_t rb = (size_t)IA(ROW_BYTES);
  float *y = (float *)(uintptr_t)job->ptr[0];
  const uint8_t *w = (const uint8_t *)(uintptr_t)job->ptr[1];
  const int32_t a0 = align4(j0, n4), a1 = align4(j1, n4);
  if (IA(MODE) == QL_REPACK_F32) {
    const float *x = (const float *)(uintptr_t)job->ptr[2];
    float buf[QR_CHUNK] __attribute__((aligned(16)));
    for (int32_t j = a0; j < a1; j++)
      for (int32_t c = 0; c < k; c += QR_CHUNK) {
        const int32_t len = MIN(QR_CHUNK, k - c);
        decode_r(w, rb, n4, j, c, len, buf);
        for (int32_t i = 0; i < m; i++) {
          const float s = dot_f32(buf, x + (size_t)i * k + c, len);
          float *yi = y + (size_t)i * n + j;
          *yi = c == 0 ? s : *yi + s;
        }
      }
    return;
  }
  const racts_t A = {(const int8_t *)(uintptr_t)job->ptr[2], (const float *)(uintptr_t)job->ptr[3],
                     (const int32_t *)(uintptr_t)(uint32_t)IA(SUMS), k, k / 32};
  for (int32_t j = a0; j < MIN(a1, n4); j += 4) {
    const uint8_t *blk = w + (size_t)j * rb;
    for (int32_t i = 0; i < m; i += QR_MB) {
      racts_t Ai = A;
      Ai.qs += (size_t)i * k;
      Ai.d += (size_t)i * A.nb;
      Ai.s += (size_t)i * A.nb;
      const int32_t mb = MIN(QR_MB, m - i);
      if (mb == 1) {
        float o[4];
        row1_r(blk, &Ai, o);
        /* m = 1 is qlinear.c's matrix-vector kernel, which adds its (empty) tail: + 0 */
        for (int t = 0; t < 4; t++) y[(size_t)i * n + j + t] = m == 1 ? o[t] + 0.0f : o[t];
      } else {
        tile_r(blk, &Ai, mb, y + (size_t)i * n + j, n);
      }
    }
  }
  /* the rows past n4 keep the GGUF layout: qgemm_tile.c (its Q4_0 job fields are these) */
  if (a1 > MAX(a0, n4)) qgemm_tile_rows(job, MAX(a0, n4), a1);
}
