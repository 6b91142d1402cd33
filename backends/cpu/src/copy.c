/*
 * The `copy` kernel: out = cast(a) through any strides (broadcast stride 0, negative strides),
 * for raw same-dtype copies (by element width: 1, 2, 4 or 8 bytes) and the conversions
 * f32 <-> f64, f16 <-> f32, bf16 <-> f32, i32 -> f32/f64, f32/f64 -> i32 and u8 (bool) -> f32/f64.
 * Every conversion gives the scalar backend's result bit for bit: float narrowing rounds to
 * nearest even, float -> i32 truncates toward zero and wraps modulo 2^32 (JavaScript's ToInt32;
 * NaN and infinities give 0).
 *
 * The TS side has merged the axes (at most MAXDIM remain); a slot is a range of output elements
 * in C order, run row by row along the last merged axis. ptr: 0 out, 1 a; strides[0] out,
 * strides[1] a (elements of each operand's own dtype); op = the conversion (CV_* below).
 */
#include "par.h"
#include "half.h"

enum {
  CV_RAW1, CV_RAW2, CV_RAW4, CV_RAW8,
  CV_F32_F64, CV_F64_F32, CV_F16_F32, CV_F32_F16, CV_BF16_F32, CV_F32_BF16,
  CV_I32_F32, CV_I32_F64, CV_F32_I32, CV_F64_I32, CV_U8_F32, CV_U8_F64,
};

static const int32_t SRC_BYTES[] = {1, 2, 4, 8, 4, 8, 2, 4, 2, 4, 4, 4, 4, 8, 1, 1};
static const int32_t DST_BYTES[] = {1, 2, 4, 8, 8, 4, 4, 2, 4, 2, 4, 8, 4, 4, 4, 8};

/* The conversions of half.h, shared with convert.c and quantize.c. */
INLINE uint32_t h2f(uint32_t h) { return half_to_float_bits(h); }
INLINE uint16_t f2h(uint32_t x) { return (uint16_t)float_bits_to_half(x); }
INLINE uint16_t f2bf(uint32_t u) { return (uint16_t)float_bits_to_bf16(u); }
/* JavaScript's ToInt32 of a double. */
INLINE int32_t to_i32(double d) {
  if (!(d - d == 0)) return 0; /* NaN, ±inf */
  const double t = __builtin_trunc(d);
  if (t > -2147483649.0 && t < 2147483648.0) return (int32_t)t;
  const double m = t - __builtin_floor(t / 4294967296.0) * 4294967296.0;
  return (int32_t)(uint32_t)m;
}

/* One row of n elements: contiguous both sides (vectorizable), a broadcast source, or strided. */
#define ROW(NAME, S, D, EXPR)                                                                  \
  static void NAME(const S *a, int32_t as, D *o, int32_t os, int32_t n) {                     \
    if (as == 1 && os == 1) {                                                                  \
      for (int32_t i = 0; i < n; i++) { const S x = a[i]; o[i] = (EXPR); }                     \
    } else if (as == 0) {                                                                      \
      const S x = a[0];                                                                        \
      const D v = (EXPR);                                                                      \
      if (os == 1) for (int32_t i = 0; i < n; i++) o[i] = v;                                   \
      else for (int32_t i = 0; i < n; i++) o[(int64_t)i * os] = v;                             \
    } else {                                                                                   \
      for (int32_t i = 0; i < n; i++) { const S x = a[(int64_t)i * as]; o[(int64_t)i * os] = (EXPR); } \
    }                                                                                          \
  }

ROW(row_raw1, uint8_t, uint8_t, x)
ROW(row_raw2, uint16_t, uint16_t, x)
ROW(row_raw4, uint32_t, uint32_t, x)
ROW(row_raw8, uint64_t, uint64_t, x)
ROW(row_f32_f64, float, double, (double)x)
ROW(row_f64_f32, double, float, (float)x)
ROW(row_f16_f32, uint16_t, uint32_t, h2f(x))
ROW(row_f32_f16, uint32_t, uint16_t, f2h(x))
ROW(row_bf16_f32, uint16_t, uint32_t, (uint32_t)x << 16)
ROW(row_f32_bf16, uint32_t, uint16_t, f2bf(x))
ROW(row_i32_f32, int32_t, float, (float)x)
ROW(row_i32_f64, int32_t, double, (double)x)
ROW(row_f32_i32, float, int32_t, to_i32((double)x))
ROW(row_f64_i32, double, int32_t, to_i32(x))
ROW(row_u8_f32, uint8_t, float, (float)x)
ROW(row_u8_f64, uint8_t, double, (double)x)

static void copy_row(int32_t op, const uint8_t *a, int32_t as, uint8_t *o, int32_t os,
                     int32_t n) {
  switch (op) {
    case CV_RAW1: row_raw1(a, as, o, os, n); break;
    case CV_RAW2: row_raw2((const uint16_t *)a, as, (uint16_t *)o, os, n); break;
    case CV_RAW4: row_raw4((const uint32_t *)a, as, (uint32_t *)o, os, n); break;
    case CV_RAW8: row_raw8((const uint64_t *)a, as, (uint64_t *)o, os, n); break;
    case CV_F32_F64: row_f32_f64((const float *)a, as, (double *)o, os, n); break;
    case CV_F64_F32: row_f64_f32((const double *)a, as, (float *)o, os, n); break;
    case CV_F16_F32: row_f16_f32((const uint16_t *)a, as, (uint32_t *)o, os, n); break;
    case CV_F32_F16: row_f32_f16((const uint32_t *)a, as, (uint16_t *)o, os, n); break;
    case CV_BF16_F32: row_bf16_f32((const uint16_t *)a, as, (uint32_t *)o, os, n); break;
    case CV_F32_BF16: row_f32_bf16((const uint32_t *)a, as, (uint16_t *)o, os, n); break;
    case CV_I32_F32: row_i32_f32((const int32_t *)a, as, (float *)o, os, n); break;
    case CV_I32_F64: row_i32_f64((const int32_t *)a, as, (double *)o, os, n); break;
    case CV_F32_I32: row_f32_i32((const float *)a, as, (int32_t *)o, os, n); break;
    case CV_F64_I32: row_f64_i32((const double *)a, as, (int32_t *)o, os, n); break;
    case CV_U8_F32: row_u8_f32(a, as, (float *)o, os, n); break;
    default: row_u8_f64(a, as, (double *)o, os, n); break;
  }
}

void copy_slot(pjob_t *job, int32_t s) {
  SLOT_RANGE(job->total, s, job->nslots, lo, hi);
  if (lo >= hi) return;
  const int32_t nd = job->ndim, op = job->op;
  const int32_t eo = DST_BYTES[op], ea = SRC_BYTES[op];
  const int32_t *const st[2] = {job->strides[0], job->strides[1]};
  walk_t w;
  walk_start(&w, job, st, 2, lo);
  const int32_t inner = nd - 1, len = job->shape[inner];
  const int32_t so = st[0][inner], sa = st[1][inner];
  int32_t pos = lo;
  while (pos < hi) {
    const int32_t n = MIN(len - w.idx[inner], hi - pos);
    uint8_t *o = (uint8_t *)(uintptr_t)job->ptr[0] + w.off[0] * eo;
    const uint8_t *a = (const uint8_t *)(uintptr_t)job->ptr[1] + w.off[1] * ea;
    copy_row(op, a, sa, o, so, n);
    pos += n;
    walk_next(&w, job, st, 2, n);
  }
}
