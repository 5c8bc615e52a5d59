// The virtual clock. Time inside HIC never comes from the host: it advances with executed work
// (charged by the CPU, see cpu.ts for the cost model) and jumps forward when every thread is
// blocked waiting for time. Same image, same inputs → same timestamps, bit for bit.

export class VirtualClock {
  private t = 0;

  /** Nanoseconds since boot. */
  get now(): number {
    return this.t;
  }

  advance(ns: number): void {
    if (!(ns >= 0) || !Number.isSafeInteger(ns)) throw new RangeError(`clock: bad advance ${ns}`);
    this.t += ns;
  }

  /** Moves to `to` if it is later; time never runs backwards. */
  fastForward(to: number): void {
    if (to > this.t) this.t = to;
  }

  getState(): { now: number } {
    return { now: this.t };
  }

  setState(s: { now: number }): void {
    this.t = s.now;
  }
}

/** "1.234567s"-style rendering used in console lines and reports. */
export function formatTime(ns: number): string {
  const s = Math.floor(ns / 1e9);
  const frac = String(ns % 1e9).padStart(9, '0').slice(0, 6);
  return `${s}.${frac}s`;
}
