// A kernel thread record: which sandbox it runs in, its CPU context handle, and where the
// scheduler has it. Invariant: a thread is in exactly one of the scheduler's run queue or sleep
// queue while runnable or sleeping, and in neither once dead.

import type { SyscallFrame, ThreadHandle, TrapAction } from '../../emulator/types.ts';
import type { Sandbox } from './sandbox.ts';

export type ThreadState = 'runnable' | 'sleeping' | 'exiting' | 'dead';

export class Thread {
  state: ThreadState = 'runnable';
  /** Virtual time at which a sleeping thread becomes runnable. */
  wakeAt = 0;
  /** What the CPU calls on each syscall of this thread; set by the kernel when it starts the thread. */
  onSyscall: (frame: SyscallFrame) => TrapAction = () => 'stop';

  constructor(
    /** Unique for the life of the kernel; never reused. */
    readonly id: number,
    readonly sandbox: Sandbox,
    readonly handle: ThreadHandle,
  ) {}

  get label(): string {
    return `${this.sandbox.name}/${this.id}`;
  }
}
