// Core-0's module loader as a guest reaches it (family module_control): module_query,
// module_reserve and module_spawn, through the host client (the same dispatch table a guest's
// trap uses) and from a real guest. Each call once right — a real echo, irq_handler and hello
// started from the trusted repository and seen running — then each refusal with its exact error
// and nothing changed: the frame pool, the sandboxes, the caller's capabilities, and no event
// but the refusal's.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CapType, Err, Flag, Right, SPAWN_SPEC } from '../core0/abi/abi.ts';
import { encodeSpawnSpec, HostCallError, HostClient, type SpawnSpec } from '../core0/host-client.ts';
import { Kernel } from '../core0/kernel.ts';
import type { ModuleSource } from '../core0/module/source.ts';
import { MAX_BAD_MARKS } from '../core0/module/registry.ts';
import { PAGE } from '../core0/objects/sandbox.ts';
import { UnicornMachine } from '../emulator/machine.ts';
import { assemble } from '../hicmod-toolchain/asm.ts';
import { rawServiceModule } from '../hicmod-toolchain/hicmod/raw.ts';
import { signModule } from '../hicmod-toolchain/hicmod/sign.ts';
import { identity } from '../hicmod-toolchain/pki/pki.ts';
import { workspace } from '../hicmod-toolchain/workspace.ts';
import { bootSandboxes } from '../system/boot.ts';
import { parseManifest } from '../system/manifest.ts';
import { REPO } from './support/boot.ts';
import { lastRecord } from './support/kernel.ts';

const ws = workspace(REPO);
/** A version as Core-0 packs it, for ordering. */
const packed = (v: string): number => v.split('.').reduce((n, x) => n * 256 + Number(x), 0);
const LOADER = 1; // the host sandbox's slots: registry 0, loader 1, IRQ line 5 at 2
const IRQ = 2;
const KiB = 1024;

/** The trusted repository, except that canary's file was altered after signing. */
const repository: ModuleSource = {
  fetch(name, range) {
    const f = ws.source.fetch(name, range);
    if (!f || name !== 'canary') return f;
    const bytes = f.bytes.slice();
    const mid = bytes.length >> 1;
    bytes[mid] = bytes[mid]! ^ 0xff;
    return { ...f, bytes };
  },
  describe: (name) => ws.source.describe(name),
};

let machine: UnicornMachine;
let k: Kernel;
let mm: HostClient;

beforeEach(async () => {
  machine = await UnicornMachine.create({ memoryBytes: 16 << 20 });
  k = new Kernel(machine, { trust: ws.trust, repository });
  mm = HostClient.attach(k, 'mm', { loader: Right.R | Right.W, irqs: [5] });
});
afterEach(() => machine.dispose());

const free = () => machine.frames.accounting().free;
const echo = (over: Partial<SpawnSpec> = {}): SpawnSpec => ({ sandbox: 'svc', module: 'echo', version: '1.0.0', quota: 256 * KiB, stack: 16 * KiB, config: 'version=3', ...over });

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof HostCallError) return e.code;
    throw e;
  }
  return 'ok';
}

/** The capabilities mm holds, as (slot, type, rights). */
function held(): string[] {
  return [...k.sandbox('mm')!.cspace.all()].map((c) => `${c.slot}:${c.object.capType}:${c.rights}`);
}

/**
 * Runs a call that must be refused with `error`, and checks that nothing changed: the frame pool,
 * the live sandboxes, mm's capabilities; the only new event is the refusal's moduleRejected (with
 * `rejected` as its code), or none for a refusal before the request names a module. Answers the
 * refusal's event.
 */
function refused(error: string, f: () => unknown, rejected?: string): { reason: string } | undefined {
  const [frames, sandboxes, caps, events] = [free(), k.liveSandboxes.map((s) => s.name), held(), k.events.length];
  expect(code(f)).toBe(error);
  expect(free()).toBe(frames);
  expect(k.liveSandboxes.map((s) => s.name)).toEqual(sandboxes);
  expect(held()).toEqual(caps);
  const added = k.events.all.slice(events);
  expect(added.map((e) => e.kind)).toEqual(rejected === undefined ? [] : ['moduleRejected']);
  if (rejected === undefined) return undefined;
  expect(added[0]).toMatchObject({ code: rejected });
  return added[0] as unknown as { reason: string };
}

