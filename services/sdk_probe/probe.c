/* sdk_probe: the guest C library (services/runtime/libc/, <stdio.h> <string.h> <stdlib.h>
 * <ctype.h> <errno.h> <assert.h>) exercised by an ordinary C program that prints what it gets.
 * It uses only standard headers, so tests/sdk-probe.test.ts also builds it natively against the
 * host's C library and compares the two outputs line by line: the host is the oracle. What only a
 * sandbox has -- a heap that ends at the quota -- is checked after that, guest-only (heap.c), and
 * reported as a typed record. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void probe_heap_limit(void);
void probe_guest_mode(void);

static void formats(void) {
  /* A sample of the formatter table (tests/formatter.test.ts), here through the real printf. */
  printf("[%.2x] [%04X] [%#o] [%#x] [%+d] [% d] [%-6d|] [%6.3d] [%.0d] [%08d]\n", 3u, 0xabu, 8u, 255u, 5, 7, -3, 42, 0, -42);
  printf("[%hhd] [%hhu] [%hd] [%hu] [%ld] [%lu] [%lld] [%llx]\n", 300, 300u, 70000, 70000u, LONG_MIN, ULONG_MAX, LLONG_MIN, 0x0123456789abcdefULL);
  printf("[%jd] [%zu] [%td] [%" PRIu64 "] [%" PRIx32 "] [%" PRId8 "]\n", (intmax_t)-9, (size_t)12345, (ptrdiff_t)-1, UINT64_MAX, 0xdeadbeefu, (int8_t)-5);
  printf("[%*d] [%-*d] [%.*d] [%*.*x]\n", 5, 1, 5, 2, 4, 3, 8, 6, 0xbeefu);
  printf("[%s] [%.3s] [%10s] [%-10s|] [%c] [%3c] [%%]\n", "hic", "sandbox", "right", "left", 'A', 'z');
  printf("[%p] [%p]\n", (void *)0, (void *)0x1000);
  char small[8];
  int n = snprintf(small, sizeof small, "%s-%d", "truncated", 123456);
  printf("snprintf -> %d \"%s\"\n", n, small);
  char big[64];
  n = sprintf(big, "%05d|%-5s|%x", 42, "ab", 48879u);
  printf("sprintf -> %d \"%s\"\n", n, big);
}

static void strings(void) {
  char buf[64];
  strcpy(buf, "capability");
  strcat(buf, " space");
  printf("strcpy/strcat: %s (%zu)\n", buf, strlen(buf));
  char pad[8];
  strncpy(pad, "ab", sizeof pad);
  printf("strncpy pads: %d %d %d\n", pad[2], pad[7], (int)strnlen(pad, sizeof pad));
  strncat(buf, "!!!!", 2);
  printf("strncat: %s\n", buf);
  printf("strchr: %s | strrchr: %s | strstr: %s\n", strchr(buf, 'a'), strrchr(buf, 'a'), strstr(buf, "space"));
  printf("strchr nul: %d | strstr empty: %d | missing: %d\n", strchr(buf, '\0') == buf + strlen(buf), strstr(buf, "") == buf, strstr(buf, "kernel") == NULL);
  printf("strspn %zu strcspn %zu strpbrk %s\n", strspn("aabbc", "ab"), strcspn("hello, world", ",! "), strpbrk("endpoint", "xyzp"));
  printf("strcmp %d %d %d strncmp %d %d\n", strcmp("a", "b") < 0, strcmp("b", "a") > 0, strcmp("x", "x"), strncmp("abcd", "abce", 3), strncmp("abcd", "abce", 4) < 0);
  printf("memcmp %d memchr %s\n", memcmp("\x01\xff", "\x01\x01", 2) > 0, (char *)memchr("frame", 'm', 5));
  char list[] = " sandbox, thread,,endpoint ;notification";
  printf("strtok:");
  for (char *t = strtok(list, " ,;"); t; t = strtok(NULL, " ,;")) printf(" <%s>", t);
  printf("\n");
  char *copy = strdup("duplicated");
  char *part = strndup("duplicated", 3);
  printf("strdup %s strndup %s\n", copy, part);
  free(copy);
  free(part);
  char moved[] = "0123456789";
  memmove(moved + 2, moved, 5);
  printf("memmove %s\n", moved);
  printf("strerror: %s / %s / %s\n", strerror(ENOMEM), strerror(EINVAL), strerror(ERANGE));
}

static void classes(void) {
  int (*const tests[])(int) = {isalnum, isalpha, isblank, iscntrl, isdigit, isgraph, islower, isprint, ispunct, isspace, isupper, isxdigit};
  const char *names[] = {"alnum", "alpha", "blank", "cntrl", "digit", "graph", "lower", "print", "punct", "space", "upper", "xdigit"};
  for (unsigned i = 0; i < sizeof tests / sizeof tests[0]; i++) {
    /* A digest of the class over 0..255 and EOF: the count and a rolling sum of members. */
    unsigned count = 0, sum = 0;
    for (int c = -1; c < 256; c++)
      if (tests[i](c)) count++, sum = sum * 31 + (unsigned)(c + 1);
    printf("is%s: %u %08x\n", names[i], count, sum);
  }
  unsigned up = 0, low = 0;
  for (int c = -1; c < 256; c++) up = up * 33 + (unsigned)toupper(c), low = low * 33 + (unsigned)tolower(c);
  printf("toupper %08x tolower %08x\n", up, low);
}

