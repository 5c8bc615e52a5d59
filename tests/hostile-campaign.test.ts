// The hostile-guest campaign (images/fuzz.himg): a syscall fuzzer making a million random
// syscalls from a seeded PRNG and a resource hog taking everything it can, round after round,
// beside hello and a canary. Each run checks that the host survived, the neighbours ran to their
// normal exits, the canary's memory is untouched, the frame pool balances once every sandbox has
// ended, the audit log verifies, and the same seed gives the same event log.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog, verifyAuditFile } from '../core0/audit.ts';
import { tryLock } from '../emulator/flock.ts';
import { bootImage, REPO, type Booted } from './support/boot.ts';

const CALLS = 1_000_000;

function image(calls: number, seed: number): { label: string; image: object } {
  const m = JSON.parse(readFileSync(join(REPO, 'images', 'fuzz.himg'), 'utf8')) as { sandboxes: { name: string; config?: object }[] };
  m.sandboxes.find((s) => s.name === 'fuzzer')!.config = { seed, calls };
  return { label: `images/fuzz.himg (${calls} calls, seed ${seed})`, image: m };
}

describe('the hostile-guest campaign', () => {
  let dir: string;
  let run: Booted;
  let audit: AuditLog;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hic-campaign-'));
    audit = AuditLog.open(join(dir, 'audit.jsonl'), { lock: tryLock });
    run = await bootImage(image(CALLS, 1), { audit });
    audit.close();
  }, 600_000);
  afterAll(() => {
    run?.machine.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(`the fuzzer made ${CALLS} syscalls, and every sandbox ended as it should`, () => {
    expect(run.deviations).toEqual([]);
    expect(run.outcome).toEqual({ exits: { hello: 0, canary: 0, exhaust: 0, fuzzer: 0 }, faults: {} });
    // The last record each wrote: the fuzzer's random calls include the record syscall itself.
    const record = (sandbox: string) => run.kernel.events.of('record').filter((e) => e.sandbox === sandbox).at(-1);
    const summary = record('fuzzer')!.fields as { calls: number; succeeded: number; refused: number; out_of_range: number };
    expect(summary).toMatchObject({ calls: CALLS, out_of_range: 0 });
    expect(summary.succeeded + summary.refused).toBe(CALLS);
    expect(record('canary')).toMatchObject({ type: 'intact', fields: { checks: 200 } });
    expect(record('exhaust')).toMatchObject({ type: 'done', fields: { rounds: 5, failures: 0 } });
    expect((record('exhaust')!.fields as { names: number }).names).toBe(32);
  });

  it('the frame pool balances once every sandbox has ended', () => {
    expect(run.machine.frames.accounting().allocated).toBe(0);
    const destroyed = run.kernel.events.of('sandboxDestroyed').map((e) => e.sandbox).sort();
    expect(destroyed).toEqual(['canary', 'exhaust', 'fuzzer', 'hello']);
  });

  it('the audit log verifies', () => {
    const verdict = verifyAuditFile(join(dir, 'audit.jsonl'));
    expect(verdict).toMatchObject({ ok: true });
    expect(audit.records.length).toBeGreaterThan(100);
  });

  it('the same seed gives the same event log, another seed another', async () => {
    const logs: string[] = [];
    for (const seed of [7, 7, 8]) {
      const r = await bootImage(image(100_000, seed));
      expect(r.deviations).toEqual([]);
      logs.push(r.logHash);
      r.machine.dispose();
    }
    expect(logs[1]).toBe(logs[0]);
    expect(logs[2]).not.toBe(logs[0]);
  }, 600_000);
});
