// What the rollback tests check alike of a whole run's rollback and of the traffic around it.

import { expect } from 'vitest';
import type { UpdateAccount } from '../../system/update/outcome.ts';
import { reportOf } from '../../system/update/report.ts';
import { validateReport } from '../../system/report/validate.ts';
import type { TrafficSummary } from '../../traffic/summary.ts';
import type { Booted } from './boot.ts';

/** A reverse rollback on `rule` that moved the new instance's connections back: none failed or
 * was given up, the switch back came within the seed's 100 ms of the verdict (步骤5.3), the new
 * instance's sandbox (`sandbox`) alone was destroyed, its version marked bad, and the Monitor found
 * what serves restored (步骤5.4). */
export function expectReverseRollback(run: Booted, account: UpdateAccount, rule: string, sandbox: string): void {
  const r = account.rollback!;
  expect(r).toMatchObject({ kind: 'reverse', rule, failed: 0, abandoned: 0, ok: true, marked_bad: true });
  expect(Number(r.moved_back)).toBeGreaterThan(100);
  expect(Number(r.switched_back) - Number(r.verdict)).toBeLessThan(100_000_000);
  expect(run.kernel.events.of('sandboxDestroyed').filter((e) => e.reason === 'destroyed').map((e) => e.sandbox)).toEqual([sandbox]);
  expect(account.monitor.validation).toMatchObject({ restored: true });
}

/** No byte lost, changed, duplicated or reordered, and no hole in any server's sequence space. */
export function expectEveryByte(summary: TrafficSummary): void {
  expect({ lost: summary.lost, corrupted: summary.corrupted, duplicated: summary.duplicated, reordered: summary.reordered, seqGaps: summary.seqGaps }).toEqual({
    lost: 0, corrupted: 0, duplicated: 0, reordered: 0, seqGaps: 0,
  });
}

/** The update report of a reverse rollback on `rule` of a version built with one fault switch:
 * valid, rolled back, the decision named, and the switch (`define`, set to `value`) in the root
 * cause's diff against the old version. */
export function expectFaultSwitchReport(account: UpdateAccount, image: string, rule: string, define: string, value: string): void {
  const report = reportOf(account, image);
  validateReport(report);
  expect(report.outcome).toBe('rolled-back');
  expect(report.decision).toMatchObject({ rule, level: 1, action: 'reverse_rollback' });
  expect(report.rootCause!.configDiff).toEqual(expect.arrayContaining([{ key: `build: define ${define}`, to: `define ${define}=${value}` }]));
}
