/* stages.c -- phase 3, state migration and traffic switch (seed 步骤3.1-3.4).
 *
 * The snapshot moves from the source to the target and the target becomes the Ethernet driver's
 * default, so every new connection lands there. Then the connections the source holds move in
 * the seed's four stages (步骤3.2), by class: idle ones first (silent for policy.idle_ms), then
 * HTTP and plain TCP, then real-time (the WebSocket port), then persistent sessions (VPN,
 * database); stage k ends when policy.stage_up_to[k] permille of all have moved. They move in
 * batches of policy.batch under policy.rate_limit; after each batch the split is recorded and,
 * when due, a health check runs; a failed check stops the update with both instances serving.
 * Each connection moves as the protocol says (步骤3.3): EXPECT at the target, STEER at the driver,
 * CONN_OUT at the source, CONN_IN at the target, CONN_DONE at the source. Finally every alias of
 * the service is switched to the new instance (步骤3.4). */
#include "mm.h"

#define MAX_CONNS 16384
#define HIST_US 16384 /* added latency histogram: 1 us buckets, the last one open-ended */

static struct mig_conn_ref refs[MAX_CONNS];
static uint32_t nmoved; /* connections moved to the new instance, for an emergency's count */
static uint8_t cls[MAX_CONNS], done[MAX_CONNS];
static uint32_t nrefs;
static uint32_t hist[HIST_US];
static uint64_t lat_total, lat_max, lat_n;
static int64_t new_stats = -1;

uint8_t classify(const struct mig_conn_ref *c) {
  if (c->idle_ms >= up.req.policy.idle_ms) return 0;
  switch (c->local_port) {
  case 8080: return 2;               /* real-time: WebSocket, streaming */
  case 1194: case 5432: return 3;    /* persistent sessions: VPN, database */
  default: return 1;                 /* HTTP and plain TCP */
  }
}

int32_t list_conns(struct instance *s, struct mig_conn_ref *out, uint8_t *classes, uint32_t max) {
  int32_t n = 0;
  uint64_t cursor = 0;
  do {
    if (mig_call(s, MIG_LIST, cursor, 0, HIC_NO_CAP) != MIG_OK) return -1;
    uint32_t got = (uint32_t)msg.words[0];
    cursor = msg.words[1];
    const struct mig_conn_ref *refs = (const struct mig_conn_ref *)msg.payload;
    for (uint32_t i = 0; i < got && (uint32_t)n < max; i++, n++) out[n] = refs[i], classes[n] = classify(&refs[i]);
  } while (cursor != 0);
  return n;
}

/* Every connection the source holds now, by the stage it moves in: its class, or for a rollback
 * (window.c) the reverse -- persistent sessions first, idle ones last, as the seed's reverse
 * migration orders them (步骤5.2.2). */
static bool list_source(void) {
  int32_t n = list_conns(&up.old, refs, cls, MAX_CONNS);
  nrefs = n < 0 ? 0 : (uint32_t)n;
  memset(done, 0, nrefs);
  if (up.rollback_of)
    for (uint32_t i = 0; i < nrefs; i++) cls[i] = (uint8_t)(MM_STAGES - 1 - cls[i]);
  return n >= 0;
}

static void sample(uint64_t ns) {
  uint64_t us = ns / 1000;
  hist[us < HIST_US ? us : HIST_US - 1]++;
  lat_total += ns, lat_n++;
  if (ns > lat_max) lat_max = ns;
}

/* The 99th percentile, to the histogram's microsecond: the upper edge of the bucket it falls in,
 * but never above the largest sample (with few samples the p99 is the maximum's own bucket). */
static uint64_t p99(void) {
  uint64_t want = lat_n - lat_n / 100, seen = 0;
  for (uint32_t us = 0; us < HIST_US; us++)
    if ((seen += hist[us]) >= want && lat_n) {
      uint64_t edge = (uint64_t)(us + 1) * 1000;
      return edge < lat_max ? edge : lat_max;
    }
  return lat_max;
}

/* One connection from `from` to `to` (seed 步骤3.3): EXPECT at `to`, STEER, CONN_OUT at `from`,
 * CONN_IN at `to`, CONN_DONE at `from`. An update moves source to target, a rollback target to
 * source: the protocol is the same both ways. Each call must be answered `within` ns. Returns the
 * time the connection's segments waited (CONN_OUT to CONN_IN), 0 when it did not move. */
