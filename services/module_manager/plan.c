/* plan.c -- phase 1, preparation (seed 步骤1.1-1.4): the request against the policy rules, the
 * new version fetched and verified by Core-0, its dependencies against what runs, and the
 * resources the update needs reserved. Everything here either passes or ends in a `refused`
 * record with nothing changed: a reservation made before a later refusal is given back. */
#include "mm.h"

static void refused(uint64_t reason, int64_t code) {
  module_manager_emit_refused(&(struct module_manager_record_refused){.id = up.req.id, .reason = reason, .code = (uint64_t)(code < 0 ? -code : code), .from = up.from, .journal = true});
  hic_log("module_manager: update %lu of %s to %s refused (reason %lu, code %ld)", up.req.id, up.req.service, up.req.to, reason, code);
}

static bool terminated(const char *s, uint64_t n) {
  for (uint64_t i = 0; i < n; i++)
    if (!s[i]) return i > 0;
  return false;
}

/* Seed 步骤1.1 "策略验证": a whole policy (the operator's channel fills in the seed's defaults),
 * zero downtime the only mode offered, stages rising to the whole. */
static bool policy_ok(const struct mm_policy *p) {
  if (p->zero_downtime != 1 || !p->batch || p->batch > 1000 || !p->idle_ms || p->idle_ms > 60000 || !p->rate_limit) return false;
  if (!p->health_interval_ns || !p->stability_ns || !p->rollback_window_ns) return false;
  uint64_t last = 0;
  for (int i = 0; i < MM_STAGES; i++) {
    if (p->stage_up_to[i] < last || p->stage_up_to[i] > 1000) return false;
    last = p->stage_up_to[i];
  }
  return last == 1000 && p->phase_timeout_ns >= 1000000;
}

static uint64_t parse_version(const char **s) {
  uint64_t part[3] = {0, 0, 0};
  for (int i = 0; i < 3; i++) {
    while (**s >= '0' && **s <= '9') part[i] = part[i] * 10 + (uint64_t)(*(*s)++ - '0');
    if (i < 2 && **s == '.') (*s)++;
  }
  return part[0] << 16 | part[1] << 8 | part[2];
}

/* A dependency range as module.json writes them: "*", "1.2.0", ">=1.2.0", "^1.2.0", "~1.2.0". */
static bool satisfies(uint64_t have, const char *range) {
  if (range[0] == '*' && !range[1]) return true;
  const char *s = range + (range[0] == '>' && range[1] == '=' ? 2 : range[0] == '^' || range[0] == '~' ? 1 : 0);
  uint64_t want = parse_version(&s);
  if (*s) return false; /* a range this manager does not read: not satisfied, never guessed */
  if (range[0] == '>') return have >= want;
  if (range[0] == '^') return have >= want && have >> 16 == want >> 16;
  if (range[0] == '~') return have >= want && have >> 8 == want >> 8;
  return have == want;
}

/* Seed 步骤1.2 "依赖关系解析": every dependency of the new version must be satisfied by what is
 * installed now. A dependency that needs its own update first is refused, not attempted: this
 * manager updates one service per request (docs/module-manager.md says what is missing). */
static bool dependencies_ok(void) {
  for (uint64_t i = 0; i < up.info.ndeps && i < HIC_MODULE_DEPS_MAX; i++) {
    const struct hic_module_dep *d = &up.info.deps[i];
    struct hic_module_req q;
    struct hic_module_info have;
    memset(&q, 0, sizeof q);
    memcpy(q.name, d->name, sizeof q.name);
    q.range[0] = '*';
    int64_t r = hic_module_query(LOADER, &q, &have, 0);
    if (r < 0 || !have.installed || !satisfies(have.installed, d->range)) {
      hic_log("module_manager: %s %s needs %s %s; installed: %lu.%lu.%lu", up.req.service, up.req.to, d->name, d->range,
              have.installed >> 16, have.installed >> 8 & 0xff, have.installed & 0xff);
      return false;
    }
  }
  return true;
}

bool request_ok(bool versioned) {
  bool to_ok = versioned ? terminated(up.req.to, sizeof up.req.to) : up.req.to[0] == 0;
  return terminated(up.req.service, sizeof up.req.service) && to_ok && policy_ok(&up.req.policy);
}

