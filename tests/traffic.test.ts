// The traffic generator (traffic/) against its reference server, before it is ever
// pointed at the guest network stack: over a perfect wire everything completes with every byte
// accounted for; the same seed gives the same frames; over a lossy wire its retransmissions
// recover everything; and a server that breaks the stream in any of five ways is caught — proof
// that each check can fail.

import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseMac } from '../emulator/net/ethernet.ts';
import { parseIp } from '../emulator/net/ipv4.ts';
import { CLASS_PRIORITY, TRAFFIC_CLASSES } from '../traffic/classes.ts';
import { TrafficGenerator, type TrafficConfig } from '../traffic/generator.ts';
import type { LossyOptions } from './support/impair.ts';
import { serviceZone } from '../traffic/probes.ts';
import { ReferenceServer } from './support/reference-server.ts';
import type { BrokenMode } from './support/reference-tcp.ts';
import { VirtualLink } from '../traffic/wire.ts';

const SERVER_IP = parseIp('10.0.0.2');
const SERVER_MAC = parseMac('02:48:49:43:00:01');
const ZONE = serviceZone(16, parseIp('10.0.2.1'));

interface RunOptions {
  readonly seed?: number | string;
  readonly connections?: number;
  readonly lossy?: LossyOptions;
  readonly broken?: BrokenMode;
  readonly isnNearWrap?: boolean;
}

/** Runs a generator against the reference server until neither has anything left to do. */
function run(o: RunOptions = {}) {
  const hash = createHash('sha256');
  let frames = 0;
  const link = new VirtualLink({
    tap: (from, frame, now) => {
      frames++;
      hash.update(`${from}${now}:`).update(frame);
    },
  });
  const config: TrafficConfig = {
    seed: o.seed ?? 42, server: { ip: '10.0.0.2', mac: SERVER_MAC }, connections: o.connections ?? 200, isnNearWrap: o.isnNearWrap,
    dns: { queries: 40, zone: ZONE }, ping: { streams: 4, count: 20 },
  };
  const gen = new TrafficGenerator(config, link.port('a'));
  const server = new ReferenceServer({ mac: SERVER_MAC, ip: SERVER_IP, zone: ZONE, lossy: o.lossy, broken: o.broken, isnNearWrap: o.isnNearWrap }, link.port('b'));
  link.connect(gen, server);
  const endNs = link.run(600e9);
  return { gen, server, summary: gen.summary(), line: gen.summaryLine(), frames, digest: hash.digest('hex'), endNs };
}

const ECHO_CLASSES = new Set(['background', 'realtime', 'vpn', 'db', 'ws']);

