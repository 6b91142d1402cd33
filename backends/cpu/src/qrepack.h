/*
 * qrepack.c's entry point, called by qlinear.c's slot function for quantLinear jobs on Q4_0
 * weights repacked in place by qrepack_q4_0 (modes QL_REPACK_GGML and QL_REPACK_F32).
 */
#ifndef APRENDER_QREPACK_H
#define APRENDER_QREPACK_H
#include "par.h"

/* quantLinear modes of a repacked Q4_0 weight: "ggml" (interleaved Q8_0 activations) and "f32". */
enum { QL_REPACK_GGML = 3, QL_REPACK_F32 = 4 };

/* Output columns [j0, j1) of a repacked-Q4_0 quantLinear job (qrepack.c). */
void qrepack_rows(pjob_t *job, int32_t j0, int32_t j1);
#endif
