// The client end of one emulated TCP connection: active open with an MSS option, data both ways,
// an ACK for every segment that carries sequence space, retransmission of our own data on a
// fixed RTO in virtual time (doubling per try) and on three duplicate ACKs, and an orderly FIN
// close. The stack under test is not assumed to retransmit on its own timer: when we are owed
// bytes (a hole, an unanswered request, a missing FIN) and nothing arrives for an RTO, we send a
// burst of duplicate ACKs, which is what makes a conventional stack fast-retransmit.
//
// Both directions are tracked by stream offset (bytes since the SYN), so the 2^32 wrap only
// appears where offsets turn into sequence numbers. Sequence continuity of the server is checked
// here: a hole never filled before the end, a FIN that moves, data past the FIN, a changed ISN or
// an ACK for bytes never sent are all counted.

import { seqAdd, seqDiff, TcpFlag, type TcpSegment } from '../emulator/net/tcp.ts';
import { Reassembly, SendBuffer } from './stream.ts';
import { Timer, type TimerQueue } from './timers.ts';

const { SYN, ACK, FIN, RST, PSH } = TcpFlag;
/** Doubling stops here: 2^6 × RTO. */
const MAX_BACKOFF = 6;

/** The failure of an open connection the server reset. */
export const RESET_BY_SERVER = 'reset by the server';
/** The failure of a connection whose SYN the server answered with a reset. */
export const REFUSED = 'refused by the server';

export interface SegmentOut {
  readonly seq: number;
  readonly ack: number;
  readonly flags: number;
  readonly payload?: Uint8Array;
  readonly mss?: number;
}

export interface TcpClientOptions {
  readonly iss: number;
  readonly mss: number;
  readonly rtoNs: number;
  /** Retransmissions of one segment, or probes without progress, before the connection is aborted. */
  readonly maxRetries: number;
  /** Duplicate ACKs per probe (3 triggers a conventional fast retransmit). */
  readonly dupAckBurst: number;
  /** Our own cap on bytes in flight, below the peer's window. */
  readonly maxInFlight: number;
}

/** The application on top: a session of one traffic class. */
export interface TcpApp {
  onEstablished(now: number): void;
  onData(bytes: Uint8Array, now: number): void;
  /** The server's FIN arrived (in order) before we closed. */
  onPeerClosed(now: number): void;
  /** True while the server owes us bytes (an exchange not yet answered). */
  expecting(): boolean;
  onEnd(now: number): void;
}

/** Shared by every connection of a generator; summed into its summary. */
export interface TcpCounters {
  retransmissions: number;
  fastRetransmits: number;
  dupAcksSent: number;
  probes: number;
  duplicateSegments: number;
  outOfOrderSegments: number;
  seqGaps: number;
  seqErrors: number;
  resets: number;
}

export const newTcpCounters = (): TcpCounters => ({
  retransmissions: 0, fastRetransmits: 0, dupAcksSent: 0, probes: 0, duplicateSegments: 0, outOfOrderSegments: 0, seqGaps: 0, seqErrors: 0, resets: 0,
});

export type TcpClientState = 'new' | 'synSent' | 'established' | 'closing' | 'done' | 'failed';

export class TcpClient {
  state: TcpClientState = 'new';
  failure: string | undefined;
  /** When it failed (virtual ns), if it did. */
  failedAt: number | undefined;
  app!: TcpApp;
  bytesSent = 0;
  bytesReceived = 0;

  private readonly buf = new SendBuffer();
  private readonly reasm = new Reassembly();
  private readonly rtx: Timer;
  private readonly probe: Timer;
  /** Send side, as offsets: data byte k is sequence number iss + 1 + k; our FIN sits at finOff. */
  private sndUna = 0;
  private sndNxt = 0;
  private finQueued = false;
  private finOff: number | undefined;
  private peerWindow = 0;
  private peerMss = 536;
  private retries = 0;
  private dupAcks = 0;
  /** While set, each partial ACK below it retransmits the next hole at once. */
  private recover: number | undefined;
  /** Receive side: data byte k is irs + 1 + k. */
  private irs = 0;
  private rcvNxt = 0;
  private peerFinOff: number | undefined;
  private peerFinIn = false;
  private lastAckSent: number | undefined;
  private probesWithoutProgress = 0;