describe('traffic generator over a perfect wire', () => {
  let r: ReturnType<typeof run>;
  let s: ReturnType<typeof run>['summary'];
  beforeAll(() => {
    r = run();
    s = r.summary;
  });

  it('runs 200 connections of every class to an orderly close, with DNS and ping', () => {
    expect(r.gen.done).toBe(true);
    expect(s.connections).toBe(200);
    for (const c of TRAFFIC_CLASSES) expect(s.byClass[c], c).toBeGreaterThan(0);
    expect(s.failures).toEqual([]);
    expect({ closed: s.closed, failed: s.failed, running: s.running }).toEqual({ closed: 200, failed: 0, running: 0 });
    expect(r.server.counters.accepted).toBe(200);
    expect(r.server.counters.closed).toBe(200);
    expect(s.probes).toMatchObject({ dnsQueries: 40, dnsAnswers: 40, dnsBad: 0, pingSent: 80, pingReceived: 80, pingBad: 0 });
    expect(s.httpResponses).toBeGreaterThan(100);
  });

  it('accounts for every byte: nothing lost, duplicated, reordered, corrupted, and no sequence gap', () => {
    expect(s.bytesSent).toBeGreaterThan(1_000_000);
    expect(s.bytesReceived).toBeGreaterThan(s.bytesSent); // every echo plus the HTTP responses
    expect({ lost: s.lost, duplicated: s.duplicated, reordered: s.reordered, corrupted: s.corrupted }).toEqual({ lost: 0, duplicated: 0, reordered: 0, corrupted: 0 });
    expect({ seqGaps: s.seqGaps, seqErrors: s.seqErrors, httpErrors: s.httpErrors }).toEqual({ seqGaps: 0, seqErrors: 0, httpErrors: 0 });
    // A perfect wire needs no recovery at all.
    expect(s.tcp).toMatchObject({ retransmissions: 0, probes: 0, duplicateSegments: 0, outOfOrderSegments: 0, resets: 0 });
    expect({ bad: s.badFrames, stray: s.strayFrames }).toEqual({ bad: 0, stray: 0 });
  });

  it('measures latency per exchange in virtual time', () => {
    const l = s.latency;
    expect(l.exchanges).toBeGreaterThan(2000);
    expect(0 < l.p50 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max).toBe(true);
    // Round trip over two 20 µs hops at 1 Gbit/s: well under a millisecond.
    expect(l.p50).toBeLessThan(1e6);
    for (const c of TRAFFIC_CLASSES.filter((k) => k !== 'idle')) expect(s.latencyByClass[c].exchanges, c).toBeGreaterThan(0);
    expect(s.latencyByClass.idle.exchanges).toBe(0);
  });

  it('prints one summary line in the fixed form', () => {
    expect(r.line).not.toContain('\n');
    expect(r.line).toMatch(
      /^traffic: 200 connections \(idle \d+, background \d+, http \d+, realtime \d+, vpn \d+, db \d+, ws \d+; closed 200, failed 0, bad http 0\), \d+ bytes, lost 0, duplicated 0, reordered 0, seq gaps 0, dns 40\/40, ping 80\/80, latency p50 \d+\.\d{3}ms p90 \d+\.\d{3}ms p99 \d+\.\d{3}ms max \d+\.\d{3}ms$/,
    );
  });

  it('lists connections with class, priority and a unique 4-tuple', () => {
    const conns = r.gen.connections();
    expect(conns.map((c) => c.id)).toEqual(conns.map((_, i) => i));
    expect(new Set(conns.map((c) => `${c.clientIp}:${c.clientPort}`)).size).toBe(200);
    for (const c of conns) {
      expect(r.gen.classOf(c.id)).toBe(c.cls);
      expect(c.priority).toBe(CLASS_PRIORITY[c.cls]);
      expect(c.outcome).toBe('closed');
      expect(c.serverPort).toBe({ idle: 80, http: 80, background: 5432, db: 5432, vpn: 1194, realtime: 8080, ws: 8080 }[c.cls]);
      if (ECHO_CLASSES.has(c.cls)) expect(c.bytesReceived).toBe(c.bytesSent);
    }
    expect(() => r.gen.classOf(200)).toThrow(expect.objectContaining({ code: 'TRAFFIC_NO_CONNECTION' }));
  });

  it('crosses the 2^32 sequence wrap in both directions without a gap', () => {
    const w = run({ connections: 40, isnNearWrap: true });
    expect(w.summary.failures).toEqual([]);
    expect(w.summary.closed).toBe(40);
    expect(w.line).toContain('lost 0, duplicated 0, reordered 0, seq gaps 0');
  });
});

describe('traffic generator configuration', () => {
  it('accepts a minimal configuration and refuses bad ones with TRAFFIC_BAD_CONFIG', () => {
    const port = { send: () => {} };
    const base = { seed: 1, server: { ip: '10.0.0.2' }, connections: 3 };
    // Connections start in the first quarter of the run, counted from startNs.
    const first = new TrafficGenerator({ ...base, startNs: 5e9 }, port).nextWake()!;
    expect(first >= 5e9 && first <= 5e9 + 0.25e9).toBe(true);
    const bad = [
      { connections: -1 }, { connections: 2.5 }, { seed: 0.5 }, { durationNs: 0 }, { rtoNs: -5 }, { mss: 9000 },
      { shares: { idle: 0 } }, { clients: { count: 0 } }, { ping: { streams: 1, count: 0 } }, { dns: { queries: 3, names: 0 } },
    ];
    for (const b of bad) expect(() => new TrafficGenerator({ ...base, ...b }, port), JSON.stringify(b)).toThrow(expect.objectContaining({ code: 'TRAFFIC_BAD_CONFIG' }));
    expect(() => new ReferenceServer({ mac: SERVER_MAC, ip: SERVER_IP, lossy: { seed: 1, drop: 1 } }, port)).toThrow(expect.objectContaining({ code: 'TRAFFIC_BAD_CONFIG' }));
  });
});

describe('traffic generator determinism', () => {
  it('gives the same frames, times and summary for the same seed, and others for another', () => {
    const a = run({ connections: 60 });
    const b = run({ connections: 60 });
    const c = run({ connections: 60, seed: 43 });
    expect(a.frames).toBeGreaterThan(1000);
    expect(b.digest).toBe(a.digest);
    expect(b.frames).toBe(a.frames);
    expect(b.summary).toEqual(a.summary);
    expect(b.endNs).toBe(a.endNs);
    expect(c.digest).not.toBe(a.digest);
  });

  it('replays the lossy wire identically too', () => {
    const lossy = { seed: 9, drop: 0.03, duplicate: 0.01, reorder: 0.03 };
    const a = run({ connections: 40, lossy });
    const b = run({ connections: 40, lossy });
    expect(b.digest).toBe(a.digest);
    expect(b.line).toBe(a.line);
  });
});

