/* window.c -- the rollback window after COMPLETE (seed 步骤1.1 回滚窗口, §4.3 步骤5.2).
 *
 * A completed update leaves the new version serving and the old instance destroyed. For
 * policy.rollback_window_ns after COMPLETE the Monitor goes on watching the new version against
 * the baseline the old one set, and a rollback verdict undoes the update the one way left: an
 * update back to the previous version, through the same phases as any other --
 *
 *   - Core-0 verifies the previous version with its rollback protection lifted for this request
 *     (HIC_DOWNGRADE; the moduleVerified event says `downgrade`) and creates a fresh instance of
 *     it;
 *   - PEER carries MIG_PEER_DOWNGRADE: the failing version writes the snapshot and every
 *     connection in the old schema (what schema 2 -> 1 drops: docs/migration-protocol.md), and
 *     marks the snapshot as a rollback's;
 *   - the connections move persistent sessions first, idle ones last (stages.c);
 *   - the alias switches back, the failing version's instance completes and is destroyed;
 *   - its version is marked bad, as after a rollback before COMPLETE.
 *
 * The rollback is an update of its own, id = the completed one's with bit 32 set, its begin
 * record naming the update it undoes (rollback_of); it is not watched (the version it returns to
 * is the baseline). The window closes when it expires, when the rollback starts, or when the next
 * request arrives: that update starts from the version in service, and this rollback point is
 * gone. Without a Monitor nothing can ask for a rollback, and no window opens. */
#include "mm.h"

#define ROLLBACK_ID_BIT (1ull << 32)
#define REQUEST_WAIT_NS 2000000ull

static struct {
  bool open;
  uint64_t until;
} win;

static void window_record(uint64_t state, uint64_t rollback_id) {
  const struct mon_verdict *v = &up.verdict;
  bool why = state == MODULE_MANAGER_WINDOW_STATE_ROLLBACK;
  module_manager_emit_window(&(struct module_manager_record_window){
      .id = up.req.id, .state = state, .until_ns = win.until, .rollback_id = rollback_id, .rule = why ? v->rule : 0, .level = why ? v->level : 0,
      .score = why ? v->score : 0, .verdict_ns = why ? v->at_ns : 0, .journal = true});
}

void window_open(void) {
  if (!up.watched || up.rollback_of) return;
  win.open = true;
  win.until = (uint64_t)hic_time_now() + up.req.policy.rollback_window_ns;
  window_record(MODULE_MANAGER_WINDOW_STATE_OPEN, 0);
  hic_log("module_manager: update %lu: rollback window open until %lu ns", up.req.id, win.until);
}

static void window_close(uint64_t state, uint64_t rollback_id) {
  win.open = false;
  window_record(state, rollback_id);
  /* Expired or superseded: nothing rolls back to the version the update replaced any more. */
  if (state != MODULE_MANAGER_WINDOW_STATE_ROLLBACK) gc_collectable(up.req.service, up.from);
  watch_end();
}

/* The verdict came: an update back to the version the completed one replaced. */
static void window_rollback(void) {
  uint64_t id = up.req.id, rollback_id = id | ROLLBACK_ID_BIT;
  char failed[HIC_VERSION_MAX];
  memcpy(failed, up.info.version, sizeof failed);
  failed[sizeof failed - 1] = 0;
  window_close(MODULE_MANAGER_WINDOW_STATE_ROLLBACK, rollback_id);
  struct mm_request req = up.req;
  req.id = rollback_id;
  req.flags = MM_ALLOW_DOWNGRADE;
  memset(req.to, 0, sizeof req.to);
  hic_snprintf(req.to, sizeof req.to, "%lu.%lu.%lu", up.from >> 16, up.from >> 8 & 0xff, up.from & 0xff);
  hic_log("module_manager: update %lu: the Monitor asks for a rollback within the window: update %lu back to %s", id, rollback_id, req.to);
  memset(&up, 0, sizeof up);
  up.req = req;
  up.rollback_of = id;
  if (run_update()) check(mark_bad(failed, true), MODULE_MANAGER_CHECK_WHAT_MARKED_BAD);
  watch_validate(id);
}

bool window_wait(int64_t requests, struct hic_msg *in) {
  while (win.open) {
    uint64_t now = (uint64_t)hic_time_now();
    if (now >= win.until) {
      window_close(MODULE_MANAGER_WINDOW_STATE_EXPIRED, 0);
      break;
    }
    /* Both wait in turn. A request is only taken while we wait in recv (the operator's channel
     * sends without blocking and tries again a virtual millisecond later), so a wait of
     * REQUEST_WAIT_NS catches one; a verdict is a call the Monitor blocks in, taken as soon as the
     * wait for it begins. So a verdict waits at most REQUEST_WAIT_NS, a request a health interval. */
    if (hic_recv((uint64_t)requests, in, 0, REQUEST_WAIT_NS) == 0) {
      window_close(MODULE_MANAGER_WINDOW_STATE_SUPERSEDED, 0);
      return true;
    }
    now = (uint64_t)hic_time_now();
    if (now >= win.until) continue;
    uint64_t wait = win.until - now < up.req.policy.health_interval_ns ? win.until - now : up.req.policy.health_interval_ns;
    if (verdict(wait)) {
      window_rollback();
      break;
    }
  }
  return false;
}
