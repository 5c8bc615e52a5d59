/* harness.h -- the host test driver for the Monitor's policy core (services/monitor/core/), run by
 * tests/monitor-core.test.ts. Checks print TAP-style lines ("ok - ..." / "not ok - ..."); samples
 * start from one healthy interval that a check then bends; a small seeded generator gives noise
 * (splitmix64, and Gaussian values by the Box-Muller transform -- the host has floating point, the
 * core does not, which is what lets these checks hold the core's fixed point against it). */
#ifndef MDTEST_HARNESS_H
#define MDTEST_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include "decide.h"

extern int failures;
bool check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool check_i64(const char *what, int64_t got, int64_t want);

#define SEC(n) ((uint64_t)(n) * MD_NS_PER_SEC)
#define MIN(n) ((uint64_t)(n) * MD_NS_PER_MIN)
#define STEP SEC(5) /* the sample interval the checks use: a health check every 5 s (seed §3.4) */

/* The old version's behaviour the samples are measured against. */
#define BASE_LATENCY_US 1000u
#define BASE_THROUGHPUT 40u /* answered per second: 200 requests per 5 s interval */

/* A healthy interval ending at `now`: 200 requests, 1 % errors, latency and throughput at the
 * baseline, baseline load, nothing out of band. */
struct md_sample healthy(uint64_t now);

/* A decider on the default policy (or `p`), baseline as above, watching from time 0. */
void decider_on(struct md_decider *d, const struct md_policy *p, const struct md_update_context *ctx);
/* Feeds `n` samples one STEP apart after d->last_ns, each made by `bend` from healthy(); returns
 * the last decision. Stops early (and says so in *stopped) when a rollback is executed. */
typedef void (*bend_fn)(struct md_sample *s, uint32_t i, void *arg);
int feed(struct md_decider *d, uint32_t n, bend_fn bend, void *arg, struct md_decision *last);
/* The policy index of a rule id, or -1. */
int rule_index(const struct md_policy *p, uint8_t id);
/* Whether the decision's fired mask holds the rule with that id. */
bool fired(const struct md_decision *dec, const struct md_policy *p, uint8_t id);

/* Seeded noise. */
struct rng {
  uint64_t s;
};
uint64_t rng_next(struct rng *r);
double rng_unit(struct rng *r);               /* [0, 1) */
double rng_gauss(struct rng *r, double mean, double sd);
uint32_t rng_binomial(struct rng *r, uint32_t n, double p);

#endif
