/*
 * The special functions of the elementwise kernels (elementwise.c includes this file once, after
 * its op enums, which the functions below switch on): expm1/log1p/softplus from exp and log,
 * log2, f32 lanes through f64 functions, sin/cos/tan with Payne–Hanek reduction, atan/asin/acos,
 * erf and exact gelu, atan2 and pow, and the scalar floorDiv/mod/pow rows. Static and inline:
 * one translation unit, so the built module is the same as with the functions written in place.
 */
#ifndef APRENDER_EW_MATH_H
#define APRENDER_EW_MATH_H
#include "vmath.h"
#include "rempio2.h"
/* ---- expm1, log1p and softplus from exp and log ---- */

/*
 * expm1(x) = (u − 1)·x / log u with u = exp(x) for |x| < 2 (Kahan): the ratio is evaluated at the
 * u actually computed, so the cancellation in u − 1 does not cost digits; u = 1 gives x, u = 0
 * gives −1; beyond, u − 1 itself.
 * log1p(x) = log(u)·x / (u − 1) with u = 1 + x (Goldberg), x where u = 1.
 */
#define DEFINE_EXPLOG1(SFX, V, SPL)                                                            \
  INLINE v128_t expm1_##SFX(v128_t x) {                                                        \
    const v128_t u = exp_##SFX(x), um1 = wasm_##V##_sub(u, SPL(1));                            \
    v128_t r = wasm_##V##_div(wasm_##V##_mul(um1, x), log_##SFX(u));                           \
    r = wasm_v128_bitselect(x, r, wasm_##V##_eq(u, SPL(1)));                                   \
    r = wasm_v128_bitselect(SPL(-1), r, wasm_##V##_eq(um1, SPL(-1)));                          \
    /* |x| ≥ 2: u − 1 loses nothing (and (u − 1)·x could overflow) */                          \
    return wasm_v128_bitselect(um1, r, wasm_##V##_ge(wasm_##V##_abs(x), SPL(2)));              \
  }                                                                                            \
  INLINE v128_t log1p_##SFX(v128_t x) {                                                        \
    const v128_t u = wasm_##V##_add(x, SPL(1)), d = wasm_##V##_sub(u, SPL(1));                 \
    v128_t r = wasm_##V##_mul(log_##SFX(u), wasm_##V##_div(x, d));                             \
    r = wasm_v128_bitselect(x, r, wasm_##V##_eq(d, SPL(0)));                                   \
    return wasm_v128_bitselect(u, r, wasm_##V##_eq(u, SPL(__builtin_inf())));                  \
  }                                                                                            \
  /* sinh, cosh of |x| through h = e^(|x|/2): h·h/2 ∓ 1/(2h·h) never overflows before the result  \
     does; sinh below |x| = 1 from expm1: (t + t/(t + 1))/2, t = expm1(|x|); sign copied. */     \
  INLINE v128_t sinh_##SFX(v128_t x) {                                                         \
    const v128_t ax = wasm_##V##_abs(x), h = exp_##SFX(wasm_##V##_mul(ax, SPL(0.5)));          \
    const v128_t big = wasm_##V##_sub(wasm_##V##_mul(wasm_##V##_mul(h, SPL(0.5)), h),          \
                                      wasm_##V##_div(SPL(0.5), wasm_##V##_mul(h, h)));         \
    const v128_t t = expm1_##SFX(ax);                                                          \
    const v128_t small = wasm_##V##_mul(                                                       \
        SPL(0.5), wasm_##V##_add(t, wasm_##V##_div(t, wasm_##V##_add(t, SPL(1)))));            \
    const v128_t r = wasm_v128_bitselect(small, big, wasm_##V##_lt(ax, SPL(1)));               \
    return wasm_v128_or(r, wasm_v128_and(x, SPL(-0.0)));                                       \
  }                                                                                            \
  INLINE v128_t cosh_##SFX(v128_t x) {                                                         \
    const v128_t h = exp_##SFX(wasm_##V##_mul(wasm_##V##_abs(x), SPL(0.5)));                   \
    return wasm_##V##_add(wasm_##V##_mul(wasm_##V##_mul(h, SPL(0.5)), h),                      \
                          wasm_##V##_div(SPL(0.5), wasm_##V##_mul(h, h)));                     \
  }                                                                                            \
  /* log(1 + e^z) = max(z, 0) + log1p(e^−|z|), without overflow */                             \
  INLINE v128_t softplus1_##SFX(v128_t z) {                                                    \
    return wasm_##V##_add(wasm_##V##_max(z, SPL(0)),                                           \
                          log1p_##SFX(exp_##SFX(wasm_##V##_neg(wasm_##V##_abs(z)))));          \
  }                                                                                            \
  /* logaddexp (NumPy's npy_logaddexp): a + ln 2 where a == b (equal infinities too), else      \
     max(a, b) + log1p(e^−|a − b|); a NaN propagates through |a − b|. */                        \
  INLINE v128_t logaddexp_##SFX(v128_t a, v128_t b) {                                          \
    const v128_t e = exp_##SFX(wasm_##V##_neg(wasm_##V##_abs(wasm_##V##_sub(a, b))));          \
    const v128_t r = wasm_##V##_add(wasm_##V##_max(a, b), log1p_##SFX(e));                     \
    return wasm_v128_bitselect(wasm_##V##_add(a, SPL(0.693147180559945309417)), r,             \
                               wasm_##V##_eq(a, b));                                           \
  }
DEFINE_EXPLOG1(f32, f32x4, S32)
DEFINE_EXPLOG1(f64, f64x2, S64)

/* log2 = log·log2(e) (≤ 3 ulp), and exactly the exponent for powers of two (normal x). */
INLINE v128_t log2_f32(v128_t x) {
  const v128_t r = wasm_f32x4_mul(log_f32(x), wasm_f32x4_splat(1.4426950408889634f));
  const v128_t eb = wasm_u32x4_shr(x, 23); /* sign bit included: negative x ≥ 256 */
  const v128_t exact = wasm_v128_and(
      wasm_i32x4_eq(wasm_v128_and(x, wasm_i32x4_splat(0x7FFFFF)), wasm_i32x4_splat(0)),
      wasm_v128_and(wasm_i32x4_gt(eb, wasm_i32x4_splat(0)), wasm_i32x4_lt(eb, wasm_i32x4_splat(255))));
  const v128_t e = wasm_f32x4_convert_i32x4(wasm_i32x4_sub(eb, wasm_i32x4_splat(127)));
  return wasm_v128_bitselect(e, r, exact);
}
INLINE v128_t log2_f64(v128_t x) {
  const v128_t r = wasm_f64x2_mul(log_f64(x), wasm_f64x2_splat(1.4426950408889634));
  const v128_t eb = wasm_u64x2_shr(x, 52);
  const v128_t exact = wasm_v128_and(
      wasm_i64x2_eq(wasm_v128_and(x, wasm_i64x2_splat(0xFFFFFFFFFFFFFLL)), wasm_i64x2_splat(0)),
      wasm_v128_and(wasm_i64x2_gt(eb, wasm_i64x2_splat(0)), wasm_i64x2_lt(eb, wasm_i64x2_splat(2047))));
  const v128_t k = wasm_i64x2_sub(eb, wasm_i64x2_splat(1023));
  const v128_t e = wasm_f64x2_convert_low_i32x4(wasm_i32x4_shuffle(k, k, 0, 2, 0, 2));
  return wasm_v128_bitselect(e, r, exact);
}

/* ---- f32 lanes through f64 functions: each half widened, computed, the four rounded once ---- */

INLINE v128_t lo_f64(v128_t x) { return wasm_f64x2_promote_low_f32x4(x); }
INLINE v128_t hi_f64(v128_t x) {
  return wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(x, x, 2, 3, 2, 3));
}
INLINE v128_t to_f32(v128_t lo, v128_t hi) {
  return wasm_i32x4_shuffle(wasm_f32x4_demote_f64x2_zero(lo), wasm_f32x4_demote_f64x2_zero(hi), 0,
                            1, 4, 5);
}
/* NAME_f32(op, x) from NAME_f64(op, x) */
#define VIA_F64(NAME)                                                                          \
  INLINE v128_t NAME##_f32(int op, v128_t x) {                                                 \
    return to_f32(NAME##_f64(op, lo_f64(x)), NAME##_f64(op, hi_f64(x)));                       \
  }

