// The audit log: its chain, its persistence, its determinism, and every way of tampering with
// the file that the chain must catch — each with the exact code and 1-based line.

import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AUDIT_CALLER_BUGS, AuditError, AuditLog, GENESIS_HASH, canonicalJson, verifyAuditFile, verifyAuditText, type AuditEntry } from '../core0/audit.ts';
import { tryLock } from '../emulator/flock.ts';
import { hicAudit } from './support/audit-cli.ts';
import { refusal as refusedWith } from './support/refusal.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'hic-audit-'));

const entry = (i: number): AuditEntry => ({
  t: i * 1_000_003,
  kind: i % 3 === 0 ? 'capGrant' : 'moduleVerified',
  sandbox: `s${i}`,
  detail: { rights: ['read', 'write'], n: i },
});

/** A log file of n records, and its text and head. */
function fixture(n = 20): { path: string; text: string; lines: string[]; head: string } {
  const path = join(tmp(), 'audit.jsonl');
  const log = AuditLog.open(path, { lock: tryLock });
  for (let i = 0; i < n; i++) log.append(entry(i));
  log.close();
  const text = readFileSync(path, 'utf8');
  return { path, text, lines: text.split('\n').slice(0, -1), head: log.head };
}
const join1 = (lines: string[]) => lines.map((l) => l + '\n').join('');

const refusal = (fn: () => unknown): AuditError => refusedWith(fn, AuditError);

describe('audit log: chain', () => {
  it('links each record to the one before, from the genesis hash', () => {
    const log = AuditLog.inMemory();
    expect(log.head).toBe(GENESIS_HASH);
    const a = log.append({ t: 5, kind: 'boot', image: 'hello' });
    const b = log.append({ t: 9, kind: 'capGrant', to: 'netstack' });
    expect([a.seq, b.seq]).toEqual([0, 1]);
    expect(a.prev).toBe(GENESIS_HASH);
    expect(b.prev).toBe(a.hash);
    expect(log.head).toBe(b.hash);
    const { hash, ...body } = b;
    expect(hash).toBe(createHash('sha256').update(a.hash + canonicalJson(body)).digest('hex'));
    expect(log.records).toEqual([a, b]);
  });

  it('records are copies: changing the entry afterwards changes nothing', () => {
    const log = AuditLog.inMemory();
    const e = { t: 1, kind: 'k', detail: { x: 1 } };
    const r = log.append(e);
    e.detail.x = 2;
    expect(r.detail).toEqual({ x: 1 });
    expect(Object.isFrozen(r)).toBe(true);
  });

  it('key order does not matter: {b:1,a:2} and {a:2,b:1} hash the same', () => {
    const x = AuditLog.inMemory().append({ t: 0, kind: 'k', b: 1, a: 2, n: { z: [1, { y: 1, x: 2 }], w: null } });
    const y = AuditLog.inMemory().append({ kind: 'k', n: { w: null, z: [1, { x: 2, y: 1 }] }, a: 2, t: 0, b: 1 });
    expect(x.hash).toBe(y.hash);
    expect(canonicalJson({ b: 1, a: [{ d: 1, c: 2 }] })).toBe('{"a":[{"c":2,"d":1}],"b":1}');
  });

  it.each([
    ['NaN', { v: NaN }, /\$\.v is NaN/],
    ['Infinity', { v: [1, Infinity] }, /\$\.v\[1\] is Infinity/],
    ['undefined', { v: undefined }, /\$\.v is a undefined/],
    ['bigint', { v: 1n }, /\$\.v is a bigint/],
    ['a class instance', { v: new Date(0) }, /\$\.v is a Date/],
  ])('refuses %s as AUDIT_UNENCODABLE, a caller bug (not a user mistake)', (_, fields, message) => {
    const log = AuditLog.inMemory();
    const thrown = refusal(() => log.append({ t: 0, kind: 'k', ...fields }));
    expect(thrown.code).toBe('AUDIT_UNENCODABLE');
    expect(AUDIT_CALLER_BUGS.has(thrown.code)).toBe(true);
    expect(thrown.message).toMatch(message);
    expect(log.head).toBe(GENESIS_HASH);
  });

  it('refuses a cycle, reserved fields and a time that is not ns', () => {
    const log = AuditLog.inMemory();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const bad = (entry: AuditEntry, code: string, message: RegExp) => {
      const e = refusal(() => log.append(entry));
      expect(e.code).toBe(code);
      expect(AUDIT_CALLER_BUGS.has(e.code)).toBe(true);
      expect(e.message).toMatch(message);
    };
    bad({ t: 0, kind: 'k', cyclic }, 'AUDIT_UNENCODABLE', /refers back to itself/);
    bad({ t: 0, kind: 'k', seq: 7 }, 'AUDIT_BAD_ENTRY', /"seq" is set by the log/);
    bad({ t: 0, kind: 'k', hash: 'x' }, 'AUDIT_BAD_ENTRY', /"hash" is set by the log/);
    bad({ t: 1.5, kind: 'k' }, 'AUDIT_BAD_ENTRY', /not a virtual time/);
    bad({ t: 0, kind: '' }, 'AUDIT_BAD_ENTRY', /non-empty kind/);
    expect(log.records).toHaveLength(0);
  });
});

