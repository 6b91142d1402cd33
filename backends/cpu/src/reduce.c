/*
 * Reductions (sum, max, min, argmax, argmin) and fused softmax / logSoftmax, f32 and f64, along
 * lines described by the TS side (backends/wasm/reduce.ts): a table of line starts (int32
 * element offsets from the input's first element) and either one step (the reduced axes
 * coalesce) or a table of offsets within a line.
 *
 * f32 sums: contiguous lines add blocks of 256 in f32x4 lanes, each block's partial widened into
 * f64 lanes (sum_blocks_f32: at most 11 f32 roundings per element, fewer than NumPy's pairwise
 * sum); strided lines and tails widen every element into f64 lanes. f64 sums use Neumaier
 * compensation per lane like the scalar backend. max/min propagate NaN. argmax/argmin return the first extreme, the first NaN winning.
 *
 * Job words (pjob_t.ia): 0 nlines, 1 n (line length), 2 step (0 with an inner table), 3 output
 * kind (0 f32, 1 f64, 2 i64, 3 f64 partials of a split line), 4 split (1: one line cut into
 * slots), 5 phase (softmax split), 6 out step (softmax). ptr: 0 out, 1 in, 2 line table (or 0:
 * line i starts at i·ia[7]), 3 inner table / out line table (softmax); ia[8] 1: columns (see
 * columns_f32 below). fa[0]: divisor (mean),
 * fa[1..3] softmax split constants (max, 1/z or log z, the line's min).
 */
#include "par.h"
#include "vmath.h"
#include "vio.h"

enum { R_SUM, R_MAX, R_MIN, R_ARGMAX, R_ARGMIN, R_VAR, R_PROD, R_LSE, R_NORM, R_ANY, R_ALL };

typedef struct { double v; int32_t i; } res_t;

#include "reduce_lines.h"

/* ---- generic line walk (inner offset table, argmax/argmin) ---- */

/* Element o of a line: dtype 0 f32, 1 f64, 2 bool (a byte). */
INLINE double at(const uint8_t *x, int dtype, int64_t o) {
  return dtype == 2 ? (double)x[o] : dtype ? ((const double *)x)[o] : (double)((const float *)x)[o];
}
/* Element j of a line: through the inner offset table when there is one, else by the step. */
INLINE double line_at(const uint8_t *x, int dtype, const int32_t *inner, int32_t step, int32_t j) {
  return at(x, dtype, inner ? inner[j] : (int64_t)j * step);
}

static res_t line_generic(int op, int dtype, const uint8_t *x, int32_t n, int32_t step,
                          const int32_t *inner, int32_t base_index) {
  res_t r = {0, 0};
  if (op == R_SUM) {
    double s0 = 0, s1 = 0;
    int32_t j = 0;
    for (; j + 1 < n; j += 2) {
      s0 += line_at(x, dtype, inner, step, j);
      s1 += line_at(x, dtype, inner, step, j + 1);
    }
    if (j < n) s0 += line_at(x, dtype, inner, step, j);
    r.v = s0 + s1;
    return r;
  }
  const int is_max = op == R_MAX || op == R_ARGMAX;
  double m = line_at(x, dtype, inner, step, 0);
  int32_t best = 0;
  if (m == m) {
    for (int32_t j = 1; j < n; j++) {
      const double v = line_at(x, dtype, inner, step, j);
      if (v != v) { m = v; best = j; break; }
      if (is_max ? v > m : v < m) { m = v; best = j; }
    }
  }
  r.v = m;
  r.i = best + base_index;
  return r;
}

/*
 * Variance (R_VAR; ia[9] 1: its square root, std; fa[1] ddof), two passes like the scalar kernel:
 * the mean from the line's sum (f64 lanes, compensated for f64 data), then Σ (x − mean)² in f64,
 * divided by max(n − ddof, 0).
 */
