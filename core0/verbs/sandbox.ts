// Sandbox control verbs: suspend, resume and destroy another sandbox (or the caller's own)
// through a sandbox capability with right W -- what the Module Manager uses to stop an old
// instance and reclaim it. The kernel does the work (KernelServices.control): it owns the sandboxes.

import type { SyscallFrame } from '../../emulator/types.ts';
import { Right } from '../abi/abi.ts';
import type { ControlOp } from '../kernel-services.ts';
import type { SandboxControl } from '../objects/sandbox.ts';
import { err, slot, type Outcome, type SyscallContext } from './verb.ts';

function control(c: SyscallContext, f: SyscallFrame, op: ControlOp): Outcome {
  const cap = c.sandbox.cspace.lookup(slot(f, 0), 'SANDBOX', Right.W);
  if (typeof cap === 'string') return err(cap);
  const target = (cap.object as SandboxControl).sandbox;
  if (target.state !== 'live') return err('PEER_GONE');
  return c.k.control(target, op, c.thread);
}

export const sandboxSuspend = (c: SyscallContext, f: SyscallFrame): Outcome => control(c, f, 'suspend');
export const sandboxResume = (c: SyscallContext, f: SyscallFrame): Outcome => control(c, f, 'resume');
export const sandboxDestroy = (c: SyscallContext, f: SyscallFrame): Outcome => control(c, f, 'destroy');
