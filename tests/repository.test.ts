// The trusted module repository (hicmod-toolchain/repository): publish, open, query and fetch once
// to succeed, then every way a repository can be tampered with, each refused with its exact code.
// Modules are synthetic: the template service and ipc_lib library, renamed and re-versioned, signed
// by one test PKI made for this file. All times are fixed; the host clock decides nothing.

import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerRepoCommands } from '../cli/repo.ts';
import type { ModuleSource } from '../system/boot.ts';
import { ModuleError, type ModuleErrorCode } from '../core0/module/errors.ts';
import type { Dependency, ModuleContent, ModuleKind } from '../core0/module/format.ts';
import { verifyModule, type TrustStore } from '../core0/module/verify.ts';
import { buildModule } from '../hicmod-toolchain/hicmod/module-build.ts';
import { signModule } from '../hicmod-toolchain/hicmod/sign.ts';
import { identity, rootCertificate } from '../hicmod-toolchain/pki/pki.ts';
import { Repository, canonicalJson, initRepository, planInstall, publish } from '../hicmod-toolchain/repository/index.ts';
import { encodeEnvelope, sha384Hex, signEnvelope, type MetadataRole, type SignedCommon } from '../hicmod-toolchain/repository/metadata.ts';
import { refusal } from './support/refusal.ts';
import { initPkiOffThread } from './support/pki.ts';

