// Scheduling policy on its own: round robin, sleepers woken in (time, id) order, removal.

import { describe, expect, it } from 'vitest';
import { Scheduler, WAKE_PREFERENCE } from '../core0/scheduler.ts';
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
});
