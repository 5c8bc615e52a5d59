// What one sandbox can make the kernel audit: a burst, then a steady rate in virtual time, the
// overflow counted and audited as summary records. First the limiter on its own, then through the
// kernel: a host sandbox flooding cap_revoke (each call an audited capRevoked) through the same
// dispatch table a guest uses, and a real guest doing it 200,000 times beside hello.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog, DEFAULT_AUDIT_LIMITS, SUPPRESSED_KIND, verifyAuditFile, type AuditEntry } from '../core0/audit.ts';
import { AuditLimiter } from '../core0/audit/limiter.ts';
import { Right } from '../core0/abi/abi.ts';
import { HostClient } from '../core0/host-client.ts';
import { Kernel } from '../core0/kernel.ts';
import { tryLock } from '../emulator/flock.ts';
import { UnicornMachine } from '../emulator/machine.ts';
import { bootImage, builtWorkspace } from './support/boot.ts';

const SECOND = 1_000_000_000;
const revoked = (t: number, sandbox = 'flood'): AuditEntry => ({ t, kind: 'capRevoked', sandbox, type: 'endpoint', revoked: 0 });

describe('limiter', () => {
  it('admits a burst, then suppresses and counts, and summarises before an admitted record at most once a virtual second', () => {
    const l = new AuditLimiter({ burst: 3, perSecond: 2 });
    const out = (e: AuditEntry) => l.admit(e).map((x) => x.kind);
    expect([0, 1, 2].map((i) => out(revoked(i)))).toEqual([['capRevoked'], ['capRevoked'], ['capRevoked']]);
    expect(out(revoked(3))).toEqual([]);
    expect(out({ t: 4, kind: 'endpointRegistered', sandbox: 'flood', name: 'x' })).toEqual([]);
    // Half a virtual second later one token is back: the record, its summary not yet due.
    expect(out(revoked(SECOND / 2))).toEqual(['capRevoked']);
    expect(out(revoked(0.6 * SECOND))).toEqual([]);
    // A second after the bucket was first used: the summary, then the record.
    expect(l.admit(revoked(1.5 * SECOND))).toEqual([
      { t: 1.5 * SECOND, kind: SUPPRESSED_KIND, sandbox: 'flood', suppressed: 3, kinds: { capRevoked: 2, endpointRegistered: 1 }, since: 3, until: 0.6 * SECOND },
      revoked(1.5 * SECOND),
    ]);
  });

  it('charges each sandbox on its own, and the actor, not the subject, of a transfer or switch', () => {
    const l = new AuditLimiter({ burst: 1, perSecond: 0 });
    expect(l.admit(revoked(0, 'a'))).toHaveLength(1);
    expect(l.admit(revoked(0, 'b'))).toHaveLength(1);
    expect(l.admit(revoked(0, 'a'))).toHaveLength(0);
    expect(l.admit({ t: 0, kind: 'capTransferred', from: 'c', to: 'a' })).toHaveLength(1);
    expect(l.admit({ t: 0, kind: 'endpointSwitched', alias: 'x', from: 'p', to: 'q', by: 'a' })).toHaveLength(0);
    expect(l.admit({ t: 0, kind: 'moduleVerified', module: 'm' })).toHaveLength(1); // no actor: host work
  });

  it('never suppresses lifecycle records, and summarises before a sandbox is destroyed and at the end', () => {
    const l = new AuditLimiter({ burst: 1, perSecond: 0 });
    l.admit(revoked(0, 'a'));
    l.admit(revoked(1, 'a'));
    l.admit(revoked(1, 'b'));
    l.admit(revoked(2, 'b'));
    expect(l.admit({ t: 5, kind: 'fault', sandbox: 'a' }).map((e) => e.kind)).toEqual([SUPPRESSED_KIND, 'fault']);
    expect(l.admit({ t: 6, kind: 'sandboxDestroyed', sandbox: 'a' }).map((e) => e.kind)).toEqual(['sandboxDestroyed']);
    expect(l.admit(revoked(7, 'a'))).toHaveLength(1); // a new sandbox under that name starts afresh
    expect(l.flush(9)).toEqual([{ t: 9, kind: SUPPRESSED_KIND, sandbox: 'b', suppressed: 1, kinds: { capRevoked: 1 }, since: 2, until: 2 }]);
    expect(l.flush(10)).toEqual([]);
  });
});

