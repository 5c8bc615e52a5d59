// Round-robin scheduling with virtual-time sleep, and a preference for threads woken by IPC.
// Policy only: running a thread is the CPU's job. Ties are broken by thread id, never by host
// state, so the order is deterministic.

import type { Thread } from './objects/thread.ts';

/** How many times in a row a thread may be woken to the front of the queue (Scheduler.wakeUp). */
export const WAKE_PREFERENCE = 4;

export class Scheduler {
  private readonly runQueue: Thread[] = [];
  /** Sorted by (wakeAt, id). */
  private readonly sleepers: Thread[] = [];

  makeRunnable(t: Thread): void {
    t.state = 'runnable';
    this.runQueue.push(t);
  }

  /**
   * A thread woken by IPC or a notification runs next. Whoever woke it is usually about to wait
   * for its answer (a call, or a notify and then a call), so the answer comes without a round of
   * everyone else's slices in between: the handoff a synchronous microkernel makes on call and
   * reply. A thread gets this at most WAKE_PREFERENCE times before it is dispatched once from the
   * back of the queue, so threads that keep waking each other cannot starve the rest.
   */
  wakeUp(t: Thread): boolean {
    if (t.frontWakes >= WAKE_PREFERENCE) {
      this.makeRunnable(t);
      return false;
    }
    t.frontWakes++;
    t.wokenToFront = true;
    t.state = 'runnable';
    this.runQueue.unshift(t);
    return true;
  }

  /** The running thread steps aside for the one just woken to the front, and runs right after it. */
  stepAside(t: Thread): void {
    t.frontWakes++;
    t.wokenToFront = true;
    t.state = 'runnable';
    this.runQueue.splice(1, 0, t);
  }

  sleep(t: Thread, until: number): void {
    t.state = 'sleeping';
    t.wakeAt = until;
    let i = this.sleepers.length;
    while (i > 0 && (this.sleepers[i - 1]!.wakeAt > until || (this.sleepers[i - 1]!.wakeAt === until && this.sleepers[i - 1]!.id > t.id))) i--;
    this.sleepers.splice(i, 0, t);
  }

  /** Takes a thread out of whichever queue holds it. */
  remove(t: Thread): void {
    for (const q of [this.runQueue, this.sleepers]) {
      const i = q.indexOf(t);
      if (i >= 0) q.splice(i, 1);
    }
  }

  /**
   * Moves every sleeper due at `now` to the run queue, earliest first. A thread that was blocked
   * with a deadline (IPC, wait) is handed to `timedOut` first, which cancels what it waited for.
   */
  wake(now: number, timedOut?: (t: Thread) => void): void {
    while (this.sleepers.length > 0 && this.sleepers[0]!.wakeAt <= now) {
      const t = this.sleepers.shift()!;
      if (t.waiting) timedOut?.(t);
      this.makeRunnable(t);
    }
  }

  next(): Thread | undefined {
    const t = this.runQueue.shift();
    if (t && !t.wokenToFront) t.frontWakes = 0; // its turn came from the back: preference restored
    if (t) t.wokenToFront = false;
    return t;
  }

  /** When the next sleeper is due, or undefined if nobody sleeps. */
  earliestWake(): number | undefined {
    return this.sleepers[0]?.wakeAt;
  }

  /** The run queue, next first (for the debugger's view). */
  get runnable(): readonly Thread[] {
    return this.runQueue;
  }

  /** Sleeping threads and blocked ones with a deadline, earliest first. */
  get sleeping(): readonly Thread[] {
    return this.sleepers;
  }

  get idle(): boolean {
    return this.runQueue.length === 0 && this.sleepers.length === 0;
  }
}
