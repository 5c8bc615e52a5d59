// Captures of the emulated wire open cleanly in Wireshark: a mixed capture (ARP, ping, DNS over
// UDP, two TCP connections with data and FINs both ways, one across the 2^32 sequence wrap) is
// checked by tshark with every checksum check turned on — no malformed frame, no expert warning,
// every checksum "Good", every frame dissected as the protocol we meant.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMac } from '../emulator/net/ethernet.ts';
import { arpFrame, icmpEchoFrame, parseFrame, tcpFrame, udpFrame } from '../emulator/net/frames.ts';
import { parseIp } from '../emulator/net/ipv4.ts';
import { PcapError, PcapWriter, readPcap } from '../emulator/net/pcap.ts';
import { seqAdd, TcpFlag } from '../emulator/net/tcp.ts';

const TSHARK = '/usr/bin/tshark';
const text = (s: string) => new TextEncoder().encode(s);

const client = { mac: parseMac('02:00:00:00:00:01'), ip: parseIp('10.0.0.1') };
const hic = { mac: parseMac('02:00:00:00:00:02'), ip: parseIp('10.0.0.2') };
type Host = typeof client;

/** A minimal DNS message (RFC 1035): one A question, and in a response one A answer. */
function dns(id: number, name: string, answer?: number): Uint8Array {
  const qname = [...name.split('.').flatMap((l) => [l.length, ...text(l)]), 0];
  const header = [id >> 8, id & 0xff, answer === undefined ? 0x01 : 0x81, answer === undefined ? 0x00 : 0x80, 0, 1, 0, answer === undefined ? 0 : 1, 0, 0, 0, 0];
  const question = [...qname, 0, 1, 0, 1]; // type A, class IN
  // The answer names the question by a compression pointer to offset 12.
  const rr = answer === undefined ? [] : [0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, answer >>> 24, (answer >>> 16) & 0xff, (answer >>> 8) & 0xff, answer & 0xff];
  return Uint8Array.from([...header, ...question, ...rr]);
}

/**
 * One TCP connection as both peers see it: each segment acknowledges everything the other side
 * has sent, as on a loss-free in-order wire.
 */
function connection(a: Host, aPort: number, b: Host, bPort: number, isnA: number, isnB: number) {
  const next = { a: isnA, b: isnB };
  return (fromA: boolean, flags: number, payload = new Uint8Array(0), mss?: number): Uint8Array => {
    const [src, dst, sp, dp] = fromA ? ([a, b, aPort, bPort] as const) : ([b, a, bPort, aPort] as const);
    const seq = fromA ? next.a : next.b;
    const ack = flags & TcpFlag.ACK ? (fromA ? next.b : next.a) : 0;
    const used = payload.length + (flags & TcpFlag.SYN ? 1 : 0) + (flags & TcpFlag.FIN ? 1 : 0);
    if (fromA) next.a = seqAdd(next.a, used);
    else next.b = seqAdd(next.b, used);
    return tcpFrame({ srcMac: src.mac, dstMac: dst.mac, srcIp: src.ip, dstIp: dst.ip, srcPort: sp, dstPort: dp, seq, ack, flags, window: 64240, payload, mss });
  };
}

