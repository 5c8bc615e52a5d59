// Reservations: a contiguous run of frames taken out of the pool for a sandbox that does not exist
// yet (module_reserve, seed §3.1 step 1.3), so that the spawn which follows finds room whatever
// else happens meanwhile. A reservation is not charged to its holder's quota, but its frames carry
// the holder's owner tag, so the frame accounting says whose they are and the holder's end
// returns them with the rest of what it held.
//
// Invariants: while a reservation holds its frames, they are allocated, tagged `tag`, unmapped
// everywhere and zero (fresh from the pool, never written); once the last capability to it is
// gone, or a spawn has consumed it, it holds none.

import type { Frames } from '../../emulator/types.ts';
import type { KernelObject } from './capability.ts';

export class Reservation implements KernelObject {
  readonly capType = 'RESERVATION' as const;
  private held: number | undefined;

  constructor(
    first: number,
    readonly pages: number,
    /** The owner tag its frames carry: the sandbox that reserved them. */
    readonly tag: number,
    private readonly frames: Frames,
    /** Told when the frames go back to the pool because the reservation is gone (not consumed). */
    private readonly onRelease: (r: Reservation) => void,
  ) {
    this.held = first;
  }

  /** Whether it still holds its frames (a consumed reservation holds none). */
  get holding(): boolean {
    return this.held !== undefined;
  }

  /** A spawn takes it: the frames go back to the pool, for the new sandbox to claim at once. */
  consume(): void {
    if (this.held === undefined) throw new Error('Reservation.consume: it holds no frames');
    this.frames.free(this.held, this.pages, this.tag);
    this.held = undefined;
  }

  /**
   * The spawn that consumed it was refused after all: the same number of frames come back from
   * the pool as one run (the refused spawn freed everything it took, so such a run exists).
   */
  restore(): void {
    if (this.held !== undefined) throw new Error('Reservation.restore: it still holds its frames');
    const first = this.frames.tryAllocate(this.pages, this.tag);
    if (first === 'NO_FRAMES') throw new Error(`Reservation.restore: no run of ${this.pages} frames after a refused spawn gave its frames back`);
    this.held = first;
  }

  released(): void {
    if (this.held === undefined) return; // consumed by a spawn: nothing left to give back
    this.frames.free(this.held, this.pages, this.tag);
    this.held = undefined;
    this.onRelease(this);
  }
}
