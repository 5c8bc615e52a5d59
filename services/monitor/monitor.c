/* monitor: the Monitor, the service that watches an update's new instance and asks for a rollback
 * when it misbehaves (seed §4, §5). Its policy is the core in core/ (detection, the decision rules
 * and their confidence score, root cause); this file measures and talks:
 *
 *   - Between updates it samples the running version through the service's alias
 *     (cap://netstack/stats) once per `interval` and learns the baseline from it (seed §5.2.1):
 *     the virtual time the service spends per received frame, and the frame rate.
 *   - The Module Manager's MON_WATCH (hic/monitor.h) freezes the baseline and starts a decider.
 *     Each interval the new instance's own stats endpoint is probed: an answer gives this
 *     interval's frames and service time, a probe unanswered within the interval is a failed
 *     health check and an unanswered request.
 *   - A decision that executes a rollback goes back once, as a MON_VERDICT call through the
 *     capability the watch brought (offered each interval until the Module Manager takes it); MON_UNWATCH ends the watch and learning starts again from whatever serves.
 *   - A decision whose rule appears, changes or escalates raises an alert (core/alerts.h, seed
 *     §5.2.2): one incident per watched instance, duplicates counted, a maintenance silence
 *     applied; the host's sinks and Core-0's audit log take it from the `alert` record.
 *   - The operator's MON_SILENCE, MON_CONFIRM and MON_VETO (hic/monitor.h) reach the alert table
 *     and the decider; with `confirm` set a rollback waits for them (seed §4.3 步骤5.1.3).
 *
 * Every figure is an integer and every time virtual, so a run's decisions replay bit for bit.
 *   - After a rollback the Module Manager's MON_VALIDATE has the alias probed each interval and
 *     compared with the baseline the watch froze (seed 步骤5.4): restored once the last six
 *     intervals answered every probe and served within the rollback rule's 30 %, and how long
 *     that took; not restored if that has not happened within 48 intervals.
 *
 * What it records (module.json): baseline, watch, a sample per interval, decision (when the
 * answer changes), verdict with its cause, unwatch, validation, alert, silence, confirmation. */
#include <stdbool.h>
#include <stddef.h>

#include "core/alerts.h"
#include "core/cost.h"
#include "core/decide.h"
#include "hic/eth.h"
#include "hic/module.h"
#include "hic/monitor.h"
#include "hic/netstack_probe.h"
#include "hic/runtime.h"

_Static_assert(MON_ACTION_CONFIG_ROLLBACK == MD_ACT_CONFIG_ROLLBACK && MON_ACTION_COMPONENT_ROLLBACK == MD_ACT_COMPONENT_ROLLBACK &&
                   MON_ACTION_REVERSE_ROLLBACK == MD_ACT_REVERSE_ROLLBACK && MON_ACTION_EMERGENCY_ROLLBACK == MD_ACT_EMERGENCY_ROLLBACK,
               "a verdict's action is the core's");
_Static_assert(MONITOR_ALERT_PRIORITY_P3 == MD_P3 && MONITOR_ALERT_VERDICT_SILENCED == MD_ALERT_SILENCED &&
                   MONITOR_DECISION_CONFIRM_TIMED_OUT == MD_CONFIRM_TIMED_OUT,
               "the records' enums are the core's");

#define REGISTRY 0
#define LOADER 1 /* the module loader, right R: module_health (caps.loader "r" in the image; without it no crash is counted) */
#define FUNCTIONS_UNPROBED 0xffffffffu /* a sample's functions_failed when no probe answered */
#define MAX_SAMPLE 0x7fffffffu /* the core's samples are below 2^31 */

/* What one probe of a stats endpoint gave. */
struct probe {
  uint64_t version, frames, bytes, busy_ns;
  uint64_t http_requests, http_errors;
  uint64_t fw_denied;
};

/* One instance's counters as last seen, to take differences from. */
struct counters {
  bool seen;
  uint64_t frames, bytes, busy_ns, at_ns;
  uint64_t http_requests, http_errors;
};

/* One interval of an instance: the frames it took, their bytes, the CPU it spent on them (ns),
 * and what follows: the mean per frame and the frame rate. */
struct interval {
  struct md_cost_point work;
  uint32_t per_frame, per_second;
  uint64_t calls, call_errors; /* HTTP requests taken, and answered with a server error */
};

static const struct monitor_config *config;
static struct md_policy policy;
static struct md_detector service_time, frame_rate;
static uint64_t baseline_version;
static struct counters running;
static struct md_alerts alerts; /* incidents across watches; the operator's silence */

