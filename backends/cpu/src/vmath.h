/*
 * SIMD128 math: exp, log, tanh, sigmoid for f32x4 and f64x2 (no libm in the module).
 *
 * f32 exp: Cody–Waite reduction x = n·ln2 + r (|r| ≤ ln2/2, ln2 in two parts), a degree-6 minimax
 * polynomial for e^r (0.05 ulp), then 2^n added to the exponent field when every lane is in
 * [−87, 88], else applied in two steps so that subnormal results round once.
 * f32 log: Cephes' logf (mantissa in [√½, √2), degree-9 polynomial), subnormal inputs rescaled.
 * Measured against correctly rounded values (tests/backends/wasm_kernels_test.ts sweeps them):
 * exp ≤ 1 ulp, log ≤ 1 ulp on normal results (see the README for the numbers).
 * f64 exp: the same reduction with a degree-13 Taylor polynomial; f64 log: fdlibm's __ieee754_log
 * polynomial. Both within a few ulp of the correctly rounded result.
 * NaN propagates everywhere; exp(+inf) = inf, exp(-inf) = 0, log(0) = -inf, log(x < 0) = NaN.
 *
 * With relaxed SIMD the polynomials use fused multiply-adds; the plain build multiplies and adds.
 */
#ifndef APRENDER_VMATH_H
#define APRENDER_VMATH_H
#include "rt.h"

#ifdef __wasm_relaxed_simd__
#define MADD32(a, b, c) __builtin_wasm_relaxed_madd_f32x4((a), (b), (c))
#define MADD64(a, b, c) __builtin_wasm_relaxed_madd_f64x2((a), (b), (c))
#else
#define MADD32(a, b, c) wasm_f32x4_add(wasm_f32x4_mul((a), (b)), (c))
#define MADD64(a, b, c) wasm_f64x2_add(wasm_f64x2_mul((a), (b)), (c))
#endif
/*
 * Splats of a scalar, constants included. The empty asm hides the value from LLVM, which then
 * hoists one splat per constant out of loops into a local instead of emitting a v128.const at
 * every use: V8 builds each v128.const from general registers where it is used (measured: sin
 * 2.2x slower that way).
 */
INLINE v128_t S32(float c) {
  __asm__("" : "+r"(c));
  return wasm_f32x4_splat(c);
}
INLINE v128_t S64(double c) {
  __asm__("" : "+r"(c));
  return wasm_f64x2_splat(c);
}

/*
 * Constants are read from tables defined in another translation unit (vmath.c): LLVM then hoists
 * the splats out of loops into locals, whereas v128.const immediates were rematerialized at every
 * use and V8 builds each from general registers (measured: exp 3× slower that way).
 */
extern const float vm_kf32[];
extern const double vm_kf64[];
extern const int32_t vm_ki32[];
extern const int64_t vm_ki64[];
#define KF32(i) wasm_v128_load32_splat(&vm_kf32[i])
#define KF64(i) wasm_v128_load64_splat(&vm_kf64[i])
#define KI32(i) wasm_v128_load32_splat(&vm_ki32[i])
#define KI64(i) wasm_v128_load64_splat(&vm_ki64[i])

/* C99 pow for binary64, ≤ 0.51 ulp (pow64.h; one instance in pow64.c). */
double pow64_call(double x, double y);

/* ---- f32 ------------------------------------------------------------------------------------ */

/*
 * e^x for x in [−87, 88] (NaN too), where every result is a normal number: no clamping, and
 * 2^n applied to the exponent field directly. Softmax calls it for x − max (its callers check the
 * range).
 */
/*
 * e^r·2^n for |r| ≤ ln2/2, with t = x·log2e + 1.5·2^23 holding n in its low mantissa bits: e^r
 * by Horner's rule to degree 6 (minimax on |r| ≤ ln2/2: 0.05 ulp; the last two steps ·r + 1),
 * then n added to the result's exponent field, for results that are normal numbers: (t's bits −
 * 1.5·2^23's bits) << 23 is t's bits << 23, the constant's low 9 bits being zero.
 */
INLINE v128_t exp_f32_poly(v128_t r) {
  v128_t p = KF32(7);
  p = MADD32(p, r, KF32(8));
  p = MADD32(p, r, KF32(9));
  p = MADD32(p, r, KF32(10));
  p = MADD32(p, r, KF32(11));
  p = MADD32(p, r, KF32(12));
  return MADD32(p, r, KF32(12));
}
INLINE v128_t exp_f32_finish(v128_t t, v128_t r) {
  return wasm_i32x4_add(exp_f32_poly(r), wasm_i32x4_shl(t, 23));
}

