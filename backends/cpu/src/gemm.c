/*
 * GEMM C = A·B for f32 and f64 in WASM SIMD128, GotoBLAS/BLIS style:
 *   - A and B are read through arbitrary (signed) row/column element strides, so transposed,
 *     sliced and flipped views need no copy: each KC×NC block of B and MC×KC block of A is packed
 *     into contiguous micro-panels (zero-padded to the tile), which is where the strides are paid;
 *   - a register-tiled micro-kernel (MR rows × NR columns of C in v128 accumulators) runs over the
 *     packed panels; with relaxed SIMD its multiply-add is one fused instruction (vfmadd on x86).
 *
 * Work is split into "slots" (batch range × row block × column block of C); every thread that
 * joins a job (the main thread and the pool's workers, each with its own scratch) claims slots
 * with an atomic counter until none is left, so a slow or absent worker never blocks the job.
 * Each element of C is computed by one thread in the same order whatever the thread count, so
 * results do not depend on the number of threads.
 */
#include "rt.h"

#ifdef __wasm_relaxed_simd__
#define FMA_F32(a, b, c) __builtin_wasm_relaxed_madd_f32x4((a), (b), (c))
#define FMA_F64(a, b, c) __builtin_wasm_relaxed_madd_f64x2((a), (b), (c))
#else
#define FMA_F32(a, b, c) wasm_f32x4_add(wasm_f32x4_mul((a), (b)), (c))
#define FMA_F64(a, b, c) wasm_f64x2_add(wasm_f64x2_mul((a), (b)), (c))
#endif

/* Blocking (elements). KC×NR of B stays in L1 across the MC rows of A, MC×KC of A in L2. */
#ifndef KC
#define KC 256
#endif
#ifndef MC
#define MC 144
#endif
#ifndef NC
#define NC 2048
#endif
#ifndef UNROLL
#define UNROLL 4
#endif
#ifndef MR64
#define MR64 6
#endif
#ifndef NV64
#define NV64 2
#endif
#ifndef MR32
#define MR32 4
#endif
#ifndef NV32
#define NV32 3
#endif

/* A job, laid out in shared memory by the TS side (backends/wasm/gemm.ts mirrors it). */
typedef struct {
  int32_t dtype;           /* 0: f32, 1: f64 */
  int32_t m, n, k;         /* C is m×n, A m×k, B k×n */
  int32_t nbatch;          /* matrices in the batch */
  int32_t rsa, csa;        /* A strides (elements, signed) */
  int32_t rsb, csb;        /* B strides */
  uint32_t a, b, c;        /* byte addresses of A, B, C of batch entry 0 */
  uint32_t aoffs, boffs;   /* int32 element offsets of each batch entry's A and B from a / b */
  int32_t bslots, mslots, nslots; /* how the work is cut: batch × rows × columns */
  int32_t next;            /* atomic: next slot to claim */
  int32_t done;            /* atomic: slots finished (notified on change) */
} job_t;

/* Scratch each thread needs: packed A block + packed B block, in the largest element size. */
EXPORT("gemm_scratch_bytes") uint32_t gemm_scratch_bytes(void) {
  return (uint32_t)(MC * KC + KC * NC) * 8u + 128u;
}

