/*
 * Block quantizers of ggml's types (llama.cpp's `quantize_row_*_ref`, no importance matrix): the
 * legacy 32-blocks Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, the K-quants Q2_K … Q6_K, Q8_K and IQ4_XS
 * (quantize_iq4.h; IQ4_NL, TQ1_0, TQ2_0 and MXFP4 stay with the TS codecs). Every
 * f32 operation happens in the C reference's order and type (no reassociation, no contraction:
 * wasm has no fused multiply-add), so the bytes equal ggml's and core/quant's bit for bit.
 *
 * A job (KIND_QUANTIZE) is `total` blocks of type `op` (ggml's type id) from f32 at ptr[1] into
 * packed blocks at ptr[0]; a slot is a range of blocks (every block is quantized on its own).
 * Q2_K, Q4_K, Q5_K and IQ4_XS fit their sub-blocks four at a time in SIMD lanes (one sub-block
 * per lane, each lane's sums in the reference's order).
 */
#include "par.h"
#include "half.h"
#include "ggml_round.h"

#define GROUP_MAX_EPS 1e-15f

/* C's float -> int conversion as x86 does it: truncation, INT32_MIN when out of range or NaN. */
INLINE int32_t trunc_x86(float f) {
  return (f > -2147483904.f && f < 2147483648.f) ? (int32_t)f : INT32_MIN;
}
INLINE void put_half(uint8_t *p, float f) {
  const uint32_t h = float_bits_to_half(f32_bits(f));
  p[0] = (uint8_t)h;
  p[1] = (uint8_t)(h >> 8);
}
INLINE float get_half(const uint8_t *p) {
  return bits_f32(half_to_float_bits((uint32_t)p[0] | ((uint32_t)p[1] << 8)));
}
INLINE void put_u32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}
INLINE int32_t clampi(int32_t v, int32_t lo, int32_t hi) { return v < lo ? lo : v > hi ? hi : v; }

