/* t_cost.c -- the baseline's cost model (core/cost.c) against exact and noisy intervals. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cost.h"
#include "harness.h"
#include "scenarios.h"

/* Intervals of `n` units whose bytes per unit move between 60 and 700 (acknowledgements to full
 * segments, as netstack's do over a run), costing a ns per unit and b ns per 64-byte block. */
static void intervals(struct md_cost_point *p, uint32_t n, double a, double b, double noise, struct rng *r) {
  for (uint32_t i = 0; i < n; i++) {
    uint64_t units = 500 + (uint64_t)(rng_unit(r) * 2500), bytes = units * (60 + (uint64_t)(rng_unit(r) * 640));
    double t = a * (double)units + b * (double)(bytes / MD_COST_BLOCK);
    p[i] = (struct md_cost_point){units, bytes, (uint64_t)llround(noise > 0 ? rng_gauss(r, t, t * noise) : t)};
  }
}

void t_cost(void) {
  struct rng r = {11};
  struct md_cost_point p[MD_COST_POINTS + 1];
  struct md_cost m;
  /* Exact: 130 ns a frame and 1458 ns a block (22.8 ns a byte), netstack's figures. */
  intervals(p, 12, 130, 1458, 0, &r);
  check(md_cost_fit(&m, p, 12) == MD_OK, "twelve exact intervals fit");
  check(llabs((long long)m.per_unit_q8 - 130 * 256) <= 2 && llabs((long long)m.per_block_q8 - 1458 * 256) <= 2,
        "exact coefficients recovered in Q.8: %llu/256 ns a unit, %llu/256 ns a block", (unsigned long long)m.per_unit_q8,
        (unsigned long long)m.per_block_q8);
  uint64_t want = 130 * 1000 + 1458 * (300000 / MD_COST_BLOCK), got = md_cost_expect(&m, 1000, 300000);
  check(got + 2 >= want && got <= want + 2, "a prediction: %llu ns for %llu", (unsigned long long)got, (unsigned long long)want);
  /* With 2 % noise on each of 24 intervals: an interval of small units (150 bytes each) and one
   * of large ones (600) are predicted within 3 %. The cost per unit is small beside the noise, so
   * the fit may trade it for cost per byte: what it predicts for the mixes it saw stays right. */
  intervals(p, 24, 130, 1458, 0.02, &r);
  check(md_cost_fit(&m, p, 24) == MD_OK, "24 noisy intervals fit");
  double small = 130.0 * 2000 + 1458.0 * (2000 * 150 / MD_COST_BLOCK), large = 130.0 * 1000 + 1458.0 * (1000 * 600 / MD_COST_BLOCK);
  check(fabs((double)md_cost_expect(&m, 2000, 2000 * 150) / small - 1) < 0.03 && fabs((double)md_cost_expect(&m, 1000, 600000) / large - 1) < 0.03,
        "small and large units predicted within 3 %%: %.3f, %.3f", (double)md_cost_expect(&m, 2000, 300000) / small,
        (double)md_cost_expect(&m, 1000, 600000) / large);
  /* The mean per unit alone would call the large units' interval more than 30 % slow ("performance
   * down", §4.2) though nothing changed: what the model is for. */
  uint64_t units = 0, busy = 0;
  for (int i = 0; i < 24; i++) units += p[i].units, busy += p[i].busy_ns;
  check(large / ((double)busy / (double)units * 1000) > 1.3, "the mean per unit would call the large units' interval %.0f %% slow",
        (large / ((double)busy / (double)units * 1000) - 1) * 100);
  /* Bytes in proportion to units: nothing tells them apart, so the mean per unit. */
  for (uint32_t i = 0; i < 8; i++) p[i] = (struct md_cost_point){1000 + i * 100, (1000 + i * 100) * 320, (1000 + i * 100) * 4000};
  check(md_cost_fit(&m, p, 8) == MD_OK && m.per_block_q8 == 0 && m.per_unit_q8 == 4000 * 256, "bytes in proportion: 4000 ns a unit, none a block");
  /* A negative cost per unit is dropped and the bytes fitted alone. */
  for (uint32_t i = 0; i < 8; i++) {
    uint64_t u = 1000 + i * 300, y = (8 - i) * 64000;
    p[i] = (struct md_cost_point){u, y, y / MD_COST_BLOCK * 1000 - u * 50 + 60000};
  }
  check(md_cost_fit(&m, p, 8) == MD_OK && m.per_unit_q8 == 0 && m.per_block_q8 > 0, "a negative cost per unit: the bytes alone, %llu/256 ns a block",
        (unsigned long long)m.per_block_q8);
  /* Refusals leave the model as it was. */
  struct md_cost before = {7, 9};
  m = before;
  intervals(p, MD_COST_POINTS + 1, 130, 1458, 0, &r);
  int a = md_cost_fit(&m, p, 0), b = md_cost_fit(&m, p, MD_COST_POINTS + 1);
  p[0].units = MD_COST_UNITS_MAX + 1;
  int c = md_cost_fit(&m, p, 4);
  p[0] = (struct md_cost_point){1, 1, MD_COST_BUSY_MAX + 1};
  int d = md_cost_fit(&m, p, 4);
  for (int i = 0; i < 4; i++) p[i].units = 0, p[i].busy_ns = 5;
  int e = md_cost_fit(&m, p, 4);
  check(a == -MD_E_RANGE && b == -MD_E_RANGE && c == -MD_E_RANGE && d == -MD_E_RANGE && e == -MD_E_RANGE && !memcmp(&m, &before, sizeof m),
        "no points, too many, a unit count or a busy time past its bound, no unit at all: -MD_E_RANGE, unchanged");
  /* At the bounds: 64 intervals of 2^24 units, 2^32 bytes and 2^36 ns fit without overflow. */
  for (int i = 0; i < MD_COST_POINTS; i++) p[i] = (struct md_cost_point){MD_COST_UNITS_MAX - (uint64_t)i * 4096, MD_COST_BYTES_MAX, MD_COST_BUSY_MAX};
  check(md_cost_fit(&m, p, MD_COST_POINTS) == MD_OK && md_cost_expect(&m, MD_COST_UNITS_MAX, MD_COST_BYTES_MAX) > MD_COST_BUSY_MAX * 99 / 100,
        "at the bounds the sums stay in 128 bits");
}
