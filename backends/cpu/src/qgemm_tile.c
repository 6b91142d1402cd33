/*
 * quantLinear's "ggml" mode for several activation rows (prefill, batched decode) on Q4_0, Q8_0
 * and Q4_K weights: register-tiled integer dots with i32x4.relaxed_dot_i8x16_i7x16_add_s, which
 * V8 lowers to one vpdpbusd on CPUs with AVX-VNNI (bench/dot_ceiling.ts measures it).
 *
 * Layout: the dot's i32 lane l sums bytes 4l..4l+3, so four blocks (Q4_0/Q8_0: four 32-blocks;
 * Q4_K: four 32-element sub-blocks) are interleaved word by word, lane t holding block t: the
 * activations once per call (qlin_interleave, after qlin_quant), the weights while unpacking
 * (4×4 transposes of 32-bit words). A chain of eight dots then leaves each block's exact integer
 * dot in its own lane, with no horizontal sums, and the four blocks' scales apply in one f32
 * multiply-add, as qlinear.c does after its lane sums.
 *
 * Q4_0 and Q8_0 give the bits of qlinear.c's kernels (same lanes, same f32 operations in the same
 * order); Q4_K sums the same exact integers in other lanes (a sub-block per lane), so only the f32
 * rounding of the block sums differs.
 *
 * Tile: J = 4 weight rows (unpacked once per block group, into memory) × up to QG_MB activation
 * rows, looping over k outermost; the rows go two at a time, so each weight vector loaded serves
 * two activation rows and each activation vector four weight rows: eight independent dot chains,
 * enough to keep both dot pipes busy past the dot's latency. Q4_0's levels q − 8 and Q8_0's signed
 * levels are handled as unsigned operands (the i7 side of the dot): Σ a·(q − 8) = Σ a·q − 8·Σa
 * (Σa from the quantizer's block sums); Q8_0 as Σ |w|·(a·sign w) where a group has no −128 level,
 * else as int8 w = 16·h + l (l = w & 15, h signed): Σ a·w = 16·Σ a·(h + 8) + Σ a·l − 128·Σa.
 */
#include "qgemm_tile.h"
#include "qlinear_k_util.h"

#pragma STDC FP_CONTRACT OFF


/* Weight type codes (qlinear.c's QT_…). */
enum { QG_Q4_0 = 3, QG_Q8_0 = 4, QG_Q4_K = 5 };
/* Internal: Q8_0 by the sign trick (rows32), for groups without a −128 level. */
enum { QG_Q8S = 100 };
/* Activation rows per tile (the f32 accumulators live on the stack: QG_MB·4·2 vectors). */
#define QG_MB 64
/* Weight rows per tile. */
#define QG_J 4


/* o[v] lane t = in_t lane v (a 4×4 transpose of 32-bit words). */
INLINE void tr4(v128_t a, v128_t b, v128_t c, v128_t d, v128_t *o) {
  const v128_t ab0 = wasm_i32x4_shuffle(a, b, 0, 4, 1, 5), cd0 = wasm_i32x4_shuffle(c, d, 0, 4, 1, 5);
  const v128_t ab1 = wasm_i32x4_shuffle(a, b, 2, 6, 3, 7), cd1 = wasm_i32x4_shuffle(c, d, 2, 6, 3, 7);
  o[0] = wasm_i64x2_shuffle(ab0, cd0, 0, 2);
  o[1] = wasm_i64x2_shuffle(ab0, cd0, 1, 3);
  o[2] = wasm_i64x2_shuffle(ab1, cd1, 0, 2);
  o[3] = wasm_i64x2_shuffle(ab1, cd1, 1, 3);
}

/*
 * Keep a dot loop rolled: unrolled, clang's wasm backend (which does not model registers) hoists
 * all of its loads to the top, and V8 then spills most of the 48 live vectors: half the dot
 * throughput (bench/dot_ceiling-style measurement: 55 vs 85–91 MAC/ns for 2 × 4 chains).
 */
#define NO_UNROLL _Pragma("clang loop unroll(disable)")

#define LO4(v) wasm_v128_and((v), wasm_i8x16_splat(0x0f))
#define HI4(v) wasm_v128_and(wasm_u16x8_shr((v), 4), wasm_i8x16_splat(0x0f))

