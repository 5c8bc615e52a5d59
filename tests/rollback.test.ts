// Automatic rollback under live traffic (images/regression-latency.himg): netstack 1.2.0 serves
// 1000 connections; the Module Manager updates it to 1.3.1, a regression release that takes twice
// the time over every frame. The Monitor, a signed guest service, learnt its baseline from 1.2.0
// and watches the new instance; its "performance down > 30 %" rule (seed §4.2) fires, it asks for
// a reverse rollback, and the Module Manager switches back and moves every connection back before
// COMPLETE. It alerts (P1) as the rules fire, and the P1 alerts reach the audit log. One boot;
// every assertion reads the event log or the traffic generator's ground truth.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UpdateAccount } from '../system/update/outcome.ts';
import { reportOf } from '../system/update/report.ts';
import { summarize } from '../system/report/summary.ts';
import { validateReport } from '../system/report/validate.ts';
import { writeReport } from '../system/report/write.ts';
import type { TrafficSummary } from '../traffic/summary.ts';
import { bootUpdate, type Booted } from './support/boot.ts';
import { recordsOf } from './support/kernel.ts';
import { expectSideAlerts, SIDE_RULES } from './support/side-alerts.ts';

let run: Booted, summary: TrafficSummary, account: UpdateAccount;
beforeAll(async () => void ({ run, summary, account } = await bootUpdate('regression-latency')), 600_000);
afterAll(() => run?.machine.dispose());

