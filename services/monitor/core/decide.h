/* decide.h -- the decision engine (seed §4.3 step 5.1): each sample interval of the new instance
 * goes through every rule of the policy (§4.2 matrix, §4.3 rules, §4.1 levels), the rules that hold
 * are combined into a confidence score, and the result says which rule fired, the failure level,
 * the score and its inputs, the root cause, the action for the Module Manager and where operator
 * confirmation stands. A decision is data: the service records it and acts on `execute`.
 *
 * A rule with a window holds when its signal, aggregated over the last window (16 buckets of
 * window/16, so the edge moves in steps of a sixteenth), crosses its threshold; it fires once the
 * watch has covered the whole window -- except an event count (crashes, corrupted payloads, failed
 * migrations), which fires with the event that reaches its threshold. A gauge (start failure,
 * health-check streak, anomalies) fires once it has held for the window without a break. Its strength is the covered fraction, its contribution
 * weight x strength, and the score the noisy-OR 1 - prod(1 - c_i) of every rule that holds: one
 * sure rule is enough, several doubtful ones add up, none can pass 1. A rollback needs a rule that
 * fired and a score at or above the policy's threshold (0.8); a rollback rule short of it pauses
 * the update instead (§4.2 性能下降: 告警，准备，回滚). */
#ifndef MD_DECIDE_H
#define MD_DECIDE_H

#include <stdint.h>

#include "classify.h"
#include "detect.h"
#include "md.h"
#include "policy.h"

#define MD_BUCKETS 16

/* One sample interval of the new instance, as the service measured it. Counts are for the interval
 * alone; gauges are their value at its end. */
struct md_sample {
  uint64_t now_ns;            /* virtual time at the end of the interval; never decreasing */
  uint32_t requests;          /* offered */
  uint32_t errors;            /* answered with an error */
  uint32_t unanswered;        /* never answered (timed out); errors + unanswered <= requests */
  /* Application requests among what was answered, when the service counts them in a unit of its
   * own (netstack: HTTP requests, of which `requests` carries many frames each), and those answered
   * with an error: the error rate takes their share as well (decide.c). */
  uint32_t calls, call_errors; /* call_errors <= calls */
  uint32_t corrupt;           /* answers whose payload was found corrupted */
  uint32_t latency_us;        /* mean response time of the answered ones */
  uint32_t throughput;        /* answered per second */
  uint32_t load_permille;     /* offered load against the baseline's (1000: the same) */
  uint32_t crashes;           /* the new instance stopped by a fault */
  uint32_t start_failed;      /* 0 or 1: the new instance is not running: it did not come up, or it ended */
  uint32_t critical_checks, critical_failed; /* critical-function probes run, and failed */
  uint32_t health_fail_streak;/* health checks failed in a row, as of the end of the interval */
  uint32_t mig_attempted, mig_ok, mig_failed; /* connection migrations */
  uint32_t cpu_permille;
  uint32_t memory_kib;
  uint32_t violating;         /* md_metric bits: outside their detector's band this interval */
  uint32_t anomalous;         /* md_metric bits: anomalous (consecutive violations) */
  struct md_cause_sample cause; /* root-cause evidence (classify.h) */
};

/* What the decision engine compares against: the old version's behaviour (its detectors' frozen
 * means), and what the update changed. */
struct md_baseline {
  uint32_t latency_us; /* > 0 */
  uint32_t throughput; /* > 0, at the baseline load */
  uint32_t error_ppm;  /* the old version's own share of failed requests, ppm (0: none, or not known);
                        * the error-rate signal is the new one's share above it (§5.1 错误率增加) */
};

enum md_confirm_state {
  MD_CONFIRM_NONE = 0,         /* nothing to confirm */
  MD_CONFIRM_NOT_REQUIRED = 1, /* the policy acts without an operator */
  MD_CONFIRM_SKIPPED = 2,      /* a forced rule (data at risk) skips the operator (§4.3 5.1.3) */
  MD_CONFIRM_PENDING = 3,      /* asked; waiting until the deadline */
  MD_CONFIRM_CONFIRMED = 4,
  MD_CONFIRM_VETOED = 5,       /* the rollback is not executed; a more drastic action asks again */
  MD_CONFIRM_TIMED_OUT = 6,    /* no answer by the deadline: executed (§4.3 5.1.3) */
};

