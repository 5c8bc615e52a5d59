/* scenarios.h -- the driver's scenarios, one per test case of tests/monitor-core.test.ts. */
#ifndef MDTEST_SCENARIOS_H
#define MDTEST_SCENARIOS_H

void t_welford(void);
void t_band(void);
void t_min_band(void);
void t_detect_refusals(void);
void t_trend(void);
void t_cost(void);
void t_row_crash_loop(void);
void t_row_error_rate(void);
void t_row_critical(void);
void t_row_perf(void);
void t_row_migration(void);
void t_row_leak(void);
void t_rules(void);
void t_score(void);
void t_confirm(void);
void t_partial(void);
void t_reason(void);
void t_decide_refusals(void);
void t_alerts(void);
void t_silence(void);
void t_alert_refusals(void);
void t_classify(void);
void t_healthy(void);

#endif
