/* hic/monitor.h -- the Monitor's watch channel (services/monitor), between it and the Module
 * Manager (seed §4.3 步骤5.1-5.2, §5).
 *
 * The Monitor registers cap://monitor/v<version>/watch. When an update's new instance starts to
 * take traffic (the snapshot moved, the driver's default switched to it), the Module Manager sends
 * MON_WATCH there, carrying a send capability of an endpoint of its own: the only way back. The
 * Monitor freezes the baseline it learnt from the running version, watches the new instance's
 * stats endpoint (cap://<service>/v<to>/stats), and when its decision core (services/monitor/core)
 * asks for a rollback it calls MON_VERDICT through that capability until the Module Manager takes it. MON_UNWATCH ends the watch
 * whatever the outcome; the Monitor drops the capability and learns a new baseline from whichever
 * version then serves. The decision is policy, and so the Monitor's; executing it is the Module
 * Manager's.
 *
 * The operator speaks on the same endpoint, through the host (system/update/monitor-channel.ts):
 * MON_SILENCE, MON_CONFIRM and MON_VETO are sends, never calls -- the host does not wait -- and
 * get no reply; the Monitor records what it made of each (its `silence` and `confirmation`
 * records). Like every registry name, the endpoint does not tell senders apart: a sandbox that
 * can look it up can send these too, as it can ask the Module Manager for an update. */
#ifndef HIC_MONITOR_H
#define HIC_MONITOR_H

#include <stdint.h>

#define MON_WATCH 1   /* call: payload struct mon_watch, cap: a send capability for verdicts */
#define MON_UNWATCH 2 /* call: words[0] the update id */
#define MON_VERDICT 3 /* call, Monitor -> Module Manager: payload struct mon_verdict; MON_OK once taken */
#define MON_SILENCE 4 /* send: words[0] from, words[1] until (virtual ns): a maintenance silence
                         over [from, until) (seed §5.2.2); until 0 lifts it */
#define MON_CONFIRM 5 /* send: words[0] the update id: go ahead with the rollback that waits (§4.3 5.1.3) */
#define MON_VETO 6    /* send: words[0] the update id: do not roll back (a more drastic action asks again) */

#define MON_PREPARE 7 /* call, Module Manager -> Monitor, as an update begins: words[0] the update id, words[1] the
                         new version (packed). The baseline is what was learnt until now, and the new
                         version's crashes are counted from here (Core-0's module_health) */
#define MON_VALIDATE 8 /* call, Module Manager -> Monitor, once a rollback is done: words[0] the update id. The
                          Monitor probes what serves through the alias against that watch's baseline and
                          records the result (`validation`, seed 步骤5.4); MON_ERR_STATE for another id */

#define MON_OK 0
#define MON_ERR_FORMAT 1 /* a malformed message */
#define MON_ERR_STATE 2  /* WATCH while watching, UNWATCH of another update, no baseline yet */

struct mon_watch {
  uint64_t id;      /* the update's id */
  uint64_t from;    /* versions, packed major << 16 | minor << 8 | patch */
  uint64_t to;
  char service[32]; /* e.g. "netstack" */
  char version[16]; /* the new version, as its registry names say it: "1.3.1" */
  uint64_t instance; /* the new instance's Ethernet driver id (hic/eth.h): the frames offered to it */
  uint64_t kind;     /* MON_WATCH_CODE, or MON_WATCH_CONFIG: the same instance, about to enforce a new
                        configuration (seed §4.4.2; from == to). Sent before the change, so the
                        functions the instance passes as the watch begins are the old configuration's */
};

#define MON_WATCH_CODE 0
#define MON_WATCH_CONFIG 1

/* The actions of services/monitor/core/md.h (enum md_action) a verdict can carry. */
#define MON_ACTION_CONFIG_ROLLBACK 3
#define MON_ACTION_COMPONENT_ROLLBACK 4
#define MON_ACTION_REVERSE_ROLLBACK 5
#define MON_ACTION_EMERGENCY_ROLLBACK 6
#define MON_ACTION_FIRST_ROLLBACK MON_ACTION_CONFIG_ROLLBACK

struct mon_verdict {
  uint64_t id;        /* the update's id */
  uint64_t action;    /* MON_ACTION_*: a rollback */
  uint64_t rule;      /* enum md_rule_id: the rule that fired */
  uint64_t level;     /* enum md_level */
  uint64_t score;     /* confidence, permille */
  uint64_t at_ns;     /* the virtual time of the decision */
};

_Static_assert(sizeof(struct mon_watch) <= 1024 && sizeof(struct mon_verdict) <= 1024, "one message's payload");

#endif /* HIC_MONITOR_H */
