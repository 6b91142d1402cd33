/*
 * make_qkx2_quants in SIMD lanes (Q2_K, Q4_K, Q5_K), and the shared part of Q4_K and Q5_K
 * (included by quantize.c): per-32 weighted scale/min fits, their 6-bit packing at y + 4, the f16
 * d and dmin at y, and the final levels in L.
 */

/* Scale j and min j of the 12-byte 6-bit packing. */
INLINE void scale_min_k4(int32_t j, const uint8_t *q, int32_t *sc, int32_t *m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

/* ggml's nearest_int in four lanes. */
INLINE v128_t nearest_int4(v128_t f) {
  const v128_t v = wasm_f32x4_add(f, wasm_f32x4_splat(12582912.f));
  return wasm_i32x4_sub(wasm_v128_and(v, wasm_i32x4_splat(0x007fffff)),
                        wasm_i32x4_splat(0x00400000));
}

/*
 * make_qkx2_quants(n, nmax, x, w, L, &the_min, rmin, 0.1f, nstep, use_mad) of four sub-blocks
 * at once, one per lane: xt[i] and w[i] hold element i of each (n <= 32). Each lane runs the
 * scalar code's operations in its order (the data-dependent choices become lane masks), so every
 * lane's result equals ggml's scalar function's bit for bit. Scales go to sc[0..4), -min to
 * mn[0..4), the levels to L[n * lane + i].
 */
INLINE v128_t qkx2_err(v128_t diff, int32_t use_mad) {
  return use_mad ? wasm_f32x4_abs(diff) : wasm_f32x4_mul(diff, diff);
}

static void qkx2_x4(const v128_t *xt, const v128_t *w, int32_t n, int32_t nmax, float rmin,
                    int32_t nstep, int32_t use_mad, float *sc, float *mn, uint8_t *L) {
  v128_t lv[32], laux[32];
  v128_t min = xt[0], max = xt[0], sum_w = w[0], sum_x = wasm_f32x4_mul(w[0], xt[0]);
  for (int32_t i = 1; i < n; i++) {
    min = wasm_f32x4_pmin(min, xt[i]); /* x < min ? x : min */
    max = wasm_f32x4_pmax(max, xt[i]); /* max < x ? x : max */
    sum_w = wasm_f32x4_add(sum_w, w[i]);
    sum_x = wasm_f32x4_add(sum_x, wasm_f32x4_mul(w[i], xt[i]));
  }
  min = wasm_f32x4_pmin(min, wasm_f32x4_splat(0.f)); /* if (min > 0) min = 0 */
  const v128_t flat = wasm_f32x4_eq(max, min);
  const v128_t fmax = wasm_f32x4_splat((float)nmax);
  const v128_t zero = wasm_i32x4_splat(0), top = wasm_i32x4_splat(nmax);
  v128_t iscale = wasm_f32x4_div(fmax, wasm_f32x4_sub(max, min));
  v128_t scale = wasm_f32x4_div(wasm_f32x4_splat(1.f), iscale);
  v128_t best = wasm_f32x4_splat(0.f);
  for (int32_t i = 0; i < n; i++) {
    const v128_t l = wasm_i32x4_min(
        wasm_i32x4_max(nearest_int4(wasm_f32x4_mul(iscale, wasm_f32x4_sub(xt[i], min))), zero),
        top);
    lv[i] = l;
    const v128_t diff = wasm_f32x4_sub(
        wasm_f32x4_add(wasm_f32x4_mul(scale, wasm_f32x4_convert_i32x4(l)), min), xt[i]);
    best = wasm_f32x4_add(best, wasm_f32x4_mul(w[i], qkx2_err(diff, use_mad)));
  }
  for (int32_t is = 0; is <= nstep; is++) {
    const float step = rmin + 0.1f * is + nmax;
    iscale = wasm_f32x4_div(wasm_f32x4_splat(step), wasm_f32x4_sub(max, min));
    v128_t sum_l = wasm_f32x4_splat(0.f), sum_l2 = sum_l, sum_xl = sum_l;
    for (int32_t i = 0; i < n; i++) {
      const v128_t l = wasm_i32x4_min(
          wasm_i32x4_max(nearest_int4(wasm_f32x4_mul(iscale, wasm_f32x4_sub(xt[i], min))), zero),
          top);
      laux[i] = l;
      const v128_t fl = wasm_f32x4_convert_i32x4(l);
      const v128_t wl = wasm_f32x4_mul(w[i], fl);
      sum_l = wasm_f32x4_add(sum_l, wl);
      sum_l2 = wasm_f32x4_add(sum_l2, wasm_f32x4_mul(wl, fl));
      sum_xl = wasm_f32x4_add(sum_xl, wasm_f32x4_mul(wl, xt[i]));
    }
    const v128_t D =
        wasm_f32x4_sub(wasm_f32x4_mul(sum_w, sum_l2), wasm_f32x4_mul(sum_l, sum_l));
    const v128_t ok = wasm_f32x4_gt(D, wasm_f32x4_splat(0.f));
    if (!wasm_v128_any_true(ok)) continue;
    v128_t this_scale = wasm_f32x4_div(
        wasm_f32x4_sub(wasm_f32x4_mul(sum_w, sum_xl), wasm_f32x4_mul(sum_x, sum_l)), D);
    v128_t this_min = wasm_f32x4_div(
        wasm_f32x4_sub(wasm_f32x4_mul(sum_l2, sum_x), wasm_f32x4_mul(sum_l, sum_xl)), D);
    const v128_t pos = wasm_f32x4_gt(this_min, wasm_f32x4_splat(0.f));
    this_min = wasm_v128_andnot(this_min, pos);
    this_scale = wasm_v128_bitselect(wasm_f32x4_div(sum_xl, sum_l2), this_scale, pos);
    v128_t cur = wasm_f32x4_splat(0.f);
    for (int32_t i = 0; i < n; i++) {
      const v128_t diff = wasm_f32x4_sub(
          wasm_f32x4_add(wasm_f32x4_mul(this_scale, wasm_f32x4_convert_i32x4(laux[i])),
                         this_min),
          xt[i]);
      cur = wasm_f32x4_add(cur, wasm_f32x4_mul(w[i], qkx2_err(diff, use_mad)));
    }
    const v128_t better = wasm_v128_andnot(wasm_v128_and(ok, wasm_f32x4_lt(cur, best)), flat);
    if (!wasm_v128_any_true(better)) continue;
    for (int32_t i = 0; i < n; i++) lv[i] = wasm_v128_bitselect(laux[i], lv[i], better);
    best = wasm_v128_bitselect(cur, best, better);
    scale = wasm_v128_bitselect(this_scale, scale, better);
    min = wasm_v128_bitselect(this_min, min, better);
  }
  /* Flat lanes: levels 0, scale 0, min as found. */
  scale = wasm_v128_andnot(scale, flat);
  int32_t lanes[32][4];
  for (int32_t i = 0; i < n; i++) wasm_v128_store(lanes[i], wasm_v128_andnot(lv[i], flat));
  for (int32_t k = 0; k < 4; k++) {
    for (int32_t i = 0; i < n; i++) L[n * k + i] = (uint8_t)lanes[i][k];
  }
  float s4[4], m4[4];
  wasm_v128_store(s4, scale);
  wasm_v128_store(m4, wasm_f32x4_neg(min));
  for (int32_t k = 0; k < 4; k++) {
    sc[k] = s4[k];
    mn[k] = m4[k];
  }
}

static void fit_k4(const float *x, uint8_t *y, uint8_t *L, int32_t nmax, float rmin,
                   int32_t nstep) {
  float sc[8], mn[8];
  for (int32_t g = 0; g < 2; g++) {
    v128_t xt[32];
    const float *xg = x + 128 * g;
    for (int32_t i = 0; i < 32; i++) {
      xt[i] = wasm_f32x4_make(xg[i], xg[32 + i], xg[64 + i], xg[96 + i]);
    }
    /* weights av_x + |x|, av_x the root mean square of the sub-block */
    v128_t w[32], sum_x2 = wasm_f32x4_splat(0.f);
    for (int32_t i = 0; i < 32; i++) sum_x2 = wasm_f32x4_add(sum_x2, wasm_f32x4_mul(xt[i], xt[i]));
    const v128_t av_x = wasm_f32x4_sqrt(wasm_f32x4_div(sum_x2, wasm_f32x4_splat(32.f)));
    for (int32_t i = 0; i < 32; i++) w[i] = wasm_f32x4_add(av_x, wasm_f32x4_abs(xt[i]));
    qkx2_x4(xt, w, 32, nmax, rmin, nstep, 0, sc + 4 * g, mn + 4 * g, L + 128 * g);
  }
  float max_scale = 0, max_min = 0;
  for (int32_t j = 0; j < 8; j++) {
    if (sc[j] > max_scale) max_scale = sc[j];
    if (mn[j] > max_min) max_min = mn[j];
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  uint8_t *s = y + 4;
  for (int32_t j = 0; j < 8; j++) {
    const uint8_t ls = (uint8_t)MIN(63, (uint8_t)nearest_int(inv_scale * sc[j]));
    const uint8_t lm = (uint8_t)MIN(63, (uint8_t)nearest_int(inv_min * mn[j]));
    if (j < 4) {
      s[j] = ls;
      s[j + 4] = lm;
    } else {
      s[j + 4] = (uint8_t)((ls & 0xf) | ((lm & 0xf) << 4));
      s[j - 4] |= (uint8_t)((ls >> 4) << 6);
      s[j] |= (uint8_t)((lm >> 4) << 6);
    }
  }
  put_half(y, max_scale / 63);
  put_half(y + 2, max_min / 63);
  const float d_all = get_half(y), m_all = get_half(y + 2);
  for (int32_t j = 0; j < 8; j++) {
    int32_t scj, mj;
    scale_min_k4(j, s, &scj, &mj);
    const float d = d_all * scj;
    if (!d) continue;
    const float dm = m_all * mj;
    for (int32_t ii = 0; ii < 32; ii++) {
      L[32 * j + ii] = (uint8_t)clampi(nearest_int((x[32 * j + ii] + dm) / d), 0, nmax);
    }
  }
}
