// Scheduling policy on its own: round robin, sleepers woken in (time, id) order, removal.

import { describe, expect, it } from 'vitest';
import { Scheduler } from '../core0/scheduler.ts';
import type { Thread } from '../core0/objects/thread.ts';

const thread = (id: number) => ({ id, state: 'runnable', wakeAt: 0 }) as unknown as Thread;

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
});
