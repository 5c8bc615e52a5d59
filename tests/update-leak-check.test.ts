// The warm-up's leak check (seed 步骤2.4 内存泄漏检查, images/update-leaky.himg): netstack 1.3.11
// keeps a 2 KiB copy of every connection it accepts and never frees it. Its answers are 1.3.0's,
// so the compared probes agree; then the Module Manager stresses the new instance alone with 32
// more probes, each opening connections, and reads the memory Core-0 counts for the version before
// and after. It grew: allocation and release do not balance, and the new instance is discarded
// before it takes a single connection.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UpdateAccount } from '../system/update/outcome.ts';
import type { TrafficSummary } from '../traffic/summary.ts';
import { bootUpdate, type Booted } from './support/boot.ts';
import { recordsOf } from './support/kernel.ts';
import { expectDiscarded, expectWarmupFailedReport } from './support/discard.ts';

let run: Booted, summary: TrafficSummary, account: UpdateAccount;
beforeAll(async () => void ({ run, summary, account } = await bootUpdate('update-leaky')), 600_000);
afterAll(() => run?.machine.dispose());

describe('a new version that leaks a little per connection, caught by the warm-up before it serves', () => {
  it('passes the compared probes, then fails the leak check: its memory grew over the stress', () => {
    expect(run.deviations).toEqual([]);
    expect(run.system.updates.outcomes()).toEqual(['failed:warmup', 'refused:marked_bad']);
    const [w] = recordsOf(run.kernel, 'module-manager', 'warmup');
    expect(w).toMatchObject({ id: 1, probes: 3, agreed: 3, new_changed: 0, stress: 32 });
    expect(w!.new_hash).toBe(w!.old_hash);
    // One connection accepted per probe (port 80 is reset at its SYN-ACK), 2 KiB each: 32 probes fill one 64 KiB arena more.
    expect(Number(w!.memory_after) - Number(w!.memory_before)).toBe(64 * 1024);
    expect(account.failedChecks).toEqual(['memory_balance']);
    expect(account.end).toMatchObject({ outcome: 'failed', failed_step: 'warmup', moved: 0, snapshot: 0 });
  });

  it('destroys the new instance, marks 1.3.11 bad, and 1.2.0 serves every connection, whole', () => {
    expectDiscarded(run, account, summary, '1.3.11');
  });

  it('reports the failed warm-up with the failed check', () => {
    const report = expectWarmupFailedReport(account, 'update-leaky');
    expect(report.checks).toEqual(expect.arrayContaining([{ name: 'memory_balance', ok: false }]));
  });
});
