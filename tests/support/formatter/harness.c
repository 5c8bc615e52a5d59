/* Native harness for tests/formatter.test.ts: the guests' formatter (services/runtime/fmt.c,
 * compiled natively beside this file) against the host C library's snprintf, the oracle. Reads
 * cases from the file named by argv[1], one per line:
 *
 *   TYPE \t WIDTH* \t PREC* \t FORMAT \t VALUE
 *
 * TYPE is the argument's C type (i int, u unsigned, l long, L unsigned long, s string, S a null
 * string, p pointer); WIDTH* and PREC* are "-" or the int a '*' in the format takes. Each case
 * is formatted by both into buffers of several sizes, so truncation and the returned length are
 * compared too. Prints one line per disagreement and a summary "cases N, mismatches M". */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hic_snprintf(char *buf, size_t size, const char *fmt, ...);

#define CALL(fn, buf, size, fmt, w, p, hasw, hasp, v) \
  ((hasw) && (hasp) ? fn(buf, size, fmt, w, p, v) : (hasw) ? fn(buf, size, fmt, w, v) : (hasp) ? fn(buf, size, fmt, p, v) : fn(buf, size, fmt, v))

static const size_t SIZES[] = {0, 1, 4, 512};

static int one(const char *type, const char *ws, const char *ps, const char *fmt, const char *value, char *ours, char *theirs, size_t size, int *r_ours, int *r_theirs) {
  int hasw = strcmp(ws, "-") != 0, hasp = strcmp(ps, "-") != 0;
  int w = hasw ? atoi(ws) : 0, p = hasp ? atoi(ps) : 0;
  memset(ours, 'Z', 512);
  memset(theirs, 'Z', 512);
  switch (type[0]) {
  case 'i': {
    int v = (int)strtoll(value, NULL, 10);
    *r_ours = CALL(hic_snprintf, ours, size, fmt, w, p, hasw, hasp, v);
    *r_theirs = CALL(snprintf, theirs, size, fmt, w, p, hasw, hasp, v);
    break;
  }
  case 'u': {
    unsigned v = (unsigned)strtoull(value, NULL, 10);
    *r_ours = CALL(hic_snprintf, ours, size, fmt, w, p, hasw, hasp, v);
    *r_theirs = CALL(snprintf, theirs, size, fmt, w, p, hasw, hasp, v);
    break;
  }
  case 'l': {
    long v = strtol(value, NULL, 10);
    *r_ours = CALL(hic_snprintf, ours, size, fmt, w, p, hasw, hasp, v);
    *r_theirs = CALL(snprintf, theirs, size, fmt, w, p, hasw, hasp, v);
    break;
  }
  case 'L': {
    unsigned long v = strtoul(value, NULL, 10);
    *r_ours = CALL(hic_snprintf, ours, size, fmt, w, p, hasw, hasp, v);
    *r_theirs = CALL(snprintf, theirs, size, fmt, w, p, hasw, hasp, v);
    break;
  }
  case 's':
  case 'S': {
    const char *v = type[0] == 's' ? value : NULL;
    *r_ours = CALL(hic_snprintf, ours, size, fmt, w, p, hasw, hasp, v);
    *r_theirs = CALL(snprintf, theirs, size, fmt, w, p, hasw, hasp, v);
    break;
  }
  case 'p': {
    void *v = (void *)(uintptr_t)strtoull(value, NULL, 10);
    *r_ours = CALL(hic_snprintf, ours, size, fmt, w, p, hasw, hasp, v);
    *r_theirs = CALL(snprintf, theirs, size, fmt, w, p, hasw, hasp, v);
    break;
  }
  default:
    return -1;
  }
  return 0;
}

/* %n stores the count so far at the width of its length modifier. */
static int count_checks(void) {
  int bad = 0;
  signed char hh1 = 0, hh2 = 0;
  short h1 = 0, h2 = 0;
  int n1 = 0, n2 = 0;
  long l1 = 0, l2 = 0;
  char a[64], b[64];
  int r1 = hic_snprintf(a, sizeof a, "%s%n|%300d%hhn|%hn%ln", "abc", &n1, 7, &hh1, &h1, &l1);
  int r2 = snprintf(b, sizeof b, "%s%n|%300d%hhn|%hn%ln", "abc", &n2, 7, &hh2, &h2, &l2);
  if (r1 != r2 || strcmp(a, b) != 0 || n1 != n2 || hh1 != hh2 || h1 != h2 || l1 != l2) {
    printf("MISMATCH %%n: ours %d %d %d %d %ld, libc %d %d %d %d %ld\n", r1, n1, hh1, h1, l1, r2, n2, hh2, h2, l2);
    bad++;
  }
  return bad;
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  FILE *in = fopen(argv[1], "r");
  if (!in) return 2;
  static char line[4096];
  long cases = 0, bad = 0;
  while (fgets(line, sizeof line, in)) {
    line[strcspn(line, "\n")] = '\0';
    char *field[5];
    char *rest = line;
    for (int i = 0; i < 4; i++) {
      field[i] = rest;
      rest = strchr(rest, '\t');
      if (!rest) return 3;
      *rest++ = '\0';
    }
    field[4] = rest;
    for (size_t k = 0; k < sizeof SIZES / sizeof SIZES[0]; k++) {
      char ours[512], theirs[512];
      int r_ours, r_theirs;
      if (one(field[0], field[1], field[2], field[3], field[4], ours, theirs, SIZES[k], &r_ours, &r_theirs) != 0) return 3;
      cases++;
      if (r_ours != r_theirs || memcmp(ours, theirs, 512) != 0) {
        if (bad < 50) printf("MISMATCH type %s w %s p %s size %zu format \"%s\" value %s: ours %d \"%.*s\", libc %d \"%.*s\"\n", field[0], field[1], field[2], SIZES[k], field[3], field[4], r_ours, SIZES[k] ? (int)strnlen(ours, 512) : 0, ours, r_theirs, SIZES[k] ? (int)strnlen(theirs, 512) : 0, theirs);
        bad++;
      }
    }
  }
  bad += count_checks();
  printf("cases %ld, mismatches %ld\n", cases, bad);
  return bad == 0 ? 0 : 1;
}
