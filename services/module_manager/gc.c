/* gc.c -- version garbage collection (seed 步骤4.3 清理旧版本): a version an update replaced is
 * marked collectable once nothing can roll back to it any more -- its update's rollback window
 * closed, or at once when no Monitor watched and no window opened. After config.gc_after (the seed:
 * 7 days) it is collected: Core-0's module_collect takes it out of what this machine may load, so
 * no query or spawn finds it again. The newest collectable version of the service is always kept,
 * whatever its age: the one version an emergency rollback by hand can still return to (保留至少一个
 * 历史版本作为紧急回滚). A version put back in service (a downgrade to it) is no longer a candidate.
 *
 * Mechanism and policy split as everywhere: Core-0 refuses to collect a version a live sandbox
 * runs; which versions are garbage, and when, is decided here. Each step is a `gc` record. The
 * candidates live in this service's memory: a reboot starts their clocks again (what is collected
 * stays collected: Core-0's store is persisted). */
#include "mm.h"

#define GC_MAX 16

static struct {
  char service[32];
  uint64_t version; /* packed; 0: an empty place */
  uint64_t since;   /* virtual ns it became collectable */
} candidates[GC_MAX];

static uint64_t gc_after_ns = ~0ull;

void gc_init(uint64_t after_ns) { gc_after_ns = after_ns; }

static void gc_record(uint64_t version, uint64_t state, int64_t code) {
  module_manager_emit_gc(&(struct module_manager_record_gc){.version = version, .state = state, .code = (uint64_t)(code < 0 ? -code : code)});
}

static bool same_service(int i, const char *service) {
  for (uint64_t k = 0; k < sizeof candidates[i].service; k++) {
    if (candidates[i].service[k] != service[k]) return false;
    if (!service[k]) return true;
  }
  return false; /* a name longer than a place holds is no candidate's */
}

void gc_collectable(const char *service, uint64_t version) {
  int free = -1;
  for (int i = 0; i < GC_MAX; i++) {
    if (candidates[i].version == version && same_service(i, service)) return;
    if (!candidates[i].version && free < 0) free = i;
  }
  if (free < 0) return (void)hic_log("module_manager: gc: %d candidates already; %lu.%lu.%lu is not one", GC_MAX, version >> 16, version >> 8 & 0xff, version & 0xff);
  memset(candidates[free].service, 0, sizeof candidates[free].service);
  for (uint64_t i = 0; i + 1 < sizeof candidates[free].service && service[i]; i++) candidates[free].service[i] = service[i];
  candidates[free].version = version;
  candidates[free].since = (uint64_t)hic_time_now();
  gc_record(version, MODULE_MANAGER_GC_STATE_COLLECTABLE, 0);
}

void gc_in_service(const char *service, uint64_t version) {
  for (int i = 0; i < GC_MAX; i++)
    if (candidates[i].version == version && same_service(i, service)) candidates[i].version = 0;
}

/* The newest candidate of the service: kept. */
static uint64_t newest(const char *service) {
  uint64_t n = 0;
  for (int i = 0; i < GC_MAX; i++)
    if (candidates[i].version > n && same_service(i, service)) n = candidates[i].version;
  return n;
}

uint64_t gc_due(void) {
  uint64_t due = 0;
  for (int i = 0; i < GC_MAX; i++) {
    if (!candidates[i].version || candidates[i].version == newest(candidates[i].service)) continue;
    uint64_t at = candidates[i].since + gc_after_ns < candidates[i].since ? ~0ull : candidates[i].since + gc_after_ns;
    if (!due || at < due) due = at;
  }
  return due;
}

void gc_run(void) {
  uint64_t now = (uint64_t)hic_time_now();
  for (int i = 0; i < GC_MAX; i++) {
    uint64_t v = candidates[i].version;
    if (!v || v == newest(candidates[i].service) || now - candidates[i].since < gc_after_ns) continue;
    struct hic_module_req q;
    memset(&q, 0, sizeof q);
    memcpy(q.name, candidates[i].service, sizeof q.name);
    hic_snprintf(q.range, sizeof q.range, "%lu.%lu.%lu", v >> 16, v >> 8 & 0xff, v & 0xff);
    int64_t r = hic_module_collect(LOADER, &q);
    /* Collected, or refused: no longer a candidate either way. A refusal is recorded once and not
     * asked again (asking again when next due would, with a short gc_after, record a refusal per
     * wait without end). */
    candidates[i].version = 0;
    gc_record(v, r == 0 ? MODULE_MANAGER_GC_STATE_COLLECTED : MODULE_MANAGER_GC_STATE_REFUSED, r);
    hic_log("module_manager: gc: %s %s %s (%ld)", q.name, q.range, r == 0 ? "collected" : "not collected", r);
  }
}
