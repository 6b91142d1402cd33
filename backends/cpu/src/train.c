/*
 * Kernels of training: pooling forward and backward (maxPool2d, avgPool2d and their gradients),
 * col2im for the conv2d input gradient, and the sum of partial matrices for its weight gradient.
 *
 * Pooling (KIND_POOL), f32 and f64, one slot = a range of (n, c) planes. op: 0 maxPool2d,
 * 1 avgPool2d, 2 maxPool2dBackward, 3 avgPool2dBackward. ptr: 0 out (contiguous), 1 x, 2 g;
 * strides[1] x's (n, c, h, w) strides, strides[2] g's (backward only).
 * ia: 0 C, 1 H, 2 W, 3 OH, 4 OW, 5 KH, 6 KW, 7 sh, 8 sw, 9 ph, 10 pw, 11 dh, 12 dw,
 *     13 countIncludePad. Same rules as backends/scalar/kernels/conv.ts: padded taps never win a
 * max, NaN wins (and stops the window), the first maximum wins ties, an all-padding window gives
 * -inf; averages use PyTorch's divisors and accumulate in f64.
 *
 * col2im (KIND_COL2IM), f32: one slot = a range of (image, channel) planes of dx (contiguous
 * N, C, H, W), each written once: zeroed, then every tap (kh, kw) of the column matrix (laid out
 * like im2col's in blocks of nb = ia[13] images, see conv.c) added at its input positions;
 * total = images × C. ptr: 0 dx (image n0), 1 columns;
 * ia as im2col's 0..12, 13 nb (images per block).
 *
 * Sum of rows (KIND_SUMROWS), f32: out[j] (+)= Σ_i buf[i·len + j] for j in the slot's range,
 * accumulated in f64. ptr: 0 out, 1 buf; ia: 0 rows, 1 len, 2 accumulate into out.
 */
#include "par.h"

#define POOL(T, SFX)                                                                          \
  static void pool_plane_##SFX(int32_t op, const int32_t *a, T *o, const T *x,               \
                               const int32_t *xs, const T *g, const int32_t *gs) {           \
    const int32_t H = a[1], W = a[2], OH = a[3], OW = a[4], KH = a[5], KW = a[6];            \
    const int32_t sh = a[7], sw = a[8], ph = a[9], pw = a[10], dh = a[11], dw = a[12];       \
    const int32_t cip = a[13];                                                               \
    const int32_t xh = xs[2], xw = xs[3];                                                    \
    if (op >= 2) for (int32_t i = 0; i < H * W; i++) o[i] = 0;                               \
    for (int32_t oh = 0; oh < OH; oh++) {                                                    \
      const int32_t h0 = oh * sh - ph;                                                       \
      for (int32_t ow = 0; ow < OW; ow++) {                                                  \
        const int32_t w0 = ow * sw - pw;                                                     \
        if (op == 0 || op == 2) {                                                            \
          T m = -__builtin_inf();                                                            \
          int32_t at = -1;                                                                   \
          int nan = 0;                                                                       \
          for (int32_t kh = 0; kh < KH && !nan; kh++) {                                      \
            const int32_t h = h0 + kh * dh;                                                  \
            if (h < 0 || h >= H) continue;                                                   \
            for (int32_t kw = 0; kw < KW; kw++) {                                            \
              const int32_t wi = w0 + kw * dw;                                               \
              if (wi < 0 || wi >= W) continue;                                               \
              const T v = x[(int64_t)h * xh + (int64_t)wi * xw];                             \
              if (at < 0) at = h * W + wi;                                                   \
              if (v > m || v != v) { m = v; at = h * W + wi; }                               \
              if (m != m) { nan = 1; break; }                                                \
            }                                                                                \
          }                                                                                  \
          if (op == 0) o[oh * OW + ow] = m;                                                  \
          else if (at >= 0) o[at] += g[(int64_t)oh * gs[2] + (int64_t)ow * gs[3]];           \
        } else {                                                                             \
          const int32_t hEnd = MIN(h0 + KH, H + ph), wEnd = MIN(w0 + KW, W + pw);            \
          const int32_t ha = MAX(h0, 0), hb = MIN(hEnd, H);                                  \
          const int32_t wa = MAX(w0, 0), wb = MIN(wEnd, W);                                  \
          const double div = cip ? (double)((hEnd - h0) * (wEnd - w0))                      \
                                 : (double)((hb - ha) * (wb - wa));                          \
          if (op == 1) {                                                                     \
            double s = 0;                                                                    \
            for (int32_t h = ha; h < hb; h++)                                                \
              for (int32_t wi = wa; wi < wb; wi++) s += x[(int64_t)h * xh + (int64_t)wi * xw]; \
            o[oh * OW + ow] = (T)(s / div);                                                  \
          } else {                                                                           \
            const T v = (T)(g[(int64_t)oh * gs[2] + (int64_t)ow * gs[3]] / div);             \
            for (int32_t h = ha; h < hb; h++)                                                \
              for (int32_t wi = wa; wi < wb; wi++) o[h * W + wi] += v;                       \
          }                                                                                  \
        }                                                                                    \
      }                                                                                      \
    }                                                                                        \
  }

