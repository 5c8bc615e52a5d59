// A guest attacking the CPU instead of memory (issue 10): undecodable bytes, ring-0 instructions,
// port I/O, segment loads, the time stamp counter, cpuid, rdrand. Every attack is a contained
// fault of its kind at the exact instruction, the neighbour runs on, the host survives; what a
// guest can read about the machine (rdtsc, cpuid) is HIC's, the same on every run.
//
// Two levels: the rogue-cpu image with the real guest service (services/rogue_cpu), and machine
// tests with assembled snippets for what a whole image cannot pin down (the privilege level
// itself, consecutive exceptions, the system page, the instruction after a port access).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StampedEvent } from '../core0/events.ts';
import { cpuidAnswer, CPUID_VENDOR } from '../emulator/cpuid.ts';
import { generalProtectionKind } from '../emulator/fault.ts';
import { UnicornMachine } from '../emulator/machine.ts';
import type { Cpu, StopReason, SyscallFrame } from '../emulator/types.ts';
import { assemble } from '../hicmod-toolchain/asm.ts';
import { bootImage, type Booted } from './support/boot.ts';

type FaultEvent = Extract<StampedEvent, { kind: 'fault' }>;

describe('rogue-cpu image', () => {
  let run: Booted;
  beforeAll(async () => {
    run = await bootImage('rogue-cpu');
  });
  afterAll(() => run.machine.dispose());

  const console = (sandbox: string) => run.kernel.events.of('console').filter((e) => e.sandbox === sandbox).map((e) => e.text);
  const faultOf = (sandbox: string): FaultEvent => {
    const f = run.kernel.events.of('fault').find((e) => e.sandbox === sandbox);
    if (!f) throw new Error(`no fault in ${sandbox}`);
    return f;
  };
  /** The address the guest logged for the instruction that must fault ("rogue_cpu: cli at 0x…"). */
  const announced = (sandbox: string): number => {
    const m = console(sandbox).map((l) => / at (0x[0-9a-f]+)$/.exec(l)).find(Boolean);
    if (!m) throw new Error(`${sandbox} announced no address`);
    return Number(m[1]);
  };

  it('matches the outcome its manifest expects', () => {
    expect(run.deviations).toEqual([]);
    expect(run.halt).toBe('idle');
  });

  const undecodable: [string, string, string][] = [
    ['ud-lock-nop', 'invalidInstruction', '(undecodable: f0 90)'],
    ['ud-d6', 'invalidInstruction', '(undecodable: d6 c3 06 c3 …)'],
    ['ud-push-es', 'invalidInstruction', '(undecodable: 06 c3 fe f0 …)'],
    ['ud-fe-f0', 'invalidInstruction', '(undecodable: fe f0 c3 ce …)'],
    ['ud-into', 'invalidInstruction', '(undecodable: ce c3 f0 0f …)'],
    ['ud-lock-ud2', 'invalidInstruction', '(undecodable: f0 0f 0b)'],
    ['ud-addr-lock-nop', 'invalidInstruction', '(undecodable: 67 f0 90)'],
    ['ud-prefixes16', 'generalProtection', `(undecodable: ${'66 '.repeat(15)}90)`],
  ];
  it.each(undecodable)('%s: %s at the exact instruction, described as %s', (sandbox, kind, instruction) => {
    expect(faultOf(sandbox).fault).toEqual({ kind, address: announced(sandbox), rip: announced(sandbox), instruction });
  });

  const privileged: [string, string, string][] = [
    ['priv-cli', 'privilegedInstruction', 'cli'],
    ['priv-sti', 'privilegedInstruction', 'sti'],
    ['priv-hlt', 'privilegedInstruction', 'hlt'],
    ['priv-wrmsr', 'privilegedInstruction', 'wrmsr'],
    ['priv-rdmsr', 'privilegedInstruction', 'rdmsr'],
    ['priv-mov-cr0', 'privilegedInstruction', 'mov cr0, rax'],
    ['priv-read-cr0', 'privilegedInstruction', 'mov rax, cr0'],
    ['priv-mov-cr3', 'privilegedInstruction', 'mov cr3, rax'],
    ['priv-mov-cr4', 'privilegedInstruction', 'mov cr4, rax'],
    ['priv-mov-dr7', 'privilegedInstruction', 'mov dr7, rax'],
    ['priv-lidt', 'privilegedInstruction', 'lidt [rdi]'],
    ['priv-lgdt', 'privilegedInstruction', 'lgdt [rdi]'],
    ['priv-swapgs', 'privilegedInstruction', 'swapgs'],
    ['priv-clts', 'privilegedInstruction', 'clts'],
    ['priv-wbinvd', 'privilegedInstruction', 'wbinvd'],
    ['priv-invlpg', 'privilegedInstruction', 'invlpg byte ptr [rdi]'],
    ['priv-in', 'privilegedInstruction', 'in al, 0x60'],
    ['priv-out', 'privilegedInstruction', 'out 0x80, al'],
    ['priv-in-dx', 'privilegedInstruction', 'in eax, dx'],
    ['priv-insb', 'privilegedInstruction', 'insb byte ptr [rdi], dx'],
    ['priv-outsb', 'privilegedInstruction', 'outsb dx, byte ptr [rsi]'],
    ['priv-mov-ss', 'generalProtection', 'mov ss, eax'], // loads a descriptor: guests have no table
    ['rdrand', 'invalidInstruction', 'rdrand eax'], // HIC's CPU has no rdrand (cpuid says so)
    ['rdseed', 'invalidInstruction', 'rdseed eax'],
  ];
  it.each(privileged)('%s: %s at the exact instruction (%s)', (sandbox, kind, instruction) => {
    expect(faultOf(sandbox).fault).toEqual({ kind, address: announced(sandbox), rip: announced(sandbox), instruction });
    expect(console(sandbox).some((l) => l.includes('containment broken'))).toBe(false);
  });

  it('every attacker was stopped, hello ran to its exit after the last of them, and every frame came back', () => {
    const attackers = [...undecodable, ...privileged].map(([s]) => s);
    expect(new Set(run.kernel.events.of('fault').map((e) => e.sandbox))).toEqual(new Set(attackers));
    const lastFault = Math.max(...run.kernel.events.of('fault').map((e) => e.seq));
    const hello = run.kernel.events.all.filter((e) => e.kind === 'console' && e.sandbox === 'hello');
    expect(hello.at(-1)!.seq).toBeGreaterThan(lastFault);
    expect(run.outcome.exits.hello).toBe(0);
    expect(run.machine.frames.accounting().allocated).toBe(0);
  });

  it('rdtsc and rdtscp read virtual time: a few microseconds after boot, apart by exactly the instructions between', () => {
    expect(run.outcome.exits.rdtsc).toBe(0); // the guest's own checks: +4, +2 after time_now, +5, aux 0
    const line = console('rdtsc').find((l) => l.startsWith('rogue_cpu: rdtsc '))!;
    const [tsc1, tsc2, now, tsc3, tscp, aux] = [...line.matchAll(/\d+/g)].map((m) => Number(m[0]));
    expect([tsc2! - tsc1!, tsc3! - now!, tscp! - tsc3!, aux]).toEqual([4, 2, 5, 0]);
    // The host's counter would be in the billions; virtual time at this point is microseconds.
    expect(tsc1).toBeGreaterThan(0);
    expect(tscp).toBeLessThan(run.machine.clock.now);
  });

  it('cpuid answers the documented table, leaf by leaf', () => {
    expect(run.outcome.exits.cpuid).toBe(0);
    const hex = (n: number) => n.toString(16).padStart(8, '0');
    const expected = [0, 1, 7, 0x4000_0000, 0x8000_0000, 0x8000_0001, 0x8000_0002].map(
      (leaf) => `rogue_cpu: cpuid ${leaf.toString(16)}.0 = ${cpuidAnswer(leaf).map(hex).join(' ')}`,
    );
    expect(console('cpuid').filter((l) => l.startsWith('rogue_cpu: cpuid'))).toEqual(expected);
    // Leaf 0: the vendor string in EBX, EDX, ECX.
    const [, b, c, d] = cpuidAnswer(0);
    expect(Buffer.from(new Uint32Array([b, d, c]).buffer).toString('latin1')).toBe(CPUID_VENDOR);
  });

  it('is deterministic: a second boot gives the same event log, rdtsc readings included', async () => {
    const again = await bootImage('rogue-cpu');
    try {
      expect(again.kernel.events.hash()).toBe(run.kernel.events.hash());
    } finally {
      again.machine.dispose();
    }
  });
});

