// A kernel thread record: which sandbox it runs in, its CPU context handle, and where the
// scheduler has it. Invariant: a thread is in exactly one of the scheduler's run queue or sleep
// queue while runnable or sleeping, and in neither once dead.

import type { SyscallFrame, ThreadHandle, TrapAction } from '../../emulator/types.ts';
import type { Endpoint } from './endpoint.ts';
import type { Notification } from './notification.ts';
import type { Sandbox } from './sandbox.ts';

export type ThreadState = 'runnable' | 'sleeping' | 'blocked' | 'exiting' | 'dead';

/** What a blocked thread waits for; the kernel cancels it on timeout or destruction. */
export type Waiting =
  | { readonly kind: 'send' | 'recv'; readonly on: Endpoint }
  | { readonly kind: 'reply'; readonly on: Thread; readonly msgAt: number }
  | { readonly kind: 'wait'; readonly on: Notification };

/** A thread's stack: [base, top), and the guard page [guard, base) left unmapped below it. */
export interface StackBounds {
  readonly guard: number;
  readonly base: number;
  readonly top: number;
}

export class Thread {
  state: ThreadState = 'runnable';
  /** Virtual time at which a sleeping thread becomes runnable. */
  wakeAt = 0;
  /** Set while blocked in IPC or wait; a deadline, if any, is in the scheduler's sleep queue. */
  waiting: Waiting | undefined;
  /** The caller this thread owes a reply to (the last call it received). */
  replyTo: Thread | undefined;
  /** Scheduler.wakeUp: front-of-queue wakes since it last ran from the back, and whether this one was. */
  frontWakes = 0;
  wokenToFront = false;
  /** Where its stack is, and the unmapped guard page below it (set by the loader), so a fault
   * there is reported as the stack overflow it is. */
  stack: StackBounds | undefined;
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
