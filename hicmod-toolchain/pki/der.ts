// A minimal DER (ASN.1 Distinguished Encoding Rules) encoder: just the types an X.509 certificate
// needs (ITU-T X.690). Decoding is left to Node's X509Certificate, which is what verifies.

type Bytes = Uint8Array;

function length(n: number): Bytes {
  if (n < 0x80) return Uint8Array.of(n);
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return Uint8Array.of(0x80 | out.length, ...out);
}

export function tlv(tag: number, ...content: Bytes[]): Bytes {
  const body = Buffer.concat(content);
  return Buffer.concat([Uint8Array.of(tag), length(body.length), body]);
}

export const sequence = (...items: Bytes[]) => tlv(0x30, ...items);
export const set = (...items: Bytes[]) => tlv(0x31, ...items);
export const nul = () => tlv(0x05);
export const boolean = (v: boolean) => tlv(0x01, Uint8Array.of(v ? 0xff : 0));
export const octetString = (b: Bytes) => tlv(0x04, b);
export const utf8String = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));
/** A BIT STRING of whole bytes (no unused bits): a signature, a key. */
export const bitString = (b: Bytes) => tlv(0x03, Uint8Array.of(0), b);

/**
 * A BIT STRING holding a named bit list such as KeyUsage, given the numbers of the bits that are
 * set (bit 0 is the most significant bit of the first byte). DER removes trailing zero bits and
 * counts the padding of the last byte as unused (X.690 §11.2.2): {5, 6} is 03 02 01 06, never
 * 03 02 00 06, and the empty list is 03 01 00.
 */
export function namedBits(bits: readonly number[]): Bytes {
  for (const b of bits) if (!Number.isInteger(b) || b < 0) throw new RangeError(`der.namedBits: bad bit number ${b}`);
  if (bits.length === 0) return tlv(0x03, Uint8Array.of(0));
  const last = Math.max(...bits);
  const out = new Uint8Array((last >> 3) + 1);
  for (const b of bits) out[b >> 3]! |= 0x80 >> (b & 7);
  return tlv(0x03, Uint8Array.of(7 - (last & 7)), out);
}
/** [n] EXPLICIT: a constructed context-specific wrapper. */
export const explicit = (n: number, inner: Bytes) => tlv(0xa0 | n, inner);

/** A non-negative INTEGER, minimal two's-complement encoding. */
export function integer(v: bigint | number): Bytes {
  let n = BigInt(v);
  if (n < 0n) throw new RangeError('der.integer: negative values are not needed here');
  const out: number[] = [];
  do {
    out.unshift(Number(n & 0xffn));
    n >>= 8n;
  } while (n > 0n);
  if (out[0]! & 0x80) out.unshift(0);
  return tlv(0x02, Uint8Array.from(out));
}

/** An OBJECT IDENTIFIER; arcs may be arbitrarily large (the UUID arc 2.25 has 128-bit ones). */
export function oid(dotted: string): Bytes {
  const parts = dotted.split('.').map(BigInt);
  const out: number[] = [];
  for (const p of [40n * parts[0]! + parts[1]!, ...parts.slice(2)]) {
    const chunk: number[] = [];
    let v = p;
    do {
      chunk.unshift(Number(v & 0x7fn));
      v >>= 7n;
    } while (v > 0n);
    for (let i = 0; i < chunk.length - 1; i++) chunk[i]! |= 0x80;
    out.push(...chunk);
  }
  return tlv(0x06, Uint8Array.from(out));
}

/** X.509 Time: UTCTime for years 1950–2049, GeneralizedTime otherwise (RFC 5280 §4.1.2.5). */
export function time(d: Date): Bytes {
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, ''); // YYYYMMDDHHMMSS
  const year = d.getUTCFullYear();
  if (year >= 1950 && year < 2050) return tlv(0x17, Buffer.from(digits.slice(2) + 'Z', 'ascii'));
  return tlv(0x18, Buffer.from(digits + 'Z', 'ascii'));
}
