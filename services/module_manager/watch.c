/* watch.c -- the Module Manager's side of the Monitor (hic/monitor.h, seed §4.3 步骤5.1). The
 * decision to roll back is the Monitor's policy; this file only opens the watch, listens for the
 * verdict at the points where an update can stop (after each batch of moves, through the
 * stability window), and closes the watch. An image without a Monitor updates unwatched: the
 * health checks still stop a failing update, but nothing asks for a rollback. */
#include "mm.h"

static int64_t verdicts = -1; /* our endpoint for MON_VERDICT; the Monitor gets a send copy per watch */
static int64_t monitor = -1;  /* cap://monitor/watch, once found */

void watch_init(void) {
  verdicts = hic_endpoint_create();
  if (verdicts < 0) hic_log("module_manager: no verdict endpoint (%ld): updates go unwatched", verdicts);
}

static bool monitor_call(uint64_t label, uint64_t w0, uint64_t w1, const void *payload, uint64_t len, int64_t cap) {
  msg_clear();
  msg.label = label;
  msg.words[0] = w0;
  msg.words[1] = w1;
  msg.cap = cap;
  msg.cap_move = cap >= 0;
  msg.len = len;
  if (len) memcpy(msg.payload, payload, len);
  up.ipc_calls++;
  int64_t r = hic_call((uint64_t)monitor, &msg, 0, up.req.policy.phase_timeout_ns);
  if (r < 0 || msg.label != MON_OK) return hic_log("module_manager: Monitor call %lu: %ld/%lu", label, r, msg.label), false;
  return true;
}

static bool find_monitor(void) {
  static const char name[] = "cap://monitor/watch";
  return verdicts >= 0 && (monitor >= 0 || (monitor = hic_registry_lookup(REGISTRY, name, sizeof name - 1)) >= 0);
}

/* As the update begins: the Monitor's baseline is the old version as it served until now, before
 * anything of the update (a new sandbox, a handshake, a snapshot) weighs on it. */
void watch_prepare(void) {
  if (!up.rollback_of && find_monitor()) monitor_call(MON_PREPARE, up.req.id, up.to, 0, 0, HIC_NO_CAP);
}

/* The watch of `service` `version` (its stats endpoint), Ethernet driver id `instance`. */
static void watch_start(uint64_t kind, const char *service, const char *version, uint64_t instance) {
  /* Anything a watch of an earlier update left in the endpoint is stale. */
  static struct hic_msg old;
  while (hic_recv((uint64_t)verdicts, &old, HIC_NONBLOCK, 0) == 0)
    if (old.cap >= 0) hic_cap_delete((uint64_t)old.cap);
  /* Send and grant: a capability travels only with G. The Monitor can send on it, not receive. */
  int64_t back = hic_cap_copy((uint64_t)verdicts, HIC_RIGHT_W | HIC_RIGHT_G);
  if (back < 0) return (void)hic_log("module_manager: no copy of the verdict endpoint: %ld", back);
  struct mon_watch w = {.id = up.req.id, .from = up.from, .to = up.to, .instance = instance, .kind = kind};
  for (uint64_t i = 0; i + 1 < sizeof w.service && service[i]; i++) w.service[i] = service[i];
  for (uint64_t i = 0; i + 1 < sizeof w.version && version[i]; i++) w.version[i] = version[i];
  up.watched = monitor_call(MON_WATCH, 0, 0, &w, sizeof w, back);
  if (!up.watched) hic_cap_delete((uint64_t)back);
}

/* A rollback in the window (window.c) goes unwatched: the version it returns to is the baseline.
 * Called when the new instance begins to take traffic, or earlier, at its first crash while it
 * started (instance.c): the Monitor judges whether it crashes in a loop. */
void watch_begin(void) {
  if (up.watched || up.rollback_of || !find_monitor()) return;
  char version[sizeof up.info.version + 1];
  memcpy(version, up.info.version, sizeof up.info.version);
  version[sizeof up.info.version] = 0;
  watch_start(MON_WATCH_CODE, up.req.service, version, successor_instance(&up.old));
}

/* A configuration change (configure.c): the instance in service, `service` at up.from, before it
 * enforces the new table. */
void watch_config(const char *service) {
  if (up.watched || !find_monitor()) return;
  char version[16];
  hic_snprintf(version, sizeof version, "%lu.%lu.%lu", up.from >> 16, up.from >> 8 & 0xff, up.from & 0xff);
  watch_start(MON_WATCH_CONFIG, service, version, up.old.hello.instance);
}

bool verdict(uint64_t timeout_ns) {
  if (up.has_verdict) return true;
  if (!up.watched) return timeout_ns ? hic_sleep(timeout_ns), false : false;
  static struct hic_msg in;
  uint64_t end = (uint64_t)hic_time_now() + timeout_ns;
  for (;;) {
    uint64_t now = (uint64_t)hic_time_now();
    if (timeout_ns && now >= end) return false;
    int64_t r = hic_recv((uint64_t)verdicts, &in, timeout_ns ? 0 : HIC_NONBLOCK, timeout_ns ? end - now : 0);
    if (r < 0) return false;
    if (in.cap >= 0) hic_cap_delete((uint64_t)in.cap);
    struct mon_verdict v;
    bool ours = in.label == MON_VERDICT && in.len == sizeof v;
    if (ours) memcpy(&v, in.payload, sizeof v);
    ours = ours && v.id == up.req.id && v.action >= MON_ACTION_FIRST_ROLLBACK; /* not another update's, and a rollback */
    memset(&in, 0, offsetof(struct hic_msg, payload));
    in.label = ours ? MON_OK : MON_ERR_STATE;
    in.cap = HIC_NO_CAP;
    hic_reply(&in);
    if (!ours) continue;
    up.verdict = v, up.has_verdict = true;
    hic_log("module_manager: update %lu: the Monitor asks for rollback (action %lu, rule %lu, level %lu, confidence %lu permille)", v.id, v.action, v.rule, v.level, v.score);
    return true;
  }
}

void watch_end(void) {
  if (!up.watched) return;
  monitor_call(MON_UNWATCH, up.req.id, 0, 0, 0, HIC_NO_CAP);
  up.watched = false;
}

/* Once a rollback of update `id` is done: the Monitor checks what serves now against that watch's
 * baseline (seed 步骤5.4) and records the result; nothing here waits for it. */
void watch_validate(uint64_t id) {
  if (find_monitor()) monitor_call(MON_VALIDATE, id, 0, 0, 0, HIC_NO_CAP);
}
