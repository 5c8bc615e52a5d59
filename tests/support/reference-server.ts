// A small TypeScript peer for testing the traffic generator on its own — never a stand-in for the
// guest network stack in integration tests. It answers ARP for its address and asks by ARP for
// every client before replying (so the generator's ARP answers are exercised), answers ping and
// DNS from a zone, and serves TCP: echo on the db, vpn and ws ports and HTTP on the http port
// (reference-tcp.ts). Optionally the wire in front of it is lossy (impair.ts: drops, duplicates
// and reorders frames both ways, seeded), or its echo service is deliberately broken.

import { macEquals, BROADCAST_MAC, type Mac } from '../../emulator/net/ethernet.ts';
import { arpFrame, icmpEchoFrame, tcpFrame, udpFrame } from '../../emulator/net/frames.ts';
import { TcpFlag, type TcpSegment } from '../../emulator/net/tcp.ts';
import { DEFAULT_PORTS, type ServerPorts } from '../../traffic/classes.ts';
import * as dns from '../../traffic/dns.ts';
import { Impairment, type LossyOptions } from './impair.ts';
import { hash32 } from '../../traffic/prng.ts';
import { ServerConn, type BrokenMode, type ServerTcpCounters } from './reference-tcp.ts';
import { Timer, TimerQueue } from '../../traffic/timers.ts';
import { parsed, type WireEndpoint, type WirePort } from '../../traffic/wire.ts';

export interface ReferenceServerConfig {
  readonly mac: Mac;
  readonly ip: number;
  readonly ports?: Partial<ServerPorts>;
  /** name → address; other names get NXDOMAIN. */
  readonly zone?: ReadonlyMap<string, number>;
  readonly mss?: number;
  readonly lossy?: LossyOptions;
  readonly broken?: BrokenMode;
  /** Start every connection's ISN just below 2^32, so every stream crosses the sequence wrap. */
  readonly isnNearWrap?: boolean;
}

export interface ReferenceServerCounters extends ServerTcpCounters {
  framesIn: number;
  framesOut: number;
  badFrames: number;
  arpRequests: number;
  dnsAnswered: number;
  pingsAnswered: number;
  refused: number;
}

const ARP_RETRY_NS = 20e6;
const ARP_TRIES = 10;
const FIN_RETRY_NS = 100e6;

export class ReferenceServer implements WireEndpoint {
  readonly counters: ReferenceServerCounters = {
    accepted: 0, closed: 0, resets: 0, retransmissions: 0, framesIn: 0, framesOut: 0, badFrames: 0, arpRequests: 0, dnsAnswered: 0, pingsAnswered: 0, refused: 0,
  };
  readonly impairment: Impairment | undefined;
  private readonly timers = new TimerQueue();
  private readonly services: Map<number, 'echo' | 'http'>;
  private readonly conns = new Map<string, ServerConn>();
  private readonly arpCache = new Map<number, Mac>();
  private readonly arpWaiting = new Map<number, { timer: Timer; tries: number; frames: ((mac: Mac) => Uint8Array)[] }>();
  private now = 0;

  constructor(private readonly config: ReferenceServerConfig, private readonly port: WirePort) {
    const p = { ...DEFAULT_PORTS, ...config.ports };
    this.services = new Map([[p.http, 'http'], [p.db, 'echo'], [p.vpn, 'echo'], [p.ws, 'echo']]);
    this.impairment = config.lossy ? new Impairment(config.lossy, this.timers) : undefined;
  }

  tick(nowNs: number): void {
    this.now = nowNs;
    this.timers.runDue(nowNs);
  }

  nextWake(): number | undefined {
    return this.timers.nextAt();
  }

  receive(frame: Uint8Array, nowNs: number): void {
    this.tick(nowNs);
    if (this.impairment) this.impairment.pass(frame, nowNs, (f, t) => this.handle(f, t));
    else this.handle(frame, nowNs);
  }