bool plan(void) {
  step(1, MODULE_MANAGER_STEP_STEP_REQUEST, MODULE_MANAGER_STEP_STATE_BEGIN);
  if (!request_ok(true))
    return refused(MODULE_MANAGER_REFUSED_REASON_BAD_POLICY, HIC_ERR_INVALID_ARGUMENT), false;
  struct hic_module_req q;
  memset(&q, 0, sizeof q);
  memcpy(q.name, up.req.service, sizeof q.name);
  q.range[0] = '*';
  int64_t r = hic_module_query(LOADER, &q, &up.info, 0);
  if (r == -HIC_ERR_NOT_FOUND) return refused(MODULE_MANAGER_REFUSED_REASON_UNKNOWN_SERVICE, r), false;
  /* The version in service: the one our running instance said it was (HELLO of an earlier
   * update), else what Core-0 installed. They differ after a rollback: Core-0's installed version
   * is the newest ever started, for its rollback protection, and the rolled-back one was. */
  up.from = up.old.hello.version ? up.old.hello.version : up.info.installed;
  if (!up.from) return refused(MODULE_MANAGER_REFUSED_REASON_NOT_MIGRATABLE, 0), false; /* not running */
  step(1, MODULE_MANAGER_STEP_STEP_REQUEST, MODULE_MANAGER_STEP_STATE_OK);

  step(1, MODULE_MANAGER_STEP_STEP_FETCH, MODULE_MANAGER_STEP_STATE_BEGIN);
  /* The version order is policy, decided before Core-0 is asked: a downgrade goes on only when the
   * request says so (MM_ALLOW_DOWNGRADE), and then Core-0 is asked to let it past its rollback
   * protection (mm.h DOWNGRADE). */
  const char *to = up.req.to;
  uint64_t wanted = parse_version(&to);
  if (wanted == up.from) return refused(MODULE_MANAGER_REFUSED_REASON_SAME_VERSION, 0), false;
  if (wanted < up.from && !(up.req.flags & MM_ALLOW_DOWNGRADE)) return refused(MODULE_MANAGER_REFUSED_REASON_DOWNGRADE, 0), false;
  memcpy(q.range, up.req.to, sizeof up.req.to);
  /* Core-0's rollback protection refuses an older version unless asked to let it pass. */
  r = hic_module_query(LOADER, &q, &up.info, wanted < up.from ? HIC_DOWNGRADE : 0);
  if (r == -HIC_ERR_NOT_FOUND || r == -HIC_ERR_INVALID_ARGUMENT) return refused(MODULE_MANAGER_REFUSED_REASON_NO_SUCH_VERSION, r), false;
  if (r < 0) return refused(MODULE_MANAGER_REFUSED_REASON_MODULE_REFUSED, r), false;
  up.to = up.info.version_packed;
  if (up.to == up.from) return refused(MODULE_MANAGER_REFUSED_REASON_SAME_VERSION, 0), false;
  if (up.to < up.from && !(up.req.flags & MM_ALLOW_DOWNGRADE)) return refused(MODULE_MANAGER_REFUSED_REASON_DOWNGRADE, 0), false;
  /* A version an earlier update rolled back from stays refused until an operator asks for it
   * knowingly (MM_CLEAR_BAD); the mark is cleared only once the request has passed every check. */
  if (up.info.bad && !(up.req.flags & MM_CLEAR_BAD)) return refused(MODULE_MANAGER_REFUSED_REASON_MARKED_BAD, 0), false;
  step(1, MODULE_MANAGER_STEP_STEP_FETCH, MODULE_MANAGER_STEP_STATE_OK);

  step(1, MODULE_MANAGER_STEP_STEP_DEPENDENCIES, MODULE_MANAGER_STEP_STATE_BEGIN);
  if (!dependencies_ok()) return refused(MODULE_MANAGER_REFUSED_REASON_DEPENDENCY_UNMET, 0), false;
  step(1, MODULE_MANAGER_STEP_STEP_DEPENDENCIES, MODULE_MANAGER_STEP_STATE_OK);

  /* Seed 步骤1.3: the new instance's quota, and as much again for running both side by side
   * (the instances' buffers; the snapshot passes through the Module Manager's own quota, which is
   * why an image gives it room for one: about 160 bytes a connection). */
  step(1, MODULE_MANAGER_STEP_STEP_RESERVE, MODULE_MANAGER_STEP_STATE_BEGIN);
  int64_t first = hic_module_reserve(LOADER, up.info.memory);
  int64_t second = first < 0 ? first : hic_module_reserve(LOADER, up.info.memory);
  if (second < 0) {
    if (first >= 0) hic_cap_delete((uint64_t)first);
    return refused(MODULE_MANAGER_REFUSED_REASON_CANNOT_RESERVE, second), false;
  }
  up.for_spawn = first;
  up.reservation = second;
  /* The instance in service must speak the migration protocol, and be the version installed.
   * Asked last: HELLO makes it set up for a migration, which a refused request must not cause. */
  if (!hello(&up.old) || strcmp(up.old.hello.module, up.req.service) != 0 || up.old.hello.version != up.from) {
    hic_cap_delete((uint64_t)first), hic_cap_delete((uint64_t)second);
    up.for_spawn = up.reservation = -1;
    return refused(MODULE_MANAGER_REFUSED_REASON_NOT_MIGRATABLE, 0), false;
  }
  module_manager_emit_reserved(&(struct module_manager_record_reserved){.id = up.req.id, .memory_bytes = 2 * up.info.memory, .quota_bytes = up.info.memory});
  step(1, MODULE_MANAGER_STEP_STEP_RESERVE, MODULE_MANAGER_STEP_STATE_OK);

  /* Seed 步骤1.4: the services that work with this one hear that the update begins, and each says
   * it is ready. One that is not refuses the request: those told hear it is off, the old
   * instance's HELLO is undone and the reservations returned -- nothing changed. */
  step(1, MODULE_MANAGER_STEP_STEP_NOTIFY, MODULE_MANAGER_STEP_STATE_BEGIN);
  if (!notify(NOTICE_BEGINS)) {
    notify(NOTICE_FAILED);
    mig_call(&up.old, MIG_ABORT, 0, 0, HIC_NO_CAP);
    hic_cap_delete((uint64_t)first), hic_cap_delete((uint64_t)second);
    up.for_spawn = up.reservation = -1;
    return refused(MODULE_MANAGER_REFUSED_REASON_DEPENDENT_NOT_READY, 0), false;
  }
  if (up.info.bad) mark_bad(up.info.version, false); /* every check passed: the operator's clearBad takes effect */
  step(1, MODULE_MANAGER_STEP_STEP_NOTIFY, MODULE_MANAGER_STEP_STATE_OK);
  return true;
}