/* The element of largest magnitude (the first on ties), with its sign. */
INLINE float signed_abs_max(const float *x, int32_t n) {
  float amax = 0.f, max = 0.f;
  for (int32_t i = 0; i < n; i++) {
    const float ax = __builtin_fabsf(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  return max;
}

/* ---- legacy 32-element blocks ------------------------------------------------------------- */

static void q4_0(const float *x, uint8_t *y) {
  const float d = signed_abs_max(x, 32) / -8;
  const float id = d ? 1.0f / d : 0.0f;
  put_half(y, d);
  for (int32_t j = 0; j < 16; j++) {
    const uint8_t a = (uint8_t)MIN(15, (int8_t)trunc_x86(x[j] * id + 8.5f));
    const uint8_t b = (uint8_t)MIN(15, (int8_t)trunc_x86(x[16 + j] * id + 8.5f));
    y[2 + j] = (uint8_t)(a | (b << 4));
  }
}

INLINE void min_max(const float *x, float *lo, float *hi) {
  float min = 3.40282347e38f, max = -3.40282347e38f;
  for (int32_t j = 0; j < 32; j++) {
    if (x[j] < min) min = x[j];
    if (x[j] > max) max = x[j];
  }
  *lo = min;
  *hi = max;
}

static void q4_1(const float *x, uint8_t *y) {
  float min, max;
  min_max(x, &min, &max);
  const float d = (max - min) / 15;
  const float id = d ? 1.0f / d : 0.0f;
  put_half(y, d);
  put_half(y + 2, min);
  for (int32_t j = 0; j < 16; j++) {
    const uint8_t a = (uint8_t)MIN(15, (int8_t)trunc_x86((x[j] - min) * id + 0.5f));
    const uint8_t b = (uint8_t)MIN(15, (int8_t)trunc_x86((x[16 + j] - min) * id + 0.5f));
    y[4 + j] = (uint8_t)(a | (b << 4));
  }
}

static void q5_0(const float *x, uint8_t *y) {
  const float d = signed_abs_max(x, 32) / -16;
  const float id = d ? 1.0f / d : 0.0f;
  put_half(y, d);
  uint32_t qh = 0;
  for (int32_t j = 0; j < 16; j++) {
    const uint8_t a = (uint8_t)MIN(31, (int8_t)trunc_x86(x[j] * id + 16.5f));
    const uint8_t b = (uint8_t)MIN(31, (int8_t)trunc_x86(x[16 + j] * id + 16.5f));
    y[6 + j] = (uint8_t)((a & 0x0f) | ((b & 0x0f) << 4));
    qh |= ((a & 0x10u) >> 4) << j;
    qh |= ((b & 0x10u) >> 4) << (j + 16);
  }
  put_u32(y + 2, qh);
}

static void q5_1(const float *x, uint8_t *y) {
  float min, max;
  min_max(x, &min, &max);
  const float d = (max - min) / 31;
  const float id = d ? 1.0f / d : 0.0f;
  put_half(y, d);
  put_half(y + 2, min);
  uint32_t qh = 0;
  for (int32_t j = 0; j < 16; j++) {
    const uint8_t a = (uint8_t)trunc_x86((x[j] - min) * id + 0.5f);
    const uint8_t b = (uint8_t)trunc_x86((x[16 + j] - min) * id + 0.5f);
    y[8 + j] = (uint8_t)((a & 0x0f) | ((b & 0x0f) << 4));
    qh |= ((a & 0x10u) >> 4) << j;
    qh |= ((b & 0x10u) >> 4) << (j + 16);
  }
  put_u32(y + 4, qh);
}

/* Q8_0 (sum = 0) and Q8_1 (sum = 1: the f16 d·Σq after d, levels at byte 4). */
static void q8(const float *x, uint8_t *y, int32_t sum) {
  float amax = 0.f;
  for (int32_t j = 0; j < 32; j++) {
    const float a = __builtin_fabsf(x[j]);
    amax = amax > a ? amax : a; /* C's MAX: a NaN is kept only until the next element */
  }
  const float d = amax / 127;
  const float id = d ? 1.0f / d : 0.0f;
  put_half(y, d);
  uint8_t *q = y + (sum ? 4 : 2);
  int32_t s = 0;
  for (int32_t j = 0; j < 32; j++) {
    const int8_t v = (int8_t)trunc_x86(round_away(x[j] * id));
    q[j] = (uint8_t)v;
    s += v;
  }
  if (sum) put_half(y + 2, (float)s * d);
}

/* ---- the K-quants' scale searches --------------------------------------------------------- */

/* make_qx_quants (rmse_type 1, no weights): symmetric levels in [0, 2 nmax) and their scale. */
static float make_qx_quants(int32_t n, int32_t nmax, const float *x, uint8_t *L) {
  const float max = signed_abs_max(x, n);
  if (__builtin_fabsf(max) < GROUP_MAX_EPS) {
    for (int32_t i = 0; i < n; i++) L[i] = 0;
    return 0.f;
  }
  float iscale = -nmax / max;
  float sumlx = 0, suml2 = 0;
  for (int32_t i = 0; i < n; i++) {
    const int32_t l = clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1);
    L[i] = (uint8_t)(l + nmax);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  float scale = suml2 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int32_t is = -9; is <= 9; is++) {
    if (is == 0) continue;
    iscale = -(nmax + 0.1f * is) / max;
    sumlx = suml2 = 0;
    for (int32_t i = 0; i < n; i++) {
      const int32_t l = clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1);
      const float w = x[i] * x[i];
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int32_t i = 0; i < n; i++) {
        L[i] = (uint8_t)(nmax + clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1));
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

/* make_q3_quants (do_rmse): levels in [0, 2 nmax) refined coordinate-wise, and their scale. */
static float make_q3_quants(int32_t n, int32_t nmax, const float *x, int8_t *L) {
  const float max = signed_abs_max(x, n);
  if (__builtin_fabsf(max) < GROUP_MAX_EPS) {
    for (int32_t i = 0; i < n; i++) L[i] = 0;
    return 0.f;
  }
  const float iscale = -nmax / max;
  float sumlx = 0, suml2 = 0;
  for (int32_t i = 0; i < n; i++) {
    const int32_t l = clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1);
    L[i] = (int8_t)l;
    const float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  for (int32_t itry = 0; itry < 5; itry++) {
    int32_t changed = 0;
    for (int32_t i = 0; i < n; i++) {
      const float w = x[i] * x[i];
      float slx = sumlx - w * x[i] * L[i];
      if (slx > 0) {
        float sl2 = suml2 - w * L[i] * L[i];
        const int32_t nl = clampi(nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
        if (nl != L[i]) {
          slx += w * x[i] * nl;
          sl2 += w * nl * nl;
          if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = (int8_t)nl;
            sumlx = slx;
            suml2 = sl2;
            changed++;
          }
        }
      }
    }
    if (!changed) break;
  }
  for (int32_t i = 0; i < n; i++) L[i] = (int8_t)(L[i] + nmax);
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* make_qkx2_quants (the asymmetric scale/min fit of Q2_K, Q4_K, Q5_K) runs four sub-blocks per
   vector: quantize_k4.h. */
#include "quantize_k4.h"
#include "quantize_iq4.h"

/* ---- K-quants: 256-element super-blocks --------------------------------------------------- */

/* Pack 2-bit levels of a 256 block as Q2_K/Q3_K do (four 32-runs per byte column). */
INLINE void pack2(const uint8_t *L, uint8_t *q) {
  for (int32_t j = 0; j < 256; j += 128) {
    for (int32_t l = 0; l < 32; l++) {
      q[j / 4 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
                               (L[j + l + 96] << 6));
    }
  }
}

static void q2_k(const float *x, uint8_t *y) {
  uint8_t L[256];
  float sc[16], mn[16];
  for (int32_t g = 0; g < 4; g++) {
    v128_t xt[16], w[16];
    const float *xg = x + 64 * g;
    for (int32_t i = 0; i < 16; i++) {
      xt[i] = wasm_f32x4_make(xg[i], xg[16 + i], xg[32 + i], xg[48 + i]);
      w[i] = wasm_f32x4_abs(xt[i]);
    }
    qkx2_x4(xt, w, 16, 3, -0.5f, 15, 1, sc + 4 * g, mn + 4 * g, L + 64 * g);
  }
  float max_scale = 0, max_min = 0;
  for (int32_t j = 0; j < 16; j++) {
    if (sc[j] > max_scale) max_scale = sc[j];
    if (mn[j] > max_min) max_min = mn[j];
  }
  if (max_scale > 0) {
    const float iscale = 15 / max_scale;
    for (int32_t j = 0; j < 16; j++) y[j] = (uint8_t)nearest_int(iscale * sc[j]);
    put_half(y + 80, max_scale / 15);
  } else {
    for (int32_t j = 0; j < 16; j++) y[j] = 0;
    put_half(y + 80, 0.f);
  }
  if (max_min > 0) {
    const float iscale = 15 / max_min;
    for (int32_t j = 0; j < 16; j++) y[j] |= (uint8_t)(nearest_int(iscale * mn[j]) << 4);
    put_half(y + 82, max_min / 15);
  } else {
    put_half(y + 82, 0.f);
  }
  const float d_all = get_half(y + 80), m_all = get_half(y + 82);
  for (int32_t j = 0; j < 16; j++) {
    const float d = d_all * (y[j] & 0xf);
    if (!d) continue;
    const float dm = m_all * (y[j] >> 4);
    for (int32_t ii = 0; ii < 16; ii++) {
      L[16 * j + ii] = (uint8_t)clampi(nearest_int((x[16 * j + ii] + dm) / d), 0, 3);
    }
  }
  pack2(L, y + 16);
}

static void q3_k(const float *x, uint8_t *y) {
  int8_t L[256];
  float sc[16];
  float max_scale = 0, amax = 0;
  for (int32_t j = 0; j < 16; j++) {
    sc[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j);
    const float a = __builtin_fabsf(sc[j]);
    if (a > amax) {
      amax = a;
      max_scale = sc[j];
    }
  }
  uint8_t *s = y + 96;
  for (int32_t j = 0; j < 12; j++) s[j] = 0;
  if (max_scale) {
    const float iscale = -32.f / max_scale;
    for (int32_t j = 0; j < 16; j++) {
      const int32_t l = clampi((int8_t)nearest_int(iscale * sc[j]), -32, 31) + 32;
      if (j < 8) s[j] = (uint8_t)(l & 0xf);
      else s[j - 8] |= (uint8_t)((l & 0xf) << 4);
      s[8 + j % 4] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
    }
    put_half(y + 108, 1 / iscale);
  } else {
    put_half(y + 108, 0.f);
  }
  const float d_all = get_half(y + 108);
  for (int32_t j = 0; j < 16; j++) {
    const int32_t low = j < 8 ? s[j] & 0xf : s[j - 8] >> 4;
    const int32_t scj = (low | (((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
    const float d = d_all * scj;
    if (!d) continue;
    for (int32_t ii = 0; ii < 16; ii++) {
      L[16 * j + ii] = (int8_t)(clampi(nearest_int(x[16 * j + ii] / d), -4, 3) + 4);
    }
  }
  for (int32_t j = 0; j < 32; j++) y[j] = 0;
  int32_t m = 0;
  uint8_t hm = 1;
  for (int32_t j = 0; j < 256; j++) {
    if (L[j] > 3) {
      y[m] |= hm;
      L[j] = (int8_t)(L[j] - 4);
    }
    if (++m == 32) {
      m = 0;
      hm = (uint8_t)(hm << 1);
    }
  }
  pack2((const uint8_t *)L, y + 32);
}

static void q4_k(const float *x, uint8_t *y) {
  uint8_t L[256];
  fit_k4(x, y, L, 15, -1.f, 20);
  for (int32_t j = 0; j < 4; j++) {
    for (int32_t l = 0; l < 32; l++) {
      y[16 + 32 * j + l] = (uint8_t)(L[64 * j + l] | (L[64 * j + l + 32] << 4));
    }
  }
}

static void q5_k(const float *x, uint8_t *y) {
  uint8_t L[256];
  fit_k4(x, y, L, 31, -0.5f, 15);
  uint8_t *qh = y + 16;
  for (int32_t j = 0; j < 32; j++) qh[j] = 0;
  uint8_t m1 = 1, m2 = 2;
  for (int32_t n = 0; n < 256; n += 64) {
    uint8_t *ql = y + 48 + n / 2;
    for (int32_t j = 0; j < 32; j++) {
      int32_t l1 = L[n + j], l2 = L[n + j + 32];
      if (l1 > 15) {
        l1 -= 16;
        qh[j] |= m1;
      }
      if (l2 > 15) {
        l2 -= 16;
        qh[j] |= m2;
      }
      ql[j] = (uint8_t)(l1 | (l2 << 4));
    }
    m1 = (uint8_t)(m1 << 2);
    m2 = (uint8_t)(m2 << 2);
  }
}

static void q6_k(const float *x, uint8_t *y) {
  uint8_t L[256];
  float sc[16];
  float max_scale = 0, max_abs = 0;
  for (int32_t ib = 0; ib < 16; ib++) {
    sc[ib] = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib);
    const float a = __builtin_fabsf(sc[ib]);
    if (a > max_abs) {
      max_abs = a;
      max_scale = sc[ib];
    }
  }
  if (max_abs < GROUP_MAX_EPS) {
    for (int32_t j = 0; j < 210; j++) y[j] = 0;
    return;
  }
  const float iscale = -128.f / max_scale;
  put_half(y + 208, 1 / iscale);
  for (int32_t ib = 0; ib < 16; ib++) y[192 + ib] = (uint8_t)MIN(127, nearest_int(iscale * sc[ib]));
  const float d_all = get_half(y + 208);
  for (int32_t j = 0; j < 16; j++) {
    const float d = d_all * (int8_t)y[192 + j];
    if (!d) continue;
    for (int32_t ii = 0; ii < 16; ii++) {
      L[16 * j + ii] = (uint8_t)(clampi(nearest_int(x[16 * j + ii] / d), -32, 31) + 32);
    }
  }
  for (int32_t j = 0; j < 256; j += 128) {
    uint8_t *ql = y + j / 2, *qh = y + 128 + j / 4;
    for (int32_t l = 0; l < 32; l++) {
      const uint8_t a = L[j + l], c = L[j + l + 32], e = L[j + l + 64], f = L[j + l + 96];
      ql[l] = (uint8_t)((a & 0xf) | ((e & 0xf) << 4));
      ql[l + 32] = (uint8_t)((c & 0xf) | ((f & 0xf) << 4));
      qh[l] = (uint8_t)((a >> 4) | ((c >> 4) << 2) | ((e >> 4) << 4) | ((f >> 4) << 6));
    }
  }
}

static void q8_k(const float *x, uint8_t *y) {
  float max = 0, amax = 0;
  for (int32_t j = 0; j < 256; j++) {
    const float ax = __builtin_fabsf(x[j]);
    if (ax > amax) {
      amax = ax;
      max = x[j];
    }
  }
  if (!amax) {
    for (int32_t j = 0; j < 292; j++) y[j] = 0;
    return;
  }
  const float iscale = -127.f / max;
  int8_t *q = (int8_t *)(y + 4);
  for (int32_t j = 0; j < 256; j++) q[j] = (int8_t)MIN(127, nearest_int(iscale * x[j]));
  for (int32_t j = 0; j < 16; j++) {
    int32_t sum = 0;
    for (int32_t ii = 0; ii < 16; ii++) sum += q[16 * j + ii];
    y[260 + 2 * j] = (uint8_t)sum;
    y[261 + 2 * j] = (uint8_t)(sum >> 8);
  }
  put_u32(y, f32_bits(1 / iscale));
}

/* ---- dispatch ----------------------------------------------------------------------------- */

typedef void (*quant_fn)(const float *x, uint8_t *y);
static void q8_0(const float *x, uint8_t *y) { q8(x, y, 0); }
static void q8_1(const float *x, uint8_t *y) { q8(x, y, 1); }

/* Elements and bytes per block, and the quantizer, by ggml type id (0: none here). */
INLINE int32_t type_info(int32_t type, int32_t *bs, int32_t *bb, quant_fn *f) {
  switch (type) {
    case 2: *bs = 32, *bb = 18, *f = q4_0; return 1;
    case 3: *bs = 32, *bb = 20, *f = q4_1; return 1;
    case 6: *bs = 32, *bb = 22, *f = q5_0; return 1;
    case 7: *bs = 32, *bb = 24, *f = q5_1; return 1;
    case 8: *bs = 32, *bb = 34, *f = q8_0; return 1;
    case 9: *bs = 32, *bb = 36, *f = q8_1; return 1;
    case 10: *bs = 256, *bb = 84, *f = q2_k; return 1;
    case 11: *bs = 256, *bb = 110, *f = q3_k; return 1;
    case 12: *bs = 256, *bb = 144, *f = q4_k; return 1;
    case 13: *bs = 256, *bb = 176, *f = q5_k; return 1;
    case 14: *bs = 256, *bb = 210, *f = q6_k; return 1;
    case 15: *bs = 256, *bb = 292, *f = q8_k; return 1;
    case 23: *bs = 256, *bb = 136, *f = iq4_xs; return 1;
    default: return 0;
  }
}

/* Quantize blocks [lo, hi) of type `type`; 0 if the type has no quantizer here. */
EXPORT("quantize_blocks") int32_t quantize_blocks(int32_t type, const float *x, uint8_t *y,
                                                  int32_t lo, int32_t hi) {
  int32_t bs, bb;
  quant_fn f;
  if (!type_info(type, &bs, &bb, &f)) return 0;
  for (int32_t i = lo; i < hi; i++) f(x + (int64_t)bs * i, y + (int64_t)bb * i);
  return 1;
}

void quant_slot(pjob_t *job, int32_t s) {
  SLOT_RANGE(job->total, s, job->nslots, lo, hi);
  quantize_blocks(job->op, (const float *)(uintptr_t)job->ptr[1],
                  (uint8_t *)(uintptr_t)job->ptr[0], lo, hi);
}