static void conversions(void) {
  const char *inputs[] = {"42", "  -17xyz", "0x1F", "0X", "077", "+9", "", "-", "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809", "18446744073709551615", "18446744073709551616", "-1", "zz", "  0x"};
  const int bases[] = {10, 0, 16, 8, 36};
  for (unsigned i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
    for (unsigned b = 0; b < sizeof bases / sizeof bases[0]; b++) {
      char *end;
      errno = 0;
      long long v = strtoll(inputs[i], &end, bases[b]);
      int e1 = errno;
      errno = 0;
      unsigned long long u = strtoull(inputs[i], &end, bases[b]);
      int e2 = errno;
      printf("strto(\"%s\", %d): %lld e%d | %llu e%d end+%td\n", inputs[i], bases[b], v, e1, u, e2, end - inputs[i]);
    }
  }
  printf("atoi %d atol %ld abs %d labs %ld div %d/%d ldiv %ld/%ld\n", atoi(" 123abc"), atol("-99"), abs(-5), labs(-6L), div(-7, 2).quot, div(-7, 2).rem, ldiv(7L, -2L).quot, ldiv(7L, -2L).rem);
}

static int by_value(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

static void sorting(void) {
  int v[200];
  unsigned s = 12345;
  for (int i = 0; i < 200; i++) s = s * 1103515245 + 12345, v[i] = (int)(s >> 16) % 1000 - 500;
  qsort(v, 200, sizeof v[0], by_value);
  unsigned digest = 0;
  int sorted = 1;
  for (int i = 0; i < 200; i++) digest = digest * 31 + (unsigned)v[i], sorted &= i == 0 || v[i - 1] <= v[i];
  printf("qsort: sorted %d first %d last %d digest %08x\n", sorted, v[0], v[199], digest);
  int key = v[123];
  int *hit = bsearch(&key, v, 200, sizeof v[0], by_value);
  int absent = 1000;
  printf("bsearch: found %d value %d, absent %d\n", hit != NULL, hit ? *hit : 0, bsearch(&absent, v, 200, sizeof v[0], by_value) == NULL);
}

static void heap(void) {
  /* Blocks of many sizes, filled, some freed and reallocated, all checked: only contents and
   * alignment are printed, never addresses (they differ natively). */
  enum { N = 300 };
  static unsigned char *blocks[N];
  static size_t sizes[N];
  unsigned aligned = 1, intact = 1;
  for (int i = 0; i < N; i++) {
    sizes[i] = (size_t)((i * 7919) % 600) + 1;
    blocks[i] = malloc(sizes[i]);
    if (!blocks[i]) return (void)printf("malloc failed at %d\n", i);
    aligned &= ((uintptr_t)blocks[i] % 16) == 0;
    memset(blocks[i], i & 0xff, sizes[i]);
  }
  for (int i = 0; i < N; i += 3) free(blocks[i]), blocks[i] = NULL;
  for (int i = 1; i < N; i += 3) {
    size_t grown = sizes[i] * 2 + 5;
    unsigned char *p = realloc(blocks[i], grown);
    if (!p) return (void)printf("realloc failed at %d\n", i);
    for (size_t k = 0; k < sizes[i]; k++) intact &= p[k] == (i & 0xff);
    memset(p + sizes[i], 0xa5, grown - sizes[i]);
    blocks[i] = p, sizes[i] = grown;
  }
  unsigned zeroed = 1;
  for (int i = 0; i < N; i += 3) {
    blocks[i] = calloc(sizes[i], 1);
    if (!blocks[i]) return (void)printf("calloc failed at %d\n", i);
    for (size_t k = 0; k < sizes[i]; k++) zeroed &= blocks[i][k] == 0;
  }
  unsigned long long total = 0;
  for (int i = 0; i < N; i++) {
    for (size_t k = 0; k < sizes[i]; k++) total += blocks[i][k];
    free(blocks[i]);
  }
  printf("heap: aligned %u intact %u zeroed %u sum %llu\n", aligned, intact, zeroed, total);
  errno = 0;
  void *huge = calloc(SIZE_MAX / 2, 4);
  printf("calloc overflow: %d errno %d\n", huge == NULL, errno);
}

static void wide(void) {
  /* __int128 division is libgcc's (__udivti3, __divti3, __umodti3). */
  unsigned __int128 a = ((unsigned __int128)0x0123456789abcdefULL << 64) | 0xfedcba9876543210ULL;
  unsigned __int128 q = a / 1000000007u, r = a % 1000000007u;
  __int128 sq = -(__int128)a / 12345;
  printf("int128: q %016llx%016llx r %llu sq %016llx%016llx\n", (unsigned long long)(q >> 64), (unsigned long long)q, (unsigned long long)r, (unsigned long long)((unsigned __int128)sq >> 64), (unsigned long long)sq);
}

int hic_main(void) {
  probe_guest_mode();
  formats();
  strings();
  classes();
  conversions();
  sorting();
  heap();
  wide();
  printf("partial ");
  printf("line ");
  puts("joined");
  putchar('x');
  fputs("y\n", stdout);
  printf("\n");
  printf("done");
  probe_heap_limit();
  return 0;
}
