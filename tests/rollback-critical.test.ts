// A critical function that fails completely, rolled back (images/regression-http.himg): netstack
// 1.3.6 stops listening on port 80 100 ms after it starts, in the middle of the migration; the
// connections it holds go on. The Monitor's loopback probe finds its connection to port 80
// refused -- a function 1.2.0 passed when the watch began -- and the seed's row "a critical
// function fails completely" (§4.2) calls for a reverse rollback: every connection moves back.
// The HTTP clients 1.3.6 refused before the switch back are counted, and nothing else fails.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UpdateAccount } from '../system/update/outcome.ts';
import type { TrafficSummary } from '../traffic/summary.ts';
import { bootUpdate, type Booted } from './support/boot.ts';
import { expectEveryByte, expectFaultSwitchReport, expectReverseRollback } from './support/rollback.ts';

const INTERVAL = 20_000_000; // the image's Monitor interval
const PROBE_HTTP = 1; // hic/netstack_probe.h: NS_PROBE_HTTP

let run: Booted, summary: TrafficSummary, account: UpdateAccount;
beforeAll(async () => void ({ run, summary, account } = await bootUpdate('regression-http')), 600_000);
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
    expectReverseRollback(run, account, 'critical_function', 'netstack-1-3-6');
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
    expectEveryByte(summary);
  });

  it('reports the rollback with its rule and the build switch that differs', () => {
    expectFaultSwitchReport(account, 'regression-http', 'critical_function', 'NS_FAULT_REFUSE_HTTP', '100000000');
  });
});
