// The debugger's hold on a sandbox CPU (emulator/cpu-debug.ts): every kind of stop lands between
// two instructions and the run goes on from there with the same registers, memory, instruction
// count and clock as a run that never stopped.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UnicornMachine } from '../emulator/machine.ts';
import type { Cpu, StopReason, SyscallFrame, ThreadHandle } from '../emulator/types.ts';
import { assemble } from '../hicmod-toolchain/asm.ts';

let machine: UnicornMachine;
let cpu: Cpu;
const OWNER = 1;

// rbx points at a data word; every pass adds 3 to it (a read-modify-write: running it twice
// would show), pushes and pops, and calls syscall 7; then exits with syscall 4.
const LOOP = `mov rbx, rsp
sub rbx, 512
xor eax, eax
1: inc rax
add qword ptr [rbx], 3
push rax
pop rcx
mov r12, rax
mov eax, 7
syscall
mov rax, r12
cmp rax, 50
jne 1b
mov eax, 4
syscall`;

function place(src: string): { code: number; stackTop: number; data: number } {
  const f = machine.frames.allocate(3, OWNER);
  const code = f * 4096;
  machine.frames.view(code, 4096).set(assemble(src));
  cpu.space.tryMap(code, f, 1, { writable: false, executable: true });
  cpu.space.tryMap(code + 8192, f + 2, 1, { writable: true, executable: false });
  const stackTop = code + 3 * 4096 - 8;
  return { code, stackTop, data: stackTop - 512 };
}

const trap = (f: SyscallFrame) => (f.nr === 4 ? 'stop' : 'continue') as 'stop' | 'continue';

/** Runs t to its exit, resuming after every debug stop; what each stop looked like. */
function runToExit(t: ThreadHandle, budget = 1_000_000): { stops: number; last: StopReason } {
  let stops = 0;
  for (;;) {
    const r = cpu.run(t, budget, trap);
    if (r.kind !== 'debug') return { stops, last: r };
    stops++;
    if (stops > 10_000) throw new Error('no progress');
  }
}

beforeEach(async () => {
  machine = await UnicornMachine.create({ memoryBytes: 8 << 20 });
  cpu = machine.createCpu(0x4000_0000 | OWNER);
});
afterEach(() => machine.dispose());

/** The reference: the same program with no debugger. */
async function reference(): Promise<{ executed: number; now: number; word: number; regs: Record<string, bigint> }> {
  const m = await UnicornMachine.create({ memoryBytes: 8 << 20 });
  try {
    const c = m.createCpu(0x4000_0000 | OWNER);
    const f = m.frames.allocate(3, OWNER);
    const code = f * 4096;
    m.frames.view(code, 4096).set(assemble(LOOP));
    c.space.tryMap(code, f, 1, { writable: false, executable: true });
    c.space.tryMap(code + 8192, f + 2, 1, { writable: true, executable: false });
    const t = c.createThread(code, code + 3 * 4096 - 8, 0);
    expect(c.run(t, 1_000_000, trap)).toEqual({ kind: 'trap' });
    const regs = c.debug.registers(t);
    return { executed: c.executed, now: m.clock.now, word: m.frames.view(code + 3 * 4096 - 8 - 512, 1)[0]!, regs: { rax: regs.rax, rcx: regs.rcx, rip: regs.rip - BigInt(code) } };
  } finally {
    m.dispose();
  }
}