static double var_line(pjob_t *job, const uint8_t *x, int32_t n, int32_t step,
                       const int32_t *inner) {
  const int dtype = job->dtype;
  double s;
  if (inner) {
    s = 0;
    for (int32_t j = 0; j < n; j++) s += line_at(x, dtype, inner, step, j);
  } else {
    const int kind = step == 1 ? 1 : 2;
    s = dtype ? sum_line_f64((const double *)x, n, step, kind)
              : sum_line_f32((const float *)x, n, step, kind);
  }
  const double m = s / n;
  double q0 = 0, q1 = 0;
  int32_t j = 0;
  for (; j + 1 < n; j += 2) {
    const double d0 = line_at(x, dtype, inner, step, j) - m;
    const double d1 = line_at(x, dtype, inner, step, j + 1) - m;
    q0 += d0 * d0;
    q1 += d1 * d1;
  }
  if (j < n) {
    const double d = line_at(x, dtype, inner, step, j) - m;
    q0 += d * d;
  }
  const double den = (double)n - job->fa[1];
  const double v = (q0 + q1) / (den > 0 ? den : 0);
  return job->ia[IA_REDUCE_STD] ? __builtin_sqrt(v) : v;
}

INLINE double exp_scalar(double v) { return wasm_f64x2_extract_lane(exp_f64(S64(v)), 0); }
INLINE double log_scalar(double v) { return wasm_f64x2_extract_lane(log_f64(S64(v)), 0); }

/*
 * prod (R_PROD), logsumexp (R_LSE: log Σ exp(x − m) + m with m the line's max when finite, NaN if
 * any is NaN) and vector norms (R_NORM, fa[1] = p: 0, 1, 2, ±inf, or any other through pow64), element by element in f64
 * in line order, like the scalar kernels.
 */
static double stat_line(pjob_t *job, const uint8_t *x, int32_t n, int32_t step,
                        const int32_t *inner) {
  const int op = job->op, dtype = job->dtype;
#define AT(j) line_at(x, dtype, inner, step, j)
  if (op == R_ANY || op == R_ALL) {
    /* NaN is non-zero (true), as in NumPy; stop at the first decisive element */
    for (int32_t j = 0; j < n; j++) {
      if ((AT(j) != 0) == (op == R_ANY)) return op == R_ANY;
    }
    return op == R_ALL;
  }
  if (op == R_PROD) {
    double p = 1;
    for (int32_t j = 0; j < n; j++) p *= AT(j);
    return p;
  }
  if (op == R_LSE) {
    double m = -__builtin_inf();
    for (int32_t j = 0; j < n; j++) {
      const double v = AT(j);
      if (v != v) return v;
      if (v > m) m = v;
    }
    const double shift = (m - m == 0) ? m : 0; /* finite max, else 0 */
    double s = 0;
    for (int32_t j = 0; j < n; j++) s += exp_scalar(AT(j) - shift);
    return log_scalar(s) + shift;
  }
  const double p = job->fa[1];
  if (p == 2) {
    double s = 0;
    for (int32_t j = 0; j < n; j++) { const double v = AT(j); s += v * v; }
    return __builtin_sqrt(s);
  }
  if (p == 1) {
    double s = 0;
    for (int32_t j = 0; j < n; j++) s += __builtin_fabs(AT(j));
    return s;
  }
  if (p == 0) {
    double c = 0;
    for (int32_t j = 0; j < n; j++) c += AT(j) != 0;
    return c;
  }
  if (p - p == 0) {
    /* any other finite order: (Σ |x|^p)^(1/p), like the reference */
    double s = 0;
    for (int32_t j = 0; j < n; j++) s += pow64_call(__builtin_fabs(AT(j)), p);
    return pow64_call(s, 1 / p);
  }
  const int big = p > 0;
  double m = big ? 0 : __builtin_inf();
  for (int32_t j = 0; j < n; j++) {
    const double v = __builtin_fabs(AT(j));
    if (v != v) return v;
    if (big ? v > m : v < m) m = v;
  }
  return m;
#undef AT
}

