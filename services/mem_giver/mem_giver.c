/* mem_giver: the giving half of the memory grant image. It fills a 64 KiB memory object with a
 * pattern, moves the capability to cap://taker/in (cap_move = 1), and then touches its old
 * mapping -- which left with the capability, so the read must fault (readUnmapped) and this
 * sandbox never exits normally. Exiting 1 means the kernel let it keep the pages.
 *
 * With `cheat` (its configuration) it cheats: it maps the object through the original capability and moves only a
 * derived copy, keeping the original. The kernel must refuse the move (NOT_SOLE: only a memory
 * object's sole capability moves), and the giver exits 2: after a move the receiver must be the
 * only holder of those frames. */
#include "hic/grant_pattern.h"
#include "hic/module.h"
#include "hic/runtime.h"

#define REGISTRY 0

static struct hic_msg msg;

int hic_main(void) {
  static const char name[] = "cap://taker/in";
  int64_t mem = hic_memory_create(GRANT_LEN);
  int64_t at = mem < 0 ? mem : hic_memory_map((uint64_t)mem);
  int64_t moved = hic_config()->cheat && at >= 0 ? hic_cap_copy((uint64_t)mem, HIC_RIGHTS_ALL) : mem;
  if (at < 0 || moved < 0) {
    hic_log("mem_giver: no memory object: %ld", at < 0 ? at : moved);
    return 1;
  }
  volatile uint8_t *p = (volatile uint8_t *)(uintptr_t)at;
  for (uint64_t i = 0; i < GRANT_LEN; i++) p[i] = grant_pattern(i);
  hic_log("mem_giver: wrote %d bytes at 0x%lx", GRANT_LEN, (uint64_t)at);

  int64_t taker;
  while ((taker = hic_registry_lookup(REGISTRY, name, sizeof name - 1)) == -HIC_ERR_NOT_FOUND) hic_sleep(100000);
  if (taker < 0) {
    hic_log("mem_giver: lookup %s failed: %ld", name, taker);
    return 1;
  }
  msg.label = 1;
  msg.cap = moved;
  msg.cap_move = 1;
  int64_t r = hic_send((uint64_t)taker, &msg, 0);
  if (r < 0 && moved != mem) {
    hic_log("mem_giver: move of a derived copy refused: %ld", r);
    return 2;
  }
  if (r < 0) {
    hic_log("mem_giver: send failed: %ld", r);
    return 1;
  }
  hic_log("mem_giver: sent");
  uint8_t b = p[0]; /* must fault: the mapping went with the capability */
  hic_log("mem_giver: still read 0x%x at 0x%lx after the move (isolation broken)", b, (uint64_t)at);
  return 1;
}
