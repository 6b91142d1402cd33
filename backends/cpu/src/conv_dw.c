/*
 * Depthwise conv2d (f32, groups == input channels, one input channel per group): each output
 * plane is a sum of KH·KW shifted, scaled rows of one input plane — no column matrix, no GEMM
 * with a single output row. A slot computes whole output planes (n, o); output channel o reads
 * input channel o / mult. Taps are accumulated row by row into the output row (in L1), four
 * outputs per f32x4 where the input row is contiguous and the stride is 1; the other strides
 * (stride 2 of downsampling blocks) read their taps one by one.
 *
 * ia: 0 C, 1 H, 2 W, 3 KH, 4 KW, 5 OH, 6 OW, 7 sh, 8 sw, 9 pt, 10 pl, 11 dh, 12 dw,
 *     13..16 input strides (n, c, h, w), 17 mult (output channels per input channel),
 *     18 O (output channels), 19 has bias;
 * ptr: 0 out (N, O, OH, OW) contiguous, 1 input, 2 weight (O, 1, KH, KW) contiguous, 3 bias;
 * total = N·O planes.
 */
#include "par.h"
#include <wasm_simd128.h>

static inline v128_t madd(v128_t acc, v128_t a, v128_t b) {
#ifdef __wasm_relaxed_simd__
  return __builtin_wasm_relaxed_madd_f32x4(a, b, acc);
#else
  return wasm_f32x4_add(acc, wasm_f32x4_mul(a, b));
#endif
}

void convdw_slot(pjob_t *job, int32_t s) {
  SLOT_RANGE(job->total, s, job->nslots, lo, hi);
  const int32_t *a = job->ia;
  const int32_t H = a[1], W = a[2], KH = a[3], KW = a[4], OH = a[5], OW = a[6];
  const int32_t sh = a[7], sw = a[8], pt = a[9], pl = a[10], dh = a[11], dw = a[12];
  const int32_t xn = a[13], xc = a[14], xh = a[15], xw = a[16], mult = a[17], O = a[18];
  const int32_t has_bias = a[19];
  float *out = (float *)(uintptr_t)job->ptr[0];
  const float *x = (const float *)(uintptr_t)job->ptr[1];
  const float *wt = (const float *)(uintptr_t)job->ptr[2];
  const float *bias = (const float *)(uintptr_t)job->ptr[3];
  for (int32_t p = lo; p < hi; p++) {
    const int32_t n = p / O, o = p % O, c = o / mult;
    const float *src = x + (int64_t)n * xn + (int64_t)c * xc;
    const float *w = wt + (int64_t)o * KH * KW;
    const float b = has_bias ? bias[o] : 0.0f;
    float *dst = out + (int64_t)p * OH * OW;
    for (int32_t oh = 0; oh < OH; oh++) {
      float *orow = dst + (int64_t)oh * OW;
      for (int32_t ow = 0; ow < OW; ow++) orow[ow] = b;
      for (int32_t kh = 0; kh < KH; kh++) {
        const int32_t ih = oh * sh - pt + kh * dh;
        if (ih < 0 || ih >= H) continue;
        const float *row = src + (int64_t)ih * xh;
        for (int32_t kw = 0; kw < KW; kw++) {
          const float wv = w[kh * KW + kw];
          /* ow range whose tap is inside: 0 <= ow*sw + t < W */
          const int32_t t = kw * dw - pl;
          int32_t ow0 = t >= 0 ? 0 : (-t + sw - 1) / sw;
          int32_t ow1 = W - 1 - t < 0 ? 0 : (W - 1 - t) / sw + 1;
          if (ow1 > OW) ow1 = OW;
          if (ow0 >= ow1) continue;
          int32_t ow = ow0;
          if (sw == 1 && xw == 1) {
            const v128_t vw = wasm_f32x4_splat(wv);
            const float *r = row + t;
            for (; ow + 4 <= ow1; ow += 4) {
              v128_t acc = wasm_v128_load(orow + ow);
              acc = madd(acc, vw, wasm_v128_load(r + ow));
              wasm_v128_store(orow + ow, acc);
            }
            for (; ow < ow1; ow++) orow[ow] += wv * r[ow];
          } else {
            for (; ow < ow1; ow++) orow[ow] += wv * row[(int64_t)(ow * sw + t) * xw];
          }
        }
      }
    }
  }
}