describe('through the kernel', () => {
  let machine: UnicornMachine;
  beforeEach(async () => {
    machine = await UnicornMachine.create({ memoryBytes: 16 << 20 });
  });
  afterEach(() => machine.dispose());

  it('a sandbox calling cap_revoke 100,000 times costs the log a bounded number of records, and the log verifies', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'hic-audit-limit-')), 'audit.jsonl');
    const audit = AuditLog.open(path, { lock: tryLock, limits: { burst: 100, perSecond: 50 } });
    const k = new Kernel(machine, { trust: builtWorkspace().trust, audit });
    const flood = HostClient.attach(k, 'flood', { registry: Right.R });
    const quiet = HostClient.attach(k, 'quiet', { registry: Right.R });
    const ep = flood.syscall('endpoint_create');
    const mine = quiet.syscall('endpoint_create');
    for (let i = 0; i < 50_000; i++) flood.syscall('cap_revoke', ep);
    quiet.syscall('cap_revoke', mine); // a neighbour is not charged for the flood
    machine.clock.fastForward(machine.clock.now + 2 * SECOND); // 100 more tokens
    for (let i = 0; i < 50_000; i++) flood.syscall('cap_revoke', ep);
    k.destroy(k.sandbox('flood')!, 'destroyed');
    audit.close();

    const count = (kind: string, sandbox: string) => audit.records.filter((r) => r.kind === kind && r.sandbox === sandbox);
    expect(count('capRevoked', 'flood')).toHaveLength(200);
    expect(count('capRevoked', 'quiet')).toHaveLength(1);
    const summaries = count(SUPPRESSED_KIND, 'flood');
    expect(summaries.map((s) => s.suppressed)).toEqual([49_900, 49_900]);
    expect(summaries.every((s) => (s.kinds as Record<string, number>).capRevoked === s.suppressed)).toBe(true);
    expect(audit.records.at(-1)).toMatchObject({ kind: 'sandboxDestroyed', sandbox: 'flood' }); // after its summary
    expect(verifyAuditFile(path)).toMatchObject({ ok: true, records: audit.records.length });
  });
});

describe('a sandbox flooding the module loader with refused requests', () => {
  let machine: UnicornMachine;
  beforeEach(async () => {
    machine = await UnicornMachine.create({ memoryBytes: 16 << 20 });
  });
  afterEach(() => machine.dispose());

  it('is charged for each moduleRejected its requests cause; a refusal at boot, naming nobody, is not limited', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'hic-audit-loader-')), 'audit.jsonl');
    const audit = AuditLog.open(path, { lock: tryLock, limits: { burst: 100, perSecond: 50 } });
    const ws = builtWorkspace();
    const k = new Kernel(machine, { trust: ws.trust, audit, repository: ws.source });
    const flood = HostClient.attach(k, 'flood', { loader: Right.R | Right.W });
    flood.moduleSpawn(1, { sandbox: 'd2', module: 'eth_driver', version: '1.2.0', quota: 1 << 20, stack: 16 << 10, config: '' });
    // Each query of the older version is refused by the rollback protection (DOWNGRADE), and audited.
    for (let i = 0; i < 5_000; i++) expect(() => flood.moduleQuery(1, 'eth_driver', '1.1.0')).toThrow();
    k.destroy(k.sandbox('flood')!, 'destroyed');
    audit.close();
    const rejected = audit.records.filter((r) => r.kind === 'moduleRejected');
    expect(rejected).toHaveLength(100); // the burst (the spawn's own records are lifecycle records, never charged)
    expect(rejected.every((r) => r.by === 'flood' && r.code === 'DOWNGRADE')).toBe(true);
    const summary = audit.records.filter((r) => r.kind === SUPPRESSED_KIND && r.sandbox === 'flood');
    expect(summary.map((x) => (x.kinds as Record<string, number>).moduleRejected)).toEqual([5_000 - rejected.length]);
    expect(verifyAuditFile(path)).toMatchObject({ ok: true, records: audit.records.length });
    // A refusal with no sandbox behind it (a boot's) is admitted whatever the budgets.
    const l = new AuditLimiter({ burst: 1, perSecond: 0 });
    for (let i = 0; i < 3; i++) expect(l.admit({ t: 0, kind: 'moduleRejected', source: 'x.hicmod', code: 'BAD_SIGNATURE', reason: 'r' })).toHaveLength(1);
  });
});

describe('a guest flooding the kernel with audited calls (images/audit-flood.himg)', () => {
  it('gets a bounded share of the log, every call counted; hello beside it runs to its exit; the log verifies', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'hic-audit-flood-')), 'audit.jsonl');
    const audit = AuditLog.open(path, { lock: tryLock });
    const run = await bootImage('audit-flood', { audit });
    try {
      audit.close();
      expect(run.deviations).toEqual([]);
      expect(run.outcome.exits).toEqual({ flood: 0, hello: 0 });
      expect(run.machine.frames.accounting().allocated).toBe(0);
      const written = audit.records.filter((r) => r.kind === 'capRevoked' && r.sandbox === 'flood').length;
      const summaries = audit.records.filter((r) => r.kind === SUPPRESSED_KIND && r.sandbox === 'flood');
      expect(written).toBeLessThanOrEqual(DEFAULT_AUDIT_LIMITS.burst + 16);
      expect(written + summaries.reduce((n, s) => n + (s.suppressed as number), 0)).toBe(200_000);
      expect(audit.records.length).toBeLessThan(DEFAULT_AUDIT_LIMITS.burst + 100);
      expect(verifyAuditFile(path)).toMatchObject({ ok: true, records: audit.records.length });
    } finally {
      run.system.dispose();
    }
  }, 120_000);
});
