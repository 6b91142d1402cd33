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

#include "ew_math.h"

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
      /* relu(a + b) as U_RELU: x < 0 ? 0 : x (NaN and -0 pass through) */                    \
      case B_ADD_RELU: {                                                                       \
        v128_t x = wasm_##V##_add(a, b);                                                       \
        return wasm_v128_andnot(x, wasm_##V##_lt(x, SPL(0)));                                  \
      }                                                                                        \
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
      case B_ADD_RELU: BIN_ROWS(SFX, B_ADD_RELU); break;                                       \
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
