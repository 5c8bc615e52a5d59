// Emergency rollback under live traffic (images/regression-hang.himg): the Module Manager updates
// netstack 1.2.0 to 1.3.2, a regression release that stops answering anything 100 ms after it
// starts -- in the middle of the migration, with part of the connections moved. The Monitor sees
// every frame offered to it go unanswered: the seed's rule 3 (service completely unavailable,
// §4.3 步骤5.1) calls for an emergency rollback (步骤5.2.3). The Module Manager switches back at
// once, gives up the connections the new instance holds and counts them; every other connection
// keeps every byte.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UpdateAccount } from '../system/update/outcome.ts';
import { reportOf } from '../system/update/report.ts';
import { validateReport } from '../system/report/validate.ts';
import type { TrafficSummary } from '../traffic/summary.ts';
import { bootUpdate, type Booted } from './support/boot.ts';
import { recordsOf } from './support/kernel.ts';

let run: Booted, summary: TrafficSummary, account: UpdateAccount;
beforeAll(async () => void ({ run, summary, account } = await bootUpdate('regression-hang')), 600_000);
afterAll(() => run?.machine.dispose());

describe('a new version that stops answering mid-migration, rolled back in an emergency', () => {
  it('ends rolled back on the Monitor\'s "unavailable" rule, as the image expects', () => {
    expect(run.deviations).toEqual([]);
    expect(run.system.updates.outcomes()).toEqual(['rolled_back:unavailable']);
    expect(account.end).toMatchObject({ outcome: 'rolled_back', failed_step: 'migrate' });
    expect(account.monitor.verdict).toMatchObject({ action: 'emergency_rollback', rule: 'unavailable', level: 1, score: 1000 });
  });

  it('stalls in the middle of the migration: the Module Manager stops moving and waits for the Monitor', () => {
    const stuck = run.kernel.events.of('console').find((e) => e.sandbox === 'netstack-1-3-2' && e.text.includes('stuck'))!;
    expect(stuck).toBeDefined();
    const last = account.split.at(-1)!;
    expect(last.old).toBeGreaterThan(100); // part of the connections had not moved yet
    expect(last.new).toBeGreaterThan(100);
    expect(account.failedChecks).toContain('health'); // the Module Manager's own check saw it first
    // Time from the stall to the switch back, in virtual time: the Monitor's probe timeout
    // (100 ms) plus one sample interval, at most.
    expect(Number(account.rollback!.switched_back) - stuck.t).toBeLessThan(150_000_000);
  });

  it('switches back first, moves nothing back, and counts the connections it gives up', () => {
    const r = account.rollback!;
    expect(r).toMatchObject({ kind: 'emergency', asked: 'emergency_rollback', moved_back: 0, failed: 0, ok: true });
    expect(Number(r.switched_back) - Number(r.verdict)).toBeLessThan(100_000_000); // seed §4.3 步骤5.3: < 100 ms
    expect(Number(r.abandoned)).toBeGreaterThan(100);
    // The hung instance cannot say what it holds: the count is the steering entries the driver forgot.
    expect(r.counted).toBe('steering');
    const forgot = run.kernel.events.of('console').find((e) => e.sandbox === 'driver' && e.text.includes('forgot instance 2'));
    expect(forgot).toBeDefined(); // no frame stays bound to the dead instance, not even a SYN it was sent
    expect(run.kernel.events.of('sandboxDestroyed').filter((e) => e.reason === 'destroyed').map((e) => e.sandbox)).toEqual(['netstack-1-3-2']);
    expect(recordsOf(run.kernel, 'driver', 'default_changed').map((d) => Number(d.instance)).at(-1)).toBe(1);
  });

  it('validates what serves afterwards against the baseline (seed 步骤5.4): 1.2.0 answers every probe and costs what it did at the same work', () => {
    const v = account.monitor.validation!;
    expect(v).toMatchObject({ id: 1, version: 0x10200 });
    expect(v.answered).toBe(v.samples); // the quick health check: 1.2.0 answers through the alias
    expect(v.tNs).toBeGreaterThan(Number(account.rollback!.end));
    expect(Number(v.baseline)).toBe(Number(account.monitor.baseline!.service_time));
    // Right after an emergency 1.2.0 also answers the abandoned clients' retransmissions with
    // resets: its plain time per frame is well above the baseline's mean, another mix of frames.
    // At the same work (the baseline's cost model) it costs what it did, and is restored within
    // the first six intervals (docs/monitor.md).
    expect(Number(v.service_time)).toBeGreaterThan(Number(v.baseline) * 1.3);
    expect(v).toMatchObject({ restored: true, samples: 6 });
    expect(Number(v.ratio)).toBeLessThanOrEqual(1300);
    expect(Number(v.took)).toBeGreaterThan(0);
    expect(reportOf(account, 'regression-hang').rollback!.validation).toMatchObject({ version: '1.2.0', restored: v.restored, tookNs: Number(v.took), ratio: Number(v.ratio) / 1000 });
  });

  it('gives up at most the connections it counted; every other connection keeps every byte', () => {
    // An upper bound: a steering entry outlives a connection that closed normally at the new instance.
    expect(summary.failed).toBeGreaterThan(100);
    expect(summary.failed).toBeLessThanOrEqual(Number(account.rollback!.abandoned));
    expect(summary.closed + summary.failed).toBe(1000);
    expect(summary.lost).toBe(summary.lostOnFailed); // bytes were lost only on the connections given up
    expect({ duplicated: summary.duplicated, reordered: summary.reordered, corrupted: summary.corrupted, seqGaps: summary.seqGaps, httpErrors: summary.httpErrors }).toEqual({
      duplicated: 0, reordered: 0, corrupted: 0, seqGaps: 0, httpErrors: 0,
    });
    expect(summary.probes).toMatchObject({ dnsAnswers: 20, pingReceived: 10 });
  });

  it('reports the emergency: abandoned connections and the survival rate', () => {
    const report = reportOf(account, 'regression-hang');
    validateReport(report);
    expect(report.outcome).toBe('rolled-back');
    const atOld = account.split.at(-1)!.old, abandoned = Number(account.rollback!.abandoned);
    expect(report.rollback).toMatchObject({ kind: 'emergency', movedBack: 0, abandoned, abandonedCount: 'at most', survivalRate: atOld / (atOld + abandoned) });
    expect(report.decision).toMatchObject({ rule: 'unavailable', level: 1, score: 1, action: 'emergency_rollback' });
    expect(report.rootCause).toMatchObject({ class: 'code' }); // no answers after a code change
    expect(report.rootCause!.configDiff).toEqual(expect.arrayContaining([{ key: 'build: define NS_FAULT_HANG', to: 'define NS_FAULT_HANG=100000000' }]));
    const unanswered = report.rootCause!.metrics!.find((m) => m.name.startsWith('unanswered'))!;
    expect(unanswered.points.at(-1)!.value).toBeGreaterThan(0);
  });
});
