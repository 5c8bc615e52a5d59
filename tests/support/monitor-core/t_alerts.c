/* t_alerts.c -- alerts P0-P3: routing per priority, duplicates within the window counted and not
 * sent, correlated alerts on one instance merged into an incident, escalation, the maintenance
 * silence (P0 spared, P0/P1 audited regardless), a full table; and root-cause classification,
 * one case per kind of evidence. */
#include <string.h>

#include "alerts.h"
#include "classify.h"
#include "harness.h"
#include "scenarios.h"

static struct md_policy P;
static struct md_alerts A;

static struct md_alert_out raise(uint64_t at, uint32_t source, uint16_t kind, uint8_t priority) {
  struct md_alert al = {.at_ns = at, .source = source, .kind = kind, .priority = priority, .value = 1};
  struct md_alert_out out = {0};
  if (md_alert_raise(&A, &al, &out) != MD_OK) check(false, "raise at %llu refused", (unsigned long long)at);
  return out;
}

#define ALL (MD_ROUTE_LOG | MD_ROUTE_STREAM | MD_ROUTE_FILE)

void t_alerts(void) {
  md_policy_default(&P);
  md_alerts_init(&A, &P);
  struct md_alert_out o = raise(MIN(1), 7, MD_R_PERF_SLIGHT, MD_P2);
  check(o.verdict == MD_ALERT_SENT && o.routes == ALL && !o.audit && o.incident == 1 && o.count == 1,
        "P2 on instance 7: sent to log, stream and file; not audited; incident 1");
  o = raise(MIN(2), 7, MD_R_PERF_SLIGHT, MD_P2);
  check(o.verdict == MD_ALERT_DUPLICATE && o.routes == 0 && o.repeats == 2 && o.incident == 1,
        "the same a minute later: a duplicate, counted (2), not sent");
  o = raise(MIN(3), 7, MD_R_ANOMALY, MD_P3);
  check(o.verdict == MD_ALERT_MERGED && o.routes == 0 && o.count == 3 && o.priority == MD_P2,
        "another kind on the same instance: merged into the incident, which stays P2");
  o = raise(MIN(3) + SEC(30), 7, MD_R_CRASH_LOOP, MD_P0);
  check(o.verdict == MD_ALERT_ESCALATED && o.priority == MD_P0 && o.audit &&
            o.routes == (ALL | MD_ROUTE_AUDIT | MD_ROUTE_PAGE), "a P0 joins it: escalated, sent everywhere, paged, audited");
  o = raise(MIN(4), 8, MD_R_PERF_SLIGHT, MD_P3);
  check(o.verdict == MD_ALERT_SENT && o.incident == 2 && o.routes == (MD_ROUTE_LOG | MD_ROUTE_FILE),
        "P3 on instance 8: its own incident, only recorded (log and file)");
  o = raise(MIN(4) + SEC(1), 7, MD_R_ERROR_RATE, MD_P1);
  check(o.verdict == MD_ALERT_MERGED && o.audit && o.routes == (MD_ROUTE_LOG | MD_ROUTE_AUDIT),
        "a P1 merged into a P0 incident: not sent, but audited (first of its kind)");
  o = raise(MIN(5), 7, MD_R_ERROR_RATE, MD_P1);
  check(o.verdict == MD_ALERT_DUPLICATE && !o.audit, "its duplicate: neither sent nor audited again");
  o = raise(MIN(8), 7, MD_R_PERF_SLIGHT, MD_P2);
  check(o.verdict == MD_ALERT_SENT && o.incident == 3, "3 min of quiet on instance 7 (correlation 2 min): a new incident");
  o = raise(MIN(8) + SEC(10), 7, MD_R_PERF_SLIGHT, MD_P1);
  check(o.verdict == MD_ALERT_ESCALATED && o.audit, "the same kind at a higher priority is no duplicate: escalated");
  o = raise(MIN(20), 7, MD_R_PERF_SLIGHT, MD_P2);
  check(o.verdict == MD_ALERT_SENT, "the same kind after the duplicate window: sent again");

  /* A full table: the least recent open incident makes way, and that is counted. */
  md_alerts_init(&A, &P);
  for (uint32_t src = 1; src <= MD_INCIDENTS; src++) raise(SEC(src), src, 1, MD_P2);
  check(A.evicted == 0, "%d instances alerting at once: every one tracked", MD_INCIDENTS);
  o = raise(SEC(30), 99, 1, MD_P2);
  check(o.verdict == MD_ALERT_SENT && A.evicted == 1, "one more: sent, the oldest incident evicted (counted)");
  o = raise(SEC(31), 1, 1, MD_P2);
  check(o.verdict == MD_ALERT_SENT && A.evicted == 2, "instance 1 again: a new incident (its old one was evicted)");
  for (uint32_t k = 0; k < MD_INCIDENT_KINDS + 2; k++) o = raise(SEC(40 + k), 99, (uint16_t)(100 + k), MD_P2);
  check(o.verdict == MD_ALERT_MERGED && o.count == 11, "%d kinds in one incident: the oldest kinds make way", MD_INCIDENT_KINDS + 2);
  check(md_priority_of_level(MD_LEVEL_CRITICAL) == MD_P0 && md_priority_of_level(MD_LEVEL_HIGH) == MD_P1 &&
            md_priority_of_level(MD_LEVEL_MEDIUM) == MD_P2 && md_priority_of_level(MD_LEVEL_LOW) == MD_P3,
        "levels 1-4 call for P0-P3");
}