/* Quantized, interleaved activations of the tile's first row; row r at + r·k, + r·nd, + r·ns. */
typedef struct {
  const int8_t *qs;
  const float *d;
  const int32_t *s;
  int32_t k, nd, ns;
} gacts_t;

/*
 * R (1 or 2) activation rows r, r + 1 against J unpacked weight rows of group g (tile32): the
 * group's exact block dots, their scales applied into acc[row·J + j].
 */
INLINE void rows32(const int T, const int J, const v128_t *W, const v128_t *H, const v128_t *dw,
                   const gacts_t *A, int32_t g, int32_t r, const int R, v128_t *acc) {
  const int8_t *a0 = A->qs + (size_t)r * A->k + 128 * g, *a1 = a0 + (R > 1 ? A->k : 0);
  const int32_t *s0 = A->s + (size_t)r * A->ns + 4 * g;
  const float *d0 = A->d + (size_t)r * A->nd + 4 * g;
  /* −8·Σa per block: Q4_0's level offset; Q8_0's −128·Σa once the h dots are scaled by 16 */
  const v128_t i0 = T == QG_Q8S ? wasm_i32x4_splat(0)
                                : wasm_i32x4_neg(wasm_i32x4_shl(wasm_v128_load(s0), 3));
  const v128_t i1 = R > 1 && T != QG_Q8S
                      ? wasm_i32x4_neg(wasm_i32x4_shl(wasm_v128_load(s0 + A->ns), 3))
                      : i0;
  v128_t is0[QG_J], is1[QG_J];
  for (int j = 0; j < J; j++) is0[j] = i0, is1[j] = i1;
  if (T == QG_Q8S) {
    /* Q8_0 with no −128 level in the group: Σ a·w = Σ |w|·(a·sign w), |w| ≤ 127 the unsigned
       operand, a·sign w = (a ^ m) − m with m = (w < 0 ? −1 : 0) (|a| ≤ 127: no overflow); one dot
       and two cheap ops instead of two dots */
    NO_UNROLL for (int v = 0; v < 8; v++) {
      const v128_t x0 = wasm_v128_load(a0 + 16 * v), x1 = wasm_v128_load(a1 + 16 * v);
      for (int j = 0; j < J; j++) {
        const v128_t u = wasm_v128_load(W + 8 * j + v), m = wasm_v128_load(H + 8 * j + v);
        is0[j] = dpa(wasm_i8x16_sub(wasm_v128_xor(x0, m), m), u, is0[j]);
        if (R > 1) is1[j] = dpa(wasm_i8x16_sub(wasm_v128_xor(x1, m), m), u, is1[j]);
      }
    }
  } else {
  if (T == QG_Q8_0) {
    NO_UNROLL for (int v = 0; v < 8; v++) {
      const v128_t x0 = wasm_v128_load(a0 + 16 * v), x1 = wasm_v128_load(a1 + 16 * v);
      for (int j = 0; j < J; j++) {
        const v128_t h = wasm_v128_load(H + 8 * j + v);
        is0[j] = dpa(x0, h, is0[j]);
        if (R > 1) is1[j] = dpa(x1, h, is1[j]);
      }
    }
    for (int j = 0; j < J; j++) is0[j] = wasm_i32x4_shl(is0[j], 4), is1[j] = wasm_i32x4_shl(is1[j], 4);
  }
  NO_UNROLL for (int v = 0; v < 8; v++) {
    const v128_t x0 = wasm_v128_load(a0 + 16 * v), x1 = wasm_v128_load(a1 + 16 * v);
    for (int j = 0; j < J; j++) {
      const v128_t u = wasm_v128_load(W + 8 * j + v);
      is0[j] = dpa(x0, u, is0[j]);
      if (R > 1) is1[j] = dpa(x1, u, is1[j]);
    }
  }
  }
  const v128_t da0 = wasm_v128_load(d0);
  for (int j = 0; j < J; j++)
    acc[r * J + j] = FMA_F32(wasm_f32x4_convert_i32x4(is0[j]), wasm_f32x4_mul(dw[j], da0),
                             acc[r * J + j]);
  if (R > 1) {
    const v128_t da1 = wasm_v128_load(d0 + A->nd);
    for (int j = 0; j < J; j++)
      acc[(r + 1) * J + j] = FMA_F32(wasm_f32x4_convert_i32x4(is1[j]), wasm_f32x4_mul(dw[j], da1),
                                     acc[(r + 1) * J + j]);
  }
}