static res_t reduce_line(pjob_t *job, const uint8_t *x, int32_t n, int32_t base_index) {
  const int op = job->op, dtype = job->dtype;
  const int32_t step = job->ia[IA_REDUCE_STEP];
  const int32_t *inner = (const int32_t *)(uintptr_t)job->ptr[3];
  res_t r = {0, 0};
  if (op == R_VAR) {
    r.v = var_line(job, x, n, step, inner);
    return r;
  }
  if (op >= R_PROD) {
    r.v = stat_line(job, x, n, step, inner);
    return r;
  }
  if (inner || op == R_ARGMAX || op == R_ARGMIN) return line_generic(op, dtype, x, n, step, inner, base_index);
  const int kind = step == 1 ? 1 : 2;
  if (op == R_SUM) r.v = dtype ? sum_line_f64((const double *)x, n, step, kind)
                               : sum_line_f32((const float *)x, n, step, kind);
  else r.v = dtype ? ext_line_f64((const double *)x, n, step, kind, op == R_MAX)
                   : ext_line_f32((const float *)x, n, step, kind, op == R_MAX);
  return r;
}

INLINE const uint8_t *line_start(pjob_t *job, int32_t i, int32_t es) {
  const int32_t *lines = (const int32_t *)(uintptr_t)job->ptr[2];
  const int64_t o = lines ? lines[i] : (int64_t)i * job->ia[IA_REDUCE_LINE_STEP];
  return (const uint8_t *)(uintptr_t)job->ptr[1] + o * es;
}

/*
 * Columns (ia[8] = 1; sum, max, min): line i starts at element i and steps by ia[2], i.e. the
 * reduced axis is outer and the kept elements are adjacent (sum over axis 0 of a C-order matrix).
 * Walking one line at a time would touch a new cache line per element; instead a tile of adjacent
 * lines is reduced row by row into f64 accumulators (each element rounded once for sums). A slot
 * is a range of lines.
 */
#define COL_TILE 512
#ifndef COL_ROWS
#define COL_ROWS 16
#endif
#define COLUMNS(T, SFX)                                                                        \
  static void columns_##SFX(pjob_t *job, int32_t lo, int32_t hi) {                            \
    const int op = job->op, kind = job->ia[IA_REDUCE_OUT_KIND];                               \
    const int32_t n = job->ia[IA_REDUCE_N], step = job->ia[IA_REDUCE_STEP];                   \
    const T *x = (const T *)(uintptr_t)job->ptr[1];                                            \
    const double div = job->fa[0];                                                             \
    double acc[COL_TILE];                                                                      \
    for (int32_t j0 = lo; j0 < hi; j0 += COL_TILE) {                                           \
      const int32_t w = MIN(COL_TILE, hi - j0);                                                \
      if (op == R_SUM) {                                                                       \
        for (int32_t k = 0; k < w; k++) acc[k] = 0;                                            \
        for (int32_t r = 0; r < n; r++) {                                                      \
          const T *row = x + (int64_t)r * step + j0;                                           \
          for (int32_t k = 0; k < w; k++) acc[k] += (double)row[k];                            \
        }                                                                                      \
      } else {                                                                                 \
        const int is_max = op == R_MAX;                                                        \
        for (int32_t k = 0; k < w; k++) acc[k] = (double)x[j0 + k];                            \
        for (int32_t r = 1; r < n; r++) {                                                      \
          const T *row = x + (int64_t)r * step + j0;                                           \
          for (int32_t k = 0; k < w; k++) {                                                    \
            const double v = (double)row[k], m = acc[k];                                       \
            /* the first NaN stays; otherwise a NaN or a new extreme replaces m */             \
            const int take = m == m && (v != v || (is_max ? v > m : v < m));                   \
            acc[k] = take ? v : m;                                                             \
          }                                                                                    \
        }                                                                                      \
      }                                                                                        \
      if (kind == 0) {                                                                         \
        float *o = (float *)(uintptr_t)job->ptr[0] + j0;                                       \
        for (int32_t k = 0; k < w; k++) o[k] = (float)(acc[k] / div);                          \
      } else {                                                                                 \
        double *o = (double *)(uintptr_t)job->ptr[0] + j0;                                     \
        for (int32_t k = 0; k < w; k++) o[k] = acc[k] / div;                                   \
      }                                                                                        \
    }                                                                                          \
  }
COLUMNS(float, f32)
COLUMNS(double, f64)