/* ---- sin, cos, tan ---- */

/* The Payne–Hanek reduction, out of line: it runs on rare lanes, and inlined into every row
   variant it would bloat them. */
__attribute__((noinline)) static int rem_pio2_lane(double x, double *r) {
  return rem_pio2_large(x, r);
}

/*
 * In f64 lanes (f32 data is widened, computed and rounded once): x reduced by n·π/2 with π/2 in
 * three 33-bit parts (fdlibm's pio2_1, pio2_2, pio2_3, each n·part exact for |n| < 2^20), then
 * fdlibm's sin/cos kernels on [−π/4, π/4] and the quadrant n mod 4; tan = sin/cos. That
 * reduction holds for |x| ≤ TRIG_MAX; lanes with a larger finite |x| are reduced one at a time by
 * rempio2.h's Payne–Hanek reduction (r correctly rounded), and ±inf gives NaN through r.
 */
#define TRIG_MAX 1e5
INLINE v128_t trig_f64(int op, v128_t x) {
  v128_t n = wasm_f64x2_nearest(wasm_f64x2_mul(x, S64(6.36619772367581382433e-01)));
  v128_t r = wasm_f64x2_sub(x, wasm_f64x2_mul(n, S64(1.57079632673412561417e+00)));
  r = wasm_f64x2_sub(r, wasm_f64x2_mul(n, S64(6.07710050630396597660e-11)));
  r = wasm_f64x2_sub(r, wasm_f64x2_mul(n, S64(2.02226624871116645580e-21)));
  r = wasm_f64x2_sub(r, wasm_f64x2_mul(n, S64(8.47842766036889956997e-32)));
  const v128_t ax = wasm_f64x2_abs(x);
  if (wasm_v128_any_true(wasm_v128_and(wasm_f64x2_gt(ax, S64(TRIG_MAX)),
                                       wasm_f64x2_lt(ax, S64(__builtin_inf()))))) {
    double xl[2], nl[2], rl[2];
    wasm_v128_store(xl, x);
    wasm_v128_store(nl, n);
    wasm_v128_store(rl, r);
    for (int l = 0; l < 2; l++) {
      const double a = __builtin_fabs(xl[l]);
      if (a > TRIG_MAX && a < __builtin_inf()) nl[l] = rem_pio2_lane(xl[l], &rl[l]);
    }
    n = wasm_v128_load(nl);
    r = wasm_v128_load(rl);
  }
  const v128_t z = wasm_f64x2_mul(r, r);
  /* sin(r) = r + r·z·(S1 + z·(S2 + … + z·S6)) */
  v128_t ps = S64(1.58969099521155010221e-10);
  ps = MADD64(ps, z, S64(-2.50507602534068634195e-08));
  ps = MADD64(ps, z, S64(2.75573137070700676789e-06));
  ps = MADD64(ps, z, S64(-1.98412698298579493134e-04));
  ps = MADD64(ps, z, S64(8.33333333332248946124e-03));
  ps = MADD64(ps, z, S64(-1.66666666666666324348e-01));
  const v128_t s = wasm_f64x2_add(r, wasm_f64x2_mul(wasm_f64x2_mul(r, z), ps));
  /* cos(r) = w + (((1 − w) − z/2) + z²·(C1 + z·(C2 + … + z·C6))), w = 1 − z/2 */
  v128_t pc = S64(-1.13596475577881948265e-11);
  pc = MADD64(pc, z, S64(2.08757232129817482790e-09));
  pc = MADD64(pc, z, S64(-2.75573143513906633035e-07));
  pc = MADD64(pc, z, S64(2.48015872894767294178e-05));
  pc = MADD64(pc, z, S64(-1.38888888888741095749e-03));
  pc = MADD64(pc, z, S64(4.16666666666666019037e-02));
  const v128_t hz = wasm_f64x2_mul(z, S64(0.5)), w = wasm_f64x2_sub(S64(1), hz);
  const v128_t c = wasm_f64x2_add(
      w, wasm_f64x2_add(wasm_f64x2_sub(wasm_f64x2_sub(S64(1), w), hz),
                        wasm_f64x2_mul(wasm_f64x2_mul(z, z), pc)));
  /* quadrant q = n mod 4: n + 1.5·2^52 holds the integer n in its low mantissa bits (two's
     complement for negative n), so no float→int conversion (V8 scalarizes trunc_sat f64x2) */
  const v128_t q64 = wasm_v128_and(wasm_f64x2_add(n, S64(6755399441055744.0)), wasm_i64x2_splat(3));
  const v128_t odd = wasm_i64x2_eq(wasm_v128_and(q64, wasm_i64x2_splat(1)), wasm_i64x2_splat(1));
  const v128_t hi = wasm_i64x2_eq(wasm_v128_and(q64, wasm_i64x2_splat(2)), wasm_i64x2_splat(2));
  /* sin and tan of |x| < 1e-8 are x (keeps −0 and the last bit) */
  const v128_t tiny = wasm_f64x2_lt(wasm_f64x2_abs(x), S64(1e-8));
  if (op == U_TAN) {
    /* tan: s/c in even quadrants, −c/s in odd ones */
    const v128_t t =
        wasm_v128_bitselect(wasm_f64x2_neg(wasm_f64x2_div(c, s)), wasm_f64x2_div(s, c), odd);
    return wasm_v128_bitselect(x, t, tiny);
  }
  if (op == U_SIN) {
    const v128_t v = wasm_v128_bitselect(c, s, odd);
    return wasm_v128_bitselect(x, wasm_v128_bitselect(wasm_f64x2_neg(v), v, hi), tiny);
  }
  /* cos: c, −s, −c, s */
  const v128_t v = wasm_v128_bitselect(s, c, odd);
  const v128_t neg = wasm_v128_xor(hi, odd); /* quadrants 1 and 2 */
  return wasm_v128_bitselect(wasm_f64x2_neg(v), v, neg);
}
VIA_F64(trig)