describe('the guest CPU, instruction by instruction', () => {
  let machine: UnicornMachine;
  let cpu: Cpu;
  const OWNER = 1;

  beforeAll(async () => {
    machine = await UnicornMachine.create({ memoryBytes: 8 << 20 });
  });
  afterAll(() => machine.dispose());

  let frames = 0;
  /** A fresh CPU with code at one page (RX) and a stack page (RW) two pages above it. */
  function place(src: string): { code: number; data: number; stackTop: number } {
    cpu = machine.createCpu(0x4000_0000 | OWNER);
    const f = (frames = machine.frames.allocate(3, OWNER));
    const code = f * 4096;
    machine.frames.view(code, 4096).set(assemble(src));
    cpu.space.tryMap(code, f, 1, { writable: false, executable: true });
    cpu.space.tryMap(code + 8192, f + 2, 1, { writable: true, executable: false });
    return { code, data: code + 8192, stackTop: code + 3 * 4096 - 8 };
  }
  function finish(): void {
    cpu.destroy();
    machine.frames.free(frames, 3, OWNER);
  }
  /** Bytes the assembler makes of `src`: the offset of whatever follows it. */
  const length = (src: string) => assemble(src).length;
  const stopOn = (frames: SyscallFrame[]) => (f: SyscallFrame) => (frames.push(f), 'stop' as const);

  it('a new CPU is at privilege level 3, has mapped nothing and has executed nothing', () => {
    const clock = machine.clock.now;
    const { code, stackTop } = place('mov eax, cs\nmov rdi, rax\nmov eax, ss\nmov rsi, rax\nmov eax, 4\nsyscall');
    expect(cpu.space.regions.map((r) => r.va)).toEqual([code, code + 8192]); // the system page is not there
    expect(cpu.executed).toBe(0);
    expect(machine.clock.now).toBe(clock);
    const t = cpu.createThread(code, stackTop, 0);
    let cs = -1;
    let ss = -1;
    expect(cpu.run(t, 100, (f) => ((cs = f.arg(0)), (ss = f.arg(1)), 'stop'))).toEqual({ kind: 'trap' });
    expect([cs & 3, ss & 3]).toEqual([3, 3]); // RPL of CS is the CPL
    expect(cpu.executed).toBe(6);
    finish();
  });

  it('the privilege level survives thread switches and every later run', () => {
    // Each thread: cli-free work, a syscall, then cli: it must fault at CPL 3 whatever ran between.
    const { code, stackTop } = place('mov eax, 2\nsyscall\nmov eax, 2\nsyscall\ncli');
    const a = cpu.createThread(code, stackTop, 0);
    const b = cpu.createThread(code, stackTop - 512, 0);
    const frames: SyscallFrame[] = [];
    for (let i = 0; i < 2; i++) for (const t of [a, b]) expect(cpu.run(t, 100, stopOn(frames))).toEqual({ kind: 'trap' });
    for (const t of [a, b]) expect(cpu.run(t, 100, stopOn(frames))).toEqual({ kind: 'fault', fault: { kind: 'privilegedInstruction', address: code + 14, rip: code + 14, instruction: 'cli' } });
    finish();
  });

  it('rdtsc five times in a row: each the virtual clock, and a later #DE is still a divide error', () => {
    // Every emulated rdtsc is an intercepted #GP; without clearing the exception in flight the
    // second would arrive as #DF and the third would end the run silently (a triple fault).
    const reads = Array.from({ length: 5 }, (_, i) => `rdtsc\nshl rdx, 32\nor rax, rdx\nmov [rbp + ${8 * i}], rax`).join('\n');
    const before = `mov rbp, rdi\n${reads}\nxor ecx, ecx`;
    const { code, data, stackTop } = place(`${before}\ndiv ecx`);
    const t = cpu.createThread(code, stackTop, data);
    const start = machine.clock.now;
    const stop = cpu.run(t, 1000, () => 'stop');
    const div = code + length(before);
    expect(stop).toEqual({ kind: 'fault', fault: { kind: 'divideError', address: div, rip: div, instruction: 'div ecx', detail: 0 } });
    const got = [...new BigUint64Array(machine.frames.view(data, 40).slice().buffer)].map(Number);
    // mov rbp, then per reading rdtsc, shl, or, mov: the first is the 2nd instruction, each next 4 later.
    expect(got).toEqual([2, 6, 10, 14, 18].map((n) => start + n * machine.costs.instructionNs));
    finish();
  });

  it('rdtscp sets ECX to processor 0; rdtscp as the budget\'s last instruction resumes right after it', () => {
    const { code, stackTop } = place('mov ecx, -1\nrdtscp\nshl rdx, 32\nor rax, rdx\nmov rdi, rcx\nmov rsi, rax\nmov eax, 4\nsyscall');
    const t = cpu.createThread(code, stackTop, 0);
    const start = machine.clock.now;
    expect(cpu.run(t, 2, () => 'stop')).toEqual({ kind: 'budget' });
    const frames: SyscallFrame[] = [];
    expect(cpu.run(t, 100, stopOn(frames))).toEqual({ kind: 'trap' });
    expect([frames[0]!.arg(0), frames[0]!.arg(1)]).toEqual([0, start + 2 * machine.costs.instructionNs]);
    expect(cpu.executed).toBe(8);
    finish();
  });

  it('a port access faults at itself and nothing after it runs', () => {
    const { code, data, stackTop } = place('mov rbx, rdi\nmov byte ptr [rbx], 7\nin al, 0x60\nmov [rbx], al\nmov eax, 4\nsyscall');
    const t = cpu.createThread(code, stackTop, data);
    expect(cpu.run(t, 100, () => 'stop')).toEqual({ kind: 'fault', fault: { kind: 'privilegedInstruction', address: code + 6, rip: code + 6, instruction: 'in al, 0x60' } });
    expect(machine.frames.view(data, 1)[0]).toBe(7); // the store after the in never happened
    expect(cpu.executed).toBe(3);
    finish();
  });

  it('the system page in the kernel half is out of reach: a read, a jump and a segment load fault', () => {
    const cases: [string, number][] = [
      ['movabs rax, 0xffff800000000000\nmov al, [rax]', 10], // the read, after the 10-byte movabs
      ['movabs rax, 0xffff800000000100\njmp rax', 10],
      ['mov eax, 0x23\nmov ds, eax', 5], // the guest's own data selector: the CPU reads the table
    ];
    for (const [src, at] of cases) {
      const { code, stackTop } = place(src);
      const stop: StopReason = cpu.run(cpu.createThread(code, stackTop, 0), 100, () => 'stop');
      expect(stop.kind === 'fault' && [stop.fault.kind, stop.fault.rip]).toEqual(['generalProtection', code + at]);
      finish();
    }
  });

  it('cpuid answers from the table, for any leaf, without executing the model\'s cpuid', () => {
    const { code, stackTop } = place('mov eax, edi\nmov ecx, 5\ncpuid\nmov rdi, rax\nmov rsi, rbx\nmov r10, rdx\nmov rdx, rcx\nmov eax, 4\nsyscall');
    for (const leaf of [0, 1, 2, 0x8000_0001, 0xffff_ffff]) {
      const t = cpu.createThread(code, stackTop, leaf);
      const frames: SyscallFrame[] = [];
      cpu.run(t, 100, stopOn(frames));
      const answer = cpuidAnswer(leaf);
      expect([0, 1, 2, 3].map((i) => frames[0]!.arg(i))).toEqual(answer);
      cpu.destroyThread(t);
    }
    finish();
  });
});

describe('the kind of a #GP', () => {
  it('is privilegedInstruction for ring-0 instructions, generalProtection for the rest', () => {
    for (const i of ['hlt', 'cli', 'wrmsr', 'mov cr3, rax', 'mov rax, dr6', 'lidt [rdi]', 'swapgs', 'rep insb byte ptr [rdi], dx', 'out dx, al']) {
      expect([i, generalProtectionKind(i)]).toEqual([i, 'privilegedInstruction']);
    }
    for (const i of ['mov ss, eax', 'mov rax, rcx', 'iretq', 'ljmp [rsp]', '(undecodable: 66 66)', '']) {
      expect([i, generalProtectionKind(i)]).toEqual([i, 'generalProtection']);
    }
  });
});
