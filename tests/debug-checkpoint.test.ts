// Checkpoints (system/debug/checkpoint.ts, heap-snapshot.ts): objects restored in place keep
// their identity and get their contents back; a whole image restored from any of its checkpoints
// — before sandboxes were created or destroyed, after the run ended — runs on to the same event
// log, bit for bit, as a run that was never stopped.

import { describe, expect, it } from 'vitest';
import { HeapSnapshot } from '../system/debug/heap-snapshot.ts';
import { DebugSession } from '../system/debug/session.ts';
import { bootImage, builtWorkspace, loadManifest, REPO } from './support/boot.ts';

describe('heap snapshot', () => {
  it('puts contents back into the same objects, drops what was added, keeps what it must skip', () => {
    const shared = { n: 1 };
    const big = new Uint8Array(256 * 1024);
    big[5000] = 7;
    const skipped = { untouched: 1 };
    const root = { a: 1, list: [shared, 2], map: new Map<string, unknown>([['x', shared]]), set: new Set([1, 2]), bytes: new Uint8Array([1, 2, 3]), big, skipped, fn: () => shared.n };
    const snap = HeapSnapshot.take([root], { skip: (o) => o === skipped });
    root.a = 2;
    shared.n = 99;
    root.list.push(3);
    root.map.set('y', 1);
    root.set.delete(1);
    root.bytes[0] = 9;
    big[5000] = 8;
    big[100000] = 1;
    skipped.untouched = 2;
    (root as Record<string, unknown>).extra = true;
    snap.restore();
    expect(root.a).toBe(1);
    expect(root.list).toEqual([shared, 2]);
    expect(root.list[0]).toBe(shared);
    expect(shared.n).toBe(1);
    expect(root.fn()).toBe(1);
    expect([...root.map]).toEqual([['x', shared]]);
    expect([...root.set]).toEqual([1, 2]);
    expect([...root.bytes]).toEqual([1, 2, 3]);
    expect(big[5000]).toBe(7);
    expect(big[100000]).toBe(0);
    expect('extra' in root).toBe(false);
    expect(skipped.untouched).toBe(2);
  });

  it('shares unchanged pages and objects with the previous snapshot', () => {
    const big = new Uint8Array(1 << 20);
    const root = { big, a: { x: 1 }, b: { y: 2 } };
    const first = HeapSnapshot.take([root], { skip: () => false });
    root.b.y = 3;
    big[4096 * 10] = 1;
    const second = HeapSnapshot.take([root], { skip: () => false, previous: first });
    expect(second.ownBytes).toBe(4096); // one page changed; zero pages are never copied
    expect(second.ownEntries).toBe(1); // only b: root and a hold the same values
    root.b.y = 4;
    big[4096 * 10] = 2;
    first.restore();
    expect(root.b.y).toBe(2);
    expect(big[4096 * 10]).toBe(0);
    second.restore();
    expect(root.b.y).toBe(3);
    expect(big[4096 * 10]).toBe(1);
  });
});

describe('machine checkpoints', () => {
  it('an image restored from any of its checkpoints runs on to the event log of an undisturbed run', async () => {
    const reference = await bootImage('ipc');
    reference.system.dispose();
    const ws = builtWorkspace();
    const s = await DebugSession.open(loadManifest('ipc'), { modules: ws.repository, trust: ws.trust }, REPO, { checkpointInterval: 2000 });
    try {
      const end = await s.continue();
      expect(end.reason).toBe('halt');
      expect(s.machine.result!.logHash).toBe(reference.logHash);
      const store = s.machine.checkpoints!;
      expect(store.list.length).toBeGreaterThanOrEqual(5);
      // Restore from the last to the first: after the run ended (every sandbox destroyed), then
      // before each of the exits, then before anything ran.
      for (const cp of [...store.list].reverse()) {
        s.machine.restoreCheckpoint(cp);
        expect(s.machine.executed).toBe(cp.executed);
        expect(s.kernel.events.all.length).toBe(cp.events);
        const again = await s.machine.go({ kind: 'breakpoints' });
        expect(again.reason).toBe('halt');
        expect(s.machine.result!.logHash).toBe(reference.logHash);
      }
    } finally {
      s.dispose();
    }
  });

  it('a machine with a device and traffic on the wire, restored to before its driver mapped the NIC, runs to the same events', async () => {
    const ws = builtWorkspace();
    const s = await DebugSession.open(loadManifest('netstack'), { modules: ws.repository, trust: ws.trust }, REPO, { checkpointInterval: 2_000_000 });
    try {
      await s.until(120_000_000);
      const log = s.kernel.events.toJsonLines();
      const at = s.machine.executed;
      const store = s.machine.checkpoints!;
      expect(store.list.length).toBeGreaterThanOrEqual(3);
      for (const cp of [store.list[Math.floor(store.list.length / 2)]!, store.list[0]!]) {
        s.machine.restoreCheckpoint(cp);
        await s.until(120_000_000);
        expect(s.machine.executed).toBe(at);
        expect(s.kernel.events.toJsonLines()).toBe(log);
      }
      expect(store.list[0]!.executed).toBe(0); // before the driver ran, so before it mapped the NIC's registers
      expect(s.kernel.events.all.filter((e) => e.kind === 'console' && e.sandbox === 'driver' && /instance 1 live/.test(e.text))).toHaveLength(1);
    } finally {
      s.dispose();
    }
  });
});
