/* module_manager: the Module Manager, the service that runs a rolling update (seed §2.1, §3.1-3.4).
 *
 * It is policy over Core-0's mechanism: it asks the module loader (a LOADER capability, slot 1)
 * to verify a version and create its instance, the migration protocol (hic/migration.h) to move
 * state and connections, the Ethernet driver to steer them, the registry to switch the service's
 * names, and sandbox control to end the old instance. Requests come from the operator's channel
 * (hic/module_manager.h) one at a time; each ends in a `refused` record (nothing changed) or in
 * `begin`, `step`s, `stage`s and an `end` record, which the host turns into the update report.
 *
 * When the new instance takes traffic, the Monitor (if the image runs one) watches it; a rollback
 * verdict stops the update and rollback.c undoes it (watch.c, rollback.c). After COMPLETE it goes
 * on watching through the rollback window, where a verdict starts an update back (window.c).
 *
 * A configuration change (MM_REQUEST_CONFIGURE) runs in configure.c: a new firewall table, put in
 * force through the firewall's admin channel (config.firewall_slot), watched, and put back alone if
 * the Monitor asks (seed §4.4.2).
 *
 * The running instance is the one the image gave us: its sandbox control at config.control_slot,
 * its migration channel at config.channel_slot. After an update the new instance is the running
 * one, so a second update starts from it. */
#include "mm.h"

struct update up;
struct hic_msg msg;
int64_t eth = -1, eth_wake = -1;
uint64_t eth_bits;
static struct instance running; /* the instance in service, between updates */

void check(bool ok, uint64_t what) {
  up.checks++;
  if (ok) return;
  up.failures++;
  module_manager_emit_check(&(struct module_manager_record_check){.id = up.req.id, .what = what});
  hic_log("module_manager: check %lu FAILED", what);
}

/* A new call's header. The payload is left as it is: only msg.len bytes of it travel, and
 * clearing all of its 1 KiB a byte at a time was most of our instructions per moved connection
 * (docs/benchmarks.md, "update"). A reply's payload is read only up to the reply's len. */
void msg_clear(void) {
  memset(&msg, 0, offsetof(struct hic_msg, payload));
}

uint64_t mig_call(struct instance *s, uint64_t label, uint64_t w0, uint64_t w1, int64_t cap) {
  return mig_call_within(s, label, w0, w1, cap, up.req.policy.phase_timeout_ns);
}

uint64_t mig_call_within(struct instance *s, uint64_t label, uint64_t w0, uint64_t w1, int64_t cap, uint64_t timeout_ns) {
  return mig_call_bytes(s, label, w0, w1, cap, 0, timeout_ns);
}

uint64_t mig_call_with(struct instance *s, uint64_t label, const void *payload, uint64_t len) {
  memmove(msg.payload, payload, len);
  return mig_call_bytes(s, label, 0, 0, HIC_NO_CAP, len, up.req.policy.phase_timeout_ns);
}

/* A call whose first `len` payload bytes are in msg.payload already. */
uint64_t mig_call_bytes(struct instance *s, uint64_t label, uint64_t w0, uint64_t w1, int64_t cap, uint64_t len, uint64_t timeout_ns) {
  msg_clear();
  msg.len = len;
  msg.label = label;
  msg.words[0] = w0;
  msg.words[1] = w1;
  msg.cap = cap;
  msg.cap_move = cap >= 0;
  up.ipc_calls++;
  if (s->wake >= 0) hic_notify((uint64_t)s->wake, MIG_KICK_BIT);
  if (s->stalled || s->ended) return 0xdead;
  int64_t r = hic_call((uint64_t)s->channel, &msg, 0, timeout_ns);
  /* An instance that let a call time out is not waited on again in this update: each further call
   * would cost another timeout while the rollback that may be coming waits behind it. */
  if (r == -HIC_ERR_TIMEOUT) s->stalled = true;
  if (r < 0) return hic_log("module_manager: call %lu to the %s failed: %ld", label, s->role, r), 0xdead;
  return msg.label;
}

uint64_t eth_call(uint64_t label, uint64_t w0, uint64_t w1, uint64_t w2, uint64_t w3) {
  msg_clear();
  msg.label = label;
  msg.words[0] = w0, msg.words[1] = w1, msg.words[2] = w2, msg.words[3] = w3;
  msg.cap = HIC_NO_CAP;
  up.ipc_calls++;
  if (eth_wake >= 0) hic_notify((uint64_t)eth_wake, eth_bits);
  int64_t r = hic_call((uint64_t)eth, &msg, 0, up.req.policy.phase_timeout_ns);
  return r < 0 ? (uint64_t)-r : msg.label;
}

