/* instance.c -- phase 2, the new instance (seed 步骤2.1-2.3): Core-0 verifies the new version and
 * creates its sandbox from the reservation, with one capability granted: the receiving end of a
 * migration channel we create; then the handshake over both channels, with version
 * negotiation, the consistency check the protocol's PEER makes (same module, the version
 * order, the same firewall rules, a schema the target reads), and the warm-up's probes compared. */
#include "mm.h"

static bool spawn(void) {
  up.endpoint = hic_endpoint_create();
  if (up.endpoint < 0) return false;
  static struct hic_spawn_spec spec;
  memset(&spec, 0, sizeof spec);
  /* Sandbox names are [a-z][a-z0-9_-]*: the version with dashes, netstack-1-3-0. */
  hic_snprintf(spec.sandbox, sizeof spec.sandbox, "%s-%lu-%lu-%lu", up.req.service, up.to >> 16, up.to >> 8 & 0xff, up.to & 0xff);
  memcpy(spec.module, up.info.name, sizeof spec.module);
  memcpy(spec.version, up.info.version, sizeof spec.version);
  spec.quota = up.info.memory;
  spec.stack = hic_config()->stack_bytes;
  spec.reservation = up.for_spawn;
  spec.ngrants = 1;
  spec.grants[0] = (struct hic_spawn_grant){.slot = (uint64_t)up.endpoint, .rights = HIC_RIGHT_R};
  /* The new instance attaches to the Ethernet driver as the other instance id, on standby: it
   * becomes the driver's default only when phase 3 says so. */
  uint32_t instance = successor_instance(&up.old);
  hic_snprintf(spec.config, sizeof spec.config, "instance=%u;migration_slot=1;standby=true", instance);
  int64_t control = hic_module_spawn(LOADER, &spec, sizeof spec, DOWNGRADE ? HIC_DOWNGRADE : 0);
  if (control < 0) return hic_log("module_manager: Core-0 refused to create %s: %ld", spec.sandbox, control), false;
  up.for_spawn = -1; /* its frames are the new instance's now */
  up.new.control = control;
  up.new.channel = up.endpoint;
  hic_log("module_manager: created sandbox %s (%s %s, quota %lu)", spec.sandbox, spec.module, spec.version, spec.quota);
  return true;
}

/** PEER at `s` with the other's HELLO: the agreed version, or 0. */
static uint16_t peer(struct instance *s, const struct mig_hello *other, uint64_t role) {
  memset(&msg, 0, sizeof msg);
  msg.label = MIG_PEER;
  msg.words[0] = role;
  msg.words[1] = DOWNGRADE ? MIG_PEER_DOWNGRADE : 0;
  msg.cap = HIC_NO_CAP;
  memcpy(msg.payload, other, sizeof *other);
  msg.len = sizeof *other;
  up.ipc_calls++;
  if (s->wake >= 0) hic_notify((uint64_t)s->wake, MIG_KICK_BIT);
  if (hic_call((uint64_t)s->channel, &msg, 0, up.req.policy.phase_timeout_ns) < 0 || msg.label != MIG_OK) {
    hic_log("module_manager: the %s refused its peer: %lu", s->role, msg.label);
    return 0;
  }
  return (uint16_t)msg.words[0];
}

/* Seed 步骤2.4, the warm-up's functional consistency check (功能一致性验证): the same loopback
 * probes (hic/netstack_probe.h) go to the old instance and the new one, and their answers must
 * agree -- the same functions pass, each echo gives back exactly the bytes sent, and the
 * transcripts hash alike -- and the new one may take at most 5 % longer over a probe than the old
 * one (差异<5%), in CPU time (cpu_time: what the probe's own instructions cost, however often the
 * instance was preempted); each side's figure is its quickest probe. The warm-up's configuration half is the snapshot's: it
 * carries the configuration, and PEER checked the firewall rules are the same. */
#define PROBES 3
#define SLOWER_PERMILLE 1050

/* And its leak check (内存泄漏检查): a short stress of STRESS_PROBES more probes at the new instance
 * alone, each of which opens connections and moves bytes through its core and applications, with
 * the memory Core-0 counts for the new version read before and after (module_health). Allocation
 * and release must balance: a version that holds more after them than before fails the warm-up.
 * The stress comes after the compared probes, so what a first use allocates once is in both
 * figures. */
#define STRESS_PROBES 32

/* The bytes the live sandboxes of the new version hold, as Core-0 counts them; ~0 if it cannot say. */
static uint64_t new_memory(void) {
  struct hic_module_req q;
  struct hic_module_health h;
  memset(&q, 0, sizeof q);
  memcpy(q.name, up.req.service, sizeof q.name);
  q.name[sizeof q.name - 1] = 0;
  hic_snprintf(q.range, sizeof q.range, "%lu.%lu.%lu", up.to >> 16, up.to >> 8 & 0xff, up.to & 0xff);
  return hic_module_health(LOADER, &q, &h) == 0 && h.running ? h.memory : ~0ull;
}

