// rempio2.h - Payne-Hanek argument reduction by pi/2 for large finite doubles.
//
//   int rem_pio2_large(double x, double *r)
//
// For finite x with |x| >= 1 (only called for |x| > 1e5; the Cody-Waite path in elementwise.c
// handles smaller arguments), returns n mod 4 (0..3) and stores r such that x = n*pi/2 + r,
// |r| <= pi/4 (a tie may go either way). Negative x: n and r are those of |x| negated
// (n -> -n mod 4, r -> -r), so the reduction is odd-symmetric.
//
// Algorithm (all integer arithmetic, 32-bit limbs, no __int128 / libm / fma):
//  1. |x| = m * 2^e, m a 53-bit integer, e = biased exponent - 1075 (-52 <= e <= 971).
//  2. x*2/pi = sum_i m*b_i*2^(e-i) over the bits b_i (weight 2^-i) of 2/pi. Terms with
//     i <= e-2 are multiples of 4 and are dropped, so only a window of 8 table words (256 bits)
//     starting at word floor((e-2)/32) is needed: P = m * window (integer, 10 limbs) holds
//     x*2/pi mod 4 with the binary point at bit p = 32*(w0+8) - e, 223 <= p <= 308.
//     Bits of 2/pi past the window change x*2/pi by < 2^(53-p) <= 2^-170.
//  3. q = bits p..p+1 of P; f = the next 192 bits (the fraction). If f >= 1/2, round up:
//     q += 1, f = 1 - f, and r is negative.
//  4. Normalise f (it is >= 2^-62 for every double: the closest double to a multiple of pi/2,
//     6381956970095103*2^797, has |r| ~ 4.7e-19), keep 128 bits, multiply by pi/2 as a 128-bit
//     fixed-point constant, and convert the top 64 bits (with a sticky bit for the rest) to
//     double: one correctly rounded int->double conversion, then an exact scaling by 2^k.
// Error: before the final rounding r carries a relative error < 2^-120 (truncations of 2/pi,
// of f to 128 bits and of pi/2 to 128 bits), so r is the correctly rounded value of the exact
// reduced argument except in cases within 2^-120 relative of a rounding boundary (error then
// <= 0.5 ulp + 2^-67 ulp). Quadrant and r are exact in the sense of steps 2-3 (no ties missed
// except within 2^-170 of pi/4).
#ifndef REMPIO2_H
#define REMPIO2_H

#include "rt.h"

// Bits of 2/pi after the binary point, 32 per word, most significant first:
// word w = floor(2/pi * 2^(32*(w+1))) mod 2^32, w = 0..37 (1216 bits; the largest exponent
// e = 971 reads words 30..37). Generated with mpmath 1.3 (mp.prec = 2000):
//   [int(floor(2/pi * mpf(2)**(32*(w+1)))) % 2**32 for w in range(38)]
static const uint32_t rempio2_two_over_pi[38] = {
  0xa2f9836eu, 0x4e441529u, 0xfc2757d1u, 0xf534ddc0u, 0xdb629599u, 0x3c439041u,
  0xfe5163abu, 0xdebbc561u, 0xb7246e3au, 0x424dd2e0u, 0x06492eeau, 0x09d1921cu,
  0xfe1deb1cu, 0xb129a73eu, 0xe88235f5u, 0x2ebb4484u, 0xe99c7026u, 0xb45f7e41u,
  0x3991d639u, 0x835339f4u, 0x9c845f8bu, 0xbdf9283bu, 0x1ff897ffu, 0xde05980fu,
  0xef2f118bu, 0x5a0a6d1fu, 0x6d367ecfu, 0x27cb09b7u, 0x4f463f66u, 0x9e5fea2du,
  0x7527bac7u, 0xebe5f17bu, 0x3d0739f7u, 0x8a5292eau, 0x6bfb5fb1u, 0x1f8d5d08u,
  0x56033046u, 0xfc7b6babu,
};

// pi/2 = C * 2^-127, C = round(pi/2 * 2^127) (128 bits), little-endian 32-bit limbs (mpmath).
static const uint32_t rempio2_pio2[4] = { 0x80dc1cd1u, 0xc4c6628bu, 0x2168c234u, 0xc90fdaa2u };

