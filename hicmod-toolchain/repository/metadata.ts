// One signed metadata file of the module repository, in the spirit of TUF: an envelope
// { signed, signature } whose signature is RSA-3072 PKCS#1 v1.5 / SHA-384 over the canonical JSON
// of `signed`. Opening an envelope checks, in this order and before anything in it is believed:
// JSON, shape, the signer's chain to a trusted root at the file's own signing time (never the host
// clock), that the signer holds the key of this file's role, the signature, then the body (schema.ts).
//
// Role binding matters because every repo-* certificate carries the same codeSigning usage: only
// the subject name tells the targets key from the timestamp key.

import { createHash, sign, verify, type X509Certificate } from 'node:crypto';
import { fail } from '../../core0/module/errors.ts';
import { REPOSITORY_METADATA, checkChain, type TrustStore } from '../../core0/module/verify.ts';
import type { Identity } from '../pki/pki.ts';

export const METADATA_ROLES = ['targets', 'snapshot', 'timestamp'] as const;
export type MetadataRole = (typeof METADATA_ROLES)[number];
export const SIGNATURE_ALG = 'RSA-3072-SHA384';
/** No metadata file is believed to be larger than this; a bigger one is refused unread. */
export const MAX_METADATA = 16 << 20;

export const metadataPath = (role: MetadataRole) => `metadata/${role}.json`;
/** The PKI role (hicmod-toolchain/pki) whose key signs a metadata role. */
export const signingRole = (role: MetadataRole) => `repo-${role}` as const;

/** Fields every role's `signed` carries. Times are ISO 8601 UTC strings. */
export interface SignedCommon {
  readonly _type: MetadataRole;
  /** Increments on every publish; a client that remembers it can refuse a replayed repository. */
  readonly version: number;
  readonly signedAt: string;
  readonly expires: string;
}

export interface Signature {
  readonly alg: typeof SIGNATURE_ALG;
  /** Base64 DER certificates, leaf first, root excluded. */
  readonly chain: readonly string[];
  readonly value: string;
}

export interface Envelope<T extends SignedCommon> {
  readonly signed: T;
  readonly signature: Signature;
}

/**
 * JSON with object keys sorted at every level and no whitespace: the bytes a signature covers.
 * Only integers are allowed, so no two encoders can disagree about a number.
 */
export function canonicalJson(value: unknown, what = 'metadata'): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) fail('BAD_REPOSITORY', `${what}: ${value} is not an integer; canonical JSON has integers only`);
    return String(value);
  }
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v, what)).join(',')}]`;
  if (typeof value === 'object') {
    const o = value as Record<string, unknown>;
    return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k], what)}`).join(',')}}`;
  }
  return fail('BAD_REPOSITORY', `${what}: a ${typeof value} has no JSON form`);
}

export function sha384Hex(bytes: Uint8Array): string {
  return createHash('sha384').update(bytes).digest('hex');
}

/** Signs `signed` with a role's identity; the file's bytes are then encodeEnvelope's. */
export function signEnvelope<T extends SignedCommon>(signed: T, id: Identity): Envelope<T> {
  const value = sign('sha384', Buffer.from(canonicalJson(signed)), id.key);
  return {
    signed,
    signature: { alg: SIGNATURE_ALG, chain: id.chain.map((d) => Buffer.from(d).toString('base64')), value: value.toString('base64') },
  };
}

/** Indented for people reading the repository; only `signed`'s canonical form is signed. */
export function encodeEnvelope(env: Envelope<SignedCommon>): Uint8Array {
  return Buffer.from(JSON.stringify(env, null, 2) + '\n');
}

const bad = (file: string, what: string): never => fail('BAD_REPOSITORY', `${file}: ${what}`);

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** An ISO 8601 UTC time exactly as Date#toISOString writes it, as ms since 1970. */
export function isoTime(v: unknown, file: string, field: string): number {
  const ms = typeof v === 'string' ? Date.parse(v) : NaN;
  if (Number.isNaN(ms) || new Date(ms).toISOString() !== v) bad(file, `${field} is not an ISO 8601 UTC time like 2025-01-31T12:00:00.000Z`);
  return ms;
}

function base64(v: unknown, file: string, field: string): Buffer {
  // Buffer.from(…, 'base64') skips what it does not understand; the round trip makes it strict.
  const b = typeof v === 'string' ? Buffer.from(v, 'base64') : undefined;
  if (!b || b.length === 0 || b.toString('base64') !== v) bad(file, `${field} is not base64`);
  return b!;
}

/** The subject's common name, from Node's "O=…\nCN=…" form. */
function commonName(cert: X509Certificate): string {
  return cert.subject.split('\n').find((l) => l.startsWith('CN='))?.slice(3) ?? '';
}

export interface OpenedEnvelope {
  /** Signature and role checked; the body is still unchecked (schema.ts). */
  readonly signed: Record<string, unknown> & SignedCommon;
  readonly signedAt: number;
  readonly expires: number;
  readonly signer: X509Certificate;
}

/** Parses and authenticates one metadata file. `file` names it in every refusal. */
export function openEnvelope(bytes: Uint8Array, role: MetadataRole, trust: TrustStore, file: string): OpenedEnvelope {
  if (bytes.length > MAX_METADATA) bad(file, `is ${bytes.length} bytes; metadata is at most ${MAX_METADATA}`);
  let env: unknown;
  try {
    env = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    return bad(file, `is not JSON (${(e as Error).message})`);
  }
  if (!isRecord(env) || !isRecord(env.signed) || !isRecord(env.signature)) return bad(file, 'is not an object with "signed" and "signature" objects');
  const { signed, signature } = env;
  if (signed._type !== role) bad(file, `_type is ${JSON.stringify(signed._type)}, expected "${role}"`);
  if (!Number.isSafeInteger(signed.version) || (signed.version as number) < 1) bad(file, 'version is not an integer ≥ 1');
  const signedAt = isoTime(signed.signedAt, file, 'signedAt');
  const expires = isoTime(signed.expires, file, 'expires');
  if (signature.alg !== SIGNATURE_ALG) bad(file, `signature.alg is ${JSON.stringify(signature.alg)}, expected "${SIGNATURE_ALG}"`);
  const chain = signature.chain;
  if (!Array.isArray(chain) || chain.length === 0) return bad(file, 'signature.chain is not a non-empty list of certificates');
  const ders = chain.map((c, i) => new Uint8Array(base64(c, file, `signature.chain[${i}]`)));
  const value = base64(signature.value, file, 'signature.value');

  // Chain problems keep checkChain's own codes (UNTRUSTED_ROOT, CERT_EXPIRED, …), naming the file.
  const leaf = checkChain(ders, trust, REPOSITORY_METADATA, signedAt, file);
  const cn = commonName(leaf);
  const want = signingRole(role);
  if (cn !== want && !cn.endsWith(` ${want}`)) bad(file, `is signed by "${cn}", not by the ${want} key`);
  if (leaf.publicKey.asymmetricKeyDetails?.modulusLength !== 3072) bad(file, 'signer key is not RSA-3072');
  if (!verify('sha384', Buffer.from(canonicalJson(signed, file)), leaf.publicKey, value)) bad(file, 'signature does not verify: the file was changed after signing');
  return { signed: signed as OpenedEnvelope['signed'], signedAt, expires, signer: leaf };
}

/** Refuses metadata past its expiry at `now` (ms since 1970, chosen by the caller). */
export function checkFresh(env: OpenedEnvelope, now: number, file: string): void {
  if (now > env.expires) fail('METADATA_EXPIRED', `${file}: expired ${env.signed.expires}; checked at ${new Date(now).toISOString()}`);
}
