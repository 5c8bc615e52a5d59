/* The guests' printf engine: C99's conversions for integers, characters, strings and pointers,
 * with every flag (- + space # 0), field width and precision (numbers or '*') and every length
 * modifier (hh h l ll j z t). Output goes through a bounded sink that counts what it could not
 * store, so the result is snprintf's: the length the whole output would have had.
 *
 * Floating-point conversions (%f %e %g %a) are not supported: guests are built without SSE by
 * default, where a double argument cannot even be fetched. They are printed verbatim, consuming
 * no argument, so the mistake shows in the log. tests/formatter.test.ts compiles this file
 * natively and compares it with the host's snprintf over a large generated table. */
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
  int left;  /* '-' */
  int plus;  /* '+' */
  int space; /* ' ' */
  int alt;   /* '#' */
  int zero;  /* '0' */
  int width;
  int prec; /* -1 when absent */
};

/* One integer conversion: sign or prefix, zeros up to the precision, the digits, all inside the
 * field width. C99 7.19.6.1: a precision makes the '0' flag ignored, and a zero value printed
 * with precision 0 has no digits at all (but "%#.0o" still prints "0"). */
static void emit_integer(struct sink *s, const struct spec *sp, const char *prefix, uint64_t v, unsigned base, int upper) {
  const char *alphabet = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  char digits[24]; /* 2^64 needs 22 octal, 20 decimal or 16 hex digits; stored reversed */
  int n = 0;
  if (v != 0 || sp->prec != 0) {
    do {
      digits[n++] = alphabet[v % base];
      v /= base;
    } while (v);
  }
  int zeros = sp->prec > n ? sp->prec - n : 0;
  if (base == 8 && sp->alt && zeros == 0 && (n == 0 || digits[n - 1] != '0')) zeros = 1;
  int plen = (int)strlen(prefix);
  int fill = sp->width - plen - zeros - n;
  int zero_fill = sp->zero && !sp->left && sp->prec < 0;
  if (!sp->left && !zero_fill) pad(s, ' ', fill);
  while (*prefix) put(s, *prefix++);
  if (zero_fill) pad(s, '0', fill);
  pad(s, '0', zeros);
  for (int i = n - 1; i >= 0; i--) put(s, digits[i]);
  if (sp->left) pad(s, ' ', fill);
}

static void emit_chars(struct sink *s, const struct spec *sp, const char *str, int n) {
  if (!sp->left) pad(s, ' ', sp->width - n);
  for (int i = 0; i < n; i++) put(s, str[i]);
  if (sp->left) pad(s, ' ', sp->width - n);
}

enum length { L_INT, L_CHAR, L_SHORT, L_LONG, L_LLONG, L_INTMAX, L_SIZE, L_PTRDIFF };

static const char *parse_length(const char *fmt, enum length *len) {
  *len = L_INT;
  switch (*fmt) {
  case 'h':
    if (fmt[1] == 'h') return *len = L_CHAR, fmt + 2;
    return *len = L_SHORT, fmt + 1;
  case 'l':
    if (fmt[1] == 'l') return *len = L_LLONG, fmt + 2;
    return *len = L_LONG, fmt + 1;
  case 'j': return *len = L_INTMAX, fmt + 1;
  case 'z': return *len = L_SIZE, fmt + 1;
  case 't': return *len = L_PTRDIFF, fmt + 1;
  default: return fmt;
  }
}

/* Every length but hh and h is 64 bits on x86-64; those two take an int and narrow it. */
static int64_t signed_arg(va_list *ap, enum length len) {
  switch (len) {
  case L_INT: return va_arg(*ap, int);
  case L_CHAR: return (signed char)va_arg(*ap, int);
  case L_SHORT: return (short)va_arg(*ap, int);
  default: return va_arg(*ap, int64_t);
  }
}

static uint64_t unsigned_arg(va_list *ap, enum length len) {
  switch (len) {
  case L_INT: return va_arg(*ap, unsigned);
  case L_CHAR: return (unsigned char)va_arg(*ap, unsigned);
  case L_SHORT: return (unsigned short)va_arg(*ap, unsigned);
  default: return va_arg(*ap, uint64_t);
  }
}

