/* detect.c -- the `detect` benchmark's program (bench/benchmarks/detect.ts builds and runs it):
 * streams of every kind (detect-streams.h) through the Monitor's policy core as the service will
 * run it -- a detector per metric learning the baseline, then each sample through the detectors
 * and the decision engine -- and, beside it on the same samples, the textbook baseline: a plain
 * 3-sigma rule on single samples (the same detector with consecutive = 1 and the minimum band and
 * load adaptation off), which raises an alarm on any metric out of its band.
 *
 * For each stream it records the first alarm (a decision of level 1-3: an alert of P0-P2) and the
 * decision that acted (a rollback executed, or the leak rule's alert), and prints one JSON object
 * with every stream's figures; detect.ts computes precision and recall from them. The run is
 * deterministic: the same arguments print the same bytes. Usage: detect STREAMS_PER_KIND SEED. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "decide.h"
#include "detect-streams.h"

/* Which fault a rule speaks of, as a stream kind (-1: none of them). */
static int kind_of_rule(uint8_t id) {
  switch (id) {
    case MD_R_CRASH_LOOP: case MD_R_START_FAILED: return K_CRASHLOOP;
    case MD_R_ERROR_RATE: return K_ERROR6; /* and K_ERROR55: see named() */
    case MD_R_PERF_DOWN: case MD_R_PERF_HALVED: case MD_R_LATENCY_RISE: case MD_R_PERF_SLIGHT: return K_LATENCY2X;
    case MD_R_UNAVAILABLE: case MD_R_CRITICAL_FUNCTION: case MD_R_HEALTH: case MD_R_AVAILABILITY: return K_COMPLETE;
    case MD_R_CORRUPTION: return K_CORRUPTION;
    case MD_R_LEAK: return K_LEAK;
    default: return -1;
  }
}

/* The naive rule knows only which metric left its band: latency, throughput, errors, memory, CPU. */
/* 5.5 % errors is the error-rate fault too. */
static int named(int said, enum stream_kind kind) { return said == K_ERROR6 && kind == K_ERROR55 ? K_ERROR55 : said; }

static const int KIND_OF_METRIC[STREAM_METRICS] = {K_LATENCY2X, K_COMPLETE, K_ERROR6, K_LEAK, -1};

struct outcome {
  int64_t onset, first, final, naive;
  int final_kind, naive_kind, first_rule, final_rule, final_action, final_level, final_score;
};

static struct md_policy POLICY;

static void run_stream(enum stream_kind kind, uint64_t seed, struct outcome *o, uint64_t *samples) {
  struct stream st;
  stream_init(&st, kind, seed);
  struct md_detector det[STREAM_METRICS], naive[STREAM_METRICS];
  for (int k = 0; k < STREAM_METRICS; k++) {
    struct md_detect_params np = POLICY.detect[k];
    np.consecutive = 1, np.min_band = 0, np.min_band_permille = 0, np.load_widen_max_permille = 1000, np.scales_with_load = 0;
    md_detect_init(&det[k], &POLICY.detect[k]);
    md_detect_init(&naive[k], &np);
  }
  struct md_sample s;
  uint32_t v[STREAM_METRICS];
  for (uint32_t i = 0; i < STREAM_BASELINE; i++) {
    stream_sample(&st, 0, i, &s, v);
    for (int k = 0; k < STREAM_METRICS; k++) md_detect_learn(&det[k], v[k]), md_detect_learn(&naive[k], v[k]);
  }
  for (int k = 0; k < STREAM_METRICS; k++) md_detect_freeze(&det[k]), md_detect_freeze(&naive[k]);
  struct md_baseline base = {(uint32_t)(md_detect_mean_q16(&det[0]) >> 16), (uint32_t)(md_detect_mean_q16(&det[1]) >> 16), 0};
  struct md_update_context ctx = {.code_changed = 1};
  struct md_decider d;
  if (md_decider_init(&d, &POLICY, &base, &ctx, 0) != MD_OK) exit(3);
  *o = (struct outcome){.onset = kind < K_FIRST_FAULT ? -1 : (int64_t)st.onset, .first = -1, .final = -1, .naive = -1,
                        .final_kind = -1, .naive_kind = -1, .first_rule = 0, .final_rule = 0, .final_action = -1};
  struct md_decision dec;
  for (uint32_t i = 0; i < STREAM_WATCH; i++) {
    stream_sample(&st, 1, i, &s, v);
    for (int k = 0; k < STREAM_METRICS; k++) {
      struct md_detect_result r;
      md_detect_observe(&det[k], v[k], s.load_permille, &r);
      if (r.verdict != MD_NORMAL) s.violating |= 1u << k;
      if (r.verdict == MD_ANOMALY) s.anomalous |= 1u << k;
      md_detect_observe(&naive[k], v[k], 1000, &r);
      if (r.verdict != MD_NORMAL && o->naive < 0) o->naive = i, o->naive_kind = named(KIND_OF_METRIC[k], kind);
    }
    if (md_decide(&d, &s, &dec) != MD_OK) exit(4);
    (*samples)++;
    if (dec.level >= MD_LEVEL_CRITICAL && dec.level <= MD_LEVEL_MEDIUM && o->first < 0) o->first = i, o->first_rule = dec.rule_id;
    int leak_alert = dec.rule_id == MD_R_LEAK;
    if ((md_action_is_rollback(dec.action) && dec.execute) || leak_alert) {
      o->final = i, o->final_rule = dec.rule_id, o->final_kind = named(kind_of_rule(dec.rule_id), kind);
      o->final_action = dec.action, o->final_level = dec.level, o->final_score = dec.score;
      break;
    }
  }
}

int main(int argc, char **argv) {
  uint32_t per_kind = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 40;
  uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
  md_policy_default(&POLICY);
  uint64_t samples = 0;
  printf("{\"streamsPerKind\": %" PRIu32 ", \"seed\": %" PRIu64 ", \"baselineSamples\": %d, \"watchSamples\": %d, "
         "\"stepNs\": %llu, \"firstFault\": %d, \"kinds\": [", per_kind, seed, STREAM_BASELINE, STREAM_WATCH, STREAM_STEP_NS, K_FIRST_FAULT);
  for (int k = 0; k < K_COUNT; k++) printf("%s\"%s\"", k ? ", " : "", KIND_NAME[k]);
  printf("], \"streams\": [\n");
  for (int k = 0; k < K_COUNT; k++) {
    for (uint32_t n = 0; n < per_kind; n++) {
      struct outcome o;
      run_stream((enum stream_kind)k, seed * 1000003u + (uint64_t)k * 10007u + n, &o, &samples);
      printf("%s{\"kind\": %d, \"onset\": %" PRId64 ", \"first\": %" PRId64 ", \"firstRule\": %d, \"final\": %" PRId64
             ", \"finalRule\": %d, \"finalKind\": %d, \"action\": %d, \"level\": %d, \"score\": %d, \"naive\": %" PRId64
             ", \"naiveKind\": %d}", k || n ? ",\n" : "", k, o.onset, o.first, o.first_rule, o.final, o.final_rule,
             o.final_kind, o.final_action, o.final_level, o.final_score, o.naive, o.naive_kind);
    }
  }
  printf("\n], \"samples\": %" PRIu64 "}\n", samples);
  return 0;
}
