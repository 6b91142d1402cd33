/*
 * The f32 and f64 line kernels of the reductions (reduce.c includes this file once): sums in
 * blocks widened into f64 lanes, Neumaier-compensated f64 sums, NaN-propagating max/min, and the
 * contiguous f32 max+min pass that softmax uses. Static and inline: one translation unit, so the
 * built module is the same as with the functions written in place.
 */
#ifndef APRENDER_REDUCE_LINES_H
#define APRENDER_REDUCE_LINES_H
#include "vmath.h"
#include "vio.h"

/* ---- f32 lines ---- */

INLINE v128_t widen_hi_f32(v128_t v) {
  return wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v, v, 2, 3, 2, 3));
}

/*
 * Contiguous f32 sum: blocks of 256 elements in eight f32x4 accumulators (each lane adds 8
 * values), the accumulators added pairwise (3 levels), then the block's 4 lanes widened and added
 * into f64 lanes. Each element goes through at most 11 f32 roundings whatever n is (NumPy's
 * pairwise sum: ~19 + log2(n/128)), so it is at least as accurate as NumPy's, and the loop is one
 * load and one f32x4.add per 4 elements (load-bound), where widening every vector costs ~4 ops.
 */
#define SUM_BLOCK 256
/* Sums the whole blocks of x into *acc (f64 lanes); returns how many elements that covered. */
static int32_t sum_blocks_f32(const float *x, int32_t n, v128_t *acc) {
  v128_t t0 = S64(0), t1 = S64(0);
  int32_t i = 0;
  for (; i + SUM_BLOCK <= n; i += SUM_BLOCK) {
    const float *p = x + i;
    v128_t a0 = wasm_v128_load(p), a1 = wasm_v128_load(p + 4), a2 = wasm_v128_load(p + 8),
           a3 = wasm_v128_load(p + 12), a4 = wasm_v128_load(p + 16), a5 = wasm_v128_load(p + 20),
           a6 = wasm_v128_load(p + 24), a7 = wasm_v128_load(p + 28);
    for (int32_t j = 32; j < SUM_BLOCK; j += 32) {
      a0 = wasm_f32x4_add(a0, wasm_v128_load(p + j));
      a1 = wasm_f32x4_add(a1, wasm_v128_load(p + j + 4));
      a2 = wasm_f32x4_add(a2, wasm_v128_load(p + j + 8));
      a3 = wasm_f32x4_add(a3, wasm_v128_load(p + j + 12));
      a4 = wasm_f32x4_add(a4, wasm_v128_load(p + j + 16));
      a5 = wasm_f32x4_add(a5, wasm_v128_load(p + j + 20));
      a6 = wasm_f32x4_add(a6, wasm_v128_load(p + j + 24));
      a7 = wasm_f32x4_add(a7, wasm_v128_load(p + j + 28));
    }
    v128_t b = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_add(a0, a1), wasm_f32x4_add(a2, a3)),
                              wasm_f32x4_add(wasm_f32x4_add(a4, a5), wasm_f32x4_add(a6, a7)));
    t0 = wasm_f64x2_add(t0, wasm_f64x2_promote_low_f32x4(b));
    t1 = wasm_f64x2_add(t1, widen_hi_f32(b));
  }
  *acc = wasm_f64x2_add(t0, t1);
  return i;
}

static double sum_line_f32(const float *x, int32_t n, int32_t s, int kind) {
  v128_t a0 = S64(0), a1 = S64(0), a2 = S64(0), a3 = S64(0);
  int32_t i = 0;
  if (kind == 1) i = sum_blocks_f32(x, n, &a0);
  for (; i + 8 <= n; i += 8) {
    v128_t v = ld_f32(x + i * s, s, kind), w = ld_f32(x + (i + 4) * s, s, kind);
    a0 = wasm_f64x2_add(a0, wasm_f64x2_promote_low_f32x4(v));
    a1 = wasm_f64x2_add(a1, widen_hi_f32(v));
    a2 = wasm_f64x2_add(a2, wasm_f64x2_promote_low_f32x4(w));
    a3 = wasm_f64x2_add(a3, widen_hi_f32(w));
  }
  v128_t t = wasm_f64x2_add(wasm_f64x2_add(a0, a1), wasm_f64x2_add(a2, a3));
  double r = wasm_f64x2_extract_lane(t, 0) + wasm_f64x2_extract_lane(t, 1);
  for (; i < n; i++) r += x[i * s];
  return r;
}

