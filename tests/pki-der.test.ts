// Every certificate the test PKI makes is DER, not merely BER that parsers forgive: read back by a
// strict DER reader written here (definite minimal lengths, minimal integers, canonical booleans,
// zero padding bits, no DEFAULT value encoded, named bit lists without trailing zero bits) and by
// dumpasn1, an independent checker of the same rules. Node and OpenSSL accept BER-ish encodings, so
// the signature tests alone would never notice.

import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { namedBits } from '../hicmod-toolchain/pki/der.ts';
import { ROLES, initPki, type Role } from '../hicmod-toolchain/pki/pki.ts';
import { OID } from '../hicmod-toolchain/pki/x509.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

interface Node {
  readonly tag: number;
  /** The whole encoding: tag, length and content. */
  readonly raw: Uint8Array;
  readonly content: Uint8Array;
  readonly children: readonly Node[];
}

const CONSTRUCTED = 0x20;
const UNIVERSAL = { BOOLEAN: 0x01, INTEGER: 0x02, BIT_STRING: 0x03, OCTET_STRING: 0x04, NULL: 0x05, OID: 0x06, UTC_TIME: 0x17, GENERALIZED_TIME: 0x18, SET: 0x31 };

/** Reads exactly one DER element filling `bytes`; throws on anything DER forbids. */
function der(bytes: Uint8Array, where = '$'): Node {
  const [node, used] = element(bytes, 0, where);
  if (used !== bytes.length) throw new Error(`${where}: ${bytes.length - used} bytes after the element`);
  return node;
}

function element(b: Uint8Array, at: number, where: string): [Node, number] {
  const fail = (why: string): never => {
    throw new Error(`${where} (offset ${at}): ${why}`);
  };
  if (at + 2 > b.length) fail('truncated header');
  const tag = b[at]!;
  if ((tag & 0x1f) === 0x1f) fail('high tag numbers are not used in a certificate');
  let len = b[at + 1]!;
  let start = at + 2;
  if (len === 0x80) fail('indefinite length');
  if (len > 0x80) {
    const n = len & 0x7f;
    if (n > 4 || start + n > b.length) fail('bad long-form length');
    if (b[start] === 0) fail('length with a leading zero byte');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[start + i]!;
    if (len < 0x80) fail(`long form for length ${len}`);
    start += n;
  }
  const end = start + len;
  if (end > b.length) fail('content runs past its container');
  const content = b.subarray(start, end);
  const children: Node[] = [];
  if (tag & CONSTRUCTED) {
    for (let p = 0; p < content.length; ) {
      const [child, used] = element(content, p, `${where}/${children.length}`);
      children.push(child);
      p += used;
    }
    if (tag === UNIVERSAL.SET) {
      for (let i = 1; i < children.length; i++) if (Buffer.compare(children[i - 1]!.raw, children[i]!.raw) > 0) fail('SET OF not in ascending order');
    }
  } else {
    primitive(tag, content, fail);
  }
  return [{ tag, raw: b.subarray(at, end), content, children }, end - at];
}

function primitive(tag: number, c: Uint8Array, fail: (why: string) => never): void {
  switch (tag) {
    case UNIVERSAL.BOOLEAN:
      if (c.length !== 1 || (c[0] !== 0x00 && c[0] !== 0xff)) fail('BOOLEAN must be one byte, 00 or ff');
      break;
    case UNIVERSAL.INTEGER:
      if (c.length === 0) fail('empty INTEGER');
      if (c.length > 1 && ((c[0] === 0x00 && c[1]! < 0x80) || (c[0] === 0xff && c[1]! >= 0x80))) fail('INTEGER not minimal');
      break;
    case UNIVERSAL.BIT_STRING: {
      if (c.length === 0 || c[0]! > 7) fail('bad unused-bits count');
      if (c.length === 1 && c[0] !== 0) fail('unused bits in an empty BIT STRING');
      if (c.length > 1 && (c[c.length - 1]! & ((1 << c[0]!) - 1)) !== 0) fail('padding bits not zero');
      break;
    }
    case UNIVERSAL.NULL:
      if (c.length !== 0) fail('NULL with content');
      break;
    case UNIVERSAL.OID:
      if (c.length === 0 || c[c.length - 1]! & 0x80) fail('truncated OBJECT IDENTIFIER');
      for (let i = 0; i < c.length; i++) if (c[i] === 0x80 && (i === 0 || !(c[i - 1]! & 0x80))) fail('OBJECT IDENTIFIER arc with a leading 0x80');
      break;
    case UNIVERSAL.UTC_TIME:
      if (!/^\d{12}Z$/.test(Buffer.from(c).toString('latin1'))) fail('UTCTime must be YYMMDDHHMMSSZ');
      break;
    case UNIVERSAL.GENERALIZED_TIME:
      if (!/^\d{14}Z$/.test(Buffer.from(c).toString('latin1'))) fail('GeneralizedTime must be YYYYMMDDHHMMSSZ');
      break;
  }
}

/** The dotted form of an OBJECT IDENTIFIER's content. */
function oidOf(n: Node): string {
  const arcs: bigint[] = [];
  let v = 0n;
  for (const byte of n.content) {
    v = (v << 7n) | BigInt(byte & 0x7f);
    if (!(byte & 0x80)) {
      arcs.push(v);
      v = 0n;
    }
  }
  const first = arcs.shift()!;
  const top = first < 80n ? first / 40n : 2n;
  return [top, first - 40n * top, ...arcs].join('.');
}

