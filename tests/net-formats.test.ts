// The wire formats of HIC's emulated network: every layer round-trips, checksums match known
// answers, and every damaged or unsupported frame is refused with its exact NetError code —
// never with another exception, whatever the bytes.

import { describe, expect, it } from 'vitest';
import * as arp from '../emulator/net/arp.ts';
import { crc32, InternetChecksum, internetChecksum } from '../emulator/net/checksum.ts';
import { NetError } from '../emulator/net/errors.ts';
import * as eth from '../emulator/net/ethernet.ts';
import { BROADCAST_MAC, macToString, parseMac } from '../emulator/net/ethernet.ts';
import { arpFrame, icmpEchoFrame, parseFrame, tcpFrame, udpFrame } from '../emulator/net/frames.ts';
import * as icmp from '../emulator/net/icmp.ts';
import * as ipv4 from '../emulator/net/ipv4.ts';
import { ipToString, parseIp, pseudoHeader } from '../emulator/net/ipv4.ts';
import * as tcp from '../emulator/net/tcp.ts';
import { flagsToString, seqAdd, seqDiff, seqGeq, seqGt, seqLeq, seqLt, TcpFlag } from '../emulator/net/tcp.ts';
import * as udp from '../emulator/net/udp.ts';

const hex = (s: string) => Uint8Array.from(s.replace(/\s+/g, '').match(/../g)!, (h) => parseInt(h, 16));
const text = (s: string) => new TextEncoder().encode(s);

/** The NetError code `f` throws, 'ok' if it returns; any other exception fails the test. */
const codeOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    if (e instanceof NetError) return e.code;
    throw e;
  }
  return 'ok';
};

const hostMac = parseMac('02:00:00:00:00:01');
const hicMac = parseMac('02:00:00:00:00:02');
const hostIp = parseIp('10.0.0.1');
const hicIp = parseIp('10.0.0.2');
const link = { srcMac: hostMac, dstMac: hicMac, srcIp: hostIp, dstIp: hicIp };

const dataFrame = () =>
  tcpFrame({ ...link, srcPort: 49152, dstPort: 7777, seq: 1000, ack: 2000, flags: TcpFlag.ACK | TcpFlag.PSH, window: 65535, payload: text('hello, HIC wire') });

/** Offset of the TCP header in a frame without IPv4 options. */
const TCP_AT = 14 + 20;

/** Recomputes the TCP checksum of a hand-edited frame, so only the edit itself is judged. */
function refixTcp(frame: Uint8Array): Uint8Array {
  const seg = frame.subarray(TCP_AT);
  seg[16] = seg[17] = 0;
  const sum = pseudoHeader(hostIp, hicIp, ipv4.IPPROTO_TCP, seg.length).add(seg).finish();
  seg[16] = sum >>> 8;
  seg[17] = sum & 0xff;
  return frame;
}

/** Recomputes the IPv4 header checksum of a hand-edited frame. */
function refixIp(frame: Uint8Array): Uint8Array {
  const ihl = (frame[14]! & 0x0f) * 4;
  frame[24] = frame[25] = 0;
  const sum = internetChecksum(frame, 14, 14 + ihl);
  frame[24] = sum >>> 8;
  frame[25] = sum & 0xff;
  return frame;
}

