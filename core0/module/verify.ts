// Deciding whether to believe a module: the hash over the signed region, the signer's RSA-3072 /
// SHA-384 signature over it, the signer's chain up to a trusted root, the timestamp authority's
// signature and chain, every certificate's validity at the signed time (never the host clock), and
// anti-replay against what is installed. Only then is the content decoded. The first failure is
// the answer, as a ModuleError with a specific code.

import { X509Certificate, createHash, verify as rsaVerify } from 'node:crypto';
import semver from 'semver';
import { fail } from './errors.ts';
import { decodeContainer, decodeModule, type DecodedModule } from './format.ts';
import { decodeSignatureBlock, timestampMessage } from './signature.ts';

export const CODE_SIGNING = '1.3.6.1.5.5.7.3.3';
export const TIME_STAMPING = '1.3.6.1.5.5.7.3.8';
/** HIC's repository-metadata usage (hicmod-toolchain/pki/x509.ts says where the number comes from). */
export const REPOSITORY_METADATA = '2.25.166482441982619763102172686304689416723';

export interface TrustStore {
  readonly roots: readonly X509Certificate[];
}

export interface Installed {
  readonly version: string;
  /** Signed time of the installed module, ms since 1970 UTC. */
  readonly timestamp: number;
}

export interface VerifyPolicy {
  /** What is installed under a module name now, for anti-replay. */
  readonly installed?: (name: string) => Installed | undefined;
  /** Accept an older version or an older signature (a rollback). The caller audits it. */
  readonly allowDowngrade?: boolean;
  /** Require this signer certificate (SHA-256 fingerprint, as the repository index records it). */
  readonly signer?: string;
}

export interface VerifiedModule extends DecodedModule {
  /** SHA-384 of the signed region, hex. */
  readonly hash: string;
  readonly signer: { readonly subject: string; readonly fingerprint: string };
  readonly timestamp: number;
  /** True when this load is a downgrade the caller allowed. */
  readonly downgrade: boolean;
}

// Parsing a certificate costs ~100 µs and the same few certificates sign every module, so parsed
// certificates are kept by their DER bytes. Only the parse is cached; every check still runs.
const parsed = new Map<string, X509Certificate>();

function certificate(der: Uint8Array, what: string): X509Certificate {
  const key = Buffer.from(der).toString('base64');
  const hit = parsed.get(key);
  if (hit) return hit;
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(der);
  } catch (e) {
    // OpenSSL's parse refusals carry ERR_OSSL_* codes; a TypeError (say, not a buffer) is our bug.
    if (!String((e as { code?: unknown }).code).startsWith('ERR_OSSL_')) throw e;
    return fail('BAD_CERTIFICATE', `${what}: not a valid X.509 certificate (${(e as Error).message})`);
  }
  if (parsed.size >= 256) parsed.clear();
  parsed.set(key, cert);
  return cert;
}

function validAt(cert: X509Certificate, time: number, what: string): void {
  if (time < Date.parse(cert.validFrom)) fail('CERT_NOT_YET_VALID', `${what} (${cert.subject.replace(/\n/g, ', ')}) is valid only from ${cert.validFrom}; signed at ${new Date(time).toISOString()}`);
  if (time > Date.parse(cert.validTo)) fail('CERT_EXPIRED', `${what} (${cert.subject.replace(/\n/g, ', ')}) expired ${cert.validTo}; signed at ${new Date(time).toISOString()}`);
}

/**
 * Walks leaf → issuers → a trusted root: each link issued by and signed with the next, every CA
 * marked CA, the leaf carrying the extended key usage its job needs, all valid at `time`.
 */
