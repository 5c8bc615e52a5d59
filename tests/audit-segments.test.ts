// The audit log at scale and across crashes: a log bigger than any string opens and verifies;
// segments sealed by size with the chain running across files, every tampering of a segment caught
// by `hic audit verify` with the file and line; the checkpoint that lets a boot verify only what is
// new and refuses a log cut back behind it; a torn last line set aside and audited.

import { appendFileSync, copyFileSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AuditError, AuditLog, checkpointPath, segmentFiles, verifyAuditFile, type AuditEntry } from '../core0/audit.ts';
import { tryLock } from '../emulator/flock.ts';
import { hicAudit } from './support/audit-cli.ts';
import { refusal as refusedWith } from './support/refusal.ts';
import { runNode } from './support/run-node.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'hic-audit-seg-'));
const open = (path: string, segmentBytes?: number) => AuditLog.open(path, { lock: tryLock, ...(segmentBytes ? { segmentBytes } : {}) });
const entry = (i: number): AuditEntry => ({ t: i * 1000, kind: 'capRevoked', sandbox: `s${i % 7}`, type: 'endpoint', revoked: i });

/** A log of n records in segments of about `segmentBytes` (each record is ~180 bytes). */
function segmented(n: number, segmentBytes = 1000): { log: string; head: string } {
  const log = join(tmp(), 'audit.jsonl');
  const a = open(log, segmentBytes);
  for (let i = 0; i < n; i++) a.append(entry(i));
  a.close();
  return { log, head: a.head };
}

const refusal = (fn: () => unknown): AuditError => refusedWith(fn, AuditError);

const linesOf = (file: string) => readFileSync(file, 'utf8').split('\n').slice(0, -1);
const writeLines = (file: string, lines: string[]) => writeFileSync(file, lines.map((l) => l + '\n').join(''));

describe('a log larger than the largest string', () => {
  it('opens, verifies and continues (it once failed every boot with "Cannot create a string longer than 0x1fffffe8 characters")', async () => {
    const log = join(tmp(), 'audit.jsonl');
    const pad = 'x'.repeat(900_000); // a line just under the 1 MiB line limit
    const a = open(log, Number.MAX_SAFE_INTEGER); // one segment, as a log written before segments was
    const n = 600; // 600 × 900 kB = 540 MB > 0x1fffffe8 characters
    for (let i = 0; i < n; i++) a.append({ t: i, kind: 'capRevoked', sandbox: 'flood', pad });
    a.close();
    expect(statSync(log).size).toBeGreaterThan(0x1fffffe8);
    unlinkSync(checkpointPath(log)); // make the next open verify every record, as before checkpoints
    // Opened in a process whose heap (64 MiB) is an eighth of the log: only a streamed read fits.
    const opened = await runNode(['--max-old-space-size=64', '--import', 'tsx', join(import.meta.dirname, 'support', 'audit-open.ts'), log, String(64 << 20), String(n)]);
    expect(opened.stderr).toBe('');
    expect(opened.status).toBe(0);
    expect(JSON.parse(opened.stdout)).toEqual({ seq: n, sealed: 1 }); // the oversized segment was sealed when it was opened
    const c = open(log, 64 << 20); // from the checkpoint: nothing left to verify
    expect(c.append({ t: n + 1, kind: 'k' }).seq).toBe(n + 1);
    c.close();
    for (const f of segmentFiles(log)) rmSync(f);
  }, 120_000);
});