describe('traffic generator over a lossy, duplicating, reordering wire', () => {
  let r: ReturnType<typeof run>;
  let s: ReturnType<typeof run>['summary'];
  beforeAll(() => {
    r = run({ lossy: { seed: 7, drop: 0.02, duplicate: 0.01, reorder: 0.02 } });
    s = r.summary;
  });

  it('the wire really was bad, both ways', () => {
    const imp = r.server.impairment!.counters;
    expect(imp.dropped).toBeGreaterThan(100);
    expect(imp.duplicated).toBeGreaterThan(50);
    expect(imp.reordered).toBeGreaterThan(100);
  });

  it('still completes every connection with no application-level loss', () => {
    expect(s.failures).toEqual([]);
    expect(s.closed).toBe(200);
    expect(r.server.counters.closed).toBe(200);
    expect({ lost: s.lost, duplicated: s.duplicated, reordered: s.reordered, corrupted: s.corrupted }).toEqual({ lost: 0, duplicated: 0, reordered: 0, corrupted: 0 });
    expect({ seqGaps: s.seqGaps, seqErrors: s.seqErrors, httpErrors: s.httpErrors }).toEqual({ seqGaps: 0, seqErrors: 0, httpErrors: 0 });
    expect(s.probes.dnsAnswers).toBe(40); // with retries
    expect(s.probes.dnsRetries).toBeGreaterThan(0);
    expect(s.probes.pingReceived).toBeLessThanOrEqual(s.probes.pingSent); // ping is not retried
  });

  it('because retransmissions on both sides recovered the losses', () => {
    expect(s.tcp.retransmissions).toBeGreaterThan(0);
    expect(s.tcp.fastRetransmits).toBeGreaterThan(0);
    expect(s.tcp.probes).toBeGreaterThan(0); // duplicate-ACK bursts asking the server to resend
    expect(r.server.counters.retransmissions).toBeGreaterThan(0);
    expect(s.tcp.outOfOrderSegments).toBeGreaterThan(0);
    expect(s.tcp.duplicateSegments).toBeGreaterThan(0);
    expect(s.latency.max).toBeGreaterThanOrEqual(50e6); // at least one exchange waited out an RTO
  });
});

describe('traffic generator catches a broken server', () => {
  const brokenRun = (broken: BrokenMode) => run({ connections: 60, broken });
  /** Echo connections whose stream passed byte 100, where each fault is planted once. */
  const faulted = (r: ReturnType<typeof run>) => r.gen.connections().filter((c) => ECHO_CLASSES.has(c.cls) && c.bytesSent > 100).length;

  it('one byte left out of each echo stream: lost, exactly one per stream', () => {
    const r = brokenRun('skipByte');
    expect(faulted(r)).toBeGreaterThan(10);
    expect(r.summary.lost).toBe(faulted(r));
    expect({ duplicated: r.summary.duplicated, reordered: r.summary.reordered, seqGaps: r.summary.seqGaps }).toEqual({ duplicated: 0, reordered: 0, seqGaps: 0 });
    expect(r.line).toMatch(/, lost [1-9]\d*, /);
  });

  it('a chunk echoed twice: duplicated', () => {
    const r = brokenRun('duplicateData');
    expect(r.summary.duplicated).toBeGreaterThan(0);
    expect({ lost: r.summary.lost, reordered: r.summary.reordered }).toEqual({ lost: 0, reordered: 0 });
  });

  it('two chunks swapped: reordered', () => {
    const r = brokenRun('reorderData');
    expect(r.summary.reordered).toBeGreaterThan(0);
    expect({ lost: r.summary.lost, duplicated: r.summary.duplicated }).toEqual({ lost: 0, duplicated: 0 });
  });

  it('a sequence number skipped: a gap never filled, the connection given up', () => {
    const r = brokenRun('skipSeq');
    expect(r.summary.seqGaps).toBe(faulted(r));
    expect(r.summary.failed).toBe(faulted(r));
    expect(r.summary.lost).toBeGreaterThan(0); // the bytes held behind the hole never reach the application
    expect(r.summary.failures[0]).toMatch(/sent nothing owed after 8 duplicate-ACK probes/);
    expect(r.server.counters.resets).toBe(faulted(r)); // the generator reset what it gave up on
  });

  it('a Content-Length one too long: bad HTTP', () => {
    const r = brokenRun('httpLength');
    expect(r.summary.httpErrors).toBeGreaterThan(0);
    expect(r.summary.failed).toBeGreaterThan(0);
    expect(r.summary.failures.some((f) => /http: (bad status line|stream ended)/.test(f))).toBe(true);
    expect(r.line).toMatch(/bad http [1-9]/);
  });
});
