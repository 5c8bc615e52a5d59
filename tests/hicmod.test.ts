// .hicmod end to end: the format round-trips and builds reproducibly; signatures, chains,
// timestamps and anti-replay are enforced; every malformed or tampered module is refused with
// its specific code; and a refused module leaves nothing behind in the kernel.

import { beforeAll, describe, expect, it } from 'vitest';
import { decodeModule, type ModuleContent } from '../core0/module/format.ts';
import { decodeSignatureBlock } from '../core0/module/signature.ts';
import { ModuleError } from '../core0/module/errors.ts';
import { verifyModule } from '../core0/module/verify.ts';
import { encodeModule } from '../hicmod-toolchain/hicmod/encode.ts';
import { buildModule } from '../hicmod-toolchain/hicmod/module-build.ts';
import { rawServiceModule } from '../hicmod-toolchain/hicmod/raw.ts';
import { signModule } from '../hicmod-toolchain/hicmod/sign.ts';
import { identity } from '../hicmod-toolchain/pki/pki.ts';
import { assemble } from '../hicmod-toolchain/asm.ts';
import { makePki, type TestPki } from './support/pki.ts';
import { REPO } from './support/boot.ts';
import { refusal } from './support/refusal.ts';

let pki: TestPki;
let other: TestPki;
let small: ModuleContent;
const NOW = Date.parse('2026-11-27T12:00:00Z');

beforeAll(() => {
  pki = makePki('HIC Test', { notBefore: new Date('2026-01-01T00:00:00Z') });
  other = makePki('Impostor', { notBefore: new Date('2026-01-01T00:00:00Z') });
  small = rawServiceModule({ name: 'tiny', version: '1.0.0', uuid: '11111111-2222-4333-8444-555555555555' }, assemble('mov eax, 4\nxor edi, edi\nsyscall'));
});

const sign = (c: ModuleContent, time = NOW, keys = pki.keys) => signModule(c, keys, time);
const verify = (file: Uint8Array, policy = {}) => verifyModule(file, pki.trust, policy);

describe('format', () => {
  it('round-trips: decode(encode(content)) is the content', () => {
    const hello = buildModule(REPO, 'hello').content;
    const d = decodeModule(encodeModule(hello));
    expect({ meta: d.meta, segments: d.segments, relocations: d.relocations, imports: d.imports, exports: d.exports }).toEqual({
      meta: hello.meta, segments: hello.segments, relocations: hello.relocations, imports: hello.imports, exports: hello.exports,
    });
    expect(Buffer.from(d.image).equals(Buffer.from(hello.image))).toBe(true);
  });

  it('builds reproducibly: the same sources give the same bytes', () => {
    const a = buildModule(REPO, 'rogue').unsigned;
    const b = buildModule(REPO, 'rogue', `${REPO}/build/test-rebuild`).unsigned;
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
  });

  it.each([
    ['truncated below the header', (f: Uint8Array) => f.subarray(0, 40), 'TRUNCATED'],
    ['truncated by one byte', (f: Uint8Array) => f.subarray(0, f.length - 1), 'TRUNCATED'],
    ['wrong magic', (f: Uint8Array) => patch(f, 0, [0x7f]), 'BAD_MAGIC'],
    ['unknown format version', (f: Uint8Array) => patch(f, 8, [2, 0]), 'UNSUPPORTED_VERSION'],
    ['non-zero reserved header bytes', (f: Uint8Array) => patch(f, 40, [1]), 'BAD_HEADER'],
    ['absurd size', (f: Uint8Array) => new Uint8Array(65 << 20).fill(0, 0).map((_, i) => f[i] ?? 0), 'TOO_LARGE'],
  ])('%s', (_what, mutate, code) => {
    expect(refusal(() => verify(mutate(sign(small)))).code).toBe(code);
  });

  it('every prefix of a module is refused as truncated, never with another exception', () => {
    const f = sign(small);
    for (let n = 0; n < f.length; n += 7) expect(refusal(() => verify(f.subarray(0, n))).code).toMatch(/^(TRUNCATED|BAD_HEADER)$/);
  });
});

function patch(f: Uint8Array, at: number, bytes: number[]): Uint8Array {
  const c = new Uint8Array(f);
  c.set(bytes, at);
  return c;
}

