/* <stdio.h>: formatted output to the console. A console line is one event in the kernel's log, so
 * output is gathered up to its newline (or HIC_LOG_MAX bytes) and written as one debug_log call;
 * what is left when hic_main returns or exit() is called goes out then (hic_flush_hook). stdout
 * and stderr are the same console, and share the one pending line so their order is kept. */
#include <stdio.h>
#include <string.h>

#include "libc.h"

struct hic_stream {
  int unused;
};
static struct hic_stream console;
FILE *const stdout = &console;
FILE *const stderr = &console;

static char line[HIC_LOG_MAX];
static size_t pending;

static void flush_line(void) {
  if (pending > 0) hic_debug_log(line, pending);
  pending = 0;
}

/* The newline ends the line and is not part of it: each console event is one line of text. */
static void emit(const char *s, size_t n) {
  hic_flush_hook = flush_line;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '\n') {
      /* An empty line is a line too. */
      if (pending == 0) hic_debug_log("", 0);
      flush_line();
      continue;
    }
    if (pending == sizeof line) flush_line();
    line[pending++] = s[i];
  }
}

LIBC int fflush(FILE *stream) {
  (void)stream;
  flush_line();
  return 0;
}

LIBC int vsnprintf(char *restrict buf, size_t size, const char *restrict fmt, va_list ap) { return hic_vsnprintf(buf, size, fmt, ap); }

LIBC int snprintf(char *restrict buf, size_t size, const char *restrict fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = hic_vsnprintf(buf, size, fmt, ap);
  va_end(ap);
  return n;
}

/* C gives sprintf no size; the buffer is the caller's promise, as it is in C. */
LIBC int vsprintf(char *restrict buf, const char *restrict fmt, va_list ap) { return hic_vsnprintf(buf, (size_t)-1 / 2, fmt, ap); }

LIBC int sprintf(char *restrict buf, const char *restrict fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsprintf(buf, fmt, ap);
  va_end(ap);
  return n;
}

/* Formats into a stack buffer: what one call prints is cut at HIC_LOG_MAX - 1 bytes, as
 * hic_log's is (the return value is still the whole length, as C's). */
LIBC int vfprintf(FILE *restrict stream, const char *restrict fmt, va_list ap) {
  (void)stream;
  char buf[HIC_LOG_MAX];
  va_list again;
  va_copy(again, ap);
  int n = hic_vsnprintf(buf, sizeof buf, fmt, again);
  va_end(again);
  if (n < 0) return n;
  emit(buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
  return n;
}

LIBC int fprintf(FILE *restrict stream, const char *restrict fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vfprintf(stream, fmt, ap);
  va_end(ap);
  return n;
}

LIBC int vprintf(const char *restrict fmt, va_list ap) { return vfprintf(stdout, fmt, ap); }

LIBC int printf(const char *restrict fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vfprintf(stdout, fmt, ap);
  va_end(ap);
  return n;
}

LIBC int fputs(const char *restrict s, FILE *restrict stream) {
  (void)stream;
  emit(s, strlen(s));
  return 0;
}

LIBC int puts(const char *s) {
  emit(s, strlen(s));
  emit("\n", 1);
  return 0;
}

LIBC int fputc(int c, FILE *stream) {
  (void)stream;
  char ch = (char)c;
  emit(&ch, 1);
  return (unsigned char)c;
}

LIBC int putc(int c, FILE *stream) { return fputc(c, stream); }
LIBC int putchar(int c) { return fputc(c, stdout); }

LIBC size_t fwrite(const void *restrict data, size_t size, size_t count, FILE *restrict stream) {
  (void)stream;
  emit(data, size * count);
  return count;
}
