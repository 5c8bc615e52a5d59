// Verbs about the calling thread and time: yield, sleep, exit, time_now, cpu_time. None of them touches a
// capability; the three that stop the thread only say so, and the kernel's trap path does it
// (re-queue, sleep queue, teardown), because a verb runs inside the CPU's syscall hook.

import type { SyscallFrame } from '../../emulator/types.ts';
import { err, type Outcome, type SyscallContext } from './verb.ts';

/** `yield` is a reserved word in a module, hence the name. */
export function yieldSlice(): Outcome {
  return { kind: 'yield' };
}

export function sleep(c: SyscallContext, f: SyscallFrame): Outcome {
  const ns = f.arg(0);
  if (ns < 0) return err('INVALID_ARGUMENT');
  return { kind: 'sleep', until: c.now + ns };
}

/** The status is the full signed 64-bit argument (exit(-1) is -1, not 2^64 - 1). */
export function exit(_c: SyscallContext, f: SyscallFrame): Outcome {
  return { kind: 'exit', status: Number(BigInt.asIntN(64, f.wideArg(0))) };
}

export function timeNow(c: SyscallContext): Outcome {
  return c.now;
}

export function cpuTime(c: SyscallContext): Outcome {
  return c.sandbox.cpu.cpuNs;
}
