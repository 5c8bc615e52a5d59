// A crash dump, taken when a guest faults and before its sandbox is torn down: what a person needs
// to see why it died without re-running it -- the registers, the code at RIP, the top of the stack.
// It rides on the `fault` event (events.ts), so the event log, the audit log and the update
// report's root-cause section (system/update/report.ts) all carry it.
//
// x86 code cannot be disassembled backwards with certainty, so the code is the faulting
// instruction and the few after it, with the bytes just before RIP in hex for whoever wants to
// line them up with a listing (`hic debug` has the symbols).

import type { Fault } from '../emulator/fault.ts';
import type { Cpu, Machine, ThreadHandle } from '../emulator/types.ts';
import { DEBUG_REGISTERS } from '../emulator/types.ts';

export interface CrashDump {
  /** Every register the debugger knows, as 0x-prefixed hex. */
  readonly registers: Readonly<Record<string, string>>;
  /** "0x…  text" for the faulting instruction (first) and the ones after it; empty when RIP is not readable. */
  readonly code: readonly string[];
  /** The 16 bytes before RIP, hex, when readable. */
  readonly before: string;
  /** "rsp+0x08  0x…" for the top of the stack, as far as it is readable. */
  readonly stack: readonly string[];
}

const CODE_INSTRUCTIONS = 6;
const CODE_BYTES = 64;
const STACK_WORDS = 16;
const hex = (v: bigint | number) => `0x${v.toString(16)}`;

export function crashDump(machine: Machine, cpu: Cpu, thread: ThreadHandle, fault: Fault): CrashDump {
  const regs = cpu.debug.registers(thread);
  const registers = Object.fromEntries(DEBUG_REGISTERS.map((r) => [r, hex(regs[r])]));
  const rip = fault.rip;
  // What can be read of [va, va + n): shorter at the end of a mapping, undefined if nothing is.
  const readable = (va: number, n: number): Uint8Array | undefined => {
    for (let len = n; len > 0; len = Math.floor(len / 2)) {
      const v = cpu.space.view(va, len);
      if (v) return v.slice();
    }
    return undefined;
  };
  const bytes = readable(rip, CODE_BYTES);
  const code = bytes ? machine.disassemble(bytes, rip, CODE_INSTRUCTIONS).map((i) => `${hex(i.address)}  ${i.text}`) : [];
  const prior = rip >= 16 ? readable(rip - 16, 16) : undefined;
  const before = prior && prior.length === 16 ? Buffer.from(prior).toString('hex') : '';
  const rsp = Number(regs.rsp);
  const top = readable(rsp, STACK_WORDS * 8);
  const stack: string[] = [];
  if (top) {
    const dv = new DataView(top.buffer, top.byteOffset, top.byteLength);
    for (let i = 0; i + 8 <= top.length; i += 8) stack.push(`rsp+${hex(i)}  ${hex(dv.getBigUint64(i, true))}`);
  }
  return { registers, code, before, stack };
}
