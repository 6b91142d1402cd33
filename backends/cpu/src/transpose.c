/*
 * Batched 2-D transpose of 4-byte elements (KIND_TRANSPOSE, the ONNX Transpose fast path):
 * a (B, R, C) contiguous -> out (B, C, R) contiguous, raw bit copies (NaN payloads kept).
 * ia: 0 B, 1 R, 2 C; ptr: 0 out, 1 a. A slot is a range of the B·⌈C/4⌉ bands of four output
 * rows: 4×4 blocks through shuffles, C = 3 (NHWC -> NCHW images) as a three-way de-interleave
 * of four pixels, edges element by element.
 */
#include "par.h"

#define SH wasm_i32x4_shuffle

/* out rows c0..c0+3 (c0 + 4 <= C) of one matrix, over every r. */
static void band4(uint32_t *o, const uint32_t *a, int32_t R, int32_t C, int32_t c0) {
  int32_t r = 0;
  for (; r + 4 <= R; r += 4) {
    const uint32_t *p = a + (int64_t)r * C + c0;
    const v128_t r0 = wasm_v128_load(p), r1 = wasm_v128_load(p + C);
    const v128_t r2 = wasm_v128_load(p + 2 * C), r3 = wasm_v128_load(p + 3 * C);
    const v128_t t0 = SH(r0, r1, 0, 4, 1, 5), t1 = SH(r2, r3, 0, 4, 1, 5);
    const v128_t t2 = SH(r0, r1, 2, 6, 3, 7), t3 = SH(r2, r3, 2, 6, 3, 7);
    uint32_t *q = o + (int64_t)c0 * R + r;
    wasm_v128_store(q, SH(t0, t1, 0, 1, 4, 5));
    wasm_v128_store(q + R, SH(t0, t1, 2, 3, 6, 7));
    wasm_v128_store(q + 2 * R, SH(t2, t3, 0, 1, 4, 5));
    wasm_v128_store(q + 3 * R, SH(t2, t3, 2, 3, 6, 7));
  }
  for (; r < R; r++) {
    for (int32_t c = c0; c < c0 + 4; c++) o[(int64_t)c * R + r] = a[(int64_t)r * C + c];
  }
}

/* C = 3: out rows 0, 1, 2 from interleaved triples. */
static void deinterleave3(uint32_t *o, const uint32_t *a, int32_t R) {
  int32_t r = 0;
  for (; r + 4 <= R; r += 4) {
    const uint32_t *p = a + (int64_t)r * 3;
    const v128_t v0 = wasm_v128_load(p), v1 = wasm_v128_load(p + 4), v2 = wasm_v128_load(p + 8);
    wasm_v128_store(o + r, SH(SH(v0, v1, 0, 3, 6, 0), v2, 0, 1, 2, 5));
    wasm_v128_store(o + R + r, SH(SH(v0, v1, 1, 4, 7, 0), v2, 0, 1, 2, 6));
    wasm_v128_store(o + 2 * R + r, SH(SH(v0, v1, 2, 5, 0, 0), v2, 0, 1, 4, 7));
  }
  for (; r < R; r++) {
    for (int32_t c = 0; c < 3; c++) o[(int64_t)c * R + r] = a[(int64_t)r * 3 + c];
  }
}

void transpose_slot(pjob_t *job, int32_t s) {
  SLOT_RANGE(job->total, s, job->nslots, lo, hi);
  const int32_t R = job->ia[IA_TRANSPOSE_R], C = job->ia[IA_TRANSPOSE_C];
  const int32_t bands = (C + 3) / 4;
  uint32_t *const out = (uint32_t *)(uintptr_t)job->ptr[0];
  const uint32_t *const in = (const uint32_t *)(uintptr_t)job->ptr[1];
  for (int32_t k = lo; k < hi; k++) {
    const int32_t b = k / bands, c0 = (k % bands) * 4;
    uint32_t *o = out + (int64_t)b * R * C;
    const uint32_t *a = in + (int64_t)b * R * C;
    if (C == 3) deinterleave3(o, a, R);
    else if (c0 + 4 <= C) band4(o, a, R, C, c0);
    else {
      for (int32_t r = 0; r < R; r++) {
        for (int32_t c = c0; c < C; c++) o[(int64_t)c * R + r] = a[(int64_t)r * C + c];
      }
    }
  }
}