// out[0..na+nb) = a[0..na) * b[0..nb), little-endian 32-bit limbs.
static inline void rempio2_mul(const uint32_t *a, int na, const uint32_t *b, int nb,
                               uint32_t *out) {
  for (int k = 0; k < na + nb; k++) out[k] = 0;
  for (int i = 0; i < na; i++) {
    uint64_t carry = 0;
    for (int j = 0; j < nb; j++) {
      uint64_t t = (uint64_t)a[i] * b[j] + out[i + j] + carry;  // < 2^64
      out[i + j] = (uint32_t)t;
      carry = t >> 32;
    }
    out[i + nb] = (uint32_t)carry;
  }
}

// Bits [k, k+32) of the limb array v (k >= 0, v[(k>>5)+1] must exist).
static inline uint32_t rempio2_bits32(const uint32_t *v, int k) {
  int i = k >> 5, s = k & 31;
  return s ? (v[i] >> s) | (v[i + 1] << (32 - s)) : v[i];
}

static inline double rempio2_pow2(int k) {  // 2^k, normal range only
  return bits_f64((uint64_t)(1023 + k) << 52);
}

static inline int rem_pio2_large(double x, double *r) {
  const uint64_t ux = f64_bits(x);
  int neg_x = (int)(ux >> 63);
  int e = (int)((ux >> 52) & 0x7ff) - 1075;
  uint64_t m = (ux & 0x000fffffffffffffull) | 0x0010000000000000ull;

  // 2. P = m * (8 words of 2/pi starting at w0); binary point at bit p of P.
  int w0 = e < 2 ? 0 : (e - 2) >> 5;
  int p = 32 * (w0 + 8) - e;
  uint32_t win[8], mm[2] = { (uint32_t)m, (uint32_t)(m >> 32) }, P[11];
  for (int k = 0; k < 8; k++) win[k] = rempio2_two_over_pi[w0 + 7 - k];  // little-endian
  rempio2_mul(mm, 2, win, 8, P);
  P[10] = 0;

  // 3. Quadrant and 192-bit fraction f = F * 2^-192 (F[5] most significant).
  int q = (int)(rempio2_bits32(P, p) & 3);
  uint32_t F[6];
  for (int k = 0; k < 6; k++) F[k] = rempio2_bits32(P, p - 192 + 32 * k);
  int neg_r = 0;
  if (F[5] >> 31) {  // f >= 1/2: round to the next quadrant, f <- 1 - f (192-bit negate)
    q += 1;
    neg_r = 1;
    uint64_t c = 1;
    for (int k = 0; k < 6; k++) {
      uint64_t t = (uint64_t)(uint32_t)~F[k] + c;
      F[k] = (uint32_t)t;
      c = t >> 32;
    }
  }

  // 4. Normalise: N = top 128 bits of F << z (N[3] bit 31 set); f ~ N * 2^(-128-z).
  int top = 5;
  while (top > 0 && F[top] == 0) top--;
  double res = 0.0;
  if (F[top] != 0) {
    int s = __builtin_clz(F[top]);
    int z = 32 * (5 - top) + s;
    uint32_t N[4];
    for (int k = 0; k < 4; k++) {
      int i = top - 3 + k;
      uint32_t hi = i >= 0 ? F[i] : 0, lo = i >= 1 ? F[i - 1] : 0;
      N[k] = s ? (hi << s) | (lo >> (32 - s)) : hi;
    }
    // r = f * pi/2 = N*C * 2^(-255-z); H = N*C (256 bits), top bit at 254 or 255.
    uint32_t H[8];
    rempio2_mul(N, 4, rempio2_pio2, 4, H);
    uint64_t u = ((uint64_t)H[7] << 32) | H[6];
    uint64_t rest = ((uint64_t)H[5] << 32) | H[4];
    int k = -255 - z + 192;  // r ~ (u + rest*2^-64) * 2^k
    if (!(u >> 63)) {  // normalise so the int->double conversion sees 64 significant bits
      u = (u << 1) | (rest >> 63);
      rest <<= 1;
      k -= 1;
    }
    u |= (rest | H[3] | H[2] | H[1] | H[0]) != 0;  // sticky bit: correct single rounding
    res = (double)u * rempio2_pow2(k);
  }
  if (neg_r) res = -res;
  if (neg_x) {
    res = -res;
    q = -q;
  }
  *r = res;
  return q & 3;
}

#endif  // REMPIO2_H
