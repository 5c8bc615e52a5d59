// The host's hold on a running machine (core0/pacer.ts): real time, stop and cont, and the one
// gate through which outside inputs enter.
//
// Real time. Virtual time may not pass the wall clock's reading since the run began (less the
// time it was stopped): the kernel starts no scheduler step past it and fast-forwards idle time
// only up to it, then waits here. When the machine cannot keep up, it falls behind; the lag (wall
// minus virtual, at each slice boundary) is kept for the progress line, the control socket and
// /metrics. Without real time the horizon is unbounded and the run is as deterministic as ever.
//
// Inputs. A TAP frame or a control command that changes the machine is queued here by whoever
// received it, and enters only in admit(), at a slice boundary, stamped with the virtual time the
// machine has reached, recorded as an `input` event in the same order. A recording
// (system/recording/) also keeps where each boundary with inputs fell — virtual time and turn —
// which is all a replay needs: a pacer that ends its slices there and admits the same inputs.
// Boundaries without inputs leave no trace in the machine, so the wall clock's other decisions
// need no record.

import type { KernelEvent } from '../core0/events.ts';
import type { Pacer } from '../core0/pacer.ts';

/** Something from outside, waiting to enter the machine. */
export interface OutsideInput {
  readonly source: 'tap' | 'control';
  /** What it is ('frame', or the command's name). */
  readonly what: string;
  /** What the event records: the frame (base64), the command's arguments (JSON). */
  readonly data: string;
  /** Delivers it, at virtual time `now`. */
  readonly apply: (now: number) => void;
}

export interface PacerOptions {
  /** Pace virtual time to the wall clock. */
  readonly realtime: boolean;
  /** Records each admitted input (the kernel's event log). */
  readonly record: (e: Extract<KernelEvent, { kind: 'input' }>) => void;
  /** The wall clock in milliseconds (default performance.now; tests pass their own). */
  readonly wallMs?: () => number;
  /** How long to sleep, at most, when the machine has caught up with the wall clock (ms). */
  readonly pollMs?: number;
  /** Told of each boundary where inputs enter, before they do: its virtual time and turn (a recording). */
  readonly onAdmit?: (now: number, turn: number, inputs: readonly OutsideInput[]) => void;
}

const yieldToHost = () => new Promise<void>((resolve) => setImmediate(resolve));

export class HostPacer implements Pacer {
  readonly realtime: boolean;
  private readonly wallMs: () => number;
  private readonly pollMs: number;
  protected readonly record: PacerOptions['record'];
  private readonly onAdmit: PacerOptions['onAdmit'];
  /** Wall ms at which virtual time 0 would have been, had the machine never been stopped. */
  private origin: number | undefined;
  private stop: { readonly virtual: number; readonly wall: number } | undefined;
  protected quitting = false;
  private readonly queue: OutsideInput[] = [];
  /** Called at every boundary to pull what waits outside (a TAP device's frames). */
  private readonly sources: (() => void)[] = [];
  private wakeUp: (() => void) | undefined;
  private heldAt: number | undefined;
  private lastLagNs = 0;
  private maxLagNs = 0;
  protected admittedCount = 0;

  constructor(options: PacerOptions) {
    this.realtime = options.realtime;
    this.wallMs = options.wallMs ?? (() => performance.now());
    this.pollMs = options.pollMs ?? 1;
    this.record = options.record;
    this.onAdmit = options.onAdmit;
  }

  // --- what the kernel asks ----------------------------------------------------------------------

  horizon(_now?: number, _turn?: number): number {
    if (this.stop) return this.stop.virtual;
    return this.realtime ? this.wallVirtual() : Infinity;
  }

  async pause(now: number, wake: number | undefined): Promise<void> {
    if (!this.stop && this.realtime) {
      this.lastLagNs = Math.max(0, this.wallVirtual() - now);
      this.maxLagNs = Math.max(this.maxLagNs, this.lastLagNs);
    }
    this.poll();
    // Go on at once when inputs wait, or when the machine may run (it is behind the wall clock).
    if (this.queue.length > 0 || (!this.stop && now < this.horizon())) return yieldToHost();
    // Caught up with the wall clock (or stopped): sleep until the next thing due, an input, or
    // the next poll of the sources, whichever is first.
    // Stopped, nothing is polled (frames wait in the device, as on a stopped QEMU) and only a
    // command can wake the machine.
    const dueMs = wake === undefined ? Infinity : this.origin! + wake / 1e6 - this.wallMs();
    const ms = this.stop ? Infinity : Math.max(0, Math.min(this.pollMs, dueMs));
    await new Promise<void>((resolve) => {
      const timer = ms === Infinity ? undefined : setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
    this.wakeUp = undefined;
    this.poll();
  }

  admit(now: number, turn = 0): boolean {
    const inputs = this.queue.splice(0);
    if (inputs.length > 0) this.onAdmit?.(now, turn, inputs);
    for (const input of inputs) {
      this.record({ kind: 'input', source: input.source, what: input.what, data: input.data });
      this.admittedCount++;
      input.apply(now);
    }
    return !this.quitting;
  }

  // --- what the host does --------------------------------------------------------------------------

  /** Queues an input for the next slice boundary (and wakes a waiting machine). */
  submit(input: OutsideInput): void {
    this.queue.push(input);
    this.wakeUp?.();
  }

  /** A source polled at every boundary; it submits what it finds. */
  addSource(poll: () => void): void {
    this.sources.push(poll);
  }

  /** The machine stops at the next boundary: virtual time stands still until cont(). */
  stopAt(now: number): void {
    if (!this.stop) this.stop = { virtual: now, wall: this.wallMs() };
  }

  /** Goes on from where it stopped; the time stopped is not owed to the wall clock. */
  cont(): void {
    if (!this.stop) return;
    if (this.origin !== undefined) this.origin += this.wallMs() - this.stop.wall;
    this.stop = undefined;
  }

  /**
   * A debugger holds the machine (hic boot --gdb): the run loop is not running, and the wall
   * time until release() is not owed, as with stop and cont. A wait in pause() ends at once, so
   * the loop comes back to the debugger even from a stopped, idle machine.
   */
  hold(): void {
    this.heldAt ??= this.wallMs();
    this.wakeUp?.();
  }

  release(): void {
    if (this.heldAt !== undefined && this.origin !== undefined) this.origin += this.wallMs() - this.heldAt;
    this.heldAt = undefined;
  }

  /** The run ends at the next boundary. */
  quit(): void {
    this.quitting = true;
  }

  get stopped(): boolean {
    return this.stop !== undefined;
  }

  /** Wall time minus virtual time at the last boundary, and the largest seen (ns; 0 without real time). */
  get lag(): { readonly lastNs: number; readonly maxNs: number } {
    return { lastNs: this.lastLagNs, maxNs: this.maxLagNs };
  }

  /** Inputs that have entered the machine so far. */
  get admitted(): number {
    return this.admittedCount;
  }

  /** The wall clock's reading in virtual ns since the run began, less the time it was stopped. */
  private wallVirtual(): number {
    const wall = this.wallMs();
    this.origin ??= wall;
    return Math.max(0, Math.floor((wall - this.origin) * 1e6));
  }

  private poll(): void {
    if (this.stop) return;
    for (const s of this.sources) s();
  }
}