describe('checksums', () => {
  it('matches the RFC 1071 worked example and the classic IPv4 header', () => {
    // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to 0xddf2.
    expect(internetChecksum(hex('0001 f203 f4f5 f6f7'))).toBe(~0xddf2 & 0xffff);
    const header = hex('4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7');
    expect(internetChecksum(header)).toBe(0xb861);
    header[10] = 0xb8;
    header[11] = 0x61;
    expect(internetChecksum(header)).toBe(0); // how a receiver verifies
  });

  it('gives the same sum fed in pieces of any (odd) length as in one piece', () => {
    const bytes = Uint8Array.from({ length: 77 }, (_, i) => (i * 37 + 11) & 0xff);
    const whole = internetChecksum(bytes);
    for (const cut of [1, 2, 3, 13, 40, 76]) {
      const acc = new InternetChecksum().add(bytes, 0, cut).add(bytes, cut, cut + 1).add(bytes.subarray(cut + 1));
      expect(acc.finish(), `cut at ${cut}`).toBe(whole);
    }
    expect(new InternetChecksum().addU32(0x01020304).addU16(0x0506).finish()).toBe(internetChecksum(hex('010203040506')));
  });

  it('computes CRC32 (IEEE 802.3, zlib) known answers, incrementally too', () => {
    expect(crc32(text('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
    expect(crc32(text('The quick brown fox jumps over the lazy dog'))).toBe(0x414fa339);
    expect(crc32(text('56789'), crc32(text('1234')))).toBe(0xcbf43926);
  });
});

describe('addresses', () => {
  it('round-trips MAC and IPv4 text forms', () => {
    expect(macToString(parseMac('02:AB:cd:00:ff:10'))).toBe('02:ab:cd:00:ff:10');
    expect(macToString(parseMac('02-00-00-00-00-01'))).toBe('02:00:00:00:00:01');
    expect(parseIp('192.168.0.199')).toBe(0xc0a800c7);
    expect(ipToString(0xffffffff)).toBe('255.255.255.255');
    expect(ipToString(parseIp('0.0.0.0'))).toBe('0.0.0.0');
  });

  it('refuses malformed text with NET_BAD_ADDRESS', () => {
    for (const bad of ['', '02:00:00:00:00', '02:00:00:00:00:01:02', '02:00:00:00:00:0g', '2:0:0:0:0:1']) {
      expect(codeOf(() => parseMac(bad)), bad).toBe('NET_BAD_ADDRESS');
    }
    for (const bad of ['', '10.0.0', '10.0.0.256', '010.0.0.1', '10.0.0.1.', '10.0.0.-1', ' 10.0.0.1']) {
      expect(codeOf(() => parseIp(bad)), bad).toBe('NET_BAD_ADDRESS');
    }
    expect(codeOf(() => macToString(new Uint8Array(5)))).toBe('NET_BAD_ADDRESS');
  });
});

describe('ethernet', () => {
  it('round-trips and pads short frames to the 60-byte minimum', () => {
    const f = eth.encode({ dst: BROADCAST_MAC, src: hostMac, etherType: eth.ETHERTYPE_ARP }, hex('abcd'));
    expect(f.length).toBe(60);
    const d = eth.decode(f);
    expect(macToString(d.dst)).toBe('ff:ff:ff:ff:ff:ff');
    expect(macToString(d.src)).toBe('02:00:00:00:00:01');
    expect(d.etherType).toBe(0x0806);
    expect(d.payload.subarray(0, 2)).toEqual(hex('abcd'));
  });

  it('refuses truncated headers, 802.3 length frames and bad MACs', () => {
    expect(codeOf(() => eth.decode(new Uint8Array(13)))).toBe('NET_TRUNCATED');
    const f = eth.encode({ dst: hicMac, src: hostMac, etherType: 0x0800 }, new Uint8Array(46));
    f[12] = 0x05;
    f[13] = 0xdc; // 1500: a length, not a type
    expect(codeOf(() => eth.decode(f))).toBe('NET_UNSUPPORTED');
    expect(codeOf(() => eth.encode({ dst: new Uint8Array(5), src: hostMac, etherType: 0x0800 }, f))).toBe('NET_BAD_ADDRESS');
  });
});

describe('arp', () => {
  it('round-trips requests and replies', () => {
    const p = { op: 'reply', senderMac: hicMac, senderIp: hicIp, targetMac: hostMac, targetIp: hostIp } as const;
    expect(arp.decode(arp.encode(p))).toEqual(p);
    const req = parseFrame(arpFrame({ op: 'request', srcMac: hostMac, srcIp: hostIp, targetIp: hicIp }));
    expect(req.kind).toBe('arpRequest');
    if (req.kind !== 'arpRequest') return;
    expect(macToString(req.eth.dst)).toBe('ff:ff:ff:ff:ff:ff');
    expect(macToString(req.arp.targetMac)).toBe('00:00:00:00:00:00');
    expect(req.arp.targetIp).toBe(hicIp);
  });

  it('refuses other hardware, protocols and operations', () => {
    const good = arp.encode({ op: 'request', senderMac: hostMac, senderIp: hostIp, targetMac: eth.ZERO_MAC, targetIp: hicIp });
    const edit = (at: number, v: number) => Object.assign(good.slice(), { [at]: v });
    expect(codeOf(() => arp.decode(good.subarray(0, 27)))).toBe('NET_TRUNCATED');
    expect(codeOf(() => arp.decode(edit(1, 6)))).toBe('NET_UNSUPPORTED'); // IEEE 802 hardware
    expect(codeOf(() => arp.decode(edit(2, 0x86)))).toBe('NET_UNSUPPORTED'); // not IPv4
    expect(codeOf(() => arp.decode(edit(4, 8)))).toBe('NET_BAD_HEADER');
    expect(codeOf(() => arp.decode(edit(7, 3)))).toBe('NET_UNSUPPORTED'); // RARP request
    expect(codeOf(() => arpFrame({ op: 'reply', srcMac: hicMac, srcIp: hicIp, targetIp: hostIp }))).toBe('NET_BAD_HEADER');
  });
});

describe('ipv4', () => {
  it('encodes the classic header byte for byte, DF set', () => {
    const p = ipv4.encode({ src: parseIp('192.168.0.1'), dst: parseIp('192.168.0.199'), protocol: 17 }, new Uint8Array(0x73 - 20));
    expect(p.subarray(0, 20)).toEqual(hex('4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7'));
    const d = ipv4.decode(p);
    expect(d).toMatchObject({ src: 0xc0a80001, dst: 0xc0a800c7, protocol: 17, ttl: 64, id: 0, tos: 0, headerLength: 20, totalLength: 0x73, dontFragment: true, checksum: 0xb861 });
    expect(d.payload.length).toBe(0x73 - 20);
  });

  it('ignores Ethernet padding after the total length and reads header options', () => {
    const p = ipv4.encode({ src: hostIp, dst: hicIp, protocol: 1, ttl: 3, id: 77, tos: 0x10 }, hex('0102'));
    const padded = new Uint8Array(46);
    padded.set(p);
    expect(ipv4.decode(padded).payload).toEqual(hex('0102'));
    // IHL 7: a router-alert option (kind 148, length 4), two NOPs, then EOL and padding.
    const withOpts = new Uint8Array(28 + 2);
    withOpts.set(p.subarray(0, 20));
    withOpts.set(hex('94040000 0101 00 00 0102'), 20);
    withOpts[0] = 0x47;
    withOpts[3] = 30;
    const frame = refixIp(Uint8Array.of(...new Uint8Array(14), ...withOpts));
    const d = ipv4.decode(frame.subarray(14));
    expect(d.headerLength).toBe(28);
    expect(d.options).toEqual([{ kind: 148, data: hex('0000') }]);
    expect(d.payload).toEqual(hex('0102'));
  });

  it('refuses bad versions, IHL, lengths, checksums, options and fragments', () => {
    const frame = dataFrame();
    const edited = (edit: (f: Uint8Array) => void, fix = true) => {
      const f = frame.slice();
      edit(f);
      return () => parseFrame(fix ? refixIp(f) : f);
    };
    expect(codeOf(edited((f) => (f[14] = 0x65)))).toBe('NET_BAD_HEADER'); // version 6
    expect(codeOf(edited((f) => (f[14] = 0x44)))).toBe('NET_BAD_HEADER'); // IHL 4
    expect(codeOf(edited((f) => (f[14] = 0x4f), false))).toBe('NET_TRUNCATED'); // IHL 15: a 60-byte header in 55 bytes
    expect(codeOf(edited((f) => (f[22]! ^= 1), false))).toBe('NET_BAD_CHECKSUM'); // TTL changed in flight
    expect(codeOf(edited((f) => (f[17] = 19)))).toBe('NET_BAD_HEADER'); // total length < header
    expect(codeOf(edited((f) => (f[17]! += 1)))).toBe('NET_TRUNCATED'); // one byte more than the frame has
    expect(codeOf(edited((f) => (f[20] = 0x60)))).toBe('NET_UNSUPPORTED'); // DF + MF: first fragment
    expect(codeOf(edited((f) => (f[21] = 0x01)))).toBe('NET_UNSUPPORTED'); // DF, offset 8: a later fragment
    expect(codeOf(edited((f) => (f[20] = 0xc0)))).toBe('NET_BAD_HEADER'); // reserved ("evil") bit
    expect(codeOf(edited((f) => (f[23] = 99)))).toBe('NET_UNSUPPORTED'); // protocol 99
    const badOption = frame.slice(0, 14 + 24);
    badOption.set(frame.subarray(14, 34), 14);
    badOption.set(hex('8405 0000'), 34); // length 5 runs past the 4-byte options area
    badOption[14] = 0x46;
    badOption[17] = 24;
    expect(codeOf(() => parseFrame(refixIp(badOption)))).toBe('NET_BAD_HEADER');
  });

  it('refuses to encode fields that do not fit and datagrams too large to send unfragmented', () => {
    expect(codeOf(() => ipv4.encode({ src: 2 ** 32, dst: hicIp, protocol: 6 }, new Uint8Array(0)))).toBe('NET_BAD_HEADER');
    expect(codeOf(() => ipv4.encode({ src: hostIp, dst: hicIp, protocol: 6, ttl: 256 }, new Uint8Array(0)))).toBe('NET_BAD_HEADER');
    expect(codeOf(() => ipv4.encode({ src: hostIp, dst: hicIp, protocol: 17 }, new Uint8Array(65516)))).toBe('NET_BAD_HEADER');
    expect(ipv4.encode({ src: hostIp, dst: hicIp, protocol: 17 }, new Uint8Array(65515)).length).toBe(65535);
  });
});

describe('icmp echo', () => {
  it('round-trips requests and replies inside frames', () => {
    const data = text('abcdefghijklmnopqrstuvwabcdefghi');
    const f = parseFrame(icmpEchoFrame({ ...link, type: 'request', identifier: 0x1234, sequence: 7, data }));
    expect(f.kind).toBe('icmpEchoRequest');
    if (f.kind !== 'icmpEchoRequest') return;
    expect(f.icmp).toMatchObject({ type: 'request', identifier: 0x1234, sequence: 7, data });
    expect(icmp.decode(icmp.encode({ type: 'reply', identifier: 1, sequence: 65535, data: new Uint8Array(0) }))).toMatchObject({ type: 'reply', sequence: 65535 });
  });

  it('refuses bad checksums, other ICMP types and non-zero codes', () => {
    const m = icmp.encode({ type: 'request', identifier: 1, sequence: 1, data: hex('00ff') });
    const withSum = (edit: (b: Uint8Array) => void) => {
      const b = m.slice();
      edit(b);
      b[2] = b[3] = 0;
      const s = internetChecksum(b);
      b[2] = s >>> 8;
      b[3] = s & 0xff;
      return b;
    };
    expect(codeOf(() => icmp.decode(m.subarray(0, 7)))).toBe('NET_TRUNCATED');
    expect(codeOf(() => icmp.decode(Object.assign(m.slice(), { 9: 0xfe })))).toBe('NET_BAD_CHECKSUM');
    expect(codeOf(() => icmp.decode(withSum((b) => (b[0] = 3))))).toBe('NET_UNSUPPORTED'); // destination unreachable
    expect(codeOf(() => icmp.decode(withSum((b) => (b[1] = 1))))).toBe('NET_BAD_HEADER');
  });
});

describe('udp', () => {
  it('round-trips with a checksum over the pseudo-header', () => {
    const f = parseFrame(udpFrame({ ...link, srcPort: 5353, dstPort: 53, payload: text('query') }));
    expect(f.kind).toBe('udp');
    if (f.kind !== 'udp') return;
    expect(f.udp).toMatchObject({ srcPort: 5353, dstPort: 53, length: 13, payload: text('query') });
    expect(f.udp.checksum).not.toBe(0);
    // The same datagram between other addresses does not verify: the pseudo-header is covered.
    const seg = udp.encode({ srcPort: 1, dstPort: 2 }, text('x'), hostIp, hicIp);
    expect(codeOf(() => udp.decode(seg, hostIp, hicIp + 1))).toBe('NET_BAD_CHECKSUM');
  });

  it('accepts a zero (absent) checksum and refuses inconsistent lengths', () => {
    const seg = udp.encode({ srcPort: 1, dstPort: 2 }, text('abc'), hostIp, hicIp);
    expect(udp.decode(Object.assign(seg.slice(), { 6: 0, 7: 0 }), hostIp, hicIp).checksum).toBe(0);
    expect(codeOf(() => udp.decode(seg.subarray(0, 7), hostIp, hicIp))).toBe('NET_TRUNCATED');
    expect(codeOf(() => udp.decode(Object.assign(seg.slice(), { 5: 7 }), hostIp, hicIp))).toBe('NET_BAD_HEADER');
    expect(codeOf(() => udp.decode(Object.assign(seg.slice(), { 5: 12 }), hostIp, hicIp))).toBe('NET_TRUNCATED');
    expect(codeOf(() => udp.decode(Object.assign(seg.slice(), { 5: 10 }), hostIp, hicIp))).toBe('NET_BAD_HEADER');
    expect(codeOf(() => udp.encode({ srcPort: 65536, dstPort: 2 }, text('x'), hostIp, hicIp))).toBe('NET_BAD_HEADER');
  });
});

describe('tcp', () => {
  it('round-trips a SYN with MSS and a data segment with every field', () => {
    const syn = parseFrame(tcpFrame({ ...link, srcPort: 49152, dstPort: 7777, seq: 0xfffffff0, ack: 0, flags: TcpFlag.SYN, window: 64240, mss: 1460 }));
    expect(syn.kind).toBe('tcp');
    if (syn.kind !== 'tcp') return;
    expect(syn.tcp).toMatchObject({ seq: 0xfffffff0, ack: 0, flags: TcpFlag.SYN, window: 64240, mss: 1460, headerLength: 24, urgentPointer: 0 });
    expect(syn.tcp.options).toEqual([{ kind: 2, data: hex('05b4') }]);
    expect(syn.eth.payload.length).toBe(46); // padded to the Ethernet minimum, cut by the IPv4 length
    expect(syn.tcp.payload.length).toBe(0);

    const seg = { srcPort: 80, dstPort: 65535, seq: 0x80000000, ack: 0xffffffff, flags: 0xff, window: 0, urgentPointer: 9 };
    const d = tcp.decode(tcp.encode(seg, text('data'), hostIp, hicIp), hostIp, hicIp);
    expect(d).toMatchObject({ ...seg, headerLength: 20, options: [], payload: text('data') });
    expect(flagsToString(TcpFlag.SYN | TcpFlag.ACK)).toBe('SYN|ACK');
    expect(flagsToString(0)).toBe('(none)');
  });

  it('skips known options after checking their lengths, and unknown ones by their length byte', () => {
    const opts = hex('020405b4 0303 07 0402 080a 00000001 00000002 0101 fe0400ff 000000'); // 28 bytes
    const frame = new Uint8Array(TCP_AT + 20 + opts.length);
    frame.set(dataFrame().subarray(0, TCP_AT + 20));
    frame.set(opts, TCP_AT + 20);
    frame[TCP_AT + 12] = ((20 + opts.length) / 4) << 4;
    frame[17] = 20 + 20 + opts.length;
    const f = parseFrame(refixTcp(refixIp(frame)));
    if (f.kind !== 'tcp') throw new Error(`parsed as ${f.kind}`);
    expect(f.tcp.mss).toBe(1460);
    expect(f.tcp.options.map((o) => o.kind)).toEqual([2, 3, 4, 8, 0xfe]);
    expect(f.tcp.payload.length).toBe(0);

    const withOption = (o: string) => {
      const b = hex(o);
      const g = new Uint8Array(TCP_AT + 20 + b.length);
      g.set(frame.subarray(0, TCP_AT + 20));
      g.set(b, TCP_AT + 20);
      g[TCP_AT + 12] = ((20 + b.length) / 4) << 4;
      g[17] = 40 + b.length;
      return () => parseFrame(refixTcp(refixIp(g)));
    };
    expect(codeOf(withOption('020305b4'))).toBe('NET_BAD_HEADER'); // MSS with length 3
    expect(codeOf(withOption('0303070000000000'))).toBe('ok');
    expect(codeOf(withOption('03040700'))).toBe('NET_BAD_HEADER'); // window scale with length 4
    expect(codeOf(withOption('05060000 00000000'))).toBe('NET_BAD_HEADER'); // SACK with a half block
    expect(codeOf(withOption('01010101 01010101 fe090000'))).toBe('NET_BAD_HEADER'); // runs past the end
    expect(codeOf(withOption('fe010000'))).toBe('NET_BAD_HEADER'); // length below 2
    expect(codeOf(withOption('010101fe'))).toBe('NET_BAD_HEADER'); // no length byte
  });

  it('refuses data offsets below 5 or past the segment', () => {
    const below = dataFrame();
    below[TCP_AT + 12] = 0x40;
    expect(codeOf(() => parseFrame(refixTcp(below)))).toBe('NET_BAD_HEADER');
    const short = tcpFrame({ ...link, srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: TcpFlag.ACK, window: 1, payload: new Uint8Array(8) });
    short[TCP_AT + 12] = 0xf0; // 60-byte header in a 28-byte segment
    expect(codeOf(() => parseFrame(short))).toBe('NET_TRUNCATED');
  });

  it('refuses every prefix of a frame as truncated', () => {
    const frame = dataFrame();
    expect(parseFrame(frame).kind).toBe('tcp');
    for (let n = 0; n < frame.length; n++) expect(codeOf(() => parseFrame(frame.subarray(0, n))), `prefix ${n}`).toBe('NET_TRUNCATED');
    // A padded SYN is complete once its IPv4 datagram is; only shorter prefixes are truncated.
    const syn = tcpFrame({ ...link, srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: TcpFlag.SYN, window: 1, mss: 536 });
    for (let n = 0; n < 58; n++) expect(codeOf(() => parseFrame(syn.subarray(0, n))), `SYN prefix ${n}`).toBe('NET_TRUNCATED');
    expect(codeOf(() => parseFrame(syn.subarray(0, 58)))).toBe('ok');
  });

  it('catches a flipped bit anywhere past the MAC addresses', () => {
    const frame = dataFrame();
    const payloadFlip = frame.slice();
    payloadFlip[frame.length - 1]! ^= 0x04;
    expect(codeOf(() => parseFrame(payloadFlip))).toBe('NET_BAD_CHECKSUM');
    for (let bit = 12 * 8; bit < frame.length * 8; bit++) {
      const f = frame.slice();
      f[bit >> 3]! ^= 1 << (bit & 7);
      expect(codeOf(() => parseFrame(f)), `bit ${bit}`).not.toBe('ok');
    }
  });

  it('throws only NetError for random bytes and random damage', () => {
    let s = 0x2545f491; // xorshift32: the same bytes every run
    const rand = () => ((s ^= s << 13), (s ^= s >>> 17), (s ^= s << 5), s >>> 0);
    const seeds = [dataFrame(), udpFrame({ ...link, srcPort: 1, dstPort: 2, payload: text('u') }), arpFrame({ op: 'request', srcMac: hostMac, srcIp: hostIp, targetIp: hicIp })];
    for (let i = 0; i < 3000; i++) {
      let f: Uint8Array;
      if (i % 3 === 0) f = Uint8Array.from({ length: rand() % 120 }, () => rand());
      else {
        f = seeds[i % seeds.length]!.slice(0, 14 + (rand() % 80));
        for (let k = rand() % 4; k >= 0; k--) f[rand() % Math.max(1, f.length)] = rand();
        if (i % 2 && f.length >= 15) f.set([0x08, 0x00, 0x45], 12);
      }
      codeOf(() => parseFrame(f)); // rethrows anything that is not a NetError
    }
  });

  it('refuses to encode fields that do not fit', () => {
    const base = { srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: 0, window: 0 };
    for (const bad of [{ seq: 2 ** 32 }, { ack: -1 }, { window: 65536 }, { flags: 256 }, { dstPort: 1.5 }, { mss: 70000 }]) {
      expect(codeOf(() => tcp.encode({ ...base, ...bad }, new Uint8Array(0), hostIp, hicIp)), JSON.stringify(bad)).toBe('NET_BAD_HEADER');
    }
  });
});

describe('sequence-number arithmetic', () => {
  it('wraps at 2^32', () => {
    expect(seqAdd(0xffffffff, 1)).toBe(0);
    expect(seqAdd(0xfffffff0, 0x20)).toBe(0x10);
    expect(seqAdd(5, -10)).toBe(0xfffffffb);
    expect(seqDiff(0x10, 0xfffffff0)).toBe(0x20);
    expect(seqDiff(0xfffffff0, 0x10)).toBe(-0x20);
    expect(seqLt(0xfffffff0, 0x10)).toBe(true);
    expect(seqLt(0x10, 0xfffffff0)).toBe(false);
    expect(seqGt(0x10, 0xfffffff0)).toBe(true);
    expect(seqLeq(7, 7)).toBe(true);
    expect(seqLt(7, 7)).toBe(false);
    expect(seqGeq(0, 0xffffffff)).toBe(true);
    // Half the circle away is "behind": the boundary RFC 1982 leaves undefined resolves one way.
    expect(seqDiff(0x80000000, 0)).toBe(-0x80000000);
    expect(seqLt(0, 0x7fffffff)).toBe(true);
  });
});
