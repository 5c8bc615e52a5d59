/* t_healthy.c -- no false alarm: the whole pipeline (a detector per metric learning an hour of the
 * old version, then two hours of a healthy new one through the detectors, the decision engine
 * and the alert table) on a noisy stream whose load swings +-20 %. Nothing above a level-4 warning
 * may fire, no action but "continue", no alert above P2. */
#include <math.h>

#include "alerts.h"
#include "harness.h"
#include "scenarios.h"

struct metrics {
  uint32_t load, requests, errors, latency, throughput, memory, cpu;
};

/* One healthy 5-s interval at sample i. */
static struct metrics interval(struct rng *r, uint32_t i) {
  struct metrics m;
  m.load = (uint32_t)(1000 + 200 * sin(6.283185307179586 * i / 360.0)); /* a 30-minute swing */
  m.requests = rng_binomial(r, 400, 0.5 * m.load / 1000.0);
  m.errors = rng_binomial(r, m.requests, 0.01);
  m.latency = (uint32_t)rng_gauss(r, 1000 * (1 + 0.1 * (m.load - 1000.0) / 1000.0), 40);
  m.throughput = m.requests / 5;
  m.memory = (uint32_t)rng_gauss(r, 50000, 300);
  m.cpu = (uint32_t)rng_gauss(r, 300 * m.load / 1000.0, 15);
  return m;
}

static uint32_t value(const struct metrics *m, int metric) {
  switch (metric) {
    case 0: return m->latency;
    case 1: return m->throughput;
    case 2: return m->requests ? (uint32_t)((uint64_t)m->errors * 1000000 / m->requests) : 0;
    case 3: return m->memory;
    case 4: return m->cpu;
    default: return 0; /* health failures and migration rate: none in this stream */
  }
}

void t_healthy(void) {
  struct md_policy p;
  md_policy_default(&p);
  struct md_detector det[MD_METRICS];
  struct rng r = {2024};
  for (int k = 0; k < MD_METRICS; k++) md_detect_init(&det[k], &p.detect[k]);
  for (uint32_t i = 0; i < 720; i++) {
    struct metrics m = interval(&r, i);
    for (int k = 0; k < MD_METRICS; k++) md_detect_learn(&det[k], value(&m, k));
  }
  int frozen = 0;
  for (int k = 0; k < MD_METRICS; k++) frozen += md_detect_freeze(&det[k]) == MD_OK;
  check(frozen == MD_METRICS, "an hour of baseline: every detector frozen");
  struct md_baseline base = {(uint32_t)(md_detect_mean_q16(&det[0]) >> 16), (uint32_t)(md_detect_mean_q16(&det[1]) >> 16), 0};
  check(base.latency_us > 990 && base.latency_us < 1010 && base.throughput >= 39 && base.throughput <= 41,
        "the baseline: latency %u us, throughput %u/s", base.latency_us, base.throughput);

  struct md_decider d;
  struct md_update_context ctx = {.code_changed = 1};
  md_decider_init(&d, &p, &base, &ctx, 0);
  struct md_alerts alerts;
  md_alerts_init(&alerts, &p);
  uint32_t worst_level = 0xff, worst_action = 0, violations = 0, warnings = 0, sent = 0, urgent = 0, prev_fired = 0;
  for (uint32_t i = 0; i < 1440; i++) {
    struct metrics m = interval(&r, 720 + i);
    struct md_sample s = {
        .now_ns = (i + 1) * STEP, .requests = m.requests, .errors = m.errors, .latency_us = m.latency,
        .throughput = m.throughput, .load_permille = m.load, .cpu_permille = m.cpu, .memory_kib = m.memory,
        .mig_attempted = i < 120 ? 10 : 0, .mig_ok = i < 120 ? 10 : 0,
    };
    for (int k = 0; k < MD_METRICS; k++) {
      struct md_detect_result res;
      md_detect_observe(&det[k], value(&m, k), m.load, &res);
      if (res.verdict != MD_NORMAL) s.violating |= 1u << k, violations++;
      if (res.verdict == MD_ANOMALY) s.anomalous |= 1u << k;
    }
    struct md_decision dec;
    if (md_decide(&d, &s, &dec) != MD_OK) {
      check(false, "sample %u refused", i);
      return;
    }
    if (dec.level != MD_LEVEL_NONE && dec.level < worst_level) worst_level = dec.level;
    if (dec.action > worst_action) worst_action = dec.action;
    if (dec.level == MD_LEVEL_LOW) warnings++;
    /* One alert per rule as it starts to fire, as the service raises them. */
    for (uint32_t k = 0; k < p.rule_count; k++) {
      if (!(dec.fired_mask >> k & 1) || (prev_fired >> k & 1)) continue;
      struct md_alert al = {.at_ns = s.now_ns, .source = 1, .kind = p.rules[k].id, .priority = md_priority_of_level(p.rules[k].level)};
      struct md_alert_out o;
      md_alert_raise(&alerts, &al, &o);
      sent += o.verdict == MD_ALERT_SENT || o.verdict == MD_ALERT_ESCALATED;
      urgent += al.priority <= MD_P1;
    }
    prev_fired = dec.fired_mask;
  }
  check(worst_action == MD_ACT_CONTINUE, "two healthy hours: the action was always continue");
  check(worst_level == 0xff || worst_level == MD_LEVEL_LOW, "no rule above a level-4 warning fired (%u warning samples)", warnings);
  check(urgent == 0, "no P0 or P1 alert (%u alerts sent in all)", sent);
  check(violations < 1440 * MD_METRICS / 100, "single band violations stay rare: %u of %u metric samples", violations, 1440 * MD_METRICS);
}