/* The watch in progress, if any. */
static struct {
  bool on;
  uint64_t id;
  int64_t verdicts;   /* send capability to the Module Manager's verdict endpoint */
  int64_t stats;      /* the new instance's stats endpoint */
  uint32_t instance;  /* its Ethernet driver id */
  uint64_t offered;   /* frames the driver had offered it (delivered or dropped), as last seen */
  struct counters seen;
  struct md_decider decider;
  struct md_baseline base;
  struct md_decision last;
  uint32_t functions;  /* the critical functions the old version passed as the watch began */
  char stats_name[80]; /* cap://<service>/v<version>/stats: a restarted instance registers it again */
  uint64_t stats_len;
  uint64_t to;         /* the new version, packed */
  uint64_t faults;     /* Core-0's count of its sandboxes ended by a fault, as last seen */
  uint64_t cpu_ns, cpu_at; /* Core-0's CPU time of its live sandboxes, and when it was read (0: not yet) */
  uint32_t fail_streak;
  uint64_t http_requests, http_errors; /* as last seen */
  uint64_t fw_denied;                  /* ... and the traffic its firewall rules refused */
  bool fw_denied_seen;
  bool config;                         /* MON_WATCH_CONFIG: a configuration change, the code unchanged */
  uint64_t samples, violations, unanswered, sent;
  bool verdict_due;          /* a rollback decided, not yet taken by the Module Manager */
  struct mon_verdict verdict;
  int64_t verdict_value;     /* its rule's figure, and the time it was measured over: the reason */
  uint64_t verdict_over_ns;
} w;

/* The last watch's baseline, kept past its end for the validation after a rollback (seed
 * 步骤5.4), and the validation in progress, if any. */
static struct {
  uint64_t id;
  uint64_t service_time_ns; /* the baseline's mean per frame; 0: no watch yet */
  struct md_cost cost;      /* ... and its cost model */
} last_watch;
/* A validation looks at the last VALIDATE_WINDOW intervals, for at most VALIDATE_MAX_WINDOWS
 * times as many: right after an emergency the old version also answers the abandoned connections'
 * segments with resets, and that settles within a few intervals. */
#define VALIDATE_WINDOW 6
#define VALIDATE_MAX_WINDOWS 8
struct validation {
  bool on;
  uint64_t id, started_ns;
  uint32_t samples, answered;
  uint64_t version;
  struct counters seen;
  struct md_cost_point work[VALIDATE_WINDOW]; /* per interval, a ring */
  bool ok[VALIDATE_WINDOW];                                    /* ... answered */
};
static struct validation v;

static struct hic_msg msg;
static int64_t eth = -1; /* cap://eth/control: the driver's counters */

static const char *service_name(void) {
  static const char *const names[] = {"netstack"};
  return names[config->service];
}

/* The service's alias, cap://<service>/stats: whichever instance serves, once it exists. */
static int64_t alias(void) {
  static int64_t ep = -1;
  if (ep < 0) {
    char name[48];
    int len = hic_snprintf(name, sizeof name, "cap://%s/stats", service_name());
    ep = hic_registry_lookup(REGISTRY, name, (uint64_t)len);
  }
  return ep;
}

/* NS_STATS on `ep`: a health check, failed when unanswered within probe_timeout. `gone`, if
 * asked, says whether the call failed at once because nobody can answer it any more: the sandbox
 * that served the endpoint ended (Core-0 revoked what derived from its capabilities). */
static bool probe_of(int64_t ep, struct probe *p, bool *gone) {
  memset(&msg, 0, offsetof(struct hic_msg, payload));
  msg.label = NS_STATS;
  msg.cap = HIC_NO_CAP;
  int64_t r = hic_call((uint64_t)ep, &msg, 0, config->probe_timeout_ns);
  if (gone) *gone = r == -HIC_ERR_PEER_GONE || r == -HIC_ERR_BAD_SLOT;
  struct ns_stats_head head;
  if (r < 0 || msg.label != 0 || msg.len < sizeof head) return false;
  memcpy(&head, msg.payload, sizeof head);
  *p = (struct probe){.version = msg.words[2], .frames = head.rx_frames, .bytes = head.rx_bytes, .busy_ns = msg.words[3], .http_requests = head.http_requests, .http_errors = head.http_errors,
                       .fw_denied = head.fw_denied};
  return true;
}

static bool probe(int64_t ep, struct probe *p) { return probe_of(ep, p, 0); }

/* Frames the Ethernet driver has offered an instance so far: pushed onto its rx ring, or dropped
 * because the ring was full. What the instance did not take of them is what it left unanswered. */
static bool offered_to(uint32_t instance, uint64_t *n) {
  static const char name[] = "cap://eth/control";
  if (eth < 0 && (eth = hic_registry_lookup(REGISTRY, name, sizeof name - 1)) < 0) return false;
  memset(&msg, 0, offsetof(struct hic_msg, payload));
  msg.label = ETH_STATS;
  msg.cap = HIC_NO_CAP;
  struct eth_stats st;
  if (hic_call((uint64_t)eth, &msg, 0, config->probe_timeout_ns) < 0 || msg.label != ETH_OK || msg.len < sizeof st || instance >= ETH_INSTANCES) return false;
  memcpy(&st, msg.payload, sizeof st);
  *n = st.delivered[instance] + st.dropped[instance];
  return true;
}

/* The interval since `c` last saw the instance; false when nothing can be said yet (first sight,
 * no frame, counters of another instance). */