INLINE v128_t exp_f32_nonpos(v128_t x) {
  /* n = round(x·log2e) by the 1.5·2^23 trick: its integer sits in the low mantissa bits, which
     saves the float→int conversion (a long sequence on x86). */
  v128_t t = MADD32(x, KF32(2), KF32(3));
  v128_t n = wasm_f32x4_sub(t, KF32(3));
  v128_t r = MADD32(n, KF32(4), x);
  r = MADD32(n, KF32(5), r);
  return exp_f32_finish(t, r);
}
/* Lower bound of exp_f32_nonpos's range, splatted. */
#define EXP_NONPOS_MIN KF32(39)

/* e^x anywhere: clamped to [−104, 89] (below, 0; above, inf), 2^n in two steps so that
   subnormal results round once. The common case, every lane in [−87, 88], skips both. */
INLINE v128_t exp_f32(v128_t x) {
  /* The fast form unconditionally, so that its constants stay loop-invariant (LLVM hoists loads
     only out of code that runs on every iteration; reloaded, they made exp ~1.5x slower). */
  const v128_t fast = exp_f32_nonpos(x);
  if (!wasm_v128_any_true(wasm_v128_or(wasm_f32x4_lt(x, EXP_NONPOS_MIN),
                                       wasm_f32x4_gt(x, KF32(40)))))
    return fast;
  /* pmin/pmax with x first keep a NaN x (they return the first operand when unordered). */
  v128_t xc = wasm_f32x4_pmax(wasm_f32x4_pmin(x, KF32(0)), KF32(1));
  v128_t t = MADD32(xc, KF32(2), KF32(3));
  v128_t n = wasm_f32x4_sub(t, KF32(3));
  v128_t r = MADD32(n, KF32(4), xc);
  r = MADD32(n, KF32(5), r);
  v128_t y = exp_f32_poly(r);
  v128_t ni = wasm_i32x4_sub(t, KI32(0)); /* bits of t − bits of 1.5·2^23 */
  v128_t n1 = wasm_i32x4_shr(ni, 1);
  v128_t n2 = wasm_i32x4_sub(ni, n1);
  v128_t s1 = wasm_i32x4_shl(wasm_i32x4_add(n1, KI32(1)), 23);
  v128_t s2 = wasm_i32x4_shl(wasm_i32x4_add(n2, KI32(1)), 23);
  return wasm_f32x4_mul(wasm_f32x4_mul(y, s1), s2);
}

INLINE v128_t log_f32(v128_t x) {
  /* Subnormals: scale by 2^23 first. */
  v128_t sub = wasm_f32x4_lt(x, KF32(13));
  v128_t xs = wasm_v128_bitselect(wasm_f32x4_mul(x, KF32(14)), x, sub);
  v128_t bits = xs;
  v128_t e = wasm_i32x4_sub(wasm_u32x4_shr(bits, 23), KI32(2));
  e = wasm_i32x4_sub(e, wasm_v128_and(sub, KI32(3)));
  /* mantissa in [0.5, 1) */
  v128_t m = wasm_v128_or(wasm_v128_and(bits, KI32(4)),
                          KI32(5));
  v128_t small = wasm_f32x4_lt(m, KF32(15));
  /* m < √½: e -= 1, m = 2m - 1; else m = m - 1 */
  e = wasm_i32x4_add(e, small); /* mask is -1 */
  v128_t fm = wasm_f32x4_sub(wasm_f32x4_add(m, wasm_v128_and(small, m)), KF32(12));
  v128_t fe = wasm_f32x4_convert_i32x4(e);
  v128_t z = wasm_f32x4_mul(fm, fm);
  v128_t p = KF32(16);
  p = MADD32(p, fm, KF32(17));
  p = MADD32(p, fm, KF32(18));
  p = MADD32(p, fm, KF32(19));
  p = MADD32(p, fm, KF32(20));
  p = MADD32(p, fm, KF32(21));
  p = MADD32(p, fm, KF32(22));
  p = MADD32(p, fm, KF32(23));
  p = MADD32(p, fm, KF32(24));
  v128_t y = wasm_f32x4_mul(wasm_f32x4_mul(p, fm), z);
  y = MADD32(fe, KF32(25), y);
  y = MADD32(z, KF32(26), y);
  v128_t r = wasm_f32x4_add(fm, y);
  r = MADD32(fe, KF32(27), r);
  /* Specials: x < 0 or NaN → NaN, 0 → -inf, +inf → +inf. */
  r = wasm_v128_bitselect(KF32(28), r, wasm_f32x4_eq(x, KF32(29)));
  r = wasm_v128_bitselect(x, r, wasm_f32x4_eq(x, KF32(30)));
  r = wasm_v128_bitselect(KF32(31), r, wasm_f32x4_lt(x, KF32(29)));
  return wasm_v128_bitselect(x, r, wasm_f32x4_ne(x, x));
}