interface Extension {
  readonly id: string;
  readonly critical: boolean;
  /** The extension's value, itself checked as DER. */
  readonly value: Node;
}

/** The extensions of a certificate, each checked for DER's rules on Extension (RFC 5280 §4.1). */
function extensions(cert: Node): Extension[] {
  const tbs = cert.children[0]!;
  const wrapper = tbs.children.find((c) => c.tag === 0xa3);
  if (!wrapper) throw new Error('no extensions');
  return wrapper.children[0]!.children.map((e, i) => {
    const [id, ...rest] = e.children;
    // critical is BOOLEAN DEFAULT FALSE: DER leaves FALSE out (X.690 §11.5).
    if (rest.length === 2 && hex(rest[0]!.raw) !== '0101ff') throw new Error(`extension ${i} (${oidOf(id!)}): an encoded critical FALSE, which DER omits`);
    const octets = rest[rest.length - 1]!;
    return { id: oidOf(id!), critical: rest.length === 2, value: der(octets.content, `extension ${oidOf(id!)}`) };
  });
}

/** A named bit list in DER has no trailing zero bits: the last used bit is set (X.690 §11.2.2). */
function checkNamedBits(n: Node): void {
  const c = n.content;
  if (c.length === 1) return;
  if (!((c[c.length - 1]! >> c[0]!) & 1)) throw new Error(`named bit list ${hex(n.raw)} ends in zero bits`);
}

const CA_ROLES: readonly Role[] = ['root', 'intermediate'];

describe('DER named bit lists', () => {
  it('drop trailing zero bits and count them as unused', () => {
    expect(hex(namedBits([]))).toBe('030100');
    expect(hex(namedBits([0]))).toBe('03020780'); // digitalSignature
    expect(hex(namedBits([5, 6]))).toBe('03020106'); // keyCertSign, cRLSign
    expect(hex(namedBits([7]))).toBe('03020001');
    expect(hex(namedBits([8]))).toBe('0303070080'); // decipherOnly: a second byte
    expect(hex(namedBits([0, 8]))).toBe('0303078080');
  });

  it('refuse a negative or fractional bit number', () => {
    expect(() => namedBits([-1])).toThrow(RangeError);
    expect(() => namedBits([1.5])).toThrow(RangeError);
  });
});

describe('the test PKI is strict DER', () => {
  let dir: string;
  const derFile = (role: Role) => join(dir, `${role}.der`);
  const certDer = (role: Role) => new Uint8Array(readFileSync(derFile(role)));

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'hic-pki-der-'));
    initPki(dir, { organization: 'HIC DER Test' });
    for (const role of ROLES) writeFileSync(derFile(role), new X509Certificate(readFileSync(join(dir, `${role}.cert.pem`))).raw);
  });

  it('every certificate reads back under the strict DER reader', () => {
    for (const role of ROLES) {
      const cert = der(certDer(role), role);
      for (const e of extensions(cert)) if (e.id === OID.keyUsage) checkNamedBits(e.value);
    }
  });

  it('KeyUsage is critical and encoded exactly: keyCertSign+cRLSign for CAs, digitalSignature otherwise', () => {
    for (const role of ROLES) {
      const ku = extensions(der(certDer(role), role)).filter((e) => e.id === OID.keyUsage);
      expect(ku, role).toHaveLength(1);
      expect(ku[0]!.critical, role).toBe(true);
      expect(hex(ku[0]!.value.raw), role).toBe(CA_ROLES.includes(role) ? '03020106' : '03020780');
    }
  });

  it('the extended key usages are there, the module signer’s not critical and so without a critical field', () => {
    const eku = (role: Role) => extensions(der(certDer(role), role)).find((e) => e.id === OID.extKeyUsage);
    expect(eku('signer')?.critical).toBe(false);
    expect(eku('timestamp')?.critical).toBe(true);
    expect(eku('repo-targets')?.critical).toBe(true);
  });

  it('dumpasn1, an independent strict checker, finds no encoding error in any certificate', () => {
    for (const role of ROLES) {
      // It exits non-zero on any error it reports, so its verdict is read from what it prints.
      const run = spawnSync('dumpasn1', [derFile(role)], { encoding: 'utf8' });
      if (run.error) throw run.error;
      const out = run.stdout + run.stderr;
      expect(out, role).toMatch(/keyUsage/);
      // dumpasn1 also flags any date past 2038 as unrepresentable in a 32-bit time_t (the root's
      // validity ends later): a limit of the tool, not an encoding error.
      const problems = out.split('\n').filter((l) => /(Error|Warning):/.test(l) && !/32-bit time_t/.test(l));
      expect(problems, `${role}:\n${out}`).toEqual([]);
    }
  });

  it('OpenSSL parses every certificate to its end', () => {
    for (const role of ROLES) {
      const out = execFileSync('openssl', ['asn1parse', '-inform', 'DER', '-in', derFile(role)], { encoding: 'utf8' });
      expect(out, role).toMatch(/X509v3 Key Usage/);
    }
  });
});
