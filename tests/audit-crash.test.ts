// The audit log under a host killed mid-run. The kernel seals its records in batches, at slice
// boundaries and before anything leaves the process (docs/reliability.md#audit-records-in-batches),
// so a SIGKILL may cost the records of the last batch but never the chain: what is on disk must
// be a prefix of the log an uninterrupted boot writes — the same lines, byte for byte, perhaps
// ending in a torn one — it must verify, and the next boot must open it and go on.
//
// images/audit-flood.himg writes ~16,000 records in a few seconds of host time: one full boot, and
// boots killed once their log has passed a given size, all running side by side.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AuditLog, verifyAuditFile } from '../core0/audit.ts';
import { tryLock } from '../emulator/flock.ts';
import { REPO } from './support/boot.ts';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** `hic boot images/audit-flood.himg` into a fresh data directory; killed once its log reaches `killAt` bytes. */
function boot(killAt?: number): Promise<{ log: string; signal: NodeJS.Signals | null; status: number | null }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hic-audit-crash-'));
  dirs.push(dataDir);
  const log = join(dataDir, 'audit.jsonl');
  const child = spawn(process.execPath, [join(REPO, 'bin', 'hic.mjs'), 'boot', 'images/audit-flood.himg', '--quiet', '--data-dir', dataDir], {
    cwd: REPO,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const watch =
    killAt === undefined
      ? undefined
      : setInterval(() => {
          if (existsSync(log) && statSync(log).size >= killAt) child.kill('SIGKILL');
        }, 2);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearInterval(watch);
      if (signal === null && status !== 0) reject(new Error(`hic boot exited ${status}: ${stderr}`));
      else resolve({ log, signal, status });
    });
  });
}

describe('audit log: a host killed with SIGKILL mid-run', () => {
  it('leaves a prefix of the full log that verifies, and the next boot goes on from it', async () => {
    const [full, ...killed] = await Promise.all([boot(), boot(64 << 10), boot(1 << 20)]);
    expect(full.status).toBe(0);
    const whole = readFileSync(full.log, 'utf8');
    expect(verifyAuditFile(full.log)).toMatchObject({ ok: true });
    expect(whole.split('\n').length).toBeGreaterThan(10_000);

    for (const k of killed) {
      expect(k.signal).toBe('SIGKILL');
      const text = readFileSync(k.log, 'utf8');
      expect(text.length).toBeGreaterThan(0);
      expect(text.length).toBeLessThan(whole.length); // killed mid-run
      expect(whole.startsWith(text)).toBe(true); // the same records, in the same places
      const complete = text.slice(0, text.lastIndexOf('\n') + 1);
      const lines = complete.split('\n').length - 1;
      const v = verifyAuditFile(k.log);
      if (complete === text) expect(v).toMatchObject({ ok: true, records: lines });
      else expect(v).toMatchObject({ ok: false, code: 'AUDIT_TORN', line: lines + 1 }); // a write cut short

      // The next boot sets a torn tail aside and continues the chain after the last whole record.
      const next = AuditLog.open(k.log, { lock: tryLock });
      try {
        expect(next.append({ t: 0, kind: 'afterCrash' }).seq).toBe(lines + (complete === text ? 0 : 1));
      } finally {
        next.close();
      }
      expect(verifyAuditFile(k.log)).toMatchObject({ ok: true });
    }
  }, 300_000);
});
