// Version garbage collection (images/version-gc.himg, seed 步骤4.3 清理旧版本): netstack 1.2.0 →
// 1.3.0 → 1.3.12 under traffic, the GC delay scaled to 200 ms. Each replaced version becomes
// collectable when its update's rollback window expires; the newest collectable one is always
// kept; an older one is collected once it has waited the delay, by Core-0's module_collect, and a
// later request for it finds no such version. Every cut of the run's journal recovers the
// collection too (bootUpdate checks them).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrafficSummary } from '../traffic/summary.ts';
import { bootUpdate, type Booted } from './support/boot.ts';
import { recordsOf } from './support/kernel.ts';
import { expectEveryByte } from './support/rollback.ts';

const V = (s: string) => s.split('.').reduce((n, x) => n * 256 + Number(x), 0);
const GC_AFTER = 200_000_000; // the image's gc_after

let run: Booted, summary: TrafficSummary;
beforeAll(async () => void ({ run, summary } = await bootUpdate('version-gc')), 600_000);
afterAll(() => run?.machine.dispose());

describe('version garbage collection after two updates', () => {
  it('completes both updates, and refuses the collected version later asked for: no such version', () => {
    expect(run.deviations).toEqual([]);
    expect(run.system.updates.outcomes()).toEqual(['completed', 'completed', 'refused:no_such_version']);
    expect(recordsOf(run.kernel, 'module-manager', 'refused')).toMatchObject([{ id: 3, reason: 'no_such_version', code: 7, from: V('1.3.12') }]); // HIC_ERR_NOT_FOUND
  });

  it('marks each replaced version collectable as its window expires, keeps the newest, and collects the older once it has waited', () => {
    const gc = recordsOf(run.kernel, 'module-manager', 'gc');
    const expired = recordsOf(run.kernel, 'module-manager', 'window').filter((w) => w.state === 'expired');
    expect(expired.map((w) => w.id)).toEqual([1, 2]);
    expect(gc.map((r) => [r.version, r.state])).toEqual([
      [V('1.2.0'), 'collectable'],
      [V('1.3.0'), 'collectable'],
      [V('1.2.0'), 'collected'], // due long before, but kept while it was the newest
    ]);
    // Each as its window closed (the window's record, then the Module Manager's own, within a millisecond).
    const at = [expired[0]!.t, expired[1]!.t, expired[1]!.t];
    gc.forEach((r, i) => expect(r.t - at[i]!).toBeGreaterThanOrEqual(0));
    gc.forEach((r, i) => expect(r.t - at[i]!).toBeLessThan(1_000_000));
    expect(expired[1]!.t - expired[0]!.t).toBeGreaterThan(GC_AFTER);
  });

  it('is Core-0\'s to carry out: one moduleCollected event, audited, and in the journal', () => {
    expect(run.kernel.events.of('moduleCollected').map((e) => [e.module, e.version, e.by])).toEqual([['netstack', '1.2.0', 'module-manager']]);
    expect(run.kernel.audit.records.filter((r) => r.kind === 'moduleCollected')).toMatchObject([{ module: 'netstack', version: '1.2.0', by: 'module-manager' }]);
    // The query that refused request 3 verified nothing: the repository still holds 1.2.0, the machine does not.
    const verified = run.kernel.events.of('moduleVerified').filter((e) => e.module === 'netstack').map((e) => e.version);
    expect(verified.filter((v) => v === '1.2.0').length).toBe(1); // the boot's
  });

  it('loses no byte through either update', () => {
    expect(summary.failed).toBe(0);
    expectEveryByte(summary);
  });
});
