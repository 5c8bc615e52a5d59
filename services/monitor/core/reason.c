/* reason.c -- a decision as one line for the audit log, in the seed's form (§4.3 5.1.3: "自动回滚
 * 触发，原因：错误率6.2%持续12分钟" -- automatic rollback triggered, reason: error rate 6.2% over
 * 12 min): the action, the rule's figure and the time it was measured over, and the confidence.
 * The figures come from the decision record; no printf in a guest, so the few number formats
 * needed are written here. */
#include "decide.h"

struct out {
  char *buf;
  uint32_t cap, len; /* len excludes the NUL; cap includes it */
};

static void put(struct out *o, const char *s) {
  for (; *s; s++)
    if (o->len + 1 < o->cap) o->buf[o->len++] = *s;
}

static void put_u64(struct out *o, uint64_t v) {
  char digits[21];
  int n = 0;
  do digits[n++] = (char)('0' + v % 10); while ((v /= 10) != 0);
  char s[22];
  for (int i = 0; i < n; i++) s[i] = digits[n - 1 - i];
  s[n] = '\0';
  put(o, s);
}

static void put_i64(struct out *o, int64_t v) {
  if (v < 0) put(o, "-");
  put_u64(o, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v);
}

/* tenths as "6.2"; signed. */
static void put_tenths(struct out *o, int64_t tenths) {
  if (tenths < 0) put(o, "-"), tenths = -tenths;
  put_u64(o, (uint64_t)tenths / 10);
  put(o, ".");
  put_u64(o, (uint64_t)tenths % 10);
}

static void put_percent_ppm(struct out *o, int64_t ppm) { put_tenths(o, ppm / 1000), put(o, "%"); }
static void put_percent_permille(struct out *o, int64_t pm) { put_tenths(o, pm), put(o, "%"); }

static void put_duration(struct out *o, uint64_t ns) {
  if (ns >= MD_NS_PER_MIN) put_u64(o, ns / MD_NS_PER_MIN), put(o, " min");
  else if (ns >= MD_NS_PER_SEC) put_u64(o, ns / MD_NS_PER_SEC), put(o, " s");
  else put_u64(o, ns / 1000000), put(o, " ms"); /* a window scaled down for a short run */
}

/* A windowed rule's value is measured over its window (decide.h), which the reason names; a rule
 * on the current sample alone has no window to name. */
static void over(struct out *o, const struct md_rule_eval *e) {
  if (e->covered_ns == 0) return;
  put(o, " over ");
  put_duration(o, e->covered_ns);
}

static void put_evidence(struct out *o, uint8_t sig, const struct md_rule_eval *e) {
  switch (sig) {
    case MD_SIG_CRASHES: put(o, "new instance crashed "), put_i64(o, e->value), put(o, " times in "), put_duration(o, e->covered_ns); break;
    case MD_SIG_START_FAILED: put(o, "new instance failed to start"); break;
    case MD_SIG_ERROR_PPM: put(o, "error rate "), put_percent_ppm(o, e->value), over(o, e); break;
    case MD_SIG_ANSWERED_PPM: put(o, "requests answered "), put_percent_ppm(o, e->value), over(o, e); break;
    case MD_SIG_CRITICAL_FAILED: put(o, "critical function checks failed "), put_percent_permille(o, e->value); break;
    case MD_SIG_CORRUPT: put(o, "data corruption risk: "), put_i64(o, e->value), put(o, " corrupted payloads"); break;
    case MD_SIG_PERF_DROP: put(o, "performance down "), put_percent_permille(o, e->value), over(o, e); break;
    case MD_SIG_LATENCY_RISE: put(o, "response time up "), put_percent_permille(o, e->value); break;
    case MD_SIG_MIG_SUCCESS: put(o, "migration success "), put_percent_permille(o, e->value), over(o, e); break;
    case MD_SIG_MIG_FAILED: put_i64(o, e->value), put(o, " connection migrations failed"); break;
    case MD_SIG_LEAK: put(o, "memory growing "), put_i64(o, e->value), put(o, " KiB/hour over "), put_duration(o, e->covered_ns); break;
    case MD_SIG_HEALTH_STREAK: put_i64(o, e->value), put(o, " health checks failed in a row"); break;
    case MD_SIG_CPU: put(o, "CPU at "), put_percent_permille(o, e->value), over(o, e); break;
    case MD_SIG_ANOMALIES: put_i64(o, e->value), put(o, " metrics outside their 3-sigma band"); break;
    default: put(o, "signal "), put_u64(o, sig); break;
  }
}

static const char *const ACTION_TEXT[MD_ACT_COUNT] = {
    [MD_ACT_CONTINUE] = "alert",
    [MD_ACT_RETRY] = "retrying failed connection migrations",
    [MD_ACT_PAUSE] = "update paused, rollback prepared",
    [MD_ACT_CONFIG_ROLLBACK] = "configuration rollback triggered",
    [MD_ACT_COMPONENT_ROLLBACK] = "component rollback triggered",
    [MD_ACT_REVERSE_ROLLBACK] = "automatic rollback triggered",
    [MD_ACT_EMERGENCY_ROLLBACK] = "emergency rollback triggered",
};

uint32_t md_decision_reason(const struct md_decision *dec, const struct md_policy *p, char *buf,
                            uint32_t cap) {
  struct out o = {buf, cap, 0};
  if (cap == 0) return 0;
  if (dec->rule < 0 || (uint32_t)dec->rule >= p->rule_count) {
    put(&o, "no rule fired");
  } else {
    put(&o, dec->action < MD_ACT_COUNT ? ACTION_TEXT[dec->action] : "action");
    put(&o, ", reason: ");
    put_evidence(&o, p->rules[dec->rule].signal, &dec->evals[dec->rule]);
    put(&o, " (confidence ");
    put_u64(&o, dec->score / 1000), put(&o, "."), put_u64(&o, dec->score / 100 % 10), put_u64(&o, dec->score / 10 % 10), put_u64(&o, dec->score % 10);
    put(&o, ")");
    if (dec->confirm == MD_CONFIRM_PENDING) put(&o, ", awaiting operator confirmation");
    if (dec->confirm == MD_CONFIRM_VETOED) put(&o, ", vetoed by the operator");
    if (dec->confirm == MD_CONFIRM_TIMED_OUT) put(&o, ", unconfirmed at the deadline");
  }
  buf[o.len] = '\0';
  return o.len;
}
