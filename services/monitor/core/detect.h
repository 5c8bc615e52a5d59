/* detect.h -- streaming anomaly detection on one metric (seed §5.2.1): a baseline learned before
 * the update (mean and variance by Welford's method), then the 3-sigma rule against it with an
 * adaptive band; and a least-squares trend for slow growth (a memory leak) that no band catches.
 *
 * Fixed point. A sample is an integer in the metric's own unit (µs, ppm, KiB, permille: md.h)
 * in [0, MD_SAMPLE_MAX]. The mean is kept in Q31.32 (an int64 counting 2^-32 units), the sum of
 * squared deviations M2 in Q.32 in 128 bits, and the standard deviation comes out in Q.16.
 * Per sample the mean is rounded to the nearest 2^-32 unit, so after n samples it is off by at
 * most n * 2^-33 units (2^-13 units at the MD_BASELINE_MAX cap); each M2 step truncates less
 * than 2^-32 unit^2. The square root is floored to 2^-16 units. docs/monitor.md derives these
 * bounds; tests/support/monitor-core checks them against double precision. */
#ifndef MD_DETECT_H
#define MD_DETECT_H

#include <stdint.h>

#include "fixed.h"
#include "md.h"

#define MD_SAMPLE_MAX 0x7fffffffu       /* below 2^31: a deviation in Q.32 fits an int64 */
#define MD_BASELINE_MAX (1u << 20)      /* keeps M2 below 2^114 */
#define MD_TREND_POINTS 64              /* points a trend keeps across its window */
#define MD_TREND_WINDOW_MAX (24ull * 3600ull * MD_NS_PER_SEC) /* keeps the least squares in 128 bits */

/* Which side of the baseline is bad. */
enum md_direction {
  MD_DIR_UP = 0,   /* latency, errors, memory, CPU */
  MD_DIR_DOWN = 1, /* throughput */
  MD_DIR_BOTH = 2,
};

/* How a detector adapts its band (seed §5.2.1, 自适应阈值). The band around the baseline mean is
 * k sigma, but never narrower than min_band units nor min_band_permille of the mean, so a flat
 * baseline (sigma near 0) does not alarm on a one-unit wobble; above the baseline load it widens
 * in proportion, up to load_widen_max_permille (a busier system is allowed more jitter: 高负载期
 * 更宽松阈值). A metric that scales_with_load (throughput, CPU) expects its mean times the load.
 * `consecutive` violations in a row make an anomaly; one sample inside the band clears it. */
struct md_detect_params {
  uint32_t k_milli;                 /* band in sigmas x 1000: 3000 */
  uint32_t min_band;                /* units */
  uint32_t min_band_permille;       /* of the baseline mean */
  uint32_t consecutive;             /* >= 1 */
  uint32_t load_widen_max_permille; /* >= 1000; 1000 turns load widening off */
  uint32_t min_samples;             /* baseline samples needed to freeze, >= 2 */
  uint8_t direction;                /* enum md_direction */
  uint8_t scales_with_load;         /* 0 or 1 */
};

enum md_verdict {
  MD_NORMAL = 0,    /* inside the band */
  MD_VIOLATION = 1, /* outside, fewer than `consecutive` in a row */
  MD_ANOMALY = 2,   /* outside, `consecutive` or more in a row */
};

struct md_detect_result {
  uint8_t verdict;         /* enum md_verdict */
  uint8_t onset;           /* 1 on the sample that turned the run into an anomaly */
  uint32_t streak;         /* violations in a row, this one included */
  int64_t deviation_milli; /* (sample - expected) / sigma x 1000, saturated at +-10^9 */
  uint64_t expected_q16;   /* the baseline mean, scaled by load when the metric scales with it */
  uint64_t band_q16;       /* the band in force for this sample */
};

struct md_detector {
  struct md_detect_params p;
  uint32_t n;        /* baseline samples */
  uint8_t frozen;
  int64_t mean_q32;
  md_u128 m2_q32;
  uint64_t sigma_q16; /* set by md_detect_freeze */
  uint32_t streak;
  uint64_t observed, anomalies; /* samples seen after the freeze, anomaly onsets among them */
};

/* -MD_E_POLICY when a parameter is outside the ranges above; the detector is untouched then. */
int md_detect_init(struct md_detector *d, const struct md_detect_params *p);
/* One baseline sample. -MD_E_RANGE (sample above MD_SAMPLE_MAX), -MD_E_STATE (frozen),
 * -MD_E_FULL (MD_BASELINE_MAX reached). */
int md_detect_learn(struct md_detector *d, uint32_t x);
/* Ends learning: the band is fixed from here on. -MD_E_BASELINE below min_samples. */
int md_detect_freeze(struct md_detector *d);
/* One sample under watch. load_permille is the offered load against the baseline's (1000: the
 * same). -MD_E_STATE before the freeze, -MD_E_RANGE for a sample out of range. */
int md_detect_observe(struct md_detector *d, uint32_t x, uint32_t load_permille,
                      struct md_detect_result *out);
/* The baseline so far (learning or frozen), in Q.16. */
uint64_t md_detect_mean_q16(const struct md_detector *d);
uint64_t md_detect_sigma_q16(const struct md_detector *d);

/* A least-squares slope over the last `window` of (time, value) points, for leak detection
 * (seed §4.2: 资源泄漏 > 100 MB/hour over an hour). To span the whole window with a fixed number
 * of points it keeps one point per window / (MD_TREND_POINTS - 1). */
struct md_trend {
  uint64_t window_ns, spacing_ns;
  uint32_t n, head;
  uint64_t t_ns[MD_TREND_POINTS];
  uint32_t x[MD_TREND_POINTS];
};

int md_trend_init(struct md_trend *t, uint64_t window_ns);
/* -MD_E_TIME when now_ns is before the newest point, -MD_E_RANGE for a value out of range. */
int md_trend_add(struct md_trend *t, uint64_t now_ns, uint32_t x);
/* Units per hour (negative: shrinking); 0 with fewer than 3 points. *span_ns: the time between
 * the oldest and the newest point kept. */
int64_t md_trend_slope_per_hour(const struct md_trend *t, uint64_t *span_ns);

#endif