describe('the loader capability', () => {
  it('comes right after the registry, before the other initial capabilities', () => {
    expect([mm.capInfo(0).type, mm.capInfo(LOADER), mm.capInfo(IRQ).type]).toEqual([CapType.REGISTRY, { type: CapType.LOADER, rights: Right.R | Right.W }, CapType.IRQ]);
  });

  it('an image grants it only to a module that declares module_control, refused at its manifest field', () => {
    const image = { 'hic-image': 1, sandboxes: [{ name: 'a', module: 'echo', quota: '256KiB', caps: { loader: 'rw' } }] };
    const manifest = parseManifest('t.himg', JSON.stringify(image));
    expect(() => bootSandboxes(k, manifest, repository)).toThrow(expect.objectContaining({ field: 'sandboxes[0].caps.loader', message: expect.stringMatching(/does not declare "module_control"/) }));
    expect(k.liveSandboxes.map((s) => s.name)).toEqual([]); // the boot shut everything down, mm included
  });
});

describe('module_query', () => {
  it('fills struct hic_module_info with the newest verified module in the range', () => {
    // 1.3.1 and up are newer still: the regression releases of the Monitor's and the Module
    // Manager's images (services/netstack_slow, _hang, _late, ...), the newest of them.
    const newest = ws.modules.filter((m) => m.name === 'netstack').map((m) => m.version).sort((a, b) => packed(a) - packed(b)).at(-1)!;
    expect(packed(newest)).toBeGreaterThan(packed('1.3.0'));
    expect(mm.moduleQuery(LOADER, 'netstack', '*').version).toBe(newest);
    expect(mm.moduleQuery(LOADER, 'netstack', '< 1.3.1')).toEqual({
      name: 'netstack', version: '1.3.0', versionPacked: 0x010300, memory: 24 << 20, cpuPermille: 300, kind: 'service', stateSchema: 2, installed: 0, bad: false,
      dependencies: [{ name: 'eth_driver', range: '>=1.2.0' }],
    });
    expect(mm.moduleQuery(LOADER, 'netstack', '< 1.3.0').version).toBe('1.2.0');
    expect(mm.moduleQuery(LOADER, 'hello', '1.0.0').dependencies).toEqual([{ name: 'ipc_lib', range: expect.stringContaining('2.0.0') }]);
    expect(mm.moduleQuery(LOADER, 'ipc_lib', '>=2.0.0')).toMatchObject({ kind: 'library', versionPacked: 0x020000 });
    expect(k.events.of('moduleVerified').map((e) => `${e.module} ${e.version}`)).toEqual([`netstack ${newest}`, 'netstack 1.3.0', 'netstack 1.2.0', 'hello 1.0.0', 'ipc_lib 2.0.0']);
  });

  it('refuses a module the repository lacks (NOT_FOUND) and one verification refuses (MODULE_REFUSED), recorded', () => {
    refused('NOT_FOUND', () => mm.moduleQuery(LOADER, 'nosuch', '*'));
    refused('NOT_FOUND', () => mm.moduleQuery(LOADER, 'netstack', '>= 5.0.0'));
    const e = refused('MODULE_REFUSED', () => mm.moduleQuery(LOADER, 'canary', '*'), 'HASH_MISMATCH');
    expect(e!.reason).toMatch(/modified after signing/);
  });

  it('refuses a bad range or name, an unterminated string, a bad pointer, and a loader without R', () => {
    refused('INVALID_ARGUMENT', () => mm.moduleQuery(LOADER, 'netstack', 'newest please'));
    refused('INVALID_ARGUMENT', () => mm.moduleQuery(LOADER, 'netstack', ''));
    refused('INVALID_ARGUMENT', () => mm.moduleQuery(LOADER, 'Net Stack', '*'));
    refused('INVALID_ARGUMENT', () => mm.moduleQuery(LOADER, 'n'.repeat(32), '*')); // fills its field: no NUL
    refused('BAD_ADDRESS', () => mm.syscall('module_query', LOADER, 0x1000, 0x2000));
    const w = mm.syscall('cap_copy', LOADER, Right.W);
    refused('NO_RIGHT', () => mm.moduleQuery(w, 'netstack', '*'));
    refused('WRONG_TYPE', () => mm.moduleQuery(0, 'netstack', '*'));
  });

  it('module_mark marks a version bad in the installed-state store and clears it; query reports it, the event records who', () => {
    mm.moduleMark(LOADER, 'netstack', '1.3.1', true);
    expect(mm.moduleQuery(LOADER, 'netstack', '1.3.1').bad).toBe(true);
    expect(mm.moduleQuery(LOADER, 'netstack', '1.3.0').bad).toBe(false); // one version, not the module
    mm.moduleMark(LOADER, 'netstack', '1.3.1', false);
    expect(mm.moduleQuery(LOADER, 'netstack', '1.3.1').bad).toBe(false);
    expect(k.events.of('moduleMarked').map((e) => `${e.module} ${e.version} ${e.bad} by ${e.by}`)).toEqual([`netstack 1.3.1 true by mm`, `netstack 1.3.1 false by mm`]);
    refused('NOT_FOUND', () => mm.moduleMark(LOADER, 'netstack', '1.3.1', false)); // no mark to clear
    refused('INVALID_ARGUMENT', () => mm.moduleMark(LOADER, 'netstack', '>=1.3.0', true)); // an exact version only
    refused('INVALID_ARGUMENT', () => mm.moduleMark(LOADER, 'Net Stack', '1.3.1', true));
    refused('INVALID_ARGUMENT', () => mm.moduleMark(LOADER, 'netstack', '1.3.1', 2));
    refused('BAD_ADDRESS', () => mm.syscall('module_mark', LOADER, 0, 1));
    const r = mm.syscall('cap_copy', LOADER, Right.R);
    refused('NO_RIGHT', () => mm.moduleMark(r, 'netstack', '1.3.1', true));
    expect(k.events.of('moduleMarked')).toHaveLength(2); // refusals change nothing
    // A bounded store: a guest marking version after version is refused once it is full.
    for (let i = 0; i < MAX_BAD_MARKS; i++) mm.moduleMark(LOADER, 'hello', `9.0.${i}`, true);
    refused('NO_MEMORY', () => mm.moduleMark(LOADER, 'hello', '9.1.0', true));
    mm.moduleMark(LOADER, 'hello', '9.0.0', true); // marking a marked one again needs no room
    for (let i = 0; i < MAX_BAD_MARKS; i++) mm.moduleMark(LOADER, 'hello', `9.0.${i}`, false);
  });

  it('module_collect takes a version out of what the machine may load: queries and spawns narrow past it; a running one is refused', () => {
    mm.moduleCollect(LOADER, 'netstack', '1.3.0');
    refused('NOT_FOUND', () => mm.moduleQuery(LOADER, 'netstack', '1.3.0'));
    expect(mm.moduleQuery(LOADER, 'netstack', '< 1.3.1').version).toBe('1.2.0'); // the newest below it that is still there
    expect(mm.moduleQuery(LOADER, 'netstack', '1.2.0 || 1.3.0').version).toBe('1.2.0');
    mm.moduleCollect(LOADER, 'netstack', '1.2.0');
    refused('NOT_FOUND', () => mm.moduleQuery(LOADER, 'netstack', '< 1.3.1'));
    expect(mm.moduleQuery(LOADER, 'netstack', '1.3.1').version).toBe('1.3.1'); // one version, not the module
    refused('NOT_FOUND', () => mm.moduleCollect(LOADER, 'netstack', '1.2.0')); // collected already
    refused('INVALID_ARGUMENT', () => mm.moduleCollect(LOADER, 'netstack', '>=1.2.0')); // an exact version only
    const r = mm.syscall('cap_copy', LOADER, Right.R);
    refused('NO_RIGHT', () => mm.moduleCollect(r, 'netstack', '1.3.1'));
    // A version a sandbox runs is not garbage; once none does, it may go, and a spawn finds it no more.
    const svc = mm.moduleSpawn(LOADER, echo());
    refused('INVALID_ARGUMENT', () => mm.moduleCollect(LOADER, 'echo', '1.0.0'));
    mm.syscall('sandbox_destroy', svc);
    mm.moduleCollect(LOADER, 'echo', '1.0.0');
    refused('NOT_FOUND', () => mm.moduleSpawn(LOADER, echo({ sandbox: 'svc2' })), 'NOT_FOUND'); // recorded as a spawn of a missing version is
    expect(k.events.of('moduleCollected').map((e) => `${e.module} ${e.version} by ${e.by}`)).toEqual(['netstack 1.3.0 by mm', 'netstack 1.2.0 by mm', 'echo 1.0.0 by mm']);
  });

  it('finds nothing on a kernel given no repository', () => {
    const bare = new Kernel(machine, { trust: ws.trust });
    const h = HostClient.attach(bare, 'bare', { loader: Right.R });
    expect(code(() => h.moduleQuery(LOADER, 'netstack', '*'))).toBe('NOT_FOUND');
  });
});

