/* rollback.c -- the rollback the Monitor's verdict asks for, while the old instance still lives
 * (before COMPLETE; seed §4.3 步骤5.2).
 *
 *   1. Switch back first (步骤5.2.1): the driver's default and the service's alias return to the
 *      old instance, so every new connection and every client of the alias reaches the version
 *      that worked. The time from the verdict to here is the rollback's switch time.
 *   2. Reverse migration (步骤5.2.2): every connection the new instance holds moves back with the
 *      same five calls as the update, persistent sessions first, then real-time, then HTTP, then
 *      idle ones: those a pause hurts most wait least. The new instance writes the old one's
 *      schema (docs/migration-protocol.md, "Abort"). An emergency rollback (步骤5.2.3) moves
 *      nothing: the connections at the new instance are abandoned, counted and steered back to
 *      the old one, which knows nothing of them and resets them.
 *   3. ABORT at both: the new instance holds nothing, the old one serves as before.
 *   4. The new instance's sandbox destroyed: Core-0 zeroes and frees its memory and revokes its
 *      capabilities, all audited; and its version marked bad in the installed-state store.
 *
 * One `rollback` record says what was done. A verdict for a configuration or component rollback
 * (§4.4) of an update is carried out as a reverse rollback, and the record says so: an update
 * changes code, and no component of the netstack rolls back alone. A configuration change's own
 * rollback is configure.c's. */
#include "mm.h"

#define MAX_BACK 16384

static struct mig_conn_ref held[MAX_BACK];
static uint8_t held_cls[MAX_BACK];

static bool switch_back(void) {
  bool ok = eth_call(ETH_DEFAULT, up.old.hello.instance, 0, 0, 0) == ETH_OK;
  if (ok && up.switched) {
    static const char alias[] = "cap://netstack/stats";
    char target[64];
    int len = hic_snprintf(target, sizeof target, "cap://%s/v%lu.%lu.%lu/stats", up.req.service, up.from >> 16, (up.from >> 8) & 0xff, up.from & 0xff);
    ok = hic_registry_switch(REGISTRY, alias, sizeof alias - 1, target, (uint64_t)len) == 0;
    if (ok) up.switched = false;
  }
  check(ok, MODULE_MANAGER_CHECK_WHAT_SWITCHED_BACK);
  return ok;
}

/* Moves back what the new instance holds, by priority; passes until one finds nothing. Each call
 * may take the phase timeout: the new version is failing, perhaps slowly, and every connection it
 * can still give back is one not lost. False if it does not answer at all. */
static bool move_back(struct tally *t) {
  up.new.stalled = false; /* given another chance, at the phase timeout, for what it still holds */
  for (int pass = 0; pass < 4; pass++) {
    int32_t n = list_conns(&up.new, held, held_cls, MAX_BACK);
    if (n < 0) return pass > 0;
    uint32_t before = t->moved + t->gone + t->failed;
    for (int cls = MM_STAGES - 1; cls >= 0; cls--)
      for (int32_t i = 0; i < n; i++)
        if (held_cls[i] == cls) move_conn(&up.new, &up.old, &held[i], t, up.req.policy.phase_timeout_ns);
    if (n == 0 || t->moved + t->gone + t->failed == before) return true;
  }
  return true;
}

/* Emergency: the new instance's connections are given up without waiting on it (it may not
 * answer at all). The driver forgets every steering entry naming it -- those the update moved
 * there and those its SYNs made while it was the default -- so their frames reach the old
 * instance, which knows nothing of them and resets them.
 *
 * The count: what the new instance says it holds, asked once with a short timeout (it is already
 * out of the path, so the wait delays nothing but the record); if it does not answer, the entries
 * the driver forgot, which may include connections that had closed there (an upper bound). The
 * record says which (`counted`). */
#define ASK_NS 2000000ull /* 2 ms: a serving instance answers within one pass of its loop */

static uint32_t abandon(uint64_t *counted) {
  struct mig_status st;
  bool answered = status_within(&up.new, &st, ASK_NS);
  bool forgot = eth_call(ETH_FORGET, up.new.hello.instance, 0, 0, 0) == ETH_OK;
  uint64_t entries = forgot ? msg.words[0] : 0;
  check(forgot, MODULE_MANAGER_CHECK_WHAT_NOTHING_LEFT_BEHIND);
  *counted = answered ? MODULE_MANAGER_ROLLBACK_COUNTED_INSTANCE : MODULE_MANAGER_ROLLBACK_COUNTED_STEERING;
  return answered ? st.connections : (uint32_t)entries;
}

/* The new version in Core-0's installed-state store: marked bad after a rollback, so no automatic
 * update goes to it again; cleared when an operator asks for it with MM_CLEAR_BAD. */
bool mark_bad(const char *version, bool bad) {
  struct hic_module_req q;
  memset(&q, 0, sizeof q);
  memcpy(q.name, up.req.service, sizeof q.name - 1);
  for (uint64_t i = 0; i + 1 < sizeof q.range && version[i]; i++) q.range[i] = version[i];
  int64_t r = hic_module_mark(LOADER, &q, bad);
  if (r < 0) hic_log("module_manager: module_mark %s %s %d: %ld", up.req.service, version, bad, r);
  return r == 0;
}

/* The new instance's sandbox destroyed: Core-0 zeroes and frees its memory and revokes its
 * capabilities. One that already ended -- it crashed, and Core-0 reclaimed it then -- is gone
 * as well (PEER_GONE). */
