/* Vector loads and stores through a step: kind 1 = contiguous, 0 = broadcast, 2 = any step. */
#ifndef APRENDER_VIO_H
#define APRENDER_VIO_H
#include "rt.h"

/* ---- loads and stores through a step: 1 (contiguous), 0 (broadcast) or any ---- */

INLINE v128_t ld_f32(const float *p, int32_t s, int kind) {
  if (kind == 1) return wasm_v128_load(p);
  if (kind == 0) return wasm_f32x4_splat(*p);
  return wasm_f32x4_make(p[0], p[s], p[2 * s], p[3 * s]);
}
INLINE v128_t ld_f64(const double *p, int32_t s, int kind) {
  if (kind == 1) return wasm_v128_load(p);
  if (kind == 0) return wasm_f64x2_splat(*p);
  return wasm_f64x2_make(p[0], p[s]);
}
INLINE void st_f32(float *p, int32_t s, int kind, v128_t v) {
  if (kind == 1) { wasm_v128_store(p, v); return; }
  p[0] = wasm_f32x4_extract_lane(v, 0);
  p[s] = wasm_f32x4_extract_lane(v, 1);
  p[2 * s] = wasm_f32x4_extract_lane(v, 2);
  p[3 * s] = wasm_f32x4_extract_lane(v, 3);
}
INLINE void st_f64(double *p, int32_t s, int kind, v128_t v) {
  if (kind == 1) { wasm_v128_store(p, v); return; }
  p[0] = wasm_f64x2_extract_lane(v, 0);
  p[s] = wasm_f64x2_extract_lane(v, 1);
}
#define VL_f32 4
#define VL_f64 2
#define SPLAT_f32 wasm_f32x4_splat
#define SPLAT_f64 wasm_f64x2_splat
#define LANE0_f32(v) wasm_f32x4_extract_lane(v, 0)
#define LANE0_f64(v) wasm_f64x2_extract_lane(v, 0)

#endif
