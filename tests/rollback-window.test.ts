// A rollback after COMPLETE, within the rollback window (images/regression-late.himg): netstack
// 1.2.0 serves 1000 connections; the Module Manager updates it to 1.3.3, which is 1.3.0 until 700 ms
// after it starts and then takes twice the time over every frame. The update passes every check
// and completes: 1.2.0's instance is destroyed. The Monitor goes on watching through the window,
// its "performance down > 30 %" rule fires, and the Module Manager undoes the update the one way
// left: an update back to 1.2.0 -- Core-0 lets the older version past its rollback protection for
// this request only, a fresh instance of it takes the state in 1.2.0's schema, the connections
// move persistent sessions first, the alias switches back, 1.3.3 is destroyed and marked bad. One
// boot; every assertion reads the event log or the traffic generator's ground truth.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UpdateAccount } from '../system/update/outcome.ts';
import { reportOf } from '../system/update/report.ts';
import { summarize } from '../system/report/summary.ts';
import { validateReport } from '../system/report/validate.ts';
import type { TrafficSummary } from '../traffic/summary.ts';
import { bootJournaled, type Booted } from './support/boot.ts';
import { recordsOf } from './support/kernel.ts';

let run: Booted;
let summary: TrafficSummary;
let update: UpdateAccount;
let back: UpdateAccount;

beforeAll(async () => {
  run = await bootJournaled('regression-late'); // its journal checked at every cut: the update back within the window among them
  summary = run.system.traffic!.generator.summary();
  [update, back] = run.system.updates.all as [UpdateAccount, UpdateAccount];
}, 600_000);

afterAll(() => run?.machine.dispose());