describe('module_health', () => {
  const rogue = (sandbox: string, attack: string): SpawnSpec => ({ sandbox, module: 'rogue', version: '1.0.0', quota: 256 * KiB, stack: 16 * KiB, config: `attack=${attack}` });

  it('counts one version\'s sandboxes since boot: started, ended by a fault, live now; an exit and a destroy are no faults', async () => {
    const lib = ws.source.fetch('ipc_lib', '*')!; // rogue links it
    k.modules.loadLibrary(k.modules.verify(lib.bytes, lib.label));
    const none = { started: 0, faults: 0, running: 0, memory: 0, cpuNs: 0 };
    expect(mm.moduleHealth(LOADER, 'rogue', '1.0.0')).toEqual(none);
    mm.moduleSpawn(LOADER, rogue('r1', 'divide_by_zero'));
    mm.moduleSpawn(LOADER, rogue('r2', 'ud2'));
    const spinner = mm.moduleSpawn(LOADER, rogue('r3', 'spin'));
    // The memory is what the live ones hold (image, stacks, configuration page), the CPU what they ran.
    const held = (...names: string[]) => names.reduce((n, x) => n + k.sandbox(x)!.usedPages * PAGE, 0);
    expect(mm.moduleHealth(LOADER, 'rogue', '1.0.0')).toEqual({ started: 3, faults: 0, running: 3, memory: held('r1', 'r2', 'r3'), cpuNs: 0 });
    expect(held('r1', 'r2', 'r3')).toBeGreaterThan(0);
    await k.run(50_000_000);
    expect(k.events.of('fault').map((e) => e.sandbox).sort()).toEqual(['r1', 'r2']);
    const spun = mm.moduleHealth(LOADER, 'rogue', '1.0.0');
    expect(spun).toEqual({ started: 3, faults: 2, running: 1, memory: held('r3'), cpuNs: k.sandbox('r3')!.cpu.cpuNs });
    expect(spun.cpuNs).toBeGreaterThan(0);
    mm.syscall('sandbox_destroy', spinner);
    mm.moduleSpawn(LOADER, rogue('r1', 'ud2')); // a name reused: a start of its own
    await k.run(100_000_000);
    expect(mm.moduleHealth(LOADER, 'rogue', '1.0.0')).toEqual({ ...none, started: 4, faults: 3 });
    expect(mm.moduleHealth(LOADER, 'rogue', '9.9.9')).toEqual(none); // never started: zeros, not NOT_FOUND
  });

  it('needs R on the loader and an exact version; asks nothing of the repository and records nothing', () => {
    const events = k.events.length;
    mm.moduleHealth(LOADER, 'echo', '1.0.0');
    expect(k.events.length).toBe(events);
    refused('INVALID_ARGUMENT', () => mm.moduleHealth(LOADER, 'echo', '>=1.0.0'));
    refused('INVALID_ARGUMENT', () => mm.moduleHealth(LOADER, 'Echo Server', '1.0.0'));
    refused('BAD_ADDRESS', () => mm.syscall('module_health', LOADER, 0x10, 0x20));
    const w = HostClient.attach(k, 'writer', { loader: Right.W });
    expect(code(() => w.moduleHealth(LOADER, 'echo', '1.0.0'))).toBe('NO_RIGHT');
  });
});