/* The services that work with netstack -- the seed's upstream ones (步骤1.4: web_server,
 * dns_resolver, firewall) -- by the endpoint each serves. */
static const struct {
  const char *endpoint;
  uint64_t service;
} DEPENDENTS[] = {
    {"cap://web/http", MODULE_MANAGER_NOTIFIED_SERVICE_WEB_SERVER},
    {"cap://dns/query", MODULE_MANAGER_NOTIFIED_SERVICE_DNS_RESOLVER},
    {"cap://firewall/rules", MODULE_MANAGER_NOTIFIED_SERVICE_FIREWALL},
};

_Static_assert(NOTICE_READY == MODULE_MANAGER_NOTIFIED_ANSWER_READY && NOTICE_READY_MIGRATES == MODULE_MANAGER_NOTIFIED_ANSWER_READY_MIGRATES &&
                   NOTICE_READY_REFRESH == MODULE_MANAGER_NOTIFIED_ANSWER_READY_REFRESH && NOTICE_FAILED == MODULE_MANAGER_NOTIFIED_EVENT_FAILED,
               "the record's answers and events are the notice protocol's");

bool notify(uint64_t event) {
  bool ready = true;
  for (uint32_t i = 0; i < sizeof DEPENDENTS / sizeof DEPENDENTS[0]; i++) {
    int64_t ep = hic_registry_lookup(REGISTRY, DEPENDENTS[i].endpoint, strlen(DEPENDENTS[i].endpoint));
    uint64_t answer = MODULE_MANAGER_NOTIFIED_ANSWER_ABSENT; /* not running: nothing of it to prepare */
    if (ep >= 0) {
      msg_clear();
      msg.label = NOTICE_UPDATE;
      msg.words[0] = event, msg.words[1] = up.from, msg.words[2] = up.to;
      msg.cap = HIC_NO_CAP;
      msg.len = strlen(up.req.service);
      memcpy(msg.payload, up.req.service, msg.len);
      up.ipc_calls++;
      int64_t r = hic_call((uint64_t)ep, &msg, 0, up.req.policy.phase_timeout_ns);
      bool known = r == 0 && msg.label == 0 && msg.words[0] >= NOTICE_READY && msg.words[0] <= NOTICE_READY_REFRESH;
      answer = r == -HIC_ERR_TIMEOUT ? MODULE_MANAGER_NOTIFIED_ANSWER_NO_ANSWER : known ? msg.words[0] : MODULE_MANAGER_NOTIFIED_ANSWER_REFUSED;
      hic_cap_delete((uint64_t)ep);
    }
    module_manager_emit_notified(&(struct module_manager_record_notified){.id = up.req.id, .event = event, .service = DEPENDENTS[i].service, .answer = answer});
    ready = ready && answer != MODULE_MANAGER_NOTIFIED_ANSWER_REFUSED && answer != MODULE_MANAGER_NOTIFIED_ANSWER_NO_ANSWER;
  }
  return ready;
}

/* The temporary resources, whatever became of the update (seed 步骤4.3). */
void release(void) {
  step(4, MODULE_MANAGER_STEP_STEP_RELEASE, MODULE_MANAGER_STEP_STATE_BEGIN);
  if (up.reservation >= 0) hic_cap_delete((uint64_t)up.reservation), up.reservation = -1;
  if (up.for_spawn >= 0) hic_cap_delete((uint64_t)up.for_spawn), up.for_spawn = -1; /* the spawn never came */
  step(4, MODULE_MANAGER_STEP_STEP_RELEASE, MODULE_MANAGER_STEP_STATE_OK);
}
