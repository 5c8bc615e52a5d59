// Every syscall with a full capability space: a verb that cannot place what it would make must
// make nothing — no frame allocated or charged, no object left behind (decode, then invoke). The
// memory object case once leaked: memory_create allocated and charged frames, then found no slot.

import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { Flag, Right, SYSCALLS, type SyscallName } from '../core0/abi/abi.ts';
import { HostCallError, HostClient } from '../core0/host-client.ts';
import { Kernel } from '../core0/kernel.ts';
import { CSPACE_SLOTS } from '../core0/objects/capability.ts';
import { UnicornMachine } from '../emulator/machine.ts';
import { builtWorkspace } from './support/boot.ts';

/** Calls that change the sandbox's own memory regions (not capabilities), or end or park the caller. */
const OWN_MEMORY: ReadonlySet<SyscallName> = new Set(['mem_alloc', 'mem_free', 'mem_protect']);
const NOT_FROM_THE_HOST: ReadonlySet<SyscallName> = new Set(['exit', 'yield', 'sleep']);

/** A small deterministic PRNG (xorshift32), so a failure names a reproducible call. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

let machine: UnicornMachine;
let k: Kernel;
let full: HostClient;

beforeAll(async () => {
  machine = await UnicornMachine.create({ memoryBytes: 32 << 20 });
  k = new Kernel(machine, { trust: builtWorkspace().trust });
  full = HostClient.attach(k, 'full', { registry: Right.R | Right.W | Right.G });
  // Something of every kind to name: a memory object, an endpoint, a notification; then fill up.
  full.syscall('memory_create', 8192);
  full.register('cap://svc/v1.0.0/rpc', full.syscall('endpoint_create'));
  for (;;) {
    try {
      full.syscall('endpoint_create');
    } catch (e) {
      if (e instanceof HostCallError && e.code === 'NO_SLOT') break;
      throw e;
    }
  }
});
afterAll(() => machine?.dispose());

describe('a full capability space', () => {
  it('is full', () => {
    expect(full.capInfo(CSPACE_SLOTS - 1).type).toBeGreaterThan(0);
  });

  it('every capability-making call is refused with NO_SLOT and allocates nothing', () => {
    const before = machine.frames.accounting();
    for (const [name, args] of [
      ['memory_create', [4096]],
      ['memory_create', [1 << 20]],
      ['endpoint_create', []],
      ['notification_create', []],
      ['cap_copy', [1, Right.R]],
    ] as [SyscallName, number[]][]) {
      const r = (() => {
        try {
          return full.syscall(name, ...args);
        } catch (e) {
          return (e as HostCallError).code;
        }
      })();
      expect(r, name).toBe('NO_SLOT');
      expect(machine.frames.accounting(), name).toEqual(before);
    }
    expect(() => full.lookup('cap://svc/v1.0.0/rpc')).toThrow(expect.objectContaining({ code: 'NO_SLOT' }));
    expect(machine.frames.accounting()).toEqual(before);
  });

  it('every syscall, 300 random argument tuples each: no frame leaks, and all come back when the sandbox ends', () => {
    const next = prng(0x4849_4321);
    const values = [0, 1, 2, 3, 5, CSPACE_SLOTS - 1, CSPACE_SLOTS, 4095, 4096, 8192, 1 << 20, 2 ** 31, 2 ** 53 - 1];
    let calls = 0;
    for (const spec of SYSCALLS) {
      const name = spec.name as SyscallName;
      if (NOT_FROM_THE_HOST.has(name)) continue;
      for (let i = 0; i < 300; i++) {
        const args = spec.args.map(([arg]) => (arg === 'flags' ? Flag.NONBLOCK : values[Math.floor(next() * values.length)]!));
        const before = machine.frames.accounting();
        try {
          full.syscall(name, ...args);
        } catch (e) {
          if (!(e instanceof HostCallError)) throw new Error(`${name}(${args.join(', ')}) threw ${(e as Error).stack}`);
        }
        calls++;
        // Deleting or revoking may free frames; nothing but the sandbox's own regions may take any.
        if (!OWN_MEMORY.has(name)) expect(machine.frames.accounting().allocated, `${name}(${args.join(', ')})`).toBeLessThanOrEqual(before.allocated);
      }
    }
    expect(calls).toBeGreaterThan(8000);
    k.destroy(k.sandbox('full')!, 'destroyed');
    // Only the kernel's own frames (none here: no library, no other sandbox) may remain.
    expect(machine.frames.accounting().allocated).toBe(0);
  });
});
