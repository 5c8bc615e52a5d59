// Whole Ethernet frames in one call, for host-side emulated clients and tests: build a TCP, UDP,
// ICMP echo or ARP frame from flat fields, and parse any frame HIC's wire carries into a
// discriminated union with every layer decoded and verified.

import * as arp from './arp.ts';
import { netFail } from './errors.ts';
import * as eth from './ethernet.ts';
import { BROADCAST_MAC, ETHERTYPE_ARP, ETHERTYPE_IPV4, ZERO_MAC, type Mac } from './ethernet.ts';
import * as icmp from './icmp.ts';
import * as ipv4 from './ipv4.ts';
import { IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP } from './ipv4.ts';
import * as tcp from './tcp.ts';
import * as udp from './udp.ts';

/** The link and network fields every IPv4 frame needs; ttl and id as in ipv4.encode. */
export interface IpFrameFields {
  readonly srcMac: Mac;
  readonly dstMac: Mac;
  readonly srcIp: number;
  readonly dstIp: number;
  readonly ttl?: number;
  readonly id?: number;
}

export interface TcpFrameFields extends IpFrameFields, tcp.TcpHeader {
  readonly payload?: Uint8Array;
}

export interface UdpFrameFields extends IpFrameFields, udp.UdpHeader {
  readonly payload: Uint8Array;
}

export interface IcmpEchoFrameFields extends IpFrameFields, icmp.IcmpEcho {}

export interface ArpFrameFields {
  readonly op: 'request' | 'reply';
  readonly srcMac: Mac;
  readonly srcIp: number;
  readonly targetIp: number;
  /** Required for a reply (the asker's MAC); a request is broadcast and asks with zeros. */
  readonly targetMac?: Mac;
}

const EMPTY = new Uint8Array(0);

function ipFrame(f: IpFrameFields, protocol: number, segment: Uint8Array): Uint8Array {
  const packet = ipv4.encode({ src: f.srcIp, dst: f.dstIp, protocol, ttl: f.ttl, id: f.id }, segment);
  return eth.encode({ dst: f.dstMac, src: f.srcMac, etherType: ETHERTYPE_IPV4 }, packet);
}

export function tcpFrame(f: TcpFrameFields): Uint8Array {
  return ipFrame(f, IPPROTO_TCP, tcp.encode(f, f.payload ?? EMPTY, f.srcIp, f.dstIp));
}

export function udpFrame(f: UdpFrameFields): Uint8Array {
  return ipFrame(f, IPPROTO_UDP, udp.encode(f, f.payload, f.srcIp, f.dstIp));
}

export function icmpEchoFrame(f: IcmpEchoFrameFields): Uint8Array {
  return ipFrame(f, IPPROTO_ICMP, icmp.encode(f));
}

export function arpFrame(f: ArpFrameFields): Uint8Array {
  let targetMac = ZERO_MAC;
  if (f.op === 'reply') {
    if (!f.targetMac) netFail('NET_BAD_HEADER', 'arp: a reply needs the targetMac it answers');
    targetMac = f.targetMac;
  }
  const packet = arp.encode({ op: f.op, senderMac: f.srcMac, senderIp: f.srcIp, targetMac, targetIp: f.targetIp });
  return eth.encode({ dst: f.op === 'request' ? BROADCAST_MAC : targetMac, src: f.srcMac, etherType: ETHERTYPE_ARP }, packet);
}

export type ParsedFrame =
  | { readonly kind: 'arpRequest' | 'arpReply'; readonly eth: eth.EthernetFrame; readonly arp: arp.ArpPacket }
  | { readonly kind: 'icmpEchoRequest' | 'icmpEchoReply'; readonly eth: eth.EthernetFrame; readonly ip: ipv4.Ipv4Packet; readonly icmp: icmp.IcmpEchoPacket }
  | { readonly kind: 'udp'; readonly eth: eth.EthernetFrame; readonly ip: ipv4.Ipv4Packet; readonly udp: udp.UdpDatagram }
  | { readonly kind: 'tcp'; readonly eth: eth.EthernetFrame; readonly ip: ipv4.Ipv4Packet; readonly tcp: tcp.TcpSegment };

export type FrameKind = ParsedFrame['kind'];

/**
 * Decodes every layer of `bytes` and verifies every length and checksum; throws NetError (and
 * nothing else) for any frame that is not one of the kinds above or is damaged.
 */
export function parseFrame(bytes: Uint8Array): ParsedFrame {
  const frame = eth.decode(bytes);
  if (frame.etherType === ETHERTYPE_ARP) {
    const packet = arp.decode(frame.payload);
    return { kind: packet.op === 'request' ? 'arpRequest' : 'arpReply', eth: frame, arp: packet };
  }
  if (frame.etherType !== ETHERTYPE_IPV4) {
    netFail('NET_UNSUPPORTED', `ethernet: EtherType 0x${frame.etherType.toString(16).padStart(4, '0')} (only IPv4 and ARP are carried)`);
  }
  const ip = ipv4.decode(frame.payload);
  switch (ip.protocol) {
    case IPPROTO_TCP:
      return { kind: 'tcp', eth: frame, ip, tcp: tcp.decode(ip.payload, ip.src, ip.dst) };
    case IPPROTO_UDP:
      return { kind: 'udp', eth: frame, ip, udp: udp.decode(ip.payload, ip.src, ip.dst) };
    case IPPROTO_ICMP: {
      const m = icmp.decode(ip.payload);
      return { kind: m.type === 'request' ? 'icmpEchoRequest' : 'icmpEchoReply', eth: frame, ip, icmp: m };
    }
    default:
      return netFail('NET_UNSUPPORTED', `ipv4: protocol ${ip.protocol} (only ICMP 1, TCP 6 and UDP 17 are carried)`);
  }
}
