/* t_rules.c -- the decision engine's rules 2-4 (seed §4.3 step 5.1.2; rule 1 is the error-rate
 * row), the indicators of the §4.1 failure levels with each level's response, and the confidence
 * score: its noisy-OR arithmetic, the 0.8 threshold, a rollback rule short of it pausing instead. */
#include <math.h>
#include <stddef.h>

#include "harness.h"
#include "scenarios.h"

static struct md_policy P;

static void latency(struct md_sample *s, uint32_t i, void *arg) {
  (void)i;
  s->latency_us = BASE_LATENCY_US * *(uint32_t *)arg / 1000;
  s->violating = s->anomalous = MD_M_LATENCY;
}

static void unanswered(struct md_sample *s, uint32_t i, void *arg) {
  (void)i;
  const uint32_t *u = arg; /* requests, unanswered */
  s->requests = u[0], s->unanswered = u[1], s->errors = 0;
}

static void set_field(struct md_sample *s, uint32_t i, void *arg) {
  (void)i;
  const uint32_t *f = arg; /* offset of a uint32_t field, value */
  *(uint32_t *)((char *)s + f[0]) = f[1];
}

#define FIELD(name, v) ((uint32_t[]){offsetof(struct md_sample, name), (v)})

void t_rules(void) {
  md_policy_default(&P);
  struct md_decider d;
  struct md_decision dec;
  decider_on(&d, &P, 0);
  feed(&d, 10, latency, &(uint32_t){2000}, &dec);
  check(!fired(&dec, &P, MD_R_LATENCY_RISE) && !fired(&dec, &P, MD_R_PERF_HALVED) && dec.action == MD_ACT_CONTINUE,
        "rule 2: latency doubled exactly is not more than +100 %%");
  decider_on(&d, &P, 0);
  feed(&d, 1, latency, &(uint32_t){2050}, &dec);
  check(dec.rule_id == MD_R_LATENCY_RISE && dec.level == MD_LEVEL_HIGH && dec.action == MD_ACT_PAUSE && dec.execute &&
            !d.concluded, "rule 2: +105 %%: prepare the rollback (pause), level 2, at once");

  decider_on(&d, &P, 0);
  feed(&d, 5, unanswered, (uint32_t[]){200, 199}, &dec);
  check(!fired(&dec, &P, MD_R_UNAVAILABLE), "rule 3: 1 of 200 answered: not completely unavailable");
  decider_on(&d, &P, 0);
  feed(&d, 5, unanswered, (uint32_t[]){10, 10}, &dec);
  check(!fired(&dec, &P, MD_R_UNAVAILABLE), "rule 3: 10 requests, none answered: too few to judge (min 20)");
  decider_on(&d, &P, 0);
  feed(&d, 1, unanswered, (uint32_t[]){200, 200}, &dec);
  check(dec.rule_id == MD_R_UNAVAILABLE && dec.action == MD_ACT_EMERGENCY_ROLLBACK && dec.execute && dec.level == MD_LEVEL_CRITICAL,
        "rule 3: none of 200 answered: emergency rollback at once");

  decider_on(&d, &P, 0);
  feed(&d, 1, set_field, FIELD(corrupt, 1), &dec);
  check(dec.rule_id == MD_R_CORRUPTION && dec.action == MD_ACT_EMERGENCY_ROLLBACK && dec.forced && dec.execute,
        "rule 4: one corrupted payload: forced emergency rollback");

  /* §4.1, level by level. */
  decider_on(&d, &P, 0);
  feed(&d, 23, set_field, FIELD(start_failed, 1), &dec);
  check(!fired(&dec, &P, MD_R_START_FAILED) && !dec.execute, "level 1: the new instance not running for 1 min 55 s: a restart may still bring it up");
  feed(&d, 1, set_field, FIELD(start_failed, 1), &dec);
  check(dec.rule_id == MD_R_START_FAILED && dec.level == MD_LEVEL_CRITICAL && dec.action == MD_ACT_REVERSE_ROLLBACK && dec.execute,
        "level 1: the new instance did not start (not running for 2 min): stop the update, the old one stays");
  decider_on(&d, &P, 0);
  feed(&d, 4, latency, &(uint32_t){2050}, &dec);
  check(fired(&dec, &P, MD_R_PERF_HALVED) && dec.level == MD_LEVEL_HIGH && dec.action == MD_ACT_PAUSE,
        "level 2: 51.3 %% slower for 20 s: pause");
  struct md_sample s = healthy(d.last_ns + STEP);
  s.mig_attempted = 10, s.mig_ok = 9, s.mig_failed = 1;
  decider_on(&d, &P, 0);
  md_decide(&d, &s, &dec);
  check(dec.rule_id == MD_R_CONN_MIGRATION && dec.level == MD_LEVEL_MEDIUM && dec.action == MD_ACT_RETRY && dec.execute,
        "level 3: one connection's migration failed (9 of 10 moved): retry it");
  decider_on(&d, &P, 0);
  feed(&d, 3, latency, &(uint32_t){1050}, &dec);
  check(fired(&dec, &P, MD_R_PERF_SLIGHT) && dec.evals[rule_index(&P, MD_R_PERF_SLIGHT)].value == 48 &&
            dec.level == MD_LEVEL_LOW && dec.action == MD_ACT_CONTINUE && !dec.execute,
        "level 4: 4.8 %% slower, outside the band: go on, keep watching");
  check(dec.rule_id == MD_R_ANOMALY, "of the two level-4 rules the decision names the heavier, the 3-sigma warning");
  decider_on(&d, &P, 0);
  feed(&d, 3, 0, 0, &dec);
  check(dec.rule < 0 && dec.level == MD_LEVEL_NONE && dec.action == MD_ACT_CONTINUE && dec.score == 0 && dec.holding_mask == 0,
        "healthy samples: no rule holds, score 0");
}