describe('module_reserve', () => {
  it('takes whole pages out of the pool, uncharged, and deleting the reservation gives them back', () => {
    const before = free();
    const used = k.sandbox('mm')!.usedPages;
    const r = mm.syscall('module_reserve', LOADER, 100 * KiB + 1);
    expect(mm.capInfo(r)).toEqual({ type: CapType.RESERVATION, rights: 0 });
    expect(free()).toBe(before - 26);
    expect(k.sandbox('mm')!.usedPages).toBe(used);
    mm.syscall('cap_delete', r);
    expect(free()).toBe(before);
    expect(k.events.all.filter((e) => e.kind === 'reserved' || e.kind === 'reservationReleased').map((e) => [e.kind, 'bytes' in e ? e.bytes : 0])).toEqual([['reserved', 26 * PAGE], ['reservationReleased', 26 * PAGE]]);
    expect(k.audit.records.map((a) => a.kind)).toEqual(expect.arrayContaining(['reserved', 'reservationReleased']));
  });

  it('gives the frames back when its holder is destroyed', () => {
    const before = free();
    mm.syscall('module_reserve', LOADER, 1 << 20);
    expect(free()).toBe(before - 256);
    const s = k.sandbox('mm')!;
    const own = s.usedPages; // the host sandbox's scratch pages
    k.destroy(s, 'destroyed');
    expect(free()).toBeGreaterThanOrEqual(before + own); // and its page tables
    expect(k.events.of('sandboxDestroyed').at(-1)).toMatchObject({ sandbox: 'mm', framesReturned: 256 + own });
    expect(k.events.of('reservationReleased').at(-1)).toMatchObject({ by: 'mm', bytes: 1 << 20 });
  });

  it('refuses 0 or absurd sizes, more than the pool holds, a full capability space, and a loader without W', () => {
    refused('INVALID_ARGUMENT', () => mm.syscall('module_reserve', LOADER, 0));
    refused('INVALID_ARGUMENT', () => mm.syscall('module_reserve', LOADER, 2 ** 31));
    refused('INVALID_ARGUMENT', () => mm.syscall('module_reserve', LOADER, 2 ** 60));
    refused('NO_MEMORY', () => mm.syscall('module_reserve', LOADER, 16 << 20));
    const r = mm.syscall('cap_copy', LOADER, Right.R);
    refused('NO_RIGHT', () => mm.syscall('module_reserve', r, PAGE));
    while (code(() => mm.syscall('cap_copy', 0, Right.R)) === 'ok');
    refused('NO_SLOT', () => mm.syscall('module_reserve', LOADER, PAGE));
  });
});

