/*
 * The job block of the non-GEMM kernels (elementwise, reductions, softmax, im2col, copies,
 * pooling, col2im), laid out in
 * shared memory by backends/cpu/jobs.ts; both sides are generated from backends/cpu/abi.ts. Work is cut into
 * `nslots` slots that threads claim with an atomic counter (`next`), like the GEMM job; `done`
 * counts finished slots. Word 0 holds the job kind (>= 16), which tells `job_run` this block from
 * a GEMM job (whose word 0 is its dtype, 0 or 1).
 */
#ifndef APRENDER_PAR_H
#define APRENDER_PAR_H
#include "rt.h"

/* MAXDIM, the job kinds (KIND_…), the op codes and pjob_t come from the ABI list (abi.ts). */
#include "abi.generated.h"

#define SLOT_RANGE(total, s, ns, lo, hi)                                   \
  const int32_t lo = (int32_t)((int64_t)(total) * (s) / (ns));             \
  const int32_t hi = (int32_t)((int64_t)(total) * ((s) + 1) / (ns))

/*
 * A walk over a job's iteration space (shape[0..ndim)) in C order, one row (a run along the last
 * axis) at a time, keeping the multi-index and each operand's element offset: the loop of the
 * elementwise, copy and where kernels. st[j] holds operand j's strides (MAXDIM entries).
 */
typedef struct {
  int32_t idx[MAXDIM];
  int64_t off[4];
} walk_t;

/* Position the walk at element `lo`. */
INLINE void walk_start(walk_t *w, const pjob_t *job, const int32_t *const *st, int32_t nops,
                       int32_t lo) {
  for (int32_t j = 0; j < nops; j++) w->off[j] = 0;
  int32_t rem = lo;
  for (int32_t d = job->ndim - 1; d >= 0; d--) {
    w->idx[d] = rem % job->shape[d];
    rem /= job->shape[d];
    for (int32_t j = 0; j < nops; j++) w->off[j] += (int64_t)w->idx[d] * st[j][d];
  }
}

/* Advance by n elements along the last axis (n never passes its end), carrying outwards. */
INLINE void walk_next(walk_t *w, const pjob_t *job, const int32_t *const *st, int32_t nops,
                      int32_t n) {
  const int32_t inner = job->ndim - 1;
  w->idx[inner] += n;
  for (int32_t j = 0; j < nops; j++) w->off[j] += (int64_t)n * st[j][inner];
  for (int32_t d = inner; d > 0 && w->idx[d] == job->shape[d]; d--) {
    for (int32_t j = 0; j < nops; j++)
      w->off[j] += st[j][d - 1] - (int64_t)job->shape[d] * st[j][d];
    w->idx[d] = 0;
    w->idx[d - 1]++;
  }
}

void ew_slot(pjob_t *job, int32_t s);
void reduce_slot(pjob_t *job, int32_t s);
void softmax_slot(pjob_t *job, int32_t s);
void im2col_slot(pjob_t *job, int32_t s);
void copy_slot(pjob_t *job, int32_t s);
void train_slot(pjob_t *job, int32_t s);
void optim_slot(pjob_t *job, int32_t s);
void where_slot(pjob_t *job, int32_t s);
void quant_slot(pjob_t *job, int32_t s);

void qlinear_slot(pjob_t *job, int32_t s);
void convdw_slot(pjob_t *job, int32_t s);
void transpose_slot(pjob_t *job, int32_t s);
#endif
