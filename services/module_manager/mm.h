/* mm.h -- the Module Manager's shared state: one update at a time, seed phases 1-4
 * (../../docs/module-manager.md). module_manager.c takes requests; plan.c is phase 1 (check the
 * request, fetch and verify, dependencies, reserve); instance.c phase 2 (a new sandbox, the
 * handshake); stages.c phase 3 (snapshot, the four migration stages, the switch); finish.c
 * phase 4 (validation, stability window, shutdown of the old instance, release); watch.c the link
 * to the Monitor; rollback.c the rollback it asks for before COMPLETE (seed §4.3 步骤5.2), window.c
 * the one it asks for after, within the rollback window. */
#ifndef MM_H
#define MM_H

#include "hic/eth.h"
#include "hic/firewall.h"
#include "hic/migration.h"
#include "hic/module.h"
#include "hic/module_manager.h"
#include "hic/monitor.h"
#include "hic/netstack_probe.h"
#include "hic/notice.h"
#include "hic/runtime.h"

#define REGISTRY 0
#define LOADER 1

/* One instance of the service: its migration channel, a copy of its wake-up notification
 * (MIG_HELLO), its sandbox control, and what HELLO said. */
struct instance {
  const char *role;  /* "source" or "target", for the log */
  int64_t channel;
  int64_t wake;
  int64_t control;
  struct mig_hello hello;
  bool stalled; /* a call to it timed out: for the rest of the update it is not waited on again */
  bool ended;   /* Core-0 stopped it (a crash): nothing is asked of it again */
};

/* The new instance's Ethernet driver id: the other one of two. */
static inline uint32_t successor_instance(const struct instance *old) { return old->hello.instance == 1 ? 2 : 1; }

struct update {
  struct mm_request req;
  uint64_t from, to;           /* packed versions */
  struct hic_module_info info; /* the new version, as Core-0 verified it */
  struct instance old, new;
  int64_t for_spawn;           /* the reservation the new instance's frames come from (the spawn consumes it) */
  int64_t reservation;         /* the headroom reservation, deleted at the end */
  int64_t endpoint;            /* the new instance's migration channel (we hold all rights) */
  uint64_t failed_step;        /* MODULE_MANAGER_END_FAILED_STEP_* */
  uint32_t checks, failures;
  uint32_t snapshot_conns;
  uint32_t gone, move_failures; /* connections closed before their turn, and moves that failed */
  uint64_t ipc_calls;          /* calls made, all told */
  uint64_t ipc_moving;         /* ... of them while connections moved */
  uint64_t connections_ns;     /* the connection phase, virtual */
  uint64_t phase_started;      /* virtual ns: the current step's start, for the timeout */
  bool switched;               /* the service's alias reaches the new instance */
  uint32_t starts;             /* starts of the new instance (phase 2 restarts one that crashed) */
  uint64_t rollback_of;         /* 0, or the completed update this one rolls back in its window (window.c) */
  bool watched;                /* the Monitor watches the new instance */
  bool has_verdict;            /* the Monitor asked for a rollback: */
  struct mon_verdict verdict;  /* ... this one */
};

struct tally { uint32_t moved, gone, failed; };

extern struct update up;
extern struct hic_msg msg; /* the one message buffer: every call is synchronous */
extern int64_t eth, eth_wake;
extern uint64_t eth_bits;

/* module_manager.c */
bool run_update(void); /* the update up.req asks for, to its end record; true if it completed */
void check(bool ok, uint64_t what);
void msg_clear(void);
uint64_t mig_call(struct instance *s, uint64_t label, uint64_t w0, uint64_t w1, int64_t cap); /* within the phase timeout */
uint64_t mig_call_within(struct instance *s, uint64_t label, uint64_t w0, uint64_t w1, int64_t cap, uint64_t timeout_ns);
uint64_t mig_call_with(struct instance *s, uint64_t label, const void *payload, uint64_t len); /* with these payload bytes */
uint64_t mig_call_bytes(struct instance *s, uint64_t label, uint64_t w0, uint64_t w1, int64_t cap, uint64_t len, uint64_t timeout_ns);
uint64_t eth_call(uint64_t label, uint64_t w0, uint64_t w1, uint64_t w2, uint64_t w3);
bool status_of(struct instance *s, struct mig_status *st);
bool status_within(struct instance *s, struct mig_status *st, uint64_t timeout_ns);
bool hello(struct instance *s);
void step(uint64_t phase, uint64_t which, uint64_t state);
bool timed_out(void);