/* ---- atan, asin, acos ---- */

/*
 * atan in f64 lanes, fdlibm's algorithm: |x| reduced into one of five intervals (identity,
 * (2x − 1)/(2 + x), (x − 1)/(x + 1), (x − 1.5)/(1 + 1.5x), −1/x) with atan of the interval's
 * point added back in two parts; the odd polynomial in the reduced value. asin(x) =
 * atan(x / √((1 − x)(1 + x))), acos(x) = 2·atan(√((1 − x)/(1 + x))): no cancellation near ±1.
 * f32 data is widened, computed and rounded once.
 */
INLINE v128_t atan_f64(v128_t x) {
  const v128_t ax = wasm_f64x2_abs(x);
  const v128_t c0 = wasm_f64x2_ge(ax, S64(0.4375)), c1 = wasm_f64x2_ge(ax, S64(0.6875));
  const v128_t c2 = wasm_f64x2_ge(ax, S64(1.1875)), c3 = wasm_f64x2_ge(ax, S64(2.4375));
  v128_t t = ax;
  t = wasm_v128_bitselect(wasm_f64x2_div(wasm_f64x2_sub(wasm_f64x2_add(ax, ax), S64(1)),
                                         wasm_f64x2_add(S64(2), ax)), t, c0);
  t = wasm_v128_bitselect(wasm_f64x2_div(wasm_f64x2_sub(ax, S64(1)), wasm_f64x2_add(ax, S64(1))),
                          t, c1);
  t = wasm_v128_bitselect(wasm_f64x2_div(wasm_f64x2_sub(ax, S64(1.5)),
                                         wasm_f64x2_add(S64(1), wasm_f64x2_mul(S64(1.5), ax))), t,
                          c2);
  t = wasm_v128_bitselect(wasm_f64x2_div(S64(-1), ax), t, c3);
  v128_t hi = S64(4.63647609000806093515e-01), lo = S64(2.26987774529616870924e-17);
  hi = wasm_v128_bitselect(S64(7.85398163397448278999e-01), hi, c1);
  lo = wasm_v128_bitselect(S64(3.06161699786838301793e-17), lo, c1);
  hi = wasm_v128_bitselect(S64(9.82793723247329054082e-01), hi, c2);
  lo = wasm_v128_bitselect(S64(1.39033110312309984516e-17), lo, c2);
  hi = wasm_v128_bitselect(S64(1.57079632679489655800e+00), hi, c3);
  lo = wasm_v128_bitselect(S64(6.12323399573676603587e-17), lo, c3);
  const v128_t z = wasm_f64x2_mul(t, t), w = wasm_f64x2_mul(z, z);
  v128_t s1 = S64(1.62858201153657823623e-02);
  s1 = wasm_f64x2_add(wasm_f64x2_mul(s1, w), S64(4.97687799461593236017e-02));
  s1 = wasm_f64x2_add(wasm_f64x2_mul(s1, w), S64(6.66107313738753120669e-02));
  s1 = wasm_f64x2_add(wasm_f64x2_mul(s1, w), S64(9.09088713343650656196e-02));
  s1 = wasm_f64x2_add(wasm_f64x2_mul(s1, w), S64(1.42857142725034663711e-01));
  s1 = wasm_f64x2_add(wasm_f64x2_mul(s1, w), S64(3.33333333333329318027e-01));
  s1 = wasm_f64x2_mul(s1, z);
  v128_t s2 = S64(-3.65315727442169155270e-02);
  s2 = wasm_f64x2_add(wasm_f64x2_mul(s2, w), S64(-5.83357013379057348645e-02));
  s2 = wasm_f64x2_add(wasm_f64x2_mul(s2, w), S64(-7.69187620504482999495e-02));
  s2 = wasm_f64x2_add(wasm_f64x2_mul(s2, w), S64(-1.11111104054623557880e-01));
  s2 = wasm_f64x2_add(wasm_f64x2_mul(s2, w), S64(-1.99999999998764832476e-01));
  s2 = wasm_f64x2_mul(s2, w);
  const v128_t ts = wasm_f64x2_mul(t, wasm_f64x2_add(s1, s2));
  const v128_t small = wasm_f64x2_sub(t, ts);
  const v128_t big = wasm_f64x2_sub(hi, wasm_f64x2_sub(wasm_f64x2_sub(ts, lo), t));
  const v128_t r = wasm_v128_bitselect(big, small, c0);
  /* sign of x back (NaN passes through the arithmetic) */
  return wasm_v128_or(r, wasm_v128_and(x, S64(-0.0)));
}
INLINE v128_t atan_family_f64(int op, v128_t x) {
  if (op == U_ATAN) return atan_f64(x);
  const v128_t omx = wasm_f64x2_sub(S64(1), x), opx = wasm_f64x2_add(S64(1), x);
  if (op == U_ASIN) return atan_f64(wasm_f64x2_div(x, wasm_f64x2_sqrt(wasm_f64x2_mul(omx, opx))));
  const v128_t r = atan_f64(wasm_f64x2_sqrt(wasm_f64x2_div(omx, opx)));
  return wasm_f64x2_add(r, r);
}
VIA_F64(atan_family)

