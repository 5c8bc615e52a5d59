/* The guest-only part of sdk_probe: malloc against the sandbox's quota. Natively there is no
 * quota to reach, so this is empty there; in a sandbox it reports a typed record (module.json's
 * "heap") instead of console lines, which keeps the console comparable with the native run. */
#include <errno.h>
#include <stdlib.h>

void probe_heap_limit(void);

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
#else
void probe_heap_limit(void) {}
#endif