bool status_of(struct instance *s, struct mig_status *st) {
  return status_within(s, st, up.req.policy.phase_timeout_ns);
}

bool status_within(struct instance *s, struct mig_status *st, uint64_t timeout_ns) {
  memset(st, 0, sizeof *st);
  if (mig_call_within(s, MIG_STATUS, 0, 0, HIC_NO_CAP, timeout_ns) != MIG_OK || msg.len < sizeof *st) return false;
  memcpy(st, msg.payload, sizeof *st);
  return true;
}

bool hello(struct instance *s) {
  uint64_t st = mig_call(s, MIG_HELLO, 0, 0, HIC_NO_CAP);
  if (st != MIG_OK || msg.len != sizeof s->hello) return hic_log("module_manager: HELLO to the %s: %lu", s->role, st), false;
  memcpy(&s->hello, msg.payload, sizeof s->hello);
  if (s->wake < 0) s->wake = msg.cap;
  else if (msg.cap >= 0) hic_cap_delete((uint64_t)msg.cap);
  return true;
}

void step(uint64_t phase, uint64_t which, uint64_t state) {
  if (state == MODULE_MANAGER_STEP_STATE_BEGIN) up.phase_started = (uint64_t)hic_time_now();
  if (state == MODULE_MANAGER_STEP_STATE_FAILED && !up.failed_step) up.failed_step = which + 1; /* END_FAILED_STEP_* are STEP_STEP_* + 1 */
  module_manager_emit_step(&(struct module_manager_record_step){.id = up.req.id, .phase = phase, .step = which, .state = state, .journal = true});
}

bool timed_out(void) {
  bool late = (uint64_t)hic_time_now() - up.phase_started > up.req.policy.phase_timeout_ns;
  if (late) check(false, MODULE_MANAGER_CHECK_WHAT_TIMEOUT);
  return late;
}

static void refuse(uint64_t id, uint64_t reason, int64_t code) {
  module_manager_emit_refused(&(struct module_manager_record_refused){.id = id, .reason = reason, .code = (uint64_t)(code < 0 ? -code : code), .from = 0, .journal = true});
  hic_log("module_manager: request %lu refused (reason %lu, code %ld)", id, reason, code);
}

bool run_update(void) {
  latency_reset();
  up.old = running;
  up.old.stalled = false;
  up.reservation = up.for_spawn = up.endpoint = -1;
  up.new = (struct instance){.role = "target", .channel = -1, .wake = -1, .control = -1};
  if (!plan()) return running.wake = up.old.wake, running.hello = up.old.hello, false; /* kept for the next request */
  const struct mm_policy *p = &up.req.policy;
  module_manager_emit_begin(&(struct module_manager_record_begin){
      .id = up.req.id, .from = up.from, .to = up.to, .rate_limit = p->rate_limit == ~0ull ? 0 : p->rate_limit, .batch = p->batch,
      .health_interval_ns = p->health_interval_ns, .stability_ns = p->stability_ns, .rollback_window_ns = p->rollback_window_ns,
      .phase_timeout_ns = p->phase_timeout_ns, .stage1 = p->stage_up_to[0], .stage2 = p->stage_up_to[1], .stage3 = p->stage_up_to[2],
      .stage4 = p->stage_up_to[3], .idle_ms = p->idle_ms, .rollback_of = up.rollback_of, .journal = true});
  watch_prepare();
  bool ok = new_instance() && migrate() && finish();
  /* What a failure calls for is the Monitor's to say (a failed health check may be the start of
   * what it is judging): while it watches, wait for its verdict before giving up alone. */
  if (!ok && up.watched) verdict(up.req.policy.phase_timeout_ns);
  bool rolled_back = !ok && up.has_verdict;
  if (rolled_back) rollback();
  else if (up.failed_step == MODULE_MANAGER_END_FAILED_STEP_WARMUP) discard();
  if (!ok) watch_end(); /* a completed update stays watched through its rollback window */
  if (rolled_back) watch_validate(up.req.id);
  release();
  if (ok) running = up.new, running.role = "source";
  else running.wake = up.old.wake, running.hello = up.old.hello; /* what it said of itself, for the next request */
  /* Versions: the one now in service is nobody's garbage; the one replaced is, once nothing can roll
   * back to it -- at once when no rollback window opens (no Monitor watched), else when it closes. */
  if (ok) gc_in_service(up.req.service, up.to);
  if (ok && !up.rollback_of && !up.watched) gc_collectable(up.req.service, up.from);
  notify(ok ? NOTICE_COMPLETED : rolled_back ? NOTICE_ROLLED_BACK : NOTICE_FAILED); /* 步骤4.3: and to them, how it ended */
  uint64_t avg, p99, max, moved;
  latency(&avg, &p99, &max, &moved);
  module_manager_emit_end(&(struct module_manager_record_end){
      .id = up.req.id,
      .outcome = ok ? MODULE_MANAGER_END_OUTCOME_COMPLETED : rolled_back ? MODULE_MANAGER_END_OUTCOME_ROLLED_BACK : MODULE_MANAGER_END_OUTCOME_FAILED,
      .failed_step = up.failed_step,
      .snapshot = up.snapshot_conns, .moved = moved, .gone = up.gone, .failed = up.move_failures, .latency_avg_ns = avg, .latency_p99_ns = p99,
      .latency_max_ns = max, .ipc_per_connection = moved ? up.ipc_moving * 100 / moved : 0, .connections_phase_ns = up.connections_ns,
      .checks = up.checks, .ok = (ok || rolled_back) && up.failures == 0, .journal = true});
  if (ok)
    hic_log("module_manager: update %lu of %s to %s complete: %lu connections moved, added latency avg %lu ns p99 %lu ns max %lu ns, %u checks, %u failed",
            up.req.id, up.req.service, up.info.version, moved, avg, p99, max, up.checks, up.failures);
  else if (rolled_back) hic_log("module_manager: update %lu rolled back at step %lu; %s serves", up.req.id, up.failed_step, up.old.role);
  else if (up.failed_step == MODULE_MANAGER_END_FAILED_STEP_WARMUP)
    hic_log("module_manager: update %lu FAILED its consistency check; %s serves on alone", up.req.id, up.old.role);
  else hic_log("module_manager: update %lu FAILED at step %lu; both instances serve on", up.req.id, up.failed_step);
  if (ok) window_open();
  return ok;
}