uint64_t move_conn(struct instance *from, struct instance *to, const struct mig_conn_ref *c, struct tally *t, uint64_t within) {
  uint64_t key = eth_key(c->remote_ip, c->remote_port, c->local_port);
  if (mig_call_within(to, MIG_EXPECT, key, 0, HIC_NO_CAP, within) != MIG_OK) return t->failed++, 0;
  if (eth_call(ETH_STEER, c->remote_ip, c->remote_port, c->local_port, to->hello.instance) != ETH_OK) {
    mig_call_within(to, MIG_EXPECT, key, 1, HIC_NO_CAP, within);
    return t->failed++, 0;
  }
  uint64_t f0 = (uint64_t)hic_time_now();
  uint64_t st = mig_call_within(from, MIG_CONN_OUT, c->id, 0, HIC_NO_CAP, within);
  if (st != MIG_OK) {
    /* It closed before its turn: its segments go back to whoever has the default. */
    eth_call(ETH_STEER, c->remote_ip, c->remote_port, c->local_port, ETH_NO_INSTANCE);
    mig_call_within(to, MIG_EXPECT, key, 1, HIC_NO_CAP, within);
    if (st == MIG_ERR_NO_CONN) t->gone++;
    else t->failed++;
    return 0;
  }
  if (mig_call_within(to, MIG_CONN_IN, 0, 0, msg.cap, within) != MIG_OK) {
    hic_log("module_manager: CONN_IN of %u at the %s refused: %lu; giving it back", c->id, to->role, msg.label);
    eth_call(ETH_STEER, c->remote_ip, c->remote_port, c->local_port, from->hello.instance);
    mig_call_within(to, MIG_EXPECT, key, 1, HIC_NO_CAP, within);
    mig_call_within(from, MIG_CONN_BACK, c->id, 0, HIC_NO_CAP, within);
    return t->failed++, 0;
  }
  uint64_t waited = (uint64_t)hic_time_now() - f0;
  check(mig_call_within(from, MIG_CONN_DONE, c->id, 0, HIC_NO_CAP, within) == MIG_OK, MODULE_MANAGER_CHECK_WHAT_NO_FAILED_MOVE);
  t->moved++;
  return waited ? waited : 1;
}

/* Forward, each call within a health interval (a call takes a fraction of a millisecond): an
 * instance that stalls fails the move at once, and is not waited on again (mig_call_within),
 * rather than holding the update -- and the rollback the Monitor may be about to ask for -- for
 * a whole phase timeout. */
static void move(const struct mig_conn_ref *c, struct tally *t) {
  uint64_t waited = move_conn(&up.old, &up.new, c, t, up.req.policy.health_interval_ns);
  if (!waited) return;
  sample(waited);
  nmoved++;
}

/* Both instances answer within a health interval, the target takes connections, nothing held for
 * a moving connection was dropped, and the new instance's own stats endpoint answers with its
 * version. */
bool healthy(void) {
  struct mig_status o, n;
  uint64_t within = up.req.policy.health_interval_ns;
  bool ok = status_within(&up.old, &o, within) && status_within(&up.new, &n, within) && n.phase == MIG_PHASE_TARGET && n.held_dropped == 0;
  if (ok && new_stats >= 0) {
    msg_clear();
    msg.label = NS_STATS;
    msg.cap = HIC_NO_CAP;
    up.ipc_calls++;
    int64_t r = hic_call((uint64_t)new_stats, &msg, 0, within);
    if (r == -HIC_ERR_TIMEOUT) up.new.stalled = true; /* as for its migration channel (mig_call_within) */
    ok = r == 0 && msg.label == 0 && msg.words[2] == up.to;
  }
  if (!ok) check(false, MODULE_MANAGER_CHECK_WHAT_HEALTH);
  return ok;
}

void split(void) {
  struct mig_status o, n;
  if (status_of(&up.old, &o) && status_of(&up.new, &n))
    module_manager_emit_split(&(struct module_manager_record_split){.id = up.req.id, .old = o.connections, .new = n.connections});
}

