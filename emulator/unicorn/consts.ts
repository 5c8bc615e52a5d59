// Unicorn 2.0.1 constants used by HIC, copied by value from <unicorn/unicorn.h> and
// <unicorn/x86.h>. Only what the binding needs; the numbers are part of libunicorn's ABI.

export const UC_ARCH_X86 = 4;
export const UC_MODE_64 = 8;

/** uc_err, in enum order. The index is the numeric code. */
export const UC_ERR_NAMES = [
  'OK', 'NOMEM', 'ARCH', 'HANDLE', 'MODE', 'VERSION',
  'READ_UNMAPPED', 'WRITE_UNMAPPED', 'FETCH_UNMAPPED', 'HOOK', 'INSN_INVALID', 'MAP',
  'WRITE_PROT', 'READ_PROT', 'FETCH_PROT', 'ARG',
  'READ_UNALIGNED', 'WRITE_UNALIGNED', 'FETCH_UNALIGNED', 'HOOK_EXIST', 'RESOURCE', 'EXCEPTION',
] as const;
export type UcErrName = (typeof UC_ERR_NAMES)[number];

export const UC_PROT_NONE = 0;
export const UC_PROT_READ = 1;
export const UC_PROT_WRITE = 2;
export const UC_PROT_EXEC = 4;

export const UC_HOOK_INTR = 1 << 0;
export const UC_HOOK_INSN = 1 << 1;
export const UC_HOOK_CODE = 1 << 2;
export const UC_HOOK_MEM_READ_UNMAPPED = 1 << 4;
export const UC_HOOK_MEM_WRITE_UNMAPPED = 1 << 5;
export const UC_HOOK_MEM_FETCH_UNMAPPED = 1 << 6;
export const UC_HOOK_MEM_READ_PROT = 1 << 7;
export const UC_HOOK_MEM_WRITE_PROT = 1 << 8;
export const UC_HOOK_MEM_FETCH_PROT = 1 << 9;
export const UC_HOOK_MEM_READ = 1 << 10;
export const UC_HOOK_MEM_WRITE = 1 << 11;
export const UC_HOOK_INSN_INVALID = 1 << 14;
export const UC_HOOK_MEM_INVALID =
  UC_HOOK_MEM_READ_UNMAPPED | UC_HOOK_MEM_WRITE_UNMAPPED | UC_HOOK_MEM_FETCH_UNMAPPED |
  UC_HOOK_MEM_READ_PROT | UC_HOOK_MEM_WRITE_PROT | UC_HOOK_MEM_FETCH_PROT;

/** uc_mem_type values passed to memory hooks. */
export const UC_MEM_READ = 16;
export const UC_MEM_WRITE = 17;
export const UC_MEM_READ_UNMAPPED = 19;
export const UC_MEM_WRITE_UNMAPPED = 20;
export const UC_MEM_FETCH_UNMAPPED = 21;
export const UC_MEM_WRITE_PROT = 22;
export const UC_MEM_READ_PROT = 23;
export const UC_MEM_FETCH_PROT = 24;

/** Instructions an UC_HOOK_INSN hook can watch in 2.0.1 (rdtsc, rdmsr, hlt and the rest cannot). */
export const UC_X86_INS_SYSCALL = 699;
export const UC_X86_INS_CPUID = 113;
export const UC_X86_INS_IN = 218;
export const UC_X86_INS_OUT = 500;

/** uc_ctl control words, already combined with UC_CTL_IO_WRITE and the argument count. */
export const UC_CTL_TB_REMOVE_CACHE = 0x48000009;

/** x86-64 register ids (uc_x86_reg). */
export const X86 = {
  RAX: 35, RBX: 37, RCX: 38, RDX: 40, RSI: 43, RDI: 39, RBP: 36, RSP: 44,
  R8: 106, R9: 107, R10: 108, R11: 109, R12: 110, R13: 111, R14: 112, R15: 113,
  RIP: 41, RFLAGS: 253, FS_BASE: 250, GS_BASE: 251,
  CS: 11, SS: 49, DS: 17, ES: 28, FS: 32, GS: 33, CR4: 54,
} as const;

/** The GDTR, written as a uc_x86_mmr (selector u16 at 0, base u64 at 8, limit u32 at 16, flags u32 at 20). */
export const UC_X86_REG_GDTR = 243;
export const UC_X86_MMR_SIZE = 24;
export type X86Reg = keyof typeof X86;
