/* policy.c -- the seed's values as the default policy, and the check every loaded policy passes
 * before a decider or an alert table takes it. The rule table is the seed's §4.2 matrix, its §4.3
 * step 5.1 rules and its §4.1 level indicators; docs/monitor.md explains each weight. */
#include "policy.h"

#define MIN(n) ((uint64_t)(n) * MD_NS_PER_MIN)
#define SEC(n) ((uint64_t)(n) * MD_NS_PER_SEC)

static const struct md_rule DEFAULT_RULES[] = {
    /* §4.2: the matrix, row by row. */
    {MD_R_CRASH_LOOP, MD_SIG_CRASHES, MD_GE, MD_LEVEL_CRITICAL, MD_ACT_REVERSE_ROLLBACK, 0, 1000, 0, 3, MIN(5)},
    {MD_R_ERROR_RATE, MD_SIG_ERROR_PPM, MD_GT, MD_LEVEL_CRITICAL, MD_ACT_REVERSE_ROLLBACK, MD_RULE_NEEDS_REQS, 920, MD_M_ERRORS, 50000, MIN(10)},
    {MD_R_CRITICAL_FUNCTION, MD_SIG_CRITICAL_FAILED, MD_GE, MD_LEVEL_CRITICAL, MD_ACT_REVERSE_ROLLBACK, 0, 950, 0, 1000, 0},
    {MD_R_PERF_DOWN, MD_SIG_PERF_DROP, MD_GT, MD_LEVEL_HIGH, MD_ACT_REVERSE_ROLLBACK, 0, 850, MD_M_LATENCY | MD_M_THROUGHPUT, 300, MIN(15)},
    {MD_R_MIGRATION_STALL, MD_SIG_MIG_SUCCESS, MD_LT, MD_LEVEL_HIGH, MD_ACT_PAUSE, 0, 500, 0, 800, MIN(30)},
    {MD_R_LEAK, MD_SIG_LEAK, MD_GT, MD_LEVEL_MEDIUM, MD_ACT_CONTINUE, 0, 400, 0, 100 * 1024, MIN(60)},
    /* §4.3 step 5.1.2: the decision engine's rules 2-4 (rule 1 is the error-rate row above). */
    {MD_R_LATENCY_RISE, MD_SIG_LATENCY_RISE, MD_GT, MD_LEVEL_HIGH, MD_ACT_PAUSE, 0, 600, MD_M_LATENCY, 1000, 0},
    {MD_R_UNAVAILABLE, MD_SIG_ANSWERED_PPM, MD_LE, MD_LEVEL_CRITICAL, MD_ACT_EMERGENCY_ROLLBACK, MD_RULE_NEEDS_REQS, 1000, 0, 0, 0},
    {MD_R_CORRUPTION, MD_SIG_CORRUPT, MD_GE, MD_LEVEL_CRITICAL, MD_ACT_EMERGENCY_ROLLBACK, MD_RULE_FORCED, 1000, 0, 1, 0},
    /* §4.1: the indicators of each failure level, with its response. */
    {MD_R_START_FAILED, MD_SIG_START_FAILED, MD_GE, MD_LEVEL_CRITICAL, MD_ACT_REVERSE_ROLLBACK, 0, 1000, 0, 1, MIN(2)}, /* not running for 2 min: a restart gets that long */
    {MD_R_MIGRATION_LOW, MD_SIG_MIG_SUCCESS, MD_LT, MD_LEVEL_HIGH, MD_ACT_PAUSE, 0, 500, 0, 900, SEC(20)},
    {MD_R_PERF_HALVED, MD_SIG_PERF_DROP, MD_GT, MD_LEVEL_HIGH, MD_ACT_PAUSE, 0, 700, MD_M_LATENCY | MD_M_THROUGHPUT, 500, SEC(20)},
    {MD_R_CONN_MIGRATION, MD_SIG_MIG_FAILED, MD_GE, MD_LEVEL_MEDIUM, MD_ACT_RETRY, 0, 200, 0, 1, 0},
    {MD_R_PERF_SLIGHT, MD_SIG_PERF_DROP, MD_GT, MD_LEVEL_LOW, MD_ACT_CONTINUE, 0, 100, MD_M_LATENCY | MD_M_THROUGHPUT, 0, 0},
    /* §4.3 step 5.1.1 and §5.1: what the monitoring dashboard alarms on. */
    {MD_R_HEALTH, MD_SIG_HEALTH_STREAK, MD_GE, MD_LEVEL_HIGH, MD_ACT_REVERSE_ROLLBACK, 0, 700, 0, 3, 0},
    {MD_R_CPU, MD_SIG_CPU, MD_GT, MD_LEVEL_MEDIUM, MD_ACT_CONTINUE, 0, 200, 0, 800, MIN(1)},
    {MD_R_AVAILABILITY, MD_SIG_ANSWERED_PPM, MD_LT, MD_LEVEL_HIGH, MD_ACT_PAUSE, MD_RULE_NEEDS_REQS, 600, 0, 999000, MIN(5)},
    /* §5.2: a 3-sigma anomaly on any metric is a warning. */
    {MD_R_ANOMALY, MD_SIG_ANOMALIES, MD_GE, MD_LEVEL_LOW, MD_ACT_CONTINUE, 0, 300, 0, 1, 0},
};
#define DEFAULT_RULE_COUNT (sizeof DEFAULT_RULES / sizeof DEFAULT_RULES[0])

