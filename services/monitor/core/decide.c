/* decide.c -- one sample interval through every rule: the rolling windows, each signal's value, the
 * confidence score, the action, partial rollback by root cause, and operator confirmation. The
 * semantics are in decide.h; docs/monitor.md walks through the default table. */
#include "decide.h"

/* Signals read from the latest sample only: a window asks them to hold that long without a break. */
static int is_gauge(uint8_t sig) {
  return sig == MD_SIG_START_FAILED || sig == MD_SIG_HEALTH_STREAK || sig == MD_SIG_ANOMALIES;
}

/* Event counts: "3 crashes within 5 minutes" holds as soon as the third comes; the window only
 * bounds how far back they are counted. */
static int is_count(uint8_t sig) {
  return sig == MD_SIG_CRASHES || sig == MD_SIG_CORRUPT || sig == MD_SIG_MIG_FAILED;
}

static uint32_t popcount(uint32_t x) {
  uint32_t n = 0;
  for (; x; x &= x - 1) n++;
  return n;
}

/* A sample's part in a signal: up to two numerator/denominator pairs, summed over a window. */
static void inputs(uint8_t sig, const struct md_sample *s, uint64_t acc[4]) {
  acc[0] = acc[1] = acc[2] = acc[3] = 0;
  uint64_t answered = (uint64_t)s->requests - s->unanswered;
  switch (sig) {
    case MD_SIG_CRASHES: acc[0] = s->crashes; break;
    case MD_SIG_START_FAILED: acc[0] = s->start_failed; break;
    case MD_SIG_ERROR_PPM: acc[0] = (uint64_t)s->errors + s->unanswered, acc[1] = s->requests, acc[2] = s->call_errors, acc[3] = s->calls; break;
    case MD_SIG_ANSWERED_PPM: acc[0] = answered, acc[1] = s->requests; break;
    case MD_SIG_CRITICAL_FAILED: acc[0] = s->critical_failed, acc[1] = s->critical_checks; break;
    case MD_SIG_CORRUPT: acc[0] = s->corrupt; break;
    case MD_SIG_PERF_DROP:
    case MD_SIG_LATENCY_RISE:
      /* Throughput is scaled to the baseline load: less demand is not less performance. */
      if (s->load_permille > 0) acc[0] = (uint64_t)s->throughput * 1000 / s->load_permille, acc[1] = 1;
      acc[2] = (uint64_t)s->latency_us * answered, acc[3] = answered;
      break;
    case MD_SIG_MIG_SUCCESS: acc[0] = s->mig_ok, acc[1] = s->mig_attempted; break;
    case MD_SIG_MIG_FAILED: acc[0] = s->mig_failed; break;
    case MD_SIG_HEALTH_STREAK: acc[0] = s->health_fail_streak; break;
    case MD_SIG_CPU: acc[0] = s->cpu_permille, acc[1] = 1; break;
    case MD_SIG_ANOMALIES: acc[0] = popcount(s->anomalous); break;
    default: break; /* MD_SIG_LEAK: the trend */
  }
}

/* The signal's value from summed inputs; 0 when there is nothing to measure. */
static int value_of(uint8_t sig, const uint64_t a[4], const struct md_baseline *b, int64_t *v) {
  switch (sig) {
    case MD_SIG_ERROR_PPM: {
      /* A request fails when it is not answered or answered with an error, counted in requests,
       * or -- among the answered ones -- when its application call was answered with an error:
       * 1 - (1 - u)(1 - e), in ppm. */
      if (a[1] == 0) return 0;
      uint64_t u = md_mul_div(a[0], 1000000, a[1]), e = a[3] ? md_mul_div(a[2], 1000000, a[3]) : 0;
      uint64_t rate = u + e - md_mul_div(u, e, 1000000);
      /* What the old version failed as well is no regression: the share above the baseline's. */
      *v = rate > b->error_ppm ? (int64_t)(rate - b->error_ppm) : 0;
      return 1;
    }
    case MD_SIG_ANSWERED_PPM:
      if (a[1] == 0) return 0;
      *v = (int64_t)md_mul_div(a[0], 1000000, a[1]);
      return 1;
    case MD_SIG_CRITICAL_FAILED:
    case MD_SIG_MIG_SUCCESS:
      if (a[1] == 0) return 0;
      *v = (int64_t)md_mul_div(a[0], 1000, a[1]);
      return 1;
    case MD_SIG_CPU: /* the mean of the samples' permille */
      if (a[1] == 0) return 0;
      *v = (int64_t)(a[0] / a[1]);
      return 1;
    case MD_SIG_PERF_DROP: {
      /* Performance lost: the worse of throughput below the baseline and latency above it, both
       * as the share of the service rate gone (latency doubled: 500 permille). */
      if (a[1] == 0 && a[3] == 0) return 0;
      uint64_t drop = 0;
      if (a[1] > 0) {
        uint64_t thr = a[0] / a[1];
        if (thr < b->throughput) drop = 1000 - md_mul_div(thr, 1000, b->throughput);
      }
      if (a[3] > 0) {
        uint64_t lat = a[2] / a[3];
        if (lat > b->latency_us) drop = md_max_u64(drop, 1000 - md_mul_div(b->latency_us, 1000, lat));
      }
      *v = (int64_t)drop;
      return 1;
    }
    case MD_SIG_LATENCY_RISE:
      if (a[3] == 0) return 0;
      *v = (int64_t)md_mul_div(a[2] / a[3], 1000, b->latency_us) - 1000;
      return 1;
    default:
      *v = (int64_t)a[0];
      return 1;
  }
}