#define DEFINE_GEMM(T, SFX, VL, MR, NV, SPLAT, FMA)                                             \
  enum { NR_##SFX = (VL) * (NV) };                                                              \
                                                                                                \
  /* dst[p*MR + r] = A[r, p], rows past mr zero. */                                             \
  static void pack_a_##SFX(const T *a, int32_t rs, int32_t cs, int32_t mc, int32_t kc,         \
                           T *restrict dst) {                                                   \
    for (int32_t i = 0; i < mc; i += MR) {                                                      \
      const int32_t mr = MIN(MR, mc - i);                                                       \
      const T *ai = a + i * rs;                                                                 \
      if (mr == MR && rs == 1) {                                                                \
        for (int32_t p = 0; p < kc; p++, dst += MR) {                                           \
          const T *s = ai + p * cs;                                                             \
          _Pragma("clang loop unroll(full)") for (int r = 0; r < MR; r++) dst[r] = s[r];        \
        }                                                                                       \
      } else if (mr == MR) {                                                                    \
        for (int32_t p = 0; p < kc; p++, dst += MR) {                                           \
          const T *s = ai + p * cs;                                                             \
          _Pragma("clang loop unroll(full)") for (int r = 0; r < MR; r++) dst[r] = s[r * rs];   \
        }                                                                                       \
      } else {                                                                                  \
        for (int32_t p = 0; p < kc; p++, dst += MR) {                                           \
          const T *s = ai + p * cs;                                                             \
          for (int r = 0; r < MR; r++) dst[r] = r < mr ? s[r * rs] : (T)0;                      \
        }                                                                                       \
      }                                                                                         \
    }                                                                                           \
  }                                                                                             \
                                                                                                \
  /* dst[p*NR + j] = B[p, j], columns past nc zero. */                                          \
  static void pack_b_##SFX(const T *b, int32_t rs, int32_t cs, int32_t kc, int32_t nc,         \
                           T *restrict dst) {                                                   \
    for (int32_t j = 0; j < nc; j += NR_##SFX) {                                                \
      const int32_t nr = MIN(NR_##SFX, nc - j);                                                 \
      const T *bj = b + j * cs;                                                                 \
      if (nr == NR_##SFX && cs == 1) {                                                          \
        for (int32_t p = 0; p < kc; p++, dst += NR_##SFX) {                                     \
          const T *s = bj + p * rs;                                                             \
          _Pragma("clang loop unroll(full)") for (int v = 0; v < NV; v++)                       \
            wasm_v128_store(dst + v * VL, wasm_v128_load(s + v * VL));                          \
        }                                                                                       \
      } else if (nr == NR_##SFX) {                                                              \
        for (int32_t p = 0; p < kc; p++, dst += NR_##SFX) {                                     \
          const T *s = bj + p * rs;                                                             \
          _Pragma("clang loop unroll(full)") for (int q = 0; q < NR_##SFX; q++)                 \
            dst[q] = s[q * cs];                                                                 \
        }                                                                                       \
      } else {                                                                                  \
        for (int32_t p = 0; p < kc; p++, dst += NR_##SFX) {                                     \
          const T *s = bj + p * rs;                                                             \
          for (int q = 0; q < NR_##SFX; q++) dst[q] = q < nr ? s[q * cs] : (T)0;                \
        }                                                                                       \
      }                                                                                         \
    }                                                                                           \
  }                                                                                             \
                                                                                                \
  /* C[0:mr, 0:nr] (row stride ldc) = or += packed A micro-panel · packed B micro-panel. Not     \
     inlined: as a small function of its own, V8 tiers it up to optimized code within the first   \
     call, where inlined into the long-running caller it would run baseline code for the whole    \
     first GEMMs (wasm has no on-stack replacement). */                                          \
  __attribute__((noinline)) static void ukr_##SFX(int32_t kc, const T *restrict a,              \
                                                  const T *restrict b, T *restrict c,           \
                                                  int32_t ldc, int32_t mr, int32_t nr,          \
                                                  int accumulate) {                             \
    v128_t acc[MR][NV];                                                                         \
    _Pragma("clang loop unroll(full)") for (int i = 0; i < MR; i++)                             \
      _Pragma("clang loop unroll(full)") for (int v = 0; v < NV; v++) acc[i][v] =               \
        wasm_i32x4_splat(0);                                                                    \
    _Pragma("clang loop unroll_count(UNROLL)") for (int32_t p = 0; p < kc; p++) {                 \
      v128_t bv[NV];                                                                            \
      _Pragma("clang loop unroll(full)") for (int v = 0; v < NV; v++) bv[v] =                   \
        wasm_v128_load(b + v * VL);                                                             \
      _Pragma("clang loop unroll(full)") for (int i = 0; i < MR; i++) {                         \
        const v128_t av = SPLAT(a + i);                                                         \
        _Pragma("clang loop unroll(full)") for (int v = 0; v < NV; v++) acc[i][v] =             \
          FMA(av, bv[v], acc[i][v]);                                                            \
      }                                                                                         \
      a += MR;                                                                                  \
      b += NR_##SFX;                                                                            \
    }                                                                                           \
    if (mr == MR && nr == NR_##SFX) {                                                           \
      _Pragma("clang loop unroll(full)") for (int i = 0; i < MR; i++) {                         \
        T *ci = c + i * ldc;                                                                    \
        _Pragma("clang loop unroll(full)") for (int v = 0; v < NV; v++) {                       \
          v128_t x = acc[i][v];                                                                 \
          if (accumulate) x = ADD_##SFX(x, wasm_v128_load(ci + v * VL));                        \
          wasm_v128_store(ci + v * VL, x);                                                      \
        }                                                                                       \
      }                                                                                         \
      return;                                                                                   \
    }                                                                                           \
    T tile[MR * NR_##SFX] __attribute__((aligned(16)));                                         \
    _Pragma("clang loop unroll(full)") for (int i = 0; i < MR; i++)                             \
      _Pragma("clang loop unroll(full)") for (int v = 0; v < NV; v++)                           \
        wasm_v128_store(tile + i * NR_##SFX + v * VL, acc[i][v]);                               \
    for (int32_t i = 0; i < mr; i++) {                                                          \
      T *ci = c + i * ldc;                                                                      \
      const T *ti = tile + i * NR_##SFX;                                                        \
      if (accumulate) {                                                                         \
        for (int32_t j = 0; j < nr; j++) ci[j] += ti[j];                                        \
      } else {                                                                                  \
        for (int32_t j = 0; j < nr; j++) ci[j] = ti[j];                                         \
      }                                                                                         \
    }                                                                                           \
  }                                                                                             \
                                                                                                \
  /* C (m×n, row stride ldc) = A·B for one matrix, with packing buffers pa and pb. */           \
  static void block_##SFX(const T *A, int32_t rsa, int32_t csa, const T *B, int32_t rsb,        \
                          int32_t csb, T *C, int32_t ldc, int32_t m, int32_t n, int32_t k,      \
                          T *pa, T *pb) {                                                       \
    if (k == 0) {                                                                               \
      for (int32_t i = 0; i < m; i++)                                                           \
        for (int32_t j = 0; j < n; j++) C[i * ldc + j] = 0;                                     \
      return;                                                                                   \
    }                                                                                           \
    for (int32_t jc = 0; jc < n; jc += NC) {                                                    \
      const int32_t nc = MIN(NC, n - jc);                                                       \
      for (int32_t pc = 0; pc < k; pc += KC) {                                                  \
        const int32_t kc = MIN(KC, k - pc);                                                     \
        pack_b_##SFX(B + pc * rsb + jc * csb, rsb, csb, kc, nc, pb);                            \
        for (int32_t ic = 0; ic < m; ic += MC) {                                                \
          const int32_t mc = MIN(MC, m - ic);                                                   \
          pack_a_##SFX(A + ic * rsa + pc * csa, rsa, csa, mc, kc, pa);                          \
          for (int32_t jr = 0; jr < nc; jr += NR_##SFX) {                                       \
            for (int32_t ir = 0; ir < mc; ir += MR) {                                           \
              ukr_##SFX(kc, pa + ir * kc, pb + jr * kc, C + (ic + ir) * ldc + jc + jr, ldc,     \
                        MIN(MR, mc - ir), MIN(NR_##SFX, nc - jr), pc > 0);                      \
            }                                                                                   \
          }                                                                                     \
        }                                                                                       \
      }                                                                                         \
    }                                                                                           \
  }                                                                                             \
                                                                                                \
  static void slot_##SFX(job_t *job, int32_t s, uint8_t *scratch) {                             \
    const int32_t per = job->mslots * job->nslots;                                              \
    const int32_t sb = s / per, si = (s % per) / job->nslots, sj = s % job->nslots;             \
    const int32_t m = job->m, n = job->n;                                                       \
    /* Row and column cuts on tile boundaries, so the work per element does not change. */      \
    const int32_t mt = (m + MR - 1) / MR, nt = (n + NR_##SFX - 1) / NR_##SFX;                   \
    const int32_t i0 = MIN(m, (int32_t)((int64_t)mt * si / job->mslots) * MR);                  \
    const int32_t i1 = MIN(m, (int32_t)((int64_t)mt * (si + 1) / job->mslots) * MR);            \
    const int32_t j0 = MIN(n, (int32_t)((int64_t)nt * sj / job->nslots) * NR_##SFX);            \
    const int32_t j1 = MIN(n, (int32_t)((int64_t)nt * (sj + 1) / job->nslots) * NR_##SFX);      \
    const int32_t b0 = (int32_t)((int64_t)job->nbatch * sb / job->bslots);                      \
    const int32_t b1 = (int32_t)((int64_t)job->nbatch * (sb + 1) / job->bslots);                \
    if (i0 >= i1 || j0 >= j1) return;                                                           \
    T *pa = (T *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);                                  \
    T *pb = pa + MC * KC;                                                                       \
    const int32_t *ao = (const int32_t *)(uintptr_t)job->aoffs;                                 \
    const int32_t *bo = (const int32_t *)(uintptr_t)job->boffs;                                 \
    for (int32_t bi = b0; bi < b1; bi++) {                                                      \
      const T *A = (const T *)(uintptr_t)job->a + (job->nbatch > 1 ? ao[bi] : 0);               \
      const T *B = (const T *)(uintptr_t)job->b + (job->nbatch > 1 ? bo[bi] : 0);               \
      T *C = (T *)(uintptr_t)job->c + (int64_t)bi * m * n;                                      \
      block_##SFX(A + i0 * job->rsa, job->rsa, job->csa, B + j0 * job->csb, job->rsb,           \
                  job->csb, C + i0 * n + j0, n, i1 - i0, j1 - j0, job->k, pa, pb);              \
    }                                                                                           \
  }

#define ADD_f32 wasm_f32x4_add
#define ADD_f64 wasm_f64x2_add
DEFINE_GEMM(float, f32, 4, MR32, NV32, wasm_v128_load32_splat, FMA_F32)
DEFINE_GEMM(double, f64, 2, MR64, NV64, wasm_v128_load64_splat, FMA_F64)

/*
 * Join a job: claim slots until none is left, packing into `scratch` (this thread's own buffers,
 * gemm_scratch_bytes() long). Every field is read after a successful claim: the job struct is
 * reused, and a thread that wakes late must see the job it claimed from, not a stale one.
 * Returns how many slots this thread ran.
 */
EXPORT("gemm_run") int32_t gemm_run(job_t *job, uint8_t *scratch) {
  int32_t ran = 0;
  for (;;) {
    const int32_t s = __atomic_fetch_add(&job->next, 1, __ATOMIC_SEQ_CST);
    const int32_t total = job->bslots * job->mslots * job->nslots;
    if (s >= total) break;
    if (job->dtype == 0) slot_f32(job, s, scratch);
    else slot_f64(job, s, scratch);
    ran++;
    __atomic_fetch_add(&job->done, 1, __ATOMIC_SEQ_CST);
    __builtin_wasm_memory_atomic_notify(&job->done, 0xffffffffu);
  }
  return ran;
}
