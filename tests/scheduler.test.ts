// Scheduling policy on its own: round robin, sleepers woken in (time, id) order, removal.

import { describe, expect, it } from 'vitest';
import { Scheduler, SHARE_PERIOD_NS, WAKE_PREFERENCE } from '../core0/scheduler.ts';
import type { Thread } from '../core0/objects/thread.ts';

const thread = (id: number) => ({ id, state: 'runnable', wakeAt: 0, frontWakes: 0, wokenToFront: false }) as unknown as Thread;

describe('scheduler', () => {
  it('runs threads in the order they became runnable', () => {
    const s = new Scheduler();
    const [a, b] = [thread(1), thread(2)];
    s.makeRunnable(a);
    s.makeRunnable(b);
    expect(s.next()).toBe(a);
    s.makeRunnable(a);
    expect(s.next()).toBe(b);
    expect(s.next()).toBe(a);
    expect(s.next()).toBeUndefined();
  });

  it('wakes sleepers by time, ties by thread id, never early', () => {
    const s = new Scheduler();
    const [a, b, c] = [thread(3), thread(1), thread(2)];
    s.sleep(a, 100);
    s.sleep(b, 200);
    s.sleep(c, 100);
    expect(s.earliestWake()).toBe(100);
    s.wake(99);
    expect(s.next()).toBeUndefined();
    s.wake(100);
    expect([s.next(), s.next(), s.next()]).toEqual([c, a, undefined]);
    expect(s.earliestWake()).toBe(200);
  });

  it('forgets a removed thread wherever it was', () => {
    const s = new Scheduler();
    const [a, b] = [thread(1), thread(2)];
    s.makeRunnable(a);
    s.sleep(b, 5);
    s.remove(a);
    s.remove(b);
    expect(s.idle).toBe(true);
  });

  it('runs a thread woken by IPC next, and the replier that woke it right after', () => {
    const s = new Scheduler();
    const [a, b, server, caller] = [thread(1), thread(2), thread(3), thread(4)];
    s.makeRunnable(a);
    s.makeRunnable(b);
    expect(s.wakeUp(caller)).toBe(true); // a reply woke it
    s.stepAside(server); // ... and the replier steps aside
    expect([s.next(), s.next(), s.next(), s.next(), s.next()]).toEqual([caller, server, a, b, undefined]);
  });

  it('gives the preference at most WAKE_PREFERENCE times in a row, so two threads waking each other cannot starve a third', () => {
    const s = new Scheduler();
    const [x, y, other] = [thread(1), thread(2), thread(3)];
    s.makeRunnable(other);
    s.wakeUp(x);
    const order: Thread[] = [];
    for (let i = 0; i < 4 * WAKE_PREFERENCE; i++) {
      const t = s.next()!;
      order.push(t);
      if (t === other) break;
      s.wakeUp(t === x ? y : x); // each wakes the other, then waits
    }
    expect(order.at(-1)).toBe(other);
    expect(order.length).toBeLessThanOrEqual(2 * WAKE_PREFERENCE + 2);
  });

  it('restores the preference once the thread has had a turn from the back of the queue', () => {
    const s = new Scheduler();
    const [t, other] = [thread(1), thread(2)];
    for (let i = 0; i < WAKE_PREFERENCE; i++) {
      expect(s.wakeUp(t)).toBe(true);
      expect(s.next()).toBe(t);
    }
    s.makeRunnable(other);
    expect(s.wakeUp(t)).toBe(false); // spent: to the back
    expect([s.next(), s.next()]).toEqual([other, t]);
    expect(s.wakeUp(t)).toBe(true); // its turn came from the back: preference restored
  });

  describe('CPU shares', () => {
    /** A thread of a sandbox with `share` permille that has used `cpuNs` of virtual CPU time so far. */
    const sharing = (id: number, share: number) => {
      const sandbox = { module: { cpuPermille: share }, cpu: { cpuNs: 0 }, sharePeriod: -1, shareBase: 0 };
      return Object.assign(thread(id), { sandbox }) as Thread & { sandbox: typeof sandbox };
    };

    it('puts a sandbox within its share of the period before one past it; past it, every one waits its turn', () => {
      const s = new Scheduler();
      const [spinner, worker] = [sharing(1, 50), sharing(2, 300)];
      s.makeRunnable(spinner);
      s.makeRunnable(worker);
      expect(s.next(0)).toBe(spinner); // both within: queue order
      spinner.sandbox.cpu.cpuNs = SHARE_PERIOD_NS / 20; // its 50 ‰, used up
      s.makeRunnable(spinner);
      expect(s.next(1)).toBe(worker); // the worker goes first, though behind in the queue
      worker.sandbox.cpu.cpuNs = (3 * SHARE_PERIOD_NS) / 10; // its 300 ‰, used up too
      s.makeRunnable(worker);
      expect(s.next(2)).toBe(spinner); // none within: queue order again; nothing waits idle
      expect(s.next(3)).toBe(worker);
    });

    it('counts each period afresh', () => {
      const s = new Scheduler();
      const [spinner, worker] = [sharing(1, 50), sharing(2, 300)];
      s.makeRunnable(spinner);
      s.makeRunnable(worker);
      expect(s.next(0)).toBe(spinner);
      spinner.sandbox.cpu.cpuNs = SHARE_PERIOD_NS / 2; // half the first period, spinning
      s.makeRunnable(spinner);
      expect(s.next(SHARE_PERIOD_NS - 1)).toBe(worker);
      s.makeRunnable(worker);
      expect(s.next(SHARE_PERIOD_NS)).toBe(spinner); // a new period: within its share again
    });
  });
});

