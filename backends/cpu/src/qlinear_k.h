/*
 * qlinear_k.c's entry points, called by qlinear.c's slot function: the quantLinear weight types
 * and modes qlinear.c routes there (Q2_K, Q3_K, Q5_K, IQ4_XS in both modes; Q4_1, Q5_0, Q5_1,
 * IQ4_NL in "ggml" mode).
 */
#ifndef APRENDER_QLINEAR_K_H
#define APRENDER_QLINEAR_K_H
#include "par.h"

/* Weight type codes continuing qlinear.c's QT_… list (TS: backends/wasm/qlinear.ts QTYPE). */
enum { QT_Q2_K = 11, QT_Q3_K = 12, QT_Q5_K = 13, QT_IQ4_XS = 14 };

/* Does qlinear_k.c run weight type t in mode (0 "f32", 1 "ggml")? */
INLINE int qlk_owns(int32_t t, int32_t mode) {
  return t >= QT_Q2_K || (mode == 1 && t >= 7 && t <= 10);
}

/* Output columns [j0, j1) of the quantLinear job (qlinear_k.c). */
void qlk_rows(pjob_t *job, int32_t j0, int32_t j1);
/* The same in "f32" mode for QT_Q2_K … QT_IQ4_XS (qlinear_k_f32.c). */
void qlk_f32_rows(pjob_t *job, int32_t j0, int32_t j1);
#endif
