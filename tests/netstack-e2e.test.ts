// The network stack service end to end (images/netstack.himg): the traffic generator plays every
// remote host on the NIC's wire in virtual time -- TCP connections of every class to the echo
// services and the HTTP responder, DNS queries and pings -- against eth_driver and netstack in
// their sandboxes. Frames the NIC's RX ring has no room for are dropped and counted, and the
// generator's retransmissions must recover them. Every connection must complete with every byte
// accounted for, and the capture of the wire must be clean under tshark's checksum checks.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NicDevice } from '../emulator/devices/nic.ts';
import { PcapWriter } from '../emulator/net/pcap.ts';
import type { TrafficConfig, TrafficGenerator } from '../emulator/net/traffic/generator.ts';
import { attachTraffic } from '../cli/traffic.ts';
import { consoleOf, stage, type Finished, type Staged } from './support/kernel.ts';
import { REPO } from './support/boot.ts';

const TSHARK = '/usr/bin/tshark';
const LIMIT_NS = 3e9; // images/netstack.himg runs 3 s of virtual time
const CONFIG: TrafficConfig = {
  seed: 'netstack-e2e', server: { ip: '10.0.0.2', mac: '02:48:49:43:00:01' }, clients: { count: 10 }, connections: 50,
  dns: { queries: 8 }, ping: { streams: 2, count: 5 },
};

function tshark(file: string, ...args: string[]): string[] {
  if (!existsSync(TSHARK)) throw new Error(`${TSHARK} is missing: the project's set-up installs it (apt-get install tshark); this test needs it`);
  // The echo services' payloads are the generator's byte pattern, not PostgreSQL, OpenVPN or HTTP.
  const decodeAs = [5432, 1194, 8080].flatMap((p) => ['-d', `tcp.port==${p},data`]);
  const out = execFileSync(TSHARK, ['-n', '-r', file, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', ...decodeAs, ...args], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 << 20,
  });
  return out.split('\n').filter((l) => l !== '');
}

describe('netstack image: the traffic generator against eth_driver and netstack', () => {
  let dir: string;
  let file: string;
  let staged: Staged;
  let done: Finished;
  let gen: TrafficGenerator;
  let dropped = 0;
  let captured = 0;
  let doneAt: number | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hic-netstack-e2e-'));
    file = join(dir, 'wire.pcap');
    staged = await stage('netstack');
    const { kernel } = staged;
    const clock = kernel.machine.clock;
    const nic = staged.machine.devices[0]!.device as NicDevice;
    const pcap = PcapWriter.open(file);
    nic.tap = (_direction, frame) => {
      captured++;
      pcap.write(clock.now, frame);
    };
    const traffic = attachTraffic(kernel, staged.machine, CONFIG);
    gen = traffic.generator;
    done = staged.finish();
    pcap.close();
    console.log(gen.summaryLine());
    doneAt = traffic.doneAt();
    dropped = traffic.dropped();
    console.log(`netstack-e2e: generator done at ${doneAt === undefined ? 'never' : `${(doneAt / 1e6).toFixed(3)} ms`}, rx ring drops ${dropped}, ${captured} frames captured`);
    for (const l of consoleOf(kernel, 'netstack')) console.log(`  [${(l.t / 1e6).toFixed(3)} ms] ${l.text}`);
  }, 600_000);
  afterAll(() => {
    staged?.machine.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs without a fault, the generator finishing inside the time limit', () => {
    expect(done.deviations).toEqual([]);
    expect(done.outcome.faults).toEqual({});
    expect(gen.done).toBe(true);
    expect(doneAt).toBeLessThan(LIMIT_NS);
  });

  it('completes every connection with every byte accounted for', () => {
    const s = gen.summary();
    expect(s.failures).toEqual([]);
    expect({ closed: s.closed, failed: s.failed, running: s.running }).toEqual({ closed: 50, failed: 0, running: 0 });
    expect({ lost: s.lost, duplicated: s.duplicated, reordered: s.reordered, corrupted: s.corrupted }).toEqual({ lost: 0, duplicated: 0, reordered: 0, corrupted: 0 });
    expect({ seqGaps: s.seqGaps, seqErrors: s.seqErrors, httpErrors: s.httpErrors }).toEqual({ seqGaps: 0, seqErrors: 0, httpErrors: 0 });
    expect(s.httpResponses).toBeGreaterThan(0);
    expect({ bad: s.badFrames, stray: s.strayFrames }).toEqual({ bad: 0, stray: 0 });
    expect(gen.summaryLine()).toContain('closed 50, failed 0, bad http 0');
  });

  it('answers every DNS query and every ping', () => {
    const p = gen.summary().probes;
    expect(p).toMatchObject({ dnsQueries: 8, dnsAnswers: 8, dnsBad: 0, pingSent: 10, pingReceived: 10, pingBad: 0 });
  });

  it('puts only well-formed frames with good checksums on the wire', () => {
    const malformed = tshark(file, '-Y', '_ws.malformed', '-T', 'fields', '-e', 'frame.number');
    expect(malformed).toEqual([]);
    const lines = tshark(file, '-T', 'fields', '-E', 'separator=|', ...['ip', 'icmp', 'udp', 'tcp'].flatMap((p) => ['-e', `${p}.checksum.status`]));
    expect(lines.length).toBe(captured);
    const statuses = lines.flatMap((l) => l.split('|').filter((x) => x !== ''));
    expect(statuses.length).toBeGreaterThan(captured); // two per IPv4 frame; ARP has none
    expect(statuses.filter((x) => x !== '1')).toEqual([]); // 1 = Good
    expect(tshark(file, '-Y', 'dns.flags.response == 1 && dns.a == 10.0.0.2', '-T', 'fields', '-e', 'frame.number').length).toBeGreaterThanOrEqual(8);
  });
});


