// The Unicorn binding on its own: registers, memory, hooks, budgets, contexts and errors.
// Each guest snippet ends in a syscall or hlt, never at `until` (docs/unicorn.md#until-hides-staleness).

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Engine, UnicornError, unicornVersion } from '../emulator/unicorn/engine.ts';
import { HostMemory } from '../emulator/unicorn/host-memory.ts';
import { UC_MEM_READ_UNMAPPED, UC_MEM_WRITE_PROT, UC_PROT_EXEC, UC_PROT_READ, UC_PROT_WRITE } from '../emulator/unicorn/consts.ts';
import { assemble } from '../hicmod-toolchain/asm.ts';

const CODE = 0x10000;
const DATA = 0x20000;
let e: Engine;
let mem: HostMemory;

beforeEach(() => {
  e = Engine.open();
  mem = HostMemory.allocate(0x10000);
});
afterEach(() => {
  e.close();
  mem.free();
});

function load(src: string): void {
  mem.bytes.set(assemble(src), 0);
  e.mapHost(CODE, 0x1000, UC_PROT_READ | UC_PROT_EXEC, mem, 0);
  e.mapHost(DATA, 0x1000, UC_PROT_READ | UC_PROT_WRITE, mem, 0x1000);
}

describe('engine', () => {
  it('reports the library version it runs on', () => {
    expect(unicornVersion()).toMatch(/^2\.0\./);
  });

  it('reads and writes single registers, full 64 bits', () => {
    e.regWrite('R13', 0xfedc_ba98_7654_3210n);
    expect(e.regRead('R13')).toBe(0xfedc_ba98_7654_3210n);
  });

  it('reads and writes registers in one batch', () => {
    const b = e.batch(['RAX', 'RBX', 'R15']);
    b.values.set([1n, 2n ** 60n, 3n]);
    b.write();
    expect(e.regRead('RBX')).toBe(2n ** 60n);
    e.regWrite('R15', 99);
    b.read();
    expect([...b.values]).toEqual([1n, 2n ** 60n, 99n]);
    expect(b.number(0)).toBe(1);
    expect(b.number(1)).toBe(-1); // ≥ 2^53: never handed out as a number
    b.free();
  });

  it('maps host memory: guest stores land in the host block, and the other way round', () => {
    load('mov rax, 0x1122334455667788\nmov [0x20000], rax\nmov rbx, [0x20008]\nhlt');
    mem.bytes[0x1008] = 0x5a;
    expect(e.start(CODE, 100)).toBe('OK');
    expect(Buffer.from(mem.bytes.subarray(0x1000, 0x1008)).readBigUInt64LE()).toBe(0x1122334455667788n);
    expect(e.regRead('RBX') & 0xffn).toBe(0x5an);
    expect(e.read(DATA, 8)).toEqual(mem.bytes.slice(0x1000, 0x1008));
  });

  it('turns every uc_err of a management call into a typed error with Unicorn\'s message', () => {
    expect(() => e.mapHost(0x1234, 0x1000, UC_PROT_READ, mem, 0)).toThrow(UnicornError);
    try {
      e.unmap(0x900000, 0x1000);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(UnicornError);
      expect((err as UnicornError).code).toBe('UC_ERR_NOMEM');
      expect((err as UnicornError).message).toMatch(/uc_mem_unmap\(0x900000, 0x1000\): .+ \(UC_ERR_NOMEM\)/);
    }
    expect(() => e.mapHost(CODE, 0x2000, UC_PROT_READ, mem, 0xf000)).toThrow(RangeError); // past the host block
  });

  it('stops after exactly the instruction budget and resumes exactly', () => {
    load('xor eax, eax\n1: inc rax\njmp 1b');
    e.start(CODE, 1 + 2 * 10); // xor, then 10 × (inc, jmp)
    expect(e.regRead('RAX')).toBe(10n);
    e.start(Number(e.regRead('RIP')), 2 * 5);
    expect(e.regRead('RAX')).toBe(15n);
  });

  it('traps syscall inside the engine; the handler can resume the guest without stopping', () => {
    load('mov ebx, 3\n1: mov eax, 7\nsyscall\nadd rcx, rax\ndec ebx\njnz 1b\nhlt');
    const r = e.batch(['RAX']);
    let calls = 0;
    e.onSyscall(() => {
      calls++;
      r.values[0] = 100n;
      r.write();
    });
    e.regWrite('RCX', 0);
    expect(e.start(CODE, 1000)).toBe('OK');
    expect(calls).toBe(3);
    expect(e.regRead('RCX')).toBe(300n);
  });

  it('stop() inside the syscall trap leaves RIP after the syscall', () => {
    load('mov eax, 1\nsyscall\nmov eax, 2\nhlt');
    e.onSyscall(() => e.stop());
    e.start(CODE, 1000);
    expect(e.regRead('RIP')).toBe(BigInt(CODE + 7)); // mov eax,imm32 (5) + syscall (2)
    expect(e.regRead('RAX')).toBe(1n);
  });

  it('reports unmapped and protected accesses with exact address and size', () => {
    load('mov rax, [0x500000]\nhlt');
    const seen: [number, number, number][] = [];
    e.onMemInvalid((type, address, size) => seen.push([type, address, size]));
    expect(e.start(CODE, 100)).toBe('READ_UNMAPPED');
    expect(seen).toEqual([[UC_MEM_READ_UNMAPPED, 0x500000, 8]]);
    expect(e.regRead('RIP')).toBe(BigInt(CODE)); // exact thanks to the dummy memory hook (docs/unicorn.md#imprecise-rip)
  });

  it('reports a write to a read-only page', () => {
    load('mov byte ptr [0x10000], 1\nhlt');
    const seen: number[] = [];
    e.onMemInvalid((type, address) => seen.push(type, address));
    expect(e.start(CODE, 100)).toBe('WRITE_PROT');
    expect(seen).toEqual([UC_MEM_WRITE_PROT, CODE]);
  });

  it('delivers divide error and int3 as interrupts 0 and 3', () => {
    load('xor ecx, ecx\nmov eax, 1\ncdq\nidiv ecx\nhlt');
    const vectors: number[] = [];
    e.onInterrupt((n) => {
      vectors.push(n);
      e.stop();
    });
    e.start(CODE, 100);
    expect(vectors).toEqual([0]);
    mem.bytes.set(assemble('int3\nhlt'), 0);
    e.removeTranslations(CODE, CODE + 0x1000); // bytes changed behind the engine's back (docs/unicorn.md#stale-translations)
    e.start(CODE, 100);
    expect(vectors).toEqual([0, 3]);
  });

  it('reports an invalid instruction with its exact RIP', () => {
    load('nop\nud2');
    let hooked = 0;
    e.onInsnInvalid(() => hooked++);
    expect(e.start(CODE, 100)).toBe('INSN_INVALID');
    expect(hooked).toBe(1);
    expect(e.regRead('RIP')).toBe(BigInt(CODE + 1));
  });

  it('code hooks fire for each instruction in their range', () => {
    load('nop\nnop\nnop\nhlt');
    const at: number[] = [];
    e.hookCode(CODE + 1, CODE + 2, (address) => at.push(address));
    e.start(CODE, 100);
    expect(at).toEqual([CODE + 1, CODE + 2]);
  });

  it('a throw inside a hook stops the guest and surfaces from start()', () => {
    load('1: mov eax, 1\nsyscall\njmp 1b');
    e.onSyscall(() => {
      throw new Error('kernel bug');
    });
    expect(() => e.start(CODE, 1_000_000)).toThrow('kernel bug');
  });

  it('saves and restores a whole register context', () => {
    const ctx = e.contextAlloc();
    e.regWrite('RAX', 1);
    e.regWrite('RIP', CODE);
    e.contextSave(ctx);
    e.regWrite('RAX', 2);
    e.contextRestore(ctx);
    expect(e.regRead('RAX')).toBe(1n);
    const other = Engine.open();
    expect(() => other.contextRestore(ctx)).toThrow(/another engine/);
    other.close();
    ctx.free();
  });
});
