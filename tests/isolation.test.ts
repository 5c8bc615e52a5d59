// Isolation and containment, with the real rogue guest: each attack faults with the right kind
// and address, the well-behaved sandbox beside them runs to its normal exit, no two sandboxes
// share a frame, and every frame returns to the pool.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StampedEvent } from '../core0/events.ts';
import { bootImage, builtWorkspace, type Booted } from './support/boot.ts';

let run: Booted;
type FaultEvent = Extract<StampedEvent, { kind: 'fault' }>;
const faultOf = (sandbox: string): FaultEvent => {
  const f = run.kernel.events.of('fault').find((e) => e.sandbox === sandbox);
  if (!f) throw new Error(`no fault in ${sandbox}`);
  return f;
};
const loadedAt = (sandbox: string) => run.kernel.events.of('moduleLoaded').find((e) => e.sandbox === sandbox)!;

beforeAll(async () => {
  run = await bootImage('rogue');
});
afterAll(() => run.machine.dispose());

describe('rogue image', () => {
  it('matches the outcome its manifest expects', () => {
    expect(run.deviations).toEqual([]);
    expect(run.halt).toBe('idle');
  });

  it('a read of another sandbox\'s page faults, at that page, and the page is hello\'s', () => {
    const f = faultOf('rogue-read');
    const base = loadedAt('rogue-read').base;
    expect(f.fault.kind).toBe('readUnmapped');
    expect(f.fault.address).toBe(base - 4096);
    expect(f.owner).toBe('hello');
    expect(f.fault.instruction).toMatch(/^movzx/);
  });

  it('a write to its own code faults as a protection violation at the code address', () => {
    const f = faultOf('rogue-code');
    const { base, pages } = loadedAt('rogue-code');
    expect(f.fault.kind).toBe('writeProtected');
    expect(f.fault.address).toBeGreaterThanOrEqual(base);
    expect(f.fault.address).toBeLessThan(base + pages * 4096);
    expect(f.owner).toBe('rogue-code');
  });

  it('executing its own data page faults at that page, and nothing ran there', () => {
    const f = faultOf('rogue-exec');
    expect(f.fault.kind).toBe('fetchProtected');
    expect(f.fault.rip).toBe(f.fault.address);
    expect(f.fault.instruction).toBe('ret'); // what would have run
  });

  it('writing the shared library\'s code faults: no sandbox can change what the others run', () => {
    const f = faultOf('rogue-lib');
    expect(f.fault.kind).toBe('writeProtected');
    expect(f.owner).toBe('ipc_lib (shared library)');
    const lib = run.kernel.events.of('libraryLoaded').find((e) => e.module === 'ipc_lib')!;
    expect(f.fault.address).toBeGreaterThanOrEqual(lib.base);
    expect(f.fault.address).toBeLessThan(lib.base + lib.pages * 4096);
  });

  it('division by zero and ud2 are typed faults with the faulting instruction', () => {
    expect(faultOf('rogue-div').fault).toMatchObject({ kind: 'divideError', instruction: expect.stringMatching(/^i?div/) });
    expect(faultOf('rogue-ud2').fault).toMatchObject({ kind: 'invalidInstruction', instruction: 'ud2' });
  });

  it('every bad syscall argument got its exact error, and the guest carried on', () => {
    const lines = run.kernel.events.of('console').filter((e) => e.sandbox === 'rogue-args').map((e) => e.text);
    expect(lines.filter((l) => l.includes(': ok'))).toHaveLength(17);
    expect(lines.some((l) => l.includes('FAIL'))).toBe(false);
    expect(run.outcome.exits['rogue-args']).toBe(0);
  });

  it('its eight malformed records were refused without a trace; the one right record arrived whole', () => {
    for (const name of ['type 0', 'undeclared type', 'short', 'long', 'null', 'unmapped', 'enum out of range', 'bool 2']) {
      expect(run.kernel.events.of('console').map((e) => e.text)).toContain(`rogue: check record ${name}: ok`);
    }
    const records = run.kernel.events.of('record');
    expect(records.map(({ sandbox, module, type, fields }) => ({ sandbox, module, type, fields }))).toEqual([
      {
        sandbox: 'rogue-args', module: 'rogue', type: 'result',
        // last_error: the last refusal it saw, BAD_VALUE; canary: past 2^53, so a decimal string.
        fields: { attack: 'bad_syscalls', checks: 17, failed: 0, clean: true, last_error: -18, page: 4096, canary: '18364758544493064720' },
      },
    ]);
  });

  it('a write to its own configuration page faults: the page is read-only, and its own', () => {
    const f = faultOf('rogue-config');
    const page = run.kernel.events.of('threadStarted').find((e) => e.sandbox === 'rogue-config')!.config;
    expect(page).toBeGreaterThan(0);
    expect(f.fault.kind).toBe('writeProtected');
    expect(f.fault.address).toBe(page);
    expect(f.owner).toBe('rogue-config');
    expect(loadedAt('rogue-config').config).toEqual({ attack: 'write_config' });
  });

  it('hello ran to the end while the others faulted', () => {
    const hello = run.kernel.events.all.filter((e) => e.kind === 'console' && e.sandbox === 'hello');
    const lastFault = Math.max(...run.kernel.events.of('fault').map((e) => e.seq));
    expect(hello.at(-1)?.seq).toBeGreaterThan(lastFault);
    expect(run.outcome.exits.hello).toBe(0);
  });

  it('every sandbox was torn down with its frames, and the pool is whole again', () => {
    const destroyed = run.kernel.events.of('sandboxDestroyed');
    expect(destroyed.map((e) => e.sandbox).sort()).toEqual(['hello', 'rogue-args', 'rogue-code', 'rogue-config', 'rogue-div', 'rogue-exec', 'rogue-lib', 'rogue-read', 'rogue-ud2']);
    expect(destroyed.every((e) => e.framesReturned > 0)).toBe(true);
    expect(run.machine.frames.accounting().allocated).toBe(0);
  });
});