/* cap://<service>/v<major.minor.patch>/stats of one instance. */
static int64_t stats_endpoint(uint64_t packed) {
  char name[80];
  int len = hic_snprintf(name, sizeof name, "cap://%s/v%lu.%lu.%lu/stats", up.req.service, packed >> 16, packed >> 8 & 0xff, packed & 0xff);
  return hic_registry_lookup(REGISTRY, name, (uint64_t)len);
}

/* One probe at an instance: a call like the others, counted. What was not given back as sent,
 * changed or missing, is `changed` here. */
static struct ns_probe_answer ask(int64_t ep, uint64_t number) {
  up.ipc_calls++;
  struct ns_probe_answer a = ns_probe(ep, &msg, number, up.req.policy.phase_timeout_ns);
  a.changed += NS_PROBE_BYTES - a.echoed;
  return a;
}

/* The configuration sync that opens the warm-up (步骤2.4 配置同步预热): the old instance's
 * config block -- address configuration, rule hash, ARP table, routes -- to the new one, which
 * checks that the address configuration and the rules are its own and takes the ARP table and
 * routes, before its probes run and before any connection is to come. */
static bool sync_config(uint64_t *arps, uint64_t *routes) {
  static uint8_t block[HIC_MSG_PAYLOAD_MAX];
  if (mig_call(&up.old, MIG_CONFIG_OUT, 0, 0, HIC_NO_CAP) != MIG_OK || msg.len > sizeof block) return false;
  uint64_t len = msg.len;
  memcpy(block, msg.payload, len);
  uint64_t st = mig_call_with(&up.new, MIG_CONFIG_IN, block, len);
  if (st != MIG_OK) return hic_log("module_manager: configuration sync: the %s refused the %s's config block: %lu", up.new.role, up.old.role, st), false;
  *arps = msg.words[0], *routes = msg.words[1];
  return true;
}

static bool consistent(void) {
  uint64_t arps = 0, routes = 0;
  bool synced = sync_config(&arps, &routes);
  check(synced, MODULE_MANAGER_CHECK_WHAT_CONFIG_SYNCED);
  int64_t at_old = stats_endpoint(up.from), at_new = stats_endpoint(up.to);
  struct ns_probe_answer o = {0}, n = {0};
  uint32_t agreed = 0;
  uint64_t old_ns = ~0ull, new_ns = ~0ull;
  for (uint32_t i = 0; i < PROBES; i++) {
    uint64_t number = up.req.id * PROBES + i + 0x1000; /* apart from the Monitor's numbers */
    o = ask(at_old, number);
    n = ask(at_new, number);
    if (o.answered && n.answered && o.failed == n.failed && o.hash == n.hash && n.changed == 0 && o.changed == 0) agreed++;
    else break;
    if (o.cpu_ns < old_ns) old_ns = o.cpu_ns;
    if (n.cpu_ns < new_ns) new_ns = n.cpu_ns;
  }
  bool same = synced && agreed == PROBES, quick = same && new_ns * 1000 <= old_ns * SLOWER_PERMILLE;
  uint64_t before = 0, after = 0;
  uint32_t stressed = 0;
  if (quick) {
    before = new_memory();
    for (uint32_t i = 0; i < STRESS_PROBES; i++) stressed += ask(at_new, up.req.id * STRESS_PROBES + i + 0x8000).answered;
    after = new_memory();
  }
  bool balanced = quick && stressed == STRESS_PROBES && before != ~0ull && after <= before;
  if (at_old >= 0) hic_cap_delete((uint64_t)at_old);
  if (at_new >= 0) hic_cap_delete((uint64_t)at_new);
  module_manager_emit_warmup(&(struct module_manager_record_warmup){
      .id = up.req.id, .probes = PROBES, .agreed = agreed, .old_hash = o.hash, .new_hash = n.hash, .old_failed = o.answered ? o.failed : ~0u,
      .new_failed = n.answered ? n.failed : ~0u, .new_changed = n.changed, .old_time_ns = same ? old_ns : 0, .new_time_ns = same ? new_ns : 0,
      .stress = stressed, .memory_before = before, .memory_after = after, .arp = arps, .routes = routes, .synced = synced});
  if (synced) check(agreed == PROBES, MODULE_MANAGER_CHECK_WHAT_SAME_ANSWERS);
  if (same) check(quick, MODULE_MANAGER_CHECK_WHAT_PROBE_TIME);
  if (quick) check(balanced, MODULE_MANAGER_CHECK_WHAT_MEMORY_BALANCE);
  if (!same && !n.answered) hic_log("module_manager: consistency check: the %s did not answer probe %u", up.new.role, agreed);
  else if (!same)
    hic_log("module_manager: consistency check: %s and %s answer probe %u differently (functions failed %x/%x, hash %08x/%08x, %u bytes changed)",
            up.old.role, up.new.role, agreed, o.failed, n.failed, o.hash, n.hash, n.changed);
  else if (!quick)
    hic_log("module_manager: consistency check: a probe takes %lu ns at %s, %lu ns at %s: more than 5 %% slower", new_ns, up.new.role, old_ns, up.old.role);
  else if (!balanced)
    hic_log("module_manager: leak check: the %s held %lu bytes before %u probes and %lu after", up.new.role, before, stressed, after);
  return balanced;
}

