// Fault kinds: everything that stops a guest thread other than its own syscalls. The emulator
// produces them; Core-0 receives them as typed events. core0/abi/abi.ts re-exports this list so
// the generated guest header names them too.

export const FAULT_KINDS = [
  { name: 'readUnmapped', doc: 'read of an address outside the sandbox mapping' },
  { name: 'writeUnmapped', doc: 'write to an address outside the sandbox mapping' },
  { name: 'fetchUnmapped', doc: 'execution at an address outside the sandbox mapping' },
  { name: 'writeProtected', doc: 'write to a read-only page' },
  { name: 'readProtected', doc: 'read of a page mapped without read permission' },
  { name: 'fetchProtected', doc: 'execution of a no-execute page' },
  { name: 'invalidInstruction', doc: 'an undefined or unsupported instruction' },
  { name: 'divideError', doc: 'integer division by zero or overflow (#DE)' },
  { name: 'breakpoint', doc: 'int3 (#BP)' },
  { name: 'privilegedInstruction', doc: 'hlt: a ring-0 instruction (#GP in user mode on real hardware)' },
  { name: 'cpuException', doc: 'any other CPU exception' },
] as const;

export type FaultKind = (typeof FAULT_KINDS)[number]['name'];

export interface Fault {
  readonly kind: FaultKind;
  /** The address the access touched; for execution and instruction faults, the RIP. */
  readonly address: number;
  readonly rip: number;
  /** The faulting instruction, disassembled, or '(unreadable)' when its bytes are not mapped. */
  readonly instruction: string;
  /** Access size in bytes for memory faults, the interrupt vector for CPU exceptions. */
  readonly detail?: number;
}

export function describeFault(f: Fault): string {
  const hex = (n: number) => '0x' + n.toString(16);
  const at = f.kind.startsWith('read') || f.kind.startsWith('write') || f.kind.startsWith('fetch') ? ` address ${hex(f.address)}` : '';
  return `${f.kind}${at} at rip ${hex(f.rip)}: ${f.instruction}`;
}