describe('module_spawn', () => {
  it('starts echo from the repository in a new sandbox, consuming the reservation, and hands back its control', async () => {
    const r = mm.syscall('module_reserve', LOADER, 256 * KiB);
    expect(mm.moduleQuery(LOADER, 'echo', '1.0.0').installed).toBe(0);
    const before = free();
    const s = mm.moduleSpawn(LOADER, echo({ reservation: r }));
    expect(mm.capInfo(s)).toEqual({ type: CapType.SANDBOX, rights: Right.W });
    expect(held().filter((c) => c.includes('RESERVATION'))).toEqual([]); // consumed (its slot now holds the sandbox's capability)
    expect(k.events.all.slice(-6).map((e) => e.kind)).toEqual(['moduleVerified', 'sandboxCreated', 'moduleLoaded', 'threadStarted', 'reservationReleased', 'moduleSpawned']);
    expect(k.events.of('moduleLoaded').at(-1)).toMatchObject({ sandbox: 'svc', module: 'echo', version: '1.0.0', config: { version: 3 } });
    expect(k.events.of('moduleSpawned')).toEqual([expect.objectContaining({ by: 'mm', sandbox: 'svc', module: 'echo', version: '1.0.0' })]);
    expect(mm.moduleQuery(LOADER, 'echo', '1.0.0').installed).toBe(0x010000); // what runs now: the query says it
    // The reserved frames became the sandbox's: its image and stack took no more of the pool than its page tables.
    const svc = k.sandbox('svc')!;
    expect(before - free()).toBeLessThan(svc.usedPages);
    expect(await k.run()).toBe('idle'); // echo serves, blocked in recv
    expect(k.events.of('endpointRegistered')).toEqual([expect.objectContaining({ sandbox: 'svc', name: 'cap://echo/v3.0.0/rpc' })]);
    mm.syscall('sandbox_destroy', s);
    expect(svc.state).toBe('dead');
  });

  it('lets an older version past the rollback protection only with HIC_DOWNGRADE and W on the loader, recorded as a downgrade', () => {
    const driver = (version: string, sandbox: string): SpawnSpec => ({ sandbox, module: 'eth_driver', version, quota: 1 << 20, stack: 16 * KiB, config: '' });
    mm.moduleSpawn(LOADER, driver('1.2.0', 'd2'));
    expect(mm.moduleQuery(LOADER, 'eth_driver', '*').installed).toBe(0x010200);
    expect(refused('MODULE_REFUSED', () => mm.moduleQuery(LOADER, 'eth_driver', '1.1.0'), 'DOWNGRADE')!.reason).toMatch(/older than the installed 1\.2\.0/);
    refused('MODULE_REFUSED', () => mm.moduleSpawn(LOADER, driver('1.1.0', 'd1')), 'DOWNGRADE');
    refused('INVALID_ARGUMENT', () => mm.moduleQuery(LOADER, 'eth_driver', '1.1.0', 4));
    refused('INVALID_ARGUMENT', () => mm.moduleSpawn(LOADER, driver('1.1.0', 'd1'), SPAWN_SPEC.size, Flag.DOWNGRADE | 1));
    const reader = HostClient.attach(k, 'reader', { loader: Right.R });
    expect(code(() => reader.moduleQuery(LOADER, 'eth_driver', '1.1.0'))).toBe('MODULE_REFUSED');
    expect(code(() => reader.moduleQuery(LOADER, 'eth_driver', '1.1.0', Flag.DOWNGRADE))).toBe('NO_RIGHT');
    expect(mm.moduleQuery(LOADER, 'eth_driver', '1.1.0', Flag.DOWNGRADE)).toMatchObject({ version: '1.1.0', installed: 0x010200 });
    expect(k.events.of('moduleVerified').at(-1)).toMatchObject({ module: 'eth_driver', version: '1.1.0', downgrade: true });
    mm.moduleSpawn(LOADER, driver('1.1.0', 'd1'), SPAWN_SPEC.size, Flag.DOWNGRADE);
    expect(k.events.of('moduleLoaded').at(-1)).toMatchObject({ sandbox: 'd1', module: 'eth_driver', version: '1.1.0' });
    expect(mm.moduleQuery(LOADER, 'eth_driver', '*').installed).toBe(0x010100); // the version that runs now: 1.2.0 is an upgrade again
  });

  it('derives each grant into the new sandbox\'s slots 1..n, where it works: irq_handler binds the IRQ line it was granted', async () => {
    const s = mm.moduleSpawn(LOADER, { sandbox: 'irqh', module: 'irq_handler', version: '1.0.0', quota: 128 * KiB, stack: 16 * KiB, grants: [{ slot: IRQ, rights: Right.W }] });
    const slot1 = k.sandbox('irqh')!.cspace.lookup(1, 'IRQ', Right.W);
    expect(typeof slot1).not.toBe('string');
    for (const t of [1, 2, 3]) k.at(t * 1_000_000, () => k.raiseIrq(5));
    expect(await k.run()).toBe('idle');
    expect(lastRecord(k, 'irqh', 'handled')).toEqual({ interrupts: 3 });
    expect(k.events.of('exit').find((e) => e.sandbox === 'irqh')?.status).toBe(0);
    expect(code(() => mm.syscall('sandbox_destroy', s))).toBe('PEER_GONE'); // it exited on its own
  });

  it('takes a granted capability back when the caller revokes its own', () => {
    const ep = mm.syscall('endpoint_create');
    mm.moduleSpawn(LOADER, echo({ grants: [{ slot: ep, rights: Right.W }] }));
    expect(typeof k.sandbox('svc')!.cspace.lookup(1, 'ENDPOINT', Right.W)).not.toBe('string');
    expect(mm.syscall('cap_revoke', ep)).toBe(1);
    expect(k.sandbox('svc')!.cspace.lookup(1, undefined)).toBe('BAD_SLOT');
  });

  it('refuses what the repository lacks or Core-0 refuses: MODULE_REFUSED says why in the event', () => {
    refused('NOT_FOUND', () => mm.moduleSpawn(LOADER, echo({ module: 'nosuch' })), 'NOT_FOUND');
    refused('NOT_FOUND', () => mm.moduleSpawn(LOADER, echo({ version: '9.9.9' })), 'NOT_FOUND');
    refused('MODULE_REFUSED', () => mm.moduleSpawn(LOADER, echo({ module: 'canary', config: '' })), 'HASH_MISMATCH');
    refused('MODULE_REFUSED', () => mm.moduleSpawn(LOADER, echo({ module: 'ipc_lib', version: '2.0.0', config: '' })), 'NOT_A_SERVICE');
    const e = refused('MODULE_REFUSED', () => mm.moduleSpawn(LOADER, echo({ module: 'hello', quota: 1 << 20, config: '' })), 'UNSATISFIED_DEPENDENCY');
    expect(e!.reason).toMatch(/ipc_lib/);
  });

  it('refuses a configuration its declaration does not allow, naming the key', () => {
    expect(refused('BAD_VALUE', () => mm.moduleSpawn(LOADER, echo({ config: 'colour=blue' })), 'BAD_VALUE')!.reason).toMatch(/^config\.colour: unknown field/);
    expect(refused('BAD_VALUE', () => mm.moduleSpawn(LOADER, echo({ config: 'version=100' })), 'BAD_VALUE')!.reason).toMatch(/^config\.version: "100" is outside \[1, 99\]/);
    expect(refused('BAD_VALUE', () => mm.moduleSpawn(LOADER, echo({ config: 'version=two' })), 'BAD_VALUE')!.reason).toMatch(/^config\.version: expected a non-negative integer/);
    refused('INVALID_ARGUMENT', () => mm.moduleSpawn(LOADER, echo({ config: 'version' })), 'INVALID_ARGUMENT');
    refused('INVALID_ARGUMENT', () => mm.moduleSpawn(LOADER, echo({ config: 'version=2;version=3' })), 'INVALID_ARGUMENT');
  });

  it('refuses a quota above the signed memory or too small for the image, and a bad stack', () => {
    expect(refused('QUOTA_EXCEEDED', () => mm.moduleSpawn(LOADER, echo({ quota: 512 * KiB })), 'QUOTA_EXCEEDED')!.reason).toMatch(/signed metadata \(memory 262144\)/);
    refused('QUOTA_EXCEEDED', () => mm.moduleSpawn(LOADER, echo({ quota: 4 * PAGE, stack: 4 * PAGE })), 'QUOTA_EXCEEDED');
    refused('INVALID_ARGUMENT', () => mm.moduleSpawn(LOADER, echo({ quota: 100 })), 'INVALID_ARGUMENT');
    refused('INVALID_ARGUMENT', () => mm.moduleSpawn(LOADER, echo({ stack: 0 })), 'INVALID_ARGUMENT');
  });

  it('refuses a reservation that is too small, of the wrong type or no capability; it stays reserved', () => {
    const small = mm.syscall('module_reserve', LOADER, 64 * KiB);
    refused('INVALID_ARGUMENT', () => mm.moduleSpawn(LOADER, echo({ reservation: small })), 'INVALID_ARGUMENT');
    refused('WRONG_TYPE', () => mm.moduleSpawn(LOADER, echo({ reservation: 0 })), 'WRONG_TYPE');
    refused('BAD_SLOT', () => mm.moduleSpawn(LOADER, echo({ reservation: 40 })), 'BAD_SLOT');
    refused('BAD_SLOT', () => mm.moduleSpawn(LOADER, echo({ reservation: -2 })), 'BAD_SLOT');
    expect(mm.capInfo(small).type).toBe(CapType.RESERVATION);
  });

  it('refuses a grant of more rights than held, of an empty slot, or of a family the module does not declare', () => {
    refused('NO_RIGHT', () => mm.moduleSpawn(LOADER, { sandbox: 'irqh', module: 'irq_handler', version: '1.0.0', quota: 128 * KiB, stack: 16 * KiB, grants: [{ slot: IRQ, rights: Right.R | Right.W }] }), 'NO_RIGHT');
    refused('BAD_SLOT', () => mm.moduleSpawn(LOADER, echo({ grants: [{ slot: 50, rights: 0 }] })), 'BAD_SLOT');
    const e = refused('NOT_DECLARED', () => mm.moduleSpawn(LOADER, echo({ grants: [{ slot: IRQ, rights: Right.W }] })), 'NOT_DECLARED');
    expect(e!.reason).toMatch(/does not declare "irq"/);
    refused('INVALID_ARGUMENT', () => mm.moduleSpawn(LOADER, echo({ grants: [{ slot: IRQ, rights: 8 }] })));
  });

  it('refuses a name a live sandbox has, a full capability space, and a loader without W', () => {
    refused('NAME_TAKEN', () => mm.moduleSpawn(LOADER, echo({ sandbox: 'mm' })), 'NAME_TAKEN');
    const r = mm.syscall('cap_copy', LOADER, Right.R);
    refused('NO_RIGHT', () => mm.moduleSpawn(r, echo()));
    while (code(() => mm.syscall('cap_copy', 0, Right.R)) === 'ok');
    refused('NO_SLOT', () => mm.moduleSpawn(LOADER, echo()), 'NO_SLOT');
  });

  it('refuses a malformed struct before it reads what it names: the length, an unterminated string, a bad pointer', () => {
    refused('INVALID_ARGUMENT', () => mm.moduleSpawn(LOADER, echo(), SPAWN_SPEC.size - 8));
    const b = encodeSpawnSpec(echo());
    b.fill(0x61, SPAWN_SPEC.at.sandbox, SPAWN_SPEC.at.module); // 32 letters: no NUL in the field
    refused('INVALID_ARGUMENT', () => mm.moduleSpawn(LOADER, b));
    refused('INVALID_ARGUMENT', () => mm.moduleSpawn(LOADER, echo({ version: '>=1.0.0' })));
    refused('INVALID_ARGUMENT', () => mm.moduleSpawn(LOADER, echo({ grants: Array.from({ length: 9 }, () => ({ slot: 0, rights: 1 })) })));
    refused('BAD_ADDRESS', () => mm.syscall('module_spawn', LOADER, 0x1000, SPAWN_SPEC.size));
  });

  it('refused after the reservation went back to the pool, it takes the reservation back: nothing changed', () => {
    // echo's one run (image, configuration page, guard, 16 KiB stack) is exactly the quota, and
    // nothing else is free: the new page table's first frame comes out of the released run, so
    // the run no longer fits.
    const m = k.modules.check(ws.source.fetch('echo', '1.0.0')!.bytes);
    const quota = (m.pages + 1 + 1 + 4) * PAGE;
    const r = mm.syscall('module_reserve', LOADER, quota);
    const rest: number[] = [];
    for (let pages = free(); pages > 0; ) {
      const got = code(() => rest.push(mm.syscall('module_reserve', LOADER, pages * PAGE)));
      if (got !== 'ok') pages >>= 1;
      else pages = free();
    }
    expect(free()).toBe(0);
    const [caps, events] = [held(), k.events.length];
    expect(code(() => mm.moduleSpawn(LOADER, echo({ quota, reservation: r })))).toBe('NO_MEMORY');
    expect(free()).toBe(0);
    expect(held()).toEqual(caps);
    expect(k.liveSandboxes.map((s) => s.name)).toEqual(['mm']);
    // The verdict was recorded as the spawn began; lifecycle.ts's spawn records its own refusal.
    expect(k.events.all.slice(events).map((e) => e.kind)).toEqual(['moduleVerified', 'moduleRejected']);
    expect(k.events.of('moduleRejected').at(-1)).toMatchObject({ code: 'NO_MEMORY', reason: expect.stringMatching(/pages for echo/) });
    expect(mm.capInfo(r).type).toBe(CapType.RESERVATION);
    for (const x of rest) mm.syscall('cap_delete', x);
    const s = mm.moduleSpawn(LOADER, echo({ quota, reservation: r })); // the reservation still holds its run
    expect(mm.capInfo(s).type).toBe(CapType.SANDBOX);
  });
});