describe('1000 connections across the classes, plus DNS and ping', () => {
  it('all complete with every byte accounted for; a full application slows the client, never loses data', async () => {
    // The image, given ten seconds of virtual time: a thousand clients need longer than fifty.
    const image = JSON.parse(readFileSync(join(REPO, 'images', 'netstack.himg'), 'utf8')) as { run: { until: string } };
    image.run.until = '10s';
    const staged = await stage({ label: 'images/netstack.himg (10 s)', image });
    try {
      const t = attachTraffic(staged.kernel, staged.machine, {
        seed: 'netstack-1000', server: { ip: '10.0.0.2' }, clients: { count: 50 }, connections: 1000,
        dns: { queries: 40 }, ping: { streams: 2, count: 10 },
      });
      staged.finish();
      const s = t.generator.summary();
      console.log(t.generator.summaryLine());
      expect(t.generator.done).toBe(true);
      expect({ closed: s.closed, failed: s.failed }).toEqual({ closed: 1000, failed: 0 });
      expect({ lost: s.lost, duplicated: s.duplicated, reordered: s.reordered, seqGaps: s.seqGaps, httpErrors: s.httpErrors }).toEqual({ lost: 0, duplicated: 0, reordered: 0, seqGaps: 0, httpErrors: 0 });
      // DNS retries until answered, so every query must be. A ping is answered or, like a real
      // ping, given up after its wait (4 RTOs after the last one): under this load replies queue
      // behind bulk data for up to ~0.4 s, so a late one can count as lost — never a wrong or
      // doubled one. (The 50-connection run above requires every ping answered.)
      expect(s.probes).toMatchObject({ dnsQueries: 40, dnsAnswers: 40, dnsBad: 0, pingSent: 20, pingBad: 0, pingDuplicates: 0 });
      expect(s.probes.pingReceived).toBeGreaterThan(0);
      // At this load the services' output buffers do fill: the stack then stops acknowledging
      // input (the client retransmits it later) instead of dropping it.
      const report = consoleOf(staged.kernel, 'netstack').map((l) => l.text).at(-1) ?? '';
      expect(Number(/app full (\d+)/.exec(report)?.[1])).toBeGreaterThan(0);
      expect(report).toContain('app overflows 0');
    } finally {
      staged.machine.dispose();
    }
  }, 600_000);
});
