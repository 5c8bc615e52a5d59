/* detect-streams.c -- the stream model of the `detect` benchmark (see detect-streams.h). Noise is
 * splitmix64 turned into uniform, binomial and Gaussian values; the host has floating point, the
 * core under test does not. The same seed gives the same stream. */
#include "detect-streams.h"

#include <math.h>

const char *const KIND_NAME[K_COUNT] = {"healthy", "healthy-surge", "healthy-slower", "errors4", "error6", "error5.5", "latency2x", "complete", "corruption", "leak", "crashloop"};

static uint64_t next(struct stream *s) { /* splitmix64 */
  uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static double unit(struct stream *s) { return (double)(next(s) >> 11) / 9007199254740992.0; }

static double gauss(struct stream *s, double mean, double sd) {
  double u = unit(s), v = unit(s);
  return mean + sd * sqrt(-2.0 * log(1.0 - u)) * cos(6.283185307179586 * v);
}

static uint32_t binomial(struct stream *s, uint32_t n, double p) {
  uint32_t k = 0;
  for (uint32_t i = 0; i < n; i++) k += unit(s) < p;
  return k;
}

static uint32_t clamp(double x) { return x < 0 ? 0 : x > 2e9 ? 2000000000u : (uint32_t)x; }

void stream_init(struct stream *s, enum stream_kind kind, uint64_t seed) {
  *s = (struct stream){.kind = kind, .rng = seed, .onset = UINT32_MAX};
  /* A fault starts between 5 and 45 minutes into the watch: the leak still has over an hour left. */
  if (kind != K_HEALTHY && kind != K_SLOWER) s->onset = 60 + (uint32_t)(unit(s) * 480);
  s->next_crash = s->onset;
}

void stream_sample(struct stream *s, int watch, uint32_t i, struct md_sample *out, uint32_t v[STREAM_METRICS]) {
  uint32_t t = watch ? STREAM_BASELINE + i : i; /* the load's phase runs on across the switch */
  int bad = watch && i >= s->onset;
  double load = 1000 + 200 * sin(6.283185307179586 * t / 360.0) + gauss(s, 0, 10);
  if (s->kind == K_SURGE && bad && i < s->onset + 180) load *= 1.8;
  uint32_t requests = binomial(s, 400, 0.5 * load / 1000.0);
  uint32_t unanswered = binomial(s, requests, 0.0002), crashes = 0, corrupt = 0;
  double p_err = 0.01, latency = gauss(s, 1000 * (1 + 0.1 * (load - 1000) / 1000), 40);
  double memory = 50000 + gauss(s, 0, 300);
  if (s->kind == K_SLOWER && watch) latency *= 1.08, memory *= 1.03;
  if (bad) {
    switch (s->kind) {
      case K_ERRORS4: p_err = 0.04; break;
      case K_ERROR6: p_err = 0.06; break;
      case K_ERROR55: p_err = 0.055; break;
      case K_LATENCY2X: latency *= 2; break;
      case K_COMPLETE: unanswered = requests; break;
      case K_CORRUPTION: corrupt = binomial(s, requests - unanswered, 0.01); break;
      case K_LEAK: memory += (i - s->onset + 1) * (150.0 * 1024 / 720); break;
      case K_CRASHLOOP:
        if (i == s->next_crash) {
          crashes = 1;
          unanswered = requests * 3 / 10; /* requests in flight while it restarts */
          s->next_crash = i + 16 + (uint32_t)(unit(s) * 5);
        }
        break;
      default: break;
    }
  }
  uint32_t answered = requests - unanswered;
  uint32_t errors = corrupt + binomial(s, answered - corrupt, p_err);
  s->health_streak = unanswered * 2 > requests ? s->health_streak + 1 : 0;
  *out = (struct md_sample){
      .now_ns = (uint64_t)(i + 1) * STREAM_STEP_NS, .requests = requests, .errors = errors,
      .unanswered = unanswered, .corrupt = corrupt, .latency_us = answered ? clamp(latency) : 0,
      .throughput = answered / 5, .load_permille = clamp(load), .crashes = crashes,
      .health_fail_streak = s->health_streak, .cpu_permille = clamp(gauss(s, 300 * load / 1000, 15)),
      .memory_kib = clamp(memory), .mig_attempted = watch && i < 120 ? 10 : 0, .mig_ok = watch && i < 120 ? 10 : 0,
  };
  v[0] = out->latency_us;
  v[1] = out->throughput;
  v[2] = requests ? (uint32_t)((uint64_t)(errors + unanswered) * 1000000 / requests) : 0;
  v[3] = out->memory_kib;
  v[4] = out->cpu_permille;
}
