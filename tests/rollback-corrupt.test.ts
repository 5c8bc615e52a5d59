// A successor that corrupts payloads, rolled back in an emergency (images/regression-corrupt.himg):
// netstack 1.3.4 echoes every chunk with one byte changed from 100 ms after it starts, in the
// middle of the migration, while sequence numbers and checksums stay right. The Monitor's
// loopback probe (services/netstack/app/probe.c) gets its echoed bytes back changed on the first
// interval after the fault: the seed's rule 4 (data corruption risk, §4.3 步骤5.1) forces an
// emergency rollback without the operator (步骤5.2.3). The changes that reached clients before the
// rollback are counted, and lie only on the connections given up or before the rollback ended.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UpdateAccount } from '../system/update/outcome.ts';
import { reportOf } from '../system/update/report.ts';
import { validateReport } from '../system/report/validate.ts';
import type { TrafficSummary } from '../traffic/summary.ts';
import { bootUpdate, type Booted } from './support/boot.ts';

const INTERVAL = 20_000_000; // the image's Monitor interval
const FAULT_AFTER = 100_000_000; // NS_FAULT_CORRUPT_AFTER in services/netstack_corrupt/module.json

let run: Booted, summary: TrafficSummary, account: UpdateAccount;
beforeAll(async () => void ({ run, summary, account } = await bootUpdate('regression-corrupt')), 600_000);
afterAll(() => run?.machine.dispose());

describe('a new version that corrupts payloads, caught by the loopback probe and rolled back in an emergency', () => {
  it('ends rolled back on the Monitor\'s "corruption" rule, forced past the operator, as the image expects', () => {
    expect(run.deviations).toEqual([]);
    expect(run.system.updates.outcomes()).toEqual(['rolled_back:corruption']);
    expect(account.monitor.verdict).toMatchObject({ action: 'emergency_rollback', rule: 'corruption', level: 1, score: 1000 });
    const decision = account.monitor.decisions.find((d) => d.rule === 'corruption')!;
    expect(decision).toMatchObject({ execute: true, confirm: 'skipped' }); // a forced rule asks no one (§4.3 步骤5.1.3)
    expect(account.monitor.cause).toMatchObject({ cause: 'code' });
  });

  it('sees the fault on the first probe after it begins, and not before', () => {
    expect(Number(account.monitor.baseline!.functions)).toBe(3); // 1.2.0 passes both functions
    const started = run.kernel.events.of('sandboxCreated').find((e) => e.sandbox === 'netstack-1-3-4')!;
    const onset = started.t + FAULT_AFTER;
    const samples = account.monitor.samples;
    const before = samples.filter((s) => s.tNs < onset);
    expect(before.length).toBeGreaterThan(0);
    expect(before.filter((s) => Number(s.corrupt) !== 0 || Number(s.functions_failed) !== 0)).toEqual([]);
    const first = samples.find((s) => Number(s.corrupt) > 0)!;
    expect(first.tNs).toBeGreaterThanOrEqual(onset);
    expect(first.tNs - onset).toBeLessThanOrEqual(INTERVAL + 1_000_000); // one interval, and the probe's own time
    expect(Number(first.corrupt)).toBe(1); // one byte changed in the probe's 64
    expect(Number(first.functions_failed)).toBe(0); // every function still works: only the bytes are wrong
  });

  it('switches back first, moves nothing back, gives up the new instance\'s connections and marks 1.3.4 bad', () => {
    const r = account.rollback!;
    expect(r).toMatchObject({ kind: 'emergency', asked: 'emergency_rollback', rule: 'corruption', moved_back: 0, failed: 0, ok: true, marked_bad: true });
    expect(r.counted).toBe('instance'); // it still answers: it says exactly what it holds
    expect(Number(r.switched_back) - Number(r.verdict)).toBeLessThan(100_000_000); // seed §4.3 步骤5.3: < 100 ms
    expect(Number(r.abandoned)).toBeGreaterThan(100);
    expect(run.kernel.events.of('sandboxDestroyed').filter((e) => e.reason === 'destroyed').map((e) => e.sandbox)).toEqual(['netstack-1-3-4']);
  });

  it('counts the changed bytes that reached clients: only on connections given up, or before the rollback ended', () => {
    const r = account.rollback!;
    expect(summary.failed).toBe(Number(r.abandoned));
    expect(summary.closed + summary.failed).toBe(1000);
    expect(summary.corrupted).toBeGreaterThan(0); // the fault reached real clients: the generator sees it
    expect(summary.corruptedClosed.lastAt).toBeLessThanOrEqual(Number(r.end));
    // Every byte lost on a connection that closed is a changed byte's hole, and nothing else.
    expect(summary.lost - summary.lostOnFailed).toBe(summary.corruptedClosed.lost);
    expect({ duplicated: summary.duplicated, reordered: summary.reordered, seqGaps: summary.seqGaps, httpErrors: summary.httpErrors }).toEqual({
      duplicated: 0, reordered: 0, seqGaps: 0, httpErrors: 0,
    });
  });

  it('reports the rollback with the rule, the root cause and the build switch that differs', () => {
    const report = reportOf(account, 'regression-corrupt');
    validateReport(report);
    expect(report.outcome).toBe('rolled-back');
    expect(report.decision).toMatchObject({ rule: 'corruption', level: 1, score: 1, action: 'emergency_rollback' });
    expect(report.rootCause).toMatchObject({ class: 'code' });
    expect(report.rollback).toMatchObject({ kind: 'emergency', abandoned: Number(account.rollback!.abandoned), abandonedCount: 'exact' });
    expect(report.rootCause!.configDiff).toEqual(expect.arrayContaining([{ key: 'build: define NS_FAULT_CORRUPT', to: 'define NS_FAULT_CORRUPT=1' }]));
  });
});