  constructor(
    private readonly opts: TcpClientOptions,
    timers: TimerQueue,
    private readonly transmit: (seg: SegmentOut) => void,
    private readonly counters: TcpCounters,
  ) {
    this.rtx = new Timer(timers, (now) => this.rtxFired(now));
    this.probe = new Timer(timers, (now) => this.probeFired(now));
  }

  get finished(): boolean {
    return this.state === 'done' || this.state === 'failed';
  }

  open(now: number): void {
    this.state = 'synSent';
    this.transmit({ seq: this.opts.iss, ack: 0, flags: SYN, mss: this.opts.mss });
    this.rtx.set(now + this.opts.rtoNs);
  }

  send(bytes: Uint8Array, now: number): void {
    if (this.state !== 'established' || this.finQueued) throw new Error(`tcp client: send in state ${this.state}${this.finQueued ? ' after close' : ''}`);
    this.buf.append(bytes);
    this.bytesSent += bytes.length;
    this.pump(now);
  }

  /** Sends FIN once everything queued has been sent. */
  close(now: number): void {
    if (this.finQueued || this.finished) return;
    this.finQueued = true;
    this.pump(now);
    this.settle(now);
  }

  abort(reason: string, now: number): void {
    if (this.finished) return;
    // Before the SYN-ACK there is nothing to acknowledge: a bare RST at the sequence after our SYN.
    if (this.state === 'synSent') this.transmit({ seq: this.seqOut(0), ack: 0, flags: RST });
    else if (this.state !== 'new') this.transmit({ seq: this.seqOut(this.sndNxt), ack: this.ackNumber(), flags: RST | ACK });
    this.end('failed', now, reason);
  }

  arrive(seg: TcpSegment, now: number): void {
    const carries = seg.payload.length > 0 || (seg.flags & FIN) !== 0;
    if (this.finished) {
      if (this.state === 'done' && carries) this.sendAck(); // our last ACK was lost
      return;
    }
    if (seg.flags & RST) {
      this.counters.resets++;
      this.end('failed', now, this.state === 'synSent' ? REFUSED : RESET_BY_SERVER);
      return;
    }
    if (this.state === 'synSent') {
      if ((seg.flags & (SYN | ACK)) === (SYN | ACK) && seg.ack === seqAdd(this.opts.iss, 1)) this.established(seg, now);
      return;
    }
    if (seg.flags & SYN) {
      if (seg.seq !== this.irs) this.counters.seqErrors++; // a SYN-ACK repeated with another ISN
      this.sendAck();
      return;
    }
    if (seg.flags & ACK) this.ackArrived(seg, now);
    if (carries) this.dataArrived(seg, now);
    this.pump(now);
    this.settle(now);
  }

  private established(seg: TcpSegment, now: number): void {
    this.irs = seg.seq;
    this.peerMss = seg.mss ?? 536;
    this.peerWindow = seg.window;
    this.state = 'established';
    this.rtx.clear();
    this.retries = 0;
    this.sendAck();
    this.app.onEstablished(now);
    this.pump(now);
    this.settle(now);
  }

  private ackArrived(seg: TcpSegment, now: number): void {
    const ackOff = this.sndUna + seqDiff(seg.ack, this.seqOut(this.sndUna));
    if (ackOff > this.sndNxt) {
      this.counters.seqErrors++; // acknowledges bytes never sent
      return;
    }
    if (ackOff < this.sndUna) return; // an old ACK, overtaken
    const windowChanged = seg.window !== this.peerWindow;
    this.peerWindow = seg.window;
    if (ackOff > this.sndUna) {
      this.sndUna = ackOff;
      this.buf.release(Math.min(ackOff, this.buf.end));
      this.retries = 0;
      this.dupAcks = 0;
      if (this.recover !== undefined && ackOff < this.recover) this.retransmitFirst();
      else this.recover = undefined;
      if (this.sndUna < this.sndNxt) this.rtx.set(now + this.opts.rtoNs);
      else this.rtx.clear();
    } else if (seg.payload.length === 0 && !(seg.flags & FIN) && this.sndUna < this.sndNxt && !windowChanged && ++this.dupAcks === 3) {
      this.counters.fastRetransmits++;
      this.retransmitFirst();
      this.recover = this.sndNxt;
    }
  }