/* ---- erf (f64 lanes; f32 data widened and rounded once) ---- */

/*
 * W. J. Cody's rational approximations (netlib CALERF), the same as the scalar kernel's: three
 * intervals of |x| (≤ 0.46875, ≤ 4, < 26.543), each computed for every lane and selected;
 * exp(−y²) split as exp(−h²)·exp(−(y − h)(y + h)) with h = y rounded to 1/16.
 */
INLINE v128_t exp_neg_square(v128_t y) {
  const v128_t h = wasm_f64x2_div(wasm_f64x2_trunc(wasm_f64x2_mul(y, S64(16))), S64(16));
  const v128_t del = wasm_f64x2_mul(wasm_f64x2_sub(y, h), wasm_f64x2_add(y, h));
  return wasm_f64x2_mul(exp_f64(wasm_f64x2_neg(wasm_f64x2_mul(h, h))),
                        exp_f64(wasm_f64x2_neg(del)));
}
INLINE v128_t erf_f64(v128_t x) {
  static const double A[4] = {3.1611237438705656, 113.864154151050156, 377.485237685302021,
                              3209.37758913846947};
  static const double B[4] = {23.6012909523441209, 244.024637934444173, 1282.61652607737228,
                              2844.23683343917062};
  static const double C[8] = {0.564188496988670089, 8.88314979438837594, 66.1191906371416295,
                              298.635138197400131,  881.95222124176909,  1712.04761263407058,
                              2051.07837782607147,  1230.33935479799725};
  static const double D[8] = {15.7449261107098347, 117.693950891312499, 537.181101862009858,
                              1621.38957456669019, 3290.79923573345963, 4362.61909014324716,
                              3439.36767414372164, 1230.33935480374942};
  static const double P[5] = {0.305326634961232344, 0.360344899949804439, 0.125781726111229246,
                              0.0160837851487422766, 6.58749161529837803e-4};
  static const double Q[5] = {2.56852019228982242, 1.87295284992346047, 0.527905102951428412,
                              0.0605183413124413191, 0.00233520497626869185};
  const v128_t y = wasm_f64x2_abs(x);
  /* Each interval is computed only when a lane falls in it (most vectors need one or two). */
  const v128_t in_small = wasm_f64x2_le(y, S64(0.46875)), in_mid = wasm_f64x2_le(y, S64(4));
  v128_t small = y, erfc_mid = y, erfc_big = y;
  /* |x| ≤ 0.46875 */
  if (wasm_v128_any_true(in_small)) {
    const v128_t ysq = wasm_v128_and(wasm_f64x2_mul(y, y), wasm_f64x2_gt(y, S64(1.11e-16)));
    v128_t num = wasm_f64x2_mul(S64(0.185777706184603153), ysq), den = ysq;
    for (int i = 0; i < 3; i++) {
      num = wasm_f64x2_mul(wasm_f64x2_add(num, S64(A[i])), ysq);
      den = wasm_f64x2_mul(wasm_f64x2_add(den, S64(B[i])), ysq);
    }
    small = wasm_f64x2_div(wasm_f64x2_mul(x, wasm_f64x2_add(num, S64(A[3]))),
                           wasm_f64x2_add(den, S64(B[3])));
    if (wasm_i64x2_all_true(in_small)) return small;
  }
  const v128_t e = exp_neg_square(y);
  /* |x| ≤ 4 */
  if (wasm_v128_any_true(wasm_v128_andnot(in_mid, in_small))) {
    v128_t n2 = wasm_f64x2_mul(S64(2.15311535474403846e-8), y), d2 = y;
    for (int i = 0; i < 7; i++) {
      n2 = wasm_f64x2_mul(wasm_f64x2_add(n2, S64(C[i])), y);
      d2 = wasm_f64x2_mul(wasm_f64x2_add(d2, S64(D[i])), y);
    }
    erfc_mid = wasm_f64x2_div(wasm_f64x2_mul(e, wasm_f64x2_add(n2, S64(C[7]))),
                              wasm_f64x2_add(d2, S64(D[7])));
  }
  /* 4 < |x| < 26.543 (NaN lands here and propagates) */
  if (!wasm_i64x2_all_true(in_mid)) {
    const v128_t iy = wasm_f64x2_div(S64(1), wasm_f64x2_mul(y, y));
    v128_t n3 = wasm_f64x2_mul(S64(0.0163153871373020978), iy), d3 = iy;
    for (int i = 0; i < 4; i++) {
      n3 = wasm_f64x2_mul(wasm_f64x2_add(n3, S64(P[i])), iy);
      d3 = wasm_f64x2_mul(wasm_f64x2_add(d3, S64(Q[i])), iy);
    }
    const v128_t rr = wasm_f64x2_div(wasm_f64x2_mul(iy, wasm_f64x2_add(n3, S64(P[4]))),
                                     wasm_f64x2_add(d3, S64(Q[4])));
    erfc_big = wasm_f64x2_div(wasm_f64x2_mul(e, wasm_f64x2_sub(S64(0.56418958354775628695), rr)), y);
  }
  v128_t erfc = wasm_v128_bitselect(erfc_mid, erfc_big, in_mid);
  erfc = wasm_v128_bitselect(S64(0), erfc, wasm_f64x2_ge(y, S64(26.543)));
  v128_t r = wasm_f64x2_add(wasm_f64x2_sub(S64(0.5), erfc), S64(0.5));
  r = wasm_v128_bitselect(wasm_f64x2_neg(r), r, wasm_f64x2_lt(x, S64(0)));
  return wasm_v128_bitselect(small, r, in_small);
}
/* erf, or exact gelu 0.5·x·(1 + erf(x/√2)) (the scalar kernel's order of operations) */
INLINE v128_t erf_family_f64(int op, v128_t x) {
  if (op == U_ERF) return erf_f64(x);
  const v128_t e = erf_f64(wasm_f64x2_div(x, S64(1.4142135623730951)));
  return wasm_f64x2_mul(wasm_f64x2_mul(S64(0.5), x), wasm_f64x2_add(S64(1), e));
}
VIA_F64(erf_family)

