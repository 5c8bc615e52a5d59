// A small traffic-generator run, captured with emulator/net/pcap.ts and read back by tshark with
// every checksum check on, as net-pcap.test.ts does for hand-built frames: no malformed frame,
// every checksum good, each kind of traffic dissected as what it is. Over a perfect wire there
// is not even an expert warning (no retransmission, no unseen segment, no window full); over the
// lossy wire the only warnings are the ones loss and reordering must cause.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMac } from '../emulator/net/ethernet.ts';
import { parseIp } from '../emulator/net/ipv4.ts';
import { PcapWriter, readPcap } from '../emulator/net/pcap.ts';
import { TrafficGenerator } from '../traffic/generator.ts';
import type { LossyOptions } from './support/impair.ts';
import { serviceZone } from '../traffic/probes.ts';
import { ReferenceServer } from './support/reference-server.ts';
import { VirtualLink } from '../traffic/wire.ts';

const TSHARK = '/usr/bin/tshark';
const ZONE = serviceZone(16, parseIp('10.0.2.1'));
let dir: string;

/** Runs 24 connections plus DNS and ping, capturing both directions into `file`. */
function capture(file: string, lossy?: LossyOptions): { line: string; frames: number } {
  const w = PcapWriter.open(file);
  let frames = 0;
  const link = new VirtualLink({
    tap: (_from, frame, now) => {
      frames++;
      w.write(now, frame);
    },
  });
  const gen = new TrafficGenerator({ seed: 'pcap', clients: { count: 6 }, server: { ip: '10.0.0.2' }, connections: 24, durationNs: 300e6, dns: { queries: 6, zone: ZONE }, ping: { streams: 2, count: 3 } }, link.port('a'));
  const server = new ReferenceServer({ mac: parseMac('02:48:49:43:00:01'), ip: parseIp('10.0.0.2'), zone: ZONE, lossy }, link.port('b'));
  link.connect(gen, server);
  link.run(600e9);
  w.close();
  return { line: gen.summaryLine(), frames };
}

function tshark(file: string, ...args: string[]): string[] {
  if (!existsSync(TSHARK)) {
    throw new Error(`${TSHARK} is missing: the project's set-up installs it (apt-get install tshark); this test needs it to check captures`);
  }
  // The echo services' payloads are our byte pattern, not PostgreSQL, OpenVPN or HTTP: decode them as data.
  const decodeAs = [5432, 1194, 8080].flatMap((p) => ['-d', `tcp.port==${p},data`]);
  const out = execFileSync(TSHARK, ['-n', '-r', file, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', ...decodeAs, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 << 20,
  });
  return out.split('\n').filter((l) => l !== '');
}

function checksumsAllGood(file: string, frames: number): void {
  const lines = tshark(file, '-T', 'fields', '-E', 'separator=|', ...['ip', 'icmp', 'udp', 'tcp'].flatMap((p) => ['-e', `${p}.checksum.status`]));
  expect(lines.length).toBe(frames);
  const statuses = lines.flatMap((l) => l.split('|').filter((x) => x !== ''));
  expect(statuses.length).toBeGreaterThan(frames); // two per IPv4 frame
  expect(statuses.filter((x) => x !== '1')).toEqual([]); // 1 = Good
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hic-traffic-pcap-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a traffic capture checked by tshark', () => {
  let file: string;
  let run: { line: string; frames: number };
  beforeAll(() => {
    file = join(dir, 'perfect.pcap');
    run = capture(file);
  });

  it('is a complete, clean run', () => {
    expect(run.line).toMatch(/^traffic: 24 connections .*closed 24, failed 0, bad http 0\), \d+ bytes, lost 0, duplicated 0, reordered 0, seq gaps 0, dns 6\/6, ping 6\/6, /);
    expect(readPcap(new Uint8Array(readFileSync(file))).length).toBe(run.frames);
  });

  it('has no malformed frame and no expert warning or error', () => {
    expect(tshark(file, '-Y', '_ws.malformed || _ws.expert.severity >= warning', '-T', 'fields', '-e', 'frame.number', '-e', '_ws.expert.message')).toEqual([]);
  });

  it('verifies every checksum as good', () => checksumsAllGood(file, run.frames));

  it('dissects ARP, ping, DNS, HTTP and TCP data as such', () => {
    const kinds = new Set(tshark(file, '-T', 'fields', '-e', 'frame.protocols'));
    for (const k of ['eth:ethertype:arp', 'eth:ethertype:ip:icmp:data', 'eth:ethertype:ip:udp:dns', 'eth:ethertype:ip:tcp', 'eth:ethertype:ip:tcp:http', 'eth:ethertype:ip:tcp:data']) {
      expect(kinds, k).toContain(k);
    }
    expect(tshark(file, '-Y', 'dns.flags.response == 1', '-T', 'fields', '-e', 'dns.a').every((a) => /^10\.0\.2\.\d+$/.test(a))).toBe(true);
    expect(tshark(file, '-Y', 'http.response', '-T', 'fields', '-e', 'http.response.code').every((c) => c === '200')).toBe(true);
    expect(new Set(tshark(file, '-Y', 'tcp', '-T', 'fields', '-e', 'tcp.stream')).size).toBe(24);
  });
});

describe('a lossy traffic capture checked by tshark', () => {
  it('has no malformed frame or bad checksum; its warnings are those of loss and reordering', () => {
    const file = join(dir, 'lossy.pcap');
    const run = capture(file, { seed: 3, drop: 0.03, duplicate: 0.02, reorder: 0.03 });
    expect(run.line).toMatch(/closed 24, failed 0, bad http 0\), \d+ bytes, lost 0, duplicated 0, reordered 0, seq gaps 0, /);
    expect(tshark(file, '-Y', '_ws.malformed', '-T', 'fields', '-e', 'frame.number')).toEqual([]);
    checksumsAllGood(file, run.frames);
    const warnings = tshark(file, '-Y', '_ws.expert.severity >= warning', '-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=;', '-e', '_ws.expert.message')
      .flatMap((l) => l.split(';'));
    expect(warnings.length).toBeGreaterThan(0);
    for (const w of warnings) expect(w).toMatch(/retransmission|not captured|out-of-order|overlaps old data|dup ack|segment that wasn't captured/i);
  });
});
