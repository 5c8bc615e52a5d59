// What a module may ask for is what its signed metadata declares (core0/module/declared.ts): the
// syscall families it uses and the service names it registers under. An image may grant less,
// never more. And the registry cannot be taken over: a sandbox registers only its own names, an
// alias falls back to a live version when its holder ends, and registrations are bounded.

import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Err, Right } from '../core0/abi/abi.ts';
import { HostClient } from '../core0/host-client.ts';
import { Kernel, type InitialCaps } from '../core0/kernel.ts';
import { REGISTRATIONS_MAX } from '../core0/objects/sandbox.ts';
import { UnicornMachine } from '../emulator/machine.ts';
import { assemble } from '../hicmod-toolchain/asm.ts';
import { rawServiceModule } from '../hicmod-toolchain/hicmod/raw.ts';
import { signModule } from '../hicmod-toolchain/hicmod/sign.ts';
import { makePki, type TestPki } from './support/pki.ts';

const NOW = Date.parse('2026-11-27T12:00:00Z');
let pki: TestPki;
let machine: UnicornMachine;
let k: Kernel;

beforeAll(() => {
  pki = makePki('HIC Declared Test', { notBefore: new Date('2026-01-01T00:00:00Z') });
});
beforeEach(async () => {
  machine = await UnicornMachine.create({ memoryBytes: 16 << 20 });
  k = new Kernel(machine, { trust: pki.trust });
});
afterEach(() => machine.dispose());

let uuid = 0;
/** A module that makes one syscall (rax = nr, rdi = arg) and exits with its result. */
function oneCall(name: string, capabilities: string[], nr: number, arg: number, memory = 1 << 20) {
  const code = assemble(`mov eax, ${nr}\nmov edi, ${arg}\nsyscall\nmov rdi, rax\nmov eax, 4\nsyscall`);
  const meta = { name, version: '1.0.0', uuid: `11111111-2222-4333-8444-${String(++uuid).padStart(12, '0')}`, capabilities, memory };
  return k.modules.verify(signModule(rawServiceModule(meta, code), pki.keys, NOW), name);
}

async function exitOf(name: string, capabilities: string[], nr: number, arg: number, caps: InitialCaps = {}): Promise<number | undefined> {
  k.spawn({ name, quotaBytes: 1 << 20, stackBytes: 16384, arg: 0, caps }, oneCall(name, capabilities, nr, arg));
  await k.run();
  return k.events.of('exit').find((e) => e.sandbox === name)?.status;
}

describe('syscall families', () => {
  it('a module that declares only debug_log cannot allocate memory: NOT_DECLARED', async () => {
    expect(await exitOf('a', ['debug_log'], 6, 4096)).toBe(-Err.NOT_DECLARED);
  });

  it('the same call from a module that declares memory succeeds', async () => {
    expect(await exitOf('b', ['memory'], 6, 4096)).toBeGreaterThan(0);
  });

  it('IPC, notifications and the registry each need their family', async () => {
    expect(await exitOf('c', ['debug_log', 'memory'], 20, 0)).toBe(-Err.NOT_DECLARED); // endpoint_create
    expect(await exitOf('d', ['debug_log', 'memory'], 30, 0)).toBe(-Err.NOT_DECLARED); // notification_create
    expect(await exitOf('e', ['ipc'], 51, 0)).toBe(-Err.NOT_DECLARED); // registry_lookup
    expect(await exitOf('f', ['ipc'], 20, 0)).toBeGreaterThanOrEqual(0);
  });

  it('time, yield and the capabilities it holds are everyone\'s', async () => {
    expect(await exitOf('g', [], 13, 0)).toBeGreaterThan(0); // cap_info of slot 0: the registry
  });
});

