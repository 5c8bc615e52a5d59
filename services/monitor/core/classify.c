/* classify.c -- points from evidence to causes. The points are small integers on purpose: what
 * matters is which cause the evidence points at most, and a reader can follow every decision.
 *
 * Direct evidence (a fault, a refusal, a corrupted payload) weighs 4-5; circumstantial evidence
 * (errors after a code change, a leak's trend) 1-3. On a tie the earlier cause in enum md_cause
 * wins: a code defect is the conservative verdict, since it marks the version bad. */
#include "classify.h"

static int single_bit(uint32_t x) { return x != 0 && (x & (x - 1)) == 0; }

void md_classify(const struct md_cause_totals *t, const struct md_update_context *ctx,
                 struct md_cause_result *out) {
  uint16_t pts[MD_CAUSE_COUNT] = {0};
  uint32_t ev = 0;
  uint32_t component = 0;

  if (t->crashes > 0) pts[MD_CAUSE_CODE] += 4, ev |= MD_EV_CRASHES;
  if (t->corrupt > 0) pts[MD_CAUSE_CODE] += 4, ev |= MD_EV_CORRUPT;
  if (t->start_failed > 0) {
    ev |= MD_EV_START_FAILED;
    /* An instance that could not get its memory did not fail by its own code. */
    if (t->resource_refusals > 0) pts[MD_CAUSE_RESOURCE] += 2;
    else pts[MD_CAUSE_CODE] += 4;
  }
  if (t->errors + t->unanswered > 0 && ctx->code_changed) pts[MD_CAUSE_CODE] += 1, ev |= MD_EV_ERRORS;
  /* Slower than the old version with the new code: the code, until something else shows. */
  if ((t->signals_fired & (1u << MD_SIG_PERF_DROP | 1u << MD_SIG_LATENCY_RISE)) && ctx->code_changed) pts[MD_CAUSE_CODE] += 1, ev |= MD_EV_PERF;
  if (single_bit(t->fault_components) && (t->fault_components & ctx->components)) {
    component = t->fault_components;
    pts[MD_CAUSE_CODE] += 1;
    ev |= MD_EV_LOCALIZED;
  }

  if (ctx->config_changed) {
    /* Refusals by the new configuration are the configuration speaking for itself. */
    if (t->denials > 0) pts[MD_CAUSE_CONFIG] += 5, ev |= MD_EV_DENIALS;
    /* With the code unchanged, what went wrong came with the configuration. */
    if (!ctx->code_changed) pts[MD_CAUSE_CONFIG] += 3, ev |= MD_EV_CONFIG_ONLY;
  }

  if (t->resource_refusals > 0) pts[MD_CAUSE_RESOURCE] += 4, ev |= MD_EV_RESOURCE;
  if (t->signals_fired & (1u << MD_SIG_LEAK)) {
    /* Memory that grows only under the new version is that version's defect. */
    pts[ctx->code_changed ? MD_CAUSE_CODE : MD_CAUSE_RESOURCE] += 3;
    ev |= MD_EV_LEAK;
  }
  if (t->signals_fired & (1u << MD_SIG_CPU)) pts[MD_CAUSE_RESOURCE] += 1, ev |= MD_EV_CPU;

  if (t->dependency_errors > 0) {
    pts[MD_CAUSE_EXTERNAL] += 3;
    if (t->crashes == 0 && t->corrupt == 0) pts[MD_CAUSE_EXTERNAL] += 2; /* the instance itself is sound */
    ev |= MD_EV_DEPENDENCY;
  }

  uint32_t total = 0;
  uint8_t best = MD_CAUSE_UNKNOWN;
  for (uint8_t c = MD_CAUSE_CODE; c < MD_CAUSE_COUNT; c++) {
    total += pts[c];
    if (pts[c] > pts[best]) best = c;
  }
  out->cause = best;
  out->confidence = total == 0 ? 0 : (uint16_t)(pts[best] * 1000u / total);
  for (int c = 0; c < MD_CAUSE_COUNT; c++) out->points[c] = pts[c];
  out->evidence = ev;
  out->component = component;
}
