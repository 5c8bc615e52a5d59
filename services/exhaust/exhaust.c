/* exhaust: the hostile-guest campaign's resource hog. Round after round it takes everything it
 * can — memory regions until its quota refuses, memory objects, capability slots until the
 * space is full, registry names until the kernel's bound, console lines far past its rate limit —
 * checks that each refusal is the exact error, gives everything back, and checks that the next
 * round gets exactly as much again: anything the kernel failed to give back would show as a round
 * that gets less. Exit 0 when every round matched the first; its configuration: how many rounds. */
#include "hic/module.h"
#include "hic/runtime.h"

#define REGISTRY 0
#define MAX_TAKEN 4096

static int64_t taken[MAX_TAKEN];

static int failures;

static void expect(const char *what, int64_t got, int64_t want) {
  if (got != want) {
    hic_log("exhaust: FAIL %s: got %ld, want %ld", what, got, want);
    failures++;
  }
}

/* Regions of one page until the quota refuses; then every one freed. */
static int64_t hog_memory(void) {
  int64_t n = 0, r = 0;
  while (n < MAX_TAKEN && (r = hic_mem_alloc(4096)) >= 0) taken[n++] = r;
  expect("mem_alloc past the quota", r, -HIC_ERR_QUOTA_EXCEEDED);
  for (int64_t i = 0; i < n; i++) expect("mem_free", hic_mem_free((void *)(uintptr_t)taken[i], 4096), 0);
  return n;
}

/* Endpoints, notifications and memory objects until the capability space is full; then deleted. */
static int64_t hog_slots(void) {
  int64_t n = 0, r = 0;
  for (;;) {
    switch (n % 3) {
    case 0: r = hic_endpoint_create(); break;
    case 1: r = hic_notification_create(); break;
    default: r = hic_memory_create(4096); break;
    }
    if (r < 0 || n >= MAX_TAKEN) break;
    taken[n++] = r;
  }
  expect("the capability space full", r, -HIC_ERR_NO_SLOT);
  expect("memory_create into a full space", hic_memory_create(4096), -HIC_ERR_NO_SLOT);
  for (int64_t i = 0; i < n; i++) expect("cap_delete", hic_cap_delete((uint64_t)taken[i]), 0);
  return n;
}

/* Versioned names of its own until the kernel's bound; then their endpoints deleted (the names go too). */
static int64_t hog_registry(int64_t round) {
  int64_t n = 0, r = 0;
  char name[64];
  for (;;) {
    int64_t ep = hic_endpoint_create();
    if (ep < 0) {
      r = ep;
      break;
    }
    int len = hic_snprintf(name, sizeof name, "cap://exhaust/v%ld.%ld.0/x", round, n);
    r = hic_registry_register(REGISTRY, name, (uint64_t)len, (uint64_t)ep);
    if (r < 0) {
      hic_cap_delete((uint64_t)ep);
      break;
    }
    taken[n++] = ep;
  }
  expect("registry_register past the bound", r, -HIC_ERR_QUOTA_EXCEEDED);
  for (int64_t i = 0; i < n; i++) hic_cap_delete((uint64_t)taken[i]);
  return n;
}

static void flood_console(void) {
  for (int i = 0; i < 2000; i++) hic_log("exhaust: a console line of some length, number %d, to go past the budget", i);
}

int hic_main(void) {
  uint64_t rounds = hic_config()->rounds;
  int64_t first[3] = {0};
  for (uint64_t round = 0; round < rounds; round++) {
    int64_t got[3] = {hog_memory(), hog_slots(), 0};
    /* Registrations are bounded per sandbox for its lifetime of names held at once. */
    got[2] = hog_registry((int64_t)round);
    flood_console();
    if (round == 0) {
      for (int i = 0; i < 3; i++) first[i] = got[i];
      hic_log("exhaust: round 0 took %ld pages, %ld capabilities, %ld names", got[0], got[1], got[2]);
    } else {
      expect("pages again", got[0], first[0]);
      expect("capabilities again", got[1], first[1]);
      expect("names again", got[2], first[2]);
    }
  }
  hic_log("exhaust: %lu rounds, %d failures", rounds, failures);
  exhaust_emit_done(&(struct exhaust_record_done){.rounds = rounds, .failures = (uint64_t)failures, .pages = (uint64_t)first[0], .capabilities = (uint64_t)first[1], .names = (uint64_t)first[2]});
  return failures == 0 ? 0 : 1;
}
