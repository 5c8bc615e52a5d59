/* detect-streams.h -- synthetic metric streams for the `detect` benchmark: an hour of the old
 * version (the baseline), then two hours of the new one, one sample every 5 s, with seeded noise
 * and a load that swings +-20 % over 30 minutes. A faulty stream turns bad at a random onset with
 * one of the faults the regression images inject, or one just over a threshold; a stream of the
 * first kinds is not due for a rollback, though its load may surge, the new version may be a
 * little slower than the old, or its error rate may rise short of the seed's 5 %. */
#ifndef DETECT_STREAMS_H
#define DETECT_STREAMS_H

#include <stdint.h>

#include "decide.h"

#define STREAM_STEP_NS (5ull * 1000000000ull)
#define STREAM_BASELINE 720 /* samples: one hour */
#define STREAM_WATCH 1440   /* samples: two hours */

enum stream_kind {
  K_HEALTHY = 0,
  K_SURGE,      /* healthy, with the offered load at 1.8 times for 15 minutes */
  K_SLOWER,     /* healthy, a new version 8 % slower with 3 % more memory: no reason to roll back */
  K_ERRORS4,    /* 4 % errors: worse than the baseline, still under the seed's 5 %: no rollback due */
  K_ERROR6,     /* 6 % error responses */
  K_ERROR55,    /* 5.5 %: just over the threshold */
  K_LATENCY2X,  /* latency doubled */
  K_COMPLETE,   /* stops answering */
  K_CORRUPTION, /* 1 % of payloads corrupted, which clients count as errors */
  K_LEAK,       /* memory grows 150 MB an hour */
  K_CRASHLOOP,  /* the new instance crashes every 90 s or so */
  K_COUNT,
};

#define K_FIRST_FAULT K_ERROR6

extern const char *const KIND_NAME[K_COUNT];

struct stream {
  enum stream_kind kind;
  uint64_t rng;
  uint32_t onset;      /* first faulty (or surging) watch sample; healthy kinds other than a surge: never */
  uint32_t next_crash; /* K_CRASHLOOP: the watch sample of the next crash */
  uint32_t health_streak;
};

/* Detector metrics fed from a sample, by bit index of enum md_metric (latency, throughput,
 * errors, memory, CPU); the health and migration detectors get no baseline here. */
#define STREAM_METRICS 5

void stream_init(struct stream *s, enum stream_kind kind, uint64_t seed);
/* Sample i of the baseline (watch = 0) or of the watch (watch = 1), as the decision engine takes
 * it; values[] gets the five detector metrics. */
void stream_sample(struct stream *s, int watch, uint32_t i, struct md_sample *out, uint32_t values[STREAM_METRICS]);

#endif
