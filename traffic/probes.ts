// The non-TCP traffic of a run: DNS queries over UDP for names like svc-7.hic.test, retried on
// timeout as a resolver does, each answer checked against its question; and ICMP echo streams
// (ping) at a steady interval, each reply checked against its request. Both report what was sent
// and what came back.

import type { IcmpEchoPacket } from '../emulator/net/icmp.ts';
import type { UdpDatagram } from '../emulator/net/udp.ts';
import { NetError } from '../emulator/net/errors.ts';
import * as dns from './dns.ts';
import type { ClientHost, ClientHosts } from './hosts.ts';
import type { Prng } from './prng.ts';
import { pattern } from './stream-check.ts';
import { Timer, type TimerQueue } from './timers.ts';

export interface ProbeCounters {
  dnsQueries: number;
  dnsAnswers: number;
  dnsRetries: number;
  /** Answers that do not match their question, name an unexpected address, or do not parse. */
  dnsBad: number;
  pingSent: number;
  pingReceived: number;
  /** Replies whose data differs from the request, or that answer nothing we sent. */
  pingBad: number;
  pingDuplicates: number;
}

export const newProbeCounters = (): ProbeCounters => ({
  dnsQueries: 0, dnsAnswers: 0, dnsRetries: 0, dnsBad: 0, pingSent: 0, pingReceived: 0, pingBad: 0, pingDuplicates: 0,
});

/** What probes need from the generator: timers, hosts, frames out, and retry timing. */
export interface ProbeContext {
  readonly timers: TimerQueue;
  readonly hosts: ClientHosts;
  readonly counters: ProbeCounters;
  readonly rtoNs: number;
  readonly maxRetries: number;
  sendUdp(host: ClientHost, srcPort: number, dstPort: number, payload: Uint8Array): void;
  sendEcho(host: ClientHost, identifier: number, sequence: number, data: Uint8Array): void;
}

export class DnsQuery {
  done = false;
  private tries = 0;
  private readonly timer: Timer;
  private readonly query: Uint8Array;

  constructor(
    private readonly ctx: ProbeContext,
    readonly host: ClientHost,
    readonly srcPort: number,
    readonly id: number,
    readonly name: string,
    /** When the zone is known: the address the answer must give. */
    private readonly expected: number | undefined,
  ) {
    this.timer = new Timer(ctx.timers, (now) => this.transmit(now));
    this.query = dns.encodeQuery(id, name);
  }

  start(at: number): void {
    this.ctx.timers.push(at, (now) =>
      this.ctx.hosts.whenResolved(this.host, now, (t) => {
        this.ctx.counters.dnsQueries++;
        this.transmit(t);
      }, () => void (this.done = true)),
    );
  }

  arrived(d: UdpDatagram): void {
    if (this.done) return;
    let m: dns.DnsMessage;
    try {
      m = dns.decode(d.payload);
    } catch (e) {
      if (!(e instanceof NetError)) throw e; // a bug in the decoder, not a bad answer
      this.ctx.counters.dnsBad++;
      return;
    }
    if (m.id !== this.id || !m.response) return; // not the answer to this query (a stale retry's is fine)
    const q = m.questions[0];
    const a = m.answers.find((r) => r.type === dns.DNS_TYPE_A && r.data.length === 4);
    const address = a ? ((a.data[0]! << 24) | (a.data[1]! << 16) | (a.data[2]! << 8) | a.data[3]!) >>> 0 : undefined;
    const good = q?.name.toLowerCase() === this.name && m.rcode === dns.RCODE_NOERROR && address !== undefined && (this.expected === undefined || address === this.expected);
    if (good) this.ctx.counters.dnsAnswers++;
    else this.ctx.counters.dnsBad++;
    this.done = true;
    this.timer.clear();
  }

  private transmit(now: number): void {
    if (this.done) return;
    if (this.tries > this.ctx.maxRetries) {
      this.done = true; // unanswered: queries minus answers shows it
      return;
    }
    if (this.tries++ > 0) this.ctx.counters.dnsRetries++;
    this.ctx.sendUdp(this.host, this.srcPort, dns.DNS_PORT, this.query);
    this.timer.set(now + 2 * this.ctx.rtoNs);
  }
}

export class PingStream {
  done = false;
  private readonly replied = new Set<number>();
  private sent = 0;
  private readonly timer: Timer;

  constructor(
    private readonly ctx: ProbeContext,
    readonly host: ClientHost,
    readonly identifier: number,
    private readonly count: number,
    private readonly intervalNs: number,
    private readonly size: number,
  ) {
    this.timer = new Timer(ctx.timers, (now) => this.tick(now));
  }

  start(at: number): void {
    this.ctx.timers.push(at, (now) => this.ctx.hosts.whenResolved(this.host, now, (t) => this.tick(t), () => void (this.done = true)));
  }

  arrived(m: IcmpEchoPacket): void {
    const seq = m.sequence;
    if (seq < 1 || seq > this.sent || !equal(m.data, this.data(seq))) {
      this.ctx.counters.pingBad++;
    } else if (this.replied.has(seq)) {
      this.ctx.counters.pingDuplicates++;
    } else {
      this.replied.add(seq);
      this.ctx.counters.pingReceived++;
      if (this.replied.size === this.count) this.finish();
    }
  }

  private tick(now: number): void {
    if (this.done) return;
    if (this.sent === this.count) {
      this.finish(); // the last reply's wait is over
      return;
    }
    this.sent++;
    this.ctx.counters.pingSent++;
    this.ctx.sendEcho(this.host, this.identifier, this.sent, this.data(this.sent));
    this.timer.set(now + (this.sent === this.count ? 4 * this.ctx.rtoNs : this.intervalNs));
  }

  private data(seq: number): Uint8Array {
    return pattern(this.identifier * 65536 + seq, 0, this.size);
  }

  private finish(): void {
    this.done = true;
    this.timer.clear();
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Names svc-0.hic.test … svc-(n−1).hic.test. */
export function serviceName(n: number): string {
  return `svc-${n}.hic.test`;
}

/** A deterministic source of query ids, ports and start times; kept here so generator.ts stays small. */
export function dnsPlan(rng: Prng, queries: number, names: number, hosts: number, durationNs: number) {
  return Array.from({ length: queries }, () => ({
    at: rng.between(0, 0.8 * durationNs),
    host: rng.int(0, hosts - 1),
    id: rng.int(0, 0xffff),
    name: serviceName(rng.int(0, names - 1)),
  }));
}

/** A zone for svc-0 … svc-(n−1): consecutive addresses from `firstIp`. */
export function serviceZone(names: number, firstIp: number): Map<string, number> {
  return new Map(Array.from({ length: names }, (_, i) => [serviceName(i), (firstIp + i) >>> 0] as const));
}