int hic_main(void) {
  const struct module_manager_config *config = hic_config();
  running = (struct instance){.role = "source", .channel = (int64_t)config->channel_slot, .wake = -1, .control = (int64_t)config->control_slot};
  /* The Ethernet driver's control endpoint steers connections; KICK gives a copy of its
   * notification, so a call is answered without its polling delay. */
  static const char control[] = "cap://eth/control";
  while ((eth = hic_registry_lookup(REGISTRY, control, sizeof control - 1)) == -HIC_ERR_NOT_FOUND) hic_sleep(100000);
  memset(&msg, 0, sizeof msg);
  msg.label = ETH_KICK;
  msg.cap = HIC_NO_CAP;
  if (hic_call((uint64_t)eth, &msg, 0, 0) == 0 && msg.label == ETH_OK) eth_wake = msg.cap, eth_bits = msg.words[0];
  watch_init();
  configure_init(config->firewall_slot);
  gc_init(config->gc_after_ns);
  int64_t requests = hic_endpoint_create();
  static const char name[] = "cap://module_manager/v" HIC_MODULE_VERSION "/requests";
  if (requests < 0 || hic_registry_register(REGISTRY, name, sizeof name - 1, (uint64_t)requests) < 0) return hic_log("module_manager: cannot register %s", name), 1;
  for (;;) {
    static struct hic_msg in;
    if (!window_wait(requests, &in)) {
      /* Waiting for a request, or for the next version collection to fall due. */
      uint64_t due = gc_due(), now = (uint64_t)hic_time_now();
      int64_t r = due && due <= now ? -HIC_ERR_TIMEOUT : hic_recv((uint64_t)requests, &in, 0, due ? due - now : 0);
      if (r == -HIC_ERR_TIMEOUT) gc_run();
      if (r < 0) continue;
    }
    if (in.cap >= 0) hic_cap_delete((uint64_t)in.cap);
    static struct mm_configure c;
    memset(&c, 0, sizeof c);
    memcpy(&c, in.payload, in.len < sizeof c ? in.len : sizeof c);
    bool update = in.label == MM_REQUEST_UPDATE && in.len == sizeof c.req;
    bool configure = in.label == MM_REQUEST_CONFIGURE && in.len == sizeof c;
    if (!update && !configure) {
      refuse(c.req.id, MODULE_MANAGER_REFUSED_REASON_BAD_POLICY, HIC_ERR_INVALID_ARGUMENT);
      continue;
    }
    memset(&up, 0, sizeof up);
    up.req = c.req;
    if (update) run_update();
    else run_configure(&running, &c);
  }
}