export function checkChain(ders: readonly Uint8Array[], trust: TrustStore, usage: string, time: number, what: string): X509Certificate {
  if (ders.length === 0) fail('BAD_CERTIFICATE', `${what}: no certificate`);
  const chain = ders.map((d, i) => certificate(d, `${what} certificate ${i}`));
  const leaf = chain[0]!;
  const purpose = usage === CODE_SIGNING ? 'code signing' : usage === TIME_STAMPING ? 'timestamping' : 'repository metadata';
  if (leaf.ca || !(leaf.keyUsage ?? []).includes(usage)) fail('WRONG_SIGNER', `${what}: ${leaf.subject.replace(/\n/g, ', ')} is not authorised for ${purpose}`);
  for (let i = 0; i < chain.length; i++) {
    validAt(chain[i]!, time, `${what} certificate ${i}`);
    const issuer = chain[i + 1];
    if (issuer) {
      if (!issuer.ca || !chain[i]!.checkIssued(issuer)) fail('BAD_CERTIFICATE', `${what}: certificate ${i} is not issued by certificate ${i + 1}`);
      if (!chain[i]!.verify(issuer.publicKey)) fail('BAD_CERTIFICATE', `${what}: certificate ${i}'s signature does not verify under certificate ${i + 1} (altered?)`);
      continue;
    }
    // A root that names this certificate's issuer but whose key does not verify it means the
    // certificate was altered, not that its root is unknown.
    const named = trust.roots.filter((r) => chain[i]!.checkIssued(r));
    const root = named.find((r) => chain[i]!.verify(r.publicKey));
    if (!root && named.length > 0) fail('BAD_CERTIFICATE', `${what}: certificate ${i}'s signature does not verify under the trusted root ${named[0]!.subject.replace(/\n/g, ', ')} (altered?)`);
    if (!root) fail('UNTRUSTED_ROOT', `${what}: ${chain[i]!.issuer.replace(/\n/g, ', ')} is not a trusted root`);
    validAt(root, time, `${what} root`);
  }
  return leaf;
}

export function moduleHash(file: Uint8Array, signedLength: number): Uint8Array {
  return createHash('sha384').update(file.subarray(0, signedLength)).digest();
}

export function verifyModule(file: Uint8Array, trust: TrustStore, policy: VerifyPolicy = {}): VerifiedModule {
  const { signedLength, signature } = decodeContainer(file);
  const block = decodeSignatureBlock(signature);
  const hash = moduleHash(file, signedLength);
  if (!Buffer.from(hash).equals(block.hash)) fail('HASH_MISMATCH', 'the module hash does not match the signed region: the module was modified after signing');

  const ts = block.timestamp;
  if (!Buffer.from(ts.hash).equals(hash)) fail('BAD_TIMESTAMP', 'the timestamp token is for another module');
  const tsa = checkChain(ts.chain, trust, TIME_STAMPING, ts.time, 'timestamp authority');
  if (!rsaVerify('sha384', timestampMessage(hash, ts.time), tsa.publicKey, ts.signature)) fail('BAD_TIMESTAMP', 'the timestamp signature does not verify');

  const signer = checkChain(block.chain, trust, CODE_SIGNING, ts.time, 'signer');
  if (!rsaVerify('sha384', hash, signer.publicKey, block.signature)) fail('BAD_SIGNATURE', 'the module signature does not verify against the signer certificate');
  if (policy.signer && signer.fingerprint256 !== policy.signer) fail('WRONG_SIGNER', `signed by ${signer.fingerprint256}, the repository expects ${policy.signer}`);

  const decoded = decodeModule(file);
  let downgrade = false;
  const inst = policy.installed?.(decoded.meta.name);
  if (inst) {
    const older = semver.lt(decoded.meta.version, inst.version);
    if (older && !policy.allowDowngrade) fail('DOWNGRADE', `${decoded.meta.name} ${decoded.meta.version} is older than the installed ${inst.version}; a downgrade must be asked for explicitly`);
    if (!older && ts.time < inst.timestamp && !policy.allowDowngrade) fail('REPLAYED', `${decoded.meta.name} ${decoded.meta.version} was signed ${new Date(ts.time).toISOString()}, before the installed module (${new Date(inst.timestamp).toISOString()}): a replay`);
    downgrade = older || ts.time < inst.timestamp;
  }
  return {
    ...decoded,
    hash: Buffer.from(hash).toString('hex'),
    signer: { subject: signer.subject.replace(/\n/g, ', '), fingerprint: signer.fingerprint256 },
    timestamp: ts.time,
    downgrade,
  };
}