/* A ratio of requests counts only with the policy's min_requests in its inputs (a[1]: a sample's
 * or a window's requests); an error rate's calls (a[3]) likewise, or their share is left out. */
static int enough_requests(const struct md_decider *d, uint8_t sig, uint64_t a[5]) {
  if (sig == MD_SIG_ERROR_PPM && a[3] < d->policy->min_requests) a[2] = a[3] = 0;
  return a[1] >= d->policy->min_requests;
}

static int compare(uint8_t cmp, int64_t v, int64_t t) {
  return cmp == MD_GT ? v > t : cmp == MD_GE ? v >= t : cmp == MD_LT ? v < t : v <= t;
}

static void window_add(struct md_window *w, uint64_t now, const uint64_t acc[4], int gated) {
  uint64_t idx = now / w->bucket_ns;
  for (uint64_t k = w->newest + 1; k <= idx && k <= w->newest + MD_BUCKETS; k++) {
    for (int j = 0; j < 5; j++) w->acc[k % MD_BUCKETS][j] = 0;
    w->gated[k % MD_BUCKETS] = 0;
  }
  if (idx > w->newest) w->newest = idx;
  uint64_t *b = w->acc[idx % MD_BUCKETS];
  for (int j = 0; j < 4; j++) b[j] += acc[j];
  b[4]++;
  w->gated[idx % MD_BUCKETS] += (uint64_t)gated;
}

static void window_sum(const struct md_window *w, uint64_t sum[5], uint64_t *gated) {
  for (int j = 0; j < 5; j++) sum[j] = 0;
  *gated = 0;
  for (int i = 0; i < MD_BUCKETS; i++) {
    for (int j = 0; j < 5; j++) sum[j] += w->acc[i][j];
    *gated += w->gated[i];
  }
}

int md_decider_init(struct md_decider *d, const struct md_policy *p, const struct md_baseline *base,
                    const struct md_update_context *ctx, uint64_t start_ns) {
  int bad, leaks = 0;
  if (md_policy_check(p, &bad) != MD_OK || base->latency_us == 0 || base->throughput == 0 || base->error_ppm > 1000000) return -MD_E_POLICY;
  uint64_t leak_window = 0;
  for (uint32_t i = 0; i < p->rule_count; i++)
    if (p->rules[i].signal == MD_SIG_LEAK && leaks++ == 0) leak_window = p->rules[i].window_ns;
  if (leaks > 1 || (leaks == 1 && leak_window < MD_TREND_POINTS)) return -MD_E_POLICY; /* one trend, over a window */
  md_zero(d, sizeof *d);
  d->policy = p, d->base = *base, d->ctx = *ctx, d->start_ns = start_ns, d->last_ns = start_ns;
  for (uint32_t i = 0; i < p->rule_count; i++) {
    uint64_t w = p->rules[i].window_ns;
    d->win[i].bucket_ns = w == 0 ? 1 : w / MD_BUCKETS;
    d->win[i].newest = start_ns / d->win[i].bucket_ns;
  }
  md_trend_init(&d->memory, leaks > 0 ? leak_window : MD_TREND_WINDOW_MAX);
  return MD_OK;
}

static int sample_ok(const struct md_decider *d, const struct md_sample *s) {
  if (s->errors > s->requests || s->unanswered > s->requests - s->errors || s->call_errors > s->calls) return 0;
  if (s->corrupt > s->requests - s->unanswered || s->critical_failed > s->critical_checks) return 0;
  if (s->mig_ok > s->mig_attempted || s->mig_failed > s->mig_attempted - s->mig_ok) return 0;
  if (s->start_failed > 1 || s->memory_kib > MD_SAMPLE_MAX || s->load_permille > 1000000) return 0;
  if (s->cpu_permille > 1000 || (s->violating | s->anomalous) & ~MD_M_ALL) return 0;
  return s->now_ns > d->last_ns;
}