function scenario(): Uint8Array[] {
  const f: Uint8Array[] = [];
  const ip = (from: Host, to: Host) => ({ srcMac: from.mac, dstMac: to.mac, srcIp: from.ip, dstIp: to.ip });
  f.push(arpFrame({ op: 'request', srcMac: client.mac, srcIp: client.ip, targetIp: hic.ip }));
  f.push(arpFrame({ op: 'reply', srcMac: hic.mac, srcIp: hic.ip, targetMac: client.mac, targetIp: client.ip }));
  for (let seq = 1; seq <= 3; seq++) {
    const data = Uint8Array.from({ length: 56 }, (_, i) => (i + seq) & 0xff);
    f.push(icmpEchoFrame({ ...ip(client, hic), type: 'request', identifier: 0x4849, sequence: seq, data }));
    f.push(icmpEchoFrame({ ...ip(hic, client), type: 'reply', identifier: 0x4849, sequence: seq, data }));
  }
  ['hic.test', 'kernel.hic.test', 'net.hic.test'].forEach((name, i) => {
    const port = 40000 + i;
    f.push(udpFrame({ ...ip(client, hic), srcPort: port, dstPort: 53, payload: dns(0x100 + i, name) }));
    f.push(udpFrame({ ...ip(hic, client), srcPort: 53, dstPort: port, payload: dns(0x100 + i, name, hic.ip) }));
  });
  const { SYN, ACK, PSH, FIN } = TcpFlag;

  // Connection 1: the client sends and closes first.
  const c1 = connection(client, 49152, hic, 7777, 1_000_000, 7_000_000);
  f.push(c1(true, SYN, undefined, 1460), c1(false, SYN | ACK, undefined, 1460), c1(true, ACK));
  for (const line of ['GET state\n', 'GET shards\n', 'PUT key=value\n', 'QUIT soon\n']) {
    f.push(c1(true, PSH | ACK, text(line)), c1(false, ACK));
    f.push(c1(false, PSH | ACK, text(`OK ${line}`)), c1(true, ACK));
  }
  f.push(c1(true, FIN | ACK), c1(false, ACK), c1(false, FIN | ACK), c1(true, ACK));

  // Connection 2: both initial sequence numbers just below 2^32, so data wraps; the server closes.
  const c2 = connection(client, 49153, hic, 7777, 0xfffffff0, 0xffffff00);
  f.push(c2(true, SYN, undefined, 1460), c2(false, SYN | ACK, undefined, 1460), c2(true, ACK));
  f.push(c2(true, PSH | ACK, text('a request that crosses the wrap')), c2(false, ACK));
  f.push(c2(false, PSH | ACK, new Uint8Array(300).fill(0x5a)), c2(true, ACK));
  f.push(c2(false, PSH | ACK, new Uint8Array(1000).fill(0xa5)), c2(true, ACK));
  f.push(c2(false, FIN | ACK), c2(true, ACK), c2(true, FIN | ACK), c2(false, ACK));
  return f;
}

/** Virtual time of frame i: arbitrary nanoseconds, so the capture must keep full resolution. */
const timeOf = (i: number) => 1_000_000_000 + i * 250_001 + 7;

let dir: string;
let file: string;
let frames: Uint8Array[];

