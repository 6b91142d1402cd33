/*
 * Fused optimizer steps, f32 and f64, on contiguous operands; one slot = a range of elements.
 *
 * Adam/AdamW (KIND_ADAM): ptr 0 p, 1 grad, 2 m (exp_avg), 3 v (exp_avg_sq); ia: 0 address of
 * vmax (AMSGrad) or 0, 1 maximize, 2 weight decay mode (0 none, 1 L2 into the gradient,
 * 2 decoupled); fa: 0 1 − lr·wd, 1 wd, 2 1 − β1, 3 β2, 4 1 − β2, 5 eps, 6 −stepSize, 7 √bc2.
 * Per element, in PyTorch's order and in the element type (the scalars cast to it, as PyTorch
 * casts its Python scalars): g = ±grad; decoupled: p = p·(1 − lr·wd), L2: g = g + wd·p;
 * m = m + (1 − β1)(g − m); v = β2·v + (1 − β2)·g·g; AMSGrad: vmax = max(vmax, v) (NaN kept),
 * read vmax; p = p + (−stepSize)·(m / (√v / √bc2 + eps)). New m, v and vmax below the smallest
 * normal number are stored as zero (flush to zero): an element whose gradient stays zero decays
 * m by β1 a step into subnormals within ~800 steps, and subnormal arithmetic costs ~50× here.
 * Same contract as the scalar kernel in backends/scalar/kernels/optim.ts.
 */
#include "par.h"

/* No fused multiply-adds: the results match the scalar kernel bit for bit. */
#pragma STDC FP_CONTRACT OFF

/* One loop per (maximize, decay mode, AMSGrad): with the flags constant, clang vectorizes it. */
#define ADAM(T, SFX, SQRT, TINY)                                                               \
  INLINE void adam_loop_##SFX(pjob_t *job, int32_t lo, int32_t hi, const int maximize,         \
                              const int mode, const int ams) {                                 \
    T *restrict p = (T *)(uintptr_t)job->ptr[0];                                               \
    const T *restrict gr = (const T *)(uintptr_t)job->ptr[1];                                  \
    T *restrict m = (T *)(uintptr_t)job->ptr[2];                                               \
    T *restrict v = (T *)(uintptr_t)job->ptr[3];                                               \
    T *restrict vmax = (T *)(uintptr_t)(uint32_t)job->ia[IA_ADAM_VMAX];                        \
    const T decay = (T)job->fa[0], wd = (T)job->fa[1], c1 = (T)job->fa[2], b2 = (T)job->fa[3]; \
    const T c2 = (T)job->fa[4], eps = (T)job->fa[5], step = (T)job->fa[6];                     \
    const T bc2s = (T)job->fa[7];                                                              \
    for (int32_t i = lo; i < hi; i++) {                                                        \
      T g = maximize ? -gr[i] : gr[i];                                                         \
      T pi = p[i];                                                                             \
      if (mode == 2) pi = pi * decay;                                                          \
      else if (mode == 1) g = g + wd * pi;                                                     \
      T mi = m[i] + c1 * (g - m[i]);                                                           \
      T vi = b2 * v[i] + c2 * (g * g);                                                         \
      mi = (mi < TINY && mi > -TINY) ? (T)0 : mi;                                              \
      vi = vi < TINY ? (T)0 : vi;                                                              \
      m[i] = mi;                                                                               \
      v[i] = vi;                                                                               \
      if (ams) {                                                                               \
        const T w = vmax[i];                                                                   \
        vi = (w > vi || w != w) ? w : vi;                                                      \
        vmax[i] = vi;                                                                          \
      }                                                                                        \
      p[i] = pi + step * (mi / (SQRT(vi) / bc2s + eps));                                       \
    }                                                                                          \
  }                                                                                            \
  static void adam_##SFX(pjob_t *job, int32_t lo, int32_t hi) {                                \
    const int mx = job->ia[IA_ADAM_MAXIMIZE] != 0, mode = job->ia[IA_ADAM_DECAY];              \
    const int ams = job->ia[IA_ADAM_VMAX] != 0;                                                \
    switch (mx * 6 + mode * 2 + ams) {                                                         \
      case 0: adam_loop_##SFX(job, lo, hi, 0, 0, 0); break;                                    \
      case 1: adam_loop_##SFX(job, lo, hi, 0, 0, 1); break;                                    \
      case 2: adam_loop_##SFX(job, lo, hi, 0, 1, 0); break;                                    \
      case 3: adam_loop_##SFX(job, lo, hi, 0, 1, 1); break;                                    \
      case 4: adam_loop_##SFX(job, lo, hi, 0, 2, 0); break;                                    \
      case 5: adam_loop_##SFX(job, lo, hi, 0, 2, 1); break;                                    \
      case 6: adam_loop_##SFX(job, lo, hi, 1, 0, 0); break;                                    \
      case 7: adam_loop_##SFX(job, lo, hi, 1, 0, 1); break;                                    \
      case 8: adam_loop_##SFX(job, lo, hi, 1, 1, 0); break;                                    \
      case 9: adam_loop_##SFX(job, lo, hi, 1, 1, 1); break;                                    \
      case 10: adam_loop_##SFX(job, lo, hi, 1, 2, 0); break;                                   \
      default: adam_loop_##SFX(job, lo, hi, 1, 2, 1); break;                                   \
    }                                                                                          \
  }
ADAM(float, f32, __builtin_sqrtf, 1.17549435e-38f)
ADAM(double, f64, __builtin_sqrt, 2.2250738585072014e-308)

void optim_slot(pjob_t *job, int32_t s) {
  SLOT_RANGE(job->total, s, job->nslots, lo, hi);
  if (job->dtype) adam_f64(job, lo, hi);
  else adam_f32(job, lo, hi);
}
