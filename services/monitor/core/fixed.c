/* fixed.c -- 128-bit quotient and square root without libgcc (see fixed.h). Both run once per
 * question asked of a detector, never per sample, so a bit-at-a-time loop costs nothing that
 * matters and is easy to check. */
#include "fixed.h"

md_u128 md_div_u128(md_u128 n, md_u128 d) {
  if (d == 0) return ~(md_u128)0;
  if ((n >> 64) == 0 && (d >> 64) == 0) return (uint64_t)n / (uint64_t)d; /* one hardware division */
  md_u128 q = 0, r = 0;
  for (int i = 127; i >= 0; i--) {
    r = (r << 1) | (uint64_t)((n >> i) & 1); /* r < 2d <= 2^128: no overflow */
    if (r >= d) {
      r -= d;
      q |= (md_u128)1 << i;
    }
  }
  return q;
}

uint64_t md_isqrt_u128(md_u128 x) {
  /* Digit-by-digit square root in base 4: `bit` walks down the powers of four. */
  md_u128 res = 0, bit = (md_u128)1 << 126;
  while (bit > x) bit >>= 2;
  while (bit != 0) {
    if (x >= res + bit) {
      x -= res + bit;
      res = (res >> 1) + bit;
    } else {
      res >>= 1;
    }
    bit >>= 2;
  }
  return (uint64_t)res;
}

uint64_t md_mul_div(uint64_t a, uint64_t b, uint64_t d) {
  md_u128 q = md_div_u128((md_u128)a * b, d);
  return (q >> 64) != 0 ? UINT64_MAX : (uint64_t)q;
}

void md_zero(void *p, uint64_t n) {
  /* Built with -fno-tree-loop-distribute-patterns in a guest, so this stays a loop. */
  uint8_t *b = p;
  for (uint64_t i = 0; i < n; i++) b[i] = 0;
}