static void store_count(va_list *ap, enum length len, size_t count) {
  void *p = va_arg(*ap, void *);
  switch (len) {
  case L_CHAR: *(signed char *)p = (signed char)count; break;
  case L_SHORT: *(short *)p = (short)count; break;
  case L_INT: *(int *)p = (int)count; break;
  default: *(int64_t *)p = (int64_t)count; break;
  }
}

int hic_vsnprintf(char *buf, size_t size, const char *fmt, va_list args) {
  struct sink s = {buf, size, 0};
  va_list ap;
  va_copy(ap, args); /* so helpers can take it by pointer on every ABI */
  while (*fmt) {
    if (*fmt != '%') {
      put(&s, *fmt++);
      continue;
    }
    const char *start = fmt++;
    struct spec sp = {0, 0, 0, 0, 0, 0, -1};
    for (;; fmt++) {
      if (*fmt == '-') sp.left = 1;
      else if (*fmt == '+') sp.plus = 1;
      else if (*fmt == ' ') sp.space = 1;
      else if (*fmt == '#') sp.alt = 1;
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
        if (sp.prec < 0) sp.prec = -1; /* a negative precision is taken as if it were omitted */
        fmt++;
      } else {
        while (*fmt >= '0' && *fmt <= '9') sp.prec = sp.prec * 10 + (*fmt++ - '0');
      }
    }
    enum length len;
    fmt = parse_length(fmt, &len);

    switch (*fmt) {
    case 'd':
    case 'i': {
      int64_t v = signed_arg(&ap, len);
      /* Negate in unsigned arithmetic so INT64_MIN does not overflow. */
      uint64_t mag = v < 0 ? -(uint64_t)v : (uint64_t)v;
      emit_integer(&s, &sp, v < 0 ? "-" : sp.plus ? "+" : sp.space ? " " : "", mag, 10, 0);
      break;
    }
    case 'u':
      emit_integer(&s, &sp, "", unsigned_arg(&ap, len), 10, 0);
      break;
    case 'o':
      emit_integer(&s, &sp, "", unsigned_arg(&ap, len), 8, 0);
      break;
    case 'x':
    case 'X': {
      uint64_t v = unsigned_arg(&ap, len);
      emit_integer(&s, &sp, sp.alt && v != 0 ? (*fmt == 'x' ? "0x" : "0X") : "", v, 16, *fmt == 'X');
      break;
    }
    case 'p': {
      /* As glibc prints it: "(nil)" for a null pointer, else 0x and the hex digits. */
      uint64_t v = (uint64_t)(uintptr_t)va_arg(ap, void *);
      if (v == 0) {
        emit_chars(&s, &sp, "(nil)", 5);
      } else {
        sp.alt = 0;
        emit_integer(&s, &sp, "0x", v, 16, 0);
      }
      break;
    }
    case 'c': {
      char c = (char)va_arg(ap, int);
      emit_chars(&s, &sp, &c, 1);
      break;
    }
    case 's': {
      const char *str = va_arg(ap, const char *);
      /* glibc prints "(null)" for a null string, or nothing when the precision cuts it short. */
      if (!str) str = sp.prec >= 0 && sp.prec < 6 ? "" : "(null)";
      emit_chars(&s, &sp, str, (int)strnlen(str, sp.prec >= 0 ? (size_t)sp.prec : (size_t)-1));
      break;
    }
    case 'n':
      store_count(&ap, len, s.len);
      break;
    case '%':
      put(&s, '%');
      break;
    case '\0':
      /* A lone '%' at the end: print it rather than read past the string. */
      put(&s, '%');
      continue;
    default:
      /* Unknown or unsupported (floating point): show the whole conversion verbatim. */
      while (start <= fmt) put(&s, *start++);
      break;
    }
    fmt++;
  }
  va_end(ap);
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
