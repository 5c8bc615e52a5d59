/* rogue_cpu: a hostile guest aimed at the CPU rather than at memory. Its configuration picks a
 * class and a variant (module.json). Classes 1, 2 and 5 must end with the kernel
 * stopping the sandbox with a fault at the instruction the log line names ("at 0x..."); classes 3
 * and 4 must exit 0 after checking what the CPU answered; class 6 is a load, not an attack.
 *
 *   1 undecodable or invalid bytes       -> invalidInstruction (or generalProtection for 16 prefixes)
 *   2 ring-0 instructions and port I/O   -> privilegedInstruction (generalProtection for mov ss)
 *   3 rdtsc / rdtscp                     -> virtual time, never the host's counter
 *   4 cpuid                              -> HIC's fixed answer
 *   5 rdrand / rdseed                    -> invalidInstruction (HIC's CPU has neither)
 *   6 mem_alloc / mem_free of one page, `variant` thousand times, then exit 0; first
 *     `fragments` pages are allocated and made alternately read-only and writable, so the
 *     sandbox holds that many more engine mappings (what makes each mapping change dearer)
 *
 * Each attack is a tiny routine in assembly so its faulting instruction has a known address (its
 * symbol) and nothing the compiler adds sits between the log line and the instruction. */
#include "hic/module.h"
#include "hic/runtime.h"

/* Every routine: rdi = a scratch buffer of 64 bytes. The label rc_<name> is the instruction that
 * must fault; a routine with set-up work starts at rc_<name>_pre. */
__asm__(".text\n"
        /* class 1: bytes Unicorn refuses; most of them capstone cannot decode either. */
        ".globl rc_lock_nop\n rc_lock_nop: .byte 0xf0, 0x90\n ret\n"
        ".globl rc_d6\n rc_d6: .byte 0xd6\n ret\n"
        ".globl rc_push_es\n rc_push_es: .byte 0x06\n ret\n"
        ".globl rc_fe_f0\n rc_fe_f0: .byte 0xfe, 0xf0\n ret\n"
        ".globl rc_into\n rc_into: .byte 0xce\n ret\n"
        ".globl rc_lock_ud2\n rc_lock_ud2: .byte 0xf0, 0x0f, 0x0b\n ret\n"
        ".globl rc_addr_lock_nop\n rc_addr_lock_nop: .byte 0x67, 0xf0, 0x90\n ret\n"
        ".globl rc_prefixes16\n rc_prefixes16: .fill 15, 1, 0x66\n .byte 0x90\n ret\n"
        /* class 2: what only the kernel may do. */
        ".globl rc_cli\n rc_cli: cli\n ret\n"
        ".globl rc_sti\n rc_sti: sti\n ret\n"
        ".globl rc_hlt\n rc_hlt: hlt\n ret\n"
        ".globl rc_wrmsr\n rc_wrmsr: wrmsr\n ret\n"
        ".globl rc_rdmsr\n rc_rdmsr: rdmsr\n ret\n"
        ".globl rc_mov_cr0\n rc_mov_cr0: mov %rax, %cr0\n ret\n"
        ".globl rc_read_cr0\n rc_read_cr0: mov %cr0, %rax\n ret\n"
        ".globl rc_mov_cr3\n rc_mov_cr3: mov %rax, %cr3\n ret\n"
        ".globl rc_mov_cr4\n rc_mov_cr4: mov %rax, %cr4\n ret\n"
        ".globl rc_mov_dr7_pre\n rc_mov_dr7_pre: mov $0x400, %eax\n"
        ".globl rc_mov_dr7\n rc_mov_dr7: mov %rax, %dr7\n ret\n"
        ".globl rc_lidt\n rc_lidt: lidt (%rdi)\n ret\n"
        ".globl rc_lgdt\n rc_lgdt: lgdt (%rdi)\n ret\n"
        ".globl rc_swapgs\n rc_swapgs: swapgs\n ret\n"
        ".globl rc_clts\n rc_clts: clts\n ret\n"
        ".globl rc_wbinvd\n rc_wbinvd: wbinvd\n ret\n"
        ".globl rc_invlpg\n rc_invlpg: invlpg (%rdi)\n ret\n"
        ".globl rc_in\n rc_in: in $0x60, %al\n ret\n"
        ".globl rc_out\n rc_out: out %al, $0x80\n ret\n"
        ".globl rc_in_dx_pre\n rc_in_dx_pre: mov $0xcf8, %edx\n"
        ".globl rc_in_dx\n rc_in_dx: in %dx, %eax\n ret\n"
        ".globl rc_insb_pre\n rc_insb_pre: mov $0x60, %edx\n"
        ".globl rc_insb\n rc_insb: insb\n ret\n"
        ".globl rc_outsb_pre\n rc_outsb_pre: mov %rdi, %rsi\n mov $0x80, %edx\n"
        ".globl rc_outsb\n rc_outsb: outsb\n ret\n"
        ".globl rc_mov_ss_pre\n rc_mov_ss_pre: mov $0x10, %eax\n"
        ".globl rc_mov_ss\n rc_mov_ss: mov %eax, %ss\n ret\n"
        /* class 3: rdtsc twice, time_now, rdtsc, rdtscp; stores [tsc1, tsc2, now, tsc3, tscp, aux]
         * at rdi. Each reading is the virtual time after the instructions before it and itself,
         * so the differences are instruction counts (the comments). */
        ".globl rc_rdtsc\n rc_rdtsc:\n"
        "  push %rbx\n"
        "  mov %rdi, %rbx\n"
        "  rdtsc\n shl $32, %rdx\n or %rdx, %rax\n mov %rax, 0(%rbx)\n"
        "  rdtsc\n shl $32, %rdx\n or %rdx, %rax\n mov %rax, 8(%rbx)\n"   /* tsc2 = tsc1 + 4 */
        "  mov $5, %eax\n syscall\n mov %rax, 16(%rbx)\n"                   /* time_now */
        "  rdtsc\n shl $32, %rdx\n or %rdx, %rax\n mov %rax, 24(%rbx)\n"  /* tsc3 = now + 2 */
        "  mov $-1, %ecx\n rdtscp\n shl $32, %rdx\n or %rdx, %rax\n"      /* tscp = tsc3 + 5 */
        "  mov %rax, 32(%rbx)\n mov %rcx, 40(%rbx)\n"
        "  pop %rbx\n ret\n"
        /* class 4: cpuid(eax = rdi[0], ecx = rdi[1]) -> rdi[0..3] = eax, ebx, ecx, edx. */
        ".globl rc_cpuid\n rc_cpuid:\n"
        "  push %rbx\n mov 0(%rdi), %eax\n mov 4(%rdi), %ecx\n cpuid\n"
        "  mov %eax, 0(%rdi)\n mov %ebx, 4(%rdi)\n mov %ecx, 8(%rdi)\n mov %edx, 12(%rdi)\n"
        "  pop %rbx\n ret\n"
        /* class 5 */
        ".globl rc_rdrand\n rc_rdrand: rdrand %eax\n ret\n"
        ".globl rc_rdseed\n rc_rdseed: rdseed %eax\n ret\n");