/* ---- atan2 and pow (f64 lanes; f32 data widened and rounded once) ---- */

/* atan2 from atan(|y/x|) with C99's signed zeros and infinities (0/0 → 0, ∞/∞ → π/4), π − z
   (with π's low part) for a negative x, the sign of y. */
INLINE v128_t atan2_f64(v128_t y, v128_t x) {
  const v128_t ay = wasm_f64x2_abs(y), ax = wasm_f64x2_abs(x), inf = S64(__builtin_inf());
  v128_t z = atan_f64(wasm_f64x2_div(ay, ax));
  z = wasm_v128_bitselect(S64(0), z, wasm_v128_and(wasm_f64x2_eq(ay, S64(0)),
                                                   wasm_f64x2_eq(ax, S64(0))));
  z = wasm_v128_bitselect(S64(7.85398163397448278999e-01), z,
                          wasm_v128_and(wasm_f64x2_eq(ay, inf), wasm_f64x2_eq(ax, inf)));
  const v128_t negx = wasm_i64x2_lt(x, wasm_i64x2_splat(0)); /* sign bit, −0 included */
  const v128_t r = wasm_v128_bitselect(
      wasm_f64x2_sub(S64(3.14159265358979311600e+00),
                     wasm_f64x2_sub(z, S64(1.22464679914735317720e-16))),
      z, negx);
  return wasm_v128_or(r, wasm_v128_and(y, S64(-0.0)));
}

