// Round-robin scheduling with virtual-time sleep, a preference for threads woken by IPC, and each
// sandbox's signed CPU share guaranteed under contention. Policy only: running a thread is the
// CPU's job. Ties are broken by thread id, never by host state, so the order is deterministic.
//
// The share (a module's `cpuPermille`, seed 步骤2.1 CPU配额): in every period of SHARE_PERIOD_NS of
// virtual time, a sandbox that has used less CPU than its share of the period goes before any
// that has used more. The scheduler is work-conserving: when every runnable thread is over its
// share, the queue's order decides as before, and no CPU is left idle while a thread could run.
// So a guest spinning beside a worker takes at most its share from it, whatever its budget, and
// a new instance started with a share gets it.

import type { Thread } from './objects/thread.ts';

/** How many times in a row a thread may be woken to the front of the queue (Scheduler.wakeUp). */
export const WAKE_PREFERENCE = 4;

/** The period CPU shares are measured over, in virtual ns. */
export const SHARE_PERIOD_NS = 10_000_000;



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

  /** Whether `t`'s sandbox has used its share of the period `now` falls in (a host sandbox has none to use up). */
  private overShare(t: Thread, now: number): boolean {
    const s = t.sandbox;
    const share = s?.module?.cpuPermille;
    if (share === undefined) return false;
    const period = Math.floor(now / SHARE_PERIOD_NS);
    if (s.sharePeriod !== period) {
      s.sharePeriod = period;
      s.shareBase = s.cpu.cpuNs;
    }
    return (s.cpu.cpuNs - s.shareBase) * 1000 >= share * SHARE_PERIOD_NS;
  }

  /**
   * The next thread to run at virtual time `now`: the first in the queue whose sandbox is within
   * its CPU share, or the first of all when none is.
   */
  next(now = 0): Thread | undefined {
    const within = this.runQueue.findIndex((x) => !this.overShare(x, now));
    if (within > 0) this.runQueue.unshift(...this.runQueue.splice(within, 1));
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