typedef void routine(void *scratch);

struct attack {
  const char *name;
  routine *entry;  /* where the routine starts */
  routine *faults; /* the instruction that must fault */
};

#define R(x) extern routine rc_##x;
R(lock_nop) R(d6) R(push_es) R(fe_f0) R(into) R(lock_ud2) R(addr_lock_nop) R(prefixes16)
R(cli) R(sti) R(hlt) R(wrmsr) R(rdmsr) R(mov_cr0) R(read_cr0) R(mov_cr3) R(mov_cr4) R(mov_dr7_pre)
R(mov_dr7) R(lidt) R(lgdt) R(swapgs) R(clts) R(wbinvd) R(invlpg) R(in) R(out) R(in_dx_pre) R(in_dx)
R(insb_pre) R(insb) R(outsb_pre) R(outsb) R(mov_ss_pre) R(mov_ss) R(rdtsc) R(cpuid) R(rdrand) R(rdseed)
#undef R

#define SAME(x) {#x, rc_##x, rc_##x}
#define PRE(x) {#x, rc_##x##_pre, rc_##x}

static const struct attack undecodable[] = {
    SAME(lock_nop), SAME(d6), SAME(push_es), SAME(fe_f0), SAME(into), SAME(lock_ud2), SAME(addr_lock_nop), SAME(prefixes16),
};
static const struct attack privileged[] = {
    SAME(cli), SAME(sti), SAME(hlt), SAME(wrmsr), SAME(rdmsr), SAME(mov_cr0), SAME(read_cr0), SAME(mov_cr3), SAME(mov_cr4),
    PRE(mov_dr7), SAME(lidt), SAME(lgdt), SAME(swapgs), SAME(clts), SAME(wbinvd), SAME(invlpg), SAME(in), SAME(out),
    PRE(in_dx), PRE(insb), PRE(outsb), PRE(mov_ss),
};
static const struct attack randomness[] = {SAME(rdrand), SAME(rdseed)};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static uint64_t scratch[8];

