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
 * like im2col's, see conv.c) added at its input positions. ptr: 0 dx (image n0), 1 columns;
 * ia as im2col's 0..12.
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

POOL22(float, f32)
POOL22(double, f64)

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
      if (fast) pool22_plane_f32(op, a, (float *)o, (const float *)x, xs, (const float *)g, gs);
      else pool_plane_f32(op, a, (float *)o, (const float *)x, xs, (const float *)g, gs);
    }
  }
}

static void col2im_slot(pjob_t *job, int32_t s) {
  SLOT_RANGE(job->total, s, job->nslots, lo, hi);
  const int32_t *a = job->ia;
  const int32_t H = a[1], W = a[2], KH = a[3], KW = a[4], OH = a[5], OW = a[6];
  const int32_t sh = a[7], sw = a[8], pt = a[9], pl = a[10], dh = a[11], dw = a[12];
  float *dx = (float *)(uintptr_t)job->ptr[0];
  const float *cols = (const float *)(uintptr_t)job->ptr[1];
  const int64_t P = (int64_t)OH * OW;
  for (int32_t p = lo; p < hi; p++) {
    float *dst = dx + (int64_t)p * H * W;
    for (int32_t i = 0; i < H * W; i++) dst[i] = 0;
    for (int32_t kh = 0; kh < KH; kh++) {
      for (int32_t kw = 0; kw < KW; kw++) {
        const float *src = cols + ((int64_t)p * KH * KW + kh * KW + kw) * P;
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
  SLOT_RANGE(job->ia[1], s, job->nslots, lo, hi);
  const int32_t rows = job->ia[0], len = job->ia[1], acc = job->ia[2];
  float *out = (float *)(uintptr_t)job->ptr[0];
  const float *buf = (const float *)(uintptr_t)job->ptr[1];
  for (int32_t j = lo; j < hi; j++) {
    double t = acc ? (double)out[j] : 0.0;
    for (int32_t i = 0; i < rows; i++) t += (double)buf[(int64_t)i * len + j];
    out[j] = (float)t;
  }
}

void train_slot(pjob_t *job, int32_t s) {
  switch (job->kind) {
    case KIND_POOL: pool_slot(job, s); break;
    case KIND_COL2IM: col2im_slot(job, s); break;
    default: sumrows_slot(job, s); break;
  }
}
