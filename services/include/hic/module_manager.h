/* hic/module_manager.h -- the Module Manager's request channel (services/module_manager).
 *
 * The operator's channel (the host: an image's `updates`, `hic ctl update`, `hic ctl configure`)
 * sends one message per request on cap://module_manager/requests: label MM_REQUEST_UPDATE,
 * payload struct mm_request, or MM_REQUEST_CONFIGURE, payload struct mm_configure. The Module Manager takes requests one at a time, only while no update runs; what
 * becomes of each is reported as typed records (services/module_manager/module.json), never as
 * a reply, so a request is fire-and-forget for the host and the event log is the one account.
 *
 * The policy is seed 步骤1.1's (docs/module-manager.md) and arrives whole: the host fills in the
 * seed's defaults (system/update/request.ts, which mirrors this layout); images may scale them
 * down. A zero field is a malformed request. */
#ifndef HIC_MODULE_MANAGER_H
#define HIC_MODULE_MANAGER_H

#include <stdint.h>

#define MM_REQUEST_UPDATE 1
#define MM_REQUEST_CONFIGURE 2 /* payload struct mm_configure: a new firewall table (seed §4.4.2) */

#define MM_STAGES 4
#define MM_ALLOW_DOWNGRADE 1 /* mm_request.flags */
#define MM_CLEAR_BAD 2       /* ... : update to a version marked bad after a rollback, clearing the mark */

struct mm_policy {
  uint64_t zero_downtime;          /* 1: no connection may be dropped (the only mode offered) */
  uint64_t rollback_window_ns;     /* how long the rollback point is kept (seed: 24 h) */
  uint64_t health_interval_ns;     /* health checks after the switch (seed: every 5 s) */
  uint64_t rate_limit;             /* connections moved per second at most (seed: 100); ~0: off */
  uint64_t batch;                  /* connections prepared at a time (seed §6.1: 100) */
  uint64_t stability_ns;           /* the stability window after the switch (seed 步骤4.1: 1 h) */
  uint64_t phase_timeout_ns;       /* a phase that takes longer fails the update (seed: 5 min) */
  uint64_t stage_up_to[MM_STAGES]; /* permille of all connections moved by each stage's end: 300 600 900 1000 */
  uint64_t stage_check_ns[MM_STAGES]; /* health checks during each stage: 0 after every batch */
  uint64_t idle_ms;                /* a connection silent this long counts as idle (stage 1) */
};

struct mm_request {
  uint64_t id;                     /* the update's id, given by the operator's channel */
  char service[32];                /* the module, e.g. "netstack" */
  char to[16];                     /* the exact version wanted */
  uint64_t flags;                  /* MM_ALLOW_DOWNGRADE */
  struct mm_policy policy;
};

/* A configuration change: req.service "firewall", req.to empty, req.policy's stability window,
 * phase timeout and health interval in force (services/module_manager/configure.c); then the new
 * table in the firewall's wire form (hic/firewall.h), table_len bytes of it. */
struct mm_configure {
  struct mm_request req;
  uint64_t table_len;
  uint8_t table[4 + 32 * 8]; /* FW_TABLE_MAX */
};

_Static_assert(sizeof(struct mm_configure) == 464, "the size system/update/request.ts's CONFIGURE_BYTES sends");
_Static_assert(sizeof(struct mm_request) <= 1024, "a request fits one message's payload");

#endif /* HIC_MODULE_MANAGER_H */
