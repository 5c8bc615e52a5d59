/* main.c -- runs one scenario by name (`driver band`) and exits 1 if any check failed; `driver
 * --list` prints the names, so the vitest file can tell when the two lists drift. */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "scenarios.h"

static const struct {
  const char *name;
  void (*run)(void);
} SCENARIOS[] = {
    {"welford", t_welford},
    {"band", t_band},
    {"min-band", t_min_band},
    {"detect-refusals", t_detect_refusals},
    {"trend", t_trend},
    {"cost", t_cost},
    {"row-crash-loop", t_row_crash_loop},
    {"row-error-rate", t_row_error_rate},
    {"row-critical-function", t_row_critical},
    {"row-performance", t_row_perf},
    {"row-migration", t_row_migration},
    {"row-leak", t_row_leak},
    {"rules-and-levels", t_rules},
    {"score", t_score},
    {"confirm", t_confirm},
    {"partial", t_partial},
    {"reason", t_reason},
    {"decide-refusals", t_decide_refusals},
    {"alerts", t_alerts},
    {"silence", t_silence},
    {"alert-refusals", t_alert_refusals},
    {"classify", t_classify},
    {"healthy", t_healthy},
};
#define N_SCENARIOS (sizeof SCENARIOS / sizeof SCENARIOS[0])

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "--list") == 0) {
    for (size_t i = 0; i < N_SCENARIOS; i++) puts(SCENARIOS[i].name);
    return 0;
  }
  for (size_t i = 0; argc == 2 && i < N_SCENARIOS; i++) {
    if (strcmp(argv[1], SCENARIOS[i].name) == 0) {
      SCENARIOS[i].run();
      return failures ? 1 : 0;
    }
  }
  fprintf(stderr, "usage: %s --list | <scenario>\n", argv[0]);
  return 2;
}