/*
 * All mb rows of a tile against its unpacked group, two at a time. Not inlined: the unpacked
 * weights then stay in memory (W, H: the caller's stack), loaded at each use, instead of 32–64
 * long-lived wasm locals that V8's register allocator spills and shuffles.
 */
#define ROWS_FN(N, T, J)                                                                       \
  __attribute__((noinline)) static void N(const v128_t *W, const v128_t *H, const v128_t *dw,  \
                                          const gacts_t *A, int32_t g, int32_t mb, v128_t *acc) { \
    int32_t r = 0;                                                                             \
    for (; r + 2 <= mb; r += 2) rows32(T, J, W, H, dw, A, g, r, 2, acc);                       \
    if (r < mb) rows32(T, J, W, H, dw, A, g, r, 1, acc);                                       \
  }
ROWS_FN(rows_q4_0_4, QG_Q4_0, 4)
ROWS_FN(rows_q4_0_1, QG_Q4_0, 1)
ROWS_FN(rows_q8_0_4, QG_Q8_0, 4)
ROWS_FN(rows_q8_0_1, QG_Q8_0, 1)
ROWS_FN(rows_q8s_4, QG_Q8S, 4)
ROWS_FN(rows_q8s_1, QG_Q8S, 1)

/*
 * Q4_0 (T = QG_Q4_0) or Q8_0 weights × Q8_0 activations: J weight rows from w (row stride rb),
 * mb activation rows; y[r·n + j].
 */
INLINE void tile32(const int T, const int J, const uint8_t *w, int32_t rb, const gacts_t *A,
                   int32_t mb, float *y, int32_t n) {
  const int32_t B = T == QG_Q4_0 ? 18 : 34;
  v128_t acc[QG_MB * QG_J];
  for (int32_t t = 0; t < mb * J; t++) acc[t] = wasm_f32x4_splat(0);
  for (int32_t g = 0; g < A->k / 128; g++) {
    /* W[j][v]: vector v of the four blocks' levels (lane t: block t, elements 4v..4v+3); Q8_0
       also H[j][v], the high nibbles + 8 (signed nibble h as h + 8 = nibble ^ 8) */
    v128_t W[QG_J][8], H[QG_J][8], dw[QG_J];
    v128_t lo128 = wasm_i32x4_splat(0);
    for (int j = 0; j < J; j++) {
      const uint8_t *p = w + (size_t)j * rb + (size_t)g * 4 * B;
      dw[j] = wasm_f32x4_make(h2f(p), h2f(p + B), h2f(p + 2 * B), h2f(p + 3 * B));
      v128_t t0[4], t1[4];
      tr4(wasm_v128_load(p + 2), wasm_v128_load(p + B + 2), wasm_v128_load(p + 2 * B + 2),
          wasm_v128_load(p + 3 * B + 2), t0);
      if (T == QG_Q4_0) {
        for (int v = 0; v < 4; v++) W[j][v] = LO4(t0[v]), W[j][v + 4] = HI4(t0[v]);
      } else {
        tr4(wasm_v128_load(p + 18), wasm_v128_load(p + B + 18), wasm_v128_load(p + 2 * B + 18),
            wasm_v128_load(p + 3 * B + 18), t1);
        /* the sign form: |w| and w's sign mask (H) */
        for (int v = 0; v < 8; v++) {
          const v128_t q = v < 4 ? t0[v] : t1[v - 4];
          lo128 = wasm_v128_or(lo128, wasm_i8x16_eq(q, wasm_i8x16_splat(-128)));
          W[j][v] = wasm_i8x16_abs(q);
          H[j][v] = wasm_i8x16_lt(q, wasm_i32x4_splat(0));
        }
      }
    }
    if (T == QG_Q4_0) {
      (J == QG_J ? rows_q4_0_4 : rows_q4_0_1)(&W[0][0], &H[0][0], dw, A, g, mb, acc);
    } else if (!wasm_v128_any_true(lo128)) {
      (J == QG_J ? rows_q8s_4 : rows_q8s_1)(&W[0][0], &H[0][0], dw, A, g, mb, acc);
    } else {
      /* a −128 level (|w| is no 7-bit operand): nibbles, w = 16·h + l, as the i7 operands */
      for (int j = 0; j < J; j++) {
        const uint8_t *p = w + (size_t)j * rb + (size_t)g * 4 * B;
        v128_t t0[4], t1[4];
        tr4(wasm_v128_load(p + 2), wasm_v128_load(p + B + 2), wasm_v128_load(p + 2 * B + 2),
            wasm_v128_load(p + 3 * B + 2), t0);
        tr4(wasm_v128_load(p + 18), wasm_v128_load(p + B + 18), wasm_v128_load(p + 2 * B + 18),
            wasm_v128_load(p + 3 * B + 18), t1);
        for (int v = 0; v < 4; v++) {
          W[j][v] = LO4(t0[v]), W[j][v + 4] = LO4(t1[v]);
          H[j][v] = wasm_v128_xor(HI4(t0[v]), wasm_i8x16_splat(8));
          H[j][v + 4] = wasm_v128_xor(HI4(t1[v]), wasm_i8x16_splat(8));
        }
      }
      (J == QG_J ? rows_q8_0_4 : rows_q8_0_1)(&W[0][0], &H[0][0], dw, A, g, mb, acc);
    }
  }
  for (int32_t r = 0; r < mb; r++)
    for (int j = 0; j < J; j++) y[(size_t)r * n + j] = hsum(acc[r * J + j]);
}

