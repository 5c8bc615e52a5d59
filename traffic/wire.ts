// The emulated Ethernet wire as the host side sees it. A WirePort carries frames towards the stack
// under test (in the kernel: the NIC's `receive`); a WireEndpoint is anything on the host side
// that takes frames back with the virtual time they arrived, and is driven in virtual time by its
// owner: `tick(now)` when `nextWake()` comes due (in the kernel: from `kernel.at` timers).
//
// VirtualLink joins two endpoints for tests, with a fixed propagation delay and a serialisation
// delay per frame (a link of finite speed, so a bulk transfer queues ahead of a small message as
// on a real wire), and runs both in one deterministic loop.

import { NetError } from '../emulator/net/errors.ts';
import { parseFrame, type ParsedFrame } from '../emulator/net/frames.ts';

export interface WirePort {
  send(frame: Uint8Array): void;
}

export interface WireEndpoint {
  receive(frame: Uint8Array, nowNs: number): void;
  tick(nowNs: number): void;
  /** The next virtual time this endpoint must be ticked at, or undefined when it has nothing to do. */
  nextWake(): number | undefined;
}

/** The frame with every layer decoded and verified, or undefined for a damaged or foreign one. */
export function parsed(frame: Uint8Array): ParsedFrame | undefined {
  try {
    return parseFrame(frame);
  } catch (e) {
    if (e instanceof NetError) return undefined;
    throw e;
  }
}

export interface LinkOptions {
  /** One-way propagation delay; default 20 µs. */
  readonly delayNs?: number;
  /** Link speed; default 1 Gbit/s. */
  readonly bitsPerSecond?: number;
  /** Sees every frame when it is put on the wire: 'a' for frames sent by endpoint A. */
  readonly tap?: (from: 'a' | 'b', frame: Uint8Array, nowNs: number) => void;
}

interface InFlight {
  readonly at: number;
  readonly frame: Uint8Array;
}

/** One direction: frames leave in order, each after the previous one has been clocked out. */
class Lane {
  readonly queue: InFlight[] = [];
  private head = 0;
  private freeAt = 0;

  constructor(private readonly delayNs: number, private readonly nsPerByte: number) {}

  put(frame: Uint8Array, now: number): void {
    const start = Math.max(now, this.freeAt);
    this.freeAt = start + Math.round(frame.length * this.nsPerByte);
    this.queue.push({ at: this.freeAt + this.delayNs, frame });
  }

  peek(): InFlight | undefined {
    return this.queue[this.head];
  }

  take(): InFlight {
    const f = this.queue[this.head++]!;
    if (this.head > 1024) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    return f;
  }
}

export class VirtualLink {
  now = 0;
  private readonly lanes: Record<'a' | 'b', Lane>;
  private ends: { a: WireEndpoint; b: WireEndpoint } | undefined;

  constructor(private readonly opts: LinkOptions = {}) {
    const delay = opts.delayNs ?? 20_000;
    const nsPerByte = 8e9 / (opts.bitsPerSecond ?? 1e9);
    this.lanes = { a: new Lane(delay, nsPerByte), b: new Lane(delay, nsPerByte) };
  }

  /** The port endpoint `side` sends into. */
  port(side: 'a' | 'b'): WirePort {
    return {
      send: (frame) => {
        this.opts.tap?.(side, frame, this.now);
        this.lanes[side].put(frame.slice(), this.now);
      },
    };
  }

  connect(a: WireEndpoint, b: WireEndpoint): void {
    this.ends = { a, b };
  }

  /**
   * Runs until `untilNs`, until `stop()` holds, or until nothing is left to do; returns the
   * virtual time reached. Same-time events go: frames to B, frames to A, then A's and B's ticks.
   */
  run(untilNs: number, stop: () => boolean = () => false): number {
    const ends = this.ends;
    if (!ends) throw new Error('virtual link: connect() both endpoints first');
    while (!stop()) {
      const times = [this.lanes.a.peek()?.at, this.lanes.b.peek()?.at, ends.a.nextWake(), ends.b.nextWake()];
      const next = times.reduce<number | undefined>((m, t) => (t === undefined ? m : m === undefined ? t : Math.min(m, t)), undefined);
      if (next === undefined || next > untilNs) break;
      this.now = Math.max(this.now, next);
      for (let f = this.lanes.a.peek(); f && f.at <= this.now; f = this.lanes.a.peek()) ends.b.receive(this.lanes.a.take().frame, this.now);
      for (let f = this.lanes.b.peek(); f && f.at <= this.now; f = this.lanes.b.peek()) ends.a.receive(this.lanes.b.take().frame, this.now);
      if ((ends.a.nextWake() ?? Infinity) <= this.now) ends.a.tick(this.now);
      if ((ends.b.nextWake() ?? Infinity) <= this.now) ends.b.tick(this.now);
    }
    return this.now;
  }
}
