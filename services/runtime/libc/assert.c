/* assert()'s failure path and abort(): the message glibc would print, on the console, then the
 * sandbox ends with status 134 (128 + SIGABRT, what a shell reports for an aborted process). */
#include <stdio.h>
#include <stdlib.h>

#include "libc.h"

/* No atexit handlers, as C says; the console line is flushed so the reason is not lost. */
LIBC __attribute__((noreturn)) void abort(void) {
  if (hic_flush_hook) hic_flush_hook();
  hic_exit(134);
}

LIBC __attribute__((noreturn)) void __hic_assert_fail(const char *expr, const char *file, int line, const char *func) {
  fprintf(stderr, "%s:%d: %s: Assertion `%s' failed.\n", file, line, func, expr);
  abort();
}
