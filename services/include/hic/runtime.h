/* The freestanding runtime every HIC guest service links against (services/runtime/): entry point,
 * string helpers and the formatter. The small C library over it (<string.h>, <stdio.h>,
 * <stdlib.h>, ...: services/runtime/libc/, docs/guest-sdk.md) is linked in as far as it is used. */
#ifndef HIC_RUNTIME_H
#define HIC_RUNTIME_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "hic/abi.h"

/* Every service defines this; its result becomes the exit status. Its configuration, if its
 * module.json declares any, is hic_config() from the generated "hic/module.h". */
int hic_main(void);

/* The entry point (start.c); declared so services can take its address. rdi: the configuration
 * page's address, or 0. */
__attribute__((noreturn)) void _start(const void *config);
extern const void *hic_config_page;
/* What runs when hic_main returns or exit() is called, before the sandbox ends: <stdlib.h>'s
 * atexit handlers, then <stdio.h>'s pending console line. Each part of the C library sets its own
 * pointer when first used; hic_run_exit_hooks calls them in that order. */
extern void (*hic_atexit_hook)(void);
extern void (*hic_flush_hook)(void);
void hic_run_exit_hooks(void);

/* string.c -- gcc may emit calls to the first four even with -fno-builtin. */
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
/* Copies at most size-1 bytes and always terminates (when size > 0); returns strlen(src). */
size_t hic_strlcpy(char *dst, const char *src, size_t size);

/* fmt.c -- C99 printf for integers, characters, strings and pointers: %d %i %u %o %x %X %c %s
 * %p %n %%, flags - + space # 0, width and precision (number or '*'), lengths hh h l ll j z t.
 * No floating point (printed verbatim). Output is always terminated when size > 0; the result
 * is the length the full output would have had, as with snprintf. */
#define HIC_LOG_MAX 1024
int hic_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int hic_snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Formats into a stack buffer (HIC_LOG_MAX bytes, longer output is cut) and writes it to the
 * console with hic_debug_log. Returns the syscall's result. */
int64_t hic_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int64_t hic_vlog(const char *fmt, va_list ap);
#define hic_logf hic_log

#endif /* HIC_RUNTIME_H */
