/* memcpy / memset / memmove for LLVM-generated calls, on bulk-memory instructions. */
#include "rt.h"

void *memcpy(void *restrict dst, const void *restrict src, size_t n) {
  __builtin_memcpy(dst, src, n); /* lowered to memory.copy with -mbulk-memory */
  return dst;
}

void *memmove(void *dst, const void *src, size_t n) {
  __builtin_memmove(dst, src, n); /* memory.copy handles overlap */
  return dst;
}

void *memset(void *dst, int c, size_t n) {
  __builtin_memset(dst, c, n); /* memory.fill */
  return dst;
}