POOL(float, f32)
POOL(double, f64)

/* Specialized: 2x2 windows, stride 2, no padding or dilation, x rows contiguous. */
#define POOL22(T, SFX)                                                                        \
  static void pool22_plane_##SFX(int32_t op, const int32_t *a, T *o, const T *x,             \
                                 const int32_t *xs, const T *g, const int32_t *gs) {         \
    const int32_t H = a[1], W = a[2], OH = a[3], OW = a[4], xh = xs[2];                      \
    if (op == 2) for (int32_t i = 0; i < H * W; i++) o[i] = 0;                               \
    for (int32_t oh = 0; oh < OH; oh++) {                                                    \
      const T *r0 = x + (int64_t)(2 * oh) * xh, *r1 = r0 + xh;                               \
      for (int32_t ow = 0; ow < OW; ow++) {                                                  \
        const T v0 = r0[2 * ow], v1 = r0[2 * ow + 1], v2 = r1[2 * ow], v3 = r1[2 * ow + 1];  \
        /* The generic rule, unrolled: strict >, a NaN wins and stops. */                    \
        T m = v0; int32_t k = 0;                                                             \
        if (m == m) {                                                                        \
          if (v1 > m || v1 != v1) { m = v1; k = 1; }                                         \
          if (m == m) {                                                                      \
            if (v2 > m || v2 != v2) { m = v2; k = 2; }                                       \
            if (m == m && (v3 > m || v3 != v3)) { m = v3; k = 3; }                           \
          }                                                                                  \
        }                                                                                    \
        if (op == 0) o[oh * OW + ow] = m;                                                    \
        else o[(2 * oh + (k >> 1)) * W + 2 * ow + (k & 1)] +=                                \
            g[(int64_t)oh * gs[2] + (int64_t)ow * gs[3]];                                    \
      }                                                                                      \
    }                                                                                        \
  }

POOL22(double, f64)

/* f32 2x2/stride 2, four windows at a time: the generic rule on lanes (strict >, a NaN wins and
   stops the window, ties keep the first), taps deinterleaved from two rows of 8. The backward
   pass writes every covered position (windows tile the plane: each position has one window);
   the rows and columns past the last window are zeroed. */
