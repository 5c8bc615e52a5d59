/* detect.c -- the baseline (Welford in fixed point), the 3-sigma band and its adaptation, and the
 * leak trend. The formats and their error bounds are in detect.h. */
#include "detect.h"

#define DEVIATION_CAP 1000000000LL

int md_detect_init(struct md_detector *d, const struct md_detect_params *p) {
  if (p->k_milli == 0 || p->k_milli > 100000 || p->consecutive == 0 || p->min_samples < 2 ||
      p->min_samples > MD_BASELINE_MAX || p->min_band > MD_SAMPLE_MAX ||
      p->min_band_permille > 10000 || p->load_widen_max_permille < 1000 ||
      p->load_widen_max_permille > 100000 || p->direction > MD_DIR_BOTH || p->scales_with_load > 1)
    return -MD_E_POLICY;
  *d = (struct md_detector){.p = *p};
  return MD_OK;
}

/* Rounded to nearest, halves away from zero: a truncating division would bias the mean down. */
static int64_t div_round(int64_t a, int64_t b) {
  return a >= 0 ? (a + b / 2) / b : -((-a + b / 2) / b);
}

int md_detect_learn(struct md_detector *d, uint32_t x) {
  if (x > MD_SAMPLE_MAX) return -MD_E_RANGE;
  if (d->frozen) return -MD_E_STATE;
  if (d->n >= MD_BASELINE_MAX) return -MD_E_FULL;
  int64_t xq = (int64_t)x << 32;
  d->n++;
  int64_t delta = xq - d->mean_q32; /* |delta| < 2^63: both lie in [0, 2^63) */
  d->mean_q32 += div_round(delta, d->n);
  int64_t delta2 = xq - d->mean_q32;
  /* delta and delta2 share a sign (the new mean lies between the old one and x) except when
   * rounding moved the mean past x; that product is below one unit of the last place. */
  if ((delta >= 0) == (delta2 >= 0)) {
    uint64_t a = (uint64_t)(delta >= 0 ? delta : -delta), b = (uint64_t)(delta2 >= 0 ? delta2 : -delta2);
    d->m2_q32 += ((md_u128)a * b) >> 32;
  }
  return MD_OK;
}

int md_detect_freeze(struct md_detector *d) {
  if (d->frozen) return -MD_E_STATE;
  if (d->n < d->p.min_samples) return -MD_E_BASELINE;
  d->sigma_q16 = md_detect_sigma_q16(d);
  d->frozen = 1;
  return MD_OK;
}

uint64_t md_detect_mean_q16(const struct md_detector *d) {
  return (uint64_t)((d->mean_q32 + (1 << 15)) >> 16);
}

uint64_t md_detect_sigma_q16(const struct md_detector *d) {
  if (d->frozen) return d->sigma_q16;
  if (d->n < 2) return 0;
  /* Sample variance M2 / (n - 1) in Q.32; its square root is in Q.16. */
  return md_isqrt_u128(md_div_u128(d->m2_q32, d->n - 1));
}

static uint64_t band_q16(const struct md_detector *d, uint64_t mean_q16, uint32_t load) {
  uint64_t band = md_mul_div(d->sigma_q16, d->p.k_milli, 1000);
  band = md_max_u64(band, (uint64_t)d->p.min_band << 16);
  band = md_max_u64(band, md_mul_div(mean_q16, d->p.min_band_permille, 1000));
  uint64_t widen = md_min_u64(md_max_u64(load, 1000), d->p.load_widen_max_permille);
  return md_mul_div(band, widen, 1000);
}

