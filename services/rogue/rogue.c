/* rogue: a hostile guest. Its configuration's `attack` picks one attack; every attack but
 * bad_syscalls and spin must end with the kernel stopping the sandbox with a fault, bad_syscalls
 * must get an exact error from every bad syscall and carry on, spin must not stop the others.
 * Any line saying "isolation broken" or "FAIL" is a kernel bug. */
#include "hic/ipc_lib.h"
#include "hic/module.h"
#include "hic/runtime.h"

#define PAGE 0x1000UL

/* Written below, so it stays in .data (writable, and no-execute if the kernel honours W^X). */
__attribute__((section(".data"))) static uint8_t data_code[16] = {0xc3 /* ret */};

/* Volatile so gcc neither folds the division nor drops it as dead. */
static volatile int64_t dividend = 1, divisor = 0, quotient;

static int broken(const char *what) {
  hic_log("rogue: %s succeeded (isolation broken)", what);
  hic_exit(1);
}

/* read_peer: frames are allocated first-fit in boot order and mapped at their physical address, so the
 * page just below our image belongs to the sandbox booted before us. */
static int read_peer(void) {
  uintptr_t peer = ((uintptr_t)&_start & ~(PAGE - 1)) - PAGE;
  hic_log("rogue: reading peer memory at 0x%lx", (uint64_t)peer);
  uint8_t b = *(volatile uint8_t *)peer;
  hic_log("rogue: read 0x%x", b);
  return broken("read");
}

/* write_code: code pages must be mapped read+execute, never writable. */
static int write_code(void) {
  volatile uint8_t *code = (volatile uint8_t *)(uintptr_t)&hic_main;
  hic_log("rogue: writing own code at %p", (void *)(uintptr_t)code);
  *code = 0xcc;
  return broken("write");
}

/* exec_data: data pages must be no-execute. */
static int exec_data(void) {
  data_code[0] = 0xc3;
  hic_log("rogue: executing own data at %p", (void *)data_code);
  ((void (*)(void))(uintptr_t)data_code)();
  return broken("execute");
}

static int divide_by_zero(void) {
  hic_log("rogue: dividing by zero");
  quotient = dividend / divisor;
  return broken("divide");
}

static int invalid_instruction(void) {
  hic_log("rogue: executing ud2");
  __asm__ volatile("ud2");
  return broken("ud2");
}

/* bad_syscalls: every check gets one line; the result counts failures. */
static int checks;
static int64_t last_error;

static int check(const char *name, int64_t got, int64_t want) {
  checks++;
  if (got < 0) last_error = got;
  if (got == want) {
    hic_log("rogue: check %s: ok", name);
    return 0;
  }
  hic_log("rogue: check %s: FAIL got %ld want %ld", name, got, want);
  return 1;
}

/* The record syscall refuses, with its own error each, a record that is not one its module
 * declares -- and leaves no record behind. */
static int bad_records(void) {
  int failures = 0;
  struct rogue_record_result r = {.attack = ROGUE_RESULT_ATTACK_BAD_SYSCALLS, .clean = 1, .page_bytes = PAGE};
  failures += check("record type 0", hic_record(0, &r, sizeof r), -HIC_ERR_NOT_FOUND);
  failures += check("record undeclared type", hic_record(ROGUE_RECORD_RESULT + 1, &r, sizeof r), -HIC_ERR_NOT_FOUND);
  failures += check("record short", hic_record(ROGUE_RECORD_RESULT, &r, sizeof r - 8), -HIC_ERR_INVALID_ARGUMENT);
  failures += check("record long", hic_record(ROGUE_RECORD_RESULT, &r, sizeof r + 8), -HIC_ERR_INVALID_ARGUMENT);
  failures += check("record null", hic_record(ROGUE_RECORD_RESULT, 0, sizeof r), -HIC_ERR_BAD_ADDRESS);
  failures += check("record unmapped", hic_record(ROGUE_RECORD_RESULT, (const void *)0x10, sizeof r), -HIC_ERR_BAD_ADDRESS);
  r.attack = 9; /* past the enum's nine values */
  failures += check("record enum out of range", hic_record(ROGUE_RECORD_RESULT, &r, sizeof r), -HIC_ERR_BAD_VALUE);
  r.attack = ROGUE_RESULT_ATTACK_BAD_SYSCALLS;
  r.clean = 2;
  failures += check("record bool 2", hic_record(ROGUE_RECORD_RESULT, &r, sizeof r), -HIC_ERR_BAD_VALUE);
  return failures;
}