static void pool22_plane_f32_simd(int32_t op, const int32_t *a, float *o, const float *x,
                                  const int32_t *xs, const float *g, const int32_t *gs) {
  const int32_t H = a[1], W = a[2], OH = a[3], OW = a[4], xh = xs[2];
  const int32_t gh = op == 2 ? gs[2] : 0, gw = op == 2 ? gs[3] : 0;
  const v128_t one = wasm_i32x4_splat(1), two = wasm_i32x4_splat(2), three = wasm_i32x4_splat(3);
  const v128_t zero = wasm_f32x4_splat(0);
  for (int32_t oh = 0; oh < OH; oh++) {
    const float *r0 = x + (int64_t)(2 * oh) * xh, *r1 = r0 + xh;
    const float *gr = g + (int64_t)oh * gh;
    float *o0 = op == 2 ? o + (int64_t)(2 * oh) * W : o + (int64_t)oh * OW, *o1 = o0 + W;
    int32_t ow = 0;
    for (; ow + 4 <= OW; ow += 4) {
      const v128_t a0 = wasm_v128_load(r0 + 2 * ow), a1 = wasm_v128_load(r0 + 2 * ow + 4);
      const v128_t b0 = wasm_v128_load(r1 + 2 * ow), b1 = wasm_v128_load(r1 + 2 * ow + 4);
      const v128_t v0 = wasm_i32x4_shuffle(a0, a1, 0, 2, 4, 6);
      const v128_t v1 = wasm_i32x4_shuffle(a0, a1, 1, 3, 5, 7);
      const v128_t v2 = wasm_i32x4_shuffle(b0, b1, 0, 2, 4, 6);
      const v128_t v3 = wasm_i32x4_shuffle(b0, b1, 1, 3, 5, 7);
      v128_t m = v0, k = wasm_i32x4_splat(0), t;
#define TAKE(v, kv)                                                                            \
  t = wasm_v128_and(wasm_v128_or(wasm_f32x4_gt(v, m), wasm_f32x4_ne(v, v)), wasm_f32x4_eq(m, m)); \
  m = wasm_v128_bitselect(v, m, t);                                                            \
  k = wasm_v128_bitselect(kv, k, t)
      TAKE(v1, one);
      TAKE(v2, two);
      TAKE(v3, three);
#undef TAKE
      if (op == 0) {
        wasm_v128_store(o0 + ow, m);
        continue;
      }
      const v128_t gv = gw == 1 ? wasm_v128_load(gr + ow)
                                : wasm_f32x4_make(gr[(int64_t)ow * gw], gr[(int64_t)(ow + 1) * gw],
                                                  gr[(int64_t)(ow + 2) * gw], gr[(int64_t)(ow + 3) * gw]);
      /* 0 + g, like the reference's accumulation into zeros (-0 becomes +0). */
      const v128_t q0 = wasm_f32x4_add(zero, wasm_v128_and(gv, wasm_i32x4_eq(k, wasm_i32x4_splat(0))));
      const v128_t q1 = wasm_f32x4_add(zero, wasm_v128_and(gv, wasm_i32x4_eq(k, one)));
      const v128_t q2 = wasm_f32x4_add(zero, wasm_v128_and(gv, wasm_i32x4_eq(k, two)));
      const v128_t q3 = wasm_f32x4_add(zero, wasm_v128_and(gv, wasm_i32x4_eq(k, three)));
      wasm_v128_store(o0 + 2 * ow, wasm_i32x4_shuffle(q0, q1, 0, 4, 1, 5));
      wasm_v128_store(o0 + 2 * ow + 4, wasm_i32x4_shuffle(q0, q1, 2, 6, 3, 7));
      wasm_v128_store(o1 + 2 * ow, wasm_i32x4_shuffle(q2, q3, 0, 4, 1, 5));
      wasm_v128_store(o1 + 2 * ow + 4, wasm_i32x4_shuffle(q2, q3, 2, 6, 3, 7));
    }
    for (; ow < OW; ow++) {
      const float v0 = r0[2 * ow], v1 = r0[2 * ow + 1], v2 = r1[2 * ow], v3 = r1[2 * ow + 1];
      float m = v0;
      int32_t k = 0;
      if (m == m) {
        if (v1 > m || v1 != v1) { m = v1; k = 1; }
        if (m == m) {
          if (v2 > m || v2 != v2) { m = v2; k = 2; }
          if (m == m && (v3 > m || v3 != v3)) { m = v3; k = 3; }
        }
      }
      if (op == 0) {
        o0[ow] = m;
        continue;
      }
      const float gv = 0.0f + gr[(int64_t)ow * gw];
      o0[2 * ow] = k == 0 ? gv : 0;
      o0[2 * ow + 1] = k == 1 ? gv : 0;
      o1[2 * ow] = k == 2 ? gv : 0;
      o1[2 * ow + 1] = k == 3 ? gv : 0;
    }
    if (op == 2) {
      for (int32_t w = 2 * OW; w < W; w++) o0[w] = o1[w] = 0;
    }
  }
  if (op == 2) {
    for (int32_t i = 2 * OH * W; i < H * W; i++) o[i] = 0;
  }
}

