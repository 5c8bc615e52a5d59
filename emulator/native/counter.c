/* The instruction counter behind HIC's virtual clock and time slices.
 *
 * Unicorn's own budget (uc_emu_start's count) cannot say how many instructions ran when a run
 * stops early, at a syscall or a fault (docs/unicorn.md#instruction-counting). This hook does the
 * same job — it runs before every instruction, as Unicorn's internal count hook does, so it costs
 * the same — and keeps the count where TypeScript can read it at any moment, inside a syscall trap included.
 * Virtual time is then exact: instructions executed, not slices completed.
 *
 * Built by scripts/setup.mjs into build/native/libhiccounter.so; loaded by emulator/unicorn/lib.ts. */
#include <stdint.h>
#include <unicorn/unicorn.h>

struct hic_counter {
  uint64_t executed; /* instructions started since the counter was created */
  uint64_t limit;    /* stop before the instruction that would make executed exceed this */
};

/* Registered as a UC_HOOK_CODE callback over all addresses, with user_data = the counter. */
void hic_count_instruction(uc_engine *uc, uint64_t address, uint32_t size, void *user_data) {
  struct hic_counter *c = user_data;
  (void)address;
  (void)size;
  if (c->executed >= c->limit) {
    uc_emu_stop(uc);
    return;
  }
  c->executed++;
}