/* Waits as long as the rate limit asks for `moved` connections since `since`, listening for the
 * Monitor meanwhile: true if a verdict came, which stops the stage at once rather than after the
 * next batch (at 4000 connections/s in batches of 100, that is 25 ms sooner). */
static bool pace(uint64_t since, uint64_t moved) {
  uint64_t rate = up.req.policy.rate_limit;
  if (rate == ~0ull || !moved) return verdict(0);
  uint64_t due = since + moved * 1000000000ull / rate, now = (uint64_t)hic_time_now();
  return verdict(due > now ? due - now : 0);
}

/* Stage k: connections of stages 0..k not yet moved, earliest first, until the stage's share of
 * all has moved (the last stage: all). */
static bool stage(int k, uint32_t total, uint32_t *moved_so_far) {
  static const uint64_t klass[MM_STAGES] = {MODULE_MANAGER_STAGE_CLASS_IDLE, MODULE_MANAGER_STAGE_CLASS_HTTP, MODULE_MANAGER_STAGE_CLASS_REALTIME,
                                             MODULE_MANAGER_STAGE_CLASS_PERSISTENT};
  const struct mm_policy *p = &up.req.policy;
  uint64_t start = (uint64_t)hic_time_now(), last_check = start, batch_start = start;
  uint32_t goal = (uint32_t)((total * p->stage_up_to[k] + 999) / 1000);
  struct tally t = {0};
  uint32_t batches = 0, checks = 0, in_batch = 0;
  bool ok = true;
  uint64_t per_check = k == MM_STAGES - 1 && p->stage_check_ns[k] == 0 ? 1 : p->batch; /* seed: stage 4 checks after every connection */
  for (int c = 0; c <= k && ok; c++) {
    for (uint32_t i = 0; i < nrefs && ok; i++) {
      if (done[i] || cls[i] != c) continue;
      if (k < MM_STAGES - 1 && *moved_so_far >= goal) break;
      done[i] = 1;
      uint32_t before = t.moved;
      move(&refs[i], &t);
      *moved_so_far += t.moved - before;
      in_batch++;
      bool batch_end = in_batch == p->batch;
      if (batch_end || in_batch % per_check == 0) {
        uint64_t now = (uint64_t)hic_time_now();
        if (p->stage_check_ns[k] == 0 || now - last_check >= p->stage_check_ns[k]) ok = healthy(), checks++, last_check = now;
        if (ok && timed_out()) ok = false;
        if (ok && verdict(0)) ok = false; /* the Monitor asks for a rollback */
      }
      if (batch_end) {
        batches++;
        split();
        if (pace(batch_start, in_batch)) ok = false; /* the Monitor asks for a rollback */
        batch_start = (uint64_t)hic_time_now(), in_batch = 0;
      }
    }
  }
  if (in_batch) batches++, split();
  if (ok) ok = healthy(), checks++;
  if (t.failed) ok = false; /* a connection that could not move stops the update: both instances serve on */
  module_manager_emit_stage(&(struct module_manager_record_stage){.id = up.req.id, .class = klass[up.rollback_of ? MM_STAGES - 1 - k : k], .up_to = p->stage_up_to[k], .moved = t.moved, .gone = t.gone,
                                                                  .failed = t.failed, .batches = batches, .checks = checks, .healthy = ok,
                                                                  .start_ns = start, .end_ns = (uint64_t)hic_time_now()});
  hic_log("module_manager: stage %d: %u moved, %u closed first, %u failed, %u batches, %s", k + 1, t.moved, t.gone, t.failed, batches, ok ? "healthy" : "UNHEALTHY");
  check(t.failed == 0, MODULE_MANAGER_CHECK_WHAT_NO_FAILED_MOVE);
  up.gone += t.gone, up.move_failures += t.failed;
  return ok;
}

