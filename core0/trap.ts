// The syscall trap: what runs inside a CPU's `syscall` hook. The verb's outcome either resumes
// the guest in the same engine run (a plain result) or stops the engine, with the thread already
// placed where the scheduler should find it (yield, sleep, block, exit, handoff). Nothing here
// throws across the trap boundary: a refused call is an error code in rax.

import type { SyscallFrame, TrapAction } from '../emulator/types.ts';
import type { Thread } from './objects/thread.ts';
import type { KernelState } from './state.ts';
import { dispatch, type SyscallContext } from './syscalls.ts';

/** Makes a thread's syscall handler (trapFor, bound to a kernel). */
export type TrapFactory = (t: Thread) => (frame: SyscallFrame) => TrapAction;

/**
 * The thread's syscall handler, made once when the thread starts: the trap path allocates
 * nothing per call (it runs for every syscall, ~0.3 µs in all).
 */
export function trapFor(k: KernelState, t: Thread): (frame: SyscallFrame) => TrapAction {
  const ctx = contextFor(k, t);
  return (frame) => trap(k, t, ctx, frame);
}

export function contextFor(k: KernelState, t: Thread): SyscallContext {
  const clock = k.machine.clock;
  const events = k.events;
  return {
    thread: t,
    sandbox: t.sandbox,
    k: k.objects,
    get now() {
      return clock.now;
    },
    console(text) {
      const s = t.sandbox;
      if (s.console.take(clock.now, text.length, (lines, bytes) => events.emit({ kind: 'consoleDropped', sandbox: s.name, lines, bytes }))) {
        events.emit({ kind: 'console', sandbox: s.name, text });
      }
    },
  };
}

/** Inside the CPU's syscall trap: dispatch, then resume the guest or stop the engine. */
function trap(k: KernelState, t: Thread, ctx: SyscallContext, frame: SyscallFrame): TrapAction {
  t.sandbox.syscalls++;
  const out = dispatch(ctx, frame);
  if (typeof out === 'number') {
    frame.setResult(out);
    return 'continue';
  }
  switch (out.kind) {
    case 'yield':
      frame.setResult(0);
      k.scheduler.makeRunnable(t);
      break;
    case 'sleep':
      frame.setResult(0);
      k.scheduler.sleep(t, out.until);
      break;
    case 'exit':
      t.state = 'exiting';
      k.events.emit({ kind: 'exit', sandbox: t.sandbox.name, status: out.status });
      break;
    case 'block':
      break; // parked by the verb; woken with its result
    case 'handoff':
      frame.setResult(0);
      k.scheduler.stepAside(t);
      break;
  }
  return 'stop';
}
