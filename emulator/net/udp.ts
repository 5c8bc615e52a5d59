// UDP (RFC 768) over IPv4, with the checksum over the IPv4 pseudo-header always computed on
// encode and verified on decode.

import { checkUint, get16, need, put16 } from './bytes.ts';
import { netFail } from './errors.ts';
import { IPPROTO_UDP, pseudoHeader } from './ipv4.ts';

export const UDP_HEADER_LEN = 8;

export interface UdpHeader {
  readonly srcPort: number;
  readonly dstPort: number;
}

export interface UdpDatagram extends UdpHeader {
  readonly length: number;
  /** 0 when the sender computed none, which IPv4 allows (RFC 768). */
  readonly checksum: number;
  readonly payload: Uint8Array;
}

/** `srcIp`/`dstIp` are the addresses of the IPv4 datagram that will carry it (pseudo-header). */
export function encode(h: UdpHeader, payload: Uint8Array, srcIp: number, dstIp: number): Uint8Array {
  const length = UDP_HEADER_LEN + payload.length;
  // 65535 minus the IPv4 header is the true limit; ipv4.encode refuses the rest.
  if (length > 0xffff) netFail('NET_BAD_HEADER', `udp: datagram of ${length} bytes does not fit the 16-bit length`);
  const out = new Uint8Array(length);
  put16(out, 0, checkUint(h.srcPort, 16, 'udp: srcPort'));
  put16(out, 2, checkUint(h.dstPort, 16, 'udp: dstPort'));
  put16(out, 4, length);
  out.set(payload, UDP_HEADER_LEN);
  const sum = pseudoHeader(srcIp, dstIp, IPPROTO_UDP, length).add(out).finish();
  // 0 on the wire means "no checksum", so a computed 0 is sent as its equal 0xffff.
  put16(out, 6, sum === 0 ? 0xffff : sum);
  return out;
}

/** Decodes a UDP datagram that is the whole of `bytes` (an IPv4 payload). */
export function decode(bytes: Uint8Array, srcIp: number, dstIp: number): UdpDatagram {
  need(bytes, UDP_HEADER_LEN, 'udp header');
  const length = get16(bytes, 4);
  if (length < UDP_HEADER_LEN) netFail('NET_BAD_HEADER', `udp: length ${length} is below the header size ${UDP_HEADER_LEN}`);
  need(bytes, length, 'udp datagram');
  if (length !== bytes.length) netFail('NET_BAD_HEADER', `udp: length ${length} but the IPv4 payload is ${bytes.length} bytes`);
  const checksum = get16(bytes, 6);
  if (checksum !== 0 && pseudoHeader(srcIp, dstIp, IPPROTO_UDP, length).add(bytes).finish() !== 0) {
    netFail('NET_BAD_CHECKSUM', `udp: checksum 0x${checksum.toString(16).padStart(4, '0')} does not verify`);
  }
  return {
    srcPort: get16(bytes, 0),
    dstPort: get16(bytes, 2),
    length,
    checksum,
    payload: bytes.slice(UDP_HEADER_LEN),
  };
}
