// The reference server's end of a TCP connection, and the services behind it: echo (db, vpn, ws)
// and a minimal HTTP/1.1 responder. A plain, conventional TCP — it buffers segments that arrive
// ahead of a hole, ACKs every segment with sequence space, and retransmits data only when the
// client asks with duplicate ACKs (every third) or repeats its SYN: the same contract the
// generator assumes of the stack under test. The one timer is for its FIN once nothing else is
// unacknowledged, because after the client's last ACK nobody would ask again. Only for testing
// the generator itself.
//
// Broken modes put one deliberate fault into each echo stream once it passes byte 100, so tests
// can prove the generator's checks fire: a byte left out, a chunk echoed twice, two chunks
// swapped, or one sequence number skipped (a hole nothing ever fills); or, on HTTP, every
// Content-Length one more than the body.

import { seqAdd, seqDiff, TcpFlag, type TcpSegment } from '../../emulator/net/tcp.ts';
import { hash32 } from '../../traffic/prng.ts';
import { pattern } from '../../traffic/stream-check.ts';
import { Reassembly, SendBuffer } from '../../traffic/stream.ts';
import type { SegmentOut } from '../../traffic/tcp-client.ts';

const { SYN, ACK, FIN, RST, PSH } = TcpFlag;

export type BrokenMode = 'skipByte' | 'duplicateData' | 'reorderData' | 'skipSeq' | 'httpLength';
const FAULT_AFTER = 100;
const FIN_TRIES = 6;

export interface ServerTcpCounters {
  accepted: number;
  closed: number;
  resets: number;
  retransmissions: number;
}

/** A service: bytes in, bytes out; `closing` once it wants the connection closed after its output. */
interface Service {
  input(bytes: Uint8Array): Uint8Array;
  closing: boolean;
}

class Echo implements Service {
  closing = false;
  input(bytes: Uint8Array): Uint8Array {
    return bytes;
  }
}

/** Answers each GET with 200 and a body: `/bulk/N` gets N bytes, other paths 64..1563 by hash. */
class HttpResponder implements Service {
  closing = false;
  private head: number[] = [];

  constructor(private readonly lengthError: number) {}

  input(bytes: Uint8Array): Uint8Array {
    const out: Uint8Array[] = [];
    for (const b of bytes) {
      if (this.closing) break;
      this.head.push(b);
      const n = this.head.length;
      if (n >= 4 && this.head[n - 4] === 13 && this.head[n - 3] === 10 && this.head[n - 2] === 13 && this.head[n - 1] === 10) {
        out.push(this.respond(String.fromCharCode(...this.head).split('\r\n')[0]!));
        this.head = [];
      }
    }
    return concat(out);
  }