/* max (is_max) or min, NaN-propagating. */
static double ext_line_f32(const float *x, int32_t n, int32_t s, int kind, int is_max) {
  const float init = is_max ? -__builtin_inff() : __builtin_inff();
  v128_t m0 = S32(init), m1 = S32(init), nan = wasm_i32x4_splat(0);
  int32_t i = 0;
  for (; i + 8 <= n; i += 8) {
    v128_t v = ld_f32(x + i * s, s, kind), w = ld_f32(x + (i + 4) * s, s, kind);
    nan = wasm_v128_or(nan, wasm_v128_or(wasm_f32x4_ne(v, v), wasm_f32x4_ne(w, w)));
    m0 = is_max ? wasm_f32x4_pmax(m0, v) : wasm_f32x4_pmin(m0, v);
    m1 = is_max ? wasm_f32x4_pmax(m1, w) : wasm_f32x4_pmin(m1, w);
  }
  float lanes[8] __attribute__((aligned(16)));
  wasm_v128_store(lanes, m0);
  wasm_v128_store(lanes + 4, m1);
  float r = init;
  int any_nan = wasm_v128_any_true(nan);
  for (int j = 0; j < 8; j++) r = is_max ? (lanes[j] > r ? lanes[j] : r) : (lanes[j] < r ? lanes[j] : r);
  for (; i < n; i++) {
    const float v = x[i * s];
    if (v != v) any_nan = 1;
    r = is_max ? (v > r ? v : r) : (v < r ? v : r);
  }
  return any_nan ? __builtin_nan("") : (double)r;
}

/*
 * Contiguous f32 max (like ext_line_f32) and, in *mn, the min (softmax uses it to know that every
 * x − max is ≥ −87, where exp_f32_nonpos applies). 16 elements per step; NaN is detected through
 * their sum, which is NaN iff one is NaN or inf − inf occurred: then the line is rescanned by
 * ext_line_f32 (exact NaN rule) and *mn = −inf.
 */
static float maxmin_contig_f32(const float *x, int32_t n, float *mn) {
  const float inf = __builtin_inff();
  v128_t M0 = S32(-inf), M1 = M0, M2 = M0, M3 = M0;
  v128_t N0 = S32(inf), N1 = N0, N2 = N0, N3 = N0, bad = wasm_i32x4_splat(0);
  int32_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const v128_t v0 = wasm_v128_load(x + i), v1 = wasm_v128_load(x + i + 4),
                 v2 = wasm_v128_load(x + i + 8), v3 = wasm_v128_load(x + i + 12);
    /* pmax/pmin keep their first operand when unordered: a NaN element never enters M or N. */
    M0 = wasm_f32x4_pmax(M0, v0);
    M1 = wasm_f32x4_pmax(M1, v1);
    M2 = wasm_f32x4_pmax(M2, v2);
    M3 = wasm_f32x4_pmax(M3, v3);
    N0 = wasm_f32x4_pmin(N0, v0);
    N1 = wasm_f32x4_pmin(N1, v1);
    N2 = wasm_f32x4_pmin(N2, v2);
    N3 = wasm_f32x4_pmin(N3, v3);
    const v128_t t = wasm_f32x4_add(wasm_f32x4_add(v0, v1), wasm_f32x4_add(v2, v3));
    bad = wasm_v128_or(bad, wasm_f32x4_ne(t, t));
  }
  float lanes[8] __attribute__((aligned(16)));
  wasm_v128_store(lanes, wasm_f32x4_pmax(wasm_f32x4_pmax(M0, M1), wasm_f32x4_pmax(M2, M3)));
  wasm_v128_store(lanes + 4, wasm_f32x4_pmin(wasm_f32x4_pmin(N0, N1), wasm_f32x4_pmin(N2, N3)));
  float m = -inf, lo = inf;
  for (int j = 0; j < 4; j++) {
    m = lanes[j] > m ? lanes[j] : m;
    lo = lanes[4 + j] < lo ? lanes[4 + j] : lo;
  }
  int nan = wasm_v128_any_true(bad);
  for (; i < n; i++) {
    const float v = x[i];
    if (v != v) nan = 1;
    m = v > m ? v : m;
    lo = v < lo ? v : lo;
  }
  if (nan) {
    *mn = -inf;
    return (float)ext_line_f32(x, n, 1, 1, 1);
  }
  *mn = lo;
  return m;
}

