// A critical function that fails completely, rolled back (images/regression-http.himg): netstack
// 1.3.6 stops listening on port 80 100 ms after it starts, in the middle of the migration; the
// connections it holds go on. The Monitor's loopback probe finds its connection to port 80
// refused -- a function 1.2.0 passed when the watch began -- and the seed's row "a critical
// function fails completely" (§4.2) calls for a reverse rollback: every connection moves back.
// The HTTP clients 1.3.6 refused before the switch back are counted, and nothing else fails.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UpdateAccount } from '../system/update/outcome.ts';
import { reportOf } from '../system/update/report.ts';
import { validateReport } from '../system/report/validate.ts';
import type { TrafficSummary } from '../traffic/summary.ts';
import { bootImage, type Booted } from './support/boot.ts';

const INTERVAL = 20_000_000; // the image's Monitor interval
const PROBE_HTTP = 1; // hic/netstack_probe.h: NS_PROBE_HTTP

let run: Booted;
let summary: TrafficSummary;
let account: UpdateAccount;

beforeAll(async () => {
  run = await bootImage('regression-http');
  summary = run.system.traffic!.generator.summary();
  account = run.system.updates.all[0]!;
}, 600_000);

afterAll(() => run?.machine.dispose());

describe('a new version whose HTTP listener dies, caught by the loopback probe and rolled back', () => {
  it('ends rolled back on the "critical_function" rule, as the image expects', () => {
    expect(run.deviations).toEqual([]);
    expect(run.system.updates.outcomes()).toEqual(['rolled_back:critical_function']);
    expect(account.monitor.verdict).toMatchObject({ action: 'reverse_rollback', rule: 'critical_function', level: 1, score: 950 });
  });

  it('sees port 80 refuse on the first probe after the listener died, with the echo still whole', () => {
    expect(Number(account.monitor.baseline!.functions)).toBe(3);
    const died = run.kernel.events.of('console').find((e) => e.sandbox === 'netstack-1-3-6' && e.text.includes('no longer listening'))!;
    expect(died).toBeDefined();
    const samples = account.monitor.samples;
    expect(samples.filter((s) => s.tNs < died.t && Number(s.functions_failed) !== 0)).toEqual([]);
    const first = samples.find((s) => Number(s.functions_failed) !== 0)!;
    expect(Number(first.functions_failed)).toBe(PROBE_HTTP);
    expect(Number(first.corrupt)).toBe(0);
    expect(first.tNs - died.t).toBeLessThanOrEqual(INTERVAL + 1_000_000);
  });

  it('moves every connection back and marks 1.3.6 bad', () => {
    const r = account.rollback!;
    expect(r).toMatchObject({ kind: 'reverse', rule: 'critical_function', failed: 0, abandoned: 0, ok: true, marked_bad: true });
    expect(Number(r.moved_back)).toBeGreaterThan(100);
    expect(Number(r.switched_back) - Number(r.verdict)).toBeLessThan(100_000_000); // seed §4.3 步骤5.3
    expect(run.kernel.events.of('sandboxDestroyed').filter((e) => e.reason === 'destroyed').map((e) => e.sandbox)).toEqual(['netstack-1-3-6']);
    expect(account.monitor.validation).toMatchObject({ restored: true });
  });

  it('counts the HTTP clients refused before the switch back; every other connection closes with every byte', () => {
    const r = account.rollback!;
    expect(summary.refused.connections).toBeGreaterThan(0); // real clients were refused: the generator sees it
    expect(summary.failed).toBe(summary.refused.connections); // and no other connection failed
    expect(summary.refused.lastAt).toBeLessThanOrEqual(Number(r.switched_back) + 1_000_000);
    // All of them to port 80, in the handshake: idle and HTTP clients.
    expect(run.system.traffic!.generator.connections().filter((c) => c.outcome === 'failed').map((c) => [c.serverPort, c.failure])).toEqual(
      Array(summary.failed).fill([80, 'refused by the server']),
    );
    expect({ lost: summary.lost, corrupted: summary.corrupted, duplicated: summary.duplicated, reordered: summary.reordered, seqGaps: summary.seqGaps }).toEqual({
      lost: 0, corrupted: 0, duplicated: 0, reordered: 0, seqGaps: 0,
    });
  });

  it('reports the rollback with its rule and the build switch that differs', () => {
    const report = reportOf(account, 'regression-http');
    validateReport(report);
    expect(report.outcome).toBe('rolled-back');
    expect(report.decision).toMatchObject({ rule: 'critical_function', level: 1, action: 'reverse_rollback' });
    expect(report.rootCause!.configDiff).toEqual(expect.arrayContaining([{ key: 'build: define NS_FAULT_REFUSE_HTTP', to: 'define NS_FAULT_REFUSE_HTTP=100000000' }]));
  });
});
