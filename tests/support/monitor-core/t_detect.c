/* t_detect.c -- the detector: the fixed-point baseline against exact arithmetic within the bounds
 * detect.h states, the 3-sigma band at its edge, the minimum band, consecutive violations, load,
 * direction, the leak trend, and every refusal leaving the detector as it was. */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "detect.h"
#include "harness.h"
#include "policy.h"
#include "scenarios.h"

static struct md_detect_params params(void) {
  struct md_policy p;
  md_policy_default(&p);
  return p.detect[0]; /* latency: up is bad, does not scale with load */
}

/* n samples from `gen`; the mean's error in units of 2^-32 and sigma's against the exact values. */
static void welford_case(const char *what, uint32_t n, struct rng *r, double mean, double sd) {
  struct md_detector d;
  struct md_detect_params p = params();
  md_detect_init(&d, &p);
  __int128 sum = 0, sumsq = 0;
  for (uint32_t i = 0; i < n; i++) {
    double g = rng_gauss(r, mean, sd);
    uint32_t x = g < 0 ? 0 : g > MD_SAMPLE_MAX ? MD_SAMPLE_MAX : (uint32_t)g;
    md_detect_learn(&d, x);
    sum += x, sumsq += (__int128)x * x;
  }
  /* The exact mean in Q.32 is sum * 2^32 / n; detect.h promises |error| <= n/2 of its ulps. */
  __int128 exact_q32 = (sum << 32) / n;
  __int128 err = d.mean_q32 - exact_q32;
  if (err < 0) err = -err;
  check(err <= n / 2 + 1, "%s: mean off by %lld ulp of 2^-32 after %u samples (bound %u)", what,
        (long long)err, n, n / 2 + 1);
  /* The exact sample variance (n Σx² - (Σx)²) / (n (n - 1)), its root in double. */
  double var = (double)(n * sumsq - sum * sum) / ((double)n * (n - 1));
  double sigma = sqrt(var), got = (double)md_detect_sigma_q16(&d) / 65536.0;
  double bound = 2.0 / 65536.0 + sigma * 1e-9;
  check(fabs(got - sigma) <= bound, "%s: sigma %.6f against exact %.6f (|diff| %.2g <= %.2g)", what,
        got, sigma, fabs(got - sigma), bound);
}

void t_welford(void) {
  struct rng r = {1};
  welford_case("latency-like (mean 1000, sd 50)", 720, &r, 1000, 50);
  welford_case("flat (sd 0.4)", 720, &r, 5, 0.4);
  welford_case("near the top of the range (mean 2^31 - 2^27, sd 2^26)", 100000, &r, 2013265920.0, 67108864.0);
  welford_case("wide (mean 2^30, sd 2^29)", 4096, &r, 1073741824.0, 536870912.0);
  /* A constant baseline has sigma exactly 0. */
  struct md_detector d;
  struct md_detect_params p = params();
  md_detect_init(&d, &p);
  for (int i = 0; i < 50; i++) md_detect_learn(&d, 777);
  check(md_detect_sigma_q16(&d) == 0 && md_detect_mean_q16(&d) == 777u << 16,
        "a constant baseline: mean 777 exactly, sigma 0");
}

/* A frozen detector on a baseline alternating m - s, m + s: mean m, sigma s * sqrt(n / (n-1)). */
static void frozen(struct md_detector *d, struct md_detect_params *p, uint32_t m, uint32_t s) {
  md_detect_init(d, p);
  for (int i = 0; i < 1000; i++) md_detect_learn(d, i % 2 ? m + s : m - s);
  md_detect_freeze(d);
}

static uint8_t verdict(struct md_detector *d, uint32_t x, uint32_t load) {
  struct md_detect_result r;
  return md_detect_observe(d, x, load, &r) == MD_OK ? r.verdict : 0xff;
}

