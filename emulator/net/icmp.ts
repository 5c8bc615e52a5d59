// ICMP echo request and reply (RFC 792) — ping, the only ICMP HIC's wire carries. The checksum
// covers the whole message with no pseudo-header.

import { checkUint, get16, need, put16 } from './bytes.ts';
import { internetChecksum } from './checksum.ts';
import { netFail } from './errors.ts';

export const ICMP_ECHO_HEADER_LEN = 8;
const TYPE_ECHO_REPLY = 0;
const TYPE_ECHO_REQUEST = 8;

export interface IcmpEcho {
  readonly type: 'request' | 'reply';
  readonly identifier: number;
  readonly sequence: number;
  /** Echoed back unchanged by the replier. */
  readonly data: Uint8Array;
}

export interface IcmpEchoPacket extends IcmpEcho {
  readonly checksum: number;
}

export function encode(m: IcmpEcho): Uint8Array {
  if (m.type !== 'request' && m.type !== 'reply') netFail('NET_BAD_HEADER', `icmp: echo type ${String(m.type)} is neither request nor reply`);
  const out = new Uint8Array(ICMP_ECHO_HEADER_LEN + m.data.length);
  out[0] = m.type === 'request' ? TYPE_ECHO_REQUEST : TYPE_ECHO_REPLY;
  out[1] = 0; // code
  put16(out, 4, checkUint(m.identifier, 16, 'icmp: identifier'));
  put16(out, 6, checkUint(m.sequence, 16, 'icmp: sequence'));
  out.set(m.data, ICMP_ECHO_HEADER_LEN);
  put16(out, 2, internetChecksum(out));
  return out;
}

/** Decodes an ICMP message that is the whole of `bytes` (an IPv4 payload). */
export function decode(bytes: Uint8Array): IcmpEchoPacket {
  need(bytes, ICMP_ECHO_HEADER_LEN, 'icmp echo header');
  const checksum = get16(bytes, 2);
  if (internetChecksum(bytes) !== 0) netFail('NET_BAD_CHECKSUM', `icmp: checksum 0x${checksum.toString(16).padStart(4, '0')} does not verify`);
  const type = bytes[0]!;
  if (type !== TYPE_ECHO_REQUEST && type !== TYPE_ECHO_REPLY) {
    netFail('NET_UNSUPPORTED', `icmp: type ${type} (only echo request 8 and echo reply 0)`);
  }
  if (bytes[1] !== 0) netFail('NET_BAD_HEADER', `icmp: echo with code ${bytes[1]}, want 0`);
  return {
    type: type === TYPE_ECHO_REQUEST ? 'request' : 'reply',
    identifier: get16(bytes, 4),
    sequence: get16(bytes, 6),
    data: bytes.slice(ICMP_ECHO_HEADER_LEN),
    checksum,
  };
}
