/* The native baseline of `npm run bench`: runs the same guest bytes as the TypeScript kernel, on
 * the same libunicorn, with everything HIC does in TypeScript done in C instead — a syscall hook
 * that reads the seven argument registers in one batch and writes rax, a round-robin loop over
 * engines that restarts each from its RIP for one slice of `budget` instructions. What remains
 * between the two is the cost of Node, koffi and the kernel's own bookkeeping.
 *
 * Every engine gets the hook set HIC's engines get (a memory-read hook on an unused range for
 * exact RIP, the invalid-memory, interrupt and invalid-instruction hooks), so translated code takes
 * the same paths. The slice is Unicorn's own count (count = budget, the default), or with
 * --counter hook HIC's counting scheme: a C code hook on every instruction and count = 0. With
 * --counter none nothing counts and there are no slices (count = 0, no hook): the emulator's
 * ceiling, for reference only, since a kernel that cannot preempt is no kernel.
 *
 * Usage: harness --guest FILE [--engines K] [--budget B] [--runs R] [--counter uc|hook|none]
 * Prints one JSON object: the parameters and, per run, wall time and what the guests did.
 * Built by bench/native.ts with: gcc -O2 -o build/bench/harness harness.c -lunicorn */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unicorn/unicorn.h>

#define PAGE 4096u
#define CODE_BASE 0x100000u
#define STACK_PAGES 4u /* 16 KiB, as the TypeScript side's stackBytes */
/* Unreachable, so no block is invalidated by `until` (docs/unicorn.md#until-hides-staleness). */
#define UNTIL 0xfffffffffffffff0ull
#define MAX_ENGINES 8

enum { SYS_YIELD = 2, SYS_EXIT = 4, SYS_TIME_NOW = 5 };
enum counter { COUNT_UC, COUNT_HOOK, COUNT_NONE };
#define ERR_UNKNOWN_SYSCALL ((uint64_t)-38)

static int ARG_REGS[7] = {UC_X86_REG_RAX, UC_X86_REG_RDI, UC_X86_REG_RSI, UC_X86_REG_RDX,
                          UC_X86_REG_R10, UC_X86_REG_R8, UC_X86_REG_R9};

struct guest {
  uc_engine *uc;
  uint8_t *memory; /* code pages, a guard page, the stack: one host block like HIC's frames */
  size_t memory_bytes;
  uint64_t args[7];
  void *arg_ptrs[7];
  /* The counter of --counter hook, laid out as emulator/native/counter.c's. */
  uint64_t executed, limit;
  uint64_t syscalls, yields, slices;
  bool exited;
  const char *fault;
};

static void die(const char *what, uc_err err) {
  fprintf(stderr, "harness: %s: %s\n", what, err == UC_ERR_OK ? "failed" : uc_strerror(err));
  exit(1);
}