const REPO = join(import.meta.dirname, '..');
const DAY = 86_400_000;
const T0 = Date.parse('2025-06-01T00:00:00.000Z');
const scratch = mkdtempSync(join(tmpdir(), 'hic-repository-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const pki = join(scratch, 'pki');

let trust: TrustStore;
let service: ModuleContent;
let library: ModuleContent;
const UUID: Record<string, string> = {
  eth_driver: '11111111-1111-4111-8111-111111111111',
  netstack: '22222222-2222-4222-8222-222222222222',
  ipc_lib: '33333333-3333-4333-8333-333333333333',
};

interface ModOptions {
  readonly kind?: ModuleKind;
  readonly signer?: 'signer' | 'repo-targets';
  readonly uuid?: string;
}

/** A signed synthetic module: the template service (or ipc_lib library) under another name. */
function mod(name: string, version: string, deps: Record<string, string> = {}, opts: ModOptions = {}): Uint8Array {
  const kind = opts.kind ?? 'service';
  const base = kind === 'library' ? library : service;
  const dependencies: Dependency[] = Object.entries(deps).map(([n, range]) => ({ name: n, range }));
  const meta = { ...base.meta, name, version, kind, uuid: opts.uuid ?? UUID[name]!, dependencies };
  return signModule({ ...base, meta }, { signer: identity(pki, opts.signer ?? 'signer'), timestamp: identity(pki, 'timestamp') }, T0);
}

const seed = () => ({
  eth110: mod('eth_driver', '1.1.0'),
  eth120: mod('eth_driver', '1.2.0'),
  ipc: mod('ipc_lib', '2.0.0', {}, { kind: 'library' }),
  net120: mod('netstack', '1.2.0', { eth_driver: '>= 1.1.0', ipc_lib: '= 2.0.0' }),
  net130: mod('netstack', '1.3.0', { eth_driver: '>= 1.2.0', ipc_lib: '= 2.0.0' }),
});
let m: ReturnType<typeof seed>;

let n = 0;
/** A fresh repository holding the seed modules, published in two rounds. */
function seeded(): string {
  const dir = join(scratch, `repo-${n++}`);
  initRepository(dir, pki, T0);
  publish(dir, pki, [m.eth110, m.ipc, m.net120], T0 + 1000);
  publish(dir, pki, [m.eth120, m.net130], T0 + 2000);
  return dir;
}

let golden: string;
/** A copy of the golden repository to tamper with. */
function copy(): string {
  const dir = join(scratch, `copy-${n++}`);
  cpSync(golden, dir, { recursive: true });
  return dir;
}

const metaFile = (dir: string, role: MetadataRole) => join(dir, 'metadata', `${role}.json`);
const readJson = (dir: string, role: MetadataRole) => JSON.parse(readFileSync(metaFile(dir, role), 'utf8'));
const writeJson = (dir: string, role: MetadataRole, v: unknown) => writeFileSync(metaFile(dir, role), JSON.stringify(v, null, 2) + '\n');

/** Re-signs one role's `signed` with any key, then re-pins the files above it correctly. */
function resign(dir: string, role: MetadataRole, signed: SignedCommon, key: 'repo-targets' | 'repo-snapshot' | 'repo-timestamp'): void {
  const bytes = encodeEnvelope(signEnvelope(signed, identity(pki, key)));
  writeFileSync(metaFile(dir, role), bytes);
  const above: Record<MetadataRole, [MetadataRole, string] | undefined> = { targets: ['snapshot', 'targets'], snapshot: ['timestamp', 'snapshot'], timestamp: undefined };
  const next = above[role];
  if (!next) return;
  const [upper, field] = next;
  const s = readJson(dir, upper).signed;
  s[field] = { version: signed.version, length: bytes.length, sha384: sha384Hex(bytes) };
  resign(dir, upper, s, `repo-${upper}`);
}

beforeAll(async () => {
  await initPkiOffThread(pki, { notBefore: new Date('2025-01-01T00:00:00Z') });
  trust = { roots: [rootCertificate(pki)] };
  service = buildModule(REPO, 'template').content;
  library = buildModule(REPO, 'ipc_lib').content;
  m = seed();
  golden = seeded();
});

describe('publish and open', () => {
  it('an initialised repository is empty and signed at version 1', () => {
    const dir = join(scratch, 'empty');
    const state = initRepository(dir, pki, T0);
    expect(state).toMatchObject({ targets: 1, snapshot: 1, timestamp: 1, signedAt: '2025-06-01T00:00:00.000Z' });
    const r = Repository.open(dir, trust);
    expect(r.names()).toEqual([]);
    expect(refusal(() => initRepository(dir, pki, T0)).code).toBe('BAD_REPOSITORY');
  });

  it('indexes every module with its length, hash, signer, uuid, kind and dependencies', () => {
    const r = Repository.open(golden, trust);
    expect(r.state).toMatchObject({ targets: 3, snapshot: 3, timestamp: 3 });
    expect(r.names()).toEqual(['eth_driver', 'ipc_lib', 'netstack']);
    expect(r.versions('eth_driver')).toEqual(['1.1.0', '1.2.0']);
    expect(r.versions('nope')).toEqual([]);
    expect(r.latest('eth_driver', '>= 1.1.0')).toBe('1.2.0');
    expect(r.latest('eth_driver', '< 1.2.0')).toBe('1.1.0');
    expect(r.latest('eth_driver', '>= 2.0.0')).toBeUndefined();
    expect(r.metadata('netstack', '1.3.0')).toEqual({
      length: m.net130.length,
      sha384: sha384Hex(m.net130),
      signer: identity(pki, 'signer').cert.fingerprint256,
      uuid: UUID.netstack,
      kind: 'service',
      dependencies: [{ name: 'eth_driver', range: '>= 1.2.0' }, { name: 'ipc_lib', range: '= 2.0.0' }],
    });
    expect(r.metadata('ipc_lib', '2.0.0')?.kind).toBe('library');
  });

  it('fetch hands out the newest satisfying module with the signer the kernel must insist on', () => {
    const source: ModuleSource = Repository.open(golden, trust);
    const f = source.fetch('netstack', '>= 1.2.0')!;
    expect(Buffer.from(f.bytes).equals(Buffer.from(m.net130))).toBe(true);
    expect(f.label).toBe(join(golden, 'targets', 'netstack-1.3.0.hicmod'));
    expect(verifyModule(f.bytes, trust, { signer: f.signer }).meta.version).toBe('1.3.0');
    expect(source.fetch('netstack', '< 1.0.0')).toBeUndefined();
    expect(source.fetch('nope', '*')).toBeUndefined();
    expect(source.describe('eth_driver')).toMatch(/eth_driver 1\.1\.0, 1\.2\.0/);
    expect(source.describe('nope')).toMatch(/no module nope/);
  });

  it('plans the seed upgrade from the published index', () => {
    const installed = new Map([['eth_driver', '1.1.0'], ['ipc_lib', '2.0.0'], ['netstack', '1.2.0']]);
    expect(planInstall(Repository.open(golden, trust), { name: 'netstack', version: '1.3.0' }, installed)).toEqual([
      { action: 'keep', name: 'ipc_lib', to: '2.0.0' },
      { action: 'upgrade', name: 'eth_driver', from: '1.1.0', to: '1.2.0' },
      { action: 'upgrade', name: 'netstack', from: '1.2.0', to: '1.3.0' },
    ]);
  });

  it('publishing the same bytes again changes nothing', () => {
    const dir = copy();
    const before = readFileSync(metaFile(dir, 'timestamp'));
    const r = publish(dir, pki, [m.eth110, m.eth110], T0 + 5000);
    expect(r.published).toEqual([]);
    expect(r.unchanged).toEqual([{ name: 'eth_driver', version: '1.1.0' }]);
    expect(readFileSync(metaFile(dir, 'timestamp')).equals(before)).toBe(true);
  });

  it('a refused publish writes nothing, even for the good modules beside the bad one', () => {
    const cases: [Uint8Array[], ModuleErrorCode, RegExp][] = [
      [[mod('eth_driver', '1.3.0'), buildModule(REPO, 'template').unsigned], 'UNSIGNED', /^module 2: /],
      [[mod('eth_driver', '1.3.0'), mod('eth_driver', '1.1.0', { ipc_lib: '*' })], 'VERSION_EXISTS', /eth_driver 1\.1\.0 is already published/],
      [[mod('eth_driver', '1.4.0', {}, { signer: 'repo-targets' })], 'WRONG_SIGNER', /not authorised for code signing/],
      [[mod('eth_driver', '1.3.0'), mod('eth_driver', '1.3.0', { ipc_lib: '*' })], 'VERSION_EXISTS', /module 2: eth_driver 1\.3\.0/],
      [[mod('eth_driver', '1.3.0', {}, { uuid: '44444444-4444-4444-8444-444444444444' })], 'BAD_METADATA', /has uuid 4444.*; the published eth_driver has 1111/],
    ];
    for (const [files, code, message] of cases) {
      const dir = copy();
      const before = ['targets', 'snapshot', 'timestamp'].map((r) => readFileSync(metaFile(dir, r as MetadataRole)));
      const e = refusal(() => publish(dir, pki, files, T0 + 5000));
      expect(e.code).toBe(code);
      expect(e.message).toMatch(message);
      expect(['targets', 'snapshot', 'timestamp'].map((r) => readFileSync(metaFile(dir, r as MetadataRole)))).toEqual(before);
      expect(Repository.open(dir, trust).versions('eth_driver')).toEqual(['1.1.0', '1.2.0']);
    }
  });

  it('refuses to sign metadata at a time its keys are not valid, and writes nothing', () => {
    const dir = copy();
    const e = refusal(() => publish(dir, pki, [mod('eth_driver', '1.3.0')], Date.parse('2024-06-01T00:00:00Z')));
    expect(e.code).toBe('CERT_NOT_YET_VALID');
    expect(Repository.open(dir, trust).state.targets).toBe(3);
  });
});

describe('tampering', () => {
  const open = (dir: string, opts = {}) => refusal(() => Repository.open(dir, trust, opts));

  it('an edited version number in targets.json no longer matches the hash snapshot.json pins', () => {
    const dir = copy();
    const t = readJson(dir, 'targets');
    t.signed.version = 4;
    writeJson(dir, 'targets', t);
    expect(open(dir)).toMatchObject({ code: 'BAD_REPOSITORY', message: expect.stringMatching(/targets\.json is not the file .*snapshot\.json pins/) });
  });

  it('an edited version number in timestamp.json breaks its signature', () => {
    const dir = copy();
    const t = readJson(dir, 'timestamp');
    t.signed.version = 99;
    writeJson(dir, 'timestamp', t);
    expect(open(dir)).toMatchObject({ code: 'BAD_REPOSITORY', message: expect.stringMatching(/timestamp\.json: signature does not verify/) });
  });

  it("a signature swapped in from another role's file is refused by role", () => {
    const dir = copy();
    const t = readJson(dir, 'timestamp');
    t.signature = readJson(dir, 'snapshot').signature;
    writeJson(dir, 'timestamp', t);
    expect(open(dir)).toMatchObject({ code: 'BAD_REPOSITORY', message: expect.stringMatching(/timestamp\.json: is signed by ".* repo-snapshot", not by the repo-timestamp key/) });
  });

  it('targets signed with the snapshot key is refused even when everything above pins it', () => {
    const dir = copy();
    const t = readJson(dir, 'targets').signed;
    resign(dir, 'targets', t, 'repo-snapshot');
    expect(open(dir)).toMatchObject({ code: 'BAD_REPOSITORY', message: expect.stringMatching(/targets\.json: is signed by ".* repo-snapshot", not by the repo-targets key/) });
    // The same edit with the right key passes: the refusal above is the role check alone.
    resign(dir, 'targets', t, 'repo-targets');
    expect(Repository.open(dir, trust).state.targets).toBe(3);
  });

  it('a missing metadata file names the file', () => {
    for (const role of ['targets', 'snapshot', 'timestamp'] as const) {
      const dir = copy();
      unlinkSync(metaFile(dir, role));
      expect(open(dir)).toMatchObject({ code: 'BAD_REPOSITORY', message: expect.stringContaining(`${role}.json is missing`) });
    }
  });

  it('malformed JSON and a malformed field name the file and the field', () => {
    const dir = copy();
    writeFileSync(metaFile(dir, 'timestamp'), '{"signed": ');
    expect(open(dir)).toMatchObject({ code: 'BAD_REPOSITORY', message: expect.stringMatching(/timestamp\.json: is not JSON/) });
    const dir2 = copy();
    const t = readJson(dir2, 'targets').signed;
    t.modules.netstack['1.3.0'].sha384 = 'not a hash';
    resign(dir2, 'targets', t, 'repo-targets');
    expect(open(dir2)).toMatchObject({ code: 'BAD_REPOSITORY', message: expect.stringMatching(/targets\.json: modules\.netstack\["1\.3\.0"\]\.sha384 is not a SHA-384/) });
  });

  it('a changed module file is refused when fetched, by hash and by length', () => {
    const dir = copy();
    const file = join(dir, 'targets', 'netstack-1.3.0.hicmod');
    const bytes = readFileSync(file);
    bytes[bytes.length - 1]! ^= 1;
    writeFileSync(file, bytes);
    const r = Repository.open(dir, trust);
    expect(refusal(() => r.fetch('netstack', '1.3.0'))).toMatchObject({ code: 'HASH_MISMATCH', message: expect.stringMatching(/SHA-384/) });
    writeFileSync(file, Buffer.concat([bytes, Buffer.of(0)]));
    expect(refusal(() => r.fetch('netstack', '1.3.0'))).toMatchObject({ code: 'HASH_MISMATCH', message: expect.stringMatching(/bytes; the repository index says/) });
    unlinkSync(file);
    expect(refusal(() => r.fetch('netstack', '1.3.0')).code).toBe('BAD_REPOSITORY');
    expect(r.fetch('netstack', '1.2.0')).toBeDefined();
  });

  it('a snapshot rolled back to an older version is refused against the timestamp', () => {
    const dir = join(scratch, `rollback-${n++}`);
    initRepository(dir, pki, T0);
    publish(dir, pki, [m.eth110], T0 + 1000);
    const old = readFileSync(metaFile(dir, 'snapshot'));
    publish(dir, pki, [m.eth120], T0 + 2000);
    writeFileSync(metaFile(dir, 'snapshot'), old);
    expect(open(dir)).toMatchObject({ code: 'BAD_REPOSITORY', message: expect.stringMatching(/snapshot\.json is not the file .*timestamp\.json pins \(version 3/) });
  });

  it('a whole repository replayed from before is refused against what the client saw', () => {
    const dir = join(scratch, `replay-${n++}`);
    initRepository(dir, pki, T0);
    publish(dir, pki, [m.eth110], T0 + 1000);
    const old = (['targets', 'snapshot', 'timestamp'] as const).map((r) => [r, readFileSync(metaFile(dir, r))] as const);
    publish(dir, pki, [m.eth120], T0 + 2000);
    const seen = Repository.open(dir, trust).state;
    for (const [r, bytes] of old) writeFileSync(metaFile(dir, r), bytes);
    expect(Repository.open(dir, trust).versions('eth_driver')).toEqual(['1.1.0']); // consistent on its own
    expect(open(dir, { lastSeen: seen })).toMatchObject({ code: 'REPLAYED', message: expect.stringMatching(/timestamp\.json is version 2, older than version 3/) });
  });

  it('metadata whose chain leads to an untrusted root is refused with the chain code', () => {
    const e = refusal(() => Repository.open(golden, { roots: [identity(pki, 'timestamp').cert] }));
    expect(e.code).toBe('UNTRUSTED_ROOT');
    expect(e.message).toMatch(/timestamp\.json/);
  });
});

describe('expiry', () => {
  it('is judged at the time the caller passes, by default the repository’s own signing time', () => {
    expect(Repository.open(golden, trust).state.expires.timestamp).toBe(new Date(T0 + 2000 + 7 * DAY).toISOString());
    expect(Repository.open(golden, trust, { now: T0 + 6 * DAY }).names()).toHaveLength(3);
    const e = refusal(() => Repository.open(golden, trust, { now: T0 + 8 * DAY }));
    expect(e).toMatchObject({ code: 'METADATA_EXPIRED', message: expect.stringMatching(/timestamp\.json: expired/) });
  });

  it('an expired index is refused even while the timestamp is fresh', () => {
    const dir = join(scratch, `expiry-${n++}`);
    initRepository(dir, pki, T0, { lifetimes: { targets: DAY } });
    publish(dir, pki, [m.eth110], T0, { lifetimes: { targets: DAY, timestamp: 30 * DAY } });
    expect(Repository.open(dir, trust).names()).toEqual(['eth_driver']);
    expect(refusal(() => Repository.open(dir, trust, { now: T0 + 2 * DAY }))).toMatchObject({ code: 'METADATA_EXPIRED', message: expect.stringMatching(/targets\.json: expired/) });
  });
});

describe('canonical JSON', () => {
  it('sorts keys at every level, has no whitespace, and takes integers only', () => {
    expect(canonicalJson({ b: [{ z: 1, a: 'x' }], a: null })).toBe('{"a":null,"b":[{"a":"x","z":1}]}');
    expect(refusal(() => canonicalJson({ a: 1.5 })).code).toBe('BAD_REPOSITORY');
  });
});

describe('hic repo list', () => {
  async function list(dir: string): Promise<{ code: number; stdout: string; stderr: string }> {
    let stdout = '';
    let stderr = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((stdout += String(s)), true));
    vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((stderr += String(s)), true));
    const program = new Command('hic').exitOverride();
    registerRepoCommands(program, REPO);
    try {
      await program.parseAsync(['node', 'hic', 'repo', 'list', dir, '--pki', pki, '--now', new Date(T0 + 3 * DAY).toISOString()]);
    } finally {
      vi.restoreAllMocks();
    }
    const code = Number(process.exitCode ?? 0);
    process.exitCode = 0;
    return { code, stdout, stderr };
  }

  it('lists every version with its signer and dependencies, exit 0', async () => {
    const r = await list(golden);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/targets v3, snapshot v3, timestamp v3/);
    expect(r.stdout).toMatch(/netstack\s+1\.2\.0\s+service\s+signer [0-9A-F:]{11}\s+needs eth_driver >= 1\.1\.0, ipc_lib = 2\.0\.0\n/);
  });

  it('checks every module file against the index: a changed or missing one fails it (finding 19: it exited 0)', async () => {
    const dir = copy();
    writeFileSync(join(dir, 'targets', 'netstack-1.3.0.hicmod'), 'tampered');
    unlinkSync(join(dir, 'targets', 'eth_driver-1.1.0.hicmod'));
    const r = await list(dir);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/1\.3\.0 .* HASH_MISMATCH\n/);
    expect(r.stdout).toMatch(/eth_driver\s+1\.1\.0 .* BAD_REPOSITORY\n/);
    expect(r.stderr).toMatch(/^hic: 2 of 5 module files do not match the index; the first: .*eth_driver-1\.1\.0\.hicmod is missing.*\[BAD_REPOSITORY\]\n$/);
  });
});
