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

/* The grid value best_index_iq4 picks, in four lanes (exactly: every sum below is of integers). */
INLINE v128_t iq4_value4(v128_t x) {
  const int8_t *v = KVALUES_IQ4NL;
  /* v[ml] and v[ml + 1] for ml = #{k in 1..14 : v[k] <= x}, the binary search's bracket */
  v128_t lo = wasm_f32x4_splat(v[0]), hi = wasm_f32x4_splat(v[1]);
  for (int32_t k = 1; k < 15; k++) {
    const v128_t m = wasm_f32x4_ge(x, wasm_f32x4_splat(v[k]));
    lo = wasm_f32x4_add(lo, wasm_v128_and(m, wasm_f32x4_splat((float)(v[k] - v[k - 1]))));
    hi = wasm_f32x4_add(hi, wasm_v128_and(m, wasm_f32x4_splat((float)(v[k + 1] - v[k]))));
  }
  const v128_t nearer_lo = wasm_f32x4_lt(wasm_f32x4_sub(x, lo), wasm_f32x4_sub(hi, x));
  v128_t q = wasm_v128_bitselect(lo, hi, nearer_lo);
  q = wasm_v128_bitselect(wasm_f32x4_splat(v[0]), q, wasm_f32x4_le(x, wasm_f32x4_splat(v[0])));
  /* at or above the top, and NaN (every comparison false walks the search to the top) */
  const v128_t top = wasm_v128_or(wasm_f32x4_ge(x, wasm_f32x4_splat(v[15])), wasm_f32x4_ne(x, x));
  return wasm_v128_bitselect(wasm_f32x4_splat(v[15]), q, top);
}

/*
 * The per-32 scale search of four sub-blocks at once, one per lane (xt[i]: element i of each);
 * each lane runs the scalar search's operations in its order. Scales to sc[0..4).
 */
static void iq4_scales_x4(const v128_t *xt, float *sc) {
  const float v0 = KVALUES_IQ4NL[0];
  const int32_t ntry = 7;
  v128_t w[32];
  v128_t amax = wasm_f32x4_splat(0.f), max = amax;
  for (int32_t j = 0; j < 32; j++) {
    w[j] = wasm_f32x4_mul(xt[j], xt[j]);
    const v128_t ax = wasm_f32x4_abs(xt[j]);
    const v128_t gt = wasm_f32x4_gt(ax, amax);
    amax = wasm_v128_bitselect(ax, amax, gt);
    max = wasm_v128_bitselect(xt[j], max, gt);
  }
  const v128_t dead = wasm_f32x4_lt(amax, wasm_f32x4_splat(GROUP_MAX_EPS));
  const v128_t zero = wasm_f32x4_splat(0.f);
  v128_t d = wasm_f32x4_div(wasm_f32x4_neg(max), wasm_f32x4_splat(v0));
  v128_t id = wasm_f32x4_div(wasm_f32x4_splat(1.f), d);
  v128_t sumqx = zero, sumq2 = zero;
  for (int32_t j = 0; j < 32; j++) {
    const v128_t q = iq4_value4(wasm_f32x4_mul(id, xt[j]));
    const v128_t wq = wasm_f32x4_mul(w[j], q);
    sumqx = wasm_f32x4_add(sumqx, wasm_f32x4_mul(wq, xt[j]));
    sumq2 = wasm_f32x4_add(sumq2, wasm_f32x4_mul(wq, q));
  }
  d = wasm_v128_and(wasm_f32x4_div(sumqx, sumq2), wasm_f32x4_gt(sumq2, zero));
  v128_t best = wasm_f32x4_mul(d, sumqx);
  for (int32_t itry = -ntry; itry <= ntry; itry++) {
    id = wasm_f32x4_div(wasm_f32x4_splat((float)(itry + KVALUES_IQ4NL[0])), max);
    sumqx = sumq2 = zero;
    for (int32_t j = 0; j < 32; j++) {
      const v128_t q = iq4_value4(wasm_f32x4_mul(id, xt[j]));
      const v128_t wq = wasm_f32x4_mul(w[j], q);
      sumqx = wasm_f32x4_add(sumqx, wasm_f32x4_mul(wq, xt[j]));
      sumq2 = wasm_f32x4_add(sumq2, wasm_f32x4_mul(wq, q));
    }
    const v128_t better = wasm_v128_and(
        wasm_f32x4_gt(sumq2, zero),
        wasm_f32x4_gt(wasm_f32x4_mul(sumqx, sumqx), wasm_f32x4_mul(best, sumq2)));
    const v128_t nd = wasm_f32x4_div(sumqx, sumq2);
    d = wasm_v128_bitselect(nd, d, better);
    best = wasm_v128_bitselect(wasm_f32x4_mul(nd, sumqx), best, better);
  }
  wasm_v128_store(sc, wasm_v128_andnot(d, dead));
}

static void iq4_xs(const float *x, uint8_t *y) {
  uint8_t L[256];
  float scales[8];
  for (int32_t g = 0; g < 2; g++) {
    v128_t xt[32];
    const float *xg = x + 128 * g;
    for (int32_t i = 0; i < 32; i++) {
      xt[i] = wasm_f32x4_make(xg[i], xg[32 + i], xg[64 + i], xg[96 + i]);
    }
    iq4_scales_x4(xt, scales + 4 * g);
  }
  float max_scale = 0, amax_scale = 0;
  for (int32_t ib = 0; ib < 8; ib++) {
    if (__builtin_fabsf(scales[ib]) > amax_scale) {
      amax_scale = __builtin_fabsf(scales[ib]);
      max_scale = scales[ib];
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
    for (int32_t j = 0; j < 16; j++) {
      q[8 * i + j] = (uint8_t)(L[16 * i + j] | (L[16 * i + 16 + j] << 4));
    }
  }
}