static void check(const char *what, uc_err err) {
  if (err != UC_ERR_OK) die(what, err);
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* --- hooks ------------------------------------------------------------------------------------ */

static void count_instruction(uc_engine *uc, uint64_t address, uint32_t size, void *user_data) {
  struct guest *g = user_data;
  (void)address;
  (void)size;
  if (g->executed >= g->limit) {
    uc_emu_stop(uc);
    return;
  }
  g->executed++;
}

/* The kernel's trap in miniature: same register traffic, same three verbs. */
static void on_syscall(uc_engine *uc, void *user_data) {
  struct guest *g = user_data;
  if (uc_reg_read_batch(uc, ARG_REGS, g->arg_ptrs, 7) != UC_ERR_OK) {
    g->fault = "uc_reg_read_batch failed";
    uc_emu_stop(uc);
    return;
  }
  g->syscalls++;
  uint64_t result;
  switch (g->args[0]) {
  case SYS_TIME_NOW:
    result = g->syscalls;
    uc_reg_write(uc, UC_X86_REG_RAX, &result);
    return;
  case SYS_YIELD:
    g->yields++;
    result = 0;
    uc_reg_write(uc, UC_X86_REG_RAX, &result);
    uc_emu_stop(uc);
    return;
  case SYS_EXIT:
    g->exited = true;
    uc_emu_stop(uc);
    return;
  default:
    result = ERR_UNKNOWN_SYSCALL;
    uc_reg_write(uc, UC_X86_REG_RAX, &result);
    return;
  }
}

static void on_mem_read(uc_engine *uc, uc_mem_type type, uint64_t address, int size, int64_t value, void *user_data) {
  (void)uc, (void)type, (void)address, (void)size, (void)value, (void)user_data;
}

static bool on_mem_invalid(uc_engine *uc, uc_mem_type type, uint64_t address, int size, int64_t value, void *user_data) {
  struct guest *g = user_data;
  (void)uc, (void)type, (void)address, (void)size, (void)value;
  if (!g->fault) g->fault = "memory fault";
  return false;
}

static void on_interrupt(uc_engine *uc, uint32_t intno, void *user_data) {
  struct guest *g = user_data;
  (void)intno;
  if (!g->fault) g->fault = "cpu exception";
  uc_emu_stop(uc);
}

static bool on_insn_invalid(uc_engine *uc, void *user_data) {
  struct guest *g = user_data;
  (void)uc;
  if (!g->fault) g->fault = "invalid instruction";
  return false;
}

/* --- set-up ----------------------------------------------------------------------------------- */

static void guest_open(struct guest *g, const uint8_t *code, size_t code_len, bool hook_counter) {
  memset(g, 0, sizeof *g);
  for (int i = 0; i < 7; i++) g->arg_ptrs[i] = &g->args[i];
  size_t code_pages = (code_len + PAGE - 1) / PAGE;
  g->memory_bytes = (code_pages + 1 + STACK_PAGES) * PAGE;
  if (posix_memalign((void **)&g->memory, PAGE, g->memory_bytes) != 0) die("posix_memalign", UC_ERR_OK);
  memset(g->memory, 0, g->memory_bytes);
  memcpy(g->memory, code, code_len);

  check("uc_open", uc_open(UC_ARCH_X86, UC_MODE_64, &g->uc));
  uc_hook h;
  if (hook_counter) check("hook code", uc_hook_add(g->uc, &h, UC_HOOK_CODE, (void *)count_instruction, g, 1, 0));
  check("hook mem read", uc_hook_add(g->uc, &h, UC_HOOK_MEM_READ, (void *)on_mem_read, g, 0xfffffffffffff000ull, 0xffffffffffffffffull));
  check("hook mem invalid", uc_hook_add(g->uc, &h, UC_HOOK_MEM_INVALID, (void *)on_mem_invalid, g, 1, 0));
  check("hook intr", uc_hook_add(g->uc, &h, UC_HOOK_INTR, (void *)on_interrupt, g, 1, 0));
  check("hook insn invalid", uc_hook_add(g->uc, &h, UC_HOOK_INSN_INVALID, (void *)on_insn_invalid, g, 1, 0));
  check("hook syscall", uc_hook_add(g->uc, &h, UC_HOOK_INSN, (void *)on_syscall, g, 1, 0, UC_X86_INS_SYSCALL));

  uint64_t code_bytes = code_pages * PAGE, stack_base = CODE_BASE + code_bytes + PAGE;
  check("map code", uc_mem_map_ptr(g->uc, CODE_BASE, code_bytes, UC_PROT_READ | UC_PROT_EXEC, g->memory));
  check("map stack", uc_mem_map_ptr(g->uc, stack_base, STACK_PAGES * PAGE, UC_PROT_READ | UC_PROT_WRITE, g->memory + code_bytes + PAGE));
  uint64_t rsp = stack_base + STACK_PAGES * PAGE - 8, rip = CODE_BASE, rflags = 2, zero = 0;
  check("write rsp", uc_reg_write(g->uc, UC_X86_REG_RSP, &rsp));
  check("write rip", uc_reg_write(g->uc, UC_X86_REG_RIP, &rip));
  check("write rdi", uc_reg_write(g->uc, UC_X86_REG_RDI, &zero));
  check("write rflags", uc_reg_write(g->uc, UC_X86_REG_RFLAGS, &rflags));
}

static void guest_close(struct guest *g) {
  uc_close(g->uc); /* before the memory it maps is freed (docs/unicorn.md#map-ptr-lifetime) */
  free(g->memory);
}

static uint8_t *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "harness: cannot open %s\n", path);
    exit(1);
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
  if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
    fprintf(stderr, "harness: cannot read %s\n", path);
    exit(1);
  }
  fclose(f);
  *len = (size_t)n;
  return buf;
}