static int bad_syscalls(void) {
  static const char msg[] = "rogue: this line must not be printed";
  int failures = 0;

  failures += check("debug_log null", hic_debug_log(0, 4), -HIC_ERR_BAD_ADDRESS);
  failures += check("debug_log unmapped", hic_debug_log((const void *)0x10, 4), -HIC_ERR_BAD_ADDRESS);
  failures += check("debug_log huge len", hic_debug_log(msg, 1ULL << 40), -HIC_ERR_INVALID_ARGUMENT);

  /* Our own image page: accessible, but never returned by mem_alloc. */
  void *image = (void *)((uintptr_t)&_start & ~(PAGE - 1));
  failures += check("mem_free unallocated", hic_mem_free(image, PAGE), -HIC_ERR_NOT_FOUND);
  failures += check("mem_alloc zero", hic_mem_alloc(0), -HIC_ERR_INVALID_ARGUMENT);
  failures += check("mem_alloc huge", hic_mem_alloc(1ULL << 40), -HIC_ERR_QUOTA_EXCEEDED);

  int64_t region = hic_mem_alloc(PAGE);
  if (region < 0) {
    failures += check("mem_alloc page", region, 0);
  } else {
    void *p = (void *)(uintptr_t)region;
    failures += check("mem_protect w+x", hic_mem_protect(p, PAGE, HIC_PROT_WRITE | HIC_PROT_EXEC),
                      -HIC_ERR_INVALID_ARGUMENT);
    /* The refused call must have left the region as it was: still writable. */
    *(volatile uint8_t *)p = 1;
    failures += check("mem_free own region", hic_mem_free(p, PAGE), 0);
  }

  failures += check("syscall 999", hic_syscall0(999), -HIC_ERR_UNKNOWN_SYSCALL);
  failures += bad_records();
  hic_log("rogue: %d check(s) failed", failures);

  /* The one record that is right, after all the refused ones: its fields as the test expects. */
  struct rogue_record_result r = {.attack = ROGUE_RESULT_ATTACK_BAD_SYSCALLS, .checks = (uint64_t)checks, .failed = (uint64_t)failures,
                                  .clean = failures == 0, .last_error = last_error, .page_bytes = PAGE, .canary = 0xfedcba9876543210UL};
  if (rogue_emit_result(&r) != 0) return hic_log("rogue: the right record was refused"), 1;
  return failures;
}

/* spin: never yields, never calls the kernel; preemption by instruction budget must keep the other
 * sandboxes running, and the manifest's time limit ends the run. */
static int spin(void) {
  hic_log("rogue: spinning forever");
  for (volatile uint64_t i = 0;; i++) {
  }
  return broken("spin");
}

/* write_library: the shared library's code is mapped read-execute in every sandbox that uses it: writing it
 * must fault, or one sandbox could change what all the others run. */
static int write_library(void) {
  volatile uint8_t *code = (volatile uint8_t *)(uintptr_t)&ipc_checksum;
  hic_log("rogue: writing shared ipc_lib code at %p (ipc_lib %u)", (void *)(uintptr_t)code, ipc_version() >> 16);
  *code = 0xc3;
  return broken("library write");
}

/* write_config: the configuration page is the kernel's word to the sandbox, mapped read-only:
 * writing it must fault, or a sandbox could claim to have been started otherwise. */
static int write_config(void) {
  volatile uint64_t *config = (volatile uint64_t *)(uintptr_t)hic_config();
  hic_log("rogue: writing own configuration page at %p (attack %lu)", (void *)(uintptr_t)config, config[0]);
  config[0] = ROGUE_ATTACK_READ_PEER;
  return broken("configuration write");
}

int hic_main(void) {
  switch (hic_config()->attack) {
  case ROGUE_ATTACK_READ_PEER: return read_peer();
  case ROGUE_ATTACK_WRITE_CODE: return write_code();
  case ROGUE_ATTACK_EXEC_DATA: return exec_data();
  case ROGUE_ATTACK_DIVIDE_BY_ZERO: return divide_by_zero();
  case ROGUE_ATTACK_UD2: return invalid_instruction();
  case ROGUE_ATTACK_BAD_SYSCALLS: return bad_syscalls();
  case ROGUE_ATTACK_SPIN: return spin();
  case ROGUE_ATTACK_WRITE_LIBRARY: return write_library();
  case ROGUE_ATTACK_WRITE_CONFIG: return write_config();
  default: return hic_log("rogue: unknown attack %lu", hic_config()->attack), 2;
  }
}
