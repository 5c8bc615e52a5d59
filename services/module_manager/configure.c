/* configure.c -- a configuration change, watched, and rolled back alone when it is the cause
 * (seed §4.4.2 配置回滚, 配置版本管理).
 *
 * The configuration is the firewall's rule table: the firewall keeps it in versions
 * (hic/firewall.h) and the network stack enforces the version in force. A request
 * (MM_REQUEST_CONFIGURE, hic/module_manager.h) carries a new table, and runs like an update whose
 * code stays the same:
 *
 *   1. request      the request checked: the firewall's admin channel granted to us, the policy
 *                   sound, the running instance answering (its version and driver id).
 *   2. watch        the Monitor watches the running instance for a configuration change
 *                   (MON_WATCH_CONFIG): before it, so the functions the instance passes under the
 *                   old table are what the new one must keep.
 *   3. config_apply the firewall checks the table whole and puts it in force as its next
 *                   version (FW_PUT); the diff against the version before is recorded (配置差异分析).
 *   4. config_enforce  the running instance fetches it again and enforces it (MIG_RULES); the
 *                   hash it computed must be the firewall's.
 *   5. stability    the stability window: the Monitor judges the instance under the new table.
 *   6. config_revert if its verdict asks for a rollback: the version before is put back in force
 *                   (FW_REVERT) and enforced again. The code stays; no connection moves or is
 *                   touched, since the rules judge only new traffic (hic/firewall.h). The
 *                   Monitor then validates what serves against its baseline (步骤5.4).
 *
 * Every verdict is carried out as a configuration rollback: with the code unchanged, putting the
 * configuration back undoes all the request did (the Monitor, knowing the code did not change,
 * classifies accordingly). Records: `config` for each version put in force, `step`s, a `rollback`
 * of kind `config`, and the `end`. Nothing here touches the installed versions, so the journal's
 * recovery (system/state/recover.ts) has nothing to redo: the firewall starts from its built-in
 * version at every boot. */
#include "mm.h"

#define ENFORCER "netstack" /* the service that enforces the firewall's table (hic/firewall.h) */

_Static_assert(sizeof ((struct mm_configure *)0)->table == FW_TABLE_MAX, "hic/module_manager.h carries a whole table");

static int64_t firewall = -1; /* the firewall's admin channel, or -1 when the image granted none */

void configure_init(uint64_t slot) { firewall = slot ? (int64_t)slot : -1; }

/* One call on the admin channel; the reply's label, or the HIC_ERR_* code the call failed with. */
static uint64_t fw_call(uint64_t label, uint64_t w0, const uint8_t *table, uint64_t len) {
  msg_clear();
  msg.label = label;
  msg.words[0] = w0;
  msg.cap = HIC_NO_CAP;
  msg.len = len;
  if (len) memcpy(msg.payload, table, len);
  up.ipc_calls++;
  int64_t r = hic_call((uint64_t)firewall, &msg, 0, up.req.policy.phase_timeout_ns);
  return r < 0 ? (uint64_t)-r : msg.label;
}

struct applied {
  uint64_t version, previous, rules, hash, added, removed;
};

/* The firewall's reply to FW_PUT or FW_REVERT, recorded. */
static struct applied record_version(uint64_t state) {
  struct applied a = {.version = msg.words[2] & 0xffffffffu, .previous = msg.words[2] >> 32, .rules = msg.words[0], .hash = msg.words[1], .added = msg.words[3] >> 32, .removed = msg.words[3] & 0xffffffffu};
  module_manager_emit_config(&(struct module_manager_record_config){.id = up.req.id, .state = state, .version = a.version, .previous = a.previous, .rules = a.rules, .hash = a.hash,
                                                                     .added = a.added, .removed = a.removed, .journal = true});
  return a;
}

/* The running instance enforces the table in force; true when it computed the firewall's hash. */
static bool enforce(uint64_t hash) {
  uint64_t st = mig_call(&up.old, MIG_RULES, 0, 0, HIC_NO_CAP);
  bool ok = st == MIG_OK && msg.words[1] == hash;
  if (!ok) hic_log("module_manager: request %lu: the %s did not enforce the table: %lu (hash 0x%08lx, want 0x%08lx)", up.req.id, up.old.role, st, msg.words[1], hash);
  check(ok, MODULE_MANAGER_CHECK_WHAT_CONFIG_ENFORCED);
  return ok;
}

static void refuse(uint64_t reason, int64_t code) {
  module_manager_emit_refused(&(struct module_manager_record_refused){.id = up.req.id, .reason = reason, .code = (uint64_t)(code < 0 ? -code : code), .from = up.from, .journal = true});
  hic_log("module_manager: configuration request %lu refused (reason %lu, code %ld)", up.req.id, reason, code);
}

static void finish_record(uint64_t outcome) {
  module_manager_emit_end(&(struct module_manager_record_end){.id = up.req.id, .outcome = outcome, .failed_step = up.failed_step, .checks = up.checks,
                                                              .ok = outcome != MODULE_MANAGER_END_OUTCOME_FAILED && up.failures == 0, .journal = true});
}

