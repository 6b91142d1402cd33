/*
 * Elementwise kernels, f32 and f64: binary add sub mul div minimum maximum and unary exp log tanh
 * sigmoid relu silu gelu(tanh form) sqrt neg abs square floor ceil round sign rsqrt hardswish, reading each operand through its own
 * (broadcast, possibly negative or zero) strides. The TS side has dropped length-1 axes and
 * merged axes contiguous in every operand, so a contiguous tensor is one row and
 * "matrix + row vector" is rows of contiguous elements with the vector restarting each row.
 *
 * A slot is a range of output elements in C order; rows are specialized on their steps
 * (all 1; one operand a broadcast scalar; anything else through lane gathers).
 */
#include "par.h"
#include "vmath.h"
#include "vio.h"
#include "rempio2.h"

/* The op codes (B_…, U_…) come from the ABI list, backends/cpu/abi.ts (abi.generated.h). */

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

/* ---- the operations on vectors (op is a constant after inlining) ---- */

#define DEFINE_OPS(SFX, V, SPL)                                                                \
  INLINE v128_t bin_##SFX(int op, v128_t a, v128_t b) {                                        \
    switch (op) {                                                                              \
      case B_ADD: return wasm_##V##_add(a, b);                                                 \
      case B_SUB: return wasm_##V##_sub(a, b);                                                 \
      case B_MUL: return wasm_##V##_mul(a, b);                                                 \
      case B_DIV: return wasm_##V##_div(a, b);                                                 \
      /* NumPy/scalar backend: a NaN in either operand propagates; between -0 and 0 the second \
         operand wins (a if a < b or a is NaN, else b). */                                    \
      case B_MIN:                                                                              \
        return wasm_v128_bitselect(a, b, wasm_v128_or(wasm_##V##_lt(a, b), wasm_##V##_ne(a, a))); \
      case B_ATAN2: return binf_##SFX(B_ATAN2, a, b);                                          \
      case B_POW: return binf_##SFX(B_POW, a, b);                                              \
      case B_LOGADDEXP: return logaddexp_##SFX(a, b);                                          \
      default:                                                                                 \
        return wasm_v128_bitselect(a, b, wasm_v128_or(wasm_##V##_gt(a, b), wasm_##V##_ne(a, a))); \
    }                                                                                          \
  }                                                                                            \
  /* p0, p1: the op's parameters (clip: min, max; leakyRelu: slope; elu: alpha; softplus: beta,  \
     threshold), splatted. */                                                                  \
  INLINE v128_t un_##SFX(int op, v128_t x, v128_t p0, v128_t p1) {                             \
    switch (op) {                                                                              \
      case U_EXP: return exp_##SFX(x);                                                         \
      case U_LOG: return log_##SFX(x);                                                         \
      case U_TANH: return tanh_##SFX(x);                                                       \
      case U_SIGMOID: return sigmoid_##SFX(x);                                                 \
      /* x < 0 ? 0 : x: NaN and -0 pass through, like the scalar backend. */                   \
      case U_RELU: return wasm_v128_andnot(x, wasm_##V##_lt(x, SPL(0)));                      \
      case U_SILU: return wasm_##V##_mul(x, sigmoid_##SFX(x));                                 \
      case U_GELU_TANH: {                                                                      \
        /* 0.5·x·(1 + tanh(u)) = x·sigmoid(2u), u = √(2/π)(x + 0.044715x³): no cancellation. */ \
        v128_t x3 = wasm_##V##_mul(wasm_##V##_mul(x, x), x);                                  \
        v128_t u = wasm_##V##_mul(SPL(0.7978845608028654),                                     \
                                  wasm_##V##_add(x, wasm_##V##_mul(SPL(0.044715), x3)));       \
        return wasm_##V##_mul(x, sigmoid_##SFX(wasm_##V##_add(u, u)));                         \
      }                                                                                        \
      case U_SQRT: return wasm_##V##_sqrt(x);                                                  \
      case U_NEG: return wasm_##V##_neg(x);                                                    \
      case U_ABS: return wasm_##V##_abs(x);                                                    \
      case U_FLOOR: return wasm_##V##_floor(x);                                                \
      case U_CEIL: return wasm_##V##_ceil(x);                                                  \
      /* NumPy rounds halves to even, as the nearest instruction does. */                     \
      case U_ROUND: return wasm_##V##_nearest(x);                                              \
      case U_SIGN: {                                                                           \
        /* 1, -1, +0 for ±0, NaN kept */                                                      \
        v128_t s = wasm_##V##_add(wasm_v128_and(wasm_##V##_gt(x, SPL(0)), SPL(1)),             \
                                  wasm_v128_and(wasm_##V##_lt(x, SPL(0)), SPL(-1)));          \
        return wasm_v128_bitselect(x, s, wasm_##V##_ne(x, x));                                 \
      }                                                                                        \
      case U_RSQRT: return wasm_##V##_div(SPL(1), wasm_##V##_sqrt(x));                         \
      case U_HARDSWISH: {                                                                      \
        /* x·(min(max(x + 3, 0), 6) / 6): no overflow for huge x (t/6 is then exactly 1);       \
           pmax/pmin with x first keep a NaN */                                                \
        v128_t t = wasm_##V##_pmin(wasm_##V##_pmax(wasm_##V##_add(x, SPL(3)), SPL(0)), SPL(6)); \
        return wasm_##V##_mul(x, wasm_##V##_div(t, SPL(6)));                                   \
      }                                                                                        \
      /* min(max(x, lo), hi) with IEEE max/min: NaN kept, +0 above −0, like Math.max/min */    \
      case U_CLIP: return wasm_##V##_min(wasm_##V##_max(x, p0), p1);                           \
      case U_LEAKY_RELU:                                                                       \
        return wasm_v128_bitselect(wasm_##V##_mul(x, p0), x, wasm_##V##_lt(x, SPL(0)));        \
      case U_ELU:                                                                              \
        return wasm_v128_bitselect(wasm_##V##_mul(p0, expm1_##SFX(x)), x,                      \
                                   wasm_##V##_lt(x, SPL(0)));                                  \
      case U_SELU:                                                                             \
        return wasm_##V##_mul(                                                                 \
            SPL(1.0507009873554804934193349852946),                                            \
            wasm_v128_bitselect(                                                               \
                wasm_##V##_mul(SPL(1.6732632423543772848170429916717), expm1_##SFX(x)), x,     \
                wasm_##V##_lt(x, SPL(0))));                                                    \
      case U_SOFTPLUS: { /* x where beta·x > threshold (PyTorch), else log(1 + e^(beta·x))/beta */ \
        const v128_t z = wasm_##V##_mul(x, p0);                                                \
        return wasm_v128_bitselect(x, wasm_##V##_div(softplus1_##SFX(z), p0),                  \
                                   wasm_##V##_gt(z, p1));                                      \
      }                                                                                        \
      case U_MISH: return wasm_##V##_mul(x, tanh_##SFX(softplus1_##SFX(x)));                   \
      case U_EXPM1: return expm1_##SFX(x);                                                     \
      case U_LOG1P: return log1p_##SFX(x);                                                     \
      case U_SINH: return sinh_##SFX(x);                                                       \
      case U_COSH: return cosh_##SFX(x);                                                       \
      case U_LOG2: return log2_##SFX(x);                                                       \
      case U_SIN: return trig_##SFX(U_SIN, x);                                                 \
      case U_COS: return trig_##SFX(U_COS, x);                                                 \
      case U_TAN: return trig_##SFX(U_TAN, x);                                                 \
      case U_ATAN: return atan_family_##SFX(U_ATAN, x);                                        \
      case U_ASIN: return atan_family_##SFX(U_ASIN, x);                                        \
      case U_ACOS: return atan_family_##SFX(U_ACOS, x);                                        \
      case U_ERF: return erf_family_##SFX(U_ERF, x);                                           \
      case U_GELU_ERF: return erf_family_##SFX(U_GELU_ERF, x);                                 \
      default: return wasm_##V##_mul(x, x);                                                    \
    }                                                                                          \
  }

DEFINE_OPS(f32, f32x4, S32)
DEFINE_OPS(f64, f64x2, S64)

/* ---- rows ---- */

#define BIN_ROWS(SFX, OP)                                                                      \
  for (int32_t r = 0; r < rows; r++, o += ro, a += ra, b += rb)                                \
  bin_row_##SFX##_op(OP, o, os, a, as, b, bs, n)
#define DEFINE_ROWS(T, SFX)                                                                    \
  INLINE void bin_row_##SFX##_k(int op, T *o, int32_t os, const T *a, int32_t as, const T *b,  \
                                int32_t bs, int32_t n, int ko, int ka, int kb) {                \
    int32_t i = 0;                                                                             \
    for (; i + VL_##SFX <= n; i += VL_##SFX)                                                   \
      st_##SFX(o + i * os, os, ko,                                                             \
               bin_##SFX(op, ld_##SFX(a + i * as, as, ka), ld_##SFX(b + i * bs, bs, kb)));     \
    for (; i < n; i++)                                                                         \
      o[i * os] = LANE0_##SFX(bin_##SFX(op, SPLAT_##SFX(a[i * as]), SPLAT_##SFX(b[i * bs])));   \
  }                                                                                            \
  INLINE void bin_row_##SFX##_op(int op, T *o, int32_t os,                                     \
                                                            const T *a, int32_t as, const T *b, \
                                                            int32_t bs, int32_t n) {            \
    if (os == 1 && as == 1 && bs == 1) bin_row_##SFX##_k(op, o, 1, a, 1, b, 1, n, 1, 1, 1);    \
    else if (os == 1 && as == 1 && bs == 0) bin_row_##SFX##_k(op, o, 1, a, 1, b, 0, n, 1, 1, 0); \
    else if (os == 1 && as == 0 && bs == 1) bin_row_##SFX##_k(op, o, 1, a, 0, b, 1, n, 1, 0, 1); \
    else bin_row_##SFX##_k(op, o, os, a, as, b, bs, n, os == 1, as == 0 ? 0 : as == 1 ? 1 : 2,  \
                           bs == 0 ? 0 : bs == 1 ? 1 : 2);                                      \
  }                                                                                            \
  /* `rows` rows of n elements, the next row ro, ra, rb elements further: the op is dispatched  \
     once for all of them (rows of a broadcast, e.g. (64, 10) + (10,), are short). */          \
  static void bin_row_##SFX(int op, T *o, int32_t os, const T *a, int32_t as, const T *b,      \
                            int32_t bs, int32_t n, int32_t rows, int32_t ro, int32_t ra,       \
                            int32_t rb) {                                                      \
    switch (op) {                                                                              \
      case B_ADD: BIN_ROWS(SFX, B_ADD); break;                                                 \
      case B_SUB: BIN_ROWS(SFX, B_SUB); break;                                                 \
      case B_MUL: BIN_ROWS(SFX, B_MUL); break;                                                 \
      case B_DIV: BIN_ROWS(SFX, B_DIV); break;                                                 \
      case B_MIN: BIN_ROWS(SFX, B_MIN); break;                                                 \
      case B_ATAN2: BIN_ROWS(SFX, B_ATAN2); break;                                             \
      case B_LOGADDEXP: BIN_ROWS(SFX, B_LOGADDEXP); break;                                     \
      case B_POW:                                                                              \
        /* f32 data in f64 lanes; f64 data element by element through pow64 */                  \
        for (int32_t r = 0; r < rows; r++, o += ro, a += ra, b += rb) {                        \
          if (sizeof(T) == 4) bin_row_##SFX##_op(B_POW, o, os, a, as, b, bs, n);               \
          else pow_row((double *)o, os, (const double *)a, as, (const double *)b, bs, n);       \
        }                                                                                      \
        break;                                                                                 \
      case B_FLOORDIV: case B_MOD:                                                             \
        for (int32_t r = 0; r < rows; r++, o += ro, a += ra, b += rb)                          \
          divmod_row_##SFX(op, o, os, a, as, b, bs, n);                                        \
        break;                                                                                 \
      default: BIN_ROWS(SFX, B_MAX); break;                                                    \
    }                                                                                          \
  }                                                                                            \
  INLINE void un_row_##SFX##_k(int op, T *o, int32_t os, const T *a, int32_t as, int32_t n,    \
                               int ko, int ka, const double *fa) {                             \
    const v128_t p0 = SPLAT_##SFX((T)fa[0]), p1 = SPLAT_##SFX((T)fa[1]);                       \
    int32_t i = 0;                                                                             \
    for (; i + VL_##SFX <= n; i += VL_##SFX)                                                   \
      st_##SFX(o + i * os, os, ko, un_##SFX(op, ld_##SFX(a + i * as, as, ka), p0, p1));        \
    for (; i < n; i++) o[i * os] = LANE0_##SFX(un_##SFX(op, SPLAT_##SFX(a[i * as]), p0, p1));   \
  }

DEFINE_ROWS(float, f32)
DEFINE_ROWS(double, f64)

/* One noinline function per unary op keeps each op's code small enough for V8 to tier up fast. */
#define DEFINE_UN_OP(SFX, T, OP)                                                               \
  __attribute__((noinline)) static void un_row_##SFX##_##OP(T *o, int32_t os, const T *a,      \
                                                             int32_t as, int32_t n,            \
                                                             const double *fa) {               \
    if (os == 1 && as == 1) un_row_##SFX##_k(OP, o, 1, a, 1, n, 1, 1, fa);                      \
    else un_row_##SFX##_k(OP, o, os, a, as, n, os == 1, as == 0 ? 0 : as == 1 ? 1 : 2, fa);    \
  }
#define DEFINE_UN_ALL(SFX, T)                                                                  \
  DEFINE_UN_OP(SFX, T, U_EXP) DEFINE_UN_OP(SFX, T, U_LOG) DEFINE_UN_OP(SFX, T, U_TANH)         \
  DEFINE_UN_OP(SFX, T, U_SIGMOID) DEFINE_UN_OP(SFX, T, U_RELU) DEFINE_UN_OP(SFX, T, U_SILU)    \
  DEFINE_UN_OP(SFX, T, U_GELU_TANH) DEFINE_UN_OP(SFX, T, U_SQRT) DEFINE_UN_OP(SFX, T, U_NEG)   \
  DEFINE_UN_OP(SFX, T, U_ABS) DEFINE_UN_OP(SFX, T, U_SQUARE) DEFINE_UN_OP(SFX, T, U_FLOOR)     \
  DEFINE_UN_OP(SFX, T, U_CEIL) DEFINE_UN_OP(SFX, T, U_ROUND) DEFINE_UN_OP(SFX, T, U_SIGN)      \
  DEFINE_UN_OP(SFX, T, U_RSQRT) DEFINE_UN_OP(SFX, T, U_HARDSWISH) DEFINE_UN_OP(SFX, T, U_CLIP) \
  DEFINE_UN_OP(SFX, T, U_LEAKY_RELU) DEFINE_UN_OP(SFX, T, U_ELU) DEFINE_UN_OP(SFX, T, U_SELU)  \
  DEFINE_UN_OP(SFX, T, U_SOFTPLUS) DEFINE_UN_OP(SFX, T, U_MISH) DEFINE_UN_OP(SFX, T, U_EXPM1)  \
  DEFINE_UN_OP(SFX, T, U_LOG1P) DEFINE_UN_OP(SFX, T, U_SINH) DEFINE_UN_OP(SFX, T, U_COSH)      \
  DEFINE_UN_OP(SFX, T, U_LOG2) DEFINE_UN_OP(SFX, T, U_SIN) DEFINE_UN_OP(SFX, T, U_COS)         \
  DEFINE_UN_OP(SFX, T, U_TAN) DEFINE_UN_OP(SFX, T, U_ATAN) DEFINE_UN_OP(SFX, T, U_ASIN)         \
  DEFINE_UN_OP(SFX, T, U_ACOS) DEFINE_UN_OP(SFX, T, U_ERF) DEFINE_UN_OP(SFX, T, U_GELU_ERF)    \
  static void un_row_##SFX(int op, T *o, int32_t os, const T *a, int32_t as, int32_t n,        \
                           const double *fa) {                                                 \
    switch (op) {                                                                              \
      case U_EXP: un_row_##SFX##_U_EXP(o, os, a, as, n, fa); break;                                \
      case U_LOG: un_row_##SFX##_U_LOG(o, os, a, as, n, fa); break;                                \
      case U_TANH: un_row_##SFX##_U_TANH(o, os, a, as, n, fa); break;                              \
      case U_SIGMOID: un_row_##SFX##_U_SIGMOID(o, os, a, as, n, fa); break;                        \
      case U_RELU: un_row_##SFX##_U_RELU(o, os, a, as, n, fa); break;                              \
      case U_SILU: un_row_##SFX##_U_SILU(o, os, a, as, n, fa); break;                              \
      case U_GELU_TANH: un_row_##SFX##_U_GELU_TANH(o, os, a, as, n, fa); break;                    \
      case U_SQRT: un_row_##SFX##_U_SQRT(o, os, a, as, n, fa); break;                              \
      case U_NEG: un_row_##SFX##_U_NEG(o, os, a, as, n, fa); break;                                \
      case U_ABS: un_row_##SFX##_U_ABS(o, os, a, as, n, fa); break;                                \
      case U_FLOOR: un_row_##SFX##_U_FLOOR(o, os, a, as, n, fa); break;                            \
      case U_CEIL: un_row_##SFX##_U_CEIL(o, os, a, as, n, fa); break;                              \
      case U_ROUND: un_row_##SFX##_U_ROUND(o, os, a, as, n, fa); break;                            \
      case U_SIGN: un_row_##SFX##_U_SIGN(o, os, a, as, n, fa); break;                              \
      case U_RSQRT: un_row_##SFX##_U_RSQRT(o, os, a, as, n, fa); break;                            \
      case U_HARDSWISH: un_row_##SFX##_U_HARDSWISH(o, os, a, as, n, fa); break;                    \
      case U_CLIP: un_row_##SFX##_U_CLIP(o, os, a, as, n, fa); break;\
      case U_LEAKY_RELU: un_row_##SFX##_U_LEAKY_RELU(o, os, a, as, n, fa); break;\
      case U_ELU: un_row_##SFX##_U_ELU(o, os, a, as, n, fa); break;\
      case U_SELU: un_row_##SFX##_U_SELU(o, os, a, as, n, fa); break;\
      case U_SOFTPLUS: un_row_##SFX##_U_SOFTPLUS(o, os, a, as, n, fa); break;\
      case U_MISH: un_row_##SFX##_U_MISH(o, os, a, as, n, fa); break;\
      case U_EXPM1: un_row_##SFX##_U_EXPM1(o, os, a, as, n, fa); break;\
      case U_LOG1P: un_row_##SFX##_U_LOG1P(o, os, a, as, n, fa); break;\
      case U_SINH: un_row_##SFX##_U_SINH(o, os, a, as, n, fa); break;\
      case U_COSH: un_row_##SFX##_U_COSH(o, os, a, as, n, fa); break;\
      case U_LOG2: un_row_##SFX##_U_LOG2(o, os, a, as, n, fa); break;\
      case U_SIN: un_row_##SFX##_U_SIN(o, os, a, as, n, fa); break;\
      case U_COS: un_row_##SFX##_U_COS(o, os, a, as, n, fa); break;\
      case U_TAN: un_row_##SFX##_U_TAN(o, os, a, as, n, fa); break;\
      case U_ATAN: un_row_##SFX##_U_ATAN(o, os, a, as, n, fa); break;\
      case U_ASIN: un_row_##SFX##_U_ASIN(o, os, a, as, n, fa); break;\
      case U_ACOS: un_row_##SFX##_U_ACOS(o, os, a, as, n, fa); break;\
      case U_ERF: un_row_##SFX##_U_ERF(o, os, a, as, n, fa); break;\
      case U_GELU_ERF: un_row_##SFX##_U_GELU_ERF(o, os, a, as, n, fa); break;\
      default: un_row_##SFX##_U_SQUARE(o, os, a, as, n, fa); break;                                \
    }                                                                                          \
  }
DEFINE_UN_ALL(f32, float)
DEFINE_UN_ALL(f64, double)

/*
 * reluBackward (binary op B_RELU_BWD, a = x or relu's output, b = the gradient): a > 0 ? b : 0,
 * or, with job->ia[0] set (leakyRelu), a > 0 ? b : b·slope (slope = job->fa[0]). NaN in a gives
 * the second branch, like the scalar backend.
 */
#define DEFINE_RELUB(T, SFX, V)                                                                \
  static void relub_row_##SFX(T *o, int32_t os, const T *a, int32_t as, const T *b, int32_t bs, \
                              int32_t n, int leaky, double slope_d) {                         \
    const T slope = (T)slope_d;                                                                \
    int32_t i = 0;                                                                             \
    if (os == 1 && as == 1 && bs == 1) {                                                       \
      const v128_t z = SPLAT_##SFX(0), sv = SPLAT_##SFX(slope);                                \
      for (; i + VL_##SFX <= n; i += VL_##SFX) {                                               \
        const v128_t m = wasm_##V##_gt(wasm_v128_load(a + i), z), g = wasm_v128_load(b + i);   \
        wasm_v128_store(o + i, leaky ? wasm_v128_bitselect(g, wasm_##V##_mul(g, sv), m)        \
                                     : wasm_v128_and(g, m));                                   \
      }                                                                                        \
    }                                                                                          \
    for (; i < n; i++) {                                                                       \
      const T g = b[(int64_t)i * bs];                                                          \
      o[(int64_t)i * os] = a[(int64_t)i * as] > 0 ? g : leaky ? g * slope : (T)0;              \
    }                                                                                          \
  }
DEFINE_RELUB(float, f32, f32x4)
DEFINE_RELUB(double, f64, f64x2)

/*
 * Comparisons (binary B_EQ..B_GE) and predicates (unary U_ISNAN, U_ISINF, U_ISFINITE) of f32/f64
 * operands into bool outputs (one byte, 0 or 1); IEEE semantics: NaN compares unequal to
 * everything. One loop per op and layout, which clang vectorizes where the operands are
 * contiguous.
 */
#define CMP_LOOPS(T, A, B, EXPR)                                                               \
  if (os == 1 && as == 1 && bs == 1) {                                                         \
    for (int32_t i = 0; i < n; i++) { const T A = a[i], B = b[i]; o[i] = (EXPR); }             \
  } else if (os == 1 && as == 1 && bs == 0) {                                                  \
    const T B = b[0];                                                                          \
    for (int32_t i = 0; i < n; i++) { const T A = a[i]; o[i] = (EXPR); }                       \
  } else {                                                                                     \
    for (int32_t i = 0; i < n; i++) {                                                          \
      const T A = a[(int64_t)i * as], B = b[(int64_t)i * bs];                                  \
      o[(int64_t)i * os] = (EXPR);                                                             \
    }                                                                                          \
  }
#define DEFINE_CMP(T, SFX)                                                                     \
  static void cmp_row_##SFX(int op, uint8_t *o, int32_t os, const T *a, int32_t as, const T *b, \
                            int32_t bs, int32_t n) {                                           \
    switch (op) {                                                                              \
      case B_EQ: CMP_LOOPS(T, x, y, x == y) break;                                             \
      case B_NE: CMP_LOOPS(T, x, y, x != y) break;                                             \
      case B_LT: CMP_LOOPS(T, x, y, x < y) break;                                              \
      case B_LE: CMP_LOOPS(T, x, y, x <= y) break;                                             \
      case B_GT: CMP_LOOPS(T, x, y, x > y) break;                                              \
      default: CMP_LOOPS(T, x, y, x >= y) break;                                               \
    }                                                                                          \
  }                                                                                            \
  static void pred_row_##SFX(int op, uint8_t *o, int32_t os, const T *a, int32_t as,          \
                             int32_t n) {                                                      \
    const T *b = a;                                                                            \
    const int32_t bs = as;                                                                     \
    switch (op) {                                                                              \
      case U_ISNAN: CMP_LOOPS(T, x, y, x != y) break;                                          \
      case U_ISINF: CMP_LOOPS(T, x, y, (x == (T)__builtin_inf()) | (y == -(T)__builtin_inf())) break; \
      default: CMP_LOOPS(T, x, y, (x - y) == (T)0) break; /* x − x is 0 only for finite x */    \
    }                                                                                          \
  }
DEFINE_CMP(float, f32)
DEFINE_CMP(double, f64)

/* Logical ops of bool operands (job dtype 2: bytes, any non-zero is true) into bool outputs. */
static void logic_row(int op, uint8_t *o, int32_t os, const uint8_t *a, int32_t as,
                      const uint8_t *b, int32_t bs, int32_t n) {
  switch (op) {
    case B_AND: CMP_LOOPS(uint8_t, x, y, (x != 0) & (y != 0)) break;
    case B_OR: CMP_LOOPS(uint8_t, x, y, (x != 0) | (y != 0)) break;
    case B_XOR: CMP_LOOPS(uint8_t, x, y, (x != 0) ^ (y != 0)) break;
    default: /* U_NOT, with b = a */ CMP_LOOPS(uint8_t, x, y, (x | y) == 0) break;
  }
}

/* Output elements [lo, hi) in C order, row by row (the last merged axis): a walk (par.h). */
void ew_slot(pjob_t *job, int32_t s) {
  /* An op code outside the ABI list traps (the caller sees a RuntimeError), never a default op. */
  if ((uint32_t)job->op >= (uint32_t)(job->kind == KIND_BINARY ? B_COUNT : U_COUNT)) __builtin_trap();
  SLOT_RANGE(job->total, s, job->nslots, lo, hi);
  if (lo >= hi) return;
  const int32_t nd = job->ndim, nops = job->kind == KIND_BINARY ? 3 : 2;
  /* dtype 0 f32, 1 f64, 2 bool (logical ops); comparisons and predicates write bytes */
  const int32_t es = job->dtype == 2 ? 1 : job->dtype ? 8 : 4;
  const int bool_out = job->kind == KIND_BINARY
                           ? job->op >= B_EQ && job->op <= B_XOR
                           : (job->op >= U_ISNAN && job->op <= U_ISFINITE) || job->op == U_NOT;
  const int32_t oes = bool_out ? 1 : es;
  const int32_t *const st[3] = {job->strides[0], job->strides[1], job->strides[2]};
  walk_t w;
  walk_start(&w, job, st, nops, lo);
  const int32_t inner = nd - 1, len = job->shape[inner];
  const int32_t so = st[0][inner], sa = st[1][inner], sb = st[2][inner];
  /* float binary ops take runs of whole rows in one call */
  const int multi = job->kind == KIND_BINARY && !bool_out && job->dtype != 2 &&
                    job->op != B_RELU_BWD && nd >= 2;
  int32_t pos = lo;
  while (pos < hi) {
    int32_t n = MIN(len - w.idx[inner], hi - pos), rows = 1;
    if (multi && w.idx[inner] == 0 && hi - pos >= 2 * len) {
      rows = MIN(job->shape[inner - 1] - w.idx[inner - 1], (hi - pos) / len);
    }
    uint8_t *o = (uint8_t *)(uintptr_t)job->ptr[0] + w.off[0] * oes;
    const uint8_t *a = (const uint8_t *)(uintptr_t)job->ptr[1] + w.off[1] * es;
    const uint8_t *b = (const uint8_t *)(uintptr_t)job->ptr[2] + w.off[2] * es;
    if (job->dtype == 2) {
      if (job->kind == KIND_BINARY) logic_row(job->op, o, so, a, sa, b, sb, n);
      else logic_row(U_NOT, o, so, a, sa, a, sa, n);
    } else if (bool_out && job->kind == KIND_BINARY) {
      if (job->dtype) cmp_row_f64(job->op, o, so, (const double *)a, sa, (const double *)b, sb, n);
      else cmp_row_f32(job->op, o, so, (const float *)a, sa, (const float *)b, sb, n);
    } else if (bool_out) {
      if (job->dtype) pred_row_f64(job->op, o, so, (const double *)a, sa, n);
      else pred_row_f32(job->op, o, so, (const float *)a, sa, n);
    } else if (job->kind == KIND_BINARY && job->op == B_RELU_BWD) {
      const int32_t leaky = job->ia[IA_RELU_BACKWARD_LEAKY];
      if (job->dtype) relub_row_f64((double *)o, so, (const double *)a, sa, (const double *)b, sb, n, leaky, job->fa[0]);
      else relub_row_f32((float *)o, so, (const float *)a, sa, (const float *)b, sb, n, leaky, job->fa[0]);
    } else if (job->kind == KIND_BINARY) {
      const int32_t ro = st[0][inner - (nd > 1)], ra = st[1][inner - (nd > 1)];
      const int32_t rb = st[2][inner - (nd > 1)];
      if (job->dtype) bin_row_f64(job->op, (double *)o, so, (const double *)a, sa, (const double *)b, sb, n, rows, ro, ra, rb);
      else bin_row_f32(job->op, (float *)o, so, (const float *)a, sa, (const float *)b, sb, n, rows, ro, ra, rb);
    } else {
      if (job->dtype) un_row_f64(job->op, (double *)o, so, (const double *)a, sa, n, job->fa);
      else un_row_f32(job->op, (float *)o, so, (const float *)a, sa, n, job->fa);
    }
    /* advance past the extra whole rows (they end inside axis inner − 1), then as for one row */
    if (rows > 1) {
      w.idx[inner - 1] += rows - 1;
      for (int32_t j = 0; j < nops; j++) w.off[j] += (int64_t)(rows - 1) * st[j][inner - 1];
      pos += (rows - 1) * n;
    }
    pos += n;
    walk_next(&w, job, st, nops, n);
  }
}

/*
 * where (KIND_WHERE): out = cond ? a : b over out's elements [lo, hi) in C order, every operand
 * through its own (broadcast) strides; a, b and out share a dtype of any width (raw element
 * copies, so NaN payloads and i64 values pass unchanged), cond is bool (one byte). ptr: 0 out,
 * 1 a, 2 b, 3 cond; strides[0..2] out, a, b; ia[0..7] cond's strides; ia[8] element bytes.
 */
#define WHERE_ROW(T)                                                                           \
  static void where_row_##T(T *o, int32_t os, const T *a, int32_t as, const T *b, int32_t bs,  \
                            const uint8_t *c, int32_t cs, int32_t n) {                         \
    if (os == 1 && as == 1 && bs == 1 && cs == 1) {                                            \
      for (int32_t i = 0; i < n; i++) o[i] = c[i] ? a[i] : b[i];                               \
    } else {                                                                                   \
      for (int32_t i = 0; i < n; i++) {                                                        \
        o[(int64_t)i * os] = c[(int64_t)i * cs] ? a[(int64_t)i * as] : b[(int64_t)i * bs];     \
      }                                                                                        \
    }                                                                                          \
  }
WHERE_ROW(uint8_t)
WHERE_ROW(uint16_t)
WHERE_ROW(uint32_t)
WHERE_ROW(uint64_t)

void where_slot(pjob_t *job, int32_t s) {
  SLOT_RANGE(job->total, s, job->nslots, lo, hi);
  if (lo >= hi) return;
  const int32_t es = job->ia[IA_WHERE_ELEM_BYTES];
  const int32_t *const st[4] = {job->strides[0], job->strides[1], job->strides[2], job->ia + IA_WHERE_COND_STRIDES};
  walk_t w;
  walk_start(&w, job, st, 4, lo);
  const int32_t inner = job->ndim - 1, len = job->shape[inner];
  const int32_t so = st[0][inner], sa = st[1][inner], sb = st[2][inner], sc = st[3][inner];
  int32_t pos = lo;
  while (pos < hi) {
    const int32_t n = MIN(len - w.idx[inner], hi - pos);
    uint8_t *o = (uint8_t *)(uintptr_t)job->ptr[0] + w.off[0] * es;
    const uint8_t *a = (const uint8_t *)(uintptr_t)job->ptr[1] + w.off[1] * es;
    const uint8_t *b = (const uint8_t *)(uintptr_t)job->ptr[2] + w.off[2] * es;
    const uint8_t *c = (const uint8_t *)(uintptr_t)job->ptr[3] + w.off[3];
    switch (es) {
      case 1: where_row_uint8_t(o, so, a, sa, b, sb, c, sc, n); break;
      case 2:
        where_row_uint16_t((uint16_t *)o, so, (const uint16_t *)a, sa, (const uint16_t *)b, sb, c, sc, n);
        break;
      case 4:
        where_row_uint32_t((uint32_t *)o, so, (const uint32_t *)a, sa, (const uint32_t *)b, sb, c, sc, n);
        break;
      default:
        where_row_uint64_t((uint64_t *)o, so, (const uint64_t *)a, sa, (const uint64_t *)b, sb, c, sc, n);
        break;
    }
    pos += n;
    walk_next(&w, job, st, 4, n);
  }
}