  private respond(requestLine: string): Uint8Array {
    const m = /^GET (\/[\x21-\x7e]*) HTTP\/1\.1$/.exec(requestLine);
    if (!m) {
      this.closing = true;
      return new TextEncoder().encode('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    }
    const path = m[1]!;
    const bulk = /^\/bulk\/([0-9]{1,7})$/.exec(path);
    const h = hash32(...Array.from(path, (c) => c.charCodeAt(0)));
    const size = bulk ? Math.min(Number(bulk[1]), 1 << 20) : 64 + (h % 1500);
    const head = new TextEncoder().encode(`HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${size + this.lengthError}\r\n\r\n`);
    return concat([head, pattern(h, 0, size)]);
  }
}

export class ServerConn {
  finished = false;
  private readonly irs: number;
  private readonly peerMss: number;
  private readonly service: Service;
  private readonly buf = new SendBuffer();
  private readonly reasm = new Reassembly();
  private synAcked = false;
  private sndUna = 0;
  private sndNxt = 0;
  private finOff: number | undefined;
  private peerWindow = 0;
  private rcvNxt = 0;
  private peerFinOff: number | undefined;
  private peerFinIn = false;
  private dupAcks = 0;
  private lastAckSent: number | undefined;
  /** Broken modes: the fault is planted once; skipSeq leaves this offset unsent forever. */
  private faulted = false;
  private held: Uint8Array | undefined;
  private skipAt: number | undefined;

  constructor(
    syn: TcpSegment,
    private readonly iss: number,
    kind: 'echo' | 'http',
    private readonly mss: number,
    private readonly broken: BrokenMode | undefined,
    private readonly emit: (seg: SegmentOut) => void,
    private readonly counters: ServerTcpCounters,
    /** Asks for finTimeout() to be called after a while (the server's timers). */
    private readonly later: (fn: () => void) => void,
  ) {
    this.irs = syn.seq;
    this.peerMss = syn.mss ?? 536;
    this.peerWindow = syn.window;
    this.service = kind === 'echo' ? new Echo() : new HttpResponder(broken === 'httpLength' ? 1 : 0);
    counters.accepted++;
    this.synAck();
  }

  arrive(seg: TcpSegment): void {
    if (this.finished) return;
    if (seg.flags & RST) {
      this.counters.resets++;
      this.finished = true;
      return;
    }
    if (seg.flags & SYN) {
      if (seg.seq === this.irs && !this.synAcked) {
        this.counters.retransmissions++;
        this.synAck();
      }
      return;
    }
    if (!(seg.flags & ACK)) return;
    if (!this.synAcked) {
      if (seg.ack !== seqAdd(this.iss, 1)) return;
      this.synAcked = true;
    }
    this.ackArrived(seg);
    if (seg.payload.length > 0 || seg.flags & FIN) this.dataArrived(seg);
    this.pump();
    if (this.finOff !== undefined && this.sndUna > this.finOff && this.peerFinIn) {
      this.finished = true;
      this.counters.closed++;
    }
  }

  private ackArrived(seg: TcpSegment): void {
    const ackOff = this.sndUna + seqDiff(seg.ack, this.seqOut(this.sndUna));
    if (ackOff > this.sndNxt || ackOff < this.sndUna) return;
    const windowChanged = seg.window !== this.peerWindow;
    this.peerWindow = seg.window;
    if (ackOff > this.sndUna) {
      this.sndUna = ackOff;
      this.buf.release(Math.min(ackOff, this.buf.end));
      this.dupAcks = 0;
    } else if (seg.payload.length === 0 && !(seg.flags & FIN) && this.sndUna < this.sndNxt && !windowChanged && ++this.dupAcks % 3 === 0) {
      this.counters.retransmissions++;
      this.retransmitFirst();
    }
  }

  private dataArrived(seg: TcpSegment): void {
    const off = this.rcvNxt + seqDiff(seg.seq, seqAdd(this.irs, 1 + this.rcvNxt));
    if (seg.flags & FIN) this.peerFinOff ??= off + seg.payload.length;
    const data = seg.payload;
    let progressed = false;
    if (data.length > 0 && !this.peerFinIn && off + data.length > this.rcvNxt) {
      if (off > this.rcvNxt) this.reasm.hold(off, data);
      else {
        this.deliver(data.subarray(this.rcvNxt - off));
        for (let more = this.reasm.take(this.rcvNxt); more; more = this.reasm.take(this.rcvNxt)) this.deliver(more);
        progressed = true;
      }
    }
    if (!this.peerFinIn && this.peerFinOff !== undefined && this.rcvNxt >= this.peerFinOff) {
      this.peerFinIn = true;
      progressed = true;
      if (this.held) this.output(this.held); // a swapped chunk still due goes out before the FIN
      this.held = undefined;
      this.service.closing = true;
    }
    this.pump();
    if (!progressed || this.lastAckSent !== this.ackNumber()) this.sendAck();
  }

  private deliver(bytes: Uint8Array): void {
    this.rcvNxt += bytes.length;
    if (!this.service.closing) this.output(this.service.input(bytes));
  }

  /** Queues service output, planting the broken mode's fault on echo streams. */
  private output(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    const at = this.buf.end;
    if (!this.broken || this.faulted || !(this.service instanceof Echo) || at + bytes.length <= FAULT_AFTER) {
      if (this.held) {
        this.buf.append(bytes);
        this.buf.append(this.held);
        this.held = undefined;
      } else this.buf.append(bytes);
      return;
    }
    this.faulted = true;
    const cut = Math.max(0, FAULT_AFTER - at);
    switch (this.broken) {
      case 'skipByte':
        this.buf.append(concat([bytes.subarray(0, cut), bytes.subarray(cut + 1)]));
        return;
      case 'duplicateData':
        this.buf.append(bytes);
        this.buf.append(bytes);
        return;
      case 'reorderData':
        this.held = bytes;
        return;
      case 'skipSeq':
        this.skipAt = at + cut;
        this.buf.append(concat([bytes.subarray(0, cut), Uint8Array.of(0), bytes.subarray(cut)]));
        return;
      case 'httpLength':
        this.buf.append(bytes);
        return;
    }
  }

  private pump(): void {
    if (!this.synAcked) return;
    const limit = Math.min(this.peerWindow, 16 * this.mss);
    const mss = Math.min(this.mss, this.peerMss);
    while (this.sndNxt < this.buf.end) {
      const room = limit - (this.sndNxt - this.sndUna);
      if (room <= 0) return;
      const n = Math.min(mss, this.buf.end - this.sndNxt, room);
      this.sendData(this.sndNxt, n);
      this.sndNxt += n;
    }
    if (this.service.closing && this.finOff === undefined && this.buf.end === this.sndNxt && !this.held) {
      this.finOff = this.buf.end;
      this.emit({ seq: this.seqOut(this.finOff), ack: this.ackNumber(), flags: FIN | ACK });
      this.lastAckSent = this.ackNumber();
      this.sndNxt = this.finOff + 1;
      this.later(() => this.finTimeout(FIN_TRIES));
    }
  }

  /** LAST-ACK: repeats a FIN that is the only thing unacknowledged, a few times. */
  private finTimeout(left: number): void {
    if (this.finished || left === 0 || this.finOff === undefined || this.sndUna > this.finOff) return;
    if (this.sndUna === this.finOff) {
      this.counters.retransmissions++;
      this.emit({ seq: this.seqOut(this.finOff), ack: this.ackNumber(), flags: FIN | ACK });
    }
    this.later(() => this.finTimeout(left - 1));
  }

  /** Sends [from, from + n), leaving out the skipped sequence number of the skipSeq mode. */
  private sendData(from: number, n: number): void {
    const to = from + n;
    const parts: [number, number][] = this.skipAt !== undefined && this.skipAt >= from && this.skipAt < to
      ? [[from, this.skipAt], [this.skipAt + 1, to]]
      : [[from, to]];
    for (const [a, b] of parts) {
      if (a < b) this.emit({ seq: this.seqOut(a), ack: this.ackNumber(), flags: PSH | ACK, payload: this.buf.slice(a, b) });
    }
    this.lastAckSent = this.ackNumber();
  }

  private retransmitFirst(): void {
    const dataEnd = Math.min(this.sndNxt, this.finOff ?? Infinity);
    if (this.sndUna < dataEnd) this.sendData(this.sndUna, Math.min(this.mss, this.peerMss, dataEnd - this.sndUna));
    else if (this.finOff !== undefined && this.sndUna === this.finOff) this.emit({ seq: this.seqOut(this.finOff), ack: this.ackNumber(), flags: FIN | ACK });
  }

  private synAck(): void {
    this.emit({ seq: this.iss, ack: seqAdd(this.irs, 1), flags: SYN | ACK, mss: this.mss });
  }

  private sendAck(): void {
    this.emit({ seq: this.seqOut(this.sndNxt), ack: this.ackNumber(), flags: ACK });
    this.lastAckSent = this.ackNumber();
  }

  private ackNumber(): number {
    return seqAdd(this.irs, 1 + this.rcvNxt + (this.peerFinIn ? 1 : 0));
  }

  private seqOut(off: number): number {
    return seqAdd(this.iss, 1 + off);
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