describe('audit log: persistence', () => {
  it('creates parent directories; reopening continues seq and chain', () => {
    const path = join(tmp(), 'deep', 'er', 'audit.jsonl');
    const first = AuditLog.open(path, { lock: tryLock });
    for (let i = 0; i < 3; i++) first.append(entry(i));
    first.close();
    const second = AuditLog.open(path, { lock: tryLock });
    expect(second.head).toBe(first.head);
    const r = second.append(entry(3));
    expect(r.seq).toBe(3);
    expect(r.prev).toBe(first.head);
    expect(second.records).toEqual([r]);
    expect(verifyAuditFile(path)).toEqual({ ok: true, records: 4, head: r.hash });
  });

  it('lets one process append at a time: the next is refused while the first holds the lock', () => {
    const path = join(tmp(), 'audit.jsonl');
    const first = AuditLog.open(path, { lock: tryLock });
    first.append(entry(0));
    // flock(2) counts open files, not processes: a second open in this process is refused too.
    const busy = refusal(() => AuditLog.open(path, { lock: tryLock }));
    expect(busy.code).toBe('AUDIT_BUSY');
    expect(AUDIT_CALLER_BUGS.has(busy.code)).toBe(false); // the machine's state, not a bug
    expect(busy.message).toMatch(new RegExp(`process ${process.pid} is appending to this log`));
    first.close();
    expect(refusal(() => first.append(entry(1))).code).toBe('AUDIT_WRITE_FAILED');
    const second = AuditLog.open(path, { lock: tryLock });
    expect(second.append(entry(1)).seq).toBe(1);
    second.close();
    expect(verifyAuditFile(path)).toMatchObject({ ok: true, records: 2 });
  });

  it('a lock file naming a live process that holds no lock blocks nobody', () => {
    // Finding 19: the pid of an unrelated live process in the lock file blocked every boot.
    const path = join(tmp(), 'audit.jsonl');
    writeFileSync(`${path}.lock`, `${process.ppid}\n`); // the process that started this one: alive
    const log = AuditLog.open(path, { lock: tryLock });
    expect(readFileSync(`${path}.lock`, 'utf8')).toBe(`${process.pid}\n`);
    log.append(entry(0));
    log.close();
    expect(verifyAuditFile(path)).toMatchObject({ ok: true, records: 1 });
  });

  it('a holder killed with SIGKILL leaves the log free for the next process', async () => {
    const path = join(tmp(), 'audit.jsonl');
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'support', 'hold-audit-lock.ts'), path], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('held') && resolve());
      child.on('exit', (code) => reject(new Error(`holder exited with ${code} before taking the lock`)));
    });
    const busy = refusal(() => AuditLog.open(path, { lock: tryLock }));
    expect(busy.message).toMatch(new RegExp(`process ${child.pid} is appending`));
    const exited = new Promise((resolve) => child.on('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    const log = AuditLog.open(path, { lock: tryLock });
    expect(log.append(entry(1)).seq).toBe(1); // the holder's record #0 is there and verified
    log.close();
  });

  it('writes each record at once as one canonical line', () => {
    const path = join(tmp(), 'audit.jsonl');
    const log = AuditLog.open(path, { lock: tryLock });
    const r = log.append({ t: 3, kind: 'k', b: 1, a: 'x' });
    expect(readFileSync(path, 'utf8')).toBe(canonicalJson(r) + '\n');
    expect(readFileSync(path, 'utf8')).toMatch(/^\{"a":"x","b":1,"hash":"[0-9a-f]{64}","kind":"k","prev":"0{64}","seq":0,"t":3\}\n$/);
  });

  it('is deterministic: the same appends give the same bytes', () => {
    expect(fixture().text).toBe(fixture().text);
    const a = AuditLog.inMemory();
    const b = AuditLog.inMemory();
    for (let i = 0; i < 5; i++) {
      a.append(entry(i));
      b.append(entry(i));
    }
    expect(a.head).toBe(b.head);
    expect(fixture(5).head).toBe(a.head);
  });

  it('an empty file is an empty log', () => {
    const path = join(tmp(), 'audit.jsonl');
    writeFileSync(path, '');
    expect(AuditLog.open(path, { lock: tryLock }).head).toBe(GENESIS_HASH);
    expect(verifyAuditText('')).toEqual({ ok: true, records: 0, head: GENESIS_HASH });
  });

  it('stops after a failed write rather than leave a hole in the chain', () => {
    const path = join(tmp(), 'audit.jsonl');
    const log = AuditLog.open(path, { lock: tryLock });
    log.append(entry(0));
    rmSync(path);
    mkdirSync(path); // the next append hits EISDIR
    expect(refusal(() => log.append(entry(1))).code).toBe('AUDIT_WRITE_FAILED');
    rmSync(path, { recursive: true });
    expect(refusal(() => log.append(entry(1))).code).toBe('AUDIT_WRITE_FAILED');
    expect(log.records).toHaveLength(1);
  });
});

