/* hello: the smallest useful service. It exercises logging, the virtual clock and the memory
 * syscalls once each, so a boot log shows at a glance that a sandbox can do all three. */
#include "hic/ipc_lib.h"
#include "hic/runtime.h"

#define REGION_LEN (64 * 1024)
#define TICKS 3
#define TICK_NS 1000000 /* 1 ms of virtual time */

/* Fills the region with a position-dependent pattern, checks it reads back, and returns a
 * checksum computed by the shared ipc_lib library; a mismatch returns -1 with the offset logged. */
static int64_t exercise(uint8_t *region, uint64_t len) {
  for (uint64_t i = 0; i < len; i++) region[i] = (uint8_t)(i * 31 + 7);
  for (uint64_t i = 0; i < len; i++) {
    if (region[i] != (uint8_t)(i * 31 + 7)) {
      hic_log("hello: pattern mismatch at offset %lu", i);
      return -1;
    }
  }
  return (int64_t)(ipc_checksum(region, len) & 0x7fffffffffffffffUL);
}

int hic_main(void) {
  hic_log("hello: hi from a HIC sandbox");

  for (int i = 1; i <= TICKS; i++) {
    hic_sleep(TICK_NS);
    hic_log("hello: tick %d at %ld ns", i, hic_time_now());
  }

  int64_t addr = hic_mem_alloc(REGION_LEN);
  if (addr < 0) {
    hic_log("hello: mem_alloc(%d) failed: %ld", REGION_LEN, addr);
    return 1;
  }
  int64_t sum = exercise((uint8_t *)(uintptr_t)addr, REGION_LEN);
  if (sum < 0) return 1;
  hic_log("hello: 64 KiB at 0x%lx ok, checksum 0x%016lx", (uint64_t)addr, (uint64_t)sum);

  int64_t r = hic_mem_free((void *)(uintptr_t)addr, REGION_LEN);
  if (r < 0) {
    hic_log("hello: mem_free failed: %ld", r);
    return 1;
  }

  hic_log("hello: goodbye");
  return 0;
}
