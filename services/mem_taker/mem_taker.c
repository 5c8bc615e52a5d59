/* mem_taker: the receiving half of the memory grant image. It registers cap://taker/v1.0.0/in,
 * receives one message carrying a moved memory capability, maps it and checks the pattern
 * mem_giver wrote. The memory object is mapped at its physical address, so the address it gets
 * is the giver's old one: the same frames changed hands, no byte was copied. */
#include "hic/grant_pattern.h"
#include "hic/runtime.h"

#define REGISTRY 0

static struct hic_msg msg;

int hic_main(void) {
  static const char name[] = "cap://taker/v1.0.0/in";
  int64_t ep = hic_endpoint_create();
  int64_t r = ep < 0 ? ep : hic_registry_register(REGISTRY, name, sizeof name - 1, (uint64_t)ep);
  if (r < 0) {
    hic_log("mem_taker: cannot serve %s: %ld", name, r);
    return 1;
  }
  r = hic_recv((uint64_t)ep, &msg, 0, 0);
  if (r < 0 || msg.cap < 0) {
    hic_log("mem_taker: recv failed (%ld) or no capability came (cap %ld)", r, msg.cap);
    return 1;
  }
  int64_t info = hic_cap_info((uint64_t)msg.cap);
  if (info >> 8 != HIC_CAP_MEMORY) {
    hic_log("mem_taker: slot %ld holds type %ld, not memory", msg.cap, info >> 8);
    return 1;
  }
  int64_t at = hic_memory_map((uint64_t)msg.cap);
  if (at < 0) {
    hic_log("mem_taker: memory_map failed: %ld", at);
    return 1;
  }
  const uint8_t *p = (const uint8_t *)(uintptr_t)at;
  for (uint64_t i = 0; i < GRANT_LEN; i++) {
    if (p[i] != grant_pattern(i)) {
      hic_log("mem_taker: pattern mismatch at offset %lu: 0x%x", i, p[i]);
      return 1;
    }
  }
  hic_log("mem_taker: got %d bytes at 0x%lx, pattern ok", GRANT_LEN, (uint64_t)at);
  return 0;
}
