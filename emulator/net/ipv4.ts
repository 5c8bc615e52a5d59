// IPv4 (RFC 791) as HIC's wire carries it: unfragmented datagrams only — encoders set DF and
// never split, decoders refuse fragments — with a verified header checksum. Also the pseudo-header
// that UDP and TCP checksums cover, and the dotted-quad form of addresses (uint32 numbers).

import { checkUint, get16, get32, need, put16, put32 } from './bytes.ts';
import { InternetChecksum, internetChecksum } from './checksum.ts';
import { netFail } from './errors.ts';
import { decodeOptions, type WireOption } from './options.ts';

export const IPV4_HEADER_LEN = 20;
export const IPV4_MAX_TOTAL = 0xffff;
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const DEFAULT_TTL = 64;

const FLAG_RESERVED = 0x8000;
const FLAG_DF = 0x4000;
const FLAG_MF = 0x2000;
const OFFSET_MASK = 0x1fff;

export interface Ipv4Header {
  readonly src: number;
  readonly dst: number;
  readonly protocol: number;
  readonly ttl: number;
  /** Identification; with DF set nothing reassembles by it, so 0 is as good as any value. */
  readonly id: number;
  /** The DSCP/ECN byte. */
  readonly tos: number;
}

/** What an encoder needs; ttl, id and tos default to 64, 0, 0. */
export type Ipv4Fields = Pick<Ipv4Header, 'src' | 'dst' | 'protocol'> & Partial<Ipv4Header>;

export interface Ipv4Packet extends Ipv4Header {
  /** IHL × 4. */
  readonly headerLength: number;
  readonly totalLength: number;
  readonly dontFragment: boolean;
  readonly checksum: number;
  readonly options: WireOption[];
  /** Exactly totalLength − headerLength bytes: Ethernet padding is cut off. */
  readonly payload: Uint8Array;
}

export function encode(h: Ipv4Fields, payload: Uint8Array): Uint8Array {
  const total = IPV4_HEADER_LEN + payload.length;
  if (total > IPV4_MAX_TOTAL) netFail('NET_BAD_HEADER', `ipv4: datagram of ${total} bytes exceeds ${IPV4_MAX_TOTAL} (no fragmentation)`);
  const out = new Uint8Array(total);
  out[0] = 0x45; // version 4, IHL 5: no options
  out[1] = checkUint(h.tos ?? 0, 8, 'ipv4: tos');
  put16(out, 2, total);
  put16(out, 4, checkUint(h.id ?? 0, 16, 'ipv4: id'));
  put16(out, 6, FLAG_DF);
  out[8] = checkUint(h.ttl ?? DEFAULT_TTL, 8, 'ipv4: ttl');
  out[9] = checkUint(h.protocol, 8, 'ipv4: protocol');
  put32(out, 12, checkUint(h.src, 32, 'ipv4: src'));
  put32(out, 16, checkUint(h.dst, 32, 'ipv4: dst'));
  put16(out, 10, internetChecksum(out, 0, IPV4_HEADER_LEN));
  out.set(payload, IPV4_HEADER_LEN);
  return out;
}

/** Decodes the datagram at the start of `bytes`; anything past its total length is ignored. */
export function decode(bytes: Uint8Array): Ipv4Packet {
  need(bytes, IPV4_HEADER_LEN, 'ipv4 header');
  const version = bytes[0]! >>> 4;
  const headerLength = (bytes[0]! & 0x0f) * 4;
  if (version !== 4) netFail('NET_BAD_HEADER', `ipv4: version ${version}, want 4`);
  if (headerLength < IPV4_HEADER_LEN) netFail('NET_BAD_HEADER', `ipv4: IHL ${headerLength / 4} is below the minimum 5`);
  need(bytes, headerLength, 'ipv4 header with options');
  const checksum = get16(bytes, 10);
  if (internetChecksum(bytes, 0, headerLength) !== 0) {
    netFail('NET_BAD_CHECKSUM', `ipv4: header checksum 0x${checksum.toString(16).padStart(4, '0')} does not verify`);
  }
  const totalLength = get16(bytes, 2);
  if (totalLength < headerLength) netFail('NET_BAD_HEADER', `ipv4: total length ${totalLength} is shorter than the header (${headerLength})`);
  need(bytes, totalLength, 'ipv4 datagram');
  const flags = get16(bytes, 6);
  if (flags & FLAG_RESERVED) netFail('NET_BAD_HEADER', 'ipv4: the reserved flag bit is set');
  if (flags & FLAG_MF || flags & OFFSET_MASK) {
    netFail('NET_UNSUPPORTED', `ipv4: fragment (MF ${flags & FLAG_MF ? 1 : 0}, offset ${(flags & OFFSET_MASK) * 8}); HIC's wire does not fragment`);
  }
  return {
    src: get32(bytes, 12),
    dst: get32(bytes, 16),
    protocol: bytes[9]!,
    ttl: bytes[8]!,
    id: get16(bytes, 4),
    tos: bytes[1]!,
    headerLength,
    totalLength,
    dontFragment: (flags & FLAG_DF) !== 0,
    checksum,
    options: decodeOptions(bytes.subarray(IPV4_HEADER_LEN, headerLength), new Map(), 'ipv4'),
    payload: bytes.subarray(headerLength, totalLength),
  };
}

/**
 * The sum over the pseudo-header that UDP and TCP checksums start from (RFC 768, RFC 9293):
 * source, destination, zero, protocol, and the transport length (header + data).
 */
export function pseudoHeader(src: number, dst: number, protocol: number, length: number): InternetChecksum {
  return new InternetChecksum().addU32(src).addU32(dst).addU16(protocol).addU16(length);
}

/** "10.0.0.1". */
export function ipToString(ip: number): string {
  checkUint(ip, 32, 'ipToString: address');
  return [ip >>> 24, (ip >>> 16) & 0xff, (ip >>> 8) & 0xff, ip & 0xff].join('.');
}

/** Parses a dotted quad. Leading zeros are refused: some parsers read "010" as octal 8. */
export function parseIp(text: string): number {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255)) {
    netFail('NET_BAD_ADDRESS', `"${text}" is not an IPv4 address (want a dotted quad, e.g. 10.0.0.1)`);
  }
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}
