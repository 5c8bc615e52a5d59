// ARP (RFC 826) for IPv4 over Ethernet — the only combination HIC's wire carries: how a host
// learns which MAC owns an IPv4 address before it can send an IPv4 frame to it.

import { checkUint, get16, get32, need, put16, put32 } from './bytes.ts';
import { netFail } from './errors.ts';
import { checkMac, ETHERTYPE_IPV4, type Mac } from './ethernet.ts';

export const ARP_LEN = 28;
const HTYPE_ETHERNET = 1;
const OP_REQUEST = 1;
const OP_REPLY = 2;

export interface ArpPacket {
  readonly op: 'request' | 'reply';
  readonly senderMac: Mac;
  readonly senderIp: number;
  /** All zeros in a request: the MAC being asked for. */
  readonly targetMac: Mac;
  readonly targetIp: number;
}

export function encode(p: ArpPacket): Uint8Array {
  checkMac(p.senderMac, 'arp: senderMac');
  checkMac(p.targetMac, 'arp: targetMac');
  checkUint(p.senderIp, 32, 'arp: senderIp');
  checkUint(p.targetIp, 32, 'arp: targetIp');
  if (p.op !== 'request' && p.op !== 'reply') netFail('NET_BAD_HEADER', `arp: op ${String(p.op)} is neither request nor reply`);
  const out = new Uint8Array(ARP_LEN);
  put16(out, 0, HTYPE_ETHERNET);
  put16(out, 2, ETHERTYPE_IPV4);
  out[4] = 6; // hardware address length
  out[5] = 4; // protocol address length
  put16(out, 6, p.op === 'request' ? OP_REQUEST : OP_REPLY);
  out.set(p.senderMac, 8);
  put32(out, 14, p.senderIp);
  out.set(p.targetMac, 18);
  put32(out, 24, p.targetIp);
  return out;
}

/** Decodes the ARP packet at the start of `bytes`; Ethernet padding after it is ignored. */
export function decode(bytes: Uint8Array): ArpPacket {
  need(bytes, ARP_LEN, 'arp packet');
  const htype = get16(bytes, 0);
  const ptype = get16(bytes, 2);
  if (htype !== HTYPE_ETHERNET || ptype !== ETHERTYPE_IPV4) {
    netFail('NET_UNSUPPORTED', `arp: hardware type ${htype} / protocol 0x${ptype.toString(16)} (only Ethernet/IPv4 is carried)`);
  }
  if (bytes[4] !== 6 || bytes[5] !== 4) {
    netFail('NET_BAD_HEADER', `arp: address lengths ${bytes[4]}/${bytes[5]} for Ethernet/IPv4, want 6/4`);
  }
  const op = get16(bytes, 6);
  if (op !== OP_REQUEST && op !== OP_REPLY) netFail('NET_UNSUPPORTED', `arp: operation ${op} (only request 1 and reply 2)`);
  return {
    op: op === OP_REQUEST ? 'request' : 'reply',
    senderMac: bytes.slice(8, 14),
    senderIp: get32(bytes, 14),
    targetMac: bytes.slice(18, 24),
    targetIp: get32(bytes, 24),
  };
}