function tshark(...args: string[]): string[] {
  if (!existsSync(TSHARK)) {
    throw new Error(`${TSHARK} is missing: the project's set-up installs it (apt-get install tshark); this test needs it to check captures`);
  }
  const out = execFileSync(TSHARK, ['-n', '-r', file, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return out.split('\n').filter((l) => l !== '');
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hic-net-pcap-'));
  file = join(dir, 'wire.pcap');
  frames = scenario();
  const w = PcapWriter.open(file);
  frames.forEach((fr, i) => w.write(timeOf(i), fr));
  w.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('pcap capture checked by tshark', () => {
  it('builds a scenario of about fifty well-formed frames', () => {
    expect(frames.length).toBeGreaterThanOrEqual(48);
    for (const fr of frames) parseFrame(fr); // our own decoder accepts everything we wrote
  });

  it('has no malformed frame and no expert warning or error', () => {
    const lines = tshark('-Y', '_ws.malformed || _ws.expert.severity >= warning', '-T', 'fields', '-e', 'frame.number', '-e', '_ws.expert.message');
    expect(lines).toEqual([]);
  });

  it('raises only the expert chat and notes of a clean open and close', () => {
    // Anything else — a retransmission or duplicate-ACK note, an unseen segment — means the
    // sequence numbers we wrote are not what a real TCP exchange would carry.
    const lines = tshark('-T', 'fields', '-E', 'occurrence=a', '-E', 'aggregator=;', '-e', '_ws.expert.message');
    const messages = lines.flatMap((l) => l.split(';'));
    const open = ['Connection establish request (SYN): server port 7777', 'Connection establish acknowledge (SYN+ACK): server port 7777'];
    const close = [
      'Connection finish (FIN)',
      'This frame initiates the connection closing',
      'Connection finish (FIN)',
      'This frame undergoes the connection closing',
    ];
    expect(messages).toEqual([...open, ...close, ...open, ...close]);
  });

  it('reports every checksum as verified and good', () => {
    const fields = ['ip.checksum.status', 'icmp.checksum.status', 'udp.checksum.status', 'tcp.checksum.status'];
    const lines = tshark('-T', 'fields', '-E', 'separator=|', ...fields.flatMap((f) => ['-e', f]));
    expect(lines.length).toBe(frames.length);
    let checked = 0;
    lines.forEach((line, i) => {
      for (const status of line.split('|').filter((s) => s !== '')) {
        expect(status, `frame ${i + 1}: ${line}`).toBe('1'); // 1 = Good, 0 = Bad, 2 = Unverified
        checked++;
      }
    });
    // ARP frames carry no checksum; every IPv4 frame has two (IPv4 header + transport).
    expect(checked).toBe((frames.length - 2) * 2);
  });

  it('dissects each frame as the protocol written, with nanosecond timestamps', () => {
    const lines = tshark('-T', 'fields', '-E', 'separator=|', '-e', 'frame.protocols', '-e', 'frame.time_epoch', '-e', 'frame.len');
    const kinds = lines.map((l) => l.split('|')[0]);
    const count = (p: string) => kinds.filter((k) => k === p).length;
    expect(count('eth:ethertype:arp')).toBe(2);
    expect(count('eth:ethertype:ip:icmp:data')).toBe(6);
    expect(count('eth:ethertype:ip:udp:dns')).toBe(6);
    expect(count('eth:ethertype:ip:tcp') + count('eth:ethertype:ip:tcp:data')).toBe(frames.length - 14);
    expect(count('eth:ethertype:ip:tcp:data')).toBe(11);
    lines.forEach((l, i) => {
      const [, epoch, len] = l.split('|');
      expect(epoch, `frame ${i + 1}`).toBe((timeOf(i) / 1e9).toFixed(9));
      expect(Number(len)).toBe(frames[i]!.length);
    });
  });

  it('follows both TCP conversations through handshake, data and FINs', () => {
    const lines = tshark('-Y', 'tcp', '-T', 'fields', '-E', 'separator=|', '-e', 'tcp.stream', '-e', 'tcp.seq_raw', '-e', 'tcp.len');
    const streams = new Set(lines.map((l) => l.split('|')[0]));
    expect([...streams]).toEqual(['0', '1']);
    const wrapped = lines.filter((l) => l.startsWith('1|')).map((l) => Number(l.split('|')[1]));
    expect(wrapped.some((s) => s < 0x1000)).toBe(true); // sequence numbers did cross 2^32
    // The DNS answers name 10.0.0.2, as written.
    expect(tshark('-Y', 'dns.flags.response == 1', '-T', 'fields', '-e', 'dns.a')).toEqual(['10.0.0.2', '10.0.0.2', '10.0.0.2']);
  });
});

describe('pcap writer', () => {
  it('writes the same bytes in memory as to a file, and reads them back', () => {
    const w = PcapWriter.inMemory();
    frames.forEach((fr, i) => w.write(timeOf(i), fr));
    w.close();
    const bytes = w.bytes();
    expect(Buffer.from(bytes).equals(readFileSync(file))).toBe(true);
    // Classic pcap, nanosecond magic, version 2.4, snaplen 65535, LINKTYPE_ETHERNET.
    expect(Buffer.from(bytes.subarray(0, 24)).toString('hex')).toBe('4d3cb2a1' + '02000400' + '00000000' + '00000000' + 'ffff0000' + '01000000');
    const back = readPcap(bytes);
    expect(back.map((r) => r.timeNs)).toEqual(frames.map((_, i) => timeOf(i)));
    expect(back.map((r) => r.frame)).toEqual(frames);
  });

  it('refuses bad timestamps, writes after close, and bytes() of a file writer', () => {
    const codeOf = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        if (e instanceof PcapError) return e.code;
        throw e;
      }
      return 'ok';
    };
    const w = PcapWriter.inMemory();
    expect(codeOf(() => w.write(-1, frames[0]!))).toBe('PCAP_BAD_TIME');
    expect(codeOf(() => w.write(1.5, frames[0]!))).toBe('PCAP_BAD_TIME');
    w.close();
    expect(codeOf(() => w.write(0, frames[0]!))).toBe('PCAP_CLOSED');
    const f = PcapWriter.open(join(dir, 'other.pcap'));
    expect(codeOf(() => f.bytes())).toBe('PCAP_NOT_IN_MEMORY');
    f.close();
    expect(codeOf(() => readPcap(new Uint8Array(24)))).toBe('PCAP_BAD_FILE');
  });
});
