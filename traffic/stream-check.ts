// Every byte a client sends on an echo connection is a deterministic function of the connection's
// key and the byte's offset in its stream, so any 8 received bytes name the offset they came from.
// StreamCheck follows the bytes the TCP client delivers to the application (already in TCP order)
// and works out, for each run, which sent offset it really is: a run that jumps ahead leaves a
// hole (lost, unless it is filled later — then the bytes were reordered), and a run that goes back
// over bytes already delivered is duplicated. TCP itself cannot hide these: they are the stack
// under test putting the wrong bytes into a correctly sequenced stream.

import { mix32 } from './prng.ts';

/** Byte `off` of the stream with key `key`. */
export function patternByte(key: number, off: number): number {
  const word = mix32((key ^ Math.imul(Math.floor(off / 4) >>> 0, 0x9e3779b1)) >>> 0);
  return (word >>> ((off & 3) * 8)) & 0xff;
}

/** Bytes [off, off + n) of the stream with key `key`. */
export function pattern(key: number, off: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = patternByte(key, off + i);
  return out;
}

/** Bytes needed to place a run; a chance match of all of them is about 2^-64. */
const WINDOW = 8;

export class StreamCheck {
  /** Bytes the client has sent so far: the only offsets an echo may come from. */
  sent = 0;
  duplicated = 0;
  reordered = 0;
  /** Bytes that match no sent offset at all. */
  corrupted = 0;
  /** The sent offset the next received byte should come from. */
  private next = 0;
  /** One past the highest sent offset delivered so far. */
  private high = 0;
  /** Sorted, disjoint [from, to) ranges below `high` not delivered yet. */
  private gaps: [number, number][] = [];
  /** Bytes after a mismatch, held until there are WINDOW of them to place. */
  private pending = new Uint8Array(0);

  constructor(private readonly key: number) {}

  /** Offset below which every sent byte has been delivered. */
  get contiguous(): number {
    return this.gaps[0]?.[0] ?? this.high;
  }

  /** One past the highest sent offset delivered (holes may lie below it). */
  get highest(): number {
    return this.high;
  }

  /** Sent bytes not delivered: the holes plus everything past the highest delivered. */
  get lost(): number {
    return this.gaps.reduce((n, [a, b]) => n + b - a, 0) + Math.max(0, this.sent - this.high);
  }

  push(bytes: Uint8Array): void {
    let b = bytes;
    if (this.pending.length > 0) {
      b = new Uint8Array(this.pending.length + bytes.length);
      b.set(this.pending);
      b.set(bytes, this.pending.length);
      this.pending = new Uint8Array(0);
    }
    let i = 0;
    while (i < b.length) {
      let n = 0;
      while (i + n < b.length && this.next + n < this.sent && b[i + n] === patternByte(this.key, this.next + n)) n++;
      if (n > 0) {
        this.deliver(this.next, n);
        this.next += n;
        i += n;
        continue;
      }
      if (b.length - i < WINDOW) {
        this.pending = b.slice(i);
        return;
      }
      const from = this.locate(b.subarray(i, i + WINDOW));
      if (from === undefined) {
        this.corrupted++;
        i++;
      } else {
        this.next = from;
      }
    }
  }

  /** At the end of the stream: bytes still waiting to be placed are placed as well as they can be. */
  finish(): void {
    const rest = this.pending;
    this.pending = new Uint8Array(0);
    for (let i = 0; i < rest.length; i++) {
      const from = this.locate(rest.subarray(i));
      if (from === undefined) {
        this.corrupted++;
        continue;
      }
      this.deliver(from, rest.length - i);
      return;
    }
  }

  /** The sent offset nearest `next` whose bytes equal `win`, or undefined. */
  private locate(win: Uint8Array): number | undefined {
    const last = this.sent - win.length;
    const matches = (s: number) => win.every((x, k) => x === patternByte(this.key, s + k));
    for (let d = 0; this.next + d <= last || this.next - d >= 0; d++) {
      if (this.next + d <= last && matches(this.next + d)) return this.next + d;
      if (d > 0 && this.next - d >= 0 && this.next - d <= last && matches(this.next - d)) return this.next - d;
    }
    return undefined;
  }

  /** Sent bytes [from, from + n) arrived. */
  private deliver(from: number, n: number): void {
    const to = from + n;
    const oldHigh = this.high;
    // Below the high-water mark a byte either fills a hole (it came late: reordered) or was
    // delivered before (duplicated).
    const hi = Math.min(to, oldHigh);
    const below = Math.max(0, hi - from);
    let filled = 0;
    if (below > 0) {
      const kept: [number, number][] = [];
      for (const [a, b] of this.gaps) {
        const x = Math.max(a, from);
        const y = Math.min(b, hi);
        if (x >= y) {
          kept.push([a, b]);
          continue;
        }
        filled += y - x;
        if (a < x) kept.push([a, x]);
        if (y < b) kept.push([y, b]);
      }
      this.gaps = kept;
    }
    this.reordered += filled;
    this.duplicated += below - filled;
    if (to > oldHigh) {
      if (from > oldHigh) this.gaps.push([oldHigh, from]);
      this.high = to;
    }
  }
}