static bool rates(struct counters *c, const struct probe *p, uint64_t now, struct interval *iv) {
  bool had = c->seen && p->frames >= c->frames && p->bytes >= c->bytes && p->busy_ns >= c->busy_ns && now > c->at_ns;
  *iv = (struct interval){0};
  if (had) iv->work = (struct md_cost_point){p->frames - c->frames, p->bytes - c->bytes, p->busy_ns - c->busy_ns};
  if (had && p->http_requests >= c->http_requests && p->http_errors >= c->http_errors)
    iv->calls = p->http_requests - c->http_requests, iv->call_errors = p->http_errors - c->http_errors;
  uint64_t dt = had ? now - c->at_ns : 1;
  *c = (struct counters){.seen = true, .frames = p->frames, .bytes = p->bytes, .busy_ns = p->busy_ns, .at_ns = now,
                         .http_requests = p->http_requests, .http_errors = p->http_errors};
  uint64_t df = iv->work.units;
  if (!had || df == 0) return false;
  uint64_t t = iv->work.busy_ns / df, r = df * 1000000000ull / dt;
  iv->per_frame = t > MAX_SAMPLE ? MAX_SAMPLE : (uint32_t)t;
  iv->per_second = r > MAX_SAMPLE ? MAX_SAMPLE : (uint32_t)r;
  return true;
}

/* The service time per frame the interval would have had with the baseline's mix of frame sizes:
 * the baseline's mean per frame times the CPU spent against what the baseline's cost model
 * predicts for these frames and bytes (core/cost.h). A version twice as slow doubles it whatever
 * the mix; a change of mix alone leaves it at the baseline. 0: nothing to predict from. */
static uint32_t at_baseline_mix(const struct md_cost *m, uint64_t mean_ns, const struct md_cost_point *work) {
  uint64_t expected = md_cost_expect(m, work->units, work->bytes);
  if (expected == 0) return 0;
  uint64_t v = md_mul_div(mean_ns, work->busy_ns, expected);
  return v > MAX_SAMPLE ? MAX_SAMPLE : (uint32_t)v;
}

/* The baseline is the last `baseline_samples` intervals of the running version before the update
 * began: the cost model fitted to their work (frames, bytes, CPU), their mean per frame, and the
 * detectors learnt from the service time each would have had at their own mean mix. */
#define BASELINE_MAX 64
_Static_assert(BASELINE_MAX <= MD_COST_POINTS, "a cost model fits every baseline interval");
static struct md_cost_point recent_work[BASELINE_MAX];
static uint32_t recent_rate[BASELINE_MAX];
static uint64_t recent_calls[BASELINE_MAX], recent_call_errors[BASELINE_MAX];
static uint32_t recent, recent_next; /* samples held, and where the next goes */
static bool frozen;                  /* the detectors hold the baseline; learning waits for the next watch's end */
static struct md_cost cost;          /* the frozen baseline's cost model */
static uint64_t cost_mean_ns;        /* ... and its mean per frame */
static uint32_t base_error_ppm;      /* ... and the old version's own share of HTTP requests it answered with an error */

static void baseline_reset(void) {
  md_detect_init(&service_time, &policy.detect[md_metric_index(MD_M_LATENCY)]);
  md_detect_init(&frame_rate, &policy.detect[md_metric_index(MD_M_THROUGHPUT)]);
  running.seen = false;
  baseline_version = 0;
  recent = recent_next = 0;
  frozen = false;
}

/* The last window's figures: frames, mean ns per frame, permille of the baseline, all answered. */
static void window_figures(uint64_t *mean, uint64_t *ratio, bool *all_answered) {
  uint64_t frames = 0, bytes = 0, busy = 0;
  uint32_t n = v.samples < VALIDATE_WINDOW ? v.samples : VALIDATE_WINDOW;
  *all_answered = n == VALIDATE_WINDOW;
  for (uint32_t i = 0; i < n; i++) frames += v.work[i].units, bytes += v.work[i].bytes, busy += v.work[i].busy_ns, *all_answered = *all_answered && v.ok[i];
  *mean = frames ? busy / frames : 0;
  /* Against what the baseline's cost model predicts for the same frames and bytes (core/cost.h). */
  uint64_t expected = md_cost_expect(&last_watch.cost, frames, bytes);
  *ratio = expected ? md_mul_div(busy, 1000, expected) : 0;
  if (!frames || !expected) *all_answered = false;
}

/* The validation's result: restored, or not within its intervals (or not yet, when the next update
 * begins first). */
static void validation_end(bool restored) {
  uint64_t mean, ratio;
  bool answered;
  window_figures(&mean, &ratio, &answered);
  uint64_t took = restored ? (uint64_t)hic_time_now() - v.started_ns : 0;
  monitor_emit_validation(&(struct monitor_record_validation){.id = v.id, .samples = v.samples, .answered = v.answered, .version = v.version,
                                                              .service_time_ns = mean, .baseline_ns = last_watch.service_time_ns, .ratio = ratio,
                                                              .restored = restored, .took_ns = took});
  hic_log("monitor: update %lu: after the rollback, %u of %u probes answered; %lu ns per frame over the last %u intervals (baseline mean %lu), %lu permille of what the baseline's cost model predicts: %s",
          v.id, v.answered, v.samples, mean, VALIDATE_WINDOW, last_watch.service_time_ns, ratio, restored ? "restored" : "NOT restored");
  v.on = false;
}