describe('an image grants less than the module declares, never more', () => {
  const refused = (caps: InitialCaps, field: string, capabilities: string[] = ['debug_log'], quota = 256 << 10) => {
    const before = machine.frames.accounting().allocated;
    try {
      k.spawn({ name: 'x', quotaBytes: quota, stackBytes: 16384, arg: 0, caps }, oneCall(`x${uuid}`, capabilities, 2, 0, 512 << 10));
      expect.unreachable('granted');
    } catch (e) {
      expect(e).toMatchObject({ code: 'BAD_SPEC', field });
    }
    expect(machine.frames.accounting().allocated).toBe(before);
    expect(k.liveSandboxes).toEqual([]);
  };

  it('IRQ lines, device windows, sandbox control and channels need irq, mmio, sandbox_control and ipc', () => {
    refused({ irqs: [16] }, 'caps.irqs');
    refused({ channels: [{ name: 'ch', rights: Right.R }] }, 'caps.channels');
    refused({ control: ['nobody'] }, 'caps.control');
  });

  it('a quota larger than the signed memory size', () => {
    refused({}, 'quota', ['debug_log'], 1 << 20);
  });
});

describe('the registry', () => {
  it('a module registers under its own name, not another service\'s', async () => {
    // endpoint_create, then registry_register(slot 0, "cap://echo/v0.0.1/rpc", the endpoint): the impersonation.
    const name = 'cap://echo/v0.0.1/rpc';
    const asm = (service: string) => `
      mov eax, 20
      syscall
      mov rcx, rax
      lea rsi, [rip + name]
      mov edx, ${name.length}
      mov r10, rcx
      xor edi, edi
      mov eax, 50
      syscall
      mov rdi, rax
      mov eax, 4
      syscall
    name: .ascii "${service}"`;
    const spawnWith = (module: string, caps: string[], registry: number) => {
      const meta = { name: module, version: '1.0.0', uuid: `11111111-2222-4333-8444-${String(++uuid).padStart(12, '0')}`, capabilities: caps };
      k.spawn({ name: module, quotaBytes: 1 << 20, stackBytes: 16384, arg: 0, caps: { registry } }, k.modules.verify(signModule(rawServiceModule(meta, assemble(asm(name))), pki.keys, NOW), module));
    };
    spawnWith('impostor', ['ipc', 'registry'], Right.R | Right.W);
    spawnWith('echo', ['ipc', 'registry'], Right.R | Right.W);
    spawnWith('manager', ['ipc', 'registry'], Right.R | Right.W | Right.G);
    await k.run();
    const exits = Object.fromEntries(k.events.of('exit').map((e) => [e.sandbox, e.status]));
    // echo's registration ends with echo; the manager, whose registry capability carries G (the
    // right to run the registry), may then register the name although it is not its module's.
    expect(exits).toEqual({ impostor: -Err.NOT_DECLARED, echo: 0, manager: 0 });
    expect(k.events.of('endpointRegistered').map((e) => e.sandbox)).toEqual(['echo', 'manager']);
  });

  it('an alias falls back to a live version when its holder ends, and registrations are bounded', () => {
    const a = HostClient.attach(k, 'a', { registry: Right.R | Right.W });
    const b = HostClient.attach(k, 'b', { registry: Right.R | Right.W });
    a.register('cap://svc/v1.0.0/rpc', a.syscall('endpoint_create'));
    b.register('cap://svc/v2.0.0/rpc', b.syscall('endpoint_create'));
    expect(k.objects.registry.target('cap://svc/rpc')).toBe('cap://svc/v1.0.0/rpc');
    k.destroy(k.sandbox('a')!, 'destroyed');
    expect(k.objects.registry.target('cap://svc/rpc')).toBe('cap://svc/v2.0.0/rpc');
    expect(k.events.of('endpointSwitched').at(-1)).toMatchObject({ alias: 'cap://svc/rpc', from: 'cap://svc/v1.0.0/rpc', to: 'cap://svc/v2.0.0/rpc', by: 'core0' });
    // Bounded: the registrations one sandbox holds.
    for (let i = 1; i < REGISTRATIONS_MAX; i++) b.register(`cap://svc/v3.0.${i}/rpc`, b.syscall('endpoint_create'));
    expect(() => b.register('cap://svc/v4.0.0/rpc', b.syscall('endpoint_create'))).toThrow(expect.objectContaining({ code: 'QUOTA_EXCEEDED' }));
  });
});