/* f32 column sums: blocks of COL_ROWS (16) rows summed in f32x4 lanes, each block's sums widened
   into the f64 accumulators (at most 16 f32 roundings per element; NumPy's axis-0 sum adds the
   rows one by one in f32). */
static void columns_sum_f32(pjob_t *job, int32_t lo, int32_t hi) {
  const int32_t n = job->ia[IA_REDUCE_N], step = job->ia[IA_REDUCE_STEP];
  const float *x = (const float *)(uintptr_t)job->ptr[1];
  const double div = job->fa[0];
  double acc[COL_TILE] __attribute__((aligned(16)));
  for (int32_t j0 = lo; j0 < hi; j0 += COL_TILE) {
    const int32_t w = MIN(COL_TILE, hi - j0), w4 = w & ~3;
    for (int32_t k = 0; k < w; k++) acc[k] = 0;
    for (int32_t r = 0; r < n; r += COL_ROWS) {
      const int32_t rb = MIN(COL_ROWS, n - r);
      const float *base = x + (int64_t)r * step + j0;
      for (int32_t k = 0; k < w4; k += 4) {
        v128_t s = wasm_v128_load(base + k);
        for (int32_t q = 1; q < rb; q++) s = wasm_f32x4_add(s, wasm_v128_load(base + (int64_t)q * step + k));
        wasm_v128_store(acc + k, wasm_f64x2_add(wasm_v128_load(acc + k), wasm_f64x2_promote_low_f32x4(s)));
        wasm_v128_store(acc + k + 2, wasm_f64x2_add(wasm_v128_load(acc + k + 2), widen_hi_f32(s)));
      }
      for (int32_t k = w4; k < w; k++) {
        float s = base[k];
        for (int32_t q = 1; q < rb; q++) s += base[(int64_t)q * step + k];
        acc[k] += (double)s;
      }
    }
    if (job->ia[IA_REDUCE_OUT_KIND] == 0) {
      float *o = (float *)(uintptr_t)job->ptr[0] + j0;
      for (int32_t k = 0; k < w; k++) o[k] = (float)(acc[k] / div);
    } else {
      double *o = (double *)(uintptr_t)job->ptr[0] + j0;
      for (int32_t k = 0; k < w; k++) o[k] = acc[k] / div;
    }
  }
}

void reduce_slot(pjob_t *job, int32_t s) {
  const int32_t es = job->dtype == 2 ? 1 : job->dtype ? 8 : 4;
  if (job->ia[IA_REDUCE_COLUMNS]) {
    SLOT_RANGE(job->ia[IA_REDUCE_NLINES], s, job->nslots, lo, hi);
    if (job->dtype) columns_f64(job, lo, hi);
    else if (job->op == R_SUM) columns_sum_f32(job, lo, hi);
    else columns_f32(job, lo, hi);
    return;
  }
  if (job->ia[IA_REDUCE_SPLIT]) {
    /* one line cut into slots: write (value, index) partials */
    SLOT_RANGE(job->ia[IA_REDUCE_N], s, job->nslots, lo, hi);
    const int32_t step = job->ia[IA_REDUCE_STEP];
    res_t r = reduce_line(job, line_start(job, 0, es) + (int64_t)lo * step * es, hi - lo, lo);
    double *part = (double *)(uintptr_t)job->ptr[0] + 2 * s;
    part[0] = r.v;
    part[1] = (double)r.i;
    return;
  }
  SLOT_RANGE(job->ia[IA_REDUCE_NLINES], s, job->nslots, lo, hi);
  const double div = job->fa[0];
  for (int32_t i = lo; i < hi; i++) {
    res_t r = reduce_line(job, line_start(job, i, es), job->ia[IA_REDUCE_N], 0);
    switch (job->ia[IA_REDUCE_OUT_KIND]) {
      case 0: ((float *)(uintptr_t)job->ptr[0])[i] = (float)(r.v / div); break;
      case 1: ((double *)(uintptr_t)job->ptr[0])[i] = r.v / div; break;
      case 4: ((uint8_t *)(uintptr_t)job->ptr[0])[i] = r.v != 0; break;
      default: ((int64_t *)(uintptr_t)job->ptr[0])[i] = r.i; break;
    }
  }
}

/* ---- softmax ---- */