/* Whether every fl(x − m) of a line with max m and min mn is ≥ −87 (false for NaN or ±inf). */
INLINE int exp_nonpos_ok(float m, float mn) { return mn - m >= -87.0f; }

/* ---- f64 lines ---- */

static double sum_line_f64(const double *x, int32_t n, int32_t s, int kind) {
  /* Neumaier per lane: t = s + v; c += |s| >= |v| ? (s - t) + v : (v - t) + s */
  v128_t a0 = S64(0), c0 = S64(0), a1 = S64(0), c1 = S64(0);
  int32_t i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t v = ld_f64(x + i * s, s, kind), w = ld_f64(x + (i + 2) * s, s, kind);
    v128_t t = wasm_f64x2_add(a0, v);
    v128_t big = wasm_f64x2_ge(wasm_f64x2_abs(a0), wasm_f64x2_abs(v));
    c0 = wasm_f64x2_add(c0, wasm_v128_bitselect(wasm_f64x2_add(wasm_f64x2_sub(a0, t), v),
                                                wasm_f64x2_add(wasm_f64x2_sub(v, t), a0), big));
    a0 = t;
    t = wasm_f64x2_add(a1, w);
    big = wasm_f64x2_ge(wasm_f64x2_abs(a1), wasm_f64x2_abs(w));
    c1 = wasm_f64x2_add(c1, wasm_v128_bitselect(wasm_f64x2_add(wasm_f64x2_sub(a1, t), w),
                                                wasm_f64x2_add(wasm_f64x2_sub(w, t), a1), big));
    a1 = t;
  }
  double sv[5] = {wasm_f64x2_extract_lane(a0, 0), wasm_f64x2_extract_lane(a0, 1),
                  wasm_f64x2_extract_lane(a1, 0), wasm_f64x2_extract_lane(a1, 1), 0};
  double c = wasm_f64x2_extract_lane(c0, 0) + wasm_f64x2_extract_lane(c0, 1) +
             wasm_f64x2_extract_lane(c1, 0) + wasm_f64x2_extract_lane(c1, 1);
  double r = 0;
  for (int j = 0; j < 4; j++) {
    const double v = sv[j], t = r + v;
    c += __builtin_fabs(r) >= __builtin_fabs(v) ? (r - t) + v : (v - t) + r;
    r = t;
  }
  for (; i < n; i++) {
    const double v = x[i * s], t = r + v;
    c += __builtin_fabs(r) >= __builtin_fabs(v) ? (r - t) + v : (v - t) + r;
    r = t;
  }
  return __builtin_isfinite(r) ? r + c : r;
}

static double ext_line_f64(const double *x, int32_t n, int32_t s, int kind, int is_max) {
  const double init = is_max ? -__builtin_inf() : __builtin_inf();
  v128_t m0 = S64(init), m1 = S64(init), nan = wasm_i32x4_splat(0);
  int32_t i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t v = ld_f64(x + i * s, s, kind), w = ld_f64(x + (i + 2) * s, s, kind);
    nan = wasm_v128_or(nan, wasm_v128_or(wasm_f64x2_ne(v, v), wasm_f64x2_ne(w, w)));
    m0 = is_max ? wasm_f64x2_pmax(m0, v) : wasm_f64x2_pmin(m0, v);
    m1 = is_max ? wasm_f64x2_pmax(m1, w) : wasm_f64x2_pmin(m1, w);
  }
  double lanes[4] __attribute__((aligned(16)));
  wasm_v128_store(lanes, m0);
  wasm_v128_store(lanes + 2, m1);
  double r = init;
  int any_nan = wasm_v128_any_true(nan);
  for (int j = 0; j < 4; j++) r = is_max ? (lanes[j] > r ? lanes[j] : r) : (lanes[j] < r ? lanes[j] : r);
  for (; i < n; i++) {
    const double v = x[i * s];
    if (v != v) any_nan = 1;
    r = is_max ? (v > r ? v : r) : (v < r ? v : r);
  }
  return any_nan ? __builtin_nan("") : r;
}

#endif