describe('two live sandboxes', () => {
  it('share no frame: every mapped page of one is absent from the other', async () => {
    const { UnicornMachine } = await import('../emulator/machine.ts');
    const { Kernel } = await import('../core0/kernel.ts');
    const machine = await UnicornMachine.create({ memoryBytes: 16 << 20 });
    const ws = builtWorkspace();
    const mods = ws.repository;
    const k = new Kernel(machine, { trust: ws.trust });
    const lib = k.modules.loadLibrary(k.modules.verify(mods.fetch('ipc_lib', '*')!.bytes, 'ipc_lib'));
    const hello = k.modules.verify(mods.fetch('hello', '*')!.bytes, 'hello');
    const a = k.spawn({ name: 'a', quotaBytes: 1 << 20, stackBytes: 65536 }, hello);
    const b = k.spawn({ name: 'b', quotaBytes: 1 << 20, stackBytes: 65536 }, hello);
    const libFrames = new Set(lib.placed.segments.flatMap((s) => Array.from({ length: s.pages }, (_, i) => s.va / 4096 + i)));
    const frames = (s: typeof a) => new Set([...s.cpu.space.pageTable()].map(([, e]) => e.frame).filter((f) => !libFrames.has(f)));
    const fa = frames(a);
    const fb = frames(b);
    expect(fa.size).toBeGreaterThan(0);
    expect([...fa].filter((f) => fb.has(f))).toEqual([]);
    for (const f of fa) expect(machine.frames.ownerOf(f)).toBe(a.id);
    // The one thing they share: the library's code, read-execute in both, writable in neither.
    for (const s of [a, b]) {
      const shared = [...s.cpu.space.pageTable()].filter(([, e]) => libFrames.has(e.frame));
      expect(shared.length).toBe(libFrames.size);
      expect(shared.every(([, e]) => !e.writable)).toBe(true);
    }
    k.shutdown();
    expect(machine.frames.accounting().allocated).toBe(0);
    machine.dispose();
  });
});

describe('a guest that never yields', () => {
  it('is preempted by its instruction budget: hello beside it runs to its exit, the time limit ends the spinner', async () => {
    const run = await bootImage('spin');
    try {
      expect(run.deviations).toEqual([]);
      expect(run.halt).toBe('timeLimit');
      expect(run.outcome.exits.hello).toBe(0);
      expect(run.outcome.exits.spinner).toBeUndefined();
      const spinnerEnd = run.kernel.events.of('sandboxDestroyed').find((e) => e.sandbox === 'spinner');
      expect(spinnerEnd?.reason).toBe('shutdown');
      expect(run.machine.clock.now).toBeGreaterThanOrEqual(50e6);
    } finally {
      run.machine.dispose();
    }
  });
});