/*
 * exp_f32_nonpos with the reduction r = d − n·ln2 in one step (ln2 rounded to f32): its error,
 * |n|·1.9e-9, is ~20 times below that of d = fl(x − m) itself (|d|·2^-24), which every f32
 * softmax carries; one multiply-add less per vector in softmax's one compute-bound pass.
 */
INLINE v128_t exp_softmax(v128_t x) {
  v128_t t = MADD32(x, KF32(2), KF32(3));
  v128_t n = wasm_f32x4_sub(t, KF32(3));
  return exp_f32_finish(t, MADD32(n, KF32(6), x));
}

/* exp(x - m) stored to o (softmax) or only summed (logSoftmax: store = 0); returns the sum. */
static double exp_sum_f32(const float *x, int32_t sx, float *o, int32_t so, int32_t n, float m,
                          int store, int fast) {
  const int kx = sx == 1 ? 1 : 2, ko = so == 1 ? 1 : 2;
  const v128_t mv = S32(m);
  v128_t a0 = S64(0), a1 = S64(0);
  int32_t i = 0;
  if (kx == 1 && ko == 1) {
    /* Contiguous: blocks of 64 whose exps (all in (0, 1]) add in two f32x4 accumulators (8 per
       lane) before widening into f64; exp_f32_nonpos when the whole line is known to be in its
       range (fast: exp_nonpos_ok), else while every x − m of a vector is ≥ −87 (NaN fails the
       test and takes exp_f32). */
    const v128_t lo = EXP_NONPOS_MIN;
    for (; i + 64 <= n; i += 64) {
      v128_t b0 = S32(0), b1 = S32(0);
      for (int32_t j = 0; j < 64; j += 8) {
        v128_t d0 = wasm_f32x4_sub(wasm_v128_load(x + i + j), mv);
        v128_t d1 = wasm_f32x4_sub(wasm_v128_load(x + i + j + 4), mv);
        /* the fast form unconditionally (its constants then stay in registers), redone by
           exp_f32 for the rare vectors outside its range */
        v128_t e0 = exp_softmax(d0), e1 = exp_softmax(d1);
        if (!fast &&
            !wasm_i32x4_all_true(wasm_v128_and(wasm_f32x4_ge(d0, lo), wasm_f32x4_ge(d1, lo)))) {
          e0 = exp_f32(d0);
          e1 = exp_f32(d1);
        }
        if (store) {
          wasm_v128_store(o + i + j, e0);
          wasm_v128_store(o + i + j + 4, e1);
        }
        b0 = wasm_f32x4_add(b0, e0);
        b1 = wasm_f32x4_add(b1, e1);
      }
      const v128_t b = wasm_f32x4_add(b0, b1);
      a0 = wasm_f64x2_add(a0, wasm_f64x2_promote_low_f32x4(b));
      a1 = wasm_f64x2_add(a1, widen_hi_f32(b));
    }
  }
  for (; i + 4 <= n; i += 4) {
    v128_t e = exp_f32(wasm_f32x4_sub(ld_f32(x + i * sx, sx, kx), mv));
    if (store) st_f32(o + i * so, so, ko, e);
    a0 = wasm_f64x2_add(a0, wasm_f64x2_promote_low_f32x4(e));
    a1 = wasm_f64x2_add(a1, widen_hi_f32(e));
  }
  v128_t t = wasm_f64x2_add(a0, a1);
  double z = wasm_f64x2_extract_lane(t, 0) + wasm_f64x2_extract_lane(t, 1);
  for (; i < n; i++) {
    const float e = wasm_f32x4_extract_lane(exp_f32(S32(x[i * sx] - m)), 0);
    if (store) o[i * so] = e;
    z += e;
  }
  return z;
}

