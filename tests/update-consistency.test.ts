// The warm-up's consistency check (seed 步骤2.4, images/update-inconsistent.himg): netstack 1.3.5
// echoes every chunk with one byte changed from the moment it starts. The Module Manager sends
// the same loopback probes to 1.2.0 and to the new instance before a single connection moves; the
// answers differ, so it discards the new instance -- ABORT at both, the sandbox destroyed, the
// version marked bad -- and 1.2.0 serves on alone with every connection whole.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UpdateAccount } from '../system/update/outcome.ts';
import type { TrafficSummary } from '../traffic/summary.ts';
import { bootUpdate, type Booted } from './support/boot.ts';
import { recordsOf } from './support/kernel.ts';
import { expectDiscarded, expectWarmupFailedReport } from './support/discard.ts';

let run: Booted, summary: TrafficSummary, account: UpdateAccount;
beforeAll(async () => void ({ run, summary, account } = await bootUpdate('update-inconsistent')), 600_000);
afterAll(() => run?.machine.dispose());

describe('a new version whose loopback probes answer differently, discarded before it serves', () => {
  it('fails at the warm-up, and the same request later is refused as marked bad', () => {
    expect(run.deviations).toEqual([]);
    expect(run.system.updates.outcomes()).toEqual(['failed:warmup', 'refused:marked_bad']);
    expect(account.end).toMatchObject({ outcome: 'failed', failed_step: 'warmup', moved: 0, snapshot: 0 });
    expect(account.steps.map((s) => `${s.phase}:${s.step}:${s.state}`)).toEqual(expect.arrayContaining(['2:handshake:ok', '2:warmup:failed', '5:rollback_reclaim:ok']));
    expect(account.steps.filter((s) => s.step === 'snapshot' || s.step === 'migrate')).toEqual([]); // nothing moved
  });

  it('says how the answers differ: the same functions pass, one echoed byte changed, the transcripts hash apart', () => {
    const [w] = recordsOf(run.kernel, 'module-manager', 'warmup');
    expect(w).toMatchObject({ id: 1, probes: 3, agreed: 0, old_failed: 0, new_failed: 0, new_changed: 1, old_time: 0, new_time: 0 });
    expect(w).toMatchObject({ stress: 0, memory_before: 0, memory_after: 0 }); // the leak check comes after, and did not run
    expect(w!.new_hash).not.toBe(w!.old_hash);
    expect(account.failedChecks).toEqual(['same_answers']);
  });

  it('destroys the new instance, marks 1.3.5 bad and leaves 1.2.0 serving every connection, whole', () => {
    expectDiscarded(run, account, summary, '1.3.5');
  });

  it('reports the failed warm-up', () => {
    expectWarmupFailedReport(account, 'update-inconsistent');
  });
});
