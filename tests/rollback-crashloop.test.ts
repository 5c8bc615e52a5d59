// A crash loop, rolled back (images/regression-crashloop.himg): netstack 1.3.9 writes through a null
// pointer on the first bytes a connection to an echo port delivers, so each start crashes at its
// first use -- the warm-up's loopback probe -- before any connection moves. The Module Manager
// finds no sandbox of the version alive (Core-0's module_health), starts it again, up to three
// starts, and asks the Monitor to watch at the first crash. The Monitor counts Core-0's crashes of
// 1.3.9 from the update's start, and the seed's row "新实例连续崩溃(3次)" (§4.2) fires with the
// third: an immediate rollback. The new instance never served, so nothing moves back and nothing is
// given up; 1.3.9 is marked bad, and every connection keeps every byte.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UpdateAccount } from '../system/update/outcome.ts';
import { reportOf } from '../system/update/report.ts';
import { validateReport } from '../system/report/validate.ts';
import type { TrafficSummary } from '../traffic/summary.ts';
import { bootImage, bootUpdate, REPO, type Booted } from './support/boot.ts';
import { expectEveryByte } from './support/rollback.ts';
import { summarize } from '../system/report/summary.ts';

const INTERVAL = 20_000_000; // the image's Monitor interval
const WINDOW = 100_000_000; // the crash-loop row's 5 minutes at the image's time scale (3000)
const SANDBOX = 'netstack-1-3-9';

let run: Booted, summary: TrafficSummary, account: UpdateAccount;
beforeAll(async () => void ({ run, summary, account } = await bootUpdate('regression-crashloop')), 600_000);
afterAll(() => run?.machine.dispose());

describe('a new version that crashes at every start, restarted twice and rolled back on the crash-loop row', () => {
  it('ends rolled back on the "crash_loop" rule, classified a code defect, as the image expects', () => {
    expect(run.deviations).toEqual([]);
    expect(run.system.updates.outcomes()).toEqual(['rolled_back:crash_loop']);
    expect(account.monitor.verdict).toMatchObject({ action: 'reverse_rollback', rule: 'crash_loop', level: 1, score: 1000 });
    expect(account.monitor.cause).toMatchObject({ cause: 'code' });
  });

  it('crashes at each of three starts, each at its warm-up, each dumped; the Module Manager restarts it twice', () => {
    const faults = run.kernel.events.of('fault');
    expect(faults.map((f) => [f.sandbox, f.fault.kind])).toEqual(Array(3).fill([SANDBOX, 'writeUnmapped']));
    expect(faults.every((f) => f.dump !== undefined)).toBe(true);
    expect(run.kernel.events.of('sandboxCreated').filter((e) => e.sandbox === SANDBOX)).toHaveLength(3);
    expect(account.restarts.map((r) => [Number(r.start), r.again])).toEqual([[1, true], [2, true], [3, false]]);
    // Each start got as far as its warm-up, and no connection ever moved.
    expect(account.steps.filter((s) => s.step === 'warmup' && s.state === 'failed')).toHaveLength(3);
    expect(account.steps.filter((s) => s.step === 'snapshot')).toEqual([]);
    expect(Number(account.end!.snapshot)).toBe(0);
    expect(faults.at(-1)!.t - faults[0]!.t).toBeLessThan(WINDOW); // three in a row, within the row's window
  });

  it('the Monitor counts Core-0\'s crashes, all three, and decides at the sample that sees the third', () => {
    const samples = account.monitor.samples;
    expect(samples.reduce((n, s) => n + Number(s.crashes), 0)).toBe(3);
    const third = run.kernel.events.of('fault')[2]!;
    const decision = account.monitor.decisions.find((d) => d.rule === 'crash_loop')!;
    expect(decision).toMatchObject({ level: 1, action: 'reverse_rollback', execute: true });
    expect(decision.tNs).toBeGreaterThan(third.t);
    expect(decision.tNs - third.t).toBeLessThanOrEqual(INTERVAL + 1_000_000);
    // No rollback came first (start_failed's gauge: a restart ended each gap within its window). The
    // probes a starting instance does not answer yet do add up to a health pause.
    expect(account.monitor.decisions.filter((d) => d.tNs < decision.tNs && String(d.action).endsWith('rollback'))).toEqual([]);
    expect(account.monitor.alerts.find((a) => a.rule === 'crash_loop')).toMatchObject({ level: 'P0', audit: true });
  });

  it('rolls back with nothing to move or give up, marks 1.3.9 bad, and 1.2.0 serves on with every byte', () => {
    const r = account.rollback!;
    expect(r).toMatchObject({ rule: 'crash_loop', moved_back: 0, failed: 0, abandoned: 0, marked_bad: true, ok: true });
    expect(Number(r.switched_back) - Number(r.verdict)).toBeLessThan(100_000_000); // seed §4.3 步骤5.3
    expect(account.monitor.validation).toMatchObject({ restored: true });
    expect(run.kernel.events.of('moduleMarked')).toEqual([expect.objectContaining({ module: 'netstack', version: '1.3.9', bad: true, by: 'module-manager' })]);
    expect({ closed: summary.closed, failed: summary.failed, httpErrors: summary.httpErrors }).toEqual({ closed: 1000, failed: 0, httpErrors: 0 });
    expectEveryByte(summary);
  });

  it('reports the rollback with every crash among the evidence and the first crash\'s dump', () => {
    const report = reportOf(account, 'regression-crashloop');
    validateReport(report);
    expect(report.outcome).toBe('rolled-back');
    expect(report.decision).toMatchObject({ rule: 'crash_loop', level: 1 });
    const c = report.rootCause!;
    expect(c.class).toBe('code');
    expect(c.evidence.filter((e) => e.kind === 'fault writeUnmapped')).toHaveLength(3);
    expect(c.crash!.registers.rip).toBe(run.kernel.events.of('fault')[0]!.dump!.registers.rip);
    // The restarts, as the Module Manager recorded them, and printed by `hic report`.
    expect(report.restarts!.map((x) => [x.start, x.again])).toEqual([[1, true], [2, true], [3, false]]);
    expect(summarize(report).join('\n')).toMatch(/restarts \(3\)\n.*start 1 crashed before it served: started again\n.*start 2 crashed before it served: started again\n.*start 3 crashed before it served: not started again/);
  });
});

