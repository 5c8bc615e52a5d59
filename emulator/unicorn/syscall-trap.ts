// The memory an engine's native syscall trap (emulator/native/trap.c) shares with TypeScript:
// the argument registers the C hook read before calling in, and the flags the handler sets for
// the hook to act on after it returns. Reading arguments and answering through this slot is what
// keeps a syscall to one crossing of the koffi boundary (docs/unicorn.md#syscall-trap).

import { HostMemory, hostAddress } from './host-memory.ts';
import { TRAP_FIELDS } from './lib.ts';

/** struct hic_trap's flags (trap.c). */
const KEEP_RAX = 1;
const STOP = 2;
const FAILED = 4;

/** Word indexes in struct hic_trap. */
const FLAGS = 7;
const INDEX = 8;
const HANDLER = 9;

export class SyscallSlot {
  /** The argument registers as the guest left them: rax (the number), rdi, rsi, rdx, r10, r8, r9. */
  readonly values: BigUint64Array;
  private readonly halves: Uint32Array;
  private readonly memory: HostMemory;

  /** A slot whose trap calls `handler` (a registered koffi callback) with `index` (below 2^32). */
  constructor(handler: bigint, index: number) {
    this.memory = HostMemory.allocate(8 * TRAP_FIELDS);
    const { buffer, byteOffset } = this.memory.bytes;
    const words = new BigUint64Array(buffer, byteOffset, TRAP_FIELDS);
    words[INDEX] = BigInt(index);
    words[HANDLER] = handler;
    this.values = new BigUint64Array(buffer, byteOffset, 7);
    this.halves = new Uint32Array(buffer, byteOffset, 2 * TRAP_FIELDS);
  }

  /** The native address handed to the hook as its user data. For engine.ts only. */
  get address(): bigint {
    return hostAddress(this.memory);
  }

  /** Register i (0: rax) as a number when it is below 2^53, else -1 (never a valid value). */
  number(i: number): number {
    const hi = this.halves[2 * i + 1]!;
    if (hi >= 0x200000) return -1;
    return hi * 0x1_0000_0000 + this.halves[2 * i]!;
  }

  /** The hook leaves rax as it is when the handler returns. */
  keepRax(): void {
    this.halves[2 * FLAGS] = this.halves[2 * FLAGS]! | KEEP_RAX;
  }

  /** The hook stops the engine when the handler returns (uc_emu_stop, without another crossing). */
  stop(): void {
    this.halves[2 * FLAGS] = this.halves[2 * FLAGS]! | STOP;
  }

  /** True once, after a trap whose registers could not be read (the hook stopped the engine). */
  takeFailure(): boolean {
    if ((this.halves[2 * FLAGS]! & FAILED) === 0) return false;
    this.halves[2 * FLAGS] = 0;
    return true;
  }

  free(): void {
    this.memory.free();
  }
}