/* One interval of the validation: the probe of the alias, answered or not. Restored once the
 * last window answered every probe and served within the rollback rule's 30 % of the baseline. */
static void validate(bool answered, const struct probe *p, uint64_t now) {
  uint32_t at = v.samples % VALIDATE_WINDOW;
  v.work[at] = (struct md_cost_point){0}, v.ok[at] = answered;
  v.samples++;
  if (answered) {
    /* The counts between probes of one instance: counters of another (the alias moved) start afresh. */
    if (p->version != v.version) v.seen.seen = false;
    struct interval iv;
    rates(&v.seen, p, now, &iv);
    v.work[at] = iv.work;
    v.answered++, v.version = p->version;
  }
  uint64_t mean, ratio;
  bool all;
  window_figures(&mean, &ratio, &all);
  if (all && ratio <= 1300) validation_end(true);
  else if (v.samples >= VALIDATE_WINDOW * VALIDATE_MAX_WINDOWS) validation_end(false);
}

/* MON_VALIDATE: validation of what serves after the rollback of update `id`. */
static uint64_t validate_begin(uint64_t id) {
  if (w.on || v.on || !last_watch.service_time_ns || last_watch.id != id) return MON_ERR_STATE;
  v = (struct validation){.on = true, .id = id, .started_ns = (uint64_t)hic_time_now()};
  return MON_OK;
}

/* Between updates: one sample of the running version through the alias, which a validation in
 * progress also takes. */
static void learn(int64_t alias) {
  struct probe p;
  struct interval iv;
  uint64_t now = (uint64_t)hic_time_now();
  if (frozen && !v.on) return; /* the baseline waits for the watch: nothing to probe for */
  bool answered = probe(alias, &p);
  if (v.on) validate(answered, &p, now);
  if (frozen || !answered) return;
  if (baseline_version && p.version != baseline_version) baseline_reset(); /* another version serves */
  baseline_version = p.version;
  if (!rates(&running, &p, now, &iv)) return;
  recent_work[recent_next] = iv.work, recent_rate[recent_next] = iv.per_second;
  recent_calls[recent_next] = iv.calls, recent_call_errors[recent_next] = iv.call_errors;
  recent_next = (recent_next + 1) % (uint32_t)config->baseline_samples;
  if (recent < config->baseline_samples) recent++;
}

/* The cost model is fitted to the intervals held, and the detectors learn them, oldest first, and
 * freeze. */
static bool freeze_baseline(void) {
  if (frozen) return true;
  uint32_t k = (uint32_t)config->baseline_samples, first = recent < k ? 0 : recent_next;
  uint64_t frames = 0, busy = 0;
  for (uint32_t i = 0; i < recent; i++) frames += recent_work[i].units, busy += recent_work[i].busy_ns;
  if (!frames || md_cost_fit(&cost, recent_work, recent) < 0) {
    baseline_reset();
    return false;
  }
  cost_mean_ns = busy / frames;
  /* The old version's own error share, when it took enough requests to say (the rule's
   * min_requests): the error-rate row measures the new one's above it. */
  uint64_t calls = 0, errors = 0;
  for (uint32_t i = 0; i < recent; i++) calls += recent_calls[i], errors += recent_call_errors[i];
  base_error_ppm = calls >= policy.min_requests && errors <= calls ? (uint32_t)md_mul_div(errors, 1000000, calls) : 0;
  for (uint32_t i = 0; i < recent; i++) {
    md_detect_learn(&service_time, at_baseline_mix(&cost, cost_mean_ns, &recent_work[(first + i) % k]));
    md_detect_learn(&frame_rate, recent_rate[(first + i) % k]);
  }
  if (md_detect_freeze(&service_time) < 0 || md_detect_freeze(&frame_rate) < 0) {
    baseline_reset();
    return false;
  }
  return frozen = true;
}

static uint64_t q16_to_int(uint64_t q) { return (q + (1u << 15)) >> 16; }

/* What Core-0 has seen of the service's version `packed` since boot (module_health): sandboxes
 * started, ended by a fault, live now. False without the loader. */
static bool health_of(uint64_t packed, struct hic_module_health *h) {
  struct hic_module_req q;
  memset(&q, 0, sizeof q);
  hic_snprintf(q.name, sizeof q.name, "%s", service_name());
  hic_snprintf(q.range, sizeof q.range, "%lu.%lu.%lu", packed >> 16, packed >> 8 & 0xff, packed & 0xff);
  return hic_module_health(LOADER, &q, h) == 0;
}

/* MON_PREPARE's version, and Core-0's fault count of it then: the watch counts crashes from the
 * update's start, though it may begin only after the first (a new instance that crashed while it
 * started, restarted by the Module Manager). */
static struct {
  uint64_t id, to, faults;
} prepared;

static void prepare(uint64_t id, uint64_t to) {
  struct hic_module_health h = {0};
  health_of(to, &h);
  prepared.id = id, prepared.to = to, prepared.faults = h.faults;
}

