// The sandbox CPU: threads as saved contexts sharing one engine, syscalls handled inside the trap,
// stop reasons, fault descriptions, and the virtual-time charge.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UnicornMachine } from '../emulator/machine.ts';
import type { Cpu, SyscallFrame } from '../emulator/types.ts';
import { assemble } from '../hicmod-toolchain/asm.ts';

let machine: UnicornMachine;
let cpu: Cpu;
const OWNER = 1;

/** Code at one page (RX) and a stack page (RW), both at their physical address. */
function place(src: string): { code: number; stackTop: number } {
  const f = machine.frames.allocate(3, OWNER);
  const code = f * 4096;
  machine.frames.view(code, 4096).set(assemble(src));
  cpu.space.tryMap(code, f, 1, { writable: false, executable: true });
  cpu.space.tryMap(code + 8192, f + 2, 1, { writable: true, executable: false }); // f+1 stays a hole
  return { code, stackTop: code + 3 * 4096 - 8 };
}

beforeEach(async () => {
  machine = await UnicornMachine.create({ memoryBytes: 8 << 20 });
  cpu = machine.createCpu(0x4000_0000 | OWNER);
});
afterEach(() => machine.dispose());

describe('cpu', () => {
  it('runs two threads on one engine with separate registers, swapping contexts', () => {
    // Each thread adds its arg to rbx five times, calling syscall 2 after each add.
    const { code, stackTop } = place('xor ebx, ebx\nmov ecx, 5\n1: add rbx, rdi\npush rcx\nmov eax, 2\nsyscall\npop rcx\ndec ecx\njnz 1b\nmov rdi, rbx\nmov eax, 4\nsyscall');
    const a = cpu.createThread(code, stackTop, 1);
    const b = cpu.createThread(code, stackTop - 1024, 100);
    const exits = new Map<number, number>();
    const trap = (t: { id: number }) => (f: SyscallFrame) => {
      if (f.nr === 4) exits.set(t.id, f.arg(0));
      return 'stop' as const;
    };
    for (let i = 0; i < 6; i++) {
      expect(cpu.run(a, 10_000, trap(a))).toEqual({ kind: 'trap' });
      expect(cpu.run(b, 10_000, trap(b))).toEqual({ kind: 'trap' });
    }
    expect(exits.get(a.id)).toBe(5);
    expect(exits.get(b.id)).toBe(500);
  });

  it('hands syscall arguments over and returns results in rax without leaving the engine', () => {
    const { code, stackTop } = place('mov eax, 9\nmov rdi, 11\nmov rsi, 22\nmov rdx, 33\nmov r10, 44\nmov r8, 55\nmov r9, -1\nsyscall\nmov rdi, rax\nmov eax, 4\nsyscall');
    const t = cpu.createThread(code, stackTop, 0);
    const seen: (number | bigint)[][] = [];
    expect(
      cpu.run(t, 1000, (f) => {
        seen.push([f.nr, f.arg(0), f.arg(1), f.arg(2), f.arg(3), f.arg(4), f.arg(5), f.wideArg(5)]);
        if (f.nr === 9) {
          f.setResult(-7);
          return 'continue';
        }
        return 'stop';
      }),
    ).toEqual({ kind: 'trap' });
    expect(seen).toEqual([
      [9, 11, 22, 33, 44, 55, -1, 0xffff_ffff_ffff_ffffn],
      [4, -1, expect.anything(), expect.anything(), 44, 55, -1, 0xffff_ffff_ffff_ffffn], // rdi = -7 as u64: out of number range
    ]);
  });

  it('a result set while the thread is away is in rax when it resumes', () => {
    const { code, stackTop } = place('mov eax, 3\nsyscall\nmov rdi, rax\nmov eax, 4\nsyscall');
    const t = cpu.createThread(code, stackTop, 0);
    cpu.run(t, 1000, () => 'stop');
    cpu.setResult(t, 1234);
    let got = -1;
    cpu.run(t, 1000, (f) => ((got = f.arg(0)), 'stop'));
    expect(got).toBe(1234);
  });

  it('reports a preempted thread as budget, charges the clock, and resumes where it stopped', () => {
    const { code, stackTop } = place('xor eax, eax\n1: inc rax\ncmp rax, 1000\njne 1b\nmov rdi, rax\nmov eax, 4\nsyscall');
    const t = cpu.createThread(code, stackTop, 0);
    const before = machine.clock.now;
    expect(cpu.run(t, 100, () => 'stop')).toEqual({ kind: 'budget' });
    expect(machine.clock.now - before).toBe(100 * machine.costs.instructionNs);
    let result = 0;
    while (cpu.run(t, 100, (f) => ((result = f.arg(0)), 'stop')).kind === 'budget');
    expect(result).toBe(1000);
  });

  it('describes a fault with kind, address, rip and the disassembled instruction', () => {
    const { code, stackTop } = place('mov rax, [rip + 0x1000 - 7]\nhlt'); // reads the hole at code+4096
    const t = cpu.createThread(code, stackTop, 0);
    const stop = cpu.run(t, 100, () => 'stop');
    expect(stop).toEqual({ kind: 'fault', fault: { kind: 'readUnmapped', address: code + 4096, rip: code, instruction: 'mov rax, qword ptr [rip + 0xff9]', detail: 8 } });
  });

  it('a stack overflow into the unmapped page below faults as a write', () => {
    const { code, stackTop } = place('1: push rax\njmp 1b');
    const t = cpu.createThread(code, stackTop, 0);
    const stop = cpu.run(t, 10_000, () => 'stop');
    expect(stop.kind === 'fault' && stop.fault.kind).toBe('writeUnmapped');
    expect(stop.kind === 'fault' && stop.fault.address).toBe(code + 8192 - 8);
  });
});

describe('cpu: virtual time and privileged instructions', () => {
  it('charges exactly the instructions executed, up to the syscall that reads the clock', () => {
    const { code, stackTop } = place('mov ecx, 1000\n1: dec ecx\njnz 1b\nmov eax, 5\nsyscall\nhlt');
    const t = cpu.createThread(code, stackTop, 0);
    const start = machine.clock.now;
    let seen = -1;
    cpu.run(t, 100_000, () => ((seen = machine.clock.now), 'stop'));
    // mov, 1000 × (dec, jnz), mov, syscall — then the trap's own charge.
    expect(seen - start).toBe((1 + 2000 + 2) * machine.costs.instructionNs + machine.costs.syscallNs);
    expect(cpu.executed).toBe(2003);
  });

  it('hlt is a privileged instruction: the thread faults at it', () => {
    const { code, stackTop } = place('nop\nhlt');
    const t = cpu.createThread(code, stackTop, 0);
    expect(cpu.run(t, 100, () => 'stop')).toEqual({ kind: 'fault', fault: { kind: 'privilegedInstruction', address: code + 1, rip: code + 1, instruction: 'hlt' } });
  });
});
