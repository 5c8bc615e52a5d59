// Capabilities through the TypeScript host client: the same dispatch and checks a guest gets —
// derivation never adds rights, revocation cascades across sandboxes, a forged or stale slot is
// a specific error, and only a registry capability with G switches an alias.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CapType, Right } from '../core0/abi/abi.ts';
import { HostCallError, HostClient } from '../core0/host-client.ts';
import { Kernel } from '../core0/kernel.ts';
import { UnicornMachine } from '../emulator/machine.ts';
import { builtWorkspace } from './support/boot.ts';

let machine: UnicornMachine;
let k: Kernel;
let manager: HostClient;
let viewer: HostClient;

beforeEach(async () => {
  machine = await UnicornMachine.create({ memoryBytes: 16 << 20 });
  k = new Kernel(machine, { trust: builtWorkspace().trust });
  manager = HostClient.attach(k, 'manager', { registry: Right.R | Right.W | Right.G });
  viewer = HostClient.attach(k, 'viewer', { registry: Right.R });
});
afterEach(() => machine.dispose());

const code = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    if (e instanceof HostCallError) return e.code;
    throw e;
  }
  return 'ok';
};

describe('host client', () => {
  it('starts with the registry in slot 0, with the manifest\'s rights', () => {
    expect(manager.capInfo(0)).toEqual({ type: CapType.REGISTRY, rights: 7 });
    expect(viewer.capInfo(0)).toEqual({ type: CapType.REGISTRY, rights: Right.R });
  });

  it('derives copies with equal or fewer rights, never more', () => {
    const ep = manager.syscall('endpoint_create');
    const w = manager.syscall('cap_copy', ep, Right.W);
    expect(manager.capInfo(w)).toEqual({ type: CapType.ENDPOINT, rights: Right.W });
    expect(code(() => manager.syscall('cap_copy', w, Right.R | Right.W))).toBe('NO_RIGHT');
    expect(code(() => manager.syscall('cap_copy', w, 8))).toBe('INVALID_ARGUMENT');
  });

  it('refuses forged, empty and stale slots with specific errors', () => {
    expect(code(() => manager.capInfo(63))).toBe('BAD_SLOT');
    expect(code(() => manager.capInfo(64))).toBe('BAD_SLOT');
    expect(code(() => manager.capInfo(-1))).toBe('BAD_SLOT');
    expect(code(() => manager.capInfo(2 ** 40))).toBe('BAD_SLOT');
    const ep = manager.syscall('endpoint_create');
    expect(code(() => manager.syscall('notify', ep, 1))).toBe('WRONG_TYPE');
    manager.syscall('cap_delete', ep);
    expect(code(() => manager.capInfo(ep))).toBe('BAD_SLOT');
  });

  it('revoking a capability removes everything derived from it, in every sandbox', () => {
    const ep = manager.syscall('endpoint_create');
    manager.register('cap://svc/v1.0.0/rpc', ep);
    const inViewer = viewer.lookup('cap://svc/v1.0.0/rpc'); // derived from the manager's endpoint
    const copy = manager.syscall('cap_copy', ep, Right.W);
    const copyOfCopy = manager.syscall('cap_copy', copy, Right.W);
    expect(viewer.capInfo(inViewer).type).toBe(CapType.ENDPOINT);
    expect(manager.syscall('cap_revoke', ep)).toBe(3);
    expect(code(() => viewer.capInfo(inViewer))).toBe('BAD_SLOT');
    expect(code(() => manager.capInfo(copy))).toBe('BAD_SLOT');
    expect(code(() => manager.capInfo(copyOfCopy))).toBe('BAD_SLOT');
    expect(manager.capInfo(ep).rights).toBe(Right.ALL); // the revoked one itself stays
    expect(k.events.of('capRevoked').at(-1)).toMatchObject({ sandbox: 'manager', revoked: 3 });
  });

  it('switches an alias only with right G, atomically, and back again', () => {
    const v1 = manager.syscall('endpoint_create');
    const v2 = manager.syscall('endpoint_create');
    manager.register('cap://netstack/v1.2.0/tcp', v1);
    manager.register('cap://netstack/v1.3.0/tcp', v2);
    expect(k.objects.registry.target('cap://netstack/tcp')).toBe('cap://netstack/v1.2.0/tcp');
    expect(code(() => viewer.switchAlias('cap://netstack/tcp', 'cap://netstack/v1.3.0/tcp'))).toBe('NO_RIGHT');
    manager.switchAlias('cap://netstack/tcp', 'cap://netstack/v1.3.0/tcp');
    expect(k.objects.registry.target('cap://netstack/tcp')).toBe('cap://netstack/v1.3.0/tcp');
    manager.switchAlias('cap://netstack/tcp', 'cap://netstack/v1.2.0/tcp'); // rollback is the same operation
    expect(k.events.of('endpointSwitched').map((e) => e.to)).toEqual(['cap://netstack/v1.3.0/tcp', 'cap://netstack/v1.2.0/tcp']);
    expect(code(() => manager.switchAlias('cap://netstack/tcp', 'cap://other/v1.0.0/tcp'))).toBe('INVALID_ARGUMENT');
    expect(code(() => manager.switchAlias('cap://netstack/tcp', 'cap://netstack/v9.9.9/tcp'))).toBe('NOT_FOUND');
    expect(code(() => manager.register('cap://netstack/v1.2.0/tcp', v1))).toBe('NAME_TAKEN');
    expect(code(() => manager.register('netstack', v1))).toBe('INVALID_ARGUMENT');
  });

  it('host IPC never waits', () => {
    const ep = manager.syscall('endpoint_create');
    expect(code(() => manager.sendNow(ep, { label: 1n }))).toBe('WOULD_BLOCK');
  });

  it('records everything in the audit log, hash-chained', () => {
    const ep = manager.syscall('endpoint_create');
    manager.register('cap://svc/v1.0.0/rpc', ep);
    const kinds = k.audit.records.map((r) => r.kind);
    expect(kinds).toEqual(expect.arrayContaining(['sandboxCreated', 'endpointRegistered']));
    expect(k.audit.records.every((r, i) => i === 0 || r.prev === k.audit.records[i - 1]!.hash)).toBe(true);
  });
});