void t_silence(void) {
  md_policy_default(&P);
  md_alerts_init(&A, &P);
  check(md_alert_silence(&A, MIN(10), MIN(40)) == MD_OK, "a maintenance silence from 10 to 40 min");
  struct md_alert_out o = raise(MIN(5), 1, 1, MD_P2);
  check(o.verdict == MD_ALERT_SENT, "before it: sent");
  o = raise(MIN(10), 2, 1, MD_P2);
  check(o.verdict == MD_ALERT_SILENCED && o.routes == MD_ROUTE_LOG && !o.audit, "P2 in it: silenced, only the event log");
  o = raise(MIN(11), 3, 1, MD_P1);
  check(o.verdict == MD_ALERT_SILENCED && o.routes == (MD_ROUTE_LOG | MD_ROUTE_AUDIT) && o.audit,
        "P1 in it: silenced, but audited");
  o = raise(MIN(12), 4, 1, MD_P0);
  check(o.verdict == MD_ALERT_SENT && o.routes & MD_ROUTE_PAGE, "P0 in it: spared, sent and paged");
  o = raise(MIN(40), 5, 1, MD_P2);
  check(o.verdict == MD_ALERT_SENT, "at its end: sent again");
  md_alert_silence(&A, MIN(50), MIN(60));
  md_alert_unsilence(&A);
  o = raise(MIN(55), 6, 1, MD_P3);
  check(o.verdict == MD_ALERT_SENT, "a silence lifted early: sent");
  P.silence_spares = 0;
  md_alert_silence(&A, MIN(70), MIN(80));
  o = raise(MIN(71), 7, 1, MD_P0);
  check(o.verdict == MD_ALERT_SILENCED && o.audit, "a policy that spares nothing silences P0 too, still audited");
}

void t_alert_refusals(void) {
  md_policy_default(&P);
  md_alerts_init(&A, &P);
  raise(MIN(5), 1, 1, MD_P2);
  struct md_alerts before;
  memcpy(&before, &A, sizeof A);
  struct md_alert_out out;
  struct md_alert al = {.at_ns = MIN(6), .source = 1, .kind = 1, .priority = MD_PRIORITY_COUNT};
  check(md_alert_raise(&A, &al, &out) == -MD_E_RANGE && !memcmp(&A, &before, sizeof A), "priority P4: -MD_E_RANGE, unchanged");
  al.priority = MD_P1, al.at_ns = MIN(4);
  check(md_alert_raise(&A, &al, &out) == -MD_E_TIME && !memcmp(&A, &before, sizeof A), "earlier than the last: -MD_E_TIME, unchanged");
  check(md_alert_silence(&A, MIN(9), MIN(9)) == -MD_E_RANGE && !memcmp(&A, &before, sizeof A), "an empty silence: -MD_E_RANGE, unchanged");
  struct md_policy q;
  md_policy_default(&q);
  q.dup_window_ns = 0;
  check(md_alerts_init(&A, &q) == -MD_E_POLICY && !memcmp(&A, &before, sizeof A), "a zero duplicate window: -MD_E_POLICY, unchanged");
}