static bool destroy_new(void) {
  int64_t r = up.new.control >= 0 ? hic_sandbox_destroy((uint64_t)up.new.control) : -HIC_ERR_BAD_SLOT;
  bool gone = r == 0 || r == -HIC_ERR_PEER_GONE;
  check(gone, MODULE_MANAGER_CHECK_WHAT_NEW_DESTROYED);
  if (gone) hic_cap_delete((uint64_t)up.new.control), up.new.control = -1;
  return gone;
}

/* A new instance that failed the consistency check (seed 步骤2.4) has served nothing: there is
 * nothing to switch back or move. Both are told to ABORT, the new one's sandbox is destroyed and
 * its version marked bad, and the old instance serves on (§4.1 level 1, 新实例启动失败). */
void discard(void) {
  step(5, MODULE_MANAGER_STEP_STEP_ROLLBACK_RECLAIM, MODULE_MANAGER_STEP_STATE_BEGIN);
  if (new_ended()) up.new.ended = true; /* it crashed: nothing is asked of it */
  bool aborted = up.new.ended || mig_call(&up.new, MIG_ABORT, 0, 0, HIC_NO_CAP) == MIG_OK;
  aborted = mig_call(&up.old, MIG_ABORT, 0, 0, HIC_NO_CAP) == MIG_OK && aborted;
  check(aborted, MODULE_MANAGER_CHECK_WHAT_ABORTED);
  bool gone = destroy_new();
  bool marked = mark_bad(up.info.version, true);
  check(marked, MODULE_MANAGER_CHECK_WHAT_MARKED_BAD);
  step(5, MODULE_MANAGER_STEP_STEP_ROLLBACK_RECLAIM, aborted && gone && marked ? MODULE_MANAGER_STEP_STATE_OK : MODULE_MANAGER_STEP_STATE_FAILED);
  hic_log("module_manager: update %lu: %s %s discarded before it served: %s", up.req.id, up.req.service, up.info.version,
          gone ? "destroyed and marked bad" : "NOT destroyed");
}

void rollback(void) {
  const struct mon_verdict *v = &up.verdict;
  bool emergency = v->action == MON_ACTION_EMERGENCY_ROLLBACK;
  uint64_t t0 = (uint64_t)hic_time_now();
  if (new_ended()) up.new.ended = true; /* it crashed: nothing is asked of it, nothing can be moved back */
  step(5, MODULE_MANAGER_STEP_STEP_ROLLBACK_SWITCH, MODULE_MANAGER_STEP_STATE_BEGIN);
  bool switched = switch_back();
  uint64_t t_switched = (uint64_t)hic_time_now();
  step(5, MODULE_MANAGER_STEP_STEP_ROLLBACK_SWITCH, switched ? MODULE_MANAGER_STEP_STATE_OK : MODULE_MANAGER_STEP_STATE_FAILED);

  step(5, MODULE_MANAGER_STEP_STEP_ROLLBACK_MOVE, MODULE_MANAGER_STEP_STATE_BEGIN);
  struct tally t = {0};
  uint32_t abandoned = 0;
  uint64_t counted = MODULE_MANAGER_ROLLBACK_COUNTED_NONE;
  /* A reverse rollback whose new instance does not answer at all becomes an emergency one: there
   * is nothing to move back from. The record says what was asked and what was done. */
  if (!emergency && !move_back(&t)) emergency = true;
  if (emergency) abandoned = abandon(&counted);
  struct mig_status n;
  bool empty = emergency || (status_of(&up.new, &n) && n.connections == 0);
  bool aborted = emergency || mig_call(&up.new, MIG_ABORT, 0, 0, HIC_NO_CAP) == MIG_OK; /* an emergency does not wait on it */
  aborted = mig_call(&up.old, MIG_ABORT, 0, 0, HIC_NO_CAP) == MIG_OK && aborted;
  check(empty && t.failed == 0, MODULE_MANAGER_CHECK_WHAT_NOTHING_LEFT_BEHIND);
  check(aborted, MODULE_MANAGER_CHECK_WHAT_ABORTED);
  step(5, MODULE_MANAGER_STEP_STEP_ROLLBACK_MOVE, empty && aborted ? MODULE_MANAGER_STEP_STATE_OK : MODULE_MANAGER_STEP_STATE_FAILED);

  step(5, MODULE_MANAGER_STEP_STEP_ROLLBACK_RECLAIM, MODULE_MANAGER_STEP_STATE_BEGIN);
  bool gone = destroy_new();
  step(5, MODULE_MANAGER_STEP_STEP_ROLLBACK_RECLAIM, gone ? MODULE_MANAGER_STEP_STATE_OK : MODULE_MANAGER_STEP_STATE_FAILED);
  bool marked = mark_bad(up.info.version, true);
  check(marked, MODULE_MANAGER_CHECK_WHAT_MARKED_BAD);

  module_manager_emit_rollback(&(struct module_manager_record_rollback){
      .id = up.req.id, .kind = emergency ? MODULE_MANAGER_ROLLBACK_KIND_EMERGENCY : MODULE_MANAGER_ROLLBACK_KIND_REVERSE, .asked = v->action,
      .rule = v->rule, .level = v->level, .score = v->score, .verdict_ns = v->at_ns, .started_ns = t0, .switched_back_ns = t_switched,
      .moved_back = t.moved, .gone = t.gone, .failed = t.failed, .abandoned = abandoned, .counted = counted, .end_ns = (uint64_t)hic_time_now(), .marked_bad = marked,
      .ok = switched && empty && aborted && gone && marked});
  hic_log("module_manager: update %lu rolled back (%s): switched back %lu ns after the verdict, %u connections moved back, %u closed first, %u failed, %u abandoned",
          up.req.id, emergency ? "emergency" : "reverse", t_switched - v->at_ns, t.moved, t.gone, t.failed, abandoned);
}
