/* md.h -- the vocabulary the Monitor's policy core shares: error codes, failure levels, actions,
 * the metrics the detectors watch, the signals the decision rules read, root causes and alert
 * priorities. Every set here is closed; a value outside it is refused, never guessed at.
 *
 * The core is freestanding C11 with no syscalls, clock, randomness or floating point (guests are
 * built with -mgeneral-regs-only): time is the virtual time in ns the caller passes in, ratios are
 * integers in permille or parts per million, and statistics are fixed point (detect.h). The same
 * inputs give the same outputs, so a decision replays bit for bit with the rest of the system. */
#ifndef MD_MD_H
#define MD_MD_H

#include <stdint.h>

/* Calls that can fail return a negative -MD_E_*; a refused call has changed nothing. */
enum md_err {
  MD_OK = 0,
  MD_E_RANGE = 1,    /* a sample or argument outside its documented range */
  MD_E_STATE = 2,    /* the call does not fit the object's state (learning after freeze, ...) */
  MD_E_BASELINE = 3, /* too few baseline samples to freeze a detector */
  MD_E_FULL = 4,     /* the baseline holds its maximum number of samples */
  MD_E_POLICY = 5,   /* a policy field out of range, an unknown signal, action or level */
  MD_E_TIME = 6,     /* virtual time went backwards */
};

/* Failure levels (seed §4.1), each with its response. 0: nothing fired. */
enum md_level {
  MD_LEVEL_NONE = 0,
  MD_LEVEL_CRITICAL = 1, /* new instance fails to start or crashes: stop the update, old stays (<10 s) */
  MD_LEVEL_HIGH = 2,     /* migration success < 90 % or performance down > 50 %: pause, partial rollback (<30 s) */
  MD_LEVEL_MEDIUM = 3,   /* one connection's migration failed or timed out: retry it, log (<60 s) */
  MD_LEVEL_LOW = 4,      /* slight slowdown (< 10 %) or a warning: go on, keep watching (<5 min) */
};

/* What the Monitor asks of the Module Manager, in rising order of how drastic it is. The two
 * partial rollbacks (seed §4.4) replace a reverse rollback when the root cause allows it. */
enum md_action {
  MD_ACT_CONTINUE = 0,   /* go on (an alert may still be raised) */
  MD_ACT_RETRY = 1,      /* retry the connections whose migration failed (level 3) */
  MD_ACT_PAUSE = 2,      /* stop migrating, hold both instances, prepare a rollback */
  MD_ACT_CONFIG_ROLLBACK = 3,    /* back to the last good configuration; the code stays (§4.4.2) */
  MD_ACT_COMPONENT_ROLLBACK = 4, /* only the failed component back to its previous version (§4.4.1) */
  MD_ACT_REVERSE_ROLLBACK = 5,   /* move every connection back, switch the endpoint back (§4.3 5.2.1-2) */
  MD_ACT_EMERGENCY_ROLLBACK = 6, /* switch back first, abandon in-flight migrations (§4.3 5.2.3) */
  MD_ACT_COUNT = 7,
};

static inline int md_action_is_rollback(unsigned a) {
  return a >= MD_ACT_CONFIG_ROLLBACK && a < MD_ACT_COUNT;
}

/* The metrics a detector watches (seed §5.1), as bits of an anomaly mask. */
enum md_metric {
  MD_M_LATENCY = 1u << 0,     /* mean response time of a sample interval, µs */
  MD_M_THROUGHPUT = 1u << 1,  /* answered requests per second */
  MD_M_ERRORS = 1u << 2,      /* error responses, ppm of requests */
  MD_M_MEMORY = 1u << 3,      /* KiB in use */
  MD_M_CPU = 1u << 4,         /* instructions as a share of the CPU, permille */
  MD_M_HEALTH = 1u << 5,      /* failed health checks in the interval */
  MD_M_MIGRATION = 1u << 6,   /* connections migrated per second */
  MD_M_ALL = (1u << 7) - 1,
};

/* What a decision rule reads (decide.c computes each one from the samples in the rule's window). */
enum md_signal {
  MD_SIG_CRASHES = 0,        /* new-instance crashes in the window */
  MD_SIG_START_FAILED = 1,   /* the new instance failed to start (0/1) */
  MD_SIG_ERROR_PPM = 2,      /* error and unanswered responses over the window, ppm of requests */
  MD_SIG_ANSWERED_PPM = 3,   /* answered requests over the window, ppm (availability) */
  MD_SIG_CRITICAL_FAILED = 4,/* failed critical-function checks, permille of the checks run */
  MD_SIG_CORRUPT = 5,        /* payloads found corrupted in the window */
  MD_SIG_PERF_DROP = 6,      /* performance lost against the baseline, permille (see decide.c) */
  MD_SIG_LATENCY_RISE = 7,   /* latency above the baseline, permille of the baseline */
  MD_SIG_MIG_SUCCESS = 8,    /* migrations that succeeded over the window, permille of attempts */
  MD_SIG_MIG_FAILED = 9,     /* single connection migrations that failed in the window */
  MD_SIG_LEAK = 10,          /* memory growth trend over the window, KiB per hour */
  MD_SIG_HEALTH_STREAK = 11, /* consecutive failed health checks */
  MD_SIG_CPU = 12,           /* CPU share over the window, permille */
  MD_SIG_ANOMALIES = 13,     /* metrics the 3-sigma detectors flag as anomalous */
  MD_SIG_COUNT = 14,
};

/* Root causes (seed §4.3 步骤5.4.2). */
enum md_cause {
  MD_CAUSE_UNKNOWN = 0,
  MD_CAUSE_CODE = 1,       /* a defect of the new version */
  MD_CAUSE_CONFIG = 2,     /* an incompatible configuration */
  MD_CAUSE_RESOURCE = 3,   /* memory exhausted, contention */
  MD_CAUSE_EXTERNAL = 4,   /* a dependency (a driver, a peer service) */
  MD_CAUSE_COUNT = 5,
};

/* Alert priorities (seed §5.2.2). */
enum md_priority {
  MD_P0 = 0, /* urgent: needs a person now */
  MD_P1 = 1, /* high: handle soon */
  MD_P2 = 2, /* medium: needs attention */
  MD_P3 = 3, /* low: for information */
  MD_PRIORITY_COUNT = 4,
};

#define MD_NS_PER_SEC 1000000000ull
#define MD_NS_PER_MIN (60ull * MD_NS_PER_SEC)

#endif
