/* t_confirm.c -- operator confirmation with its timeout (seed §4.3 step 5.1.3), partial rollback
 * chosen by root cause (§4.4), the audit reason in the seed's form, and every refused policy or
 * sample leaving the decider exactly as it was. */
#include <stddef.h>
#include <string.h>

#include "harness.h"
#include "scenarios.h"

static struct md_policy P;

static void crash_loop(struct md_sample *s, uint32_t i, void *arg) {
  if (i < 3) s->crashes = 1;
  if (arg) s->cause.fault_components = *(uint32_t *)arg;
}

static void critical_down(struct md_sample *s, uint32_t i, void *arg) {
  (void)i;
  s->critical_checks = 5, s->critical_failed = 5;
  s->cause.denials = arg ? *(uint32_t *)arg : 0;
}

static void error_rate(struct md_sample *s, uint32_t i, void *arg) {
  (void)i, (void)arg;
  s->requests = 500, s->errors = 31; /* 6.2 % */
  s->violating = s->anomalous = MD_M_ERRORS;
}

void t_confirm(void) {
  md_policy_default(&P);
  P.confirm_required = 1;
  struct md_decider d;
  struct md_decision dec;
  decider_on(&d, &P, 0);
  feed(&d, 3, crash_loop, 0, &dec);
  check(dec.action == MD_ACT_REVERSE_ROLLBACK && dec.confirm == MD_CONFIRM_PENDING && !dec.execute &&
            dec.confirm_deadline_ns == 3 * STEP + MIN(5), "confirmation required: the rollback waits, deadline in 5 min");
  feed(&d, 10, 0, 0, &dec);
  check(dec.confirm == MD_CONFIRM_PENDING && !dec.execute, "still pending while the crash loop stands");
  check(md_decider_answer(&d, 1) == MD_OK, "the operator confirms");
  feed(&d, 1, 0, 0, &dec);
  check(dec.confirm == MD_CONFIRM_CONFIRMED && dec.execute && d.concluded, "confirmed: executed");

  decider_on(&d, &P, 0);
  feed(&d, 3, crash_loop, 0, &dec);
  md_decider_answer(&d, 0);
  feed(&d, 1, 0, 0, &dec);
  check(dec.confirm == MD_CONFIRM_VETOED && !dec.execute && !d.concluded, "vetoed: not executed, the watch goes on");
  check(md_decider_answer(&d, 1) == -MD_E_STATE, "nothing pending after a veto: an answer is refused");
  struct md_sample s = healthy(d.last_ns + STEP);
  s.errors = 0, s.unanswered = 200;
  md_decide(&d, &s, &dec);
  check(dec.action == MD_ACT_EMERGENCY_ROLLBACK && dec.confirm == MD_CONFIRM_PENDING &&
            dec.confirm_deadline_ns == s.now_ns + MIN(5), "then a complete failure: more drastic, so asked again");

  decider_on(&d, &P, 0);
  feed(&d, 1, critical_down, 0, &dec);
  feed(&d, 59, critical_down, 0, &dec);
  check(dec.confirm == MD_CONFIRM_PENDING && !dec.execute, "no answer, 4 min 55 s later: still pending");
  feed(&d, 1, critical_down, 0, &dec);
  check(dec.confirm == MD_CONFIRM_TIMED_OUT && dec.execute && d.concluded, "no answer by the deadline: executed anyway");

  decider_on(&d, &P, 0);
  feed(&d, 1, critical_down, 0, &dec);
  check(dec.confirm == MD_CONFIRM_PENDING, "critical function down: pending");
  feed(&d, 1, 0, 0, &dec);
  check(dec.action == MD_ACT_CONTINUE && dec.confirm == MD_CONFIRM_NONE && md_decider_answer(&d, 1) == -MD_E_STATE,
        "it recovers: the request lapses, a late answer is refused");

  decider_on(&d, &P, 0);
  s = healthy(STEP);
  s.corrupt = 2;
  md_decide(&d, &s, &dec);
  check(dec.action == MD_ACT_EMERGENCY_ROLLBACK && dec.confirm == MD_CONFIRM_SKIPPED && dec.execute,
        "data corruption risk: confirmation skipped, executed");
  md_policy_default(&P);
  decider_on(&d, &P, 0);
  feed(&d, 3, crash_loop, 0, &dec);
  check(dec.confirm == MD_CONFIRM_NOT_REQUIRED && dec.execute, "without confirmation in the policy: executed at once");
}