describe('segments', () => {
  it('are sealed by size, numbered, and chained across files', () => {
    const { log, head } = segmented(40);
    const files = segmentFiles(log);
    expect(files.length).toBeGreaterThan(4);
    expect(files.at(0)).toMatch(/audit\.000001\.jsonl$/);
    expect(files.at(-1)).toBe(log);
    const first = JSON.parse(linesOf(files[1]!)[0]!);
    const lastOfPrevious = JSON.parse(linesOf(files[0]!).at(-1)!);
    expect(first.prev).toBe(lastOfPrevious.hash);
    expect(first.seq).toBe(lastOfPrevious.seq + 1);
    expect(verifyAuditFile(log)).toEqual({ ok: true, records: 40, head });
    expect(verifyAuditFile(files[0]!)).toEqual({ ok: true, records: 40, head }); // a segment names its log
    const again = open(log, 1000);
    expect(again.append(entry(40)).seq).toBe(40);
    again.close();
  });

  it.each<[string, (files: string[]) => void, string, RegExp, RegExp]>([
    ['a sealed segment deleted', (f) => unlinkSync(f[1]!), 'AUDIT_REMOVED', /audit\.000003\.jsonl$/, /records #\d+\.\.#\d+ are missing/],
    ['two sealed segments swapped', (f) => {
      renameSync(f[0]!, `${f[0]}.x`);
      renameSync(f[1]!, f[0]!);
      renameSync(`${f[0]}.x`, f[1]!);
    }, 'AUDIT_REORDERED', /audit\.000001\.jsonl$/, /comes before #0 \(.*audit\.000002\.jsonl:1\)/],
    ['a line edited in a sealed segment', (f) => {
      const l = linesOf(f[1]!);
      l[2] = l[2]!.replace('"endpoint"', '"notification"');
      writeLines(f[1]!, l);
    }, 'AUDIT_EDITED', /audit\.000002\.jsonl$/, /does not match its hash/],
    ['a line moved from a sealed segment to the active one', (f) => {
      const l = linesOf(f[1]!);
      const [moved] = l.splice(1, 1);
      writeLines(f[1]!, l);
      appendFileSync(f.at(-1)!, moved + '\n');
    }, 'AUDIT_REORDERED', /audit\.000002\.jsonl$/, /comes before #\d+ \(.*audit\.jsonl:\d+\)/],
  ])('%s: hic audit verify names the file and line', (_, tamper, code, file, reason) => {
    const { log } = segmented(40);
    tamper(segmentFiles(log));
    const v = verifyAuditFile(log);
    expect(v).toMatchObject({ ok: false, code });
    if (v.ok) return;
    expect(v.file).toMatch(file);
    expect(v.reason).toMatch(reason);
    expect(refusal(() => open(log, 1000)).code).toBe('AUDIT_CORRUPT'); // and no boot appends to it
  });

  it('hic audit verify and show read every segment; a data directory names its audit.jsonl', async () => {
    const { log, head } = segmented(25);
    const dir = join(log, '..');
    const r = await hic('audit', 'verify', dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`audit\\.jsonl: OK, 25 records in \\d+ segments, head ${head}\\n$`));
    const s = await hic('audit', 'show', log);
    expect(s.code).toBe(0);
    expect(s.stdout.trimEnd().split('\n').map((l) => l.split(' ')[4])).toEqual(Array.from({ length: 25 }, (_, i) => `#${i}`));
  });
});

describe('checkpoint', () => {
  it('lets a boot verify only what follows it; hic audit verify still checks everything', () => {
    const { log } = segmented(30, 1 << 20);
    // An edit before the checkpoint that keeps the size: a boot does not read that far back…
    const l = linesOf(log);
    l[3] = l[3]!.replace('"s3"', '"s9"');
    writeLines(log, l);
    const b = open(log);
    b.append(entry(30));
    b.close();
    // …the full check does.
    expect(verifyAuditFile(log)).toMatchObject({ ok: false, code: 'AUDIT_EDITED', line: 4 });
  });

  it('records appended after it (a process that never closed) are verified at the next open', () => {
    const { log } = segmented(10, 1 << 20);
    const cp = readFileSync(checkpointPath(log));
    const b = open(log);
    for (let i = 10; i < 15; i++) b.append(entry(i));
    b.close();
    writeFileSync(checkpointPath(log), cp); // as if the process had died before closing
    const l = linesOf(log);
    l[12] = l[12]!.replace('"s5"', '"s6"');
    writeLines(log, l);
    expect(refusal(() => open(log)).message).toMatch(/audit\.jsonl:13: record #12 does not match its hash \[AUDIT_EDITED\]/);
  });

  it.each<[string, (log: string, older: string) => void, RegExp]>([
    ['the last records removed', (log) => writeLines(log, linesOf(log).slice(0, -2)), /\[AUDIT_TRUNCATED\]/],
    ['an older copy of the log restored', (log, older) => copyFileSync(older, log), /\[AUDIT_TRUNCATED\]/],
    ['the whole log deleted', (log) => unlinkSync(log), /\[AUDIT_TRUNCATED\]/],
  ])('refuses a log cut back behind it: %s', (_, cut, message) => {
    const { log } = segmented(10, 1 << 20);
    const older = `${log}.older`;
    copyFileSync(log, older);
    const b = open(log);
    for (let i = 10; i < 15; i++) b.append(entry(i));
    b.close();
    cut(log, older);
    expect(verifyAuditFile(existsSync(log) ? log : older)).toMatchObject({ ok: true }); // the chain alone sees nothing wrong
    const e = refusal(() => open(log));
    expect(e.code).toBe('AUDIT_CORRUPT');
    expect(e.message).toMatch(message);
    expect(e.message).toMatch(/records were removed from the end, or an older copy of the log was restored/);
  });

  it('refuses a sealed segment that changed size or vanished, and a damaged checkpoint', () => {
    const a = segmented(40);
    const files = segmentFiles(a.log);
    appendFileSync(files[1]!, linesOf(files[1]!).at(-1)! + '\n');
    expect(refusal(() => open(a.log, 1000)).message).toMatch(/audit\.000002\.jsonl:1: sealed segment 2 is \d+ bytes; the checkpoint recorded \d+.*\[AUDIT_EDITED\]/);

    const b = segmented(40);
    const last = segmentFiles(b.log).at(-2)!;
    unlinkSync(last);
    expect(refusal(() => open(b.log, 1000)).message).toMatch(/sealed segment \d+ is gone; the checkpoint recorded it.*\[AUDIT_REMOVED\]/);

    const c = segmented(5);
    const cp = JSON.parse(readFileSync(checkpointPath(c.log), 'utf8'));
    writeFileSync(checkpointPath(c.log), JSON.stringify({ ...cp, records: cp.records - 1 }));
    expect(refusal(() => open(c.log)).message).toMatch(/audit\.checkpoint: does not match its own hash/);
    unlinkSync(checkpointPath(c.log)); // what the message advises, once the log is verified
    expect(verifyAuditFile(c.log)).toMatchObject({ ok: true, records: 5 });
    open(c.log).close();
  });

  it('a crash while sealing a segment (renamed, checkpoint not yet rewritten) loses nothing', () => {
    const { log } = segmented(12, 1 << 20); // one segment, the checkpoint at its end
    renameSync(log, log.replace(/\.jsonl$/, '.000001.jsonl')); // what rotate() does first
    const b = open(log, 1 << 20);
    expect(b.append(entry(12)).seq).toBe(12);
    b.close();
    expect(segmentFiles(log)).toHaveLength(2);
    expect(verifyAuditFile(log)).toMatchObject({ ok: true, records: 13 });
    open(log, 1 << 20).close(); // and the checkpoint written after it is good for the next boot
  });

  it('a torn last line (a write cut short) is set aside and the repair audited', () => {
    const { log } = segmented(6, 1 << 20);
    const torn = '{"kind":"capRevoked","prev":"ab';
    appendFileSync(log, torn);
    const b = open(log);
    const r = b.records[0]!;
    expect(r).toMatchObject({ kind: 'auditTornTail', bytes: torn.length, savedAs: expect.stringMatching(/^audit\.jsonl\.torn-\d+$/) });
    expect(readFileSync(join(log, '..', r.savedAs as string), 'utf8')).toBe(torn);
    b.close();
    expect(verifyAuditFile(log)).toMatchObject({ ok: true, records: 7 });
  });
});

const hic = hicAudit;
