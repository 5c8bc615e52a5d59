// The traffic generator: many emulated remote hosts driving TCP, DNS and ping traffic at the stack
// under test over the emulated wire, and checking everything that comes back — every echoed byte
// against what was sent, every HTTP response's framing, the server's TCP sequence continuity —
// with latency per exchange in virtual time. It is the ground truth for the update and rollback
// tests: a stack that loses, repeats or reorders one byte while being replaced shows up here.
//
// Deterministic by construction: randomness only from the seed (prng.ts, one forked sequence per
// connection and stream), time only from the caller (tick / receive), timers in a queue the caller
// drains. The same seed against the same stack gives the same frames in the same order.

import type { Mac } from '../emulator/net/ethernet.ts';
import { parseMac } from '../emulator/net/ethernet.ts';
import { icmpEchoFrame, tcpFrame, udpFrame } from '../emulator/net/frames.ts';
import { ipToString, parseIp } from '../emulator/net/ipv4.ts';
import { assignClasses, CLASS_PRIORITY, DEFAULT_PORTS, DEFAULT_SHARES, planFor, TRAFFIC_CLASSES, type ServerPorts, type TrafficClass } from './classes.ts';
import { badConfig, TrafficError } from './errors.ts';
import { ClientHosts, type ClientHost } from './hosts.ts';
import { DnsQuery, dnsPlan, newProbeCounters, PingStream, type ProbeContext } from './probes.ts';
import { hash32, Prng } from './prng.ts';
import { EchoSession, HttpSession, type Session, type SessionMetrics } from './sessions.ts';
import { latencySummary, summaryLine, type LatencySummary, type TrafficSummary } from './summary.ts';
import { newTcpCounters, REFUSED, TcpClient, type TcpClientState } from './tcp-client.ts';
import { TimerQueue } from './timers.ts';
import { parsed, type WireEndpoint, type WirePort } from './wire.ts';

export interface TrafficConfig {
  readonly seed: number | string;
  /** Emulated remote hosts: `count` consecutive addresses from `firstIp` (default 10.0.1.1 × 50). */
  readonly clients?: { readonly firstIp?: number | string; readonly count?: number };
  /** The stack under test; `mac`, when given, is what its ARP replies must say. */
  readonly server: { readonly ip: number | string; readonly mac?: Mac | string; readonly ports?: Partial<ServerPorts> };
  readonly connections: number;
  readonly shares?: Partial<Record<TrafficClass, number>>;
  /** Length of the run's activity; connections start in its first quarter. Default 1 s. */
  readonly durationNs?: number;
  /** Virtual time of the first activity. Default 0. */
  readonly startNs?: number;
  /** Fixed retransmission timeout (doubling per retry). Default 50 ms. */
  readonly rtoNs?: number;
  /** Retries (or probes without progress) before a connection is aborted. Default 8. */
  readonly maxRetries?: number;
  readonly dupAckBurst?: number;
  readonly mss?: number;
  /** Start every connection's ISN just below 2^32, so every stream crosses the sequence wrap. */
  readonly isnNearWrap?: boolean;
  readonly dns?: { readonly queries: number; readonly names?: number; readonly zone?: ReadonlyMap<string, number> };
  readonly ping?: { readonly streams: number; readonly count: number; readonly intervalNs?: number; readonly size?: number };
}

export interface ConnectionInfo {
  readonly id: number;
  readonly cls: TrafficClass;
  /** CLASS_PRIORITY: 0 first. */
  readonly priority: number;
  readonly clientIp: number;
  readonly clientPort: number;
  readonly serverPort: number;
  readonly startNs: number;
  readonly state: TcpClientState;
  readonly outcome: 'running' | 'closed' | 'failed';
  readonly failure: string | undefined;
  /** Application bytes handed to TCP, and delivered by it. */
  readonly bytesSent: number;
  readonly bytesReceived: number;
}

interface Connection {
  readonly id: number;
  readonly cls: TrafficClass;
  readonly host: ClientHost;
  readonly port: number;
  readonly serverPort: number;
  readonly startNs: number;
  readonly tcp: TcpClient;
  readonly session: Session;
}

const WINDOW = 65535;
const PING_ID_BASE = 0x4800;
const key = (ip: number, port: number) => ip * 65536 + port;

