// Why a frame was refused (or could not be built): one closed set of codes for every wire format
// in emulator/net. Decoders throw only NetError, whatever the input — a truncated or corrupted
// frame is data from the wire, never a reason for a TypeError or RangeError.

export const NET_ERROR_CODES = [
  /** Fewer bytes than a header or a length field says there must be. */
  'NET_TRUNCATED',
  /** An Internet checksum (IPv4 header, ICMP, UDP, TCP) does not verify. */
  'NET_BAD_CHECKSUM',
  /** A field is out of range or inconsistent (version, IHL, data offset, option length, ...). */
  'NET_BAD_HEADER',
  /** Well-formed, but something HIC's wire does not carry (fragments, non-Ethernet ARP, ...). */
  'NET_UNSUPPORTED',
  /** A MAC or IPv4 address in text form that does not parse. */
  'NET_BAD_ADDRESS',
] as const;

export type NetErrorCode = (typeof NET_ERROR_CODES)[number];

export class NetError extends Error {
  override readonly name = 'NetError';
  constructor(readonly code: NetErrorCode, message: string) {
    super(message);
  }
}

export function netFail(code: NetErrorCode, message: string): never {
  throw new NetError(code, message);
}