void t_partial(void) {
  md_policy_default(&P);
  struct md_decider d;
  struct md_decision dec;
  struct md_update_context both = {.code_changed = 1, .config_changed = 1, .components = 0x2};
  decider_on(&d, &P, &both);
  feed(&d, 1, critical_down, &(uint32_t){40}, &dec);
  check(dec.action == MD_ACT_CONFIG_ROLLBACK && dec.cause.cause == MD_CAUSE_CONFIG && (dec.cause.evidence & MD_EV_DENIALS),
        "a critical function down and 40 requests refused by the new configuration: configuration rollback");
  struct md_update_context config_only = {.config_changed = 1};
  decider_on(&d, &P, &config_only);
  feed(&d, 120, error_rate, 0, &dec);
  check(dec.action == MD_ACT_CONFIG_ROLLBACK && (dec.cause.evidence & MD_EV_CONFIG_ONLY),
        "6.2 %% errors after a configuration-only change: configuration rollback");
  decider_on(&d, &P, &both);
  feed(&d, 3, crash_loop, &(uint32_t){0x2}, &dec);
  check(dec.action == MD_ACT_COMPONENT_ROLLBACK && dec.cause.component == 0x2 && dec.cause.cause == MD_CAUSE_CODE,
        "crashes all inside component 0x2, which can roll back alone: component rollback");
  decider_on(&d, &P, &both);
  feed(&d, 3, crash_loop, &(uint32_t){0x3}, &dec);
  check(dec.action == MD_ACT_REVERSE_ROLLBACK && dec.cause.component == 0, "crashes in two components: the whole version rolls back");
  P.partial_allowed = 0;
  decider_on(&d, &P, &both);
  feed(&d, 3, crash_loop, &(uint32_t){0x2}, &dec);
  check(dec.action == MD_ACT_REVERSE_ROLLBACK, "partial rollback off in the policy: the whole version");
  md_policy_default(&P);
  decider_on(&d, &P, &config_only);
  struct md_sample s = healthy(STEP);
  s.corrupt = 1, s.cause.denials = 40;
  md_decide(&d, &s, &dec);
  check(dec.action == MD_ACT_EMERGENCY_ROLLBACK && dec.cause.cause == MD_CAUSE_CONFIG,
        "corruption is forced: emergency rollback even where the evidence points at the configuration");
}

void t_reason(void) {
  md_policy_default(&P);
  P.confirm_required = 1;
  struct md_decider d;
  struct md_decision dec;
  char text[200];
  decider_on(&d, &P, 0);
  feed(&d, 120, error_rate, 0, &dec);
  md_decision_reason(&dec, &P, text, sizeof text);
  check(!strcmp(text, "automatic rollback triggered, reason: error rate 6.2% over 10 min (confidence 0.944), "
                      "awaiting operator confirmation"), "pending: \"%s\"", text);
  feed(&d, 23, error_rate, 0, &dec);
  md_decider_answer(&d, 1);
  feed(&d, 1, error_rate, 0, &dec);
  md_decision_reason(&dec, &P, text, sizeof text);
  check(!strcmp(text, "automatic rollback triggered, reason: error rate 6.2% over 10 min (confidence 0.944)") &&
            dec.evals[rule_index(&P, MD_R_ERROR_RATE)].held_ns == MIN(12),
        "confirmed 2 min later, as in the seed's example: held 12 min; \"%s\"", text);
  uint32_t n = md_decision_reason(&dec, &P, text, 10);
  check(n == 9 && !strcmp(text, "automatic"), "cut to the buffer, NUL-terminated: \"%s\"", text);
  md_policy_default(&P);
  decider_on(&d, &P, 0);
  struct md_sample s = healthy(STEP);
  s.errors = 0, s.unanswered = 200;
  md_decide(&d, &s, &dec);
  md_decision_reason(&dec, &P, text, sizeof text);
  check(!strcmp(text, "emergency rollback triggered, reason: requests answered 0.0% (confidence 1.000)"), "\"%s\"", text);
  decider_on(&d, &P, 0);
  feed(&d, 2, 0, 0, &dec);
  md_decision_reason(&dec, &P, text, sizeof text);
  check(!strcmp(text, "no rule fired"), "\"%s\"", text);
}