describe('a regression that shows after COMPLETE, rolled back within the rollback window under 1000 connections', () => {
  it('ends rolled back on the Monitor\'s perf_down rule, as the image expects; the rollback is an update of its own', () => {
    expect(run.deviations).toEqual([]);
    expect(run.system.updates.outcomes()).toEqual(['rolled_back:perf_down']);
    expect(update.end).toMatchObject({ outcome: 'completed', ok: true });
    expect(back).toMatchObject({ id: update.id + 2 ** 32, rollbackOf: update.id, service: 'netstack', to: '1.2.0' });
    expect(update.rolledBackBy).toBe(back);
    expect(back.begin).toMatchObject({ from: 0x10303, to: 0x10200, rollback_of: update.id });
    expect(back.end).toMatchObject({ outcome: 'completed', failed: 0, ok: true });
    expect(back.failedChecks).toEqual([]);
  });

  it('completed first: the stability window passed, 1.2.0\'s instance was destroyed, and the window opened with the Monitor watching', () => {
    const ended = update.steps.filter((s) => s.state !== 'begin').map((s) => `${s.step}:${s.state}`);
    expect(ended.slice(-4)).toEqual(['validate:ok', 'stability:ok', 'shutdown:ok', 'release:ok']);
    const windows = recordsOf(run.kernel, 'module-manager', 'window');
    expect(windows.map((w) => w.state)).toEqual(['open', 'rollback']);
    const [open, closed] = [windows[0]!, windows[1]!];
    // Opened as the update ended, for the policy's rollback window (1 s).
    const opened = Number(open.until) - 1_000_000_000;
    expect(opened).toBeGreaterThanOrEqual(update.end!.tNs);
    expect(opened).toBeLessThanOrEqual(Number(open.t));
    expect(Number(open.t) - update.end!.tNs).toBeLessThan(100_000);
    const destroyed = run.kernel.events.of('sandboxDestroyed').filter((e) => e.reason === 'destroyed');
    expect(destroyed.map((e) => e.sandbox)).toEqual(['netstack', 'netstack-1-3-3']);
    expect(destroyed[0]!.t).toBeLessThan(update.end!.tNs);
    // The verdict came inside the window, after COMPLETE, and the window closed on it.
    const verdict = update.monitor.verdict!;
    expect(verdict).toMatchObject({ id: 1, action: 'reverse_rollback', rule: 'perf_down', level: 2 });
    expect(verdict.tNs).toBeGreaterThan(update.end!.tNs);
    expect(verdict.tNs).toBeLessThan(Number(open.until));
    expect(closed).toMatchObject({ rule: 'perf_down', level: 2, rollback_id: back.id });
    expect(Number(closed.verdict)).toBeGreaterThan(update.end!.tNs); // the Monitor's decision, just before its call arrived
    expect(Number(closed.verdict)).toBeLessThanOrEqual(verdict.tNs);
    expect(update.monitor.unwatch).toMatchObject({ id: 1, verdicts: 1 });
    const decided = update.monitor.decisions.find((d) => d.rule === 'perf_down' && d.execute === true)!;
    expect(Number(decided.service_time)).toBeGreaterThan(1.3 * Number(update.monitor.baseline!.service_time));
  });

  it('has Core-0 verify 1.2.0 past its rollback protection for this request only, and create a fresh instance of it', () => {
    const verified = run.kernel.events.of('moduleVerified').filter((e) => e.module === 'netstack' && e.version === '1.2.0');
    const late = verified.filter((e) => e.t > update.end!.tNs);
    expect(late.length).toBeGreaterThan(0);
    for (const e of late) expect(e.downgrade).toBe(true);
    expect(verified.filter((e) => e.t < update.end!.tNs).every((e) => !e.downgrade)).toBe(true);
    const loaded = run.kernel.events.of('moduleLoaded').find((e) => e.sandbox === 'netstack-1-2-0')!;
    expect(loaded).toMatchObject({ module: 'netstack', version: '1.2.0', config: { instance: 1, migration_slot: 1, standby: true } });
    expect(run.kernel.events.of('moduleRejected')).toEqual([]);
  });

  it('moves the connections back persistent sessions first, idle ones last, every stage healthy, and switches the alias back', () => {
    expect(back.stages.map((s) => s.class)).toEqual(['persistent', 'realtime', 'http', 'idle']);
    for (const s of back.stages) expect(s).toMatchObject({ failed: 0, healthy: true });
    const moved = back.stages.reduce((n, s) => n + Number(s.moved), 0);
    expect(moved).toBe(Number(back.end!.moved));
    expect(moved).toBeGreaterThan(500);
    const switched = run.kernel.events.of('endpointSwitched').map((e) => [e.alias, e.to]);
    expect(switched).toEqual([['cap://netstack/stats', 'cap://netstack/v1.3.3/stats'], ['cap://netstack/stats', 'cap://netstack/v1.2.0/stats']]);
    const defaults = recordsOf(run.kernel, 'driver', 'default_changed').map((d) => Number(d.instance));
    expect(defaults).toEqual([2, 1]);
  });

  it('marks 1.3.3 bad once the rollback completed', () => {
    const marked = run.kernel.events.of('moduleMarked');
    expect(marked.map((e) => `${e.module} ${e.version} ${e.bad ? 'bad' : 'cleared'} by ${e.by}`)).toEqual(['netstack 1.3.3 bad by module-manager']);
    expect(marked[0]!.t).toBeGreaterThanOrEqual(back.end!.tNs);
  });

  it('validates what serves once the rollback completed (seed 步骤5.4): 1.2.0 answers every probe, back within 30 % of the baseline', () => {
    const v = update.monitor.validation!;
    expect(v).toMatchObject({ id: update.id, version: 0x10200, restored: true });
    expect(v.answered).toBe(v.samples);
    expect(v.tNs).toBeGreaterThan(back.end!.tNs);
    expect(Number(v.baseline)).toBe(Number(update.monitor.baseline!.service_time));
    expect(reportOf(update, 'regression-late').rollback!.validation).toMatchObject({ version: '1.2.0', restored: true });
  });

  it('loses, duplicates and reorders nothing: the generator checked every byte, both ways', () => {
    expect({ closed: summary.closed, failed: summary.failed, httpErrors: summary.httpErrors }).toEqual({ closed: 1000, failed: 0, httpErrors: 0 });
    expect({ lost: summary.lost, duplicated: summary.duplicated, reordered: summary.reordered, corrupted: summary.corrupted, seqGaps: summary.seqGaps, seqErrors: summary.seqErrors }).toEqual({
      lost: 0, duplicated: 0, reordered: 0, corrupted: 0, seqGaps: 0, seqErrors: 0,
    });
  });

  it('reports both: the update as rolled back within its window, with the rollback\'s phases, and the rollback as an update of its own', () => {
    const report = reportOf(update, 'regression-late');
    validateReport(report);
    expect(report).toMatchObject({ from: '1.2.0', to: '1.3.3', outcome: 'rolled-back', window: { state: 'rollback', rollbackId: back.id } });
    expect(report.reason).toMatch(/^completed, then rolled back within its rollback window by update 4294967297 to 1\.2\.0: the Monitor's rule perf_down/);
    expect(report.rollback).toMatchObject({ kind: 'window', movedBack: Number(back.end!.moved), abandoned: 0, survivalRate: 1 });
    expect(report.rollback!.phases.filter((p) => p.outcome === 'failed')).toEqual([]);
    expect(report.rollback!.phases.map((p) => p.name)).toContain('migrate');
    expect(report.decision).toMatchObject({ rule: 'perf_down', action: 'reverse_rollback' });
    expect(report.rootCause).toMatchObject({ class: 'code' });
    expect(report.rootCause!.configDiff).toEqual(expect.arrayContaining([{ key: 'version', from: '1.2.0', to: '1.3.3' }]));
    expect(summarize(report).join('\n')).toMatch(/window +until .*: a rollback verdict, and an update back to the previous version \(update 4294967297\)/);
    const own = reportOf(back, 'regression-late');
    validateReport(own);
    expect(own).toMatchObject({ from: '1.3.3', to: '1.2.0', outcome: 'completed', rollbackOf: 1, reason: 'the rollback of update 1 within its rollback window' });
  });
});
