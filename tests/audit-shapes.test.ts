// The audit log's per-shape sealer (core0/audit/shapes.ts) against the generic canonical encoder
// (core0/audit/chain.ts): the same line and hash for every kind of record the kernel writes and
// for flat entries built to stress the canonical order (keys sorting around "hash", nothing
// before it, escapes, every kind of JSON scalar), and the same record as the log keeps it. A log
// is verified by the generic encoder, so a byte of difference would be a log that no longer
// verifies.

import { describe, expect, it } from 'vitest';
import { AuditLog, type AuditEntry } from '../core0/audit.ts';
import { seal } from '../core0/audit/chain.ts';
import { sealFlat } from '../core0/audit/shapes.ts';

const PREV = 'ab'.repeat(32);

/** What the generic path makes of the entry: line, hash, and the record in the order the log keeps. */
function generic(entry: AuditEntry, seq: number, prev: string) {
  const { hash, line } = seal(prev, { ...entry, seq, prev });
  const { t, kind, ...fields } = entry;
  return { hash, line, record: { seq, t, kind, ...fields, prev, hash } };
}

function expectSame(entry: AuditEntry, seq = 41, prev = PREV): void {
  const fast = sealFlat(entry, seq, prev);
  expect(fast).toBeDefined();
  const want = generic(entry, seq, prev);
  expect(fast!.line).toBe(want.line);
  expect(fast!.hash).toBe(want.hash);
  expect(Object.keys(fast!.record)).toEqual(Object.keys(want.record));
  expect(fast!.record).toEqual(want.record);
  expect(Object.isFrozen(fast!.record)).toBe(true);
}

/** One of each flat audited kernel record, with the fields core0/events.ts gives it (the nested ones -- fault, moduleVerified, moduleLoaded, auditSuppressed -- are sealed the generic way). */
const KERNEL_RECORDS: AuditEntry[] = [
  { t: 0, kind: 'boot', image: 'migration' },
  { t: 1, kind: 'sandboxCreated', sandbox: 'netstack', id: 3, quota: 1048576 },
  { t: 2, kind: 'sandboxDestroyed', sandbox: 'netstack', framesReturned: 21, reason: 'exit' },
  { t: 3, kind: 'sandboxSuspended', sandbox: 'netstack', by: 'module-manager' },
  { t: 4, kind: 'sandboxResumed', sandbox: 'netstack', by: 'module-manager' },
  { t: 5, kind: 'capTransferred', from: 'client', to: 'server', type: 'ENDPOINT', rights: 6, moved: false },
  { t: 6, kind: 'capTransferred', from: 'netstack-1-2-0', to: 'module-manager', type: 'MEMORY', rights: 7, moved: true },
  { t: 7, kind: 'capRevoked', sandbox: 'client', type: 'ENDPOINT', revoked: 1 },
  { t: 8, kind: 'endpointRegistered', sandbox: 'netstack', name: 'cap://netstack/v1.2.0/tcp', alias: 'cap://netstack/tcp', isDefault: true },
  { t: 9, kind: 'endpointSwitched', alias: 'cap://netstack/tcp', from: 'cap://netstack/v1.2.0/tcp', to: 'cap://netstack/v1.3.0/tcp', by: 'core0' },
  { t: 10, kind: 'irqRouted', line: 5, sandbox: 'driver', bits: 1, pending: 0 },
  { t: 11, kind: 'channelGranted', channel: 'migration', sandbox: 'migctl', rights: 6 },
  { t: 12, kind: 'reserved', by: 'module-manager', bytes: 4194304 },
  { t: 13, kind: 'reservationReleased', by: 'module-manager', bytes: 4194304 },
  { t: 14, kind: 'moduleSpawned', by: 'module-manager', sandbox: 'netstack-1-3-0', module: 'netstack', version: '1.3.0' },
];

describe('audit log: sealing by shape', () => {
  it('writes every kind of kernel record as the generic encoder does', () => {
    for (const e of KERNEL_RECORDS) expectSame(e);
  });

  it('places "hash" among keys that sort around it, and after an empty run', () => {
    expectSame({ t: 1, kind: 'k', a: 1, h: 2, has: 3, hash0: 4, hasg: 5, Hash: 6, HASH: 7, z: 8 });
    expectSame({ t: 1, kind: 'onlyAfterHash', x: 'y' }); // nothing sorts before "hash"
    expectSame({ t: 1, kind: 'k', _: 1, ' ': 2, '~': 3, é: 4, '\u{1f600}': 5, 'A-b': 6 });
  });

  it('encodes every JSON scalar exactly', () => {
    expectSame({ t: 0, kind: 'k', n: -0, m: 1e21, f: 0.1 + 0.2, neg: -12.5, big: Number.MAX_SAFE_INTEGER, tiny: 5e-324 });
    expectSame({ t: 2, kind: 'k', yes: true, no: false, none: null, empty: '' });
    expectSame({ t: 3, kind: 'k', s: 'quote " backslash \\ newline \n tab \t nul \u0000 del \u007f', u: 'é ü \u2028 \u{1f600}', lone: '\ud800x\udfff' });
  });

  it('tells shapes of one kind apart by their keys and their order', () => {
    expectSame({ t: 1, kind: 'same', a: 1, b: 2 });
    expectSame({ t: 1, kind: 'same', b: 2, a: 1 });
    expectSame({ t: 1, kind: 'same', a: 1 });
    expectSame({ t: 1, kind: 'same', a: 'now a string', b: null });
    expectSame({ kind: 'same', t: 1, a: 1, b: 2 });
  });

  it('leaves keys a plain object reorders to the generic encoder', () => {
    expect(sealFlat({ t: 1, kind: 'k', '1': 'index' }, 0, PREV)).toBeUndefined();
    expect(sealFlat(JSON.parse('{"t":1,"kind":"k","__proto__":1}') as AuditEntry, 0, PREV)).toBeUndefined();
  });

  it('gives a log the same chain as appending each record alone does', () => {
    const deferred = AuditLog.inMemory({ limits: { burst: 1e9, perSecond: 0 } });
    const appended = AuditLog.inMemory();
    for (const e of [...KERNEL_RECORDS, ...KERNEL_RECORDS]) {
      deferred.admit(e);
      appended.append(e); // through the generic encoder
    }
    expect(deferred.records).toEqual(appended.records);
    expect(deferred.head).toBe(appended.head);
  });
});
