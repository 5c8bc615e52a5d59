// A test PKI for module signing, kept in a directory the user names: a root, an intermediate CA
// under it, and under the intermediate the module signer and the repository's metadata roles;
// a timestamp authority directly under the root. RSA-3072 keys, SHA-384 signatures.
//
//   root ─┬─ intermediate ─┬─ signer            (signs modules: codeSigning)
//         │                ├─ repo-targets      (signs the repository's targets index: HIC repository-metadata usage)
//         │                ├─ repo-snapshot     (signs the snapshot of the index)
//         │                └─ repo-timestamp    (signs the freshness statement)
//         └─ timestamp                          (signs module timestamps: timeStamping)
//
// The private keys are test keys: they protect nothing outside the tests and the demo.

import { X509Certificate, createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeCertificate, type CertificateRole } from './x509.ts';

export const ROLES = ['root', 'intermediate', 'signer', 'timestamp', 'repo-targets', 'repo-snapshot', 'repo-timestamp'] as const;
export type Role = (typeof ROLES)[number];

const ISSUER: Record<Role, Role> = {
  root: 'root',
  intermediate: 'root',
  signer: 'intermediate',
  timestamp: 'root',
  'repo-targets': 'intermediate',
  'repo-snapshot': 'intermediate',
  'repo-timestamp': 'intermediate',
};
const CERT_ROLE: Record<Role, CertificateRole> = {
  root: 'root',
  intermediate: 'intermediate',
  signer: 'signer',
  timestamp: 'timestamp',
  'repo-targets': 'repository',
  'repo-snapshot': 'repository',
  'repo-timestamp': 'repository',
};
const YEARS: Record<Role, number> = { root: 20, intermediate: 10, signer: 3, timestamp: 10, 'repo-targets': 3, 'repo-snapshot': 3, 'repo-timestamp': 3 };

export class PkiError extends Error {
  constructor(readonly code: 'PKI_EXISTS' | 'PKI_MISSING' | 'PKI_BAD', message: string) {
    super(message);
  }
}

export interface Identity {
  readonly role: Role;
  readonly key: KeyObject;
  readonly cert: X509Certificate;
  /** DER of this certificate and its issuers up to, not including, the root. */
  readonly chain: readonly Uint8Array[];
}

export interface InitOptions {
  readonly organization?: string;
  /** Validity starts here (default: now, less a day for clock skew). */
  readonly notBefore?: Date;
  /** Override lifetimes, e.g. to make an already expired signer for tests. */
  readonly notAfter?: Partial<Record<Role, Date>>;
  /** Replace a PKI already in the directory. */
  readonly overwrite?: boolean;
}

const keyFile = (dir: string, r: Role) => join(dir, `${r}.key.pem`);
const certFile = (dir: string, r: Role) => join(dir, `${r}.cert.pem`);

function pem(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

/** Creates every role's key and certificate in `dir`. Refuses to overwrite an existing PKI. */
export function initPki(dir: string, opts: InitOptions = {}): void {
  if (!opts.overwrite && existsSync(certFile(dir, 'root'))) throw new PkiError('PKI_EXISTS', `${dir} already holds a PKI (root.cert.pem)`);
  mkdirSync(dir, { recursive: true });
  const org = opts.organization ?? 'HIC Test PKI';
  const notBefore = opts.notBefore ?? new Date(Date.now() - 86_400_000);
  const keys = new Map<Role, { publicKey: KeyObject; privateKey: KeyObject }>();
  let serial = 1n;
  for (const role of ROLES) {
    const pair = generateKeyPairSync('rsa', { modulusLength: 3072 });
    keys.set(role, pair);
    const issuer = ISSUER[role];
    const notAfter = opts.notAfter?.[role] ?? new Date(notBefore.getTime() + YEARS[role] * 365.25 * 86_400_000);
    const der = makeCertificate({
      subject: `${org} ${role}`,
      issuer: `${org} ${issuer}`,
      organization: org,
      serial: serial++,
      notBefore,
      notAfter,
      role: CERT_ROLE[role],
      publicKey: pair.publicKey,
      issuerKey: keys.get(issuer)!.privateKey,
    });
    writeFileSync(keyFile(dir, role), pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
    writeFileSync(certFile(dir, role), pem(der));
  }
}

function readCert(dir: string, role: Role): X509Certificate {
  const f = certFile(dir, role);
  if (!existsSync(f)) throw new PkiError('PKI_MISSING', `${dir} has no ${role} certificate (${f}); create one with: hicmod pki init ${dir}`);
  try {
    return new X509Certificate(readFileSync(f));
  } catch (e) {
    throw new PkiError('PKI_BAD', `${f}: ${(e as Error).message}`);
  }
}

/** The root certificate: what a verifier trusts. */
export function rootCertificate(dir: string): X509Certificate {
  return readCert(dir, 'root');
}

/** A role's key and its chain (leaf first, root excluded). */
export function identity(dir: string, role: Exclude<Role, 'root'>): Identity {
  const cert = readCert(dir, role);
  const chain: Uint8Array[] = [cert.raw];
  for (let r: Role = ISSUER[role]; r !== 'root'; r = ISSUER[r]) chain.push(readCert(dir, r).raw);
  const kf = keyFile(dir, role);
  if (!existsSync(kf)) throw new PkiError('PKI_MISSING', `${dir} has no ${role} key (${kf})`);
  return { role, key: createPrivateKey(readFileSync(kf)), cert, chain };
}

export { pem as certificatePem };