describe('from a guest', () => {
  const keys = { signer: identity(ws.pkiDir, 'signer'), timestamp: identity(ws.pkiDir, 'timestamp') };
  /** Eight bytes of a NUL-padded string as the immediate a `mov` stores. */
  const imm = (text: string) => `0x${Buffer.from(text.padEnd(8, '\0')).readBigUInt64LE().toString(16)}`;
  /**
   * A guest that builds struct hic_spawn_spec on its stack — hello 1.0.0 as "child", 1 MiB,
   * a 16 KiB stack, no reservation — calls module_spawn with the loader in slot 1, and exits
   * with the result.
   */
  function spawner(capabilities: string[]) {
    const at = SPAWN_SPEC.at;
    const code = assemble([
      `sub rsp, ${SPAWN_SPEC.size + 8}`, 'mov rdi, rsp', 'xor eax, eax', `mov ecx, ${SPAWN_SPEC.size / 8}`, 'rep stosq',
      `mov rax, ${imm('child')}`, `mov [rsp + ${at.sandbox}], rax`,
      `mov rax, ${imm('hello')}`, `mov [rsp + ${at.module}], rax`,
      `mov rax, ${imm('1.0.0')}`, `mov [rsp + ${at.version}], rax`,
      `mov qword ptr [rsp + ${at.quota}], ${1 << 20}`, `mov qword ptr [rsp + ${at.stack}], ${16 * KiB}`, `mov qword ptr [rsp + ${at.reservation}], -1`,
      `mov edi, ${LOADER}`, 'mov rsi, rsp', `mov edx, ${SPAWN_SPEC.size}`, 'mov eax, 82', 'syscall',
      'mov rdi, rax', 'mov eax, 4', 'syscall',
    ].join('\n'));
    const meta = { name: 'spawner', version: '1.0.0', uuid: '5a5a5a5a-1111-4222-8333-444444444444', capabilities, memory: 1 << 20 };
    return k.modules.verify(signModule(rawServiceModule(meta, code), keys, Date.now()), 'spawner');
  }

  it('a guest holding the loader starts hello, which runs and exits; the guest gets its control capability', async () => {
    const lib = ws.source.fetch('ipc_lib', '2.0.0')!;
    k.modules.loadLibrary(k.modules.verify(lib.bytes, lib.label));
    k.spawn({ name: 'spawner', quotaBytes: 1 << 20, stackBytes: 16 * KiB, caps: { loader: Right.W } }, spawner(['module_control']));
    expect(await k.run()).toBe('idle');
    expect(k.events.of('exit').map((e) => [e.sandbox, e.status])).toEqual([['spawner', 2], ['child', 0]]); // slot 2: after the registry and the loader
    expect(k.events.of('moduleSpawned')).toEqual([expect.objectContaining({ by: 'spawner', sandbox: 'child', module: 'hello' })]);
    expect(k.events.of('console').filter((e) => e.sandbox === 'child').at(-1)?.text).toMatch(/goodbye/);
  });

  it('a guest whose module does not declare module_control gets NOT_DECLARED, and cannot be granted the loader', async () => {
    k.spawn({ name: 'spawner', quotaBytes: 1 << 20, stackBytes: 16 * KiB }, spawner([]));
    expect(await k.run()).toBe('idle');
    expect(k.events.of('exit').map((e) => [e.sandbox, e.status])).toEqual([['spawner', -Err.NOT_DECLARED]]);
    expect(() => k.spawn({ name: 'other', quotaBytes: 1 << 20, stackBytes: 16 * KiB, caps: { loader: Right.R } }, spawner([]))).toThrow(/does not declare "module_control"/);
  });
});