void t_score(void) {
  md_policy_default(&P);
  struct md_decider d;
  struct md_decision dec;
  decider_on(&d, &P, 0);
  feed(&d, 3, set_field, FIELD(health_fail_streak, 2), &dec);
  check(dec.holding_mask == 0, "2 failed health checks in a row: nothing");
  feed(&d, 1, set_field, FIELD(health_fail_streak, 3), &dec);
  check(dec.rule_id == MD_R_HEALTH && dec.score == 700 && dec.action == MD_ACT_PAUSE && !d.concluded,
        "3 in a row alone: a rollback rule at 0.700 < 0.8 prepares (pause) instead");

  /* Two rules, by hand: 1 - (1 - 0.7)(1 - 0.6) = 0.88. */
  struct md_policy two;
  md_policy_default(&two);
  two.rules[0] = P.rules[rule_index(&P, MD_R_HEALTH)];
  two.rules[1] = P.rules[rule_index(&P, MD_R_LATENCY_RISE)];
  two.rules[1].gate = 0;
  two.rule_count = 2;
  decider_on(&d, &two, 0);
  struct md_sample s = healthy(STEP);
  s.health_fail_streak = 3, s.latency_us = 2100;
  md_decide(&d, &s, &dec);
  check(dec.score == 880 && dec.rule_id == MD_R_HEALTH && dec.action == MD_ACT_REVERSE_ROLLBACK && dec.execute,
        "health (0.7) and latency +110 %% (0.6) together: 0.880, the health rule rolls back");
  check(dec.evals[0].contribution == 700 && dec.evals[1].contribution == 600, "the inputs: contributions 700 and 600");

  /* The threshold is the policy's: at 0.95 the error-rate row (0.92) and a warning (0.3) only pause. */
  P.score_threshold = 950;
  decider_on(&d, &P, 0);
  s = healthy(0);
  for (int i = 0; i < 120; i++) {
    s.now_ns += STEP, s.errors = 11, s.violating = s.anomalous = MD_M_ERRORS;
    md_decide(&d, &s, &dec);
  }
  check(fired(&dec, &P, MD_R_ERROR_RATE) && dec.score == 944 && dec.action == MD_ACT_PAUSE,
        "threshold 0.95: error rate fired, score 0.944, so pause");

  /* Every score is the noisy-OR of the contributions of the rules that hold. */
  md_policy_default(&P);
  decider_on(&d, &P, 0);
  int bad = 0;
  struct rng r = {3};
  for (int i = 0; i < 200; i++) {
    s = healthy(d.last_ns + STEP);
    s.latency_us = 1000 + (uint32_t)(rng_unit(&r) * 1500);
    s.errors = (uint32_t)(rng_unit(&r) * 20);
    s.health_fail_streak = (uint32_t)(rng_unit(&r) * 4);
    s.violating = s.anomalous = (uint32_t)(rng_next(&r) & (MD_M_LATENCY | MD_M_ERRORS));
    if (md_decide(&d, &s, &dec) != MD_OK) break;
    double rest = 1;
    for (uint32_t k = 0; k < P.rule_count; k++)
      if (dec.evals[k].holds) rest *= 1 - dec.evals[k].contribution / 1000.0;
    if (fabs(dec.score - 1000 * (1 - rest)) > 1.0) bad++;
    if (d.concluded) break;
  }
  check(bad == 0, "200 mixed samples: every score within 0.001 of the noisy-OR in double (%d off)", bad);
}