export class TrafficGenerator implements WireEndpoint {
  private readonly timers = new TimerQueue();
  private readonly serverIp: number;
  private readonly hosts: ClientHosts;
  private readonly conns: Connection[] = [];
  private readonly byKey = new Map<number, Connection>();
  private readonly dnsByKey = new Map<number, DnsQuery>();
  private readonly pings = new Map<number, PingStream>();
  private readonly tcpCounters = newTcpCounters();
  private readonly probeCounters = newProbeCounters();
  private readonly metrics: SessionMetrics = { latencies: [], httpResponses: 0, httpErrors: 0, httpErrorSamples: [], serverErrors: { responses: 0, lastAt: 0 } };
  private readonly classLatencies = new Map<TrafficClass, number[]>(TRAFFIC_CLASSES.map((c) => [c, []]));
  private framesSent = 0;
  private framesReceived = 0;
  private badFrames = 0;
  private strayFrames = 0;

  constructor(readonly config: TrafficConfig, private readonly port: WirePort) {
    checkConfig(config);
    const n = config.connections;
    const rng = Prng.fromSeed(config.seed);
    const durationNs = config.durationNs ?? 1e9;
    const startNs = config.startNs ?? 0;
    const rtoNs = config.rtoNs ?? 50e6;
    const maxRetries = config.maxRetries ?? 8;
    const ports = { ...DEFAULT_PORTS, ...config.server.ports };
    this.serverIp = typeof config.server.ip === 'number' ? config.server.ip : parseIp(config.server.ip);
    const serverMac = typeof config.server.mac === 'string' ? parseMac(config.server.mac) : config.server.mac;
    const firstIp = config.clients?.firstIp ?? '10.0.1.1';
    this.hosts = new ClientHosts(typeof firstIp === 'number' ? firstIp : parseIp(firstIp), config.clients?.count ?? 50, this.serverIp, serverMac, this.timers, (f) => this.send(f), { rtoNs, maxRetries });
    const hostHeader = ipToString(this.serverIp);
    const mss = config.mss ?? 1460;
    const classes = assignClasses(n, config.shares ?? DEFAULT_SHARES, rng.fork(0x636c));

    classes.forEach((cls, id) => {
      const r = rng.fork(0x636f6e6e, id);
      const host = this.hosts.list[r.int(0, this.hosts.list.length - 1)]!;
      const port = host.nextPort++;
      const plan = planFor(cls, r, durationNs, id);
      const serverPort = ports[plan.service];
      const at = startNs + r.between(0, 0.25 * durationNs);
      const tcpOpts = { iss: config.isnNearWrap ? (0x100000000 - r.int(1, 4000)) >>> 0 : r.u32(), mss, rtoNs, maxRetries, dupAckBurst: config.dupAckBurst ?? 3, maxInFlight: 16 * mss };
      const tcp = new TcpClient(tcpOpts, this.timers, (s) => this.send(tcpFrame({ ...this.ends(host), srcPort: port, dstPort: serverPort, window: WINDOW, ...s })), this.tcpCounters);
      const samples = this.classLatencies.get(cls)!;
      const session = plan.kind === 'echo'
        ? new EchoSession(plan, tcp, this.timers, this.metrics, samples, hash32(rng.key, id))
        : new HttpSession(plan, tcp, this.timers, this.metrics, samples, hostHeader);
      tcp.app = session;
      const c: Connection = { id, cls, host, port, serverPort, startNs: at, tcp, session };
      this.conns.push(c);
      this.byKey.set(key(host.ip, port), c);
      this.timers.push(at, (now) => this.hosts.whenResolved(host, now, (t) => tcp.open(t), (t) => tcp.abort('the server never answered ARP', t)));
    });

    const ctx: ProbeContext = {
      timers: this.timers, hosts: this.hosts, counters: this.probeCounters, rtoNs, maxRetries,
      sendUdp: (h, srcPort, dstPort, payload) => this.send(udpFrame({ ...this.ends(h), srcPort, dstPort, payload })),
      sendEcho: (h, identifier, sequence, data) => this.send(icmpEchoFrame({ ...this.ends(h), type: 'request', identifier, sequence, data })),
    };
    if (config.dns) {
      const zone = config.dns.zone;
      dnsPlan(rng.fork(0x646e73), config.dns.queries, config.dns.names ?? 16, this.hosts.list.length, durationNs).forEach((q) => {
        const host = this.hosts.list[q.host]!;
        const query = new DnsQuery(ctx, host, host.nextPort++, q.id, q.name, zone?.get(q.name));
        this.dnsByKey.set(key(host.ip, query.srcPort), query);
        query.start(startNs + q.at);
      });
    }
    const ping = config.ping;
    if (ping) {
      const pr = rng.fork(0x70696e67);
      for (let i = 0; i < ping.streams; i++) {
        const host = this.hosts.list[pr.int(0, this.hosts.list.length - 1)]!;
        const stream = new PingStream(ctx, host, PING_ID_BASE + i, ping.count, ping.intervalNs ?? 10e6, ping.size ?? 56);
        this.pings.set(PING_ID_BASE + i, stream);
        stream.start(startNs + pr.between(0, 0.25 * durationNs));
      }
    }
  }