/* pow = exp(y·log|x|) in f64 lanes for f32 data (accurate to the last bit of f32 results; f64
   data goes through pow_row), with C's rules: odd integer powers of a negative base (−0 and −∞ included) negative, a
   finite negative base to a non-integer power NaN, and 1 for y = 0, x = 1, and |x| = 1 with
   |y| = ∞ (the scalar backend's rules). */
INLINE v128_t pow_f64(v128_t x, v128_t y) {
  const v128_t ax = wasm_f64x2_abs(x), inf = S64(__builtin_inf());
  v128_t r = exp_f64(wasm_f64x2_mul(y, log_f64(ax)));
  const v128_t yint = wasm_f64x2_eq(wasm_f64x2_trunc(y), y);
  const v128_t half = wasm_f64x2_mul(y, S64(0.5));
  const v128_t odd = wasm_v128_and(yint, wasm_f64x2_ne(wasm_f64x2_trunc(half), half));
  const v128_t sneg = wasm_i64x2_lt(x, wasm_i64x2_splat(0));
  r = wasm_v128_bitselect(wasm_f64x2_neg(r), r, wasm_v128_and(sneg, odd));
  const v128_t bad = wasm_v128_and(wasm_f64x2_lt(x, S64(0)),
                                   wasm_v128_andnot(wasm_f64x2_lt(ax, inf), yint));
  r = wasm_v128_bitselect(S64(__builtin_nan("")), r, bad);
  const v128_t one = wasm_v128_or(
      wasm_v128_or(wasm_f64x2_eq(y, S64(0)), wasm_f64x2_eq(x, S64(1))),
      wasm_v128_and(wasm_f64x2_eq(ax, S64(1)), wasm_f64x2_eq(wasm_f64x2_abs(y), inf)));
  return wasm_v128_bitselect(S64(1), r, one);
}
/*
 * floorDiv and mod, one element at a time in f64 (f32 data widened, rounded once: the scalar
 * backend's arithmetic), with NumPy's npy_divmod rules over an exact fmod.
 *
 * fmod64(a, b) = a − trunc(a/b)·b exactly (C's fmod, JavaScript's %): with a = ma·2^ea and
 * b = mb·2^eb (integer significands, ea ≥ eb), the remainder is (ma·2^(ea−eb) mod mb)·2^eb, taken
 * 11 bits of the exponent difference at a time with 64-bit integer remainders (ma, mb < 2^53).
 * The result is representable, so the final scaling is exact.
 */