/* 1/(1+e^-x), as e/(1+e) with e = e^-|x| for x < 0 so that neither side overflows. */
INLINE v128_t sigmoid_f32(v128_t x) {
  v128_t e = exp_f32(wasm_f32x4_neg(wasm_f32x4_abs(x)));
  v128_t s = wasm_f32x4_div(KF32(12), wasm_f32x4_add(KF32(12), e));
  return wasm_v128_bitselect(wasm_f32x4_mul(e, s), s, wasm_f32x4_lt(x, KF32(29)));
}

/* Cephes tanhf: odd polynomial below 0.625, else 1 - 2/(e^{2|x|} + 1) with the sign of x. */
INLINE v128_t tanh_f32(v128_t x) {
  v128_t ax = wasm_f32x4_abs(x);
  v128_t z = wasm_f32x4_mul(x, x);
  v128_t p = KF32(32);
  p = MADD32(p, z, KF32(33));
  p = MADD32(p, z, KF32(34));
  p = MADD32(p, z, KF32(35));
  p = MADD32(p, z, KF32(36));
  /* On |x| with the sign of x copied in below, so that tanh(-0) = -0. */
  v128_t small = MADD32(wasm_f32x4_mul(p, z), ax, ax);
  small = wasm_v128_or(small, wasm_v128_and(x, KI32(6)));
  v128_t e = exp_f32(wasm_f32x4_add(ax, ax));
  v128_t big = wasm_f32x4_sub(KF32(12), wasm_f32x4_div(KF32(37), wasm_f32x4_add(e, KF32(12))));
  big = wasm_v128_or(big, wasm_v128_and(x, KI32(6)));
  /* NaN fails the comparison and takes the polynomial branch, which propagates it. */
  return wasm_v128_bitselect(big, small, wasm_f32x4_ge(ax, KF32(38)));
}

/* ---- f64 ------------------------------------------------------------------------------------ */

INLINE v128_t pow2i_f64(v128_t ni /* i64x2 */) {
  return wasm_i64x2_shl(wasm_i64x2_add(ni, KI64(0)), 52);
}

INLINE v128_t exp_f64(v128_t x) {
  v128_t xc = wasm_f64x2_pmax(wasm_f64x2_pmin(x, KF64(0)), KF64(1));
  v128_t n = wasm_f64x2_nearest(wasm_f64x2_mul(xc, KF64(2)));
  v128_t r = MADD64(n, KF64(3), xc);
  r = MADD64(n, KF64(4), r);
  /* Taylor to degree 13: |r| ≤ 0.347, truncation < 5e-18 relative. */
  v128_t p = KF64(5);
  p = MADD64(p, r, KF64(6));
  p = MADD64(p, r, KF64(7));
  p = MADD64(p, r, KF64(8));
  p = MADD64(p, r, KF64(9));
  p = MADD64(p, r, KF64(10));
  p = MADD64(p, r, KF64(11));
  p = MADD64(p, r, KF64(12));
  p = MADD64(p, r, KF64(13));
  p = MADD64(p, r, KF64(14));
  p = MADD64(p, r, KF64(15));
  p = MADD64(p, r, KF64(16));
  v128_t y = MADD64(p, wasm_f64x2_mul(r, r), wasm_f64x2_add(r, KF64(17)));
  /* n as i64 from n + 1.5·2^52 (V8 scalarizes trunc_sat of f64x2) */
  v128_t ni = wasm_i64x2_sub(wasm_f64x2_add(n, KF64(42)), KI64(5));
  v128_t n1 = wasm_i64x2_shr(ni, 1);
  v128_t n2 = wasm_i64x2_sub(ni, n1);
  return wasm_f64x2_mul(wasm_f64x2_mul(y, pow2i_f64(n1)), pow2i_f64(n2));
}

