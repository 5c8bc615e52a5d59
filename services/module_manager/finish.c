/* finish.c -- phase 4, validation and clean-up (seed 步骤4.1-4.3): the new instance answers under
 * the service's alias with its version; a stability window with a health check every
 * policy.health_interval, while the Monitor's verdict is awaited (a rollback verdict ends it); then COMPLETE at both instances (the source retires, owning nothing),
 * the old instance's sandbox destroyed (Core-0 reclaims it: memory zeroed, capabilities revoked,
 * IRQs released, all audited). */
#include "mm.h"

/* The alias reaches the new version (步骤4.1 "端到端验证", from inside the machine). */
static bool validate(void) {
  static const char alias[] = "cap://netstack/stats";
  int64_t ep = hic_registry_lookup(REGISTRY, alias, sizeof alias - 1);
  if (ep < 0) return false;
  msg_clear();
  msg.label = 1; /* NS_STATS */
  msg.cap = HIC_NO_CAP;
  bool ok = hic_call((uint64_t)ep, &msg, 0, up.req.policy.phase_timeout_ns) == 0 && msg.label == 0 && msg.words[2] == up.to;
  hic_cap_delete((uint64_t)ep);
  return ok && healthy();
}

static bool stability(void) {
  const struct mm_policy *p = &up.req.policy;
  uint64_t end = (uint64_t)hic_time_now() + p->stability_ns;
  for (uint64_t now = (uint64_t)hic_time_now(); now < end; now = (uint64_t)hic_time_now()) {
    if (verdict(end - now < p->health_interval_ns ? end - now : p->health_interval_ns)) return false; /* the Monitor asks for a rollback */
    if (!healthy()) return false;
  }
  return true;
}

static bool shutdown_old(void) {
  struct mig_status o0, n;
  status_of(&up.old, &o0);
  check(mig_call(&up.old, MIG_COMPLETE, 0, 0, HIC_NO_CAP) == MIG_OK, MODULE_MANAGER_CHECK_WHAT_COMPLETE_SOURCE);
  uint64_t dropped = msg.words[0], closed_from_snapshot = msg.words[1];
  check(mig_call(&up.new, MIG_COMPLETE, 0, 0, HIC_NO_CAP) == MIG_OK, MODULE_MANAGER_CHECK_WHAT_COMPLETE_TARGET);
  status_of(&up.new, &n);
  /* Seed 步骤3.5's consistency check: every connection of the snapshot arrived, or closed at the
   * source before its turn came; the source held nothing at the end. */
  check(n.snapshot_received + closed_from_snapshot == n.snapshot_connections, MODULE_MANAGER_CHECK_WHAT_SNAPSHOT_ACCOUNTED);
  check(dropped == 0, MODULE_MANAGER_CHECK_WHAT_SOURCE_EMPTY);
  check(n.held_dropped == 0, MODULE_MANAGER_CHECK_WHAT_HELD_KEPT);
  bool gone = hic_sandbox_destroy((uint64_t)up.old.control) == 0;
  check(gone, MODULE_MANAGER_CHECK_WHAT_OLD_DESTROYED);
  if (gone) hic_cap_delete((uint64_t)up.old.control);
  if (up.old.wake >= 0) hic_cap_delete((uint64_t)up.old.wake);
  return gone;
}

bool finish(void) {
  step(4, MODULE_MANAGER_STEP_STEP_VALIDATE, MODULE_MANAGER_STEP_STATE_BEGIN);
  if (!validate()) return step(4, MODULE_MANAGER_STEP_STEP_VALIDATE, MODULE_MANAGER_STEP_STATE_FAILED), false;
  step(4, MODULE_MANAGER_STEP_STEP_VALIDATE, MODULE_MANAGER_STEP_STATE_OK);
  step(4, MODULE_MANAGER_STEP_STEP_STABILITY, MODULE_MANAGER_STEP_STATE_BEGIN);
  if (!stability()) return step(4, MODULE_MANAGER_STEP_STEP_STABILITY, MODULE_MANAGER_STEP_STATE_FAILED), false;
  step(4, MODULE_MANAGER_STEP_STEP_STABILITY, MODULE_MANAGER_STEP_STATE_OK);
  step(4, MODULE_MANAGER_STEP_STEP_SHUTDOWN, MODULE_MANAGER_STEP_STATE_BEGIN);
  if (!shutdown_old()) return step(4, MODULE_MANAGER_STEP_STEP_SHUTDOWN, MODULE_MANAGER_STEP_STATE_FAILED), false;
  step(4, MODULE_MANAGER_STEP_STEP_SHUTDOWN, MODULE_MANAGER_STEP_STATE_OK);
  return true;
}
