// TCP segments (RFC 9293) over IPv4: header, flags, the MSS option, and the checksum over the
// IPv4 pseudo-header. Also sequence-number arithmetic, which every comparison of seq/ack numbers
// in a TCP implementation must use because they wrap at 2^32.

import { checkUint, get16, get32, need, put16, put32 } from './bytes.ts';
import { netFail } from './errors.ts';
import { IPPROTO_TCP, pseudoHeader } from './ipv4.ts';
import { decodeOptions, type WireOption } from './options.ts';

export const TCP_HEADER_LEN = 20;
/** Data offset is 4 bits of 32-bit words: at most 60 bytes of header, 40 of options. */
export const TCP_MAX_HEADER_LEN = 60;

export const TcpFlag = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
} as const;

const OPT_MSS = 2;
/** Total lengths of the options a decoder knows; others are skipped by their length byte. */
const KNOWN_OPTION_LENGTHS: ReadonlyMap<number, readonly number[]> = new Map([
  [OPT_MSS, [4]],
  [3, [3]], // window scale
  [4, [2]], // SACK permitted
  [5, [10, 18, 26, 34]], // SACK blocks: 1 to 4 pairs of edges
  [8, [10]], // timestamps
]);

export interface TcpHeader {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  readonly ack: number;
  /** A bitwise OR of TcpFlag values (ECE 0x40 and CWR 0x80 pass through but are not used). */
  readonly flags: number;
  readonly window: number;
  readonly urgentPointer?: number;
  /** Maximum segment size to announce; sent as the only option, normally on SYNs. */
  readonly mss?: number;
}

export interface TcpSegment extends TcpHeader {
  readonly urgentPointer: number;
  /** Header length in bytes (data offset × 4). */
  readonly headerLength: number;
  readonly checksum: number;
  /** Every option but EOL and NOP, MSS included. */
  readonly options: WireOption[];
  readonly payload: Uint8Array;
}

/** `srcIp`/`dstIp` are the addresses of the IPv4 datagram that will carry it (pseudo-header). */
export function encode(h: TcpHeader, payload: Uint8Array, srcIp: number, dstIp: number): Uint8Array {
  const headerLength = TCP_HEADER_LEN + (h.mss === undefined ? 0 : 4);
  const out = new Uint8Array(headerLength + payload.length);
  put16(out, 0, checkUint(h.srcPort, 16, 'tcp: srcPort'));
  put16(out, 2, checkUint(h.dstPort, 16, 'tcp: dstPort'));
  put32(out, 4, checkUint(h.seq, 32, 'tcp: seq'));
  put32(out, 8, checkUint(h.ack, 32, 'tcp: ack'));
  out[12] = (headerLength / 4) << 4;
  out[13] = checkUint(h.flags, 8, 'tcp: flags');
  put16(out, 14, checkUint(h.window, 16, 'tcp: window'));
  put16(out, 18, checkUint(h.urgentPointer ?? 0, 16, 'tcp: urgentPointer'));
  if (h.mss !== undefined) {
    out[20] = OPT_MSS;
    out[21] = 4;
    put16(out, 22, checkUint(h.mss, 16, 'tcp: mss'));
  }
  out.set(payload, headerLength);
  put16(out, 16, pseudoHeader(srcIp, dstIp, IPPROTO_TCP, out.length).add(out).finish());
  return out;
}

/** Decodes a TCP segment that is the whole of `bytes` (an IPv4 payload). */
export function decode(bytes: Uint8Array, srcIp: number, dstIp: number): TcpSegment {
  need(bytes, TCP_HEADER_LEN, 'tcp header');
  const headerLength = (bytes[12]! >>> 4) * 4;
  if (headerLength < TCP_HEADER_LEN) netFail('NET_BAD_HEADER', `tcp: data offset ${headerLength / 4} is below the minimum 5`);
  need(bytes, headerLength, 'tcp header with options');
  const checksum = get16(bytes, 16);
  if (pseudoHeader(srcIp, dstIp, IPPROTO_TCP, bytes.length).add(bytes).finish() !== 0) {
    netFail('NET_BAD_CHECKSUM', `tcp: checksum 0x${checksum.toString(16).padStart(4, '0')} does not verify`);
  }
  const options = decodeOptions(bytes.subarray(TCP_HEADER_LEN, headerLength), KNOWN_OPTION_LENGTHS, 'tcp');
  const mssOption = options.find((o) => o.kind === OPT_MSS);
  return {
    srcPort: get16(bytes, 0),
    dstPort: get16(bytes, 2),
    seq: get32(bytes, 4),
    ack: get32(bytes, 8),
    flags: bytes[13]!,
    window: get16(bytes, 14),
    urgentPointer: get16(bytes, 18),
    ...(mssOption ? { mss: get16(mssOption.data, 0) } : {}),
    headerLength,
    checksum,
    options,
    payload: bytes.slice(headerLength),
  };
}

/** "SYN|ACK": for logs and test messages. */
export function flagsToString(flags: number): string {
  const names = Object.entries(TcpFlag).filter(([, bit]) => flags & bit).map(([name]) => name);
  return names.length ? names.join('|') : '(none)';
}

// Sequence numbers live on a circle of 2^32: a < b means b is less than 2^31 ahead of a
// (RFC 1982 serial number arithmetic). Plain `<` is wrong as soon as a connection wraps.

/** a + n modulo 2^32; n may be negative. */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/** The signed distance from b to a (a − b) in [−2^31, 2^31). */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

export function seqLt(a: number, b: number): boolean {
  return seqDiff(a, b) < 0;
}

export function seqLeq(a: number, b: number): boolean {
  return seqDiff(a, b) <= 0;
}

export function seqGt(a: number, b: number): boolean {
  return seqDiff(a, b) > 0;
}

export function seqGeq(a: number, b: number): boolean {
  return seqDiff(a, b) >= 0;
}