describe('signature', () => {
  it('a module signed by the PKI verifies, with signer and time', () => {
    const v = verify(sign(small));
    expect(v.meta.name).toBe('tiny');
    expect(v.timestamp).toBe(NOW);
    expect(v.signer.subject).toMatch(/HIC Test signer/);
  });

  it('no single flipped bit anywhere in a module lets it load', () => {
    const f = sign(small);
    const codes = new Set<string>();
    for (let i = 0; i < f.length; i++) {
      const g = new Uint8Array(f);
      g[i]! ^= 0x01;
      codes.add(refusal(() => verify(g)).code);
    }
    expect([...codes].sort()).toEqual(expect.arrayContaining(['BAD_MAGIC', 'BAD_SIGNATURE', 'BAD_SIGNATURE_BLOCK', 'BAD_TIMESTAMP', 'HASH_MISMATCH']));
  });

  it('an unsigned module is refused', () => {
    expect(refusal(() => verify(encodeModule(small))).code).toBe('UNSIGNED');
  });

  it('a chain to another root is untrusted', () => {
    expect(refusal(() => verify(sign(small, NOW, other.keys))).code).toBe('UNTRUSTED_ROOT');
  });

  it('a certificate not made for code signing is the wrong signer', () => {
    const keys = { signer: identity(pki.dir, 'timestamp'), timestamp: pki.keys.timestamp };
    expect(refusal(() => verify(sign(small, NOW, keys))).code).toBe('WRONG_SIGNER');
  });

  it('a repository metadata key cannot sign modules: its usage is not code signing', () => {
    const keys = { signer: identity(pki.dir, 'repo-targets'), timestamp: pki.keys.timestamp };
    expect(refusal(() => verify(sign(small, NOW, keys))).code).toBe('WRONG_SIGNER');
  });

  it('a signer other than the one the repository records is the wrong signer', () => {
    expect(refusal(() => verify(sign(small), { signer: 'AA:BB' })).code).toBe('WRONG_SIGNER');
  });

  it('a signature made after the signer certificate expired, or before it was valid, is refused', () => {
    expect(refusal(() => verify(sign(small, Date.parse('2099-01-01T00:00:00Z')))).code).toBe('CERT_EXPIRED');
    expect(refusal(() => verify(sign(small, Date.parse('2025-06-01T00:00:00Z')))).code).toBe('CERT_NOT_YET_VALID');
  });

  it('an altered certificate in either chain is a bad certificate, not an unknown root', () => {
    const f = sign(small);
    const block = decodeSignatureBlock(decodeModule(f).signature);
    for (const chain of [block.chain, block.timestamp.chain]) {
      for (const der of chain) {
        const at = Buffer.from(f).indexOf(Buffer.from(der));
        expect(at).toBeGreaterThan(0);
        // The last byte is the issuer's signature over the certificate: it still parses, it no longer verifies.
        const g = patch(f, at + der.length - 1, [f[at + der.length - 1]! ^ 0x01]);
        const e = refusal(() => verify(g));
        expect(e.code).toBe('BAD_CERTIFICATE');
        expect(e.message).toMatch(/signature does not verify under .*\(altered\?\)/);
      }
    }
  });

  it('a timestamp from a foreign authority is refused', () => {
    const keys = { signer: pki.keys.signer, timestamp: other.keys.timestamp };
    expect(refusal(() => verify(sign(small, NOW, keys))).code).toBe('UNTRUSTED_ROOT');
  });
});

describe('anti-replay', () => {
  const installed = (version: string, timestamp: number) => () => ({ version, timestamp });

  it('refuses the same version signed before the installed one: a replay', () => {
    expect(refusal(() => verify(sign(small, NOW - 1000), { installed: installed('1.0.0', NOW) })).code).toBe('REPLAYED');
  });

  it('refuses an older version unless a downgrade is asked for, and says it was one', () => {
    const old = sign(small, NOW + 1000);
    expect(refusal(() => verify(old, { installed: installed('1.1.0', NOW) })).code).toBe('DOWNGRADE');
    expect(verify(old, { installed: installed('1.1.0', NOW), allowDowngrade: true }).downgrade).toBe(true);
  });

  it('accepts a newer version, or the same one re-signed later', () => {
    expect(verify(sign(small, NOW + 1), { installed: installed('1.0.0', NOW) }).downgrade).toBe(false);
    expect(verify(sign(small, NOW + 1), { installed: installed('0.9.0', NOW) }).downgrade).toBe(false);
  });

  it('refuses a newer version whose signature is older than the installed one\'s, unless asked', () => {
    expect(refusal(() => verify(sign(small, NOW), { installed: installed('0.9.0', NOW + 5000) })).code).toBe('REPLAYED');
    expect(verify(sign(small, NOW), { installed: installed('0.9.0', NOW + 5000), allowDowngrade: true }).downgrade).toBe(true);
  });
});

describe('content checks, behind a valid signature', () => {
  const signedWith = (f: (c: ModuleContent) => ModuleContent) => sign(f(structuredClone(small)));

  it.each([
    ['a relocation site outside the image', (c: ModuleContent) => ({ ...c, relocations: [{ kind: 'image' as const, site: 1 << 20, addend: 0 }] }), 'RELOCATION_OUT_OF_IMAGE'],
    ['a relocation target outside the image', (c: ModuleContent) => ({ ...c, relocations: [{ kind: 'image' as const, site: 0, addend: 1 << 24 }] }), 'RELOCATION_OUT_OF_IMAGE'],
    ['a relocation to an import that does not exist', (c: ModuleContent) => ({ ...c, relocations: [{ kind: 'import' as const, site: 0, index: 3, addend: 0 }] }), 'BAD_RELOCATION'],
    ['overlapping segments', (c: ModuleContent) => ({ ...c, segments: [c.segments[0]!, { ...c.segments[1]!, offset: 0 }] }), 'BAD_SEGMENTS'],
    ['a writable code segment', (c: ModuleContent) => ({ ...c, segments: [{ ...c.segments[0]!, writable: true }, c.segments[1]!] }), 'BAD_SEGMENTS'],
    ['an absurd segment size', (c: ModuleContent) => ({ ...c, segments: [c.segments[0]!, { ...c.segments[1]!, memSize: 1 << 30 }] }), 'TOO_LARGE'],
    ['file bytes beyond the image section', (c: ModuleContent) => ({ ...c, segments: [{ ...c.segments[0]!, fileSize: 4096 }, c.segments[1]!] }), 'BAD_SEGMENTS'],
    ['an import from a module that is not a dependency', (c: ModuleContent) => ({ ...c, imports: [{ module: 'ipc_lib', symbol: 'ipc_version' }] }), 'BAD_IMPORT'],
    ['an export outside its segment', (c: ModuleContent) => ({ ...c, exports: [{ ...c.exports[0]!, offset: 1 << 20 }] }), 'BAD_EXPORT'],
    ['a malformed version', (c: ModuleContent) => ({ ...c, meta: { ...c.meta, version: '1.0' } }), 'BAD_METADATA'],
  ])('%s', (_what, mutate, code) => {
    expect(refusal(() => verify(signedWith(mutate))).code).toBe(code);
  });
});