/* The seed's policy, with two changes for what this service measures, and its windows and timeouts
 * divided by the configured scale.
 *
 * The changes: "performance down > 30 %" (§4.2) is not gated on the latency detector, and the
 * error rate (§4.2 服务错误率) not on an error detector. A sample is one interval of a few hundred
 * to a few thousand frames; the rule's own signal, the frame-weighted mean over its whole window
 * against the baseline (at the baseline's mix of frame sizes, core/cost.h), is the steadier
 * figure, and a gate would make the rule wait on runs of single intervals (docs/monitor.md). The
 * same holds for the error rate: an interval sees a few dozen HTTP requests at most, so its share
 * is 0 or a large step, and three out-of-band intervals in a row (the detector's anomaly) would be
 * chance; the rule's ratio over its window is the signal. What the gate did, telling apart an
 * error rate the old version had as well, the baseline's own error share does instead: the row
 * measures the new version's share above it (md_baseline.error_ppm, §5.1 错误率增加). */
static void adapt_policy(void) {
  for (int m = 0; m < MD_METRICS; m++) policy.detect[m].min_samples = (uint32_t)config->baseline_samples;
  for (uint32_t i = 0; i < policy.rule_count; i++)
    if (policy.rules[i].id == MD_R_PERF_DOWN || policy.rules[i].id == MD_R_ERROR_RATE) policy.rules[i].gate = 0;
  uint64_t k = config->time_scale;
  for (uint32_t i = 0; i < policy.rule_count; i++)
    if (policy.rules[i].window_ns) {
      uint64_t s = policy.rules[i].window_ns / k;
      policy.rules[i].window_ns = s < 16 ? 16 : s;
    }
  policy.confirm_timeout_ns /= k;
  policy.dup_window_ns = policy.dup_window_ns / k ? policy.dup_window_ns / k : 1;
  policy.corr_window_ns /= k;
}

/* MON_WATCH: freeze the baseline, find the new instance, start deciding. */
static uint64_t watch(const struct hic_msg *in) {
  struct mon_watch req;
  if (in->len != sizeof req || in->cap < 0) return MON_ERR_FORMAT;
  memcpy(&req, in->payload, sizeof req);
  req.service[sizeof req.service - 1] = req.version[sizeof req.version - 1] = 0;
  if (w.on || !freeze_baseline()) return MON_ERR_STATE;
  /* The new instance's stats endpoint: not there while it is down (it crashed, a restart is
   * coming); each interval looks again. */
  memset(&w, 0, sizeof w);
  w.stats_len = (uint64_t)hic_snprintf(w.stats_name, sizeof w.stats_name, "cap://%s/v%s/stats", req.service, req.version);
  w.stats = hic_registry_lookup(REGISTRY, w.stats_name, w.stats_len);
  w.on = true, w.id = req.id, w.verdicts = in->cap, w.instance = (uint32_t)req.instance, w.to = req.to;
  struct hic_module_health h = {0};
  health_of(req.to, &h);
  w.faults = prepared.id == req.id && prepared.to == req.to ? prepared.faults : h.faults;
  offered_to(w.instance, &w.offered);
  /* A function the running version fails as well is not the new one's regression. */
  struct ns_probe_answer old = ns_probe(alias(), &msg, 0, config->probe_timeout_ns);
  w.functions = old.answered ? ~old.failed & NS_PROBE_ALL : 0;
  uint64_t t = cost_mean_ns > MAX_SAMPLE ? MAX_SAMPLE : cost_mean_ns, r = q16_to_int(md_detect_mean_q16(&frame_rate));
  w.base = (struct md_baseline){.latency_us = t ? (uint32_t)t : 1, .throughput = r ? (uint32_t)r : 1, .error_ppm = base_error_ppm};
  w.config = req.kind == MON_WATCH_CONFIG;
  struct md_update_context ctx = {.code_changed = !w.config, .config_changed = w.config};
  uint64_t now = (uint64_t)hic_time_now();
  if (md_decider_init(&w.decider, &policy, &w.base, &ctx, now) < 0) {
    if (w.stats >= 0) hic_cap_delete((uint64_t)w.stats);
    w.on = false;
    return MON_ERR_STATE;
  }
  monitor_emit_baseline(&(struct monitor_record_baseline){.id = req.id, .version = baseline_version, .samples = service_time.n, .service_time_ns = t,
                                                          .service_time_sigma_ns = q16_to_int(md_detect_sigma_q16(&service_time)), .frame_rate = r,
                                                          .functions = w.functions, .cost_per_frame_ns = (cost.per_unit_q8 + 128) >> 8,
                                                          .cost_per_kib_ns = (cost.per_block_q8 * (1024 / MD_COST_BLOCK) + 128) >> 8,
                                                          .error_rate = base_error_ppm});
  monitor_emit_watch(&(struct monitor_record_watch){.id = req.id, .from = req.from, .to = req.to, .config = w.config});
  hic_log("monitor: watching %s %s for update %lu: baseline %lu ns per frame over %u samples", req.service, req.version, req.id, t, service_time.n);
  return MON_OK;
}