describe('audit log: tampering', () => {
  const k = 8; // 1-based line under attack
  const f = fixture();
  const verify = (text: string, head?: string) => verifyAuditText(text, { head });
  /** The fixture's text after `fn` changed its lines. */
  const edited = (fn: (lines: string[]) => void) => {
    const copy = [...f.lines];
    fn(copy);
    return join1(copy);
  };
  type Attack = string | { text: string; head: string };

  it('the untouched file verifies, with and without its head', () => {
    expect(verify(f.text)).toEqual({ ok: true, records: 20, head: f.head });
    expect(verify(f.text, f.head)).toEqual({ ok: true, records: 20, head: f.head });
    expect(verifyAuditFile(f.path)).toEqual({ ok: true, records: 20, head: f.head });
  });

  it.each<[string, () => Attack, string, number, RegExp]>([
    ['a field of line k edited', () => edited((l) => (l[k - 1] = l[k - 1]!.replace('"s7"', '"s99"'))), 'AUDIT_EDITED', k, /record #7 does not match its hash/],
    ['line k edited and re-hashed', () => edited((l) => (l[k - 1] = rehash(l[k - 1]!, { sandbox: 's99' }))), 'AUDIT_EDITED', k + 1, /does not chain to line 8/],
    ['line k deleted', () => edited((l) => l.splice(k - 1, 1)), 'AUDIT_REMOVED', k, /record #7 is missing before record #8/],
    ['lines k..k+2 deleted', () => edited((l) => l.splice(k - 1, 3)), 'AUDIT_REMOVED', k, /records #7..#9 are missing/],
    ['the first line deleted', () => edited((l) => l.shift()), 'AUDIT_REMOVED', 1, /record #0 is missing/],
    ['lines k and k+1 swapped', () => edited((l) => ([l[k - 1], l[k]] = [l[k]!, l[k - 1]!])), 'AUDIT_REORDERED', k, /record #8 comes before #7 \(line 9\)/],
    ['line k moved to the end', () => edited((l) => l.push(...l.splice(k - 1, 1))), 'AUDIT_REORDERED', k, /record #8 comes before #7 \(line 20\)/],
    ['line k duplicated', () => edited((l) => l.splice(k, 0, l[k - 1]!)), 'AUDIT_REORDERED', k + 1, /record #7 appears again \(first at line 8\)/],
    ['the last line cut mid-way', () => f.text.slice(0, f.text.length - 40), 'AUDIT_TORN', 20, /incomplete/],
    ['only the final newline lost', () => f.text.slice(0, -1), 'AUDIT_TORN', 20, /incomplete/],
    ['garbage appended', () => f.text + 'rm -rf /\n', 'AUDIT_MALFORMED', 21, /not JSON/],
    ['an empty line inserted', () => edited((l) => l.splice(k - 1, 0, '')), 'AUDIT_MALFORMED', k, /empty line/],
    ['a field removed', () => edited((l) => (l[k - 1] = JSON.stringify({ ...JSON.parse(l[k - 1]!), kind: undefined }))), 'AUDIT_MALFORMED', k, /"kind"/],
    ['CRLF line endings', () => f.text.replaceAll('\n', '\r\n'), 'AUDIT_MALFORMED', 1, /canonical form/],
    ['a number beyond JSON\'s range (1e999, read as Infinity)', () => edited((l) => (l[k - 1] = l[k - 1]!.replace('{', '{"big":1e999,'))), 'AUDIT_MALFORMED', k, /record #7 cannot be re-encoded .*\$\.big is Infinity/],
    ['the last two lines removed, head given', () => ({ text: join1(f.lines.slice(0, -2)), head: f.head }), 'AUDIT_TRUNCATED', 19, /trusted head is not in the log/],
    ['records after the trusted head', () => ({ text: f.text, head: JSON.parse(f.lines[14]!).hash }), 'AUDIT_EXTENDED', 16, /5 record\(s\) follow the trusted head \(line 15\)/],
  ])('%s', (_, make, code, line, reason) => {
    const attack = make();
    const v = typeof attack === 'string' ? verify(attack) : verify(attack.text, attack.head);
    expect(v).toMatchObject({ ok: false, code, line });
    expect(v.ok || v.reason).toMatch(reason);
  });

  it('open() refuses a corrupted file, naming the line, and leaves it untouched', () => {
    for (const [text, where] of [
      [edited((l) => (l[k - 1] = l[k - 1]!.replace('"s7"', '"s99"'))), /:8: .*\[AUDIT_EDITED\]/],
      [edited((l) => l.splice(k - 1, 1)), /:8: record #7 is missing.*\[AUDIT_REMOVED\]/],
      [f.text.slice(0, -10) + '\n', /:20: not JSON.*\[AUDIT_MALFORMED\]/],
    ] as const) {
      const path = join(tmp(), 'audit.jsonl');
      writeFileSync(path, text);
      const e = refusal(() => AuditLog.open(path, { lock: tryLock }));
      expect(e.code).toBe('AUDIT_CORRUPT');
      expect(e.message).toMatch(where);
      expect(readFileSync(path, 'utf8')).toBe(text);
    }
  });

  /** What a forger who knows the format does: change a field and recompute the record's hash. */
  function rehash(line: string, change: Record<string, unknown>): string {
    const { hash: _, ...body } = { ...JSON.parse(line), ...change };
    return canonicalJson({ ...body, hash: createHash('sha256').update(body.prev + canonicalJson(body)).digest('hex') });
  }
});

describe('hic audit', () => {
  const f = fixture();
  let stdout = '';
  let stderr = '';

  async function hic(...args: string[]): Promise<number> {
    const r = await hicAudit(...args);
    stdout = r.stdout;
    stderr = r.stderr;
    return r.code;
  }
  afterEach(() => {
    process.exitCode = 0;
  });

  it('verify: OK line and exit 0', async () => {
    expect(await hic('audit', 'verify', f.path)).toBe(0);
    expect(stdout).toBe(`${f.path}: OK, 20 records, head ${f.head}\n`);
    expect(await hic('audit', 'verify', f.path, '--head', f.head.toUpperCase())).toBe(0);
  });

  it('verify: one line naming file and line, exit 1', async () => {
    const path = join(tmp(), 'cut.jsonl');
    writeFileSync(path, join1(f.lines.slice(0, -1)));
    expect(await hic('audit', 'verify', path)).toBe(0);
    expect(await hic('audit', 'verify', path, '--head', f.head)).toBe(1);
    expect(stderr).toMatch(new RegExp(`^hic: ${path}:20: the trusted head is not in the log .*\\[AUDIT_TRUNCATED\\]\\n$`));
    expect(stdout).toBe('');
  });

  it('verify: a malformed --head is a usage error, exit 2', async () => {
    expect(await hic('audit', 'verify', f.path, '--head', 'abc')).toBe(2);
    expect(stderr).toBe('hic: --head: "abc" is not a SHA-256 hash (64 hex digits) [BAD_ARGUMENT]\n');
  });

  it('show: one record per line in virtual time, filtered by kind', async () => {
    expect(await hic('audit', 'show', f.path)).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(20);
    expect(lines[0]).toBe('[   0.000000s] #0 capGrant detail={"n":0,"rights":["read","write"]} sandbox=s0');
    expect(lines[19]).toBe('[   0.019000s] #19 moduleVerified detail={"n":19,"rights":["read","write"]} sandbox=s19');
    expect(await hic('audit', 'show', f.path, '--kind', 'capGrant')).toBe(0);
    expect(stdout.trimEnd().split('\n').map((l) => l.split(' ')[4])).toEqual(['#0', '#3', '#6', '#9', '#12', '#15', '#18']);
  });

  it('show: still prints a tampered file, then reports it and exits 1', async () => {
    const path = join(tmp(), 'torn.jsonl');
    writeFileSync(path, f.text.slice(0, -1));
    expect(await hic('audit', 'show', path)).toBe(1);
    expect(stdout.trimEnd().split('\n')).toHaveLength(20);
    expect(stderr).toMatch(/:20: last line is incomplete .*\[AUDIT_TORN\]/);
  });
});
