/*
 * im2col for conv2d (f32): rows (n, c, kh, kw) of the column matrix, each OH·OW long, from an
 * NCHW input read through any strides; taps in the padding are zeros. Row r of image n, channel
 * c lands at ((n·C + c)·KH·KW + kh·KW + kw)·OH·OW, so the rows of one (image, group) pair form the
 * (C/groups·KH·KW) × (OH·OW) right-hand matrix of that pair's GEMM.
 *
 * More generally (the conv2d gradients' layout), images go in blocks of nb = ia[17]: block b
 * is a (C·KH·KW) × (nb·OH·OW) matrix whose row (c, kh, kw) holds the OH·OW runs of the block's
 * images in turn, at ((b·C·KH·KW + row)·nb + n mod nb)·OH·OW; nb = 1 is the layout above.
 *
 * ia: 0 C, 1 H, 2 W, 3 KH, 4 KW, 5 OH, 6 OW, 7 sh, 8 sw, 9 pt, 10 pl, 11 dh, 12 dw,
 *     13..16 input strides (n, c, h, w), 17 nb; ptr: 0 cols, 1 input (image n0);
 *     total = rows (images × C·KH·KW).
 */
#include "par.h"
#include <wasm_simd128.h>

void im2col_slot(pjob_t *job, int32_t s) {
  SLOT_RANGE(job->total, s, job->nslots, lo, hi);
  const int32_t *a = job->ia;
  const int32_t C = a[0], H = a[1], W = a[2], KH = a[3], KW = a[4], OH = a[5], OW = a[6];
  const int32_t sh = a[7], sw = a[8], pt = a[9], pl = a[10], dh = a[11], dw = a[12];
  const int32_t xn = a[13], xc = a[14], xh = a[15], xw = a[16], nb = a[17];
  const float *x = (const float *)(uintptr_t)job->ptr[1];
  float *cols = (float *)(uintptr_t)job->ptr[0];
  for (int32_t r = lo; r < hi; r++) {
    const int32_t kw = r % KW, kh = (r / KW) % KH, c = (r / (KW * KH)) % C, n = r / (KW * KH * C);
    /* Blocks of nb images: row (c, kh, kw) of a block holds its images' OH·OW runs in turn. */
    const int32_t crow = r % (KW * KH * C), b = n / nb, nl = n % nb;
    float *dst = cols + (((int64_t)b * KW * KH * C + crow) * nb + nl) * OH * OW;
    const float *src = x + (int64_t)n * xn + (int64_t)c * xc;
    /* ow range whose tap is inside: 0 <= ow*sw - pl + kw*dw < W */
    const int32_t t = kw * dw - pl;
    int32_t ow0 = t >= 0 ? 0 : (-t + sw - 1) / sw;
    int32_t ow1 = W - 1 - t < 0 ? 0 : (W - 1 - t) / sw + 1;
    if (ow1 > OW) ow1 = OW;
    if (ow0 > ow1) ow0 = ow1;
    for (int32_t oh = 0; oh < OH; oh++, dst += OW) {
      const int32_t ih = oh * sh - pt + kh * dh;
      if (ih < 0 || ih >= H) {
        for (int32_t ow = 0; ow < OW; ow++) dst[ow] = 0;
        continue;
      }
      const float *row = src + (int64_t)ih * xh;
      for (int32_t ow = 0; ow < ow0; ow++) dst[ow] = 0;
      if (sw == 1 && xw == 1) {
        __builtin_memcpy(dst + ow0, row + (ow0 + t), (size_t)(ow1 - ow0) * 4);
      } else if (sw == 2 && xw == 1) {
        /* Stride 2 (a CNN's stem): the even lanes of two vectors, while both stay in the row. */
        int32_t ow = ow0;
        for (; ow + 4 <= ow1 && 2 * ow + t + 8 <= W; ow += 4) {
          const float *p = row + 2 * ow + t;
          v128_t a = wasm_v128_load(p), b = wasm_v128_load(p + 4);
          wasm_v128_store(dst + ow, wasm_i32x4_shuffle(a, b, 0, 2, 4, 6));
        }
        for (; ow < ow1; ow++) dst[ow] = row[2 * ow + t];
      } else {
        for (int32_t ow = ow0; ow < ow1; ow++) dst[ow] = row[(int64_t)(ow * sw + t) * xw];
      }
      for (int32_t ow = ow1; ow < OW; ow++) dst[ow] = 0;
    }
  }
}
