/* A small printf for guests: enough to log numbers, addresses and strings without libc.
 * Output goes through a bounded sink that counts what it could not store, so the result
 * matches snprintf's (the length the whole output would have had). */
#include "hic/runtime.h"

struct sink {
  char *buf;
  size_t size;
  size_t len; /* bytes produced so far, stored or not */
};

static void put(struct sink *s, char c) {
  /* Keep the last byte for the terminator. */
  if (s->len + 1 < s->size) s->buf[s->len] = c;
  s->len++;
}

static void pad(struct sink *s, char c, int n) {
  while (n-- > 0) put(s, c);
}

struct spec {
  int left;  /* '-' flag */
  int zero;  /* '0' flag */
  int width;
  int prec;  /* only for %s; -1 when absent */
};

/* Prints prefix (sign or "0x") and digits within the field width. */
static void emit_number(struct sink *s, const struct spec *sp, const char *prefix, const char *digits,
                        int ndigits) {
  int plen = (int)strlen(prefix);
  int fill = sp->width - plen - ndigits;
  if (!sp->left && !sp->zero) pad(s, ' ', fill);
  while (*prefix) put(s, *prefix++);
  if (!sp->left && sp->zero) pad(s, '0', fill);
  for (int i = ndigits - 1; i >= 0; i--) put(s, digits[i]); /* digits are stored reversed */
  if (sp->left) pad(s, ' ', fill);
}

static void emit_unsigned(struct sink *s, const struct spec *sp, const char *prefix, uint64_t v,
                          unsigned base, int upper) {
  const char *alphabet = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  char digits[24]; /* 2^64 needs 20 decimal or 16 hex digits */
  int n = 0;
  do {
    digits[n++] = alphabet[v % base];
    v /= base;
  } while (v);
  emit_number(s, sp, prefix, digits, n);
}

static void emit_string(struct sink *s, const struct spec *sp, const char *str) {
  if (!str) str = "(null)";
  int n = (int)strnlen(str, sp->prec >= 0 ? (size_t)sp->prec : (size_t)-1);
  if (!sp->left) pad(s, ' ', sp->width - n);
  for (int i = 0; i < n; i++) put(s, str[i]);
  if (sp->left) pad(s, ' ', sp->width - n);
}

int hic_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap) {
  struct sink s = {buf, size, 0};
  while (*fmt) {
    if (*fmt != '%') {
      put(&s, *fmt++);
      continue;
    }
    fmt++;
    struct spec sp = {0, 0, 0, -1};
    for (;; fmt++) {
      if (*fmt == '-') sp.left = 1;
      else if (*fmt == '0') sp.zero = 1;
      else break;
    }
    if (*fmt == '*') {
      sp.width = va_arg(ap, int);
      if (sp.width < 0) sp.left = 1, sp.width = -sp.width;
      fmt++;
    } else {
      while (*fmt >= '0' && *fmt <= '9') sp.width = sp.width * 10 + (*fmt++ - '0');
    }
    if (*fmt == '.') {
      fmt++;
      sp.prec = 0;
      if (*fmt == '*') {
        sp.prec = va_arg(ap, int);
        fmt++;
      } else {
        while (*fmt >= '0' && *fmt <= '9') sp.prec = sp.prec * 10 + (*fmt++ - '0');
      }
    }
    int longs = 0; /* l and ll are both 64-bit on x86-64; z too */
    while (*fmt == 'l' || *fmt == 'z') longs++, fmt++;

    switch (*fmt) {
    case 'd':
    case 'i': {
      int64_t v = longs ? va_arg(ap, int64_t) : va_arg(ap, int);
      /* Negate in unsigned arithmetic so INT64_MIN does not overflow. */
      uint64_t mag = v < 0 ? -(uint64_t)v : (uint64_t)v;
      emit_unsigned(&s, &sp, v < 0 ? "-" : "", mag, 10, 0);
      break;
    }
    case 'u':
    case 'x':
    case 'X': {
      uint64_t v = longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
      emit_unsigned(&s, &sp, "", v, *fmt == 'u' ? 10 : 16, *fmt == 'X');
      break;
    }
    case 'p':
      emit_unsigned(&s, &sp, "0x", (uint64_t)(uintptr_t)va_arg(ap, void *), 16, 0);
      break;
    case 'c':
      pad(&s, ' ', sp.left ? 0 : sp.width - 1);
      put(&s, (char)va_arg(ap, int));
      pad(&s, ' ', sp.left ? sp.width - 1 : 0);
      break;
    case 's':
      emit_string(&s, &sp, va_arg(ap, const char *));
      break;
    case '%':
      put(&s, '%');
      break;
    case '\0':
      /* A lone '%' at the end: print it rather than read past the string. */
      put(&s, '%');
      continue;
    default:
      /* Unknown conversion: show it verbatim so the mistake is visible in the log. */
      put(&s, '%');
      put(&s, *fmt);
      break;
    }
    fmt++;
  }
  if (size > 0) buf[s.len < size ? s.len : size - 1] = '\0';
  return (int)s.len;
}

int hic_snprintf(char *buf, size_t size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = hic_vsnprintf(buf, size, fmt, ap);
  va_end(ap);
  return n;
}

int64_t hic_vlog(const char *fmt, va_list ap) {
  char line[HIC_LOG_MAX];
  int n = hic_vsnprintf(line, sizeof line, fmt, ap);
  size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
  return hic_debug_log(line, len);
}

int64_t hic_log(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int64_t r = hic_vlog(fmt, ap);
  va_end(ap);
  return r;
}