static void unwatch(void) {
  last_watch.id = w.id, last_watch.service_time_ns = w.base.latency_us, last_watch.cost = cost; /* the core's unit-free latency: ns per frame here */
  monitor_emit_unwatch(&(struct monitor_record_unwatch){.id = w.id, .samples = w.samples, .violations = w.violations, .unanswered = w.unanswered, .verdicts = w.sent});
  if (w.stats >= 0) hic_cap_delete((uint64_t)w.stats);
  hic_cap_delete((uint64_t)w.verdicts);
  w.on = false;
  baseline_reset();
}

/* A verdict goes back as a call the Module Manager answers when it next looks (after a batch of
 * moves, or at once while it waits out the stability window); unanswered within one interval, it
 * is offered again after the next sample. */
static void offer_verdict(void) {
  static struct hic_msg out;
  memset(&out, 0, offsetof(struct hic_msg, payload));
  out.label = MON_VERDICT;
  out.cap = HIC_NO_CAP;
  out.len = sizeof w.verdict;
  memcpy(out.payload, &w.verdict, sizeof w.verdict);
  if (hic_call((uint64_t)w.verdicts, &out, 0, config->interval_ns) < 0 || out.label != MON_OK) return;
  w.verdict_due = false, w.sent++;
  monitor_emit_verdict(&(struct monitor_record_verdict){.id = w.id, .action = w.verdict.action, .rule = w.verdict.rule, .level = w.verdict.level, .score = w.verdict.score,
                                                        .value = w.verdict_value, .over_ns = w.verdict_over_ns, .audit = true});
}

/* An alert on the watched instance for the decision's rule (seed §5.2.2): md_alerts says whether
 * it opens an incident, escalates one, or is only counted, and where it goes. Every alert is
 * recorded; the record's `audit` field, declared `audits` in module.json, has Core-0 audit it
 * (P0 and P1, once per incident and rule, silenced or not). */
static void raise_alert(const struct md_decision *d) {
  struct md_alert al = {.at_ns = d->at_ns, .source = (uint32_t)w.id, .kind = d->rule_id,
                        .priority = md_priority_of_level(d->level), .value = d->evals[d->rule].value};
  struct md_alert_out out;
  if (md_alert_raise(&alerts, &al, &out) < 0) return; /* a priority or time the table refuses: cannot happen here */
  monitor_emit_alert(&(struct monitor_record_alert){.id = w.id, .priority = al.priority, .rule = al.kind, .verdict = out.verdict, .incident = out.incident,
                                                    .count = out.count, .repeats = out.repeats, .routes = out.routes, .audit = out.audit, .value = al.value});
}