/* The verdict came: the version before put back in force, and enforced again. */
static void revert(const struct applied *before) {
  const struct mon_verdict *v = &up.verdict;
  uint64_t t0 = (uint64_t)hic_time_now();
  step(5, MODULE_MANAGER_STEP_STEP_CONFIG_REVERT, MODULE_MANAGER_STEP_STATE_BEGIN);
  bool reverted = fw_call(FW_REVERT, before->version, 0, 0) == FW_OK;
  check(reverted, MODULE_MANAGER_CHECK_WHAT_CONFIG_REVERTED);
  struct applied back = reverted ? record_version(MODULE_MANAGER_CONFIG_STATE_REVERTED) : (struct applied){0};
  bool enforced = reverted && enforce(back.hash);
  uint64_t t_back = (uint64_t)hic_time_now();
  step(5, MODULE_MANAGER_STEP_STEP_CONFIG_REVERT, enforced ? MODULE_MANAGER_STEP_STATE_OK : MODULE_MANAGER_STEP_STATE_FAILED);
  module_manager_emit_rollback(&(struct module_manager_record_rollback){
      .id = up.req.id, .kind = MODULE_MANAGER_ROLLBACK_KIND_CONFIG, .asked = v->action, .rule = v->rule, .level = v->level, .score = v->score,
      .verdict_ns = v->at_ns, .started_ns = t0, .switched_back_ns = t_back, .end_ns = t_back, .ok = enforced});
  hic_log("module_manager: configuration request %lu rolled back: version %lu in force again %lu ns after the verdict; the code stays", up.req.id,
          back.version, t_back - v->at_ns);
}

bool run_configure(const struct instance *running, const struct mm_configure *c) {
  up.old = *running;
  up.old.stalled = false;
  up.new = (struct instance){.role = "target", .channel = -1, .wake = -1, .control = -1};
  step(1, MODULE_MANAGER_STEP_STEP_REQUEST, MODULE_MANAGER_STEP_STATE_BEGIN);
  if (!request_ok(false) || c->table_len > sizeof c->table) return refuse(MODULE_MANAGER_REFUSED_REASON_BAD_POLICY, HIC_ERR_INVALID_ARGUMENT), false;
  if (strcmp(up.req.service, "firewall") != 0) return refuse(MODULE_MANAGER_REFUSED_REASON_NOT_CONFIGURABLE, 0), false;
  if (firewall < 0) return refuse(MODULE_MANAGER_REFUSED_REASON_NOT_CONFIGURABLE, HIC_ERR_BAD_SLOT), false;
  struct mig_status st;
  if (!status_of(&up.old, &st) || st.phase != MIG_PHASE_SERVING) return refuse(MODULE_MANAGER_REFUSED_REASON_BUSY, 0), false;
  up.from = up.to = st.version;
  up.old.hello.instance = st.instance;
  step(1, MODULE_MANAGER_STEP_STEP_REQUEST, MODULE_MANAGER_STEP_STATE_OK);

  watch_prepare();
  watch_config(ENFORCER);
  step(3, MODULE_MANAGER_STEP_STEP_CONFIG_APPLY, MODULE_MANAGER_STEP_STATE_BEGIN);
  uint64_t put = fw_call(FW_PUT, 0, c->table, c->table_len);
  if (put != FW_OK) {
    /* The firewall checked the table and kept what it had: nothing changed. */
    step(3, MODULE_MANAGER_STEP_STEP_CONFIG_APPLY, MODULE_MANAGER_STEP_STATE_FAILED);
    watch_end();
    hic_log("module_manager: configuration request %lu: the firewall refused the table (%lu)", up.req.id, put);
    finish_record(MODULE_MANAGER_END_OUTCOME_FAILED);
    return false;
  }
  struct applied now = record_version(MODULE_MANAGER_CONFIG_STATE_APPLIED), before = {.version = now.previous};
  step(3, MODULE_MANAGER_STEP_STEP_CONFIG_APPLY, MODULE_MANAGER_STEP_STATE_OK);
  hic_log("module_manager: configuration request %lu: firewall version %lu in force after %lu (%lu rules, %lu added, %lu removed)", up.req.id, now.version,
          now.previous, now.rules, now.added, now.removed);

  step(3, MODULE_MANAGER_STEP_STEP_CONFIG_ENFORCE, MODULE_MANAGER_STEP_STATE_BEGIN);
  bool ok = enforce(now.hash);
  step(3, MODULE_MANAGER_STEP_STEP_CONFIG_ENFORCE, ok ? MODULE_MANAGER_STEP_STATE_OK : MODULE_MANAGER_STEP_STATE_FAILED);
  /* The stability window (步骤4.1): the Monitor's verdict, if one comes, within it. */
  if (ok) {
    step(4, MODULE_MANAGER_STEP_STEP_STABILITY, MODULE_MANAGER_STEP_STATE_BEGIN);
    ok = !verdict(up.req.policy.stability_ns);
    step(4, MODULE_MANAGER_STEP_STEP_STABILITY, ok ? MODULE_MANAGER_STEP_STATE_OK : MODULE_MANAGER_STEP_STATE_FAILED);
  } else if (up.watched) {
    verdict(up.req.policy.phase_timeout_ns); /* an instance that cannot enforce it: the Monitor's to judge */
  }
  bool rolled_back = !ok && up.has_verdict;
  /* Without a verdict, a table the instance could not enforce is put back all the same: the
   * firewall and the instance must agree on what is in force. */
  if (!ok) revert(&before);
  watch_end();
  if (rolled_back) watch_validate(up.req.id);
  uint64_t outcome = ok ? MODULE_MANAGER_END_OUTCOME_COMPLETED : rolled_back ? MODULE_MANAGER_END_OUTCOME_ROLLED_BACK : MODULE_MANAGER_END_OUTCOME_FAILED;
  finish_record(outcome);
  if (ok) hic_log("module_manager: configuration request %lu complete: firewall version %lu in force", up.req.id, now.version);
  return ok;
}