static double exp_sum_f64(const double *x, int32_t sx, double *o, int32_t so, int32_t n,
                          double m, int store) {
  const int kx = sx == 1 ? 1 : 2, ko = so == 1 ? 1 : 2;
  const v128_t mv = S64(m);
  v128_t a0 = S64(0);
  int32_t i = 0;
  for (; i + 2 <= n; i += 2) {
    v128_t e = exp_f64(wasm_f64x2_sub(ld_f64(x + i * sx, sx, kx), mv));
    if (store) st_f64(o + i * so, so, ko, e);
    a0 = wasm_f64x2_add(a0, e);
  }
  double z = wasm_f64x2_extract_lane(a0, 0) + wasm_f64x2_extract_lane(a0, 1);
  for (; i < n; i++) {
    const double e = wasm_f64x2_extract_lane(exp_f64(S64(x[i * sx] - m)), 0);
    if (store) o[i * so] = e;
    z += e;
  }
  return z;
}

/* Final pass: softmax o *= c (= 1/z); logSoftmax o = (x − m) − c (c = log z), in f64 and
   rounded once for f32: x − m first, so that values near 0 keep their digits. */
static void finish_f32(const float *x, int32_t sx, float *o, int32_t so, int32_t n, double c,
                       int log, double m) {
  const int kx = sx == 1 ? 1 : 2, ko = so == 1 ? 1 : 2;
  int32_t i = 0;
  if (!log) {
    const v128_t inv = S32((float)c);
    for (; i + 4 <= n; i += 4) st_f32(o + i * so, so, ko, wasm_f32x4_mul(ld_f32(o + i * so, so, ko), inv));
    for (; i < n; i++) o[i * so] *= (float)c;
    return;
  }
  const v128_t lz = S64(c), mv = S64(m);
  for (; i + 4 <= n; i += 4) {
    v128_t v = ld_f32(x + i * sx, sx, kx);
    v128_t lo = wasm_f64x2_sub(wasm_f64x2_sub(wasm_f64x2_promote_low_f32x4(v), mv), lz);
    v128_t hi = wasm_f64x2_sub(wasm_f64x2_sub(widen_hi_f32(v), mv), lz);
    v128_t r = wasm_i32x4_shuffle(wasm_f32x4_demote_f64x2_zero(lo), wasm_f32x4_demote_f64x2_zero(hi), 0, 1, 4, 5);
    st_f32(o + i * so, so, ko, r);
  }
  for (; i < n; i++) o[i * so] = (float)(((double)x[i * sx] - m) - c);
}

static void finish_f64(const double *x, int32_t sx, double *o, int32_t so, int32_t n, double c,
                       int log, double m) {
  const int kx = sx == 1 ? 1 : 2, ko = so == 1 ? 1 : 2;
  const v128_t cv = S64(c);
  int32_t i = 0;
  if (!log) {
    for (; i + 2 <= n; i += 2) st_f64(o + i * so, so, ko, wasm_f64x2_mul(ld_f64(o + i * so, so, ko), cv));
    for (; i < n; i++) o[i * so] *= c;
    return;
  }
  const v128_t mv = S64(m);
  for (; i + 2 <= n; i += 2)
    st_f64(o + i * so, so, ko, wasm_f64x2_sub(wasm_f64x2_sub(ld_f64(x + i * sx, sx, kx), mv), cv));
  for (; i < n; i++) o[i * so] = (x[i * sx] - m) - c;
}

/* Softmax constants from Σ exp(x - m) = z: 1/z, or log z for logSoftmax. */
INLINE double softmax_const(double z, int log) { return log ? log_scalar(z) : 1.0 / z; }

/*
 * ia: 0 nlines, 1 n, 2 in step, 3 carry (scans), 4 split, 5 phase, 6 out step, 7 line pitch (no
 * tables);
 * ptr: 0 out, 1 in, 2 in line table, 3 out line table, aux partials (fa-less: ptr[3] when split).
 * op: 0 softmax, 1 logSoftmax.
 */