static void pool_slot(pjob_t *job, int32_t s) {
  SLOT_RANGE(job->total, s, job->nslots, lo, hi);
  const int32_t *a = job->ia;
  const int32_t C = a[0], H = a[1], W = a[2], OH = a[3], OW = a[4], op = job->op;
  const int32_t *xs = job->strides[1], *gs = job->strides[2];
  const int es = job->dtype ? 8 : 4;
  const int fast = (op == 0 || op == 2) && a[5] == 2 && a[6] == 2 && a[7] == 2 && a[8] == 2 &&
                   a[9] == 0 && a[10] == 0 && a[11] == 1 && a[12] == 1 && xs[3] == 1 &&
                   2 * OH <= H && 2 * OW <= W;
  const int32_t oplane = op >= 2 ? H * W : OH * OW;
  for (int32_t p = lo; p < hi; p++) {
    const int32_t n = p / C, c = p % C;
    uint8_t *o = (uint8_t *)(uintptr_t)job->ptr[0] + (int64_t)p * oplane * es;
    const uint8_t *x = (const uint8_t *)(uintptr_t)job->ptr[1] +
                       ((int64_t)n * xs[0] + (int64_t)c * xs[1]) * es;
    const uint8_t *g = (const uint8_t *)(uintptr_t)job->ptr[2] +
                       (op >= 2 ? ((int64_t)n * gs[0] + (int64_t)c * gs[1]) * es : 0);
    if (job->dtype) {
      if (fast) pool22_plane_f64(op, a, (double *)o, (const double *)x, xs, (const double *)g, gs);
      else pool_plane_f64(op, a, (double *)o, (const double *)x, xs, (const double *)g, gs);
    } else {
      if (fast) pool22_plane_f32_simd(op, a, (float *)o, (const float *)x, xs, (const float *)g, gs);
      else pool_plane_f32(op, a, (float *)o, (const float *)x, xs, (const float *)g, gs);
    }
  }
}

static void col2im_slot(pjob_t *job, int32_t s) {
  SLOT_RANGE(job->total, s, job->nslots, lo, hi);
  const int32_t *a = job->ia;
  const int32_t C = a[0], H = a[1], W = a[2], KH = a[3], KW = a[4], OH = a[5], OW = a[6];
  const int32_t sh = a[7], sw = a[8], pt = a[9], pl = a[10], dh = a[11], dw = a[12];
  const int32_t nb = a[13];
  float *dx = (float *)(uintptr_t)job->ptr[0];
  const float *cols = (const float *)(uintptr_t)job->ptr[1];
  const int64_t P = (int64_t)OH * OW;
  for (int32_t p = lo; p < hi; p++) {
    float *dst = dx + (int64_t)p * H * W;
    for (int32_t i = 0; i < H * W; i++) dst[i] = 0;
    for (int32_t kh = 0; kh < KH; kh++) {
      for (int32_t kw = 0; kw < KW; kw++) {
        const int32_t c = p % C, n = p / C, b = n / nb, nl = n % nb;
        const float *src = cols + (((int64_t)b * C * KH * KW + (c * KH + kh) * KW + kw) * nb + nl) * P;
        const int32_t t = kw * dw - pl;
        int32_t ow0 = t >= 0 ? 0 : (-t + sw - 1) / sw;
        int32_t ow1 = W - 1 - t < 0 ? 0 : (W - 1 - t) / sw + 1;
        if (ow1 > OW) ow1 = OW;
        if (ow0 > ow1) ow0 = ow1;
        for (int32_t oh = 0; oh < OH; oh++) {
          const int32_t ih = oh * sh - pt + kh * dh;
          if (ih < 0 || ih >= H) continue;
          float *row = dst + (int64_t)ih * W + t;
          const float *sr = src + (int64_t)oh * OW;
          if (sw == 1) {
            for (int32_t ow = ow0; ow < ow1; ow++) row[ow] += sr[ow];
          } else {
            for (int32_t ow = ow0; ow < ow1; ow++) row[(int64_t)ow * sw] += sr[ow];
          }
        }
      }
    }
  }
}

