/* alerts.h -- alert priorities, routing and suppression (seed §5.2.2). An alert is raised on a
 * source (an instance) with a kind (a rule id, or any code the service gives) and a priority
 * P0-P3. Alerts on one source close together in time are one incident (关联告警合并): the first
 * is sent, the rest are counted in it unless they are more urgent than the incident so far, which
 * escalates it and is sent. The same kind again within the duplicate window is only counted (防止
 * 告警风暴). A maintenance silence (维护期告警静默) keeps alerts from the operator's sinks, but not
 * P0 (by default) and never from the audit log: P0 and P1 are always audited. */
#ifndef MD_ALERTS_H
#define MD_ALERTS_H

#include <stdint.h>

#include "md.h"
#include "policy.h"

#define MD_INCIDENTS 16      /* incidents tracked at once; the least recent makes way */
#define MD_INCIDENT_KINDS 8  /* kinds remembered per incident, for duplicates */

struct md_alert {
  uint64_t at_ns;
  uint32_t source;
  uint16_t kind;
  uint8_t priority; /* enum md_priority */
  int64_t value;    /* the figure behind it, for the sinks */
};

enum md_alert_verdict {
  MD_ALERT_SENT = 0,      /* a new incident */
  MD_ALERT_ESCALATED = 1, /* joins an incident and raises its priority: sent */
  MD_ALERT_MERGED = 2,    /* joins an incident at or below its priority: counted */
  MD_ALERT_DUPLICATE = 3, /* the same kind on the same source within the window: counted */
  MD_ALERT_SILENCED = 4,  /* a maintenance silence holds it back (log and audit only) */
};

struct md_alert_out {
  uint8_t verdict;   /* enum md_alert_verdict */
  uint8_t priority;  /* the incident's priority after this alert */
  uint8_t routes;    /* MD_ROUTE_* sinks that take this alert now */
  uint8_t audit;     /* 1: goes to the audit log */
  uint32_t incident; /* id, from 1 */
  uint32_t count;    /* alerts in the incident so far, this one included */
  uint32_t repeats;  /* alerts of this kind in the incident, this one included */
};

struct md_incident {
  uint32_t id, source, count;
  uint8_t priority, kinds;
  uint64_t first_ns, last_ns;
  uint16_t kind[MD_INCIDENT_KINDS];
  uint8_t kind_priority[MD_INCIDENT_KINDS];
  uint32_t kind_count[MD_INCIDENT_KINDS];
  uint64_t kind_last_ns[MD_INCIDENT_KINDS];
};

struct md_alerts {
  const struct md_policy *policy;
  uint64_t last_ns, silence_from, silence_until; /* silence: [from, until); until 0: none */
  uint32_t next_id, used;
  uint64_t evicted; /* incidents dropped while still active because the table was full */
  struct md_incident inc[MD_INCIDENTS];
};

/* The policy must outlive the table. -MD_E_POLICY if it fails md_policy_check. */
int md_alerts_init(struct md_alerts *a, const struct md_policy *p);
/* -MD_E_RANGE (priority), -MD_E_TIME (earlier than the last alert): nothing changes then. */
int md_alert_raise(struct md_alerts *a, const struct md_alert *al, struct md_alert_out *out);
/* A maintenance silence over [from, until); -MD_E_RANGE if until <= from. Replaces any other. */
int md_alert_silence(struct md_alerts *a, uint64_t from_ns, uint64_t until_ns);
void md_alert_unsilence(struct md_alerts *a);
/* The priority a decision's failure level calls for: level 1 P0 ... level 4 P3. */
uint8_t md_priority_of_level(uint8_t level);

#endif