  private dataArrived(seg: TcpSegment, now: number): void {
    const off = this.rcvNxt + seqDiff(seg.seq, this.seqIn(this.rcvNxt));
    const data = seg.payload;
    if (seg.flags & FIN) {
      const fin = off + data.length;
      if (this.peerFinOff === undefined) this.peerFinOff = fin;
      else if (this.peerFinOff !== fin) this.counters.seqErrors++; // the FIN moved
    }
    if (this.peerFinOff !== undefined && off + data.length > this.peerFinOff) this.counters.seqErrors++; // data past the FIN
    let progressed = false;
    if (data.length > 0 && !this.peerFinIn) {
      if (off + data.length <= this.rcvNxt) this.counters.duplicateSegments++;
      else if (off > this.rcvNxt) {
        this.counters.outOfOrderSegments++;
        this.reasm.hold(off, data);
      } else {
        this.deliver(data.subarray(this.rcvNxt - off), now);
        for (let more = this.reasm.take(this.rcvNxt); more; more = this.reasm.take(this.rcvNxt)) this.deliver(more, now);
        progressed = true;
      }
    }
    if (!this.peerFinIn && this.peerFinOff !== undefined && this.rcvNxt >= this.peerFinOff) {
      this.peerFinIn = true;
      progressed = true;
      if (this.finished) return;
      if (!this.finQueued) this.app.onPeerClosed(now);
    }
    if (progressed) {
      this.probesWithoutProgress = 0;
      this.probe.clear();
    }
    // Every segment with sequence space is ACKed at once; a hole or a repeat makes it a duplicate ACK.
    if (!progressed) this.counters.dupAcksSent++;
    if (!progressed || this.lastAckSent !== this.ackNumber()) this.sendAck();
  }

  private deliver(bytes: Uint8Array, now: number): void {
    this.rcvNxt += bytes.length;
    this.bytesReceived += bytes.length;
    this.app.onData(bytes, now);
  }

  /** Sends new data, then our FIN once everything is out, within the window. */
  private pump(now: number): void {
    if (this.state !== 'established' && this.state !== 'closing') return;
    const limit = Math.min(this.peerWindow, this.opts.maxInFlight);
    const mss = Math.min(this.opts.mss, this.peerMss);
    for (;;) {
      if (this.sndNxt < this.buf.end) {
        const room = limit - (this.sndNxt - this.sndUna);
        if (room <= 0) break;
        const n = Math.min(mss, this.buf.end - this.sndNxt, room);
        this.sendData(this.sndNxt, n);
        this.sndNxt += n;
      } else if (this.finQueued && this.finOff === undefined) {
        this.finOff = this.buf.end;
        this.state = 'closing';
        this.transmit({ seq: this.seqOut(this.finOff), ack: this.ackNumber(), flags: FIN | ACK });
        this.lastAckSent = this.ackNumber();
        this.sndNxt = this.finOff + 1;
      } else break;
    }
    // Armed while bytes are in flight, and while data waits on a zero window (to probe it).
    if (this.rtx.at === undefined && (this.sndUna < this.sndNxt || this.sndNxt < this.buf.end)) this.rtx.set(now + this.opts.rtoNs);
  }

  private sendData(from: number, n: number): void {
    this.transmit({ seq: this.seqOut(from), ack: this.ackNumber(), flags: PSH | ACK, payload: this.buf.slice(from, from + n) });
    this.lastAckSent = this.ackNumber();
  }