static void sumrows_slot(pjob_t *job, int32_t s) {
  SLOT_RANGE(job->ia[IA_SUM_ROWS_LEN], s, job->nslots, lo, hi);
  const int32_t rows = job->ia[IA_SUM_ROWS_ROWS], len = job->ia[IA_SUM_ROWS_LEN], acc = job->ia[IA_SUM_ROWS_ACCUMULATE];
  float *out = (float *)(uintptr_t)job->ptr[0];
  const float *buf = (const float *)(uintptr_t)job->ptr[1];
  for (int32_t j = lo; j < hi; j++) {
    double t = acc ? (double)out[j] : 0.0;
    for (int32_t i = 0; i < rows; i++) t += (double)buf[(int64_t)i * len + j];
    out[j] = (float)t;
  }
}

/*
 * Direct conv2d weight gradient (KIND_CONVBW), f32, for few taps per output channel (the im2col
 * GEMM's inner dimension C/groups·KH·KW is then too small to pay for its packing), unit stride
 * and dilation along W, contiguous rows of x and g. One slot = a range of images, written as its
 * own partial dW (O × taps, f32) for KIND_SUMROWS to add. For each image, input channel and kernel
 * row, blocks of 4 output channels × KW taps are accumulated in f32x4 registers over the output
 * rows (one load of each g row and each shifted x row serves 4·KW products), then summed per tap
 * in f64. Output positions whose taps fall in the padding for some kw are done one by one.
 * ptr: 0 partials, 1 x, 2 g; strides[1] x's (n, c, h, w), strides[2] g's; ia: 0 C, 1 H, 2 W,
 * 3 KH, 4 KW, 5 OH, 6 OW, 7 sh, 8 pt, 9 pl, 10 dh, 11 groups, 12 O; total = N.
 */
#define CONVBW_MAXKW 8
#define CONVBW_MAXTAPS 32
INLINE void convbw_rows(const int32_t KW, const float *const *gr, int ob, const float *xp,
                        int64_t xh, const int32_t *a, int32_t kh, v128_t vacc[4][CONVBW_MAXKW],
                        float sacc[4][CONVBW_MAXKW], int64_t gh) {
  const int32_t H = a[1], W = a[2], OH = a[5], OW = a[6], sh = a[7], pt = a[8], pl = a[9];
  const int32_t dh = a[10];
  /* ow where every kw tap is inside the row: 0 <= ow - pl + kw < W for kw in [0, KW) */
  int32_t owA = pl < 0 ? 0 : pl, owB = W + pl - (KW - 1);
  if (owB > OW) owB = OW;
  if (owA > owB) owA = owB;
  const int32_t vecEnd = owA + ((owB - owA) & ~3);
  for (int32_t oh = 0; oh < OH; oh++) {
    const int32_t ih = oh * sh - pt + kh * dh;
    if (ih < 0 || ih >= H) continue;
    const float *xr = xp + (int64_t)ih * xh - pl;
    const int64_t go = (int64_t)oh * gh;
    for (int32_t ow = owA; ow < vecEnd; ow += 4) {
      v128_t xv[CONVBW_MAXKW];
      for (int32_t kw = 0; kw < KW; kw++) xv[kw] = wasm_v128_load(xr + ow + kw);
      for (int b = 0; b < ob; b++) {
        const v128_t gv = wasm_v128_load(gr[b] + go + ow);
        for (int32_t kw = 0; kw < KW; kw++) {
          vacc[b][kw] = wasm_f32x4_add(vacc[b][kw], wasm_f32x4_mul(gv, xv[kw]));
        }
      }
    }
    for (int32_t ow = 0; ow < OW; ow++) {
      if (ow == owA && vecEnd > owA) ow = vecEnd;
      if (ow >= OW) break;
      for (int32_t kw = 0; kw < KW; kw++) {
        const int32_t col = ow - pl + kw;
        if (col < 0 || col >= W) continue;
        const float xv = xr[ow + kw];
        for (int b = 0; b < ob; b++) sacc[b][kw] += gr[b][go + ow] * xv;
      }
    }
  }
}

