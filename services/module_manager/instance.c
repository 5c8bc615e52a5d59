/* instance.c -- phase 2, the new instance (seed 步骤2.1-2.3): Core-0 verifies the new version and
 * creates its sandbox from the reservation, with one capability granted: the receiving end of a
 * migration channel we create; then the handshake over both channels, with version
 * negotiation, and the consistency check the protocol's PEER makes (same module, the version
 * order, the same firewall rules, a schema the target reads). */
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
  uint32_t instance = up.old.hello.instance == 1 ? 2 : 1;
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

bool new_instance(void) {
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
  /* Seed 步骤2.3's warm-up (configuration applied, probes compared) is not built: the snapshot
   * carries the configuration, and PEER checked the firewall rules are the same. */
  step(2, MODULE_MANAGER_STEP_STEP_WARMUP, MODULE_MANAGER_STEP_STATE_SKIPPED);
  return true;
}
