/*
 * quantLinear's "f32" mode for Q2_K, Q3_K, Q5_K and IQ4_XS (routed here by qlinear_k.c): each
 * weight row decoded to f32 in chunks, value for value as core/quant decodes it, and dotted with
 * the f32 activations in f32 SIMD lanes.
 */
#include "qlinear_k_util.h"

#pragma STDC FP_CONTRACT OFF

#define QK_CHUNK 512

/* ---- f32 mode: decoders (value for value as core/quant) ---- */

__attribute__((noinline)) static void decode_k(int32_t t, const uint8_t *w, int32_t c0,
                                               int32_t len, float *restrict y) {
  switch (t) {
    case QT_Q2_K:
      for (int32_t b = 0; b < len / 256; b++) {
        const uint8_t *x = w + 84 * (c0 / 256 + b);
        const float d = h2f(x + 80), min = h2f(x + 82);
        float *o = y + 256 * b;
        int is = 0;
        for (int n = 0; n < 2; n++) {
          const uint8_t *q = x + 16 + 32 * n;
          for (int shift = 0; shift < 8; shift += 2) {
            for (int half = 0; half < 32; half += 16) {
              const uint8_t sc = x[is++];
              const float dl = d * (float)(sc & 0xf), ml = min * (float)(sc >> 4);
              for (int l = 0; l < 16; l++) *o++ = dl * (float)((q[half + l] >> shift) & 3) - ml;
            }
          }
        }
      }
      break;
    case QT_Q3_K:
      for (int32_t b = 0; b < len / 256; b++) {
        const uint8_t *x = w + 110 * (c0 / 256 + b);
        const float d = h2f(x + 108);
        float *o = y + 256 * b;
        int is = 0, m = 1;
        for (int n = 0; n < 2; n++) {
          const uint8_t *q = x + 32 + 32 * n;
          for (int shift = 0; shift < 8; shift += 2, m <<= 1) {
            for (int half = 0; half < 32; half += 16) {
              const float dl = d * (float)scale_q3(x + 96, is++);
              for (int l = 0; l < 16; l++) {
                const int v = ((q[half + l] >> shift) & 3) - ((x[half + l] & m) ? 0 : 4);
                *o++ = dl * (float)v;
              }
            }
          }
        }
      }
      break;
    case QT_Q5_K:
      for (int32_t b = 0; b < len / 256; b++) {
        const uint8_t *x = w + 176 * (c0 / 256 + b), *qh = x + 16;
        const float d = h2f(x), min = h2f(x + 2);
        float *o = y + 256 * b;
        int u1 = 1, u2 = 2;
        for (int j = 0; j < 4; j++, u1 <<= 2, u2 <<= 2) {
          int32_t s1, m1, s2, m2;
          scale_min_k4(2 * j, x + 4, &s1, &m1);
          scale_min_k4(2 * j + 1, x + 4, &s2, &m2);
          const float d1 = d * (float)s1, n1 = min * (float)m1;
          const float d2 = d * (float)s2, n2 = min * (float)m2;
          const uint8_t *ql = x + 48 + 32 * j;
          for (int l = 0; l < 32; l++)
            *o++ = d1 * (float)((ql[l] & 0xf) + (qh[l] & u1 ? 16 : 0)) - n1;
          for (int l = 0; l < 32; l++)
            *o++ = d2 * (float)((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - n2;
        }
      }
      break;
    default: /* QT_IQ4_XS */
      for (int32_t b = 0; b < len / 256; b++) {
        const uint8_t *x = w + 136 * (c0 / 256 + b);
        const float d = h2f(x);
        const uint32_t sh = (uint32_t)x[2] | ((uint32_t)x[3] << 8);
        for (int ib = 0; ib < 8; ib++) {
          const int32_t ls =
            ((x[4 + (ib >> 1)] >> (4 * (ib % 2))) & 0xf) | (((sh >> (2 * ib)) & 3) << 4);
          const float dl = d * (float)(ls - 32);
          const uint8_t *q = x + 8 + 16 * ib;
          float *o = y + 256 * b + 32 * ib;
          for (int j = 0; j < 16; j++) {
            o[j] = dl * (float)IQ4NL[q[j] & 0xf];
            o[j + 16] = dl * (float)IQ4NL[q[j] >> 4];
          }
        }
      }
      break;
  }
}



#define IA(name) job->ia[IA_QLINEAR_##name]

void qlk_f32_rows(pjob_t *job, int32_t j0, int32_t j1) {
  const int32_t t = IA(WTYPE), m = IA(M), n = IA(N), k = IA(K), rb = IA(ROW_BYTES);
  float *y = (float *)(uintptr_t)job->ptr[0];
  const uint8_t *w = (const uint8_t *)(uintptr_t)job->ptr[1];
  const float *x = (const float *)(uintptr_t)job->ptr[2];
  float buf[QK_CHUNK] __attribute__((aligned(16)));
  for (int32_t j = j0; j < j1; j++) {
    const uint8_t *wj = w + (size_t)j * rb;
    for (int32_t c = 0; c < k; c += QK_CHUNK) {
      const int32_t len = MIN(QK_CHUNK, k - c);
      decode_k(t, wj, c, len, buf);
      for (int32_t i = 0; i < m; i++) {
        const float s = dot_f32(buf, x + (size_t)i * k + c, len);
        float *yi = y + (size_t)i * n + j;
        *yi = c == 0 ? s : *yi + s;
      }
    }
  }
}
