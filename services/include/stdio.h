/* <stdio.h> for HIC guests: formatted output to the console, which is the one stream there is.
 * stdout and stderr both write to it, a line at a time (a console line is one event, so output is
 * buffered up to its newline, at most HIC_LOG_MAX bytes, and flushed when hic_main returns or
 * exit() is called). No files, no input: fopen and scanf do not exist (docs/guest-sdk.md).
 * The conversions are fmt.c's: C99 for integers, characters, strings and pointers, no floating
 * point. */
#ifndef HIC_STDIO_H
#define HIC_STDIO_H

#include <stdarg.h>
#include <stddef.h>

#define EOF (-1)
#define BUFSIZ 1024

typedef struct hic_stream FILE;
extern FILE *const stdout;
extern FILE *const stderr;

int printf(const char *restrict fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *restrict fmt, va_list ap);
int fprintf(FILE *restrict stream, const char *restrict fmt, ...) __attribute__((format(printf, 2, 3)));
int vfprintf(FILE *restrict stream, const char *restrict fmt, va_list ap);
int sprintf(char *restrict buf, const char *restrict fmt, ...) __attribute__((format(printf, 2, 3)));
int vsprintf(char *restrict buf, const char *restrict fmt, va_list ap);
int snprintf(char *restrict buf, size_t size, const char *restrict fmt, ...) __attribute__((format(printf, 3, 4)));
int vsnprintf(char *restrict buf, size_t size, const char *restrict fmt, va_list ap);

int puts(const char *s);
int putchar(int c);
int fputs(const char *restrict s, FILE *restrict stream);
int fputc(int c, FILE *stream);
int putc(int c, FILE *stream);
size_t fwrite(const void *restrict data, size_t size, size_t count, FILE *restrict stream);
int fflush(FILE *stream);

#endif /* HIC_STDIO_H */