  private handle(frame: Uint8Array, now: number): void {
    this.now = now;
    this.counters.framesIn++;
    const p = parsed(frame);
    if (p === undefined) {
      this.counters.badFrames++;
      return;
    }
    const { mac, ip } = this.config;
    if (!macEquals(p.eth.dst, mac) && !macEquals(p.eth.dst, BROADCAST_MAC)) return;
    if ('arp' in p) {
      // Requests are answered but not learned from: the server asks for itself, as a strict stack may.
      if (p.arp.targetIp !== ip) return;
      if (p.arp.op === 'request') this.out(arpFrame({ op: 'reply', srcMac: mac, srcIp: ip, targetMac: p.arp.senderMac, targetIp: p.arp.senderIp }));
      else this.learn(p.arp.senderIp, p.arp.senderMac);
      return;
    }
    if (p.ip.dst !== ip) return;
    const client = p.ip.src;
    if (p.kind === 'icmpEchoRequest') {
      const m = p.icmp;
      this.counters.pingsAnswered++;
      this.toClient(client, (dstMac) => icmpEchoFrame({ srcMac: mac, dstMac, srcIp: ip, dstIp: client, type: 'reply', identifier: m.identifier, sequence: m.sequence, data: m.data }));
    } else if (p.kind === 'udp' && p.udp.dstPort === dns.DNS_PORT) {
      const u = p.udp;
      let q: dns.DnsMessage;
      try {
        q = dns.decode(u.payload);
      } catch {
        return;
      }
      const name = q.questions[0]?.name.toLowerCase();
      if (q.response || name === undefined) return;
      const answer = dns.encodeResponse(q, this.config.zone?.get(name));
      this.counters.dnsAnswered++;
      this.toClient(client, (dstMac) => udpFrame({ srcMac: mac, dstMac, srcIp: ip, dstIp: client, srcPort: dns.DNS_PORT, dstPort: u.srcPort, payload: answer }));
    } else if (p.kind === 'tcp') {
      this.tcp(client, p.tcp);
    }
  }

  private tcp(client: number, seg: TcpSegment): void {
    const key = `${client}:${seg.srcPort}:${seg.dstPort}`;
    let c = this.conns.get(key);
    const emit = (s: { seq: number; ack: number; flags: number; payload?: Uint8Array; mss?: number }) =>
      this.toClient(client, (dstMac) => tcpFrame({ srcMac: this.config.mac, dstMac, srcIp: this.config.ip, dstIp: client, srcPort: seg.dstPort, dstPort: seg.srcPort, window: 65535, ...s }));
    if (c === undefined) {
      const service = this.services.get(seg.dstPort);
      if ((seg.flags & (TcpFlag.SYN | TcpFlag.ACK | TcpFlag.RST)) !== TcpFlag.SYN || service === undefined) {
        // Nothing listens there, or the segment belongs to no connection: refuse as RFC 9293 says.
        if (!(seg.flags & TcpFlag.RST)) {
          this.counters.refused++;
          const ack = (seg.seq + seg.payload.length + (seg.flags & TcpFlag.SYN ? 1 : 0) + (seg.flags & TcpFlag.FIN ? 1 : 0)) >>> 0;
          emit(seg.flags & TcpFlag.ACK ? { seq: seg.ack, ack: 0, flags: TcpFlag.RST } : { seq: 0, ack, flags: TcpFlag.RST | TcpFlag.ACK });
        }
        return;
      }
      const h = hash32(client, seg.srcPort, seg.dstPort, seg.seq);
      const iss = this.config.isnNearWrap ? (0x100000000 - 1 - (h % 4000)) >>> 0 : h;
      const later = (fn: () => void) => void this.timers.push(this.now + FIN_RETRY_NS, fn);
      c = new ServerConn(seg, iss, service, this.config.mss ?? 1460, this.config.broken, emit, this.counters, later);
      this.conns.set(key, c);
      return;
    }
    c.arrive(seg);
  }

  /** Sends a frame to a client once its MAC is known, asking by ARP first if need be. */
  private toClient(ip: number, build: (dstMac: Mac) => Uint8Array): void {
    const known = this.arpCache.get(ip);
    if (known) {
      this.out(build(known));
      return;
    }
    let w = this.arpWaiting.get(ip);
    if (w === undefined) {
      const entry = { timer: new Timer(this.timers, () => this.ask(ip)), tries: 0, frames: [] as ((mac: Mac) => Uint8Array)[] };
      this.arpWaiting.set(ip, entry);
      w = entry;
      this.ask(ip);
    }
    w.frames.push(build);
  }

  private ask(ip: number): void {
    const w = this.arpWaiting.get(ip);
    if (w === undefined) return;
    if (w.tries++ >= ARP_TRIES) {
      this.arpWaiting.delete(ip);
      return;
    }
    this.counters.arpRequests++;
    this.out(arpFrame({ op: 'request', srcMac: this.config.mac, srcIp: this.config.ip, targetIp: ip }));
    w.timer.set(this.now + ARP_RETRY_NS);
  }

  private learn(ip: number, mac: Mac): void {
    this.arpCache.set(ip, mac.slice());
    const w = this.arpWaiting.get(ip);
    if (w === undefined) return;
    this.arpWaiting.delete(ip);
    w.timer.clear();
    for (const build of w.frames) this.out(build(mac));
  }

  private out(frame: Uint8Array): void {
    this.counters.framesOut++;
    if (this.impairment) this.impairment.pass(frame, this.now, (f) => this.port.send(f));
    else this.port.send(frame);
  }
}
