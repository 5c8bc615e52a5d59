// Round-robin scheduling with virtual-time sleep. Policy only: running a thread is the CPU's job.
// Ties are broken by thread id, never by host state, so the order is deterministic.

import type { Thread } from './objects/thread.ts';

export class Scheduler {
  private readonly runQueue: Thread[] = [];
  /** Sorted by (wakeAt, id). */
  private readonly sleepers: Thread[] = [];

  makeRunnable(t: Thread): void {
    t.state = 'runnable';
    this.runQueue.push(t);
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
    return this.runQueue.shift();
  }

  /** When the next sleeper is due, or undefined if nobody sleeps. */
  earliestWake(): number | undefined {
    return this.sleepers[0]?.wakeAt;
  }

  get idle(): boolean {
    return this.runQueue.length === 0 && this.sleepers.length === 0;
  }
}
