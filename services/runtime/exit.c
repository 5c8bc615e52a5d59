/* What runs between the end of hic_main (or exit()) and the end of the sandbox: the C library's
 * hooks. Pointers, not calls into the C library: a service that never prints or registers an
 * atexit handler links none of it. The console line goes last, so what atexit handlers print is
 * not lost. (Not in start.c: _start must stay the only function there, to be the image's first.) */
#include "hic/runtime.h"

void (*hic_atexit_hook)(void);
void (*hic_flush_hook)(void);

void hic_run_exit_hooks(void) {
  if (hic_atexit_hook) hic_atexit_hook();
  if (hic_flush_hook) hic_flush_hook();
}