  /** True once every connection, query and ping stream has ended. */
  get done(): boolean {
    return this.conns.every((c) => c.tcp.finished) && [...this.dnsByKey.values()].every((q) => q.done) && [...this.pings.values()].every((p) => p.done);
  }

  tick(nowNs: number): void {
    this.timers.runDue(nowNs);
  }

  nextWake(): number | undefined {
    return this.timers.nextAt();
  }

  /** A frame from the stack under test, at virtual time `nowNs`. */
  receive(frame: Uint8Array, nowNs: number): void {
    this.timers.runDue(nowNs); // whatever was due before this frame happens first
    this.framesReceived++;
    const p = parsed(frame);
    if (p === undefined) {
      this.badFrames++;
      return;
    }
    // (`in`, not kind: the ARP member's kind is a union, which `===` on kind cannot rule out.)
    if ('arp' in p) {
      this.hosts.arrived(p.arp, nowNs);
      return;
    }
    const host = this.hosts.host(p.ip.dst);
    if (host === undefined || p.ip.src !== this.serverIp) {
      this.strayFrames++;
      return;
    }
    if (p.kind === 'tcp') {
      const c = this.byKey.get(key(host.ip, p.tcp.dstPort));
      if (c && p.tcp.srcPort === c.serverPort) c.tcp.arrive(p.tcp, nowNs);
      else this.strayFrames++;
    } else if (p.kind === 'udp') {
      const q = this.dnsByKey.get(key(host.ip, p.udp.dstPort));
      if (q && p.udp.srcPort === 53) q.arrived(p.udp);
      else this.strayFrames++;
    } else if (p.icmp.type === 'reply') {
      const s = this.pings.get(p.icmp.identifier);
      if (s && s.host === host) s.arrived(p.icmp);
      else this.strayFrames++;
    } else if (host.serverMac) {
      // The server pinging one of our hosts: answer as a host would.
      this.send(icmpEchoFrame({ ...this.ends(host), type: 'reply', identifier: p.icmp.identifier, sequence: p.icmp.sequence, data: p.icmp.data }));
    }
  }

  classOf(connId: number): TrafficClass {
    const c = this.conns[connId];
    if (c === undefined) throw new TrafficError('TRAFFIC_NO_CONNECTION', `traffic: no connection ${connId} (there are ${this.conns.length})`);
    return c.cls;
  }

  connections(): ConnectionInfo[] {
    return this.conns.map((c) => ({
      id: c.id, cls: c.cls, priority: CLASS_PRIORITY[c.cls], clientIp: c.host.ip, clientPort: c.port, serverPort: c.serverPort,
      startNs: c.startNs, state: c.tcp.state, outcome: outcome(c), failure: c.tcp.failure ?? (c.session.cutShort ? 'cut short' : undefined),
      bytesSent: c.tcp.bytesSent, bytesReceived: c.tcp.bytesReceived,
    }));
  }