_Static_assert(DEFAULT_RULE_COUNT <= MD_MAX_RULES, "the default table fits");

/* Every metric: the 3-sigma rule, three violations in a row, a band of at least 5 % of the mean.
 * Throughput is bad when it falls and follows the offered load; so does CPU, which is bad when
 * it rises. Error rate floors its band at 1 % (10000 ppm): a service with no errors in its
 * baseline must not alarm on its first one. */
static const struct md_detect_params DEFAULT_DETECT = {
    .k_milli = 3000, .min_band = 1, .min_band_permille = 50, .consecutive = 3,
    .load_widen_max_permille = 2000, .min_samples = 20, .direction = MD_DIR_UP, .scales_with_load = 0,
};

void md_policy_default(struct md_policy *p) {
  p->score_threshold = 800;
  p->confirm_required = 0;
  p->partial_allowed = MD_PARTIAL_CONFIG | MD_PARTIAL_COMPONENT;
  p->confirm_timeout_ns = MIN(5);
  p->min_requests = 20;
  p->rule_count = DEFAULT_RULE_COUNT;
  for (uint32_t i = 0; i < MD_MAX_RULES; i++) p->rules[i] = i < DEFAULT_RULE_COUNT ? DEFAULT_RULES[i] : (struct md_rule){0};
  for (int m = 0; m < MD_METRICS; m++) p->detect[m] = DEFAULT_DETECT;
  p->detect[md_metric_index(MD_M_THROUGHPUT)].direction = MD_DIR_DOWN;
  p->detect[md_metric_index(MD_M_THROUGHPUT)].scales_with_load = 1;
  p->detect[md_metric_index(MD_M_CPU)].scales_with_load = 1;
  p->detect[md_metric_index(MD_M_ERRORS)].min_band = 10000;
  p->detect[md_metric_index(MD_M_MIGRATION)].direction = MD_DIR_DOWN;
  p->dup_window_ns = MIN(5);
  p->corr_window_ns = MIN(2);
  p->routes[MD_P0] = MD_ROUTE_LOG | MD_ROUTE_STREAM | MD_ROUTE_FILE | MD_ROUTE_AUDIT | MD_ROUTE_PAGE;
  p->routes[MD_P1] = MD_ROUTE_LOG | MD_ROUTE_STREAM | MD_ROUTE_FILE | MD_ROUTE_AUDIT;
  p->routes[MD_P2] = MD_ROUTE_LOG | MD_ROUTE_STREAM | MD_ROUTE_FILE;
  p->routes[MD_P3] = MD_ROUTE_LOG | MD_ROUTE_FILE; /* §5.2.2: P3 is only recorded */
  p->silence_spares = 1;
}

int md_metric_index(uint32_t metric_bit) {
  for (int i = 0; i < MD_METRICS; i++)
    if (metric_bit == 1u << i) return i;
  return -1;
}

static int rule_ok(const struct md_rule *r) {
  if (r->id == 0 || r->id > MD_R_ID_MAX || r->signal >= MD_SIG_COUNT || r->cmp > MD_LE) return 0;
  if (r->level < MD_LEVEL_CRITICAL || r->level > MD_LEVEL_LOW || r->action >= MD_ACT_COUNT) return 0;
  if (r->flags & ~(MD_RULE_FORCED | MD_RULE_NEEDS_REQS) || r->weight > 1000 || r->gate & ~MD_M_ALL) return 0;
  /* A window is cut into buckets of window/16 ns: at least one ns each, at most a day in all. */
  return r->window_ns == 0 || (r->window_ns >= 16 && r->window_ns <= MD_TREND_WINDOW_MAX);
}

int md_policy_check(const struct md_policy *p, int *bad_rule) {
  *bad_rule = -1;
  if (p->score_threshold == 0 || p->score_threshold > 1000 || p->confirm_required > 1) return -MD_E_POLICY;
  if (p->partial_allowed & ~(MD_PARTIAL_CONFIG | MD_PARTIAL_COMPONENT) || p->rule_count > MD_MAX_RULES) return -MD_E_POLICY;
  if (p->confirm_required && p->confirm_timeout_ns == 0) return -MD_E_POLICY;
  for (uint32_t i = 0; i < p->rule_count; i++) {
    if (!rule_ok(&p->rules[i])) {
      *bad_rule = (int)i;
      return -MD_E_POLICY;
    }
    for (uint32_t j = 0; j < i; j++) /* ids name rules in records: one rule each */
      if (p->rules[j].id == p->rules[i].id) {
        *bad_rule = (int)i;
        return -MD_E_POLICY;
      }
  }
  struct md_detector probe;
  for (int m = 0; m < MD_METRICS; m++)
    if (md_detect_init(&probe, &p->detect[m]) != MD_OK) return -MD_E_POLICY;
  if (p->dup_window_ns == 0 || p->silence_spares > MD_PRIORITY_COUNT) return -MD_E_POLICY;
  for (int i = 0; i < MD_PRIORITY_COUNT; i++)
    if (p->routes[i] & ~0x1f || !(p->routes[i] & MD_ROUTE_LOG)) return -MD_E_POLICY;
  return MD_OK;
}
