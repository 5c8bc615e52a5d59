// Checksums used on HIC's wire and in its state: the Internet checksum (RFC 1071) — IPv4 header,
// ICMP, UDP and TCP, the last two over a pseudo-header — and CRC32 (IEEE 802.3, the zlib one).

/**
 * One's-complement sum of 16-bit big-endian words, fed in pieces (pseudo-header, header,
 * payload). Pieces of odd length are allowed: the next piece continues mid-word, exactly as if
 * the bytes had been concatenated.
 */
export class InternetChecksum {
  private sum = 0;
  /** True when the last byte added was the high half of a word still waiting for its low half. */
  private odd = false;

  add(bytes: Uint8Array, start = 0, end = bytes.length): this {
    let i = start;
    let sum = this.sum;
    if (this.odd && i < end) {
      sum += bytes[i++]!;
      this.odd = false;
    }
    for (; i + 1 < end; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
    if (i < end) {
      sum += bytes[i]! << 8;
      this.odd = true;
    }
    // Folding per piece keeps the sum far below 2^53 however much is added.
    this.sum = fold(sum);
    return this;
  }

  addU16(v: number): this {
    return this.add(Uint8Array.of(v >>> 8, v));
  }

  addU32(v: number): this {
    return this.add(Uint8Array.of(v >>> 24, v >>> 16, v >>> 8, v));
  }

  /**
   * The checksum field value: the complement of the folded sum. Over data that already holds a
   * correct checksum the result is 0, which is how receivers verify.
   */
  finish(): number {
    return ~fold(this.sum) & 0xffff;
  }
}

function fold(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/** The Internet checksum of bytes[start, end). */
export function internetChecksum(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return new InternetChecksum().add(bytes, start, end).finish();
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/**
 * CRC32 with the reflected IEEE 802.3 polynomial 0xEDB88320, as zlib's crc32(): pass the previous
 * result as `crc` to continue over more bytes. crc32("123456789") = 0xCBF43926.
 */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