/* One start of the new instance: its sandbox, the handshake, the warm-up's checks. */
static bool start(void) {
  step(2, MODULE_MANAGER_STEP_STEP_SANDBOX, MODULE_MANAGER_STEP_STATE_BEGIN);
  if (!spawn()) return step(2, MODULE_MANAGER_STEP_STEP_SANDBOX, MODULE_MANAGER_STEP_STATE_FAILED), false;
  step(2, MODULE_MANAGER_STEP_STEP_SANDBOX, MODULE_MANAGER_STEP_STATE_OK);

  step(2, MODULE_MANAGER_STEP_STEP_HANDSHAKE, MODULE_MANAGER_STEP_STATE_BEGIN);
  uint16_t at_new = 0, at_old = 0;
  if (hello(&up.new)) at_new = peer(&up.new, &up.old.hello, MIG_ROLE_TARGET);
  if (at_new) at_old = peer(&up.old, &up.new.hello, MIG_ROLE_SOURCE);
  if (!at_new || !at_old) return step(2, MODULE_MANAGER_STEP_STEP_HANDSHAKE, MODULE_MANAGER_STEP_STATE_FAILED), false;
  check(at_new == at_old, MODULE_MANAGER_CHECK_WHAT_SAME_PROTOCOL);
  hic_log("module_manager: handshake: %s %lu.%lu.%lu and %s agree on protocol %u.%u", up.req.service, up.from >> 16, up.from >> 8 & 0xff,
          up.from & 0xff, up.info.version, at_new >> 8, at_new & 0xff);
  step(2, MODULE_MANAGER_STEP_STEP_HANDSHAKE, MODULE_MANAGER_STEP_STATE_OK);
  step(2, MODULE_MANAGER_STEP_STEP_WARMUP, MODULE_MANAGER_STEP_STATE_BEGIN);
  bool same = consistent();
  step(2, MODULE_MANAGER_STEP_STEP_WARMUP, same ? MODULE_MANAGER_STEP_STATE_OK : MODULE_MANAGER_STEP_STATE_FAILED);
  return same;
}

/* A new instance that crashes while it starts -- before it serves anything -- is started again,
 * up to MM_STARTS starts in all (seed §4.2: three crashes in a row call for a rollback). At its
 * first crash the Monitor begins to watch; it counts Core-0's crashes of the version from the
 * update's start and decides. A restart waits for nothing: a verdict already taken ends them. */
#define MM_STARTS 3

/* No sandbox of the new version lives: the new instance ended (Core-0's module_health). */
bool new_ended(void) {
  struct hic_module_req q;
  struct hic_module_health h;
  memset(&q, 0, sizeof q);
  hic_snprintf(q.name, sizeof q.name, "%s", up.req.service);
  hic_snprintf(q.range, sizeof q.range, "%s", up.info.version);
  return hic_module_health(LOADER, &q, &h) == 0 && h.running == 0;
}

/* What the dead instance left -- its sandbox capability (Core-0 reclaimed the sandbox at its
 * fault), its migration channel, its wake-up copy -- let go, and a reservation for the next start. */
static bool prepare_restart(void) {
  /* The old instance's PEER with the dead one is void: ABORT returns it to serving alone, and
   * the next start's handshake begins with a HELLO to it again. */
  if (mig_call(&up.old, MIG_ABORT, 0, 0, HIC_NO_CAP) != MIG_OK || !hello(&up.old)) return hic_log("module_manager: the old instance did not take a new handshake"), false;
  if (up.new.control >= 0) hic_cap_delete((uint64_t)up.new.control);
  if (up.new.wake >= 0) hic_cap_delete((uint64_t)up.new.wake);
  if (up.endpoint >= 0) hic_cap_delete((uint64_t)up.endpoint);
  up.endpoint = -1;
  up.new = (struct instance){.role = "target", .channel = -1, .wake = -1, .control = -1, .hello = up.new.hello};
  up.for_spawn = hic_module_reserve(LOADER, up.info.memory);
  if (up.for_spawn < 0) hic_log("module_manager: no reservation for another start: %ld", up.for_spawn);
  return up.for_spawn >= 0;
}

bool new_instance(void) {
  for (up.starts = 1;; up.starts++) {
    if (start()) return true;
    if (!new_ended()) return false;
    up.new.ended = true;
    bool again = up.starts < MM_STARTS;
    module_manager_emit_restart(&(struct module_manager_record_restart){.id = up.req.id, .start = up.starts, .again = again});
    hic_log("module_manager: update %lu: %s %s crashed while it started (start %u of at most %u)%s", up.req.id, up.req.service, up.info.version,
            up.starts, MM_STARTS, again ? ": starting it again" : "");
    watch_begin();
    if (!again || verdict(0) || !prepare_restart()) return false;
    up.failed_step = 0; /* the next start may pass */
  }
}