/* Q4_K: one block's unpacked weights per weight row (tile_q4_k), in memory. */
typedef struct {
  v128_t L[QG_J * 8], H[QG_J * 8], scl[QG_J], sch[QG_J], mn[QG_J], dv[QG_J], dmv[QG_J];
} kblock_t;

/*
 * R (1 or 2) activation rows r, r + 1 against J unpacked Q4_K rows of block b: sub-block dots
 * (low nibbles, then high), their 6-bit scales and mins, into acc / macc[row·J + j].
 */
INLINE void rowsk(const int J, const kblock_t *K, const gacts_t *A, int32_t b, int32_t r,
                  const int R, v128_t *acc, v128_t *macc, v128_t *ib) {
  const v128_t one = wasm_i16x8_splat(1);
  const int8_t *a0 = A->qs + (size_t)r * A->k + 256 * b, *a1 = a0 + (R > 1 ? A->k : 0);
  v128_t h0[QG_J], h1[QG_J];
  for (int j = 0; j < J; j++) h0[j] = h1[j] = wasm_i32x4_splat(0);
  NO_UNROLL for (int v = 0; v < 8; v++) {
    const v128_t x0 = wasm_v128_load(a0 + 16 * v), x1 = wasm_v128_load(a1 + 16 * v);
    for (int j = 0; j < J; j++) {
      const v128_t u = K->L[8 * j + v];
      h0[j] = dpa(x0, u, h0[j]);
      if (R > 1) h1[j] = dpa(x1, u, h1[j]);
    }
  }
  for (int j = 0; j < J; j++) {
    /* the low sub-blocks' scaled dots wait in memory: kept in locals through the next loop,
       V8 spills the loop's chains instead */
    ib[r * J + j] = wasm_i32x4_mul(h0[j], K->scl[j]);
    if (R > 1) ib[(r + 1) * J + j] = wasm_i32x4_mul(h1[j], K->scl[j]);
    h0[j] = h1[j] = wasm_i32x4_splat(0);
  }
  NO_UNROLL for (int v = 0; v < 8; v++) {
    const v128_t x0 = wasm_v128_load(a0 + 128 + 16 * v), x1 = wasm_v128_load(a1 + 128 + 16 * v);
    for (int j = 0; j < J; j++) {
      const v128_t u = K->H[8 * j + v];
      h0[j] = dpa(x0, u, h0[j]);
      if (R > 1) h1[j] = dpa(x1, u, h1[j]);
    }
  }
  for (int q = 0; q < R; q++) {
    const int32_t *bs = A->s + (size_t)(r + q) * A->ns + 16 * b;
    /* Σa per sub-block of 32 (|Σ| ≤ 4096: exact in i16) */
    const v128_t b0 = wasm_i16x8_narrow_i32x4(wasm_v128_load(bs), wasm_v128_load(bs + 4));
    const v128_t b1 = wasm_i16x8_narrow_i32x4(wasm_v128_load(bs + 8), wasm_v128_load(bs + 12));
    const v128_t bs32 =
      wasm_i16x8_narrow_i32x4(wasm_i32x4_dot_i16x8(b0, one), wasm_i32x4_dot_i16x8(b1, one));
    const v128_t da = wasm_f32x4_splat(A->d[(size_t)(r + q) * A->nd + b]);
    for (int j = 0; j < J; j++) {
      const v128_t is =
        wasm_i32x4_add(ib[(r + q) * J + j], wasm_i32x4_mul(q ? h1[j] : h0[j], K->sch[j]));
      const v128_t ms = wasm_i32x4_dot_i16x8(K->mn[j], bs32);
      const int32_t t = (r + q) * J + j;
      acc[t] = FMA_F32(wasm_f32x4_convert_i32x4(is), wasm_f32x4_mul(K->dv[j], da), acc[t]);
      macc[t] = FMA_F32(wasm_f32x4_convert_i32x4(ms), wasm_f32x4_mul(K->dmv[j], da), macc[t]);
    }
  }
}