static double fmod64(double a, double b) {
  const uint64_t SIGN = 1ull << 63, INF = 0x7ffull << 52, MANT = (1ull << 52) - 1;
  const uint64_t ua = f64_bits(a) & ~SIGN, ub = f64_bits(b) & ~SIGN;
  if (ub == 0 || ua >= INF || ub > INF) return (a * b) / (a * b); /* NaN */
  if (ua < ub) return a;                                          /* b = ±inf included */
  const int32_t ea = (int32_t)(ua >> 52), eb = (int32_t)(ub >> 52);
  /* subnormals: exponent field 1 without the implicit bit */
  uint64_t ma = ea ? (ua & MANT) | (1ull << 52) : ua;
  const uint64_t mb = eb ? (ub & MANT) | (1ull << 52) : ub;
  int32_t d = (ea ? ea : 1) - (eb ? eb : 1);
  ma %= mb;
  while (d > 0 && ma) {
    const int32_t s = d < 11 ? d : 11;
    ma = (ma << s) % mb;
    d -= s;
  }
  if (!ma) return bits_f64(f64_bits(a) & SIGN);
  /* ma·2^(eb − 1075): 2^k built from its bits (subnormal for k < −1022) */
  const int32_t k = (eb ? eb : 1) - 1075;
  const double scale = bits_f64(k >= -1022 ? (uint64_t)(k + 1023) << 52 : 1ull << (k + 1074));
  const double r = (double)ma * scale;
  return a < 0 ? -r : r;
}
static double floordiv64(double a, double b) {
  if (b == 0) return a / b;
  const double mod = fmod64(a, b);
  double div = (a - mod) / b;
  if (mod != 0 && (b < 0) != (mod < 0)) div -= 1;
  if (div != 0) {
    const double fl = __builtin_floor(div);
    return div - fl > 0.5 ? fl + 1 : fl;
  }
  /* ±0 with the sign of a/b (+0 for NaN) */
  const double q = a / b;
  return q < 0 || (q == 0 && (f64_bits(q) >> 63)) ? -0.0 : 0.0;
}
static double mod64(double a, double b) {
  const double mod = fmod64(a, b);
  if (b == 0) return mod;
  if (mod != 0) return (b < 0) != (mod < 0) ? mod + b : mod;
  return b < 0 ? -0.0 : 0.0;
}
/* One row of floorDiv or mod, element by element, any steps. */
#define DIVMOD_ROW(T, SFX)                                                                     \
  static void divmod_row_##SFX(int op, T *o, int32_t os, const T *a, int32_t as, const T *b,   \
                               int32_t bs, int32_t n) {                                        \
    if (op == B_MOD)                                                                           \
      for (int32_t i = 0; i < n; i++)                                                          \
        o[(int64_t)i * os] = (T)mod64(a[(int64_t)i * as], b[(int64_t)i * bs]);                 \
    else                                                                                       \
      for (int32_t i = 0; i < n; i++)                                                          \
        o[(int64_t)i * os] = (T)floordiv64(a[(int64_t)i * as], b[(int64_t)i * bs]);            \
  }
DIVMOD_ROW(float, f32)
DIVMOD_ROW(double, f64)

/* pow of f64 data, correctly rounded but for ≤ 0.51 ulp (pow64.h), any steps. */
static void pow_row(double *o, int32_t os, const double *a, int32_t as, const double *b,
                    int32_t bs, int32_t n) {
  for (int32_t i = 0; i < n; i++)
    o[(int64_t)i * os] = pow64_call(a[(int64_t)i * as], b[(int64_t)i * bs]);
}

INLINE v128_t binf_f64(int op, v128_t a, v128_t b) {
  return op == B_ATAN2 ? atan2_f64(a, b) : pow_f64(a, b);
}
INLINE v128_t binf_f32(int op, v128_t a, v128_t b) {
  return to_f32(binf_f64(op, lo_f64(a), lo_f64(b)), binf_f64(op, hi_f64(a), hi_f64(b)));
}

#endif
