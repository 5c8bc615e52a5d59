// X.509 v3 certificates for the module-signing PKI (RFC 5280), built with der.ts and signed with
// RSA PKCS#1 v1.5 over SHA-384. Node's crypto verifies them; it cannot create them, hence this file.

import { sign, type KeyObject } from 'node:crypto';
import { bitString, boolean, explicit, integer, namedBits, nul, octetString, oid, sequence, set, time, utf8String } from './der.ts';

const OID = {
  sha384WithRSA: '1.2.840.113549.1.1.12',
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  /**
   * Extended key usage of the repository's metadata roles: HIC's own purpose, so a repository key
   * can never pass as a module signer. An OID under the UUID arc 2.25 (ITU-T X.667), which needs
   * no registration; the UUID is 7d3f5a1e-2c4b-4e8a-9f61-0b8d2c4e6a13.
   */
  repositoryMetadata: '2.25.166482441982619763102172686304689416723',
};

export type CertificateRole = 'root' | 'intermediate' | 'signer' | 'timestamp' | 'repository';

export interface CertificateSpec {
  readonly subject: string;
  readonly issuer: string;
  readonly organization: string;
  readonly serial: bigint;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly role: CertificateRole;
  readonly publicKey: KeyObject;
  readonly issuerKey: KeyObject;
}

const name = (cn: string, org: string) =>
  sequence(set(sequence(oid(OID.organization), utf8String(org))), set(sequence(oid(OID.commonName), utf8String(cn))));

// `critical` is BOOLEAN DEFAULT FALSE, and DER leaves a default value out (X.690 §11.5).
const extension = (id: string, critical: boolean, value: Uint8Array) =>
  critical ? sequence(oid(id), boolean(true), octetString(value)) : sequence(oid(id), octetString(value));

// KeyUsage bit numbers (RFC 5280 §4.2.1.3); der.namedBits turns them into the DER bit string.
const DIGITAL_SIGNATURE = 0;
const KEY_CERT_SIGN = 5;
const CRL_SIGN = 6;

function extensions(role: CertificateRole): Uint8Array {
  const ca = role === 'root' || role === 'intermediate';
  const list = [
    extension(OID.basicConstraints, true, ca ? sequence(boolean(true), integer(role === 'root' ? 1 : 0)) : sequence()),
    extension(OID.keyUsage, true, namedBits(ca ? [KEY_CERT_SIGN, CRL_SIGN] : [DIGITAL_SIGNATURE])),
  ];
  if (role === 'signer') list.push(extension(OID.extKeyUsage, false, sequence(oid(OID.codeSigning))));
  if (role === 'timestamp') list.push(extension(OID.extKeyUsage, true, sequence(oid(OID.timeStamping))));
  if (role === 'repository') list.push(extension(OID.extKeyUsage, true, sequence(oid(OID.repositoryMetadata))));
  return explicit(3, sequence(...list));
}

/** The DER bytes of a signed certificate. */
export function makeCertificate(s: CertificateSpec): Uint8Array {
  const algorithm = sequence(oid(OID.sha384WithRSA), nul());
  const spki = s.publicKey.export({ type: 'spki', format: 'der' });
  const tbs = sequence(
    explicit(0, integer(2)), // v3
    integer(s.serial),
    algorithm,
    name(s.issuer, s.organization),
    sequence(time(s.notBefore), time(s.notAfter)),
    name(s.subject, s.organization),
    spki,
    extensions(s.role),
  );
  const signature = sign('sha384', tbs, s.issuerKey);
  return sequence(tbs, algorithm, bitString(signature));
}

export { OID };
