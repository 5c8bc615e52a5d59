/* rogue: a hostile guest. The manifest argument picks one attack; attacks 1-5 must end with the
 * kernel stopping the sandbox with a fault, attack 6 must get an exact error from every bad
 * syscall and carry on. Any line saying "isolation broken" or "FAIL" is a kernel bug. */
#include "hic/ipc_lib.h"
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

/* 1: frames are allocated first-fit in boot order and mapped at their physical address, so the
 * page just below our image belongs to the sandbox booted before us. */
static int read_peer(void) {
  uintptr_t peer = ((uintptr_t)&_start & ~(PAGE - 1)) - PAGE;
  hic_log("rogue: reading peer memory at 0x%lx", (uint64_t)peer);
  uint8_t b = *(volatile uint8_t *)peer;
  hic_log("rogue: read 0x%x", b);
  return broken("read");
}

/* 2: code pages must be mapped read+execute, never writable. */
static int write_code(void) {
  volatile uint8_t *code = (volatile uint8_t *)(uintptr_t)&hic_main;
  hic_log("rogue: writing own code at %p", (void *)(uintptr_t)code);
  *code = 0xcc;
  return broken("write");
}

/* 3: data pages must be no-execute. */
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

/* 6: every check gets one line; the result counts failures. */
static int check(const char *name, int64_t got, int64_t want) {
  if (got == want) {
    hic_log("rogue: check %s: ok", name);
    return 0;
  }
  hic_log("rogue: check %s: FAIL got %ld want %ld", name, got, want);
  return 1;
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
  hic_log("rogue: %d check(s) failed", failures);
  return failures;
}

/* 7: never yields, never calls the kernel; preemption by instruction budget must keep the other
 * sandboxes running, and the manifest's time limit ends the run. */
static int spin(void) {
  hic_log("rogue: spinning forever");
  for (volatile uint64_t i = 0;; i++) {
  }
  return broken("spin");
}

/* 8: the shared library's code is mapped read-execute in every sandbox that uses it: writing it
 * must fault, or one sandbox could change what all the others run. */
static int write_library(void) {
  volatile uint8_t *code = (volatile uint8_t *)(uintptr_t)&ipc_checksum;
  hic_log("rogue: writing shared ipc_lib code at %p (ipc_lib %u)", (void *)(uintptr_t)code, ipc_version() >> 16);
  *code = 0xc3;
  return broken("library write");
}

int hic_main(uint64_t arg) {
  switch (arg) {
  case 1: return read_peer();
  case 2: return write_code();
  case 3: return exec_data();
  case 4: return divide_by_zero();
  case 5: return invalid_instruction();
  case 6: return bad_syscalls();
  case 7: return spin();
  case 8: return write_library();
  default:
    hic_log("rogue: unknown attack %lu; arg is 1 read peer, 2 write code, 3 exec data, "
            "4 divide by zero, 5 ud2, 6 bad syscalls, 7 spin, 8 write library", arg);
    return 2;
  }
}