  summary(): TrafficSummary {
    const byClass = Object.fromEntries(TRAFFIC_CLASSES.map((k) => [k, 0])) as Record<TrafficClass, number>;
    let lost = 0, lostOnFailed = 0, duplicated = 0, reordered = 0, corrupted = 0, corruptedOnFailed = 0, bytesSent = 0, bytesReceived = 0;
    const outcomes = { running: 0, closed: 0, failed: 0 };
    const corruptedClosed = { connections: 0, lastAt: 0, lost: 0 };
    const refused = { connections: 0, lastAt: 0 };
    const failures: string[] = [];
    for (const c of this.conns) {
      byClass[c.cls]++;
      outcomes[outcome(c)]++;
      bytesSent += c.tcp.bytesSent;
      bytesReceived += c.tcp.bytesReceived;
      if (outcome(c) === 'failed' && failures.length < 8) failures.push(`connection ${c.id} (${c.cls}): ${c.tcp.failure ?? 'cut short'}`);
      if (c.tcp.failure === REFUSED) refused.connections++, refused.lastAt = Math.max(refused.lastAt, c.tcp.failedAt ?? 0);
      if (c.session instanceof EchoSession) {
        lost += c.session.check.lost;
        if (outcome(c) === 'failed') lostOnFailed += c.session.check.lost, corruptedOnFailed += c.session.check.corrupted;
        else if (c.session.check.corrupted > 0) {
          corruptedClosed.connections++;
          corruptedClosed.lastAt = Math.max(corruptedClosed.lastAt, c.session.corruptedAt ?? 0);
          corruptedClosed.lost += Math.min(c.session.check.lost, c.session.check.corrupted);
        }
        duplicated += c.session.check.duplicated;
        reordered += c.session.check.reordered;
        corrupted += c.session.check.corrupted;
      }
    }
    return {
      connections: this.conns.length, byClass, ...outcomes, bytes: bytesSent + bytesReceived, bytesSent, bytesReceived,
      lost, lostOnFailed, duplicated, reordered, corrupted, corruptedOnFailed, corruptedClosed, refused, seqGaps: this.tcpCounters.seqGaps, seqErrors: this.tcpCounters.seqErrors,
      httpResponses: this.metrics.httpResponses, httpErrors: this.metrics.httpErrors, serverErrors: { ...this.metrics.serverErrors }, latency: latencySummary(this.metrics.latencies),
      latencyByClass: Object.fromEntries(TRAFFIC_CLASSES.map((c) => [c, latencySummary(this.classLatencies.get(c)!)])) as Record<TrafficClass, LatencySummary>,
      tcp: { ...this.tcpCounters }, arp: { ...this.hosts.counters }, probes: { ...this.probeCounters },
      framesSent: this.framesSent, framesReceived: this.framesReceived, badFrames: this.badFrames, strayFrames: this.strayFrames,
      failures: [...failures, ...this.metrics.httpErrorSamples.map((m) => `http: ${m}`)],
    };
  }

  summaryLine(): string {
    return summaryLine(this.summary());
  }

  private ends(h: ClientHost) {
    return { srcMac: h.mac, dstMac: h.serverMac!, srcIp: h.ip, dstIp: this.serverIp };
  }

  private send(frame: Uint8Array): void {
    this.framesSent++;
    this.port.send(frame);
  }
}

function checkConfig(c: TrafficConfig): void {
  const count = (v: number | undefined, what: string, min = 0) => {
    if (v !== undefined && !(Number.isSafeInteger(v) && v >= min)) badConfig(`${what} ${v} is not an integer >= ${min}`);
  };
  count(c.connections, 'connections');
  count(c.durationNs, 'durationNs', 1);
  count(c.startNs, 'startNs');
  count(c.rtoNs, 'rtoNs', 1);
  count(c.maxRetries, 'maxRetries', 1);
  count(c.dupAckBurst, 'dupAckBurst', 1);
  count(c.dns?.queries, 'dns.queries');
  count(c.dns?.names, 'dns.names', 1);
  count(c.ping?.streams, 'ping.streams');
  count(c.ping?.count, 'ping.count', 1);
  count(c.ping?.intervalNs, 'ping.intervalNs', 1);
  if (c.ping && c.ping.streams > 0xffff - PING_ID_BASE) badConfig(`ping.streams ${c.ping.streams} is more than the identifiers left`);
  if (c.mss !== undefined && !(Number.isInteger(c.mss) && c.mss >= 64 && c.mss <= 1460)) badConfig(`mss ${c.mss} is not in 64..1460`);
}

function outcome(c: Connection): 'running' | 'closed' | 'failed' {
  if (!c.tcp.finished) return 'running';
  return c.session.complete ? 'closed' : 'failed';
}
