// A memory leak, alerted and left to run (images/regression-leak.himg): netstack 1.3.10 keeps a
// 16-byte trace entry of every frame it receives and never trims the trace. It answers everything
// as 1.3.0 does; only the memory Core-0 counts for it grows. The seed's row "资源泄漏 > 100MB/小时"
// (§4.2) is a medium failure whose action is to alert, continue and watch: the Monitor fits a trend
// to the memory of the new version's live sandboxes (module_health), and once its watch has covered
// the row's hour above 100 MiB an hour it raises a P2 alert and asks for nothing. The update
// completes and its rollback window runs out. The healthy update (rolling-update.himg) holds its
// memory flat and raises no alert at all (its image expects `"alerts": []`).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UpdateAccount } from '../system/update/outcome.ts';
import type { TrafficSummary } from '../traffic/summary.ts';
import { bootUpdate, type Booted } from './support/boot.ts';
import { expectEveryByte } from './support/rollback.ts';

const HOUR = 1_200_000_000; // the leak row's hour at the image's time scale (3000)
const INTERVAL = 20_000_000; // the image's Monitor interval
const THRESHOLD_KIB_PER_HOUR = 100 * 1024; // the seed's 100 MB an hour

let run: Booted, summary: TrafficSummary, account: UpdateAccount;
beforeAll(async () => void ({ run, summary, account } = await bootUpdate('regression-leak')), 600_000);
afterAll(() => run?.machine.dispose());

describe('a new version that leaks memory, alerted and left to run', () => {
  it('completes, and the only alert the operator gets is the leak, P2, kept out of the audit log', () => {
    expect(run.deviations).toEqual([]);
    expect(run.system.updates.outcomes()).toEqual(['completed']);
    expect(run.system.updates.alertRules()).toEqual(['leak']);
    const sent = account.monitor.alerts.filter((a) => !a.suppressed);
    expect(sent.length).toBeGreaterThan(0);
    for (const a of sent) expect(a).toMatchObject({ rule: 'leak', level: 'P2', audit: false });
    expect(account.monitor.verdict).toBeUndefined();
    expect(account.window).toMatchObject({ state: 'expired', rule: 'none' });
  });

  it('sees the memory grow in Core-0\'s figure, and fires once the watch has covered the hour', () => {
    const samples = account.monitor.samples;
    const memory = samples.map((s) => Number(s.memory));
    expect(memory.every((m, i) => i === 0 || m >= memory[i - 1]!)).toBe(true); // a leak never gives back
    expect(memory.at(-1)! - memory[0]!).toBeGreaterThanOrEqual(64 * 8); // arenas of 64 KiB, several of them
    const decision = account.monitor.decisions.find((d) => d.rule === 'leak')!;
    expect(decision).toMatchObject({ action: 'continue', level: 3, execute: false });
    const watched = samples[0]!.tNs;
    expect(decision.tNs - watched).toBeGreaterThanOrEqual(HOUR - INTERVAL); // not before the hour is covered ...
    expect(decision.tNs - watched).toBeLessThanOrEqual(HOUR + 2 * INTERVAL); // ... and at once then
    const alert = account.monitor.alerts.find((a) => a.rule === 'leak')!;
    expect(alert.tNs - decision.tNs).toBeGreaterThanOrEqual(0); // raised by that decision, in the same interval
    expect(alert.tNs - decision.tNs).toBeLessThan(INTERVAL);
    // The figure is the trend's slope in KiB an hour of virtual time, well past the seed's 100 MB.
    expect(alert.value).toBeGreaterThan(10 * THRESHOLD_KIB_PER_HOUR);
    expect(alert.message).toBe(`memory growing ${(alert.value / 1024).toFixed(1)} MiB/h`);
  });

  it('costs no connection and no byte: the leak is alerted, not rolled back', () => {
    expect(account.rollback).toBeUndefined();
    expect({ closed: summary.closed, failed: summary.failed, httpErrors: summary.httpErrors }).toEqual({ closed: 1000, failed: 0, httpErrors: 0 });
    expectEveryByte(summary);
  });
});
