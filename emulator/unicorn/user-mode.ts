// The system page: what it takes to put an engine's CPU at privilege level 3, where guests run.
//
// An engine starts at CPL 0, where a guest could execute cli, wrmsr, mov to a control or debug
// register (a DR7 write has crashed the host), lidt, swapgs and the rest. Unicorn 2.0.1 has no
// API for the CPL: writing CS and SS with uc_reg_write changes the selectors but not the
// privilege level (docs/unicorn.md#privilege). The CPU's own iretq does: Engine.enterUserMode() maps this page, points GDTR
// at its descriptor table, runs the one iretq at ENTRY with RSP at FRAME, and stops before the
// first instruction at CPL 3 (LANDING, never executed). Then the page is unmapped again — before
// any guest code runs — so no guest can read, write or jump into it, and it never counts as one
// of a sandbox's mappings. The CPL is part of the saved context, so every thread created after
// the entry, and every later uc_emu_start, runs at CPL 3.
//
// Nothing reads the descriptor table afterwards unless a guest asks for a segment (mov to a
// segment register, far jmp/call/ret, iretq, lar, lsl): the CPU then reads this page, finds it
// unmapped, and the guest faults (cpu.ts reports any access to the kernel half as
// generalProtection). Interrupts and exceptions never reach an IDT: HIC's interrupt hook takes
// them first, so there is no IDT or TSS.
// The accessed bit of every descriptor is set, so loading one never writes the table (the page is
// mapped read-execute even during the entry).
//
// sgdt and smsw still execute at CPL 3 (Unicorn 2.0.1 ignores CR4.UMIP): a guest can learn this
// page's address, never its contents.

/** In the kernel half: no guest mapping can be there (guest addresses are below 2^47). */
export const SYSTEM_PAGE = 0xffff_8000_0000_0000n;
export const SYSTEM_PAGE_SIZE = 4096;

export const KERNEL_CODE = 0x08;
export const KERNEL_DATA = 0x10;
/** Selectors with RPL 3: the guest's CS and SS. */
export const USER_CODE = 0x18 | 3;
export const USER_DATA = 0x20 | 3;

/** Offsets in the page. */
const GDT = 0x000;
const ENTRY = 0x100;
const LANDING = 0x180;
const FRAME = 0x800;

// Descriptors: base 0, limit 4 GiB, present, accessed; code is 64-bit (L), data is writable.
const DESCRIPTORS = [
  0n, // the null descriptor
  0x00af_9b00_0000_ffffn, // kernel code, DPL 0
  0x00cf_9300_0000_ffffn, // kernel data, DPL 0
  0x00af_fb00_0000_ffffn, // user code, DPL 3
  0x00cf_f300_0000_ffffn, // user data, DPL 3
];

/** CR4.TSD: rdtsc and rdtscp at CPL 3 raise #GP, so HIC can answer them with virtual time. */
export const CR4_TSD = 1n << 2n;

export const layout = {
  gdtBase: SYSTEM_PAGE + BigInt(GDT),
  gdtLimit: DESCRIPTORS.length * 8 - 1,
  entry: SYSTEM_PAGE + BigInt(ENTRY),
  landing: SYSTEM_PAGE + BigInt(LANDING),
  frame: SYSTEM_PAGE + BigInt(FRAME),
};

/** The page's bytes: the descriptor table, iretq at ENTRY, ud2 at LANDING, the iretq frame at FRAME. */
export function systemPageBytes(): Uint8Array {
  const page = new Uint8Array(SYSTEM_PAGE_SIZE);
  const q = new DataView(page.buffer);
  DESCRIPTORS.forEach((d, i) => q.setBigUint64(GDT + 8 * i, d, true));
  page.set([0x48, 0xcf], ENTRY); // iretq
  page.set([0x0f, 0x0b], LANDING); // ud2: never executed, the entry stops before it
  // What iretq pops: RIP, CS, RFLAGS (only the always-one bit: interrupts are never delivered to a
  // guest), RSP (each thread sets its own), SS.
  [layout.landing, BigInt(USER_CODE), 0x2n, 0n, BigInt(USER_DATA)].forEach((v, i) => q.setBigUint64(FRAME + 8 * i, v, true));
  return page;
}

/**
 * True for an address in the kernel half (the system page and everything above it, where nothing
 * is ever mapped for a guest). Addresses arrive from hooks as numbers, exact below 2^53 only; the
 * half's start is exact as a number, and rounding can move an address across it only from the
 * non-canonical hole just below, which a guest cannot reach on real hardware either.
 */
export function inKernelHalf(address: number): boolean {
  return address >= KERNEL_HALF;
}
const KERNEL_HALF = Number(SYSTEM_PAGE);
