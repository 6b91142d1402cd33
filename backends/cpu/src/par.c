/* Slot claiming for the non-GEMM jobs, and `job_run`, the one entry every pool thread calls. */
#include "par.h"

int32_t gemm_run(void *job, uint8_t *scratch);

EXPORT("par_run") int32_t par_run(pjob_t *job) {
  int32_t ran = 0;
  for (;;) {
    const int32_t s = __atomic_fetch_add(&job->next, 1, __ATOMIC_SEQ_CST);
    /* Fields are read after a successful claim: the block is reused (see gemm_run). */
    if (s >= job->nslots) break;
    switch (job->kind) {
      case KIND_BINARY:
      case KIND_UNARY: ew_slot(job, s); break;
      case KIND_REDUCE: reduce_slot(job, s); break;
      case KIND_SOFTMAX: softmax_slot(job, s); break;
      case KIND_IM2COL: im2col_slot(job, s); break;
      case KIND_COPY: copy_slot(job, s); break;
      case KIND_POOL:
      case KIND_COL2IM:
      case KIND_SUMROWS:
      case KIND_CONVBW: train_slot(job, s); break;
      case KIND_ADAM: optim_slot(job, s); break;
      case KIND_WHERE: where_slot(job, s); break;
      case KIND_QUANTIZE: quant_slot(job, s); break;

      case KIND_QLINEAR: qlinear_slot(job, s); break;

      case KIND_CONVDW: convdw_slot(job, s); break;
      case KIND_TRANSPOSE: transpose_slot(job, s); break;
      default: break;
    }
    ran++;
    __atomic_fetch_add(&job->done, 1, __ATOMIC_SEQ_CST);
    __builtin_wasm_memory_atomic_notify(&job->done, 0xffffffffu);
  }
  return ran;
}

/* Join whichever job `job` is: a GEMM job (word 0 = dtype 0/1) or a pjob_t (word 0 >= 16). */
EXPORT("job_run") int32_t job_run(int32_t *job, uint8_t *scratch) {
  if (job[0] >= KIND_BINARY) return par_run((pjob_t *)job);
  return gemm_run(job, scratch);
}