void t_band(void) {
  struct md_detect_params p = params();
  struct md_detector d;
  frozen(&d, &p, 1000, 100); /* sigma 100.05: 3 sigma = 300.15 */
  uint64_t band = (uint64_t)md_detect_sigma_q16(&d) * 3;
  check(band > (300u << 16) && band < (301u << 16), "3 sigma of the +-100 baseline is 300.15");
  check(verdict(&d, 1300, 1000) == MD_NORMAL, "1300: inside mean + 3 sigma, normal");
  check(verdict(&d, 1301, 1000) == MD_VIOLATION, "1301: outside, a first violation");
  check(verdict(&d, 1301, 1000) == MD_VIOLATION, "a second in a row: still a violation");
  struct md_detect_result r;
  md_detect_observe(&d, 1400, 1000, &r);
  check(r.verdict == MD_ANOMALY && r.onset && r.streak == 3, "the third in a row: an anomaly, its onset");
  check(r.deviation_milli > 3990 && r.deviation_milli < 4000, "1400 is 3.998 sigma above (%lld milli)", (long long)r.deviation_milli);
  md_detect_observe(&d, 1500, 1000, &r);
  check(r.verdict == MD_ANOMALY && !r.onset && r.streak == 4, "the fourth: still anomalous, no new onset");
  check(verdict(&d, 1000, 1000) == MD_NORMAL && d.streak == 0, "one sample inside clears the run");
  check(verdict(&d, 600, 1000) == MD_NORMAL, "far below: normal (latency is bad only upwards)");
  check(d.anomalies == 1 && d.observed == 7, "one anomaly counted over seven samples");

  /* Load: at 1.5 times the baseline load the band is 1.5 times wider, capped at 2 times. */
  check(verdict(&d, 1440, 1500) == MD_NORMAL && verdict(&d, 1451, 1500) == MD_VIOLATION,
        "load 1500 permille: the band widens to 450.2");
  check(verdict(&d, 1600, 3000) == MD_NORMAL && verdict(&d, 1601, 3000) == MD_VIOLATION,
        "load 3000 permille: widened at most twice (600.3)");

  /* Throughput: bad downwards, expected to follow the load. */
  p.direction = MD_DIR_DOWN, p.scales_with_load = 1;
  frozen(&d, &p, 1000, 100);
  check(verdict(&d, 699, 1000) == MD_VIOLATION && verdict(&d, 5000, 1000) == MD_NORMAL,
        "throughput: 699 is a violation, 5000 is not");
  check(verdict(&d, 350, 500) == MD_NORMAL && verdict(&d, 199, 500) == MD_VIOLATION,
        "throughput at half the load expects 500: 350 is fine, 199 is not");
  p.direction = MD_DIR_BOTH, p.scales_with_load = 0;
  frozen(&d, &p, 1000, 100);
  check(verdict(&d, 699, 1000) == MD_VIOLATION && verdict(&d, 1301, 1000) == MD_VIOLATION,
        "both directions: 699 and 1301 violate");
}

void t_min_band(void) {
  struct md_detect_params p = params();
  struct md_detector d;
  md_detect_init(&d, &p);
  for (int i = 0; i < 30; i++) md_detect_learn(&d, 100);
  md_detect_freeze(&d);
  /* sigma 0: the band is the larger of 1 unit and 5 % of the mean, 5. */
  check(verdict(&d, 105, 1000) == MD_NORMAL && verdict(&d, 106, 1000) == MD_VIOLATION,
        "flat baseline 100: 105 normal, 106 a violation (band 5 %% of the mean)");
  p.min_band_permille = 0;
  md_detect_init(&d, &p);
  for (int i = 0; i < 30; i++) md_detect_learn(&d, 100);
  md_detect_freeze(&d);
  check(verdict(&d, 101, 1000) == MD_NORMAL && verdict(&d, 102, 1000) == MD_VIOLATION,
        "without the relative floor: the 1-unit floor still holds");
  struct md_detect_result r;
  md_detect_observe(&d, 150, 1000, &r);
  check(r.deviation_milli == 1000000000LL, "sigma 0: the deviation saturates");
  /* The error-rate detector of the default policy: a band of at least 1 % (10000 ppm). */
  struct md_policy pol;
  md_policy_default(&pol);
  md_detect_init(&d, &pol.detect[md_metric_index(MD_M_ERRORS)]);
  for (int i = 0; i < 30; i++) md_detect_learn(&d, 0);
  md_detect_freeze(&d);
  check(verdict(&d, 10000, 1000) == MD_NORMAL && verdict(&d, 10001, 1000) == MD_VIOLATION,
        "no errors in the baseline: 1 %% is normal, above it a violation");
}