static int attack(const struct attack *list, uint64_t n, uint64_t variant) {
  if (variant >= n) {
    hic_log("rogue_cpu: no variant %lu (0..%lu)", variant, n - 1);
    return 2;
  }
  const struct attack *a = &list[variant];
  hic_log("rogue_cpu: %s at %p", a->name, (void *)a->faults);
  a->entry(scratch);
  hic_log("rogue_cpu: %s executed (containment broken)", a->name);
  return 1;
}

static int check(const char *what, uint64_t got, uint64_t want) {
  if (got == want) return 0;
  hic_log("rogue_cpu: %s: FAIL got %lu want %lu", what, got, want);
  return 1;
}

static int time_stamps(void) {
  rc_rdtsc(scratch);
  uint64_t tsc1 = scratch[0], tsc2 = scratch[1], now = scratch[2], tsc3 = scratch[3], tscp = scratch[4], aux = scratch[5];
  hic_log("rogue_cpu: rdtsc %lu then %lu, time_now %lu then rdtsc %lu, rdtscp %lu aux %lu", tsc1, tsc2, now, tsc3, tscp, aux);
  /* One virtual nanosecond per instruction (the machine's default costs). */
  int failures = check("rdtsc advances by the instructions between", tsc2 - tsc1, 4);
  failures += check("rdtsc after time_now", tsc3 - now, 2);
  failures += check("rdtscp after rdtsc", tscp - tsc3, 5);
  failures += check("rdtscp processor id", aux, 0);
  return failures;
}

static int cpu_identity(void) {
  static const uint32_t leaves[][2] = {{0, 0}, {1, 0}, {7, 0}, {0x40000000, 0}, {0x80000000, 0}, {0x80000001, 0}, {0x80000002, 0}};
  for (uint64_t i = 0; i < COUNT(leaves); i++) {
    uint32_t *r = (uint32_t *)scratch;
    r[0] = leaves[i][0];
    r[1] = leaves[i][1];
    rc_cpuid(scratch);
    hic_log("rogue_cpu: cpuid %x.%x = %08x %08x %08x %08x", leaves[i][0], leaves[i][1], r[0], r[1], r[2], r[3]);
  }
  return 0;
}

static int alloc_free(uint64_t thousands, uint64_t fragments) {
  uint64_t n = thousands * 1000;
  if (fragments > 0) {
    int64_t region = hic_mem_alloc(fragments * 0x1000);
    if (region < 0) return check("mem_alloc fragments", (uint64_t)region, 0);
    for (uint64_t i = 0; i < fragments; i += 2) {
      int64_t r = hic_mem_protect((void *)(uintptr_t)(region + i * 0x1000), 0x1000, HIC_PROT_READ);
      if (r != 0) return check("mem_protect", (uint64_t)r, 0);
    }
  }
  int64_t start = hic_time_now();
  for (uint64_t i = 0; i < n; i++) {
    int64_t p = hic_mem_alloc(0x1000);
    if (p < 0) return check("mem_alloc", (uint64_t)p, 0);
    *(volatile uint8_t *)(uintptr_t)p = (uint8_t)i;
    int64_t r = hic_mem_free((void *)(uintptr_t)p, 0x1000);
    if (r != 0) return check("mem_free", (uint64_t)r, 0);
  }
  hic_log("rogue_cpu: %lu mem_alloc/mem_free pairs beside %lu split pages in %ld ns", n, fragments, hic_time_now() - start);
  return 0;
}

int hic_main(void) {
  const struct rogue_cpu_config *c = hic_config();
  switch (c->class) {
  case ROGUE_CPU_CLASS_UNDECODABLE: return attack(undecodable, COUNT(undecodable), c->variant);
  case ROGUE_CPU_CLASS_PRIVILEGED: return attack(privileged, COUNT(privileged), c->variant);
  case ROGUE_CPU_CLASS_RDTSC: return time_stamps();
  case ROGUE_CPU_CLASS_CPUID: return cpu_identity();
  case ROGUE_CPU_CLASS_RANDOMNESS: return attack(randomness, COUNT(randomness), c->variant);
  case ROGUE_CPU_CLASS_ALLOC_FREE: return alloc_free(c->variant, c->fragments);
  default: return 2;
  }
}