describe('cpu debug port', () => {
  it('a breakpoint stops before its instruction, every pass, and the run goes on unchanged', async () => {
    const ref = await reference();
    const { code, stackTop, data } = place(LOOP);
    const t = cpu.createThread(code, stackTop, 0);
    const at = machine.disassemble(machine.frames.view(code, 64), code).find((i) => i.text.startsWith('add qword'))!.address;
    let hits = 0;
    cpu.debug.breakAt(at, () => (hits++, true));
    const r = cpu.run(t, 1_000_000, trap);
    expect(r).toEqual({ kind: 'debug' });
    expect(cpu.debug.registers(t).rip).toBe(BigInt(at));
    expect(machine.frames.view(data, 1)[0]).toBe(0); // the add has not run
    let stops = 1;
    for (;;) {
      cpu.debug.resumePast(at);
      const s = cpu.run(t, 1_000_000, trap);
      if (s.kind !== 'debug') break;
      stops++;
      expect(cpu.debug.registers(t).rip).toBe(BigInt(at));
    }
    expect(stops).toBe(50);
    expect(hits).toBe(50);
    expect(cpu.executed).toBe(ref.executed);
    expect(machine.clock.now).toBe(ref.now);
    expect(machine.frames.view(data, 1)[0]).toBe(ref.word);
  });

  it('a watchpoint stops after the access, never runs the instruction twice', async () => {
    const ref = await reference();
    const { code, stackTop, data } = place(LOOP);
    const t = cpu.createThread(code, stackTop, 0);
    const seen: bigint[] = [];
    cpu.debug.watch(data, 8, 'write', (a) => (seen.push(a.value), true));
    const { stops, last } = runToExit(t);
    expect(last).toEqual({ kind: 'trap' });
    expect(stops).toBe(50);
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => BigInt(3 * (i + 1))));
    expect(cpu.executed).toBe(ref.executed);
    expect(machine.clock.now).toBe(ref.now);
    expect(machine.frames.view(data, 1)[0]).toBe(ref.word);
  });

  it('a held syscall stops before the syscall instruction; resumed past it, it is handled once', async () => {
    const ref = await reference();
    const { code, stackTop } = place(LOOP);
    const t = cpu.createThread(code, stackTop, 0);
    let handled = 0;
    const counting = (f: SyscallFrame) => (handled++, trap(f));
    cpu.debug.holdSyscall = (f) => f.nr === 7;
    let held = 0;
    for (;;) {
      const r = cpu.run(t, 1_000_000, counting);
      if (r.kind !== 'debug') break;
      held++;
      const rip = cpu.debug.registers(t).rip;
      expect(Array.from(machine.frames.view(Number(rip), 2))).toEqual([0x0f, 0x05]);
      cpu.debug.resumePast(Number(rip));
    }
    expect(held).toBe(50);
    expect(handled).toBe(51);
    expect(cpu.executed).toBe(ref.executed);
    expect(machine.clock.now).toBe(ref.now);
  });

  it('stops at an exact instruction count, and before the first instruction when already there', async () => {
    const ref = await reference();
    const { code, stackTop } = place(LOOP);
    const t = cpu.createThread(code, stackTop, 0);
    cpu.debug.stopAtCount(100);
    expect(cpu.run(t, 1_000_000, trap)).toEqual({ kind: 'debug' });
    expect(cpu.executed).toBe(100);
    expect(cpu.run(t, 1_000_000, trap)).toEqual({ kind: 'debug' });
    expect(cpu.executed).toBe(100);
    cpu.debug.stopAtCount(101);
    expect(cpu.run(t, 1_000_000, trap)).toEqual({ kind: 'debug' });
    expect(cpu.executed).toBe(101);
    cpu.debug.stopAtCount(undefined);
    expect(cpu.run(t, 1_000_000, trap)).toEqual({ kind: 'trap' });
    expect(cpu.executed).toBe(ref.executed);
    expect(machine.clock.now).toBe(ref.now);
  });

  it('a budget that runs out at the debug limit is still a budget stop', () => {
    const { code, stackTop } = place(LOOP);
    const t = cpu.createThread(code, stackTop, 0);
    cpu.debug.stopAtCount(40);
    expect(cpu.run(t, 40, trap)).toEqual({ kind: 'budget' });
  });

  it('reads and writes the registers of a thread whose context is saved, not in the engine', () => {
    const { code, stackTop } = place('mov rax, 5\nmov rbx, 6\nmov eax, 3\nsyscall\nmov rdi, rbx\nmov eax, 4\nsyscall');
    const a = cpu.createThread(code, stackTop, 11);
    const b = cpu.createThread(code, stackTop - 1024, 22);
    expect(cpu.run(a, 100, () => 'stop')).toEqual({ kind: 'trap' });
    expect(cpu.run(b, 1, () => 'stop')).toEqual({ kind: 'budget' }); // b is resident now
    expect(cpu.debug.registers(a).rbx).toBe(6n);
    expect(cpu.debug.registers(a).rdi).toBe(11n);
    expect(cpu.debug.registers(b).rdi).toBe(22n);
    expect(cpu.debug.registers(b).rax).toBe(5n);
    cpu.setResult(a, 77);
    expect(cpu.debug.registers(a).rax).toBe(77n);
    cpu.debug.setRegister(a, 'rbx', 99n);
    let exitStatus = -1;
    expect(cpu.run(a, 100, (f) => ((exitStatus = f.arg(0)), 'stop'))).toEqual({ kind: 'trap' });
    expect(exitStatus).toBe(99);
  });
});