void t_classify(void) {
  static const struct {
    const char *what;
    struct md_cause_totals t;
    struct md_update_context ctx;
    uint8_t cause;
    uint32_t evidence;
  } CASES[] = {
      {"crashes after a code change", {.crashes = 3, .errors = 10}, {.code_changed = 1}, MD_CAUSE_CODE, MD_EV_CRASHES | MD_EV_ERRORS},
      {"corrupted payloads", {.corrupt = 1}, {.code_changed = 1}, MD_CAUSE_CODE, MD_EV_CORRUPT},
      {"refusals by a new configuration", {.denials = 80, .errors = 80}, {.code_changed = 1, .config_changed = 1}, MD_CAUSE_CONFIG, MD_EV_DENIALS | MD_EV_ERRORS},
      {"errors after a configuration-only change", {.errors = 40}, {.config_changed = 1}, MD_CAUSE_CONFIG, MD_EV_CONFIG_ONLY},
      {"allocations refused", {.resource_refusals = 5, .errors = 5}, {.code_changed = 1}, MD_CAUSE_RESOURCE, MD_EV_RESOURCE | MD_EV_ERRORS},
      {"a start that could not get memory", {.start_failed = 1, .resource_refusals = 1}, {.code_changed = 1}, MD_CAUSE_RESOURCE, MD_EV_START_FAILED | MD_EV_RESOURCE},
      {"a start that failed by itself", {.start_failed = 1}, {.code_changed = 1}, MD_CAUSE_CODE, MD_EV_START_FAILED},
      {"a leak under new code", {.signals_fired = 1u << MD_SIG_LEAK}, {.code_changed = 1}, MD_CAUSE_CODE, MD_EV_LEAK},
      {"a leak with the code unchanged", {.signals_fired = 1u << MD_SIG_LEAK}, {.config_changed = 0}, MD_CAUSE_RESOURCE, MD_EV_LEAK},
      {"a dependency failing, the instance sound", {.dependency_errors = 9, .errors = 9}, {.code_changed = 1}, MD_CAUSE_EXTERNAL, MD_EV_DEPENDENCY | MD_EV_ERRORS},
      {"CPU saturated", {.signals_fired = 1u << MD_SIG_CPU}, {.code_changed = 1}, MD_CAUSE_RESOURCE, MD_EV_CPU},
      {"nothing at all", {0}, {.code_changed = 1}, MD_CAUSE_UNKNOWN, 0},
  };
  for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
    struct md_cause_result r;
    md_classify(&CASES[i].t, &CASES[i].ctx, &r);
    check(r.cause == CASES[i].cause && r.evidence == CASES[i].evidence, "%s: cause %u (want %u), evidence 0x%x (want 0x%x), confidence %u",
          CASES[i].what, r.cause, CASES[i].cause, r.evidence, CASES[i].evidence, r.confidence);
  }
  struct md_cause_totals t = {.crashes = 2, .errors = 5, .dependency_errors = 1, .fault_components = 0x4};
  struct md_update_context ctx = {.code_changed = 1, .components = 0x6};
  struct md_cause_result r;
  md_classify(&t, &ctx, &r);
  check(r.cause == MD_CAUSE_CODE && r.component == 0x4 && r.points[MD_CAUSE_CODE] == 6 && r.points[MD_CAUSE_EXTERNAL] == 3 &&
            r.confidence == 666, "crashes in one replaceable component, a dependency error aside: code 6 to external 3, confidence 0.666, component 0x4");
  ctx.components = 0x2;
  md_classify(&t, &ctx, &r);
  check(r.component == 0 && !(r.evidence & MD_EV_LOCALIZED), "the same component, not replaceable alone: no component");
}
