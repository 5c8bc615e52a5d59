/* qsort and bsearch. qsort is a heapsort: O(n log n) in every case and no recursion, so no input
 * can exhaust a sandbox's small stack. Like C's qsort it is not stable. */
#include <stdlib.h>

#include "libc.h"

static void swap(unsigned char *a, unsigned char *b, size_t size) {
  while (size--) {
    unsigned char t = *a;
    *a++ = *b;
    *b++ = t;
  }
}

/* Moves element i down until the heap of the first n elements is in order again. */
static void sift(unsigned char *base, size_t i, size_t n, size_t size, int (*cmp)(const void *, const void *)) {
  for (;;) {
    size_t child = 2 * i + 1;
    if (child >= n) return;
    if (child + 1 < n && cmp(base + child * size, base + (child + 1) * size) < 0) child++;
    if (cmp(base + i * size, base + child * size) >= 0) return;
    swap(base + i * size, base + child * size, size);
    i = child;
  }
}

LIBC void qsort(void *base, size_t count, size_t size, int (*compare)(const void *, const void *)) {
  unsigned char *b = base;
  if (count < 2 || size == 0) return;
  for (size_t i = count / 2; i-- > 0;) sift(b, i, count, size, compare);
  for (size_t n = count - 1; n > 0; n--) {
    swap(b, b + n * size, size);
    sift(b, 0, n, size, compare);
  }
}

LIBC void *bsearch(const void *key, const void *base, size_t count, size_t size, int (*compare)(const void *, const void *)) {
  const unsigned char *b = base;
  size_t lo = 0, hi = count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = compare(key, b + mid * size);
    if (c == 0) return (void *)(b + mid * size);
    if (c < 0) hi = mid;
    else lo = mid + 1;
  }
  return NULL;
}
