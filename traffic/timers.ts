// Virtual-time timers for the traffic generator and the reference server. Nothing here reads a
// clock: the owner says what time it is (runDue), and asks when it next needs to be woken
// (nextAt) — which is exactly what the kernel's `kernel.at` timers, or a test's loop, provide.
// Timers due at the same time run in the order they were set, so a run is deterministic.

interface Entry {
  readonly at: number;
  readonly order: number;
  readonly fn: (now: number) => void;
  cancelled: boolean;
}

export class TimerQueue {
  /** A binary min-heap on (at, order); cancelled entries are skipped when they reach the top. */
  private readonly heap: Entry[] = [];
  private order = 0;

  /** Runs fn(now) at the first runDue(now) with now >= at. */
  push(at: number, fn: (now: number) => void): { cancel(): void } {
    if (!Number.isFinite(at)) throw new RangeError(`timers: time ${at} is not finite`);
    const e: Entry = { at, order: this.order++, fn, cancelled: false };
    this.heap.push(e);
    this.up(this.heap.length - 1);
    return { cancel: () => void (e.cancelled = true) };
  }

  /** The earliest pending time, or undefined when nothing is pending. */
  nextAt(): number | undefined {
    this.dropCancelled();
    return this.heap[0]?.at;
  }

  /** Runs every timer due at or before `now`, including ones that running timers set. */
  runDue(now: number): void {
    for (;;) {
      this.dropCancelled();
      const top = this.heap[0];
      if (top === undefined || top.at > now) return;
      this.pop();
      top.fn(now);
    }
  }

  private dropCancelled(): void {
    while (this.heap[0]?.cancelled) this.pop();
  }

  private less(a: Entry, b: Entry): boolean {
    return a.at < b.at || (a.at === b.at && a.order < b.order);
  }

  private pop(): void {
    const last = this.heap.pop()!;
    if (this.heap.length === 0) return;
    this.heap[0] = last;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < this.heap.length && this.less(this.heap[l]!, this.heap[m]!)) m = l;
      if (r < this.heap.length && this.less(this.heap[r]!, this.heap[m]!)) m = r;
      if (m === i) return;
      [this.heap[i], this.heap[m]] = [this.heap[m]!, this.heap[i]!];
      i = m;
    }
  }

  private up(i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(this.heap[i]!, this.heap[p]!)) return;
      [this.heap[i], this.heap[p]] = [this.heap[p]!, this.heap[i]!];
      i = p;
    }
  }
}

/** One re-armable timer: setting it again replaces the pending deadline. */
export class Timer {
  private pending: { cancel(): void } | undefined;
  private deadline: number | undefined;

  constructor(
    private readonly queue: TimerQueue,
    private readonly fn: (now: number) => void,
  ) {}

  set(at: number): void {
    this.clear();
    this.deadline = at;
    this.pending = this.queue.push(at, (now) => {
      this.pending = undefined;
      this.deadline = undefined;
      this.fn(now);
    });
  }

  clear(): void {
    this.pending?.cancel();
    this.pending = undefined;
    this.deadline = undefined;
  }

  /** The pending deadline, or undefined when not armed. */
  get at(): number | undefined {
    return this.deadline;
  }
}
