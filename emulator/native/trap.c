/* The native half of the syscall trap: one crossing from a guest's `syscall` into TypeScript.
 *
 * Done from JavaScript, a syscall took three crossings of the koffi boundary: Unicorn calling the
 * JS hook, the hook reading the argument registers (uc_reg_read_batch), and the hook writing rax
 * (uc_reg_write). Each costs about as much as the work it carries. Here the hook is C: it reads
 * the seven registers into a slot TypeScript sees as a typed array, calls the TypeScript handler
 * once, and writes the handler's return value to rax itself. A handler that must not touch rax
 * (the thread blocked or exited, a debugger holds the syscall) says so in the slot's flags, and
 * so does one that wants the engine stopped, so stopping costs no crossing either
 * (docs/unicorn.md#syscall-trap). The handler is told which engine trapped by its index in
 * TypeScript's table of engines, a uint32_t: koffi hands that over as a plain number, and the
 * handler finds its engine by indexing an array rather than by looking a key up.
 *
 * Built by scripts/setup.mjs into build/native/libhicnative.so with counter.c; loaded by
 * emulator/unicorn/lib.ts, which checks the slot's layout against hic_trap_fields(). */
#include <stdint.h>
#include <unicorn/unicorn.h>

/* What the handler asks of the hook after it returns (cleared before each call), and the hook's
 * own failure, which TypeScript checks when the run ends. */
enum { HIC_TRAP_KEEP_RAX = 1, HIC_TRAP_STOP = 2, HIC_TRAP_FAILED = 4 };

struct hic_trap {
  uint64_t args[7];   /* rax (the syscall number), rdi, rsi, rdx, r10, r8, r9, as the guest left them */
  uint64_t flags;     /* HIC_TRAP_*, set by the handler */
  uint64_t index;     /* passed to the handler: which engine trapped (below 2^32) */
  int64_t (*handler)(uint32_t index); /* returns the value for rax */
};

/* The layout above in 64-bit words, checked by emulator/unicorn/lib.ts so a stale build is refused. */
int hic_trap_fields(void) { return 10; }

static int ARG_REGS[7] = {UC_X86_REG_RAX, UC_X86_REG_RDI, UC_X86_REG_RSI, UC_X86_REG_RDX,
                          UC_X86_REG_R10, UC_X86_REG_R8, UC_X86_REG_R9};

/* Registered as the UC_HOOK_INSN callback of UC_X86_INS_SYSCALL, with user_data = the slot. */
void hic_syscall_trap(uc_engine *uc, void *user_data) {
  struct hic_trap *t = user_data;
  void *vals[7];
  for (int i = 0; i < 7; i++) vals[i] = &t->args[i];
  if (uc_reg_read_batch(uc, ARG_REGS, vals, 7) != UC_ERR_OK) {
    /* Cannot happen for these registers; if it did, the handler must not see stale arguments,
     * and Engine.start reports it as the binding's failure. */
    t->flags = HIC_TRAP_FAILED;
    uc_emu_stop(uc);
    return;
  }
  t->flags = 0;
  int64_t result = t->handler((uint32_t)t->index);
  if (!(t->flags & HIC_TRAP_KEEP_RAX)) uc_reg_write(uc, UC_X86_REG_RAX, &result);
  if (t->flags & HIC_TRAP_STOP) uc_emu_stop(uc);
}