/* --- the run loop ----------------------------------------------------------------------------- */

/* One run: every engine round-robin, one slice each, until all have exited. Only this is timed. */
static void run_once(const uint8_t *code, size_t code_len, int engines, uint64_t budget, enum counter counter, bool first) {
  bool hook_counter = counter == COUNT_HOOK;
  struct guest g[MAX_ENGINES];
  for (int i = 0; i < engines; i++) guest_open(&g[i], code, code_len, hook_counter);
  int live = engines;
  uint64_t t0 = now_ns();
  while (live > 0) {
    for (int i = 0; i < engines; i++) {
      if (g[i].exited) continue;
      uint64_t rip;
      check("read rip", uc_reg_read(g[i].uc, UC_X86_REG_RIP, &rip));
      uc_err err;
      if (counter == COUNT_HOOK) g[i].limit = g[i].executed + budget;
      /* One engine never mixes count = 0 with count > 0 (docs/unicorn.md#count-mode): the mode is
         fixed per run. */
      err = uc_emu_start(g[i].uc, rip, UNTIL, 0, counter == COUNT_UC ? budget : 0);
      g[i].slices++;
      if (err != UC_ERR_OK) die("uc_emu_start", err);
      if (g[i].fault) {
        fprintf(stderr, "harness: guest %d: %s at rip 0x%" PRIx64 "\n", i, g[i].fault, rip);
        exit(1);
      }
      if (g[i].exited) live--;
    }
  }
  uint64_t wall = now_ns() - t0;
  uint64_t syscalls = 0, yields = 0, slices = 0, executed = 0;
  for (int i = 0; i < engines; i++) {
    syscalls += g[i].syscalls;
    yields += g[i].yields;
    slices += g[i].slices;
    executed += g[i].executed;
    guest_close(&g[i]);
  }
  printf("%s{\"wallNs\":%" PRIu64 ",\"syscalls\":%" PRIu64 ",\"yields\":%" PRIu64 ",\"slices\":%" PRIu64, first ? "" : ",", wall, syscalls, yields, slices);
  if (hook_counter) printf(",\"executed\":%" PRIu64, executed);
  printf("}");
}

int main(int argc, char **argv) {
  const char *guest = NULL, *counter = "uc";
  int engines = 1, runs = 1;
  uint64_t budget = 100000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--guest")) guest = argv[i + 1];
    else if (!strcmp(argv[i], "--engines")) engines = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--budget")) budget = strtoull(argv[i + 1], NULL, 10);
    else if (!strcmp(argv[i], "--runs")) runs = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--counter")) counter = argv[i + 1];
    else {
      fprintf(stderr, "harness: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  enum counter mode = !strcmp(counter, "uc") ? COUNT_UC : !strcmp(counter, "hook") ? COUNT_HOOK : COUNT_NONE;
  if (!guest || engines < 1 || engines > MAX_ENGINES || runs < 1 || budget == 0 || (mode == COUNT_NONE && strcmp(counter, "none"))) {
    fprintf(stderr, "usage: harness --guest FILE [--engines 1..%d] [--budget B] [--runs R] [--counter uc|hook|none]\n", MAX_ENGINES);
    return 2;
  }
  size_t code_len;
  uint8_t *code = read_file(guest, &code_len);
  unsigned major, minor;
  uc_version(&major, &minor);
  printf("{\"unicorn\":\"%u.%u\",\"engines\":%d,\"budget\":%" PRIu64 ",\"counter\":\"%s\",\"runs\":[", major, minor, engines, budget, counter);
  for (int r = 0; r < runs; r++) run_once(code, code_len, engines, budget, mode, r == 0);
  printf("]}\n");
  free(code);
  return 0;
}
