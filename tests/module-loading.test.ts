// Loading verified modules into Core-0: dependencies, imports, shared libraries, resources — and
// for every refusal, nothing left behind but the audit event: no sandbox, no frames, no mapping.

import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bootSandboxes, type ModuleSource } from '../system/boot.ts';
import { Kernel } from '../core0/kernel.ts';
import { parseManifest } from '../system/manifest.ts';
import { ModuleError } from '../core0/module/errors.ts';
import type { ModuleContent } from '../core0/module/format.ts';
import { UnicornMachine } from '../emulator/machine.ts';
import { assemble } from '../hicmod-toolchain/asm.ts';
import { buildModule } from '../hicmod-toolchain/hicmod/module-build.ts';
import { rawServiceModule } from '../hicmod-toolchain/hicmod/raw.ts';
import { signModule } from '../hicmod-toolchain/hicmod/sign.ts';
import { REPO } from './support/boot.ts';
import { makePki, type TestPki } from './support/pki.ts';

let pki: TestPki;
let hello: ModuleContent;
let ipcLib: ModuleContent;
let machine: UnicornMachine;
let k: Kernel;
const NOW = Date.parse('2026-11-27T12:00:00Z');

beforeAll(async () => {
  pki = await makePki('HIC Loader Test', { notBefore: new Date('2026-01-01T00:00:00Z') });
  hello = buildModule(REPO, 'hello').content;
  ipcLib = buildModule(REPO, 'ipc_lib').content;
});
beforeEach(async () => {
  machine = await UnicornMachine.create({ memoryBytes: 16 << 20 });
  k = new Kernel(machine, { trust: pki.trust });
});
afterEach(() => machine.dispose());

const verified = (c: ModuleContent) => k.modules.verify(signModule(c, pki.keys, NOW), c.meta.name);
const spawnSpec = { name: 'svc', quotaBytes: 1 << 20, stackBytes: 65536 };

/** Runs f, expects a ModuleError or KernelError with `code`, and checks that nothing is left. */
function refusedCleanly(code: string, f: () => unknown): void {
  const before = machine.frames.accounting().allocated;
  const sandboxes = k.liveSandboxes.length;
  try {
    f();
    expect.unreachable('accepted');
  } catch (e) {
    expect((e as ModuleError).code).toBe(code);
  }
  expect(machine.frames.accounting().allocated).toBe(before);
  expect(k.liveSandboxes.length).toBe(sandboxes);
  expect(k.events.of('sandboxCreated').map((e) => e.sandbox)).not.toContain('svc');
  expect(k.events.of('moduleRejected').at(-1)?.code).toBe(code);
}

describe('loading', () => {
  it('relocates against the real address, resolves imports to the shared library, maps W^X', async () => {
    const lib = k.modules.loadLibrary(verified(ipcLib));
    const s = k.spawn(spawnSpec, verified(hello));
    const loaded = k.events.of('moduleLoaded')[0]!;
    const pages = [...s.cpu.space.pageTable()];
    expect(pages.every(([, e]) => !(e.writable && e.executable))).toBe(true);
    // The import site holds the library's export address.
    const site = hello.relocations.find((r) => r.kind === 'import')!.site;
    const word = Buffer.from(machine.frames.view(loaded.base + site, 8)).readBigUInt64LE();
    expect(Number(word)).toBe(lib.placed.exports.get('ipc_checksum'));
    expect(await k.run()).toBe('idle');
    expect(k.events.of('exit')[0]?.status).toBe(0);
  });

  it('refuses a service whose library is not loaded', () => {
    refusedCleanly('UNSATISFIED_DEPENDENCY', () => k.spawn(spawnSpec, verified(hello)));
  });

  it('refuses a service whose version constraint the loaded library does not satisfy', () => {
    k.modules.loadLibrary(verified({ ...ipcLib, meta: { ...ipcLib.meta, version: '2.1.0' } }));
    refusedCleanly('UNSATISFIED_DEPENDENCY', () => k.spawn(spawnSpec, verified(hello)));
  });

  it('refuses an import the library does not export', () => {
    k.modules.loadLibrary(verified(ipcLib));
    const bad = { ...hello, imports: hello.imports.map((i) => ({ ...i, symbol: 'ipc_nosuch' })) };
    refusedCleanly('UNRESOLVED_IMPORT', () => k.spawn(spawnSpec, verified(bad)));
  });

  it('refuses a module larger than the sandbox quota', () => {
    k.modules.loadLibrary(verified(ipcLib));
    refusedCleanly('QUOTA_EXCEEDED', () => k.spawn({ ...spawnSpec, quotaBytes: 8192 }, verified(hello)));
  });

  it('refuses a library with writable data: it could not be shared', () => {
    const writable = { ...ipcLib, segments: [...ipcLib.segments, { kind: 'data' as const, writable: true, executable: false, offset: 4096, memSize: 4096, fileOffset: 0, fileSize: 0 }] };
    refusedCleanly('NOT_A_LIBRARY', () => k.modules.loadLibrary(verified(writable)));
  });

  it('refuses a service that claims to be a library, and the reverse', () => {
    refusedCleanly('NOT_A_LIBRARY', () => k.modules.loadLibrary(verified(hello)));
    refusedCleanly('NOT_A_SERVICE', () => k.spawn(spawnSpec, verified(ipcLib)));
  });
});

describe('boot-time dependency closure', () => {
  const tiny = (name: string, deps: [string, string][]) =>
    rawServiceModule({ name, version: '1.0.0', uuid: '11111111-2222-4333-8444-55555555555' + name.length, dependencies: deps.map(([n, r]) => ({ name: n, range: r })) }, assemble('mov eax, 4\nxor edi, edi\nsyscall'));

  function source(mods: ModuleContent[]): ModuleSource {
    const files = new Map(mods.map((m) => [m.meta.name, signModule(m, pki.keys, NOW)]));
    return { fetch: (n) => (files.has(n) ? { bytes: files.get(n)!, label: n } : undefined), describe: () => 'memory' };
  }
  const manifest = (module: string) => parseManifest('t.himg', JSON.stringify({ 'hic-image': 1, sandboxes: [{ name: 'a', module, quota: '1MiB' }] }));

  it('refuses a dependency cycle before any sandbox exists', async () => {
    const m = await UnicornMachine.create({ memoryBytes: 16 << 20 });
    const src = source([tiny('alpha', [['beta', '*']]), tiny('beta', [['alpha', '*']])]);
    expect(() => bootSandboxes(new Kernel(m, { trust: pki.trust }), manifest('alpha'), src)).toThrow(expect.objectContaining({ code: 'DEPENDENCY_CYCLE', message: expect.stringContaining('alpha → beta → alpha') }));
    expect(m.frames.accounting().allocated).toBe(0);
    m.dispose();
  });

  it('refuses a missing dependency before any sandbox exists', async () => {
    const m = await UnicornMachine.create({ memoryBytes: 16 << 20 });
    expect(() => bootSandboxes(new Kernel(m, { trust: pki.trust }), manifest('alpha'), source([tiny('alpha', [['gamma', '>= 1.0.0']])]))).toThrow(expect.objectContaining({ code: 'MODULE_NOT_FOUND' }));
    expect(m.frames.accounting().allocated).toBe(0);
    m.dispose();
  });
});
