// The HIC system-call ABI: the one description from which the TypeScript constants below and the
// guest C header (services/include/hic/abi.h, via gen-header.ts) are derived. Change the ABI here,
// then run `hic abi --write`; a test fails when the checked-in header drifts from this table.
//
// Calling convention (x86-64, like the Linux syscall ABI so gcc's inline asm is familiar):
//   rax = syscall number; arguments in rdi, rsi, rdx, r10, r8, r9; result in rax.
//   A negative result is -(error code). rcx and r11 are clobbered (real hardware clobbers them,
//   Unicorn does not; guests must not rely on either).

export type CType = 'u64' | 'i64' | 'ptr' | 'cptr';

export interface SyscallSpec {
  readonly nr: number;
  readonly name: string;
  readonly args: readonly (readonly [name: string, type: CType])[];
  /** What a non-negative result means. */
  readonly returns: string;
  readonly noreturn?: boolean;
  readonly doc: string;
}

export const SYSCALLS = [
  { nr: 1, name: 'debug_log', args: [['text', 'cptr'], ['len', 'u64']], returns: '0',
    doc: 'Writes len bytes at text to the console, tagged with the sandbox name and virtual time. At most 1024 bytes.' },
  { nr: 2, name: 'yield', args: [], returns: '0',
    doc: 'Gives up the rest of the time slice; the thread stays runnable.' },
  { nr: 3, name: 'sleep', args: [['ns', 'u64']], returns: '0',
    doc: 'Blocks the thread for ns nanoseconds of virtual time.' },
  { nr: 4, name: 'exit', args: [['status', 'i64']], returns: 'never', noreturn: true,
    doc: 'Ends the sandbox with a status; its memory returns to the pool.' },
  { nr: 5, name: 'time_now', args: [], returns: 'virtual time in ns since boot',
    doc: 'Reads the virtual clock.' },
  { nr: 6, name: 'mem_alloc', args: [['len', 'u64']], returns: 'address of the new region',
    doc: 'Allocates len bytes (rounded up to pages) of zeroed, contiguous memory within the sandbox quota, mapped read-write, no-execute.' },
  { nr: 7, name: 'mem_free', args: [['addr', 'ptr'], ['len', 'u64']], returns: '0',
    doc: 'Returns a whole region obtained from mem_alloc; its frames are zeroed and freed.' },
  { nr: 8, name: 'mem_protect', args: [['addr', 'ptr'], ['len', 'u64'], ['prot', 'u64']], returns: '0',
    doc: 'Changes the protection of pages inside one mem_alloc region to HIC_PROT_READ or HIC_PROT_WRITE. Execute is never granted at run time: code comes only from the verified loader.' },
] as const satisfies readonly SyscallSpec[];

export type SyscallName = (typeof SYSCALLS)[number]['name'];

/** Error codes, returned to the guest as -(code). A closed set: adding one is an ABI change. */
export const ERRORS = [
  { code: 1, name: 'UNKNOWN_SYSCALL', doc: 'No syscall has this number.' },
  { code: 2, name: 'INVALID_ARGUMENT', doc: 'An argument is out of its range (alignment, size, flags).' },
  { code: 3, name: 'BAD_ADDRESS', doc: 'A pointer argument names memory the sandbox cannot access.' },
  { code: 4, name: 'NO_MEMORY', doc: 'No contiguous run of free frames is large enough.' },
  { code: 5, name: 'QUOTA_EXCEEDED', doc: 'The request would take the sandbox past its memory quota.' },
  { code: 6, name: 'MAPPING_LIMIT', doc: 'The request would exceed the per-sandbox limit on engine mappings.' },
  { code: 7, name: 'NOT_FOUND', doc: 'The address is not the start of a region the call applies to.' },
] as const;

export type ErrorName = (typeof ERRORS)[number]['name'];
export const Err = Object.fromEntries(ERRORS.map((e) => [e.name, e.code])) as { readonly [K in ErrorName]: number };

/** Page protection for mem_protect. Read is implied. */
export const PROT = [
  { name: 'READ', value: 0, doc: 'read only' },
  { name: 'WRITE', value: 2, doc: 'read and write' },
  { name: 'EXEC', value: 4, doc: 'execute: always refused at run time (W^X, code only from the loader)' },
] as const;
export const Prot = { READ: 0, WRITE: 2, EXEC: 4 } as const;

export { FAULT_KINDS, type FaultKind } from '../../emulator/fault.ts';

export const SYSCALL_BY_NR: ReadonlyMap<number, SyscallSpec> = new Map(SYSCALLS.map((s) => [s.nr, s]));

/**
 * The service entry table: every service module exports it under SERVICE_ENTRY.symbol, and the
 * loader starts the service's first thread at `start` (docs/hicmod-format.md). Later protocol
 * functions (state migration) are appended; `abi` says how many fields a module fills in.
 */
export const SERVICE_ENTRY = {
  symbol: '_service_entry',
  magic: 0x43565348, // "HSVC"
  abi: 1,
  fields: [
    ['magic', 'uint32_t', 'SERVICE_ENTRY_MAGIC'],
    ['abi', 'uint32_t', 'SERVICE_ENTRY_ABI'],
    ['start', 'void (*start)(uint64_t arg)', 'entry of the first thread; rdi = the manifest argument'],
  ],
  size: 16,
} as const;
