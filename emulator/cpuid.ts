// What cpuid answers in a sandbox: one fixed table, the same on every host and every run, so a
// guest that looks at its CPU behaves the same everywhere (and its event log too). The host's
// CPU never shows through; neither does the model Unicorn emulates (which would advertise features
// that fault here, such as popcnt and movbe in Unicorn 2.0.1).
//
// The answer describes the guest's CPU as it really is: x86-64 at the baseline level (x87, MMX,
// SSE, SSE2, cmov, cmpxchg8b, fxsave), syscall, no-execute pages, long mode, lahf/sahf, and
// rdtsc/rdtscp, which return virtual time (docs/guest-cpu.md). Every leaf not listed answers all
// zeros, whatever ECX holds; so do the subleaves of listed leaves, which ignore ECX.

export type CpuidAnswer = readonly [eax: number, ebx: number, ecx: number, edx: number];

/** The vendor string: "HIC virt CPU" (leaf 0 returns it in EBX, EDX, ECX order). */
export const CPUID_VENDOR = 'HIC virt CPU';

const word = (s: string) => s.charCodeAt(0) | (s.charCodeAt(1) << 8) | (s.charCodeAt(2) << 16) | ((s.charCodeAt(3) << 24) >>> 0);
const bits = (...b: number[]) => b.reduce((v, n) => (v | (1 << n)) >>> 0, 0);

// Leaf 1 EDX: FPU 0, TSC 4, CX8 8, CMOV 15, MMX 23, FXSR 24, SSE 25, SSE2 26.
// Leaf 0x80000001 ECX: LAHF_LM 0; EDX: SYSCALL 11, NX 20, RDTSCP 27, LM 29.
const TABLE = new Map<number, CpuidAnswer>([
  [0x0000_0000, [1, word(CPUID_VENDOR.slice(0, 4)), word(CPUID_VENDOR.slice(8, 12)), word(CPUID_VENDOR.slice(4, 8))]],
  [0x0000_0001, [0x0000_0600, 0, 0, bits(0, 4, 8, 15, 23, 24, 25, 26)]], // family 6, model 0, stepping 0
  [0x8000_0000, [0x8000_0001, 0, 0, 0]],
  [0x8000_0001, [0, 0, bits(0), bits(11, 20, 27, 29)]],
]);

const NOTHING: CpuidAnswer = [0, 0, 0, 0];

export function cpuidAnswer(leaf: number): CpuidAnswer {
  return TABLE.get(leaf >>> 0) ?? NOTHING;
}
