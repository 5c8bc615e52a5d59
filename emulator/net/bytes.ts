// Big-endian field access and range checks shared by the wire formats. Reads are bounds-checked
// by the callers (`need` first), so the `!` below never hides an undefined.

import { netFail } from './errors.ts';

/** Refuses with NET_TRUNCATED unless `bytes` holds at least `n` bytes. */
export function need(bytes: Uint8Array, n: number, what: string): void {
  if (bytes.length < n) netFail('NET_TRUNCATED', `${what}: ${bytes.length} bytes, need at least ${n}`);
}

export function get16(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}

export function get32(b: Uint8Array, at: number): number {
  // `<< 24` would go negative for the top bit; multiply instead to stay a uint32.
  return b[at]! * 0x1000000 + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!);
}

// Uint8Array stores modulo 256, so the shifts need no masking.
export function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 8;
  b[at + 1] = v;
}

export function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = v >>> 16;
  b[at + 2] = v >>> 8;
  b[at + 3] = v;
}

/**
 * Refuses a field that would not fit its bits on the wire. Encoding silently modulo 2^n would put
 * a different value on the wire than the caller meant.
 */
export function checkUint(value: number, bits: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** bits) {
    netFail('NET_BAD_HEADER', `${what} ${value} is not a ${bits}-bit unsigned integer`);
  }
  return value;
}