static void convbw_slot(pjob_t *job, int32_t s) {
  SLOT_RANGE(job->total, s, job->nslots, lo, hi);
  const int32_t *a = job->ia;
  const int32_t C = a[0], KH = a[3], KW = a[4], groups = a[11], O = a[12];
  const int32_t Cg = C / groups, Og = O / groups, taps = Cg * KH * KW;
  const int32_t *xs = job->strides[1], *gs = job->strides[2];
  const float *X = (const float *)(uintptr_t)job->ptr[1];
  const float *G = (const float *)(uintptr_t)job->ptr[2];
  float *part = (float *)(uintptr_t)job->ptr[0] + (int64_t)s * O * taps;
  double acc[4][CONVBW_MAXTAPS];
  for (int32_t q = 0; q < groups; q++) {
    for (int32_t o0 = q * Og; o0 < (q + 1) * Og; o0 += 4) {
      const int ob = MIN(4, (q + 1) * Og - o0);
      for (int b = 0; b < 4; b++) for (int32_t t = 0; t < taps; t++) acc[b][t] = 0;
      for (int32_t n = lo; n < hi; n++) {
        const float *gr[4];
        for (int b = 0; b < 4; b++) {
          gr[b] = G + (int64_t)n * gs[0] + (int64_t)(o0 + (b < ob ? b : 0)) * gs[1];
        }
        for (int32_t cl = 0; cl < Cg; cl++) {
          const float *xp = X + (int64_t)n * xs[0] + (int64_t)(q * Cg + cl) * xs[1];
          for (int32_t kh = 0; kh < KH; kh++) {
            v128_t vacc[4][CONVBW_MAXKW];
            float sacc[4][CONVBW_MAXKW];
            for (int b = 0; b < 4; b++) {
              for (int32_t kw = 0; kw < CONVBW_MAXKW; kw++) {
                vacc[b][kw] = wasm_f32x4_splat(0);
                sacc[b][kw] = 0;
              }
            }
            /* Constant block sizes for the common cases let the accumulators live in registers. */
            if (KW == 3 && ob == 4) convbw_rows(3, gr, 4, xp, xs[2], a, kh, vacc, sacc, gs[2]);
            else convbw_rows(KW, gr, ob, xp, xs[2], a, kh, vacc, sacc, gs[2]);
            for (int b = 0; b < ob; b++) {
              for (int32_t kw = 0; kw < KW; kw++) {
                const v128_t v = vacc[b][kw];
                acc[b][(cl * KH + kh) * KW + kw] +=
                    (double)sacc[b][kw] + ((double)wasm_f32x4_extract_lane(v, 0) +
                                           wasm_f32x4_extract_lane(v, 1)) +
                    ((double)wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3));
              }
            }
          }
        }
      }
      for (int b = 0; b < ob; b++) {
        for (int32_t t = 0; t < taps; t++) part[(int64_t)(o0 + b) * taps + t] = (float)acc[b][t];
      }
    }
  }
}
void train_slot(pjob_t *job, int32_t s) {
  switch (job->kind) {
    case KIND_POOL: pool_slot(job, s); break;
    case KIND_CONVBW: convbw_slot(job, s); break;
    case KIND_COL2IM: col2im_slot(job, s); break;
    default: sumrows_slot(job, s); break;
  }
}
