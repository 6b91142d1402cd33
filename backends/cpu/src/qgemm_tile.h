/*
 * qgemm_tile.c's entry point, called by qlinear.c's slot function for the quantLinear jobs whose
 * mode is QL_TILED (2): "ggml" activations of several rows against Q4_0, Q8_0 or Q4_K weights,
 * the activations quantized as int8 and interleaved by qlin_interleave.
 */
#ifndef APRENDER_QGEMM_TILE_H
#define APRENDER_QGEMM_TILE_H
#include "par.h"

/* Output columns [j0, j1) of a QL_TILED quantLinear job (qgemm_tile.c). */
void qgemm_tile_rows(pjob_t *job, int32_t j0, int32_t j1);
#endif