/* plan.c: phase 1; false and a `refused` record when the request cannot go ahead. notify: one
 * NOTICE_* event to each service that works with the updated one, a `notified` record each; false
 * if one that runs did not answer ready. */
bool plan(void);
bool notify(uint64_t event);
void release(void);

/* instance.c: phase 2. new_ended: no sandbox of the new version lives (it crashed). */
bool new_ended(void);
bool new_instance(void);

/* stages.c: phase 3. */
bool migrate(void);
uint8_t classify(const struct mig_conn_ref *c); /* 0 idle, 1 HTTP, 2 real-time, 3 persistent */
uint64_t move_conn(struct instance *from, struct instance *to, const struct mig_conn_ref *c, struct tally *t, uint64_t within_ns);
void split(void);
/* Every connection instance s holds (MIG_LIST), up to max, each with its class; -1 if it did not answer. */
int32_t list_conns(struct instance *s, struct mig_conn_ref *out, uint8_t *classes, uint32_t max);
void latency_reset(void);
void latency(uint64_t *avg, uint64_t *p99, uint64_t *max, uint64_t *samples);
bool healthy(void);

/* finish.c: phase 4. */
bool finish(void);

/* watch.c: the Monitor (hic/monitor.h). watch_init at start; watch_begin once the new instance
 * takes traffic; verdict() true once a rollback verdict for this update has arrived, waiting up
 * to timeout_ns for one (0: just look); watch_end when the update is over, whatever its end.
 * watch_prepare as the update begins: the Monitor's baseline stops there. watch_validate once a
 * rollback is done: the Monitor compares what serves with that baseline (seed 步骤5.4). */
void watch_init(void);
void watch_prepare(void);
void watch_begin(void);
void watch_config(const char *service);
bool verdict(uint64_t timeout_ns);
void watch_end(void);
void watch_validate(uint64_t id);

/* rollback.c: the rollback the verdict asks for, before COMPLETE (seed §4.3 步骤5.2), and the
 * new version's bad mark in Core-0's installed-state store. */
void rollback(void);
void discard(void); /* the new instance failed the consistency check: destroyed, marked bad */
bool mark_bad(const char *version, bool bad);

/* window.c: the rollback window after COMPLETE. window_open after a completed update (the
 * Monitor still watches); window_wait, before the next request, waits in it: true with a request
 * in `in` (the window is closed), false once it expired or its rollback ran. */
void window_open(void);
bool window_wait(int64_t requests, struct hic_msg *in);

/* configure.c: a configuration change (MM_REQUEST_CONFIGURE): the firewall's table, put in force,
 * enforced by the running instance, watched through the stability window and put back if the
 * Monitor asks. configure_init with the admin channel's slot (0: none). */
void configure_init(uint64_t firewall_slot);
bool run_configure(const struct instance *running, const struct mm_configure *c);

/* gc.c: version garbage collection (seed 步骤4.3). gc_collectable when nothing can roll back to a
 * replaced version any more; gc_in_service when an update puts one in service again; gc_due the
 * virtual time the next collection is due (0: none); gc_run collects what is due. */
void gc_init(uint64_t after_ns);
void gc_collectable(const char *service, uint64_t version);
void gc_in_service(const char *service, uint64_t version);
uint64_t gc_due(void);
void gc_run(void);

/* plan.c: the request's strings terminated (`to` empty unless versioned) and its policy sound (seed 步骤1.1). */
bool request_ok(bool versioned);

/* An update to an older version, which plan.c lets go on only when the request asked for it (an
 * operator's MM_ALLOW_DOWNGRADE, or a rollback in the window): Core-0 lets it past its rollback
 * protection for this request (HIC_DOWNGRADE) and the instances take the reverse order
 * (MIG_PEER_DOWNGRADE). */
#define DOWNGRADE (up.to < up.from)

#endif
