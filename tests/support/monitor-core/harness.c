/* harness.c -- checks, healthy samples, feeding a decider, seeded noise (see harness.h). */
#include "harness.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

int failures;

bool check(bool ok, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs(ok ? "ok - " : "not ok - ", stdout);
  vprintf(fmt, ap);
  putchar('\n');
  va_end(ap);
  if (!ok) failures++;
  return ok;
}

bool check_i64(const char *what, int64_t got, int64_t want) {
  if (got == want) return check(true, "%s = %lld", what, (long long)got);
  return check(false, "%s: got %lld, want %lld", what, (long long)got, (long long)want);
}

struct md_sample healthy(uint64_t now) {
  return (struct md_sample){
      .now_ns = now, .requests = 200, .errors = 2, .latency_us = BASE_LATENCY_US,
      .throughput = BASE_THROUGHPUT, .load_permille = 1000, .cpu_permille = 300, .memory_kib = 50000,
  };
}

void decider_on(struct md_decider *d, const struct md_policy *p, const struct md_update_context *ctx) {
  static struct md_policy def;
  static const struct md_update_context code_only = {.code_changed = 1};
  if (!p) md_policy_default(&def), p = &def;
  struct md_baseline base = {.latency_us = BASE_LATENCY_US, .throughput = BASE_THROUGHPUT};
  int rc = md_decider_init(d, p, &base, ctx ? ctx : &code_only, 0);
  if (rc != MD_OK) check(false, "md_decider_init on the policy: %d", rc);
}

int feed(struct md_decider *d, uint32_t n, bend_fn bend, void *arg, struct md_decision *last) {
  for (uint32_t i = 0; i < n; i++) {
    struct md_sample s = healthy(d->last_ns + STEP);
    if (bend) bend(&s, i, arg);
    int rc = md_decide(d, &s, last);
    if (rc != MD_OK) return rc;
    if (d->concluded) return MD_OK;
  }
  return MD_OK;
}

int rule_index(const struct md_policy *p, uint8_t id) {
  for (uint32_t i = 0; i < p->rule_count; i++)
    if (p->rules[i].id == id) return (int)i;
  return -1;
}

bool fired(const struct md_decision *dec, const struct md_policy *p, uint8_t id) {
  int i = rule_index(p, id);
  return i >= 0 && (dec->fired_mask >> i & 1);
}

uint64_t rng_next(struct rng *r) { /* splitmix64 */
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

double rng_unit(struct rng *r) { return (double)(rng_next(r) >> 11) / 9007199254740992.0; }

double rng_gauss(struct rng *r, double mean, double sd) {
  double u = rng_unit(r), v = rng_unit(r);
  return mean + sd * sqrt(-2.0 * log(1.0 - u)) * cos(6.283185307179586 * v);
}

uint32_t rng_binomial(struct rng *r, uint32_t n, double p) {
  uint32_t k = 0;
  for (uint32_t i = 0; i < n; i++) k += rng_unit(r) < p;
  return k;
}
