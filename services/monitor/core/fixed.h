/* fixed.h -- the integer arithmetic the detectors need beyond 64 bits: a 128-bit product, its
 * quotient and its square root. gcc inlines 128-bit multiplication, shifts and comparisons on
 * x86-64, but a 128-bit division would call libgcc's __udivti3, which a guest does not link; so
 * the two operations that need one are written here as plain shift-and-subtract loops. */
#ifndef MD_FIXED_H
#define MD_FIXED_H

#include <stdint.h>

typedef unsigned __int128 md_u128;

/* n / d for 0 < d < 2^127 (d == 0 gives the largest value rather than a trap). */
md_u128 md_div_u128(md_u128 n, md_u128 d);

/* floor(sqrt(x)); always fits 64 bits. */
uint64_t md_isqrt_u128(md_u128 x);

/* a * b / d, exact through a 128-bit product, saturated to UINT64_MAX; d == 0 saturates. */
uint64_t md_mul_div(uint64_t a, uint64_t b, uint64_t d);

/* Zeroes n bytes. gcc turns the clearing of a large struct into a call to memset, which a guest
 * library does not have; the core clears its large records with this instead. */
void md_zero(void *p, uint64_t n);

/* The smaller and larger of two, and x clamped to [lo, hi]. */
static inline uint64_t md_min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }
static inline uint64_t md_max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

#endif
