/* float_stats: a service built with SSE (module.json "sse": true), computing in double precision
 * what a monitor computes over latency samples -- mean, variance, standard deviation, an
 * exponentially weighted average, a least-squares trend -- and printing each value both rounded
 * and as its exact IEEE-754 bits. The same file built natively must print the same lines
 * (tests/float-guest.test.ts): SSE2 arithmetic is exactly specified, so any difference is a fault
 * in the emulated FPU state, not rounding. Printing goes through integers: the guest printf has
 * no %f. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

enum { N = 4096 };
static double samples[N];

static uint64_t bits(double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  return u;
}

/* Rounded to micro-units, half away from zero, as an integer. */
static long long micro(double d) {
  return (long long)(d < 0 ? d * 1e6 - 0.5 : d * 1e6 + 0.5);
}

static void show(const char *name, double d) {
  printf("%-9s %14lld e-6  bits %016llx\n", name, micro(d), (unsigned long long)bits(d));
}

int hic_main(void) {
  /* Deterministic "latencies": a slow sine-like wave from a recurrence, noise from an LCG. */
  uint32_t lcg = 2463534242u;
  double wave = 0, dwave = 1;
  for (int i = 0; i < N; i++) {
    lcg = lcg * 1664525u + 1013904223u;
    dwave -= wave * 0.0015;
    wave += dwave * 0.0015;
    samples[i] = 200.0 + 35.0 * wave + (double)(lcg >> 8) / (double)(1u << 24) * 10.0 + i * 0.01;
  }
  double sum = 0, min = samples[0], max = samples[0];
  for (int i = 0; i < N; i++) {
    sum += samples[i];
    if (samples[i] < min) min = samples[i];
    if (samples[i] > max) max = samples[i];
  }
  double mean = sum / N, var = 0, ewma = samples[0];
  for (int i = 0; i < N; i++) {
    double d = samples[i] - mean;
    var += d * d;
    ewma = 0.9 * ewma + 0.1 * samples[i];
  }
  var /= N - 1;
  double sx = 0, sxy = 0, sxx = 0;
  for (int i = 0; i < N; i++) sx += i, sxy += i * samples[i], sxx += (double)i * i;
  double slope = (N * sxy - sx * sum) / (N * sxx - sx * sx);
  show("min", min);
  show("max", max);
  show("mean", mean);
  show("variance", var);
  show("stddev", __builtin_sqrt(var));
  show("ewma", ewma);
  show("slope", slope);
  show("float", (float)mean / 3.0f);
  int outliers = 0;
  for (int i = 0; i < N; i++) outliers += samples[i] > mean + 2 * __builtin_sqrt(var);
  printf("samples %d, above mean+2sd: %d\n", N, outliers);
  return 0;
}