/* During a watch: one interval of the new instance through the decision core. */
static void observe(void) {
  struct probe p;
  struct md_sample s;
  memset(&s, 0, sizeof s);
  struct interval iv = {0};
  bool gone = false;
  if (w.stats < 0) w.stats = hic_registry_lookup(REGISTRY, w.stats_name, w.stats_len);
  bool answered = w.stats >= 0 && probe_of(w.stats, &p, &gone);
  if (gone) {
    /* It ended: Core-0 revoked what derived from its capabilities. A restarted instance registers
     * the name again, with counters from zero. */
    hic_cap_delete((uint64_t)w.stats);
    w.stats = -1;
    w.seen.seen = false, w.http_requests = w.http_errors = w.fw_denied = 0;
  }
  uint64_t offered = w.offered;
  offered_to(w.instance, &offered);
  uint64_t now = (uint64_t)hic_time_now();
  bool measured = answered && rates(&w.seen, &p, now, &iv);
  uint32_t adjusted = measured ? at_baseline_mix(&cost, cost_mean_ns, &iv.work) : 0;
  measured = measured && adjusted > 0;
  w.fail_streak = answered ? 0 : w.fail_streak + 1;
  w.unanswered += !answered;
  /* The requests of the interval: the frames the driver offered the instance, and the probe. An
   * instance that answers its probe is serving, and the frames it has not taken yet are a
   * backlog, not a loss; one that does not answer left every frame of the interval unanswered. */
  uint64_t fresh = offered - w.offered;
  w.offered = offered;
  if (fresh > MAX_SAMPLE / 2) fresh = MAX_SAMPLE / 2;
  s.now_ns = now;
  s.requests = (uint32_t)fresh + 1;
  s.unanswered = answered ? 0 : s.requests;
  s.health_fail_streak = w.fail_streak;
  /* Error responses (§4.2 服务错误率 > 5 %): the instance's own count of the HTTP requests it
   * took and of those it answered with a server error, the sample's calls (decide.h). A 503 is
   * counted when it is sent and its request when it came, so an interval may see more errors than
   * requests: the calls are at least the errors. */
  uint64_t http_requests = 0, http_errors = 0;
  if (answered && p.http_requests >= w.http_requests && p.http_errors >= w.http_errors) {
    http_requests = p.http_requests - w.http_requests, http_errors = p.http_errors - w.http_errors;
    w.http_requests = p.http_requests, w.http_errors = p.http_errors;
    uint64_t calls = http_requests > http_errors ? http_requests : http_errors;
    s.calls = calls > MAX_SAMPLE ? MAX_SAMPLE : (uint32_t)calls;
    s.call_errors = http_errors > s.calls ? s.calls : (uint32_t)http_errors;
  }
  /* Traffic the instance's firewall rules refused (§4.4.2: refusals by a new configuration are
   * that configuration's evidence). The first reading of a watch only sets where to count from. */
  if (answered && w.fw_denied_seen && p.fw_denied >= w.fw_denied) {
    uint64_t d = p.fw_denied - w.fw_denied;
    s.cause.denials = d > MAX_SAMPLE ? MAX_SAMPLE : (uint32_t)d;
  }
  if (answered) w.fw_denied = p.fw_denied, w.fw_denied_seen = true;
  /* Crashes are Core-0's count of the new version's sandboxes that ended by a fault (§4.2's
   * crash-loop row; the Module Manager's destroy after a verdict is no fault). The new instance
   * is not running when none of them lives (§4.1 level 1's start-failure gauge; a restart ends it). */
  struct hic_module_health h;
  bool counted = health_of(w.to, &h);
  if (counted && h.faults > w.faults) {
    s.crashes = (uint32_t)(h.faults - w.faults);
    w.faults = h.faults;
    hic_log("monitor: update %lu: Core-0 counts %u more crash(es) of the new version, %lu since the update began", w.id, s.crashes,
            h.faults - (prepared.id == w.id ? prepared.faults : 0));
  }
  s.start_failed = counted ? h.running == 0 : w.stats < 0;
  /* Memory and CPU (§5.1 资源使用) are Core-0's figures for the version's live sandboxes: the
   * frames they hold, which a leak grows (§4.2 资源泄漏, a trend), and the CPU they used over the
   * interval as a share of it. A restart begins again from its own CPU time. */
  if (counted && h.running) {
    s.memory_kib = h.memory / 1024 > MAX_SAMPLE ? MAX_SAMPLE : (uint32_t)(h.memory / 1024);
    if (w.cpu_at && h.cpu_ns >= w.cpu_ns && now > w.cpu_at) {
      uint64_t share = (h.cpu_ns - w.cpu_ns) * 1000 / (now - w.cpu_at);
      s.cpu_permille = share > 1000 ? 1000 : (uint32_t)share;
    }
    w.cpu_ns = h.cpu_ns, w.cpu_at = now;
  } else {
    w.cpu_at = 0;
  }
  /* The critical functions, once the instance answers at all (an unanswered one is the
   * availability rules' case, and a second timeout would only delay them). */
  struct ns_probe_answer fn = {0};
  if (answered && (fn = ns_probe(w.stats, &msg, w.samples + 1, config->probe_timeout_ns)).answered) {
    s.critical_checks = 1;
    s.critical_failed = (fn.failed & w.functions) != 0; /* one function failed outright (§4.2) */
    s.corrupt = fn.changed != 0; /* bytes given back, but not the ones sent */
  }
  if (measured) {
    struct md_detect_result dr;
    /* The core is unit-free: here ns per frame, at the baseline's mix of frame sizes (docs/monitor.md). */
    s.latency_us = adjusted;
    s.throughput = iv.per_second;
    s.load_permille = (uint32_t)((uint64_t)iv.per_second * 1000 / w.base.throughput);
    if (md_detect_observe(&service_time, adjusted, s.load_permille, &dr) == 0 && dr.verdict != MD_NORMAL) {
      s.violating |= MD_M_LATENCY, w.violations++;
      if (dr.verdict == MD_ANOMALY) s.anomalous |= MD_M_LATENCY;
    }
  }
  w.samples++;
  monitor_emit_sample(&(struct monitor_record_sample){.id = w.id, .service_time_ns = iv.per_frame, .adjusted_ns = adjusted, .bytes_per_frame = iv.work.units ? iv.work.bytes / iv.work.units : 0,
                                                      .frame_rate = iv.per_second, .offered = s.requests, .unanswered = s.unanswered,
                                                      .functions_failed = fn.answered ? fn.failed : FUNCTIONS_UNPROBED, .corrupt = fn.changed,
                                                      .http_requests = http_requests, .http_errors = http_errors, .crashes = s.crashes,
                                                      .running = !s.start_failed, .memory = s.memory_kib, .cpu = s.cpu_permille});
  struct md_decision d;
  /* Once a rollback is decided the decider has concluded and takes no more samples; the verdict
   * is still offered each interval until the Module Manager takes it (it may be busy, with calls
   * to a crashed instance, for longer than one interval). */
  if (md_decide(&w.decider, &s, &d) < 0) {
    if (w.verdict_due) offer_verdict();
    return;
  }
  if (d.rule_id != w.last.rule_id || d.action != w.last.action || d.execute != w.last.execute || d.confirm != w.last.confirm) {
    monitor_emit_decision(&(struct monitor_record_decision){.id = w.id, .rule = d.rule_id, .level = d.level, .action = d.action, .score = d.score,
                                                            .execute = d.execute, .service_time_ns = adjusted, .holding = d.holding_mask,
                                                            .confirm = d.confirm});
    if (d.rule_id) {
      static char reason[160];
      md_decision_reason(&d, &policy, reason, sizeof reason);
      hic_log("monitor: update %lu: %s", w.id, reason);
    }
  }
  if (d.rule_id && (d.rule_id != w.last.rule_id || d.action > w.last.action)) raise_alert(&d);
  w.last = d;
  if (d.execute && md_action_is_rollback(d.action) && !w.sent && !w.verdict_due) {
    w.verdict_due = true, w.verdict = (struct mon_verdict){.id = w.id, .action = d.action, .rule = d.rule_id, .level = d.level, .score = d.score, .at_ns = d.at_ns};
    w.verdict_value = d.evals[d.rule].value, w.verdict_over_ns = policy.rules[d.rule].window_ns ? d.evals[d.rule].covered_ns : 0;
    monitor_emit_cause(&(struct monitor_record_cause){.id = w.id, .cause = d.cause.cause, .confidence = d.cause.confidence, .evidence = d.cause.evidence});
  }
  if (w.verdict_due) offer_verdict();
}

