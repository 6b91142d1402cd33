/*
 * The few freestanding helpers the kernels need (there is no libc: -nostdlib). Integer types come
 * from clang's own freestanding <stdint.h>; memcpy/memset are here because LLVM may lower copy or
 * fill loops to calls of them.
 */
#ifndef APRENDER_RT_H
#define APRENDER_RT_H
#include <stdint.h>
#include <stddef.h>
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(name), visibility("default")))
#define INLINE static inline __attribute__((always_inline))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memset(void *dst, int c, size_t n);
void *memmove(void *dst, const void *src, size_t n);

/* The bits of a double, and back. */
static inline uint64_t f64_bits(double x) {
  uint64_t u;
  __builtin_memcpy(&u, &x, 8);
  return u;
}
static inline double bits_f64(uint64_t u) {
  double x;
  __builtin_memcpy(&x, &u, 8);
  return x;
}

#endif