describe('a regression release (latency doubled) rolled back automatically under 1000 connections', () => {
  it('ends rolled back on the Monitor\'s perf_down rule, as the image expects', () => {
    expect(run.deviations).toEqual([]);
    expect(run.system.updates.outcomes()).toEqual(['rolled_back:perf_down', 'refused:marked_bad', 'rolled_back:perf_down']);
    expect(account.end).toMatchObject({ outcome: 'rolled_back' });
    // The slow instance may also miss a health check's deadline (one health interval) or a move's
    // while connections move to it: the update then stops there and waits for the verdict.
    for (const c of account.failedChecks) expect(['health', 'no_failed_move']).toContain(c);
  });

  it('decides on the seed\'s rule with its level and a confidence above the threshold, against a baseline learnt from 1.2.0', () => {
    const base = account.monitor.baseline!;
    expect(base).toMatchObject({ id: 1, version: 0x10200 });
    const verdict = account.monitor.verdict!;
    expect(verdict).toMatchObject({ id: 1, action: 'reverse_rollback', rule: 'perf_down', level: 2 });
    expect(Number(verdict.score)).toBeGreaterThanOrEqual(800);
    // The decision that executed measured the new instance well above 1.3 x the baseline (> 30 % down).
    const decided = account.monitor.decisions.find((d) => d.rule === 'perf_down' && d.execute === true)!;
    expect(Number(decided.service_time)).toBeGreaterThan(1.3 * Number(base.service_time));
    expect(recordsOf(run.kernel, 'monitor', 'verdict').filter((v) => v.id === 1)).toHaveLength(1); // asked once
  });

  it('switches back within the seed\'s 100 ms of the decision (virtual), then moves every connection back and reclaims the new instance', () => {
    const r = account.rollback!;
    expect(r).toMatchObject({ kind: 'reverse', asked: 'reverse_rollback', rule: 'perf_down', failed: 0, abandoned: 0, ok: true });
    expect(Number(r.switched_back) - Number(r.verdict)).toBeLessThan(100_000_000);
    expect(Number(r.switched_back)).toBeGreaterThanOrEqual(Number(r.verdict));
    // Everything the new instance held moved back: every connection it received, less those closed meanwhile.
    expect(Number(r.moved_back)).toBeGreaterThan(700);
    const ended = account.steps.filter((s) => s.phase === 5 && s.state !== 'begin').map((s) => `${s.step}:${s.state}`);
    expect(ended).toEqual(['rollback_switch:ok', 'rollback_move:ok', 'rollback_reclaim:ok']);
    const destroyed = run.kernel.events.of('sandboxDestroyed').filter((e) => e.reason === 'destroyed').map((e) => e.sandbox);
    expect(destroyed).toEqual(['netstack-1-3-1', 'netstack-1-3-1']); // twice (below); the old instance lives on
    const defaults = recordsOf(run.kernel, 'driver', 'default_changed').map((d) => Number(d.instance));
    expect(defaults.at(-1)).toBe(1);
  });

  it('marks 1.3.1 bad: the same request is refused with nothing changed, until the operator asks for it knowingly', () => {
    expect(account.rollback).toMatchObject({ marked_bad: true });
    const [, refused, cleared] = run.system.updates.all;
    expect(refused!.refused).toMatchObject({ reason: 'marked_bad' });
    expect(refused!.begin).toBeUndefined();
    // clearBad: the mark is cleared once the request passed every check, and set again by its own rollback.
    expect(run.kernel.events.of('moduleMarked').map((e) => `${e.module} ${e.version} ${e.bad ? 'bad' : 'cleared'} by ${e.by}`)).toEqual([
      'netstack 1.3.1 bad by module-manager', 'netstack 1.3.1 cleared by module-manager', 'netstack 1.3.1 bad by module-manager',
    ]);
    expect(cleared!.rollback).toMatchObject({ kind: 'reverse', rule: 'perf_down', failed: 0, marked_bad: true });
    expect(cleared!.monitor.baseline).toMatchObject({ version: 0x10200 }); // learnt again from 1.2.0 after the first rollback
  });

  it('validates each rollback afterwards (seed 步骤5.4): 1.2.0 answers every probe through the alias, back within 30 % of the baseline', () => {
    const validations = recordsOf(run.kernel, 'monitor', 'validation');
    const [first, , cleared] = run.system.updates.all;
    expect(validations.map((v) => v.id)).toEqual([first!.id, cleared!.id]);
    for (const [v, a] of [[validations[0]!, first!], [validations[1]!, cleared!]] as const) {
      expect(v).toMatchObject({ version: 0x10200, restored: true });
      expect(v.answered).toBe(v.samples);
      expect(v.t).toBeGreaterThan(Number(a.rollback!.end));
      expect(Number(v.baseline)).toBe(Number(a.monitor.baseline!.service_time));
      expect(Number(v.ratio)).toBeLessThanOrEqual(1300);
    }
    expect(reportOf(first!, 'regression-latency').rollback!.validation).toMatchObject({ version: '1.2.0', restored: true });
  });

  it('loses, duplicates and reorders nothing: the generator checked every byte, both ways', () => {
    expect({ closed: summary.closed, failed: summary.failed, httpErrors: summary.httpErrors }).toEqual({ closed: 1000, failed: 0, httpErrors: 0 });
    expect({ lost: summary.lost, duplicated: summary.duplicated, reordered: summary.reordered, corrupted: summary.corrupted, seqGaps: summary.seqGaps, seqErrors: summary.seqErrors }).toEqual({
      lost: 0, duplicated: 0, reordered: 0, corrupted: 0, seqGaps: 0, seqErrors: 0,
    });
  });

  it('alerts on the rules as the decision names them (P1, audited), and reports the alerts; `hic report` prints them', () => {
    const all = recordsOf(run.kernel, 'monitor', 'alert');
    // The 3-sigma rule may also call the slow version's latency an anomaly (a P3, only logged), and
    // its CPU share passes §5.1's 80 % (a P2): neither is audited.
    expectSideAlerts(all.filter((x) => x.id === 1));
    const alerts = all.filter((a) => a.id === 1 && !SIDE_RULES.includes(String(a.rule)));
    // The pause ("performance halved") may come and go before the rollback's rule holds over its
    // window: each time it appears it is an alert, a new incident or a duplicate counted in one;
    // the rollback's comes last, in the latest incident: an incident of its own (sent), or the
    // pause's, when that one was raised within the correlation window just before (merged).
    expect(alerts.length).toBeGreaterThanOrEqual(2);
    expect(alerts.slice(0, -1).map((a) => a.rule)).toEqual(alerts.slice(0, -1).map(() => 'perf_halved'));
    const last = alerts.at(-1)!;
    expect(last).toMatchObject({ priority: 'p1', rule: 'perf_down', audit: true, incident: Math.max(...alerts.map((a) => Number(a.incident))) });
    expect(['sent', 'escalated', 'merged']).toContain(last.verdict); // escalated: into the incident a P2 or P3 opened
    for (const a of alerts) {
      expect(a.priority).toBe('p1');
      expect(['sent', 'duplicate', 'merged', 'escalated']).toContain(a.verdict); // escalated: raised into an incident a P3 anomaly opened
      expect(a.audit).toBe(a.verdict !== 'duplicate'); // every P1 alert is audited, except a duplicate, which is only counted
    }
    const verdict = recordsOf(run.kernel, 'monitor', 'verdict')[0]!;
    expect(last.t).toBeLessThanOrEqual(verdict.t); // the rollback's alert, before it is asked for
    expect(run.kernel.audit.records.filter((r) => r.kind === 'record' && r.type === 'alert').map((r) => r.t)).toEqual(all.filter((a) => a.audit === true).map((a) => a.t));
    // The verdict is audited too, with the figures of its reason (`hic audit show` words it).
    expect(run.kernel.audit.records.filter((r) => r.kind === 'record' && r.type === 'verdict').map((r) => r.fields)).toEqual(
      recordsOf(run.kernel, 'monitor', 'verdict').map(({ t: _t, ...f }) => f));
    const report = reportOf(account, 'regression-latency');
    const every = all.filter((a) => a.id === 1); // with the P3 anomalies
    expect(report.alerts!).toHaveLength(every.length);
    expect(report.alerts!.filter((a) => !SIDE_RULES.includes(a.rule))).toEqual(alerts.map((a) => ({
      tNs: a.t, level: 'P1', rule: a.rule, message: expect.stringMatching(new RegExp(`^performance down \\d+\\.\\d % \\(incident ${a.incident}, ${a.verdict}\\)$`)),
      ...(a.verdict === 'sent' || a.verdict === 'escalated' ? {} : { suppressed: true }),
    })));
    const printed = summarize(report).join('\n');
    const suppressed = every.filter((a) => a.verdict !== 'sent' && a.verdict !== 'escalated').length;
    expect(printed).toContain(`alerts (${every.length}${suppressed ? `, ${suppressed} suppressed` : ''})`);
    expect(printed).toMatch(new RegExp(`P1 {2}perf_down: performance down \\d+\\.\\d % \\(incident ${last.incident}, ${last.verdict}\\)`));
  });

  it('reports it: the decision with its inputs, the rollback\'s own phases and the survival rate', () => {
    const report = reportOf(account, 'regression-latency');
    validateReport(report);
    expect(report.outcome).toBe('rolled-back');
    expect(report.decision).toMatchObject({ rule: 'perf_down', level: 2, threshold: 0.8, action: 'reverse_rollback' });
    expect(report.decision!.inputs.baselineServiceTimeNs).toBe(Number(account.monitor.baseline!.service_time));
    expect(report.rollback).toMatchObject({ kind: 'reverse', abandoned: 0, survivalRate: 1 });
    expect(report.rollback!.phases.map((p) => `${p.step} ${p.outcome}`)).toEqual(['5.3 ok', '5.2 ok', '5.3 ok']);
    // The root cause: the code, with the metric history it was decided on and what changed.
    expect(report.rootCause).toMatchObject({ class: 'code' });
    expect(report.rootCause!.configDiff).toEqual(expect.arrayContaining([
      { key: 'version', from: '1.2.0', to: '1.3.1' },
      { key: 'build: define NS_FAULT_SLOW', to: 'define NS_FAULT_SLOW=1' },
    ]));
    const serviceTime = report.rootCause!.metrics!.find((m) => m.name.startsWith('service time'))!;
    expect(serviceTime.points).toHaveLength(account.monitor.samples.length);
    expect(serviceTime.points.length).toBeGreaterThan(10);
    expect(report.rootCause!.evidence.map((e) => e.kind)).toContain('decision');
    const dir = mkdtempSync(join(tmpdir(), 'hic-rollback-report-'));
    try {
      const written = writeReport(dir, report);
      const html = readFileSync(written.html, 'utf8');
      expect(html).toContain('Rollback (reverse)');
      expect(html).toMatch(/<section id="alerts"><h2>Alerts<\/h2>[^]*<span class="level level-P1">P1<\/span><\/td><td>perf_down<\/td>/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