/* All mb rows of a Q4_K tile against its unpacked block, two at a time (see ROWS_FN). */
#define ROWSK_FN(N, J)                                                                         \
  __attribute__((noinline)) static void N(const kblock_t *K, const gacts_t *A, int32_t b,      \
                                          int32_t mb, v128_t *acc, v128_t *macc, v128_t *ib) { \
    int32_t r = 0;                                                                             \
    for (; r + 2 <= mb; r += 2) rowsk(J, K, A, b, r, 2, acc, macc, ib);                        \
    if (r < mb) rowsk(J, K, A, b, r, 1, acc, macc, ib);                                        \
  }
ROWSK_FN(rows_q4_k_4, 4)
ROWSK_FN(rows_q4_k_1, 1)

/*
 * Q4_K weights × Q8_K activations. Lanes: sub-blocks 0, 2, 4, 6 (the low nibbles of the four
 * 32-byte chunks) in the first eight vectors of a block, 1, 3, 5, 7 (high nibbles) in the next.
 */
INLINE void tile_q4_k(const int J, const uint8_t *w, int32_t rb, const gacts_t *A, int32_t mb,
                      float *y, int32_t n) {
  v128_t acc[QG_MB * QG_J], macc[QG_MB * QG_J], ib[QG_MB * QG_J];
  for (int32_t t = 0; t < mb * J; t++) acc[t] = macc[t] = wasm_f32x4_splat(0);
  kblock_t K;
  for (int32_t b = 0; b < A->k / 256; b++) {
    for (int j = 0; j < J; j++) {
      const uint8_t *p = w + (size_t)j * rb + (size_t)b * 144;
      v128_t t[8];
      tr4(wasm_v128_load(p + 16), wasm_v128_load(p + 48), wasm_v128_load(p + 80),
          wasm_v128_load(p + 112), t);
      tr4(wasm_v128_load(p + 32), wasm_v128_load(p + 64), wasm_v128_load(p + 96),
          wasm_v128_load(p + 128), t + 4);
      for (int v = 0; v < 8; v++) K.L[8 * j + v] = LO4(t[v]), K.H[8 * j + v] = HI4(t[v]);
      int32_t sc[8], m[8];
      for (int s = 0; s < 8; s++) scale_min_k4(s, p + 4, &sc[s], &m[s]);
      K.scl[j] = wasm_i32x4_make(sc[0], sc[2], sc[4], sc[6]);
      K.sch[j] = wasm_i32x4_make(sc[1], sc[3], sc[5], sc[7]);
      K.mn[j] = wasm_i16x8_make((int16_t)m[0], (int16_t)m[1], (int16_t)m[2], (int16_t)m[3],
                                (int16_t)m[4], (int16_t)m[5], (int16_t)m[6], (int16_t)m[7]);
      K.dv[j] = wasm_f32x4_splat(h2f(p));
      K.dmv[j] = wasm_f32x4_splat(h2f(p + 2));
    }
    (J == QG_J ? rows_q4_k_4 : rows_q4_k_1)(&K, A, b, mb, acc, macc, ib);
  }
  for (int32_t r = 0; r < mb; r++)
    for (int j = 0; j < J; j++)
      y[(size_t)r * n + j] = hsum(acc[r * J + j]) - hsum(macc[r * J + j]);
}

