// Notifications: a word of signal bits. notify ORs bits in; wait takes all set bits at once and
// clears them. Interrupts arrive this way. Invariant: bits are non-zero only while no thread
// waits (a waiter is woken as soon as a bit is set).

import type { KernelObject } from './capability.ts';
import type { Thread } from './thread.ts';

export class Notification implements KernelObject {
  readonly capType = 'NOTIFICATION' as const;
  bits = 0n;
  readonly waiters: Thread[] = [];
  dead = false;
  onRelease: ((n: Notification) => void) | undefined;

  constructor(readonly id: number) {}

  released(): void {
    this.dead = true;
    this.onRelease?.(this);
  }

  /** ORs bits in; returns the waiter to wake with the bits, if any (and clears them). */
  signal(bits: bigint): { thread: Thread; bits: bigint } | undefined {
    this.bits |= bits;
    const t = this.waiters.shift();
    if (!t || this.bits === 0n) return undefined;
    const got = this.bits;
    this.bits = 0n;
    return { thread: t, bits: got };
  }

  /** Takes the bits if any are set. */
  take(): bigint {
    const b = this.bits;
    this.bits = 0n;
    return b;
  }

  cancel(t: Thread): void {
    const i = this.waiters.indexOf(t);
    if (i >= 0) this.waiters.splice(i, 1);
  }
}
