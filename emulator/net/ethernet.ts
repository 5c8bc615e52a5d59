// Ethernet II framing on HIC's emulated wire: destination, source, EtherType, payload. No FCS —
// the wire never corrupts on its own, and captures with LINKTYPE_ETHERNET carry none either.

import { get16, need, put16 } from './bytes.ts';
import { netFail } from './errors.ts';

/** A MAC address: exactly 6 bytes. */
export type Mac = Uint8Array;

export const ETHERNET_HEADER_LEN = 14;
/**
 * The minimum frame without FCS (64 on real Ethernet, minus 4). Encoders pad to it as a NIC does,
 * so the bytes on the emulated wire are what a real wire would carry; decoders therefore find the
 * end of the payload from the IPv4 total length, not the frame length.
 */
export const ETHERNET_MIN_FRAME = 60;

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;

export const BROADCAST_MAC: Mac = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
export const ZERO_MAC: Mac = new Uint8Array(6);

export interface EthernetHeader {
  readonly dst: Mac;
  readonly src: Mac;
  readonly etherType: number;
}

export interface EthernetFrame extends EthernetHeader {
  /** Everything after the header, padding included. */
  readonly payload: Uint8Array;
}

export function encode(h: EthernetHeader, payload: Uint8Array): Uint8Array {
  checkMac(h.dst, 'ethernet: dst');
  checkMac(h.src, 'ethernet: src');
  checkEtherType(h.etherType);
  const out = new Uint8Array(Math.max(ETHERNET_MIN_FRAME, ETHERNET_HEADER_LEN + payload.length));
  out.set(h.dst, 0);
  out.set(h.src, 6);
  put16(out, 12, h.etherType);
  out.set(payload, ETHERNET_HEADER_LEN);
  return out;
}

export function decode(bytes: Uint8Array): EthernetFrame {
  need(bytes, ETHERNET_HEADER_LEN, 'ethernet header');
  const etherType = get16(bytes, 12);
  checkEtherType(etherType);
  return {
    dst: bytes.slice(0, 6),
    src: bytes.slice(6, 12),
    etherType,
    payload: bytes.subarray(ETHERNET_HEADER_LEN),
  };
}

function checkEtherType(t: number): void {
  // Values up to 1500 are 802.3 length fields, not types; HIC's wire speaks Ethernet II only.
  if (!Number.isInteger(t) || t < 0x0600 || t > 0xffff) {
    netFail('NET_UNSUPPORTED', `ethernet: 0x${t.toString(16)} is not an Ethernet II EtherType (802.3 length frames are not carried)`);
  }
}

/** Refuses anything but a 6-byte Uint8Array with NET_BAD_ADDRESS. */
export function checkMac(m: Mac, what: string): void {
  if (!(m instanceof Uint8Array) || m.length !== 6) netFail('NET_BAD_ADDRESS', `${what} is not a 6-byte MAC address`);
}

/** "02:00:00:00:00:01". */
export function macToString(m: Mac): string {
  checkMac(m, 'macToString');
  return Array.from(m, (b) => b.toString(16).padStart(2, '0')).join(':');
}

/** Parses "02:00:00:00:00:01" (or with '-'), case-insensitive. */
export function parseMac(text: string): Mac {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p))) {
    netFail('NET_BAD_ADDRESS', `"${text}" is not a MAC address (want six hex pairs, e.g. 02:00:00:00:00:01)`);
  }
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}

export function macEquals(a: Mac, b: Mac): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