/* Separate functions per shape, optimized by V8 at their first call (see qlinear.c's ROW_FNS). */
#define TILE_FNS(N, CALL)                                                                      \
  __attribute__((noinline)) static void N##_4(const uint8_t *w, int32_t rb, const gacts_t *A, \
                                              int32_t mb, float *y, int32_t n) {               \
    CALL(QG_J, w, rb, A, mb, y, n);                                                            \
  }                                                                                            \
  __attribute__((noinline)) static void N##_1(const uint8_t *w, int32_t rb, const gacts_t *A, \
                                              int32_t mb, float *y, int32_t n) {               \
    CALL(1, w, rb, A, mb, y, n);                                                               \
  }
#define T_Q4_0(J, w, rb, A, mb, y, n) tile32(QG_Q4_0, J, w, rb, A, mb, y, n)
#define T_Q8_0(J, w, rb, A, mb, y, n) tile32(QG_Q8_0, J, w, rb, A, mb, y, n)
TILE_FNS(tq4_0, T_Q4_0)
TILE_FNS(tq8_0, T_Q8_0)
TILE_FNS(tq4_k, tile_q4_k)

typedef void (*tile_fn)(const uint8_t *, int32_t, const gacts_t *, int32_t, float *, int32_t);

#define IA(name) job->ia[IA_QLINEAR_##name]

void qgemm_tile_rows(pjob_t *job, int32_t j0, int32_t j1) {
  const int32_t t = IA(WTYPE), m = IA(M), n = IA(N), k = IA(K), rb = IA(ROW_BYTES);
  const int32_t qk = t == QG_Q4_K ? 256 : 32, sk = t == QG_Q4_K ? 16 : 32;
  tile_fn f4 = t == QG_Q4_0 ? tq4_0_4 : t == QG_Q8_0 ? tq8_0_4 : tq4_k_4;
  tile_fn f1 = t == QG_Q4_0 ? tq4_0_1 : t == QG_Q8_0 ? tq8_0_1 : tq4_k_1;
  float *y = (float *)(uintptr_t)job->ptr[0];
  const uint8_t *w = (const uint8_t *)(uintptr_t)job->ptr[1];
  const gacts_t A = {(const int8_t *)(uintptr_t)job->ptr[2], (const float *)(uintptr_t)job->ptr[3],
                     (const int32_t *)(uintptr_t)(uint32_t)IA(SUMS), k, k / qk, k / sk};
  for (int32_t j = j0; j < j1;) {
    const int J = j1 - j >= QG_J ? QG_J : 1;
    for (int32_t i = 0; i < m; i += QG_MB) {
      gacts_t Ai = A;
      Ai.qs += (size_t)i * k;
      Ai.d += (size_t)i * A.nd;
      Ai.s += (size_t)i * A.ns;
      (J == QG_J ? f4 : f1)(w + (size_t)j * rb, rb, &Ai, MIN(QG_MB, m - i), y + (size_t)i * n + j, n);
    }
    j += J;
  }
}

/*
 * Interleave quantized activations in place for the tiled kernels (total levels, a multiple of
 * the group): kind 0 (Q8_0, groups of four 32-blocks): word 4v + t ← word 8t + v (v < 8, t < 4);
 * kind 1 (Q8_K, 256-blocks): word 4v + c ← word 16c + v and word 32 + 4v + c ← 16c + 8 + v.
 */
EXPORT("qlin_interleave") void qlin_interleave(int8_t *qs, int32_t total, int32_t kind) {
  const int32_t G = kind ? 256 : 128;
  uint32_t in[64], out[64];
  for (int32_t g = 0; g < total / G; g++) {
    int8_t *p = qs + (size_t)g * G;
    __builtin_memcpy(in, p, (size_t)G);
    for (int v = 0; v < 8; v++)
      for (int c = 0; c < 4; c++) {
        if (kind) {
          out[4 * v + c] = in[16 * c + v];
          out[32 + 4 * v + c] = in[16 * c + 8 + v];
        } else {
          out[4 * v + c] = in[8 * c + v];
        }
      }
    __builtin_memcpy(p, out, (size_t)G);
  }
}
