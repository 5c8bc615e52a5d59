// What the warm-up tests check alike of a new instance discarded before it served (seed 步骤2.4):
// it alone was created and destroyed, it never became the driver's default, its version is marked
// bad, no rollback ran, every connection kept every byte, and the report says the warm-up failed.

import { expect } from 'vitest';
import type { UpdateAccount } from '../../system/update/outcome.ts';
import { reportOf } from '../../system/update/report.ts';
import { validateReport } from '../../system/report/validate.ts';
import type { UpdateReport } from '../../system/report/schema.ts';
import type { TrafficSummary } from '../../traffic/summary.ts';
import type { Booted } from './boot.ts';
import { recordsOf } from './kernel.ts';

/** netstack `version`'s instance, discarded at the warm-up of `image`'s first update. */
export function expectDiscarded(run: Booted, account: UpdateAccount, summary: TrafficSummary, version: string): void {
  const sandbox = `netstack-${version.replaceAll('.', '-')}`;
  expect(run.kernel.events.of('sandboxCreated').filter((e) => e.sandbox.startsWith('netstack-')).map((e) => e.sandbox)).toEqual([sandbox]);
  expect(run.kernel.events.of('sandboxDestroyed').filter((e) => e.reason === 'destroyed').map((e) => e.sandbox)).toEqual([sandbox]);
  expect(recordsOf(run.kernel, 'driver', 'default_changed')).toEqual([]); // it never became the default
  expect(run.kernel.events.of('moduleMarked')).toMatchObject([{ module: 'netstack', version, bad: true }]);
  expect(account.rollback).toBeUndefined(); // a discard, not a rollback: nothing had switched
  expect(summary).toMatchObject({ closed: 1000, failed: 0, lost: 0, corrupted: 0, duplicated: 0, reordered: 0 });
}

/** The update's report: valid, failed, at the warm-up. */
export function expectWarmupFailedReport(account: UpdateAccount, image: string): UpdateReport {
  const report = reportOf(account, image);
  validateReport(report);
  expect(report.outcome).toBe('failed');
  expect(report.phases.find((p) => p.name === 'warmup')).toMatchObject({ phase: 2, outcome: 'failed' });
  return report;
}
