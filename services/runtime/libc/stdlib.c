/* <stdlib.h>'s arithmetic, conversions, pseudo-random numbers and exit (malloc.c and sort.c hold
 * the rest). */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>

#include "libc.h"

LIBC int abs(int v) { return v < 0 ? -v : v; }
LIBC long labs(long v) { return v < 0 ? -v : v; }
LIBC long long llabs(long long v) { return v < 0 ? -v : v; }
LIBC intmax_t imaxabs(intmax_t v) { return v < 0 ? -v : v; }
LIBC div_t div(int num, int den) { return (div_t){num / den, num % den}; }
LIBC ldiv_t ldiv(long num, long den) { return (ldiv_t){num / den, num % den}; }
LIBC lldiv_t lldiv(long long num, long long den) { return (lldiv_t){num / den, num % den}; }

/* The one conversion the strto* family shares (C11 7.22.1.4): optional space and sign, a "0x"
 * prefix for base 16 or 0, digits of the base. Returns the magnitude clamped to limit (with errno
 * ERANGE and *over set past it), *neg, and where parsing stopped (s itself when there are no digits). */
static unsigned long long convert(const char *s, char **end, int base, unsigned long long limit, int *neg, int *over) {
  const char *p = s;
  *neg = *over = 0;
  if (base < 0 || base == 1 || base > 36) {
    errno = EINVAL;
    if (end) *end = (char *)s;
    return 0;
  }
  while (isspace((unsigned char)*p)) p++;
  if (*p == '+' || *p == '-') *neg = *p++ == '-';
  /* "0x" counts as a prefix only when a hex digit follows; else the "0" alone is the number. */
  if ((base == 0 || base == 16) && p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && isxdigit((unsigned char)p[2])) {
    p += 2;
    base = 16;
  } else if (base == 0) {
    base = p[0] == '0' ? 8 : 10;
  }
  unsigned long long v = 0;
  int any = 0;
  for (;; p++) {
    int c = (unsigned char)*p, d;
    if (isdigit(c)) d = c - '0';
    else if (isalpha(c)) d = tolower(c) - 'a' + 10;
    else break;
    if (d >= base) break;
    any = 1;
    if (v > (limit - (unsigned)d) / (unsigned)base) *over = 1;
    else v = v * (unsigned)base + (unsigned)d;
  }
  if (end) *end = (char *)(any ? p : s);
  if (*over) {
    errno = ERANGE;
    return limit;
  }
  return v;
}

LIBC long long strtoll(const char *restrict s, char **restrict end, int base) {
  int neg, over;
  /* The magnitude may reach LLONG_MAX + 1 when negative. */
  unsigned long long m = convert(s, end, base, (unsigned long long)LLONG_MAX + 1, &neg, &over);
  if (!neg && m > (unsigned long long)LLONG_MAX) {
    errno = ERANGE;
    return LLONG_MAX;
  }
  return neg ? (long long)(0 - m) : (long long)m;
}

LIBC long strtol(const char *restrict s, char **restrict end, int base) { return strtoll(s, end, base); }
LIBC intmax_t strtoimax(const char *restrict s, char **restrict end, int base) { return strtoll(s, end, base); }

/* C: a minus sign negates the result in the unsigned type ("-1" is ULLONG_MAX); a magnitude
 * past ULLONG_MAX is ULLONG_MAX whatever the sign. */
LIBC unsigned long long strtoull(const char *restrict s, char **restrict end, int base) {
  int neg, over;
  unsigned long long m = convert(s, end, base, ULLONG_MAX, &neg, &over);
  return neg && !over ? 0 - m : m;
}

LIBC unsigned long strtoul(const char *restrict s, char **restrict end, int base) { return strtoull(s, end, base); }
LIBC uintmax_t strtoumax(const char *restrict s, char **restrict end, int base) { return strtoull(s, end, base); }
LIBC int atoi(const char *s) { return (int)strtol(s, NULL, 10); }
LIBC long atol(const char *s) { return strtol(s, NULL, 10); }
LIBC long long atoll(const char *s) { return strtoll(s, NULL, 10); }

/* C11's example generator (7.22.2.2), seeded with 1 until srand: the same numbers on every run. */
static unsigned long long next = 1;
LIBC int rand(void) {
  next = next * 1103515245 + 12345;
  return (int)((next / 65536) % 32768);
}
LIBC void srand(unsigned seed) { next = seed; }

/* atexit handlers run newest first (hic_run_exit_hooks, before the console line is flushed). */
#define ATEXIT_MAX 32
static void (*handlers[ATEXIT_MAX])(void);
static int nhandlers;

static void run_handlers(void) {
  while (nhandlers > 0) handlers[--nhandlers]();
}

LIBC int atexit(void (*fn)(void)) {
  if (nhandlers == ATEXIT_MAX) return -1;
  hic_atexit_hook = run_handlers;
  handlers[nhandlers++] = fn;
  return 0;
}

LIBC __attribute__((noreturn)) void exit(int status) {
  hic_run_exit_hooks();
  hic_exit(status);
}