void t_decide_refusals(void) {
  md_policy_default(&P);
  struct md_decider d, before;
  struct md_decision dec;
  decider_on(&d, &P, 0);
  feed(&d, 10, 0, 0, &dec);
  memcpy(&before, &d, sizeof d);
  struct md_sample s = healthy(d.last_ns);
  check(md_decide(&d, &s, &dec) == -MD_E_TIME && !memcmp(&d, &before, sizeof d), "a sample not after the last: -MD_E_TIME, unchanged");
  static const struct {
    const char *what;
    size_t offset;
    uint32_t value;
  } BAD[] = {
      {"more errors than requests", offsetof(struct md_sample, errors), 201},
      {"errors and unanswered above requests", offsetof(struct md_sample, unanswered), 199},
      {"more corrupt than answered", offsetof(struct md_sample, corrupt), 199},
      {"more failed checks than run", offsetof(struct md_sample, critical_failed), 1},
      {"more migrated than attempted", offsetof(struct md_sample, mig_ok), 1},
      {"start_failed 2", offsetof(struct md_sample, start_failed), 2},
      {"memory 2^31 KiB", offsetof(struct md_sample, memory_kib), 0x80000000u},
      {"load above 1000x", offsetof(struct md_sample, load_permille), 1000001},
      {"CPU above 100 %", offsetof(struct md_sample, cpu_permille), 1001},
      {"an unknown metric bit", offsetof(struct md_sample, anomalous), 1u << 7},
  };
  for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
    s = healthy(d.last_ns + STEP);
    if (BAD[i].offset == offsetof(struct md_sample, corrupt)) s.unanswered = 2;
    memcpy((char *)&s + BAD[i].offset, &BAD[i].value, sizeof(uint32_t));
    check(md_decide(&d, &s, &dec) == -MD_E_RANGE && !memcmp(&d, &before, sizeof d), "%s: -MD_E_RANGE, unchanged", BAD[i].what);
  }

  struct md_baseline base = {BASE_LATENCY_US, BASE_THROUGHPUT, 0}, zero = {0, BASE_THROUGHPUT, 0};
  struct md_update_context ctx = {0};
  check(md_decider_init(&d, &P, &zero, &ctx, 0) == -MD_E_POLICY && !memcmp(&d, &before, sizeof d), "a zero baseline: refused, unchanged");
  static const struct {
    const char *what;
    int rule;
    size_t offset;
    uint64_t value;
    size_t size;
  } POLICY[] = {
      {"an unknown signal", 0, offsetof(struct md_rule, signal), MD_SIG_COUNT, 1},
      {"level 5", 1, offsetof(struct md_rule, level), 5, 1},
      {"level 0", 2, offsetof(struct md_rule, level), 0, 1},
      {"an unknown action", 3, offsetof(struct md_rule, action), MD_ACT_COUNT, 1},
      {"weight 1001", 4, offsetof(struct md_rule, weight), 1001, 2},
      {"a window of 8 ns", 5, offsetof(struct md_rule, window_ns), 8, 8},
      {"an unknown flag", 6, offsetof(struct md_rule, flags), 0x80, 1},
      {"an unknown gate metric", 7, offsetof(struct md_rule, gate), 1u << 9, 4},
      {"the id of rule 0 again", 8, offsetof(struct md_rule, id), MD_R_CRASH_LOOP, 1},
      {"id 0", 9, offsetof(struct md_rule, id), 0, 1},
  };
  for (size_t i = 0; i < sizeof POLICY / sizeof POLICY[0]; i++) {
    struct md_policy q;
    md_policy_default(&q);
    memcpy((char *)&q.rules[POLICY[i].rule] + POLICY[i].offset, &POLICY[i].value, POLICY[i].size);
    int bad;
    check(md_policy_check(&q, &bad) == -MD_E_POLICY && bad == POLICY[i].rule &&
              md_decider_init(&d, &q, &base, &ctx, 0) == -MD_E_POLICY && !memcmp(&d, &before, sizeof d),
          "a rule with %s: -MD_E_POLICY naming rule %d, the decider unchanged", POLICY[i].what, POLICY[i].rule);
  }
  struct md_policy q;
  int bad;
  md_policy_default(&q);
  q.score_threshold = 0;
  check(md_policy_check(&q, &bad) == -MD_E_POLICY && bad == -1, "score threshold 0: refused");
  md_policy_default(&q);
  q.rule_count = MD_MAX_RULES + 1;
  check(md_policy_check(&q, &bad) == -MD_E_POLICY, "more rules than the table holds: refused");
  md_policy_default(&q);
  q.confirm_required = 1, q.confirm_timeout_ns = 0;
  check(md_policy_check(&q, &bad) == -MD_E_POLICY, "confirmation without a timeout: refused");
  md_policy_default(&q);
  q.detect[2].k_milli = 0;
  check(md_policy_check(&q, &bad) == -MD_E_POLICY, "a detector with k = 0: refused");
  md_policy_default(&q);
  q.routes[MD_P3] = MD_ROUTE_FILE;
  check(md_policy_check(&q, &bad) == -MD_E_POLICY, "a priority routed past the event log: refused");
  md_policy_default(&q);
  q.rules[q.rule_count] = q.rules[rule_index(&q, MD_R_LEAK)];
  q.rules[q.rule_count++].id = 40;
  check(md_policy_check(&q, &bad) == MD_OK && md_decider_init(&d, &q, &base, &ctx, 0) == -MD_E_POLICY &&
            !memcmp(&d, &before, sizeof d), "two leak rules: the decider refuses (one trend)");
}