  /** Sends again the oldest unacknowledged thing: SYN, a data segment or our FIN. */
  private retransmitFirst(): void {
    this.counters.retransmissions++;
    if (this.state === 'synSent') {
      this.transmit({ seq: this.opts.iss, ack: 0, flags: SYN, mss: this.opts.mss });
      return;
    }
    const dataEnd = Math.min(this.sndNxt, this.finOff ?? Infinity);
    if (this.sndUna < dataEnd) this.sendData(this.sndUna, Math.min(this.opts.mss, this.peerMss, dataEnd - this.sndUna));
    else if (this.finOff !== undefined && this.sndUna === this.finOff) this.transmit({ seq: this.seqOut(this.finOff), ack: this.ackNumber(), flags: FIN | ACK });
  }

  private rtxFired(now: number): void {
    if (this.finished) return;
    if (++this.retries > this.opts.maxRetries) {
      this.abort(`no ACK after ${this.opts.maxRetries} retransmissions`, now);
      return;
    }
    if (this.state !== 'synSent' && this.sndUna === this.sndNxt) {
      // Nothing in flight: data waits on a zero window. One byte past it asks for a window update.
      if (this.sndNxt < this.buf.end) {
        this.sendData(this.sndNxt, 1);
        this.sndNxt += 1;
      }
    } else {
      this.retransmitFirst();
      this.recover = this.sndNxt;
    }
    this.rtx.set(now + this.opts.rtoNs * 2 ** Math.min(this.retries, MAX_BACKOFF));
  }

  private probeFired(now: number): void {
    if (this.finished) return;
    if (++this.probesWithoutProgress > this.opts.maxRetries) {
      this.abort(`the server sent nothing owed after ${this.opts.maxRetries} duplicate-ACK probes`, now);
      return;
    }
    this.counters.probes++;
    for (let i = 0; i < this.opts.dupAckBurst; i++) this.sendAck();
    this.counters.dupAcksSent += this.opts.dupAckBurst;
    this.probe.set(now + this.opts.rtoNs * 2 ** Math.min(this.probesWithoutProgress, MAX_BACKOFF));
  }

  /** Ends the connection once both FINs are through; otherwise keeps the probe armed while owed. */
  private settle(now: number): void {
    if (this.finished || this.state === 'synSent') return;
    if (this.finOff !== undefined && this.sndUna > this.finOff && this.peerFinIn) {
      this.end('done', now);
      return;
    }
    const owed = !this.peerFinIn && (this.app.expecting() || !this.reasm.empty || this.finOff !== undefined);
    if (!owed) {
      this.probe.clear();
      this.probesWithoutProgress = 0;
    } else if (this.probe.at === undefined) {
      this.probe.set(now + this.opts.rtoNs * 2 ** Math.min(this.probesWithoutProgress, MAX_BACKOFF));
    }
  }

  private end(state: 'done' | 'failed', now: number, reason?: string): void {
    const wasOpen = this.state !== 'new' && this.state !== 'synSent';
    this.state = state;
    this.failure = reason;
    if (state === 'failed') this.failedAt = now;
    this.rtx.clear();
    this.probe.clear();
    if (wasOpen) {
      // Holes the server never filled: between the bytes held, and before a FIN never reached.
      const highest = Math.max(this.rcvNxt, this.reasm.highest ?? 0);
      this.counters.seqGaps += this.reasm.holes(this.rcvNxt) + (this.peerFinOff !== undefined && !this.peerFinIn && this.peerFinOff > highest ? 1 : 0);
    }
    this.app.onEnd(now);
  }

  private sendAck(): void {
    this.transmit({ seq: this.seqOut(this.sndNxt), ack: this.ackNumber(), flags: ACK });
    this.lastAckSent = this.ackNumber();
  }

  private ackNumber(): number {
    return seqAdd(this.irs, 1 + this.rcvNxt + (this.peerFinIn ? 1 : 0));
  }

  private seqOut(off: number): number {
    return seqAdd(this.opts.iss, 1 + off);
  }

  private seqIn(off: number): number {
    return seqAdd(this.irs, 1 + off);
  }
}
