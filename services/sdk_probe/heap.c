/* The guest-only part of sdk_probe: malloc against the sandbox's quota, and (mode "overflow") a
 * recursion without end that the stack's guard page stops. Natively there is no quota and no
 * configuration, so this is empty there; in a sandbox it reports a typed record (module.json's
 * "heap") instead of console lines, which keeps the console comparable with the native run. */
#include <errno.h>
#include <stdlib.h>

void probe_heap_limit(void);
void probe_guest_mode(void);

#ifdef HIC_MODULE_NAME
#include "hic/module.h"

enum { BLOCK = 16 * 1024, MAX_BLOCKS = 512 };

void probe_heap_limit(void) {
  static void *blocks[MAX_BLOCKS];
  int n = 0;
  errno = 0;
  while (n < MAX_BLOCKS && (blocks[n] = malloc(BLOCK)) != NULL) n++;
  int refused = n < MAX_BLOCKS && errno == ENOMEM;
  for (int i = 0; i < n; i++) free(blocks[i]);
  /* Everything freed merges back: one block as large as all of them fits again, without growing. */
  void *whole = malloc((size_t)n * BLOCK - 64);
  sdk_probe_emit_heap(&(struct sdk_probe_record_heap){.allocated_bytes = (uint64_t)n * BLOCK, .refused = refused, .reused = whole != NULL});
  free(whole);
}
/* Each frame holds a buffer the compiler must keep, and the call is not a tail call. The depth
 * limit is never reached (a sandbox's stack is far smaller); it keeps gcc from calling this an
 * infinite recursion. */
static int deeper(int n) {
  volatile char frame[512];
  frame[0] = (char)n;
  if (n == 1 << 30) return 0;
  return deeper(n + 1) + frame[0];
}

void probe_guest_mode(void) {
  if (hic_config()->mode == SDK_PROBE_MODE_OVERFLOW) hic_exit(deeper(0));
}
#else
void probe_heap_limit(void) {}
void probe_guest_mode(void) {}
#endif
