// The test PKI: DER encodings against known vectors, and certificates that OpenSSL — a second,
// independent implementation — accepts as a chain with the right purposes.

import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { integer, oid, time } from '../hicmod-toolchain/pki/der.ts';
import { OID } from '../hicmod-toolchain/pki/x509.ts';
import { PkiError, initPki } from '../hicmod-toolchain/pki/pki.ts';
import { initPkiOffThread } from './support/pki.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('DER', () => {
  it('encodes object identifiers, including 128-bit arcs', () => {
    expect(hex(oid('1.2.840.113549.1.1.12'))).toBe('06092a864886f70d01010c'); // sha384WithRSAEncryption
    expect(hex(oid('2.5.29.19'))).toBe('0603551d13');
    // 2.25.x: first byte pair is 40*2+25 = 105 (0x69).
    expect(hex(oid('2.25.1'))).toBe('06026901');
  });

  it('encodes integers minimally, with a sign byte when the top bit is set', () => {
    expect(hex(integer(0))).toBe('020100');
    expect(hex(integer(127))).toBe('02017f');
    expect(hex(integer(128))).toBe('02020080');
    expect(hex(integer(65537))).toBe('0203010001');
  });

  it('uses UTCTime before 2050 and GeneralizedTime from 2050', () => {
    expect(Buffer.from(time(new Date('2026-11-27T12:34:56Z'))).toString('latin1').slice(2)).toBe('261127123456Z');
    expect(Buffer.from(time(new Date('2060-01-01T00:00:00Z'))).toString('latin1').slice(2)).toBe('20600101000000Z');
  });
});

describe('PKI', () => {
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hic-pki-test-'));
    await initPkiOffThread(dir, { organization: 'HIC PKI Test' });
  });
  const cert = (role: string) => join(dir, `${role}.cert.pem`);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { encoding: 'utf8' });

  it('OpenSSL verifies signer → intermediate → root for code signing, and the timestamp authority for timestamping', () => {
    expect(openssl('verify', '-CAfile', cert('root'), '-untrusted', cert('intermediate'), '-purpose', 'any', cert('signer'))).toMatch(/: OK/);
    expect(openssl('verify', '-CAfile', cert('root'), '-purpose', 'timestampsign', cert('timestamp'))).toMatch(/: OK/);
  });

  it('gives each role its purpose: CA flags and extended key usages', () => {
    const c = (role: string) => new X509Certificate(readFileSync(cert(role)));
    expect([c('root').ca, c('intermediate').ca, c('signer').ca]).toEqual([true, true, false]);
    expect(c('signer').keyUsage).toEqual([OID.codeSigning]);
    expect(c('timestamp').keyUsage).toEqual([OID.timeStamping]);
    for (const r of ['repo-targets', 'repo-snapshot', 'repo-timestamp']) expect(c(r).keyUsage).toEqual([OID.repositoryMetadata]);
    expect(c('signer').checkIssued(c('intermediate'))).toBe(true);
    expect(c('signer').verify(c('intermediate').publicKey)).toBe(true);
    expect(c('signer').publicKey.asymmetricKeyDetails?.modulusLength).toBe(3072);
  });

  it('refuses to overwrite an existing PKI', () => {
    expect(() => initPki(dir)).toThrow(PkiError);
  });
});
