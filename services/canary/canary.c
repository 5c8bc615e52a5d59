/* canary: memory that nothing but its owner may touch. It fills a region and its own data with a
 * pattern, sleeps through the run beside whatever the image puts next to it (the syscall fuzzer,
 * the hostile guests), and checks every byte at each wake-up: exit 0 when all stayed intact, 1 and
 * the first changed address otherwise. Its configuration: how many 1 ms sleeps and checks. */
#include "hic/module.h"
#include "hic/runtime.h"

#define REGION (64 * 1024)

static uint8_t data[8192];

static uint8_t pattern(uint64_t i) {
  return (uint8_t)((i * 131) ^ (i >> 8) ^ 0x5a);
}

static int64_t first_changed(const uint8_t *p, uint64_t len) {
  for (uint64_t i = 0; i < len; i++) {
    if (p[i] != pattern(i)) return (int64_t)i;
  }
  return -1;
}

int hic_main(void) {
  uint64_t checks = hic_config()->checks;
  int64_t at = hic_mem_alloc(REGION);
  if (at < 0) {
    hic_log("canary: mem_alloc failed: %ld", at);
    return 2;
  }
  uint8_t *region = (uint8_t *)(uintptr_t)at;
  for (uint64_t i = 0; i < REGION; i++) region[i] = pattern(i);
  for (uint64_t i = 0; i < sizeof data; i++) data[i] = pattern(i);
  for (uint64_t n = 0; n < checks; n++) {
    hic_sleep(1000000);
    int64_t r = first_changed(region, REGION), d = first_changed(data, sizeof data);
    if (r >= 0 || d >= 0) {
      hic_log("canary: CHANGED at %p", r >= 0 ? (void *)(region + r) : (void *)(data + d));
      return 1;
    }
  }
  hic_log("canary: %lu checks, every byte intact", checks);
  canary_emit_intact(&(struct canary_record_intact){.checks = checks});
  return 0;
}
