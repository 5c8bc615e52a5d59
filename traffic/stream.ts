// The two byte-stream structures both TCP ends in this folder need, indexed by stream offset (bytes
// since the SYN, a plain number that never wraps) rather than by 32-bit sequence number: the send
// buffer that keeps unacknowledged bytes for retransmission, and the reassembly queue that holds
// segments which arrived ahead of a hole.

/** Bytes from `base` (the oldest unacknowledged offset) to `end`, kept as the chunks appended. */
export class SendBuffer {
  private chunks: Uint8Array[] = [];
  /** Stream offset of chunks[0][0]. */
  private start = 0;
  private length = 0;

  get base(): number {
    return this.start;
  }

  get end(): number {
    return this.start + this.length;
  }

  append(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.chunks.push(bytes);
    this.length += bytes.length;
  }

  /** Copies [from, to) — both within [base, end]. */
  slice(from: number, to: number): Uint8Array {
    if (from < this.start || to > this.end || from > to) {
      throw new RangeError(`send buffer: [${from}, ${to}) is outside [${this.start}, ${this.end})`);
    }
    const out = new Uint8Array(to - from);
    let at = this.start;
    for (const c of this.chunks) {
      const lo = Math.max(from, at);
      const hi = Math.min(to, at + c.length);
      if (lo < hi) out.set(c.subarray(lo - at, hi - at), lo - from);
      at += c.length;
      if (at >= to) break;
    }
    return out;
  }

  /** Forgets everything below `offset` (acknowledged). */
  release(offset: number): void {
    let drop = Math.min(offset, this.end) - this.start;
    while (drop > 0) {
      const c = this.chunks[0]!;
      if (c.length <= drop) {
        this.chunks.shift();
        this.start += c.length;
        this.length -= c.length;
        drop -= c.length;
      } else {
        this.chunks[0] = c.subarray(drop);
        this.start += drop;
        this.length -= drop;
        drop = 0;
      }
    }
  }
}

/** Segments that arrived past the next expected offset, waiting for the hole before them. */
export class Reassembly {
  /** Sorted by offset; may overlap (a retransmission with different boundaries). */
  private held: { off: number; data: Uint8Array }[] = [];

  get empty(): boolean {
    return this.held.length === 0;
  }

  /** One past the highest byte held, or undefined when nothing is held. */
  get highest(): number | undefined {
    return this.held.reduce<number | undefined>((m, s) => Math.max(m ?? 0, s.off + s.data.length), undefined);
  }

  /** Keeps `data` at `off` (> next, the offset the receiver waits for). */
  hold(off: number, data: Uint8Array): void {
    let i = this.held.length;
    while (i > 0 && this.held[i - 1]!.off > off) i--;
    this.held.splice(i, 0, { off, data: data.slice() });
  }

  /** Removes and returns the bytes that now follow on from `next`, or undefined if there are none. */
  take(next: number): Uint8Array | undefined {
    const parts: Uint8Array[] = [];
    let at = next;
    for (;;) {
      // Whatever ends at or before `at` can never be used again.
      this.held = this.held.filter((s) => s.off + s.data.length > at);
      const s = this.held.find((h) => h.off <= at);
      if (s === undefined) break;
      parts.push(s.data.subarray(at - s.off));
      at = s.off + s.data.length;
    }
    if (parts.length === 0) return undefined;
    const out = new Uint8Array(at - next);
    let w = 0;
    for (const p of parts) {
      out.set(p, w);
      w += p.length;
    }
    return out;
  }

  /** How many holes lie between `next` and the bytes held (0 when nothing is held). */
  holes(next: number): number {
    let count = 0;
    let at = next;
    for (const s of this.held) {
      if (s.off > at) count++;
      at = Math.max(at, s.off + s.data.length);
    }
    return count;
  }
}
