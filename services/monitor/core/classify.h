/* classify.h -- root-cause classification (seed §4.3 步骤5.4.2 问题分类): a code defect of the new
 * version, an incompatible configuration, a resource problem, or an external dependency, from the
 * evidence the decision engine saw during the watch. Each kind of evidence gives points to the
 * causes it points at; the cause with the most wins, and its share of all points is the
 * confidence. The result also says whether the failure stays inside one component, which is what
 * allows a component rollback (§4.4.1). */
#ifndef MD_CLASSIFY_H
#define MD_CLASSIFY_H

#include <stdint.h>

#include "md.h"

/* Per sample interval, besides the service metrics (decide.h). */
struct md_cause_sample {
  uint32_t denials;           /* requests refused by the new configuration (a firewall rule, a limit) */
  uint32_t resource_refusals; /* allocations refused: quota, a pool exhausted */
  uint32_t dependency_errors; /* failed calls to a peer service or a driver */
  uint32_t fault_components;  /* bits: the components this interval's faults and errors were in */
};

/* What the update changed, from the Module Manager's plan. */
struct md_update_context {
  uint8_t code_changed;   /* a new version of the code */
  uint8_t config_changed; /* a new configuration (with the code, or alone) */
  uint32_t components;    /* bits: components that can roll back alone (library modules) */
};

/* Everything seen since the watch began. */
struct md_cause_totals {
  uint64_t crashes, corrupt, start_failed, errors, unanswered;
  uint64_t denials, resource_refusals, dependency_errors;
  uint32_t fault_components; /* union over the watch */
  uint32_t signals_fired;    /* bit per enum md_signal: a rule on it fired */
};

/* Evidence bits: which items the classification used. */
#define MD_EV_CRASHES 0x001
#define MD_EV_CORRUPT 0x002
#define MD_EV_START_FAILED 0x004
#define MD_EV_ERRORS 0x008
#define MD_EV_DENIALS 0x010
#define MD_EV_CONFIG_ONLY 0x020
#define MD_EV_RESOURCE 0x040
#define MD_EV_LEAK 0x080
#define MD_EV_CPU 0x100
#define MD_EV_DEPENDENCY 0x200
#define MD_EV_LOCALIZED 0x400
#define MD_EV_PERF 0x800

struct md_cause_result {
  uint8_t cause;          /* enum md_cause */
  uint16_t confidence;    /* permille: the winner's share of all points */
  uint16_t points[MD_CAUSE_COUNT];
  uint32_t evidence;      /* MD_EV_* */
  uint32_t component;     /* the one component the failure stays in (a single bit), or 0 */
};

void md_classify(const struct md_cause_totals *t, const struct md_update_context *ctx,
                 struct md_cause_result *out);

#endif
