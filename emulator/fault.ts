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
  { name: 'privilegedInstruction', doc: 'a ring-0 instruction, refused at the guest\'s CPL 3 (hlt, cli, wrmsr, mov to a control or debug register, lidt, swapgs, ...), or port I/O' },
  { name: 'cpuException', doc: 'any other CPU exception' },
  // Appended, so the numbers the guest header gives the kinds above do not change.
  { name: 'generalProtection', doc: '#GP for another reason: a segment or descriptor-table operation (guests have none), an instruction over 15 bytes, an access to the kernel half' },
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

// Instructions reserved to ring 0, by the mnemonic the disassembler prints (without rep/lock).
const RING0 = new Set([
  'hlt', 'cli', 'sti', 'wrmsr', 'rdmsr', 'rdpmc', 'lgdt', 'lidt', 'lldt', 'ltr', 'lmsw', 'clts', 'invd', 'wbinvd',
  'invlpg', 'invpcid', 'swapgs', 'sysret', 'sysretq', 'sysexit', 'sysexitq', 'xsetbv',
  'in', 'out', 'insb', 'insw', 'insd', 'outsb', 'outsw', 'outsd',
]);

/**
 * The kind of a #GP, from the faulting instruction as disassembled: privilegedInstruction when
 * the instruction is one only ring 0 may run (mov counts when it moves a control or debug
 * register), generalProtection for everything else — including bytes that do not decode.
 */
export function generalProtectionKind(instruction: string): FaultKind {
  const words = instruction.split(' ').filter((w) => w !== 'rep' && w !== 'lock');
  const mnemonic = words[0] ?? '';
  if (RING0.has(mnemonic)) return 'privilegedInstruction';
  if (mnemonic === 'mov' && /\b[cd]r\d+\b/.test(words.slice(1).join(' '))) return 'privilegedInstruction';
  return 'generalProtection';
}

export function describeFault(f: Fault): string {
  const hex = (n: number) => '0x' + n.toString(16);
  const at = f.kind.startsWith('read') || f.kind.startsWith('write') || f.kind.startsWith('fetch') ? ` address ${hex(f.address)}` : '';
  return `${f.kind}${at} at rip ${hex(f.rip)}: ${f.instruction}`;
}