/* The rule's evaluation for this sample; the windows already hold the sample. */
static void evaluate(struct md_decider *d, uint32_t i, const struct md_sample *s, struct md_rule_eval *e) {
  const struct md_rule *r = &d->policy->rules[i];
  uint64_t now = s->now_ns, a[5], gated;
  int gate_ok;
  *e = (struct md_rule_eval){0};
  if (r->signal == MD_SIG_LEAK) {
    uint64_t span;
    /* The trend keeps the window's points; the window is covered once the watch has lasted it
     * (its first and last points' span depends on when samples fell, and would flicker). */
    e->value = md_trend_slope_per_hour(&d->memory, &span);
    e->has_value = d->memory.n >= 3;
    e->covered_ns = md_min_u64(now - d->start_ns, r->window_ns);
    gate_ok = r->gate == 0 || (s->anomalous & r->gate);
  } else if (r->window_ns == 0 || is_gauge(r->signal)) {
    inputs(r->signal, s, a);
    int enough = !(r->flags & MD_RULE_NEEDS_REQS) || enough_requests(d, r->signal, a);
    e->has_value = (uint8_t)(value_of(r->signal, a, &d->base, &e->value) && enough);
    e->covered_ns = r->window_ns;
    gate_ok = r->gate == 0 || (s->anomalous & r->gate);
  } else {
    window_sum(&d->win[i], a, &gated);
    int enough = !(r->flags & MD_RULE_NEEDS_REQS) || enough_requests(d, r->signal, a);
    e->has_value = (uint8_t)(value_of(r->signal, a, &d->base, &e->value) && enough);
    e->covered_ns = md_min_u64(now - d->start_ns, r->window_ns);
    /* Over a window, the gate asks that most samples in it were outside their band. */
    gate_ok = r->gate == 0 || gated * 2 > a[4];
  }
  e->holds = e->has_value && gate_ok && compare(r->cmp, e->value, r->threshold);
  if (!e->holds) {
    d->holding &= ~(1u << i);
    return;
  }
  if (!(d->holding & (1u << i))) d->holding |= 1u << i, d->since_ns[i] = d->last_ns; /* since this interval began */
  e->held_ns = now - d->since_ns[i];
  if (is_gauge(r->signal) && r->window_ns > 0) e->covered_ns = md_min_u64(e->held_ns, r->window_ns);
  e->strength = r->window_ns == 0 || is_count(r->signal) ? 1000 : (uint16_t)md_mul_div(e->covered_ns, 1000, r->window_ns);
  e->fired = e->strength == 1000;
  e->contribution = (uint16_t)(r->weight * e->strength / 1000);
}

/* The rule a decision names: the most severe level, then the most drastic action, the heaviest
 * weight, the first in the table. */
static int more_severe(const struct md_rule *a, const struct md_rule *b) {
  if (a->level != b->level) return a->level < b->level;
  if (a->action != b->action) return a->action > b->action;
  return a->weight > b->weight;
}

static void totals_add(struct md_cause_totals *t, const struct md_sample *s) {
  t->crashes += s->crashes, t->corrupt += s->corrupt, t->start_failed += s->start_failed;
  t->errors += (uint64_t)s->errors + s->call_errors, t->unanswered += s->unanswered;
  t->denials += s->cause.denials, t->resource_refusals += s->cause.resource_refusals;
  t->dependency_errors += s->cause.dependency_errors;
  t->fault_components |= s->cause.fault_components;
}

/* A reverse or emergency rollback narrowed to what the root cause allows (seed §4.4). */
static uint8_t partial(const struct md_decider *d, uint8_t action, const struct md_cause_result *c) {
  uint8_t allowed = d->policy->partial_allowed;
  if (action != MD_ACT_REVERSE_ROLLBACK && action != MD_ACT_EMERGENCY_ROLLBACK) return action;
  if (c->cause == MD_CAUSE_CONFIG && d->ctx.config_changed && (allowed & MD_PARTIAL_CONFIG))
    return MD_ACT_CONFIG_ROLLBACK;
  if (c->cause == MD_CAUSE_CODE && c->component != 0 && (allowed & MD_PARTIAL_COMPONENT))
    return MD_ACT_COMPONENT_ROLLBACK;
  return action;
}