/* One rule's part in a decision: its inputs and what they gave. */
struct md_rule_eval {
  int64_t value;        /* the signal over the window, in its unit */
  uint8_t has_value;    /* 0: nothing to measure (no requests, no migrations) */
  uint8_t holds;        /* the condition is true now (gate included) */
  uint8_t fired;        /* it holds over the whole window */
  uint16_t strength;    /* permille of the window covered while it holds */
  uint16_t contribution;/* weight x strength, permille */
  uint64_t covered_ns;  /* how much of the window the watch has seen */
  uint64_t held_ns;     /* how long the condition has held without a break */
};

struct md_decision {
  uint64_t at_ns;
  int32_t rule;          /* index in the policy of the rule fired (the most severe), -1: none */
  uint8_t rule_id;       /* its stable id (enum md_rule_id), 0: none */
  uint8_t level;         /* enum md_level */
  uint8_t action;        /* enum md_action */
  uint8_t execute;       /* 1: act on `action` now */
  uint8_t confirm;       /* enum md_confirm_state */
  uint8_t forced;        /* a forced rule holds */
  uint16_t score;        /* permille */
  uint64_t confirm_deadline_ns;
  uint32_t fired_mask, holding_mask; /* bit i: rule i of the policy */
  struct md_rule_eval evals[MD_MAX_RULES];
  struct md_cause_result cause;
};

/* A rolling sum of one rule's inputs over its window. */
struct md_window {
  uint64_t bucket_ns, newest; /* bucket length; index (now / bucket_ns) of the newest */
  uint64_t acc[MD_BUCKETS][5]; /* per bucket: two ratios' numerators and denominators, samples */
  uint64_t gated[MD_BUCKETS];  /* per bucket: samples whose gate metric was out of its band */
};

struct md_decider {
  const struct md_policy *policy;
  struct md_baseline base;
  struct md_update_context ctx;
  uint64_t start_ns, last_ns;
  uint8_t started, concluded;
  struct md_window win[MD_MAX_RULES];
  uint32_t holding;                 /* bit i: rule i's condition holds */
  uint64_t since_ns[MD_MAX_RULES]; /* since when, for each rule that holds */
  struct md_trend memory;           /* the LEAK signal, over the first leak rule's window */
  struct md_cause_totals totals;
  uint8_t confirm;                 /* enum md_confirm_state of the pending rollback */
  uint8_t confirm_action;          /* the action it was asked for */
  uint64_t confirm_deadline_ns;
};

/* The watch begins at start_ns (the switch to the new instance); every sample is later. The policy
 * must outlive the decider (it is read, never copied). -MD_E_POLICY for a policy that fails
 * md_policy_check, two leak rules, or a zero baseline; the decider is untouched then. */
int md_decider_init(struct md_decider *d, const struct md_policy *p, const struct md_baseline *base,
                    const struct md_update_context *ctx, uint64_t start_ns);
/* One interval. -MD_E_TIME (earlier than the last), -MD_E_RANGE (inconsistent counts),
 * -MD_E_STATE (a rollback was already executed): the decider is unchanged then. */
int md_decide(struct md_decider *d, const struct md_sample *s, struct md_decision *out);
/* The operator's answer to a pending rollback: 1 confirm, 0 veto. -MD_E_STATE when nothing is
 * pending. The next md_decide applies it. */
int md_decider_answer(struct md_decider *d, int confirm);
/* The audit log's reason in the seed's form ("automatic rollback triggered, reason: error rate
 * 6.2% over 10 min (confidence 0.944)"), NUL-terminated, truncated to cap. Returns its length. */
uint32_t md_decision_reason(const struct md_decision *dec, const struct md_policy *p, char *buf,
                            uint32_t cap);

#endif