void softmax_slot(pjob_t *job, int32_t s) {
  const int32_t es = job->dtype ? 8 : 4, n = job->ia[IA_LINE_N], sx = job->ia[IA_LINE_STEP], so = job->ia[IA_LINE_OUT_STEP];
  const int log = job->op;
  const int32_t *lin = (const int32_t *)(uintptr_t)job->ptr[2];
  const int32_t *lout = (const int32_t *)(uintptr_t)job->ptr[3];
  if (job->ia[IA_LINE_SPLIT]) {
    /* One line, cut: phase 0 partial max, 1 partial Σexp (stores exp for softmax), 2 finish. */
    SLOT_RANGE(n, s, job->nslots, lo, hi);
    const uint8_t *x = (const uint8_t *)(uintptr_t)job->ptr[1] + (int64_t)lo * sx * es;
    uint8_t *o = (uint8_t *)(uintptr_t)job->ptr[0] + (int64_t)lo * so * es;
    double *part = (double *)(uintptr_t)job->ia[IA_LINE_PARTS] + s;
    const int32_t len = hi - lo;
    if (job->ia[IA_LINE_PHASE] == 0) {
      /* partial max in part[0], partial min (f32, contiguous; else −inf) in part[nslots] */
      float mn = -__builtin_inff();
      *part = !len ? -__builtin_inf()
              : job->dtype ? ext_line_f64((const double *)x, len, sx, sx == 1 ? 1 : 2, 1)
              : sx == 1 ? (double)maxmin_contig_f32((const float *)x, len, &mn)
                        : ext_line_f32((const float *)x, len, sx, 1, 1);
      part[job->nslots] = len ? (double)mn : __builtin_inf();
    } else if (job->ia[IA_LINE_PHASE] == 1) {
      /* fa[3]: the line's min (f32 contiguous lines), for exp_nonpos_ok */
      const float m = (float)job->fa[1];
      *part = job->dtype ? exp_sum_f64((const double *)x, sx, (double *)o, so, len, job->fa[1], !log)
                         : exp_sum_f32((const float *)x, sx, (float *)o, so, len, m, !log,
                                       exp_nonpos_ok(m, (float)job->fa[3]));
    } else {
      if (job->dtype) finish_f64((const double *)x, sx, (double *)o, so, len, job->fa[2], log, job->fa[1]);
      else finish_f32((const float *)x, sx, (float *)o, so, len, job->fa[2], log, job->fa[1]);
    }
    return;
  }
  SLOT_RANGE(job->ia[IA_LINE_NLINES], s, job->nslots, lo, hi);
  /* IA_LINE_CARRY: the lines are consecutive pieces of one flattened scan (one slot): the sum or product
     carries from each line into the next */
  double acc = job->op == 3 ? 1 : 0;
  for (int32_t i = lo; i < hi; i++) {
    const int64_t ix = lin ? lin[i] : (int64_t)i * job->ia[IA_LINE_LINE_STEP];
    const int64_t io = lout ? lout[i] : (int64_t)i * job->ia[IA_LINE_LINE_STEP];
    const uint8_t *x = (const uint8_t *)(uintptr_t)job->ptr[1] + ix * es;
    uint8_t *o = (uint8_t *)(uintptr_t)job->ptr[0] + io * es;
    if (job->op >= 2) {
      /* cumsum (op 2) / cumprod (op 3) along the line, accumulated in f64 like the scalar kernel */
      if (!job->ia[IA_LINE_CARRY]) acc = job->op == 3 ? 1 : 0;
      for (int32_t j = 0; j < n; j++) {
        const double v = at(x, job->dtype, (int64_t)j * sx);
        acc = job->op == 3 ? acc * v : acc + v;
        if (job->dtype) ((double *)o)[(int64_t)j * so] = acc;
        else ((float *)o)[(int64_t)j * so] = (float)acc;
      }
      continue;
    }
    if (job->dtype) {
      const double m = ext_line_f64((const double *)x, n, sx, sx == 1 ? 1 : 2, 1);
      const double z = exp_sum_f64((const double *)x, sx, (double *)o, so, n, m, !log);
      finish_f64((const double *)x, sx, (double *)o, so, n, softmax_const(z, log), log, m);
    } else {
      float mn = -__builtin_inff();
      const float m = sx == 1 ? maxmin_contig_f32((const float *)x, n, &mn)
                              : (float)ext_line_f32((const float *)x, n, sx, 2, 1);
      const double z = exp_sum_f32((const float *)x, sx, (float *)o, so, n, m, !log,
                                   exp_nonpos_ok(m, mn));
      finish_f32((const float *)x, sx, (float *)o, so, n, softmax_const(z, log), log, m);
    }
  }
}