describe('the same crash loop with no Monitor to judge it', () => {
  let alone: Booted;
  beforeAll(async () => {
    const image = JSON.parse(readFileSync(join(REPO, 'images', 'regression-crashloop.himg'), 'utf8')) as { name: string; sandboxes: { name: string }[]; expect: object };
    image.name = 'regression-crashloop, unwatched';
    image.sandboxes = image.sandboxes.filter((s) => s.name !== 'monitor');
    image.expect = { faults: { [SANDBOX]: 'writeUnmapped' }, updates: ['failed:warmup'] };
    alone = await bootImage({ label: 'regression-crashloop, unwatched', image });
  }, 600_000);
  afterAll(() => alone?.machine.dispose());

  it('stops after the third start, fails at the warm-up and discards the version, asking nothing of the dead instance', () => {
    expect(alone.deviations).toEqual([]);
    const a = alone.system.updates.all[0]!;
    expect(a.restarts.map((r) => [Number(r.start), r.again])).toEqual([[1, true], [2, true], [3, false]]);
    expect(alone.kernel.events.of('fault')).toHaveLength(3);
    expect(a.rollback).toBeUndefined();
    // Discarded at once: no call waited out the phase timeout (1 s) on the dead instance.
    const lastFault = alone.kernel.events.of('fault')[2]!;
    expect(a.end!.tNs - lastFault.t).toBeLessThan(10_000_000);
    expect(alone.kernel.events.of('moduleMarked')).toEqual([expect.objectContaining({ module: 'netstack', version: '1.3.9', bad: true })]);
    const s = alone.system.traffic!.generator.summary();
    expect({ failed: s.failed, lost: s.lost }).toEqual({ failed: 0, lost: 0 });
  });
});

