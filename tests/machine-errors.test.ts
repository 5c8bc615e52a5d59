// Refusals from the machine below Core-0 (no free run of frames, the engine mapping limit, a
// mapping the engine refuses) become the guest's error codes; any other exception -- a broken
// invariant, a RangeError -- surfaces as the kernel bug it is instead of posing as NO_MEMORY.
// Also the untrusted-input parsers: only the parse refusal they expect becomes a format error.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventLog } from '../core0/events.ts';
import { ModuleError } from '../core0/module/errors.ts';
import { Reader } from '../core0/module/format.ts';
import { ObjectServices } from '../core0/object-services.ts';
import { Sandbox } from '../core0/objects/sandbox.ts';
import { Scheduler } from '../core0/scheduler.ts';
import { AddressSpaceError } from '../emulator/address-space.ts';
import { UnicornMachine } from '../emulator/machine.ts';
import { PhysicalMemory } from '../emulator/physmem.ts';

const MiB = 1 << 20;
const TABLE_TAG = 0x4000_0000; // as core0/kernel.ts tags a sandbox's page-table frames

let machine: UnicornMachine;
beforeAll(async () => {
  machine = await UnicornMachine.create({ memoryBytes: 4 * MiB });
});
afterAll(() => machine.dispose());

/** A sandbox whose quota is far above the machine's memory, so the frame pool is what refuses. */
const sandbox = (id: number) => new Sandbox(id, `s${id}`, 1 << 20, 1, machine.createCpu(TABLE_TAG | 1), machine.frames);
const TOO_MANY = 2048; // 4 MiB is 1024 frames

/** These tests make no loader calls; one reaching here is a bug in them. */
const unused = (): never => {
  throw new Error('the module loader is not part of this test');
};
const NO_LOADER = { sandboxLive: unused, fetchModule: unused, moduleVerified: unused, moduleRejected: unused, unloadable: unused, newReservation: unused, spawnModule: unused, installedVersion: unused, isBad: unused, mark: unused, collect: unused, moduleHealth: unused };

function objects(): ObjectServices {
  return new ObjectServices({
    clock: machine.clock,
    frames: machine.frames,
    events: new EventLog(() => machine.clock.now),
    scheduler: new Scheduler(),
    sandboxById: () => undefined,
    control: () => 0,
    journaled: () => false,
    commit: () => true,
    loader: NO_LOADER,
  });
}

describe('machine refusals Core-0 expects', () => {
  it('come back as values from the interface Core-0 calls; anything else is still thrown', () => {
    const m = new PhysicalMemory(4 * MiB);
    try {
      expect(m.tryAllocate(TOO_MANY, 1)).toBe('NO_FRAMES');
      expect(() => m.tryAllocate(0, 1)).toThrow(RangeError); // a bad count is the caller's bug
      expect(typeof m.tryAllocate(1, 1)).toBe('number');
    } finally {
      m.dispose();
    }
    const cpu = machine.createCpu(TABLE_TAG | 2, 8);
    try {
      const first = machine.frames.tryAllocate(18, 2) as number;
      for (let i = 0; i < 16; i += 2) expect(cpu.space.tryMap((first + i) * 4096, first + i, 1, { writable: true, executable: false })).toBe('OK');
      expect(cpu.space.tryMap((first + 16) * 4096, first + 16, 1, { writable: true, executable: false })).toBe('MAPPING_LIMIT');
      expect(() => cpu.space.tryMap(first * 4096, first, 1, { writable: true, executable: false })).toThrow(AddressSpaceError); // mapped already: a bug
      machine.frames.free(first, 18, 2);
    } finally {
      cpu.destroy();
    }
  });
});

describe('a sandbox claiming frames', () => {
  it('gets NO_MEMORY when no run is long enough, and its quota is untouched', () => {
    const s = sandbox(1);
    expect(s.claim('alloc', TOO_MANY)).toBe('NO_MEMORY');
    expect(s.usedPages).toBe(0);
  });

  it('throws when the allocator refuses for another reason: owner tag 0 is a kernel bug, not a full pool', () => {
    expect(() => sandbox(0).claim('alloc', 1)).toThrow(RangeError);
  });
});

describe('a memory object', () => {
  it('is NO_MEMORY when no run is long enough, the quota charge given back', () => {
    const s = sandbox(2);
    expect(objects().newMemory(s, TOO_MANY)).toBe('NO_MEMORY');
    expect(s.usedPages).toBe(0);
  });

  it('throws on any other refusal, the quota charge given back all the same', () => {
    const s = sandbox(0);
    expect(() => objects().newMemory(s, 1)).toThrow(RangeError);
    expect(s.usedPages).toBe(0);
  });
});

describe('a module string', () => {
  it('that is not UTF-8 is BAD_METADATA', () => {
    const r = new Reader(new Uint8Array([2, 0, 0xff, 0xfe]), 'test');
    let thrown: unknown;
    try {
      r.string();
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(ModuleError);
    expect((thrown as ModuleError).code).toBe('BAD_METADATA');
  });
});
