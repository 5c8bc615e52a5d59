/* alerts.c -- incidents, duplicates, escalation and the maintenance silence (alerts.h). A lower
 * priority number is more urgent: P0 escalates an incident that so far held P2. */
#include "alerts.h"

int md_alerts_init(struct md_alerts *a, const struct md_policy *p) {
  int bad;
  if (md_policy_check(p, &bad) != MD_OK) return -MD_E_POLICY;
  *a = (struct md_alerts){.policy = p, .next_id = 1};
  return MD_OK;
}

uint8_t md_priority_of_level(uint8_t level) {
  return level == MD_LEVEL_CRITICAL ? MD_P0 : level == MD_LEVEL_HIGH ? MD_P1 : level == MD_LEVEL_MEDIUM ? MD_P2 : MD_P3;
}

static int active(const struct md_alerts *a, const struct md_incident *in, uint64_t now) {
  return in->id != 0 && now - in->last_ns <= a->policy->corr_window_ns;
}

/* The source's incident still open at `now`, or a slot for a new one: a free or closed slot
 * first, else the least recent (counted as evicted). */
static struct md_incident *incident_for(struct md_alerts *a, uint32_t source, uint64_t now, int *found) {
  struct md_incident *slot = 0;
  for (int i = 0; i < MD_INCIDENTS; i++) {
    struct md_incident *in = &a->inc[i];
    if (active(a, in, now) && in->source == source) {
      *found = 1;
      return in;
    }
    if (!active(a, in, now)) {
      if (!slot || active(a, slot, now)) slot = in; /* the first closed slot */
    } else if (!slot || (active(a, slot, now) && in->last_ns < slot->last_ns)) {
      slot = in;
    }
  }
  *found = 0;
  if (active(a, slot, now)) a->evicted++;
  return slot;
}

/* The kind's slot in an incident: its own, or the least recently seen one. */
static int kind_slot(struct md_incident *in, uint16_t kind, int *found) {
  int oldest = 0;
  for (int k = 0; k < in->kinds; k++) {
    if (in->kind[k] == kind) {
      *found = 1;
      return k;
    }
    if (in->kind_last_ns[k] < in->kind_last_ns[oldest]) oldest = k;
  }
  *found = 0;
  if (in->kinds < MD_INCIDENT_KINDS) return in->kinds++;
  return oldest;
}

static int silenced(const struct md_alerts *a, uint8_t priority, uint64_t now) {
  return a->silence_until != 0 && now >= a->silence_from && now < a->silence_until &&
         priority >= a->policy->silence_spares;
}

int md_alert_raise(struct md_alerts *a, const struct md_alert *al, struct md_alert_out *out) {
  if (al->priority >= MD_PRIORITY_COUNT) return -MD_E_RANGE;
  if (al->at_ns < a->last_ns) return -MD_E_TIME;
  uint64_t now = al->at_ns;
  int found_incident, found_kind;
  struct md_incident *in = incident_for(a, al->source, now, &found_incident);
  uint8_t verdict;
  if (!found_incident) {
    *in = (struct md_incident){.id = a->next_id++, .source = al->source, .priority = al->priority, .first_ns = now};
    verdict = MD_ALERT_SENT;
  } else if (al->priority < in->priority) {
    verdict = MD_ALERT_ESCALATED;
  } else {
    verdict = MD_ALERT_MERGED;
  }
  int k = kind_slot(in, al->kind, &found_kind);
  if (verdict == MD_ALERT_MERGED && found_kind && now - in->kind_last_ns[k] < a->policy->dup_window_ns &&
      al->priority >= in->kind_priority[k])
    verdict = MD_ALERT_DUPLICATE;
  if (!found_kind) {
    in->kind[k] = al->kind;
    in->kind_count[k] = 0;
    in->kind_priority[k] = al->priority;
  }
  if (al->priority < in->kind_priority[k]) in->kind_priority[k] = al->priority;
  in->kind_count[k]++;
  in->kind_last_ns[k] = now;
  in->count++;
  in->last_ns = now;
  if (al->priority < in->priority) in->priority = al->priority;
  a->last_ns = now;

  uint8_t routes = a->policy->routes[al->priority];
  int sent = verdict == MD_ALERT_SENT || verdict == MD_ALERT_ESCALATED;
  if (sent && silenced(a, al->priority, now)) {
    verdict = MD_ALERT_SILENCED;
    routes &= MD_ROUTE_LOG | MD_ROUTE_AUDIT;
  } else if (!sent) {
    routes = 0;
  }
  /* P0 and P1 reach the audit log whatever else happens to them, once per incident and kind. */
  if (al->priority <= MD_P1 && (sent || !found_kind)) routes |= MD_ROUTE_AUDIT | MD_ROUTE_LOG;
  *out = (struct md_alert_out){
      .verdict = verdict, .priority = in->priority, .routes = routes,
      .audit = (routes & MD_ROUTE_AUDIT) != 0, .incident = in->id, .count = in->count,
      .repeats = in->kind_count[k],
  };
  return MD_OK;
}

int md_alert_silence(struct md_alerts *a, uint64_t from_ns, uint64_t until_ns) {
  if (until_ns <= from_ns) return -MD_E_RANGE;
  a->silence_from = from_ns;
  a->silence_until = until_ns;
  return MD_OK;
}

void md_alert_unsilence(struct md_alerts *a) { a->silence_from = a->silence_until = 0; }
