// A deterministic bad wire for the reference server's lossy mode: each frame is dropped,
// duplicated or held back (so later frames overtake it) with the given probabilities, decided by
// a seeded PRNG in the order frames pass — so the same run loses the same frames every time.

import { badConfig } from '../../traffic/errors.ts';
import { Prng } from '../../traffic/prng.ts';
import type { TimerQueue } from '../../traffic/timers.ts';

export interface LossyOptions {
  readonly seed: number | string;
  /** Probability that a frame is dropped. */
  readonly drop?: number;
  /** Probability that a frame is delivered twice. */
  readonly duplicate?: number;
  /** Probability that a frame is held back by `reorderDelayNs`, letting later ones pass it. */
  readonly reorder?: number;
  /** Default 300 µs. */
  readonly reorderDelayNs?: number;
}

export interface ImpairCounters {
  dropped: number;
  duplicated: number;
  reordered: number;
}

export class Impairment {
  readonly counters: ImpairCounters = { dropped: 0, duplicated: 0, reordered: 0 };
  private readonly rng: Prng;

  constructor(private readonly opts: LossyOptions, private readonly timers: TimerQueue) {
    for (const [name, p] of Object.entries({ drop: opts.drop, duplicate: opts.duplicate, reorder: opts.reorder })) {
      if (p !== undefined && !(p >= 0 && p < 1)) badConfig(`lossy wire: ${name} probability ${p} is not in [0, 1)`);
    }
    this.rng = Prng.fromSeed(opts.seed);
  }

  /** Hands `frame` to `deliver` zero, one or two times, now or later. */
  pass(frame: Uint8Array, now: number, deliver: (frame: Uint8Array, now: number) => void): void {
    // One draw per decision, always all three, so one frame's fate never shifts the next one's.
    const drop = this.rng.chance(this.opts.drop ?? 0);
    const dup = this.rng.chance(this.opts.duplicate ?? 0);
    const late = this.rng.chance(this.opts.reorder ?? 0);
    if (drop) {
      this.counters.dropped++;
      return;
    }
    if (late) {
      this.counters.reordered++;
      this.timers.push(now + (this.opts.reorderDelayNs ?? 300_000), (t) => deliver(frame, t));
    } else {
      deliver(frame, now);
    }
    if (dup) {
      this.counters.duplicated++;
      deliver(frame, now);
    }
  }
}
