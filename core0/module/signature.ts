// The signature block that follows a module's signed region (docs/hicmod-format.md): the module
// hash, the signer's RSA signature over it, the signer's certificate chain, and a timestamp token
// from a timestamp authority binding the hash to a time. Decoded strictly: every byte is either
// meaningful or refused, so no bit of the block can change without the verifier noticing.

import { fail } from './errors.ts';
import { Reader } from './format.ts';

export const SIG_MAGIC = 0x47495348; // "HSIG"
export const SIG_VERSION = 1;
export const ALG_RSA3072_SHA384 = 1;
export const HASH_LENGTH = 48; // SHA-384
export const RSA3072_SIGNATURE_LENGTH = 384;
export const MAX_CERTS = 4;
export const TIMESTAMP_DOMAIN = 'HIC-TIMESTAMP-1';

export interface TimestampToken {
  /** Milliseconds since 1970-01-01 UTC. */
  readonly time: number;
  readonly hash: Uint8Array;
  readonly chain: readonly Uint8Array[];
  readonly signature: Uint8Array;
}

export interface SignatureBlock {
  readonly hash: Uint8Array;
  readonly signature: Uint8Array;
  /** Signer first, then issuers up to (not including) a root. */
  readonly chain: readonly Uint8Array[];
  readonly timestamp: TimestampToken;
}

function certs(r: Reader, what: string): Uint8Array[] {
  const n = r.u16();
  if (n < 1 || n > MAX_CERTS) fail('BAD_SIGNATURE_BLOCK', `${what}: ${n} certificates (1 to ${MAX_CERTS} allowed)`);
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const len = r.u32();
    if (len > 16384) fail('BAD_SIGNATURE_BLOCK', `${what}: certificate ${i} claims ${len} bytes`);
    out.push(r.take(len));
  }
  return out;
}

function signature(r: Reader, what: string): Uint8Array {
  const len = r.u16();
  if (len !== RSA3072_SIGNATURE_LENGTH) fail('BAD_SIGNATURE_BLOCK', `${what}: signature of ${len} bytes; RSA-3072 gives ${RSA3072_SIGNATURE_LENGTH}`);
  return r.take(len);
}

/** The bytes a timestamp authority signs: domain, module hash, time. */
export function timestampMessage(hash: Uint8Array, time: number): Uint8Array {
  const t = Buffer.alloc(8);
  t.writeBigUInt64LE(BigInt(time));
  return Buffer.concat([Buffer.from(TIMESTAMP_DOMAIN, 'ascii'), hash, t]);
}

export function decodeSignatureBlock(b: Uint8Array): SignatureBlock {
  if (b.length === 0) fail('UNSIGNED', 'the module carries no signature block');
  const r = new Reader(b, 'signature block');
  try {
    if (r.u32() !== SIG_MAGIC) fail('BAD_SIGNATURE_BLOCK', 'signature block magic "HSIG" missing');
    if (r.u16() !== SIG_VERSION) fail('BAD_SIGNATURE_BLOCK', 'unknown signature block version');
    if (r.u16() !== ALG_RSA3072_SHA384) fail('BAD_SIGNATURE_BLOCK', 'unknown signature algorithm (only 1 = RSA-3072/SHA-384)');
    const hash = r.take(HASH_LENGTH);
    const sig = signature(r, 'module signature');
    const chain = certs(r, 'signer chain');
    if (r.u16() !== SIG_VERSION) fail('BAD_SIGNATURE_BLOCK', 'unknown timestamp token version');
    const time = r.u64();
    const tsHash = r.take(HASH_LENGTH);
    const tsChain = certs(r, 'timestamp chain');
    const tsSig = signature(r, 'timestamp signature');
    r.end();
    return { hash, signature: sig, chain, timestamp: { time, hash: tsHash, chain: tsChain, signature: tsSig } };
  } catch (e) {
    // A truncated or padded block is a malformed block, whatever the reader called it.
    if ((e as { code?: string }).code === 'TRUNCATED' || (e as { code?: string }).code === 'BAD_SECTION') fail('BAD_SIGNATURE_BLOCK', (e as Error).message);
    throw e;
  }
}

/** Size of an encoded block with these certificates (signatures are fixed-size). */
export function signatureBlockLength(chain: readonly Uint8Array[], tsChain: readonly Uint8Array[]): number {
  const certsLen = (c: readonly Uint8Array[]) => 2 + c.reduce((n, d) => n + 4 + d.length, 0);
  return 4 + 2 + 2 + HASH_LENGTH + 2 + RSA3072_SIGNATURE_LENGTH + certsLen(chain) + 2 + 8 + HASH_LENGTH + certsLen(tsChain) + 2 + RSA3072_SIGNATURE_LENGTH;
}