int md_detect_observe(struct md_detector *d, uint32_t x, uint32_t load_permille,
                      struct md_detect_result *out) {
  if (!d->frozen) return -MD_E_STATE;
  if (x > MD_SAMPLE_MAX || load_permille > 1000000) return -MD_E_RANGE;
  uint64_t mean = md_detect_mean_q16(d);
  uint64_t expected = d->p.scales_with_load ? md_mul_div(mean, load_permille, 1000) : mean;
  uint64_t band = band_q16(d, mean, load_permille);
  uint64_t xq = (uint64_t)x << 16;
  int high = xq > expected && xq - expected > band;
  int low = xq < expected && expected - xq > band;
  int violates = d->p.direction == MD_DIR_UP ? high : d->p.direction == MD_DIR_DOWN ? low : high || low;

  d->observed++;
  d->streak = violates ? d->streak + 1 : 0;
  int anomaly = d->streak >= d->p.consecutive;
  int onset = d->streak == d->p.consecutive;
  if (onset) d->anomalies++;

  /* Both below 2^47 in Q.16, so the difference times 1000 fits 64 bits. */
  int64_t diff = (int64_t)xq - (int64_t)expected, dev;
  if (d->sigma_q16 == 0) dev = diff == 0 ? 0 : diff > 0 ? DEVIATION_CAP : -DEVIATION_CAP;
  else dev = diff * 1000 / (int64_t)d->sigma_q16;
  if (dev > DEVIATION_CAP) dev = DEVIATION_CAP;
  if (dev < -DEVIATION_CAP) dev = -DEVIATION_CAP;
  *out = (struct md_detect_result){
      .verdict = anomaly ? MD_ANOMALY : violates ? MD_VIOLATION : MD_NORMAL,
      .onset = (uint8_t)onset,
      .streak = d->streak,
      .deviation_milli = dev,
      .expected_q16 = expected,
      .band_q16 = band,
  };
  return MD_OK;
}

int md_trend_init(struct md_trend *t, uint64_t window_ns) {
  if (window_ns < MD_TREND_POINTS || window_ns > MD_TREND_WINDOW_MAX) return -MD_E_POLICY;
  *t = (struct md_trend){.window_ns = window_ns, .spacing_ns = window_ns / (MD_TREND_POINTS - 1)};
  return MD_OK;
}

static uint32_t slot(const struct md_trend *t, uint32_t i) { /* i-th oldest point */
  return (t->head + MD_TREND_POINTS - t->n + i) % MD_TREND_POINTS;
}

int md_trend_add(struct md_trend *t, uint64_t now_ns, uint32_t x) {
  if (x > MD_SAMPLE_MAX) return -MD_E_RANGE;
  if (t->n > 0) {
    uint64_t newest = t->t_ns[slot(t, t->n - 1)];
    if (now_ns < newest) return -MD_E_TIME;
    if (now_ns - newest < t->spacing_ns) return MD_OK; /* between two kept points: skipped */
  }
  while (t->n > 0 && now_ns - t->t_ns[slot(t, 0)] > t->window_ns) t->n--; /* out of the window */
  t->t_ns[t->head] = now_ns;
  t->x[t->head] = x;
  t->head = (t->head + 1) % MD_TREND_POINTS;
  if (t->n < MD_TREND_POINTS) t->n++;
  return MD_OK;
}

int64_t md_trend_slope_per_hour(const struct md_trend *t, uint64_t *span_ns) {
  *span_ns = t->n > 1 ? t->t_ns[slot(t, t->n - 1)] - t->t_ns[slot(t, 0)] : 0;
  if (t->n < 3) return 0;
  /* slope = (n Σtx - Σt Σx) / (n Σt² - (Σt)²), t in ms from the oldest point (< 2^27 ms in a
   * 24-hour window), x < 2^31: every sum fits the 128-bit integers used. */
  uint64_t t0 = t->t_ns[slot(t, 0)];
  __int128 st = 0, sx = 0, stx = 0, stt = 0, n = t->n;
  for (uint32_t i = 0; i < t->n; i++) {
    __int128 ti = (__int128)((t->t_ns[slot(t, i)] - t0) / 1000000), xi = t->x[slot(t, i)];
    st += ti, sx += xi, stx += ti * xi, stt += ti * ti;
  }
  __int128 num = n * stx - st * sx, den = n * stt - st * st;
  if (den <= 0) return 0; /* every point at the same millisecond */
  md_u128 mag = md_div_u128((md_u128)(num < 0 ? -num : num) * 3600000u, (md_u128)den);
  int64_t v = mag > (md_u128)INT64_MAX ? INT64_MAX : (int64_t)mag;
  return num < 0 ? -v : v;
}
