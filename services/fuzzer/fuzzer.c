/* fuzzer: the hostile-guest campaign's syscall fuzzer. A seeded PRNG makes `count` random
 * syscalls: mostly real syscall numbers, one in eight any number up to past the ABI's end, arguments drawn where bugs hide —
 * small numbers and slot numbers around the end of the capability space, lengths around pages
 * and the payload limit, pointers into its own memory, at its last bytes and just past it,
 * kernel-half addresses, and raw 64-bit noise. It never calls exit and keeps every wait short,
 * so it runs to the end; then it reports how its calls ended (a summary record) and exits 0.
 * Its configuration: the seed and the number of calls. */
#include "hic/module.h"
#include "hic/runtime.h"

/* Most calls name a real syscall; the rest any number up to past the end of the ABI. */
#define NR_SPAN 80
static const int64_t numbers[HIC_SYSCALL_COUNT] = HIC_SYSCALL_NUMBERS;

static uint64_t state;

/* xorshift64*: small, fast, and the same sequence on every run for the same seed. */
static uint64_t next(void) {
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 2685821657736338717ULL;
}

/* Where pointers point: writable, so whatever the kernel writes through them is ours. */
static uint8_t buffer[3 * 4096] __attribute__((aligned(4096)));

static uint64_t value(void) {
  switch (next() % 10) {
  case 0: return next() % 8;
  case 1: return next() % 70;
  case 2: return (uint64_t)(uintptr_t)(buffer + next() % sizeof buffer);
  case 3: return (uint64_t)(uintptr_t)(buffer + sizeof buffer - next() % 16);
  case 4: return (uint64_t)(uintptr_t)(buffer + sizeof buffer + next() % 8192);
  case 5: return 4096ULL << (next() % 12);
  case 6: return (next() & 1) ? 0 : ~0ULL;
  case 7: return 0xffff800000000000ULL + (next() & 0xffffff);
  case 8: return next() % 1100;
  default: return next();
  }
}

static uint64_t short_wait(void) {
  return 1 + next() % 100000;
}

int hic_main(void) {
  state = 0x9e3779b97f4a7c15ULL ^ hic_config()->seed;
  uint64_t count = hic_config()->calls;
  uint64_t ok = 0, errors[32] = {0}, other = 0;
  for (uint64_t i = 0; i < count; i++) {
    int64_t nr = next() % 8 == 0 ? (int64_t)(next() % NR_SPAN) : numbers[next() % HIC_SYSCALL_COUNT];
    uint64_t a[5] = {value(), value(), value(), value(), value()};
    switch (nr) {
    case HIC_SYS_EXIT: nr = HIC_SYS_TIME_NOW; break; /* the campaign ends when the count does */
    case HIC_SYS_SLEEP: a[0] %= 100000; break;
    case HIC_SYS_SEND: a[2] = HIC_NONBLOCK; break;
    case HIC_SYS_RECV:
    case HIC_SYS_CALL: a[2] = next() & HIC_NONBLOCK; a[3] = short_wait(); break;
    case HIC_SYS_WAIT: a[1] = next() & HIC_NONBLOCK; a[2] = short_wait(); break;
    }
    int64_t r = hic_syscall5(nr, (int64_t)a[0], (int64_t)a[1], (int64_t)a[2], (int64_t)a[3], (int64_t)a[4]);
    if (r >= 0) ok++;
    else if (-r < 32) errors[-r]++;
    else other++;
  }
  hic_log("fuzzer: %lu calls, %lu succeeded, %lu refused, %lu out of range", count, ok, count - ok - other, other);
  fuzzer_emit_summary(&(struct fuzzer_record_summary){.calls = count, .succeeded = ok, .refused = count - ok - other, .out_of_range = other});
  for (int e = 1; e < 32; e++) {
    if (errors[e] > 0) hic_log("fuzzer: error %d x %lu", e, errors[e]);
  }
  return other == 0 ? 0 : 1;
}