void t_detect_refusals(void) {
  struct md_detect_params p = params();
  struct md_detector d, before;
  md_detect_init(&d, &p);
  for (int i = 0; i < 5; i++) md_detect_learn(&d, 10 + i);
  memcpy(&before, &d, sizeof d);
  check(md_detect_learn(&d, MD_SAMPLE_MAX + 1u) == -MD_E_RANGE && !memcmp(&d, &before, sizeof d),
        "learn 2^31: -MD_E_RANGE, unchanged");
  check(md_detect_freeze(&d) == -MD_E_BASELINE && !memcmp(&d, &before, sizeof d),
        "freeze with 5 of 20 samples: -MD_E_BASELINE, unchanged");
  struct md_detect_result r;
  check(md_detect_observe(&d, 10, 1000, &r) == -MD_E_STATE && !memcmp(&d, &before, sizeof d),
        "observe before the freeze: -MD_E_STATE, unchanged");
  for (int i = 0; i < 15; i++) md_detect_learn(&d, 10);
  check(md_detect_freeze(&d) == MD_OK, "freeze with 20 samples");
  memcpy(&before, &d, sizeof d);
  check(md_detect_learn(&d, 10) == -MD_E_STATE && md_detect_freeze(&d) == -MD_E_STATE &&
            !memcmp(&d, &before, sizeof d), "learn or freeze again after the freeze: -MD_E_STATE, unchanged");
  check(md_detect_observe(&d, MD_SAMPLE_MAX + 1u, 1000, &r) == -MD_E_RANGE &&
            md_detect_observe(&d, 10, 1000001, &r) == -MD_E_RANGE && !memcmp(&d, &before, sizeof d),
        "observe 2^31 or a load above 1000x: -MD_E_RANGE, unchanged");
  static const struct {
    const char *what;
    size_t offset;
    uint32_t value;
  } BAD[] = {
      {"k 0", offsetof(struct md_detect_params, k_milli), 0},
      {"no consecutive count", offsetof(struct md_detect_params, consecutive), 0},
      {"one baseline sample", offsetof(struct md_detect_params, min_samples), 1},
      {"a load cap below 1x", offsetof(struct md_detect_params, load_widen_max_permille), 999},
  };
  for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
    struct md_detect_params q = params();
    memcpy((char *)&q + BAD[i].offset, &BAD[i].value, sizeof(uint32_t));
    check(md_detect_init(&d, &q) == -MD_E_POLICY && !memcmp(&d, &before, sizeof d),
          "init with %s: -MD_E_POLICY, unchanged", BAD[i].what);
  }
  struct md_detect_params q = params();
  q.direction = 3;
  check(md_detect_init(&d, &q) == -MD_E_POLICY, "init with direction 3: -MD_E_POLICY");
}

void t_trend(void) {
  struct md_trend t;
  check(md_trend_init(&t, MIN(60)) == MD_OK && t.spacing_ns == MIN(60) / 63, "a one-hour trend keeps a point every 57 s");
  /* 120 MB an hour (122880 KiB), one sample every 5 s, with a sawtooth of +-300 KiB. */
  uint64_t span;
  for (uint32_t i = 0; i <= 720; i++)
    md_trend_add(&t, SEC(5) * i, 50000 + i * 122880 / 720 + (i % 7) * 100 - 300);
  int64_t slope = md_trend_slope_per_hour(&t, &span);
  check(t.n == 61 || t.n == 62 || t.n == 63 || t.n == 64, "points kept across the hour: %u", t.n);
  check(slope > 122880 * 98 / 100 && slope < 122880 * 102 / 100, "120 MB/hour measured as %lld KiB/hour", (long long)slope);
  check(span >= MIN(59) && span <= MIN(60), "the points span the hour");
  /* Flat with noise: near zero. */
  struct rng r = {7};
  md_trend_init(&t, MIN(60));
  for (uint32_t i = 0; i <= 720; i++) md_trend_add(&t, SEC(5) * i, (uint32_t)rng_gauss(&r, 50000, 500));
  slope = md_trend_slope_per_hour(&t, &span);
  check(slope > -2000 && slope < 2000, "flat memory with noise: %lld KiB/hour", (long long)slope);
  /* An exact line: 60 KiB a minute is 3600 KiB an hour. */
  md_trend_init(&t, MIN(10));
  for (uint32_t i = 0; i <= 120; i++) md_trend_add(&t, SEC(5) * i, 1000 + i * 5);
  check_i64("an exact line of 60 KiB/min, KiB/hour", md_trend_slope_per_hour(&t, &span), 3600);
  /* Shrinking is negative; older points leave the window. */
  md_trend_init(&t, MIN(10));
  for (uint32_t i = 0; i <= 240; i++) md_trend_add(&t, SEC(5) * i, i < 120 ? 1000 + i * 5 : 1600 - (i - 120) * 5);
  check_i64("the last ten minutes shrinking, KiB/hour", md_trend_slope_per_hour(&t, &span), -3600);
  struct md_trend before;
  memcpy(&before, &t, sizeof t);
  check(md_trend_add(&t, SEC(5) * 100, 5) == -MD_E_TIME && md_trend_add(&t, SEC(5) * 300, MD_SAMPLE_MAX + 1u) == -MD_E_RANGE &&
            !memcmp(&t, &before, sizeof t), "a point in the past or out of range: refused, unchanged");
  check(md_trend_init(&t, 10) == -MD_E_POLICY && md_trend_init(&t, MD_TREND_WINDOW_MAX + 1) == -MD_E_POLICY,
        "a window of 10 ns or over a day: -MD_E_POLICY");
  md_trend_init(&t, MIN(10));
  md_trend_add(&t, 0, 5), md_trend_add(&t, MIN(1), 6);
  check(md_trend_slope_per_hour(&t, &span) == 0 && span == MIN(1), "two points: no slope yet");
}
