// Core-0's module loader as a guest reaches it (family module_control): module_query,
// module_reserve and module_spawn, through the host client (the same dispatch table a guest's
// trap uses) and from a real guest. Each call once right — a real echo, irq_handler and hello
// started from the trusted repository and seen running — then each refusal with its exact error
// and nothing changed: the frame pool, the sandboxes, the caller's capabilities, and no event
// but the refusal's.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CapType, Right, SPAWN_SPEC } from '../core0/abi/abi.ts';
import { encodeSpawnSpec, HostCallError, HostClient, type SpawnSpec } from '../core0/host-client.ts';
import { Kernel } from '../core0/kernel.ts';
import type { ModuleSource } from '../core0/module/source.ts';
import { PAGE } from '../core0/objects/sandbox.ts';
import { UnicornMachine } from '../emulator/machine.ts';
import { assemble } from '../hicmod-toolchain/asm.ts';
import { rawServiceModule } from '../hicmod-toolchain/hicmod/raw.ts';
import { signModule } from '../hicmod-toolchain/hicmod/sign.ts';
import { identity } from '../hicmod-toolchain/pki/pki.ts';
import { workspace } from '../hicmod-toolchain/workspace.ts';
import { REPO } from './support/boot.ts';
import { lastRecord } from './support/kernel.ts';

const ws = workspace(REPO);
const LOADER = 1; // the host sandbox's slots: registry 0, loader 1, IRQ line 5 at 2
const IRQ = 2;
const KiB = 1024;

/** The trusted repository, except that canary's file was altered after signing. */
const repository: ModuleSource = {
  fetch(name, range) {
    const f = ws.source.fetch(name, range);
    if (!f || name !== 'canary') return f;
    const bytes = f.bytes.slice();
    bytes[bytes.length >> 1] ^= 0xff;
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
 * `rejected` as its code), or none for a refusal before the request names a module.
 */
function refused(error: string, f: () => unknown, rejected?: string): { reason: string } | undefined {
  const [frames, sandboxes, caps, events] = [free(), k.liveSandboxes.map((s) => s.name), held(), k.events.length];
  expect(code(f)).toBe(error);
  expect(free()).toBe(frames);
  expect(k.liveSandboxes.map((s) => s.name)).toEqual(sandboxes);
  expect(held()).toEqual(caps);
  const added = k.events.all.slice(events);
  if (rejected === undefined) {
    expect(added).toEqual([]);
    return undefined;
  }
  expect(added.map((e) => e.kind)).toEqual(['moduleRejected']);
  expect(added[0]).toMatchObject({ code: rejected });
  return added[0] as unknown as { reason: string };
}

describe('module_query', () => {
  it('fills struct hic_module_info with the newest verified module in the range', () => {
    expect(mm.moduleQuery(LOADER, 'netstack', '*')).toEqual({
      name: 'netstack', version: '1.3.0', versionPacked: 0x010300, memory: 24 << 20, cpuPermille: 300, kind: 'service', stateSchema: expect.any(Number), dependencies: [],
    });
    expect(mm.moduleQuery(LOADER, 'netstack', '< 1.3.0').version).toBe('1.2.0');
    expect(mm.moduleQuery(LOADER, 'hello', '1.0.0').dependencies).toEqual([{ name: 'ipc_lib', range: expect.stringContaining('2.0.0') }]);
    expect(mm.moduleQuery(LOADER, 'ipc_lib', '>=2.0.0')).toMatchObject({ kind: 'library', versionPacked: 0x020000 });
    expect(k.events.of('moduleVerified').map((e) => `${e.module} ${e.version}`)).toEqual(['netstack 1.3.0', 'netstack 1.2.0', 'hello 1.0.0', 'ipc_lib 2.0.0']);
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

  it('finds nothing on a kernel given no repository', () => {
    const bare = new Kernel(machine, { trust: ws.trust });
    const h = HostClient.attach(bare, 'bare', { loader: Right.R });
    expect(code(() => h.moduleQuery(LOADER, 'netstack', '*'))).toBe('NOT_FOUND');
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
    const before = free();
    const s = mm.moduleSpawn(LOADER, echo({ reservation: r }));
    expect(mm.capInfo(s)).toEqual({ type: CapType.SANDBOX, rights: Right.W });
    expect(held().filter((c) => c.includes('RESERVATION'))).toEqual([]); // consumed (its slot now holds the sandbox's capability)
    expect(k.events.all.slice(-6).map((e) => e.kind)).toEqual(['moduleVerified', 'sandboxCreated', 'moduleLoaded', 'threadStarted', 'reservationReleased', 'moduleSpawned']);
    expect(k.events.of('moduleLoaded').at(-1)).toMatchObject({ sandbox: 'svc', module: 'echo', version: '1.0.0', config: { version: 3 } });
    expect(k.events.of('moduleSpawned')).toEqual([expect.objectContaining({ by: 'mm', sandbox: 'svc', module: 'echo', version: '1.0.0' })]);
    // The reserved frames became the sandbox's: its image and stack took no more of the pool than its page tables.
    const svc = k.sandbox('svc')!;
    expect(before - free()).toBeLessThan(svc.usedPages);
    expect(await k.run()).toBe('idle'); // echo serves, blocked in recv
    expect(k.events.of('endpointRegistered')).toEqual([expect.objectContaining({ sandbox: 'svc', name: 'cap://echo/v3.0.0/rpc' })]);
    mm.syscall('sandbox_destroy', s);
    expect(svc.state).toBe('dead');
  });
});