/* Operator confirmation (§4.3 5.1.3) for a rollback; sets dec->confirm and dec->execute. */
static void confirmation(struct md_decider *d, struct md_decision *dec, uint64_t now) {
  if (dec->forced || !d->policy->confirm_required) {
    dec->confirm = dec->forced ? MD_CONFIRM_SKIPPED : MD_CONFIRM_NOT_REQUIRED;
    dec->execute = 1;
    return;
  }
  /* A first request, or one more drastic than the action last asked for or vetoed, asks again. */
  int ask = d->confirm == MD_CONFIRM_NONE ||
            ((d->confirm == MD_CONFIRM_PENDING || d->confirm == MD_CONFIRM_VETOED) && dec->action > d->confirm_action);
  if (ask) {
    if (d->confirm != MD_CONFIRM_PENDING) d->confirm_deadline_ns = now + d->policy->confirm_timeout_ns;
    d->confirm = MD_CONFIRM_PENDING;
    d->confirm_action = dec->action;
  }
  if (d->confirm == MD_CONFIRM_PENDING && now >= d->confirm_deadline_ns) d->confirm = MD_CONFIRM_TIMED_OUT;
  dec->confirm = d->confirm;
  dec->confirm_deadline_ns = d->confirm_deadline_ns;
  dec->execute = d->confirm == MD_CONFIRM_CONFIRMED || d->confirm == MD_CONFIRM_TIMED_OUT;
}

int md_decide(struct md_decider *d, const struct md_sample *s, struct md_decision *out) {
  if (d->concluded) return -MD_E_STATE;
  if (s->now_ns <= d->last_ns) return -MD_E_TIME;
  if (!sample_ok(d, s)) return -MD_E_RANGE;
  const struct md_policy *p = d->policy;

  for (uint32_t i = 0; i < p->rule_count; i++) {
    const struct md_rule *r = &p->rules[i];
    if (r->window_ns == 0 || is_gauge(r->signal) || r->signal == MD_SIG_LEAK) continue;
    uint64_t acc[4];
    inputs(r->signal, s, acc);
    window_add(&d->win[i], s->now_ns, acc, ((s->violating | s->anomalous) & r->gate) != 0);
  }
  md_trend_add(&d->memory, s->now_ns, s->memory_kib); /* cannot fail: time and value checked */
  totals_add(&d->totals, s);

  md_zero(out, sizeof *out);
  out->at_ns = s->now_ns, out->rule = -1;
  uint64_t rest = 1000000; /* ppm of doubt left: the noisy-OR's product */
  uint8_t rollback = MD_ACT_CONTINUE, other = MD_ACT_CONTINUE;
  for (uint32_t i = 0; i < p->rule_count; i++) {
    const struct md_rule *r = &p->rules[i];
    struct md_rule_eval *e = &out->evals[i];
    evaluate(d, i, s, e);
    if (!e->holds) continue;
    out->holding_mask |= 1u << i;
    rest = (rest * (1000 - e->contribution) + 500) / 1000;
    if (r->flags & MD_RULE_FORCED) out->forced = 1;
    if (!e->fired) continue;
    out->fired_mask |= 1u << i;
    d->totals.signals_fired |= 1u << r->signal;
    if (out->rule < 0 || more_severe(r, &p->rules[out->rule])) out->rule = (int32_t)i;
    if (md_action_is_rollback(r->action)) rollback = r->action > rollback ? r->action : rollback;
    else other = r->action > other ? r->action : other;
  }
  out->score = (uint16_t)((1000000 - rest + 500) / 1000);
  if (out->rule >= 0) {
    out->rule_id = p->rules[out->rule].id;
    out->level = p->rules[out->rule].level;
  }
  md_classify(&d->totals, &d->ctx, &out->cause);

  /* A rollback needs a fired rollback rule and the confidence; short of it, prepare (pause). */
  if (rollback != MD_ACT_CONTINUE && out->score >= p->score_threshold) {
    out->action = out->forced ? rollback : partial(d, rollback, &out->cause);
    confirmation(d, out, s->now_ns);
  } else {
    out->action = rollback != MD_ACT_CONTINUE && other < MD_ACT_PAUSE ? MD_ACT_PAUSE : other;
    out->execute = out->action != MD_ACT_CONTINUE;
    d->confirm = MD_CONFIRM_NONE; /* the condition cleared: a pending request lapses */
  }
  if (md_action_is_rollback(out->action) && out->execute) d->concluded = 1;
  d->last_ns = s->now_ns;
  return MD_OK;
}

int md_decider_answer(struct md_decider *d, int confirm) {
  if (d->confirm != MD_CONFIRM_PENDING) return -MD_E_STATE;
  d->confirm = confirm ? MD_CONFIRM_CONFIRMED : MD_CONFIRM_VETOED;
  return MD_OK;
}