static bool snapshot(void) {
  step(3, MODULE_MANAGER_STEP_STEP_SNAPSHOT, MODULE_MANAGER_STEP_STATE_BEGIN);
  if (mig_call(&up.old, MIG_PREPARE, 0, 0, HIC_NO_CAP) != MIG_OK) return false;
  /* The snapshot comes to us as a memory object charged to our quota on its way to the target:
   * a quota smaller than the snapshot makes the source answer NO_MEMORY. */
  if (mig_call(&up.old, MIG_EXPORT_STATE, 0, 0, HIC_NO_CAP) != MIG_OK || msg.cap < 0)
    return hic_log("module_manager: EXPORT_STATE: %lu (kernel error %lu)", msg.label, msg.words[0]), false;
  uint64_t conns = msg.words[2];
  if (mig_call(&up.new, MIG_IMPORT_STATE, 0, 0, msg.cap) != MIG_OK) return hic_log("module_manager: IMPORT_STATE: %lu", msg.label), false;
  up.snapshot_conns = (uint32_t)msg.words[0];
  check(msg.words[0] == conns, MODULE_MANAGER_CHECK_WHAT_SNAPSHOT_IMPORTED);
  check(eth_call(ETH_DEFAULT, up.new.hello.instance, 0, 0, 0) == ETH_OK, MODULE_MANAGER_CHECK_WHAT_DEFAULT_MOVED);
  watch_begin(); /* the new instance takes traffic from here: the Monitor watches it */
  /* The rollback point is not persisted yet (docs/module-manager.md): it lives in the source. */
  step(3, MODULE_MANAGER_STEP_STEP_SNAPSHOT, MODULE_MANAGER_STEP_STATE_OK);
  return true;
}

static bool switch_aliases(void) {
  step(3, MODULE_MANAGER_STEP_STEP_SWITCH, MODULE_MANAGER_STEP_STATE_BEGIN);
  static const char alias[] = "cap://netstack/stats";
  char target[64];
  int len = hic_snprintf(target, sizeof target, "cap://%s/v%s/stats", up.req.service, up.info.version);
  bool ok = hic_registry_switch(REGISTRY, alias, sizeof alias - 1, target, (uint64_t)len) == 0;
  check(ok, MODULE_MANAGER_CHECK_WHAT_ALIAS_SWITCH);
  if (ok) up.switched = true, module_manager_emit_switched(&(struct module_manager_record_switched){.id = up.req.id, .alias = MODULE_MANAGER_SWITCHED_ALIAS_STATS});
  step(3, MODULE_MANAGER_STEP_STEP_SWITCH, ok ? MODULE_MANAGER_STEP_STATE_OK : MODULE_MANAGER_STEP_STATE_FAILED);
  return ok;
}

bool migrate(void) {
  if (!snapshot()) return step(3, MODULE_MANAGER_STEP_STEP_SNAPSHOT, MODULE_MANAGER_STEP_STATE_FAILED), false;
  char name[64];
  int len = hic_snprintf(name, sizeof name, "cap://%s/v%s/stats", up.req.service, up.info.version);
  new_stats = hic_registry_lookup(REGISTRY, name, (uint64_t)len);

  step(3, MODULE_MANAGER_STEP_STEP_MIGRATE, MODULE_MANAGER_STEP_STATE_BEGIN);
  uint64_t t0 = (uint64_t)hic_time_now(), calls0 = up.ipc_calls;
  bool ok = list_source();
  uint32_t total = nrefs, moved = 0;
  split();
  for (int k = 0; k < MM_STAGES && ok; k++) ok = stage(k, total, &moved);
  /* Connections the source accepted between the LIST and DEFAULT: one more pass until none is left. */
  for (int pass = 0; ok && pass < 4 && (ok = list_source()) && nrefs; pass++) {
    for (uint32_t i = 0; i < nrefs; i++) cls[i] = MM_STAGES - 1;
    ok = stage(MM_STAGES - 1, nrefs, &moved);
  }
  up.ipc_moving = up.ipc_calls - calls0;
  up.connections_ns = (uint64_t)hic_time_now() - t0;
  step(3, MODULE_MANAGER_STEP_STEP_MIGRATE, ok ? MODULE_MANAGER_STEP_STATE_OK : MODULE_MANAGER_STEP_STATE_FAILED);
  return ok && switch_aliases();
}

void latency_reset(void) {
  nmoved = 0;
  memset(hist, 0, sizeof hist);
  lat_total = lat_max = lat_n = 0;
}

void latency(uint64_t *avg, uint64_t *p, uint64_t *max, uint64_t *n) {
  *avg = lat_n ? lat_total / lat_n : 0, *p = p99(), *max = lat_max, *n = lat_n;
}