/* MON_SILENCE: [from, until) in virtual ns, or until 0 to lift it. */
static void silence(uint64_t from, uint64_t until) {
  uint64_t result = MONITOR_SILENCE_RESULT_LIFTED;
  if (until == 0) md_alert_unsilence(&alerts);
  else result = md_alert_silence(&alerts, from, until) < 0 ? MONITOR_SILENCE_RESULT_REFUSED : MONITOR_SILENCE_RESULT_SET;
  monitor_emit_silence(&(struct monitor_record_silence){.from = from, .until = until, .result = result});
}

/* MON_CONFIRM or MON_VETO of the rollback the watch of update `id` holds back; the next sample
 * acts on it (decide.h, md_decider_answer). */
static void answer(uint64_t id, bool confirm) {
  uint64_t result = !w.on || w.id != id                              ? MONITOR_CONFIRMATION_RESULT_NOT_WATCHED
                    : md_decider_answer(&w.decider, confirm ? 1 : 0) < 0 ? MONITOR_CONFIRMATION_RESULT_NOT_PENDING
                                                                      : MONITOR_CONFIRMATION_RESULT_APPLIED;
  monitor_emit_confirmation(&(struct monitor_record_confirmation){
      .id = id, .answer = confirm ? MONITOR_CONFIRMATION_ANSWER_CONFIRM : MONITOR_CONFIRMATION_ANSWER_VETO, .result = result});
}

/* The operator's messages are sends: nothing to reply, and a capability one carries is dropped. */
static bool operator_message(const struct hic_msg *in) {
  if (in->label == MON_SILENCE) silence(in->words[0], in->words[1]);
  else if (in->label == MON_CONFIRM || in->label == MON_VETO) answer(in->words[0], in->label == MON_CONFIRM);
  else return false;
  if (in->cap >= 0) hic_cap_delete((uint64_t)in->cap);
  return true;
}

int hic_main(void) {
  config = hic_config();
  md_policy_default(&policy);
  adapt_policy();
  policy.confirm_required = config->confirm ? 1 : 0;
  int bad;
  if (md_policy_check(&policy, &bad) < 0) return hic_log("monitor: the scaled policy is refused (rule %d)", bad), 1;
  md_alerts_init(&alerts, &policy); /* cannot fail: the policy passed its check */
  baseline_reset();
  int64_t ep = hic_endpoint_create();
  static const char name[] = "cap://monitor/v" HIC_MODULE_VERSION "/watch";
  if (ep < 0 || hic_registry_register(REGISTRY, name, sizeof name - 1, (uint64_t)ep) < 0) return hic_log("monitor: cannot register %s", name), 1;
  uint64_t next = (uint64_t)hic_time_now();
  for (;;) {
    uint64_t now = (uint64_t)hic_time_now();
    static struct hic_msg in;
    if (now < next && hic_recv((uint64_t)ep, &in, 0, next - now) == 0) {
      if (operator_message(&in)) continue;
      uint64_t st = MON_ERR_FORMAT;
      if (v.on && (in.label == MON_WATCH || in.label == MON_PREPARE)) validation_end(false); /* the next update begins first */
      if (in.label == MON_WATCH) st = watch(&in);
      else if (in.label == MON_VALIDATE) st = validate_begin(in.words[0]);
      else if (in.label == MON_UNWATCH && w.on && in.words[0] == w.id) unwatch(), st = MON_OK;
      else if (in.label == MON_UNWATCH) st = MON_ERR_STATE;
      else if (in.label == MON_PREPARE && !w.on && freeze_baseline()) prepare(in.words[0], in.words[1]), st = MON_OK;
      else if (in.label == MON_PREPARE) st = MON_ERR_STATE;
      if (st != MON_OK && in.cap >= 0) hic_cap_delete((uint64_t)in.cap);
      memset(&in, 0, offsetof(struct hic_msg, payload));
      in.label = st;
      in.cap = HIC_NO_CAP;
      hic_reply(&in);
      continue;
    }
    if ((uint64_t)hic_time_now() < next) continue;
    next += config->interval_ns;
    if (next < (uint64_t)hic_time_now()) next = (uint64_t)hic_time_now(); /* a probe that waited long: no burst to catch up */
    if (w.on) observe();
    else if (alias() >= 0) learn(alias());
  }
}