INLINE v128_t log_f64(v128_t x) {
  v128_t sub = wasm_f64x2_lt(x, KF64(18));
  v128_t xs = wasm_v128_bitselect(wasm_f64x2_mul(x, KF64(19)), x, sub);
  /* k = exponent, m in [1, 2) */
  v128_t k = wasm_i64x2_sub(wasm_u64x2_shr(xs, 52), KI64(0));
  k = wasm_i64x2_sub(k, wasm_v128_and(sub, KI64(1)));
  v128_t m = wasm_v128_or(wasm_v128_and(xs, KI64(2)),
                          KI64(3));
  v128_t big = wasm_f64x2_gt(m, KF64(20));
  k = wasm_i64x2_sub(k, big); /* mask -1: k += 1 */
  m = wasm_v128_bitselect(wasm_f64x2_mul(m, KF64(16)), m, big);
  v128_t f = wasm_f64x2_sub(m, KF64(17));
  /* k as f64: |k| < 1100 fits the low i32 of each lane */
  v128_t dk = wasm_f64x2_convert_low_i32x4(wasm_i32x4_shuffle(k, k, 0, 2, 0, 2));
  v128_t s = wasm_f64x2_div(f, wasm_f64x2_add(KF64(21), f));
  v128_t z = wasm_f64x2_mul(s, s), w = wasm_f64x2_mul(z, z);
  v128_t t1 = MADD64(w, KF64(22), KF64(23));
  t1 = MADD64(t1, w, KF64(24));
  t1 = wasm_f64x2_mul(t1, w);
  v128_t t2 = MADD64(w, KF64(25), KF64(26));
  t2 = MADD64(t2, w, KF64(27));
  t2 = MADD64(t2, w, KF64(28));
  t2 = wasm_f64x2_mul(t2, z);
  v128_t R = wasm_f64x2_add(t2, t1);
  v128_t hfsq = wasm_f64x2_mul(wasm_f64x2_mul(KF64(16), f), f);
  v128_t inner = MADD64(s, wasm_f64x2_add(hfsq, R), wasm_f64x2_mul(dk, KF64(29)));
  v128_t r = wasm_f64x2_sub(wasm_f64x2_mul(dk, KF64(30)),
                            wasm_f64x2_sub(wasm_f64x2_sub(hfsq, inner), f));
  r = wasm_v128_bitselect(KF64(31), r, wasm_f64x2_eq(x, KF64(32)));
  r = wasm_v128_bitselect(x, r, wasm_f64x2_eq(x, KF64(33)));
  r = wasm_v128_bitselect(KF64(34), r, wasm_f64x2_lt(x, KF64(32)));
  return wasm_v128_bitselect(x, r, wasm_f64x2_ne(x, x));
}

INLINE v128_t sigmoid_f64(v128_t x) {
  v128_t e = exp_f64(wasm_f64x2_neg(wasm_f64x2_abs(x)));
  v128_t s = wasm_f64x2_div(KF64(17), wasm_f64x2_add(KF64(17), e));
  return wasm_v128_bitselect(wasm_f64x2_mul(e, s), s, wasm_f64x2_lt(x, KF64(32)));
}

/* Cephes tanh: x + x·z·P(z)/Q(z) below 0.625, else 1 - 2/(e^{2|x|} + 1) with the sign of x. */
INLINE v128_t tanh_f64(v128_t x) {
  v128_t ax = wasm_f64x2_abs(x);
  v128_t z = wasm_f64x2_mul(x, x);
  v128_t P = MADD64(z, KF64(35), KF64(36));
  P = MADD64(P, z, KF64(37));
  v128_t Q = wasm_f64x2_add(z, KF64(38));
  Q = MADD64(Q, z, KF64(39));
  Q = MADD64(Q, z, KF64(40));
  v128_t small = MADD64(wasm_f64x2_mul(ax, z), wasm_f64x2_div(P, Q), ax);
  small = wasm_v128_or(small, wasm_v128_and(x, KI64(4)));
  v128_t e = exp_f64(wasm_f64x2_add(ax, ax));
  v128_t big = wasm_f64x2_sub(KF64(17), wasm_f64x2_div(KF64(21), wasm_f64x2_add(e, KF64(17))));
  big = wasm_v128_or(big, wasm_v128_and(x, KI64(4)));
  return wasm_v128_bitselect(big, small, wasm_f64x2_ge(ax, KF64(41)));
}
#endif
