/* policy.h -- everything the Monitor's decisions depend on, as data: the decision rules (the seed's
 * §4.2 matrix, the §4.3 step 5.1 rules and the §4.1 level indicators, one table), the confidence
 * threshold, operator confirmation, the detectors' parameters and the alert windows. The service
 * loads it from the update's policy; md_policy_default gives the seed's values. */
#ifndef MD_POLICY_H
#define MD_POLICY_H

#include <stdint.h>

#include "detect.h"
#include "md.h"

#define MD_MAX_RULES 24
#define MD_METRICS 7 /* one detector per bit of enum md_metric */

/* How a rule compares its signal with its threshold. */
enum md_cmp {
  MD_GT = 0,
  MD_GE = 1,
  MD_LT = 2,
  MD_LE = 3,
};

/* Rule flags. */
#define MD_RULE_FORCED 0x01    /* no operator confirmation and no partial rollback (data at risk) */
#define MD_RULE_NEEDS_REQS 0x02 /* a ratio of requests: counts only with min_requests in the window */

/* Stable rule ids, as the records and the audit name them. */
enum md_rule_id {
  MD_R_CRASH_LOOP = 1,       /* §4.2 新实例连续崩溃(3次), 5 min */
  MD_R_ERROR_RATE = 2,       /* §4.2 服务错误率>5%, 10 min; §4.3 rule 1 */
  MD_R_CRITICAL_FUNCTION = 3,/* §4.2 关键功能完全失效, instant */
  MD_R_PERF_DOWN = 4,        /* §4.2 性能下降>30%, 15 min */
  MD_R_MIGRATION_STALL = 5,  /* §4.2 迁移成功率<80%, 30 min */
  MD_R_LEAK = 6,             /* §4.2 资源泄漏>100MB/小时, 1 hour */
  MD_R_LATENCY_RISE = 7,     /* §4.3 rule 2: 响应时间增加>100% */
  MD_R_UNAVAILABLE = 8,      /* §4.3 rule 3: 服务完全不可用 */
  MD_R_CORRUPTION = 9,       /* §4.3 rule 4: 数据损坏风险 */
  MD_R_START_FAILED = 10,    /* §4.1 level 1: 新实例启动失败 */
  MD_R_MIGRATION_LOW = 11,   /* §4.1 level 2: 迁移成功率<90% */
  MD_R_PERF_HALVED = 12,     /* §4.1 level 2: 性能下降>50% */
  MD_R_CONN_MIGRATION = 13,  /* §4.1 level 3: 单个连接迁移失败 */
  MD_R_PERF_SLIGHT = 14,     /* §4.1 level 4: 轻微性能下降 */
  MD_R_HEALTH = 15,          /* §4.3 5.1.1, §5.1: 健康检查失败（连续3次） */
  MD_R_CPU = 16,             /* §5.1: CPU使用率>80% */
  MD_R_AVAILABILITY = 17,    /* §5.1: 服务可用性<99.9% */
  MD_R_ANOMALY = 18,         /* §5.2: a 3-sigma anomaly on any metric */
  MD_R_ID_MAX = 63,
};

struct md_rule {
  uint8_t id;        /* enum md_rule_id (a loaded table may use any id in 1..MD_R_ID_MAX) */
  uint8_t signal;    /* enum md_signal */
  uint8_t cmp;       /* enum md_cmp */
  uint8_t level;     /* enum md_level, 1..4 */
  uint8_t action;    /* enum md_action the rule asks for when it fires */
  uint8_t flags;     /* MD_RULE_* */
  uint16_t weight;   /* permille: how far this rule alone is trusted (the confidence score) */
  uint32_t gate;     /* md_metric bits: the condition counts only while one of them is anomalous
                        (over a window: out of its band in most of the window's samples) */
  int64_t threshold; /* in the signal's unit (md.h) */
  uint64_t window_ns;/* 0: the current sample alone; else held over the window (decide.c) */
};

struct md_policy {
  uint16_t score_threshold;     /* permille: 800 (§4.3 5.1.2) */
  uint8_t confirm_required;     /* §4.3 5.1.3: ask an operator before a rollback */
  uint8_t partial_allowed;      /* bit 0: configuration rollback, bit 1: component rollback */
  uint64_t confirm_timeout_ns;  /* 5 min; then the rollback goes ahead unconfirmed */
  uint32_t min_requests;        /* requests a window needs before an error ratio counts */
  uint32_t rule_count;
  struct md_rule rules[MD_MAX_RULES];
  struct md_detect_params detect[MD_METRICS]; /* by bit index of enum md_metric */
  /* Alerts (alerts.h): duplicates within dup_window_ns are counted, not sent again; alerts on the
   * same instance within corr_window_ns join one incident. */
  uint64_t dup_window_ns, corr_window_ns;
  uint8_t routes[MD_PRIORITY_COUNT]; /* MD_ROUTE_* bits per priority */
  uint8_t silence_spares;            /* priorities below this one pass a maintenance silence: 1 = P0 */
};

#define MD_PARTIAL_CONFIG 0x01
#define MD_PARTIAL_COMPONENT 0x02

/* Where an alert goes (§5.2.2 告警路由, in HIC's sinks). */
#define MD_ROUTE_LOG 0x01    /* the event log (every alert) */
#define MD_ROUTE_STREAM 0x02 /* the control socket's event stream */
#define MD_ROUTE_FILE 0x04   /* the --alerts JSON-lines file */
#define MD_ROUTE_AUDIT 0x08  /* the audit log */
#define MD_ROUTE_PAGE 0x10   /* an operator now (the seed's phone/SMS) */

void md_policy_default(struct md_policy *p);
/* MD_OK, or -MD_E_POLICY naming nothing in particular: the caller's loader knows the field. The
 * index of the first bad rule goes to *bad_rule (-1: not a rule). */
int md_policy_check(const struct md_policy *p, int *bad_rule);
/* Index of a metric bit (MD_M_LATENCY -> 0), or -1. */
int md_metric_index(uint32_t metric_bit);

#endif
