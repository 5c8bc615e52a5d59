// An error rate above 5 %, rolled back (images/regression-errors.himg): netstack 1.3.8 answers 60
// of every 1000 HTTP requests with a 503 instead of asking the web server. The responses are well
// formed and in step, so only their status shows it. The Monitor reads the new instance's HTTP
// requests and server errors from its stats endpoint each interval; once its watch has covered the
// window of the seed's row "服务错误率 > 5 %" (§4.2) with the rate above 5 %, it calls for a reverse
// rollback, and every connection moves back. The 503s the clients got before the switch back are
// counted; after it, every request is answered by the web server.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UpdateAccount } from '../system/update/outcome.ts';
import type { TrafficSummary } from '../traffic/summary.ts';
import { bootUpdate, type Booted } from './support/boot.ts';
import { expectEveryByte, expectFaultSwitchReport, expectReverseRollback } from './support/rollback.ts';

const WINDOW = 200_000_000; // the error-rate row's 10 minutes at the image's time scale (3000)
const INTERVAL = 20_000_000; // the image's Monitor interval

let run: Booted, summary: TrafficSummary, account: UpdateAccount;
beforeAll(async () => void ({ run, summary, account } = await bootUpdate('regression-errors')), 600_000);
afterAll(() => run?.machine.dispose());

describe('a new version that answers 6 % of HTTP requests with a server error, rolled back', () => {
  it('ends rolled back on the "error_rate" rule, as the image expects', () => {
    expect(run.deviations).toEqual([]);
    expect(run.system.updates.outcomes()).toEqual(['rolled_back:error_rate']);
    expect(account.monitor.verdict).toMatchObject({ action: 'reverse_rollback', rule: 'error_rate', level: 1 });
    expect(Number(account.monitor.verdict!.score)).toBeGreaterThanOrEqual(920);
  });

  it('counts the errors from the instance itself, and fires once the window is covered above 5 %', () => {
    const samples = account.monitor.samples;
    const requests = samples.reduce((n, s) => n + Number(s.http_requests), 0);
    const errors = samples.reduce((n, s) => n + Number(s.http_errors), 0);
    expect(requests).toBeGreaterThan(200); // enough to judge a share of
    expect(errors / requests).toBeGreaterThan(0.05);
    expect(errors / requests).toBeLessThan(0.07); // 60 per 1000, spread evenly
    const decision = account.monitor.decisions.find((d) => d.rule === 'error_rate')!;
    const watched = account.monitor.samples[0]!.tNs;
    expect(decision.tNs - watched).toBeGreaterThanOrEqual(WINDOW - INTERVAL); // not before the window is covered ...
    expect(decision.tNs - watched).toBeLessThanOrEqual(WINDOW + 2 * INTERVAL); // ... and at once then
    const alert = account.monitor.alerts.find((a) => a.rule === 'error_rate')!;
    expect(alert).toMatchObject({ level: 'P0', audit: true, suppressed: false });
    expect(account.monitor.cause).toMatchObject({ cause: 'code' });
  });

  it('moves every connection back and marks 1.3.8 bad', () => {
    expectReverseRollback(run, account, 'error_rate', 'netstack-1-3-8');
  });

  it('the clients saw the 503s until the switch back and none after; every connection closes with every byte', () => {
    const r = account.rollback!;
    expect(summary.serverErrors.responses).toBeGreaterThan(0);
    expect(summary.serverErrors.lastAt).toBeLessThanOrEqual(Number(r.switched_back) + 1_000_000);
    // What the instance counted sending is what the clients counted receiving.
    expect(summary.serverErrors.responses).toBe(account.monitor.samples.reduce((n, s) => n + Number(s.http_errors), 0));
    expect({ closed: summary.closed, failed: summary.failed, httpErrors: summary.httpErrors }).toEqual({ closed: 1000, failed: 0, httpErrors: 0 });
    expectEveryByte(summary);
  });

  it('reports the rollback with its rule and the build switch that differs', () => {
    expectFaultSwitchReport(account, 'regression-errors', 'error_rate', 'NS_FAULT_ERRORS', '60');
  });
});
