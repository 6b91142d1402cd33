/*
 * IQ4_XS (included by quantize.c): quantize_row_iq4_xs_ref, i.e. quantize_row_iq4_nl_impl with
 * no importance weights: per 32 elements a scale search over 15 trial scales on the non-linear
 * IQ4_NL grid, then 6-bit sub-scales under one f16 super-scale (136 bytes per 256).
 * IQ4_NL itself stays with the TS codec: for an all-zero block ggml keeps the previous block's
 * levels (a stale local array), which depends on where a call starts, so slots could not split it.
 */

static const int8_t KVALUES_IQ4NL[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                         1,    13,   25,  38,  53,  69,  89,  113};

/* best_index_int8: the nearest grid value's index (the lower one only when strictly nearer). */
INLINE int32_t best_index_iq4(float x) {
  const int8_t *v = KVALUES_IQ4NL;
  if (x <= v[0]) return 0;
  if (x >= v[15]) return 15;
  int32_t ml = 0, mu = 15;
  while (mu - ml > 1) {
    const int32_t mav = (ml + mu) / 2;
    if (x < v[mav]) mu = mav;
    else ml = mav;
  }
  return x - v[mu - 1] < v[mu] - x ? mu - 1 : mu;
}

static void iq4_xs(const float *x, uint8_t *y) {
  const int8_t *v = KVALUES_IQ4NL;
  const int32_t ntry = 7;
  uint8_t L[256];
  float scales[8], w[32];
  float max_scale = 0, amax_scale = 0;
  for (int32_t ib = 0; ib < 8; ib++) {
    const float *xb = x + 32 * ib;
    float amax = 0, max = 0;
    for (int32_t j = 0; j < 32; j++) {
      w[j] = xb[j] * xb[j];
      const float ax = __builtin_fabsf(xb[j]);
      if (ax > amax) {
        amax = ax;
        max = xb[j];
      }
    }
    if (amax < GROUP_MAX_EPS) {
      scales[ib] = 0;
      continue;
    }
    float d = -max / v[0];
    float id = 1 / d;
    float sumqx = 0, sumq2 = 0;
    for (int32_t j = 0; j < 32; j++) {
      const int32_t l = best_index_iq4(id * xb[j]);
      L[32 * ib + j] = (uint8_t)l;
      const float q = v[l];
      const float wq = w[j] * q;
      sumqx += wq * xb[j];
      sumq2 += wq * q;
    }
    d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
    float best = d * sumqx;
    for (int32_t itry = -ntry; itry <= ntry; itry++) {
      id = (itry + v[0]) / max;
      sumqx = sumq2 = 0;
      for (int32_t j = 0; j < 32; j++) {
        const float q = v[best_index_iq4(id * xb[j])];
        const float wq = w[j] * q;
        sumqx += wq * xb[j];
        sumq2 += wq * q;
      }
      if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
        d = sumqx / sumq2;
        best = d * sumqx;
      }
    }
    scales[ib] = d;
    if (__builtin_fabsf(d) > amax_scale) {
      amax_scale = __builtin_fabsf(d);
      max_scale = d;
    }
  }
  const float d = -max_scale / 32;
  put_half(y, d);
  const float id = d ? 1 / d : 0.f;
  uint32_t scales_h = 0;
  for (int32_t ib = 0; ib < 8; ib++) {
    const int32_t l = clampi(nearest_int(id * scales[ib]), -32, 31);
    const float dl = d * l;
    const float idl = dl ? 1 / dl : 0.f;
    for (int32_t j = 0; j < 32; j++) L[32 * ib + j] = (uint8_t)best_index_iq4(idl * x[32 * ib + j]);
    const int32_t lb = l + 32;
    if (ib % 2 == 0) y[4 + ib / 2] = (uint8_t)(lb & 0xf);
    else y[4 + ib / 2] |= (uint8_t)((lb & 0xf) << 4);
    scales_h |= (uint32_t)(lb >> 4) << (2 * ib);
  }
  y[2] = (uint8_t)scales_h;
  y[3] = (uint8_t)(scales_h >> 8);
  uint8_t *q = y + 8;
  for (int32_t i = 0; i < 16; i += 2) {
    for (int32_t j = 0; j < 16; j++) q[8 * i + j] = (uint8_t)(L[16 * i + j] | (L[16 * i + 16 + j] << 4));
  }
}
