// What a syscall verb is: one function with one signature, `(c: SyscallContext, f: SyscallFrame)
// => Outcome`, and the argument decoders the verbs share. A verb decodes and checks every argument
// and capability before it changes anything (STYLE: decode, then invoke), so a refused call leaves
// no partial effect; then it returns a number for the guest's rax (negative = -error) or asks the
// scheduler to block, yield or end the thread. The table that names the verbs is ../syscalls.ts.

import { Err, Flag } from '../abi/abi.ts';
import type { SyscallFrame } from '../../emulator/types.ts';
import type { KernelServices } from '../kernel-services.ts';
import type { Capability, ErrName } from '../objects/capability.ts';
import type { Sandbox } from '../objects/sandbox.ts';
import type { Thread } from '../objects/thread.ts';

export type Outcome =
  | number
  | { readonly kind: 'yield' }
  | { readonly kind: 'sleep'; readonly until: number }
  | { readonly kind: 'exit'; readonly status: number }
  /** The verb parked the thread (IPC, wait); the kernel sets its result when it wakes. */
  | { readonly kind: 'block' }
  /** Done (result 0), and the thread it woke runs first (ipc.ts reply). */
  | { readonly kind: 'handoff' };

/** Who is calling, and the kernel it may ask things of: made once per thread, not per call. */
export interface SyscallContext {
  readonly thread: Thread;
  readonly sandbox: Sandbox;
  readonly now: number;
  readonly k: KernelServices;
  console(text: string): void;
}

export type Verb = (c: SyscallContext, f: SyscallFrame) => Outcome;

/** The guest's result for a refusal: -(code). */
export const err = (e: ErrName): number => -Err[e];

/** A slot argument: slots are small; anything else is simply not a slot (BAD_SLOT at lookup). */
export function slot(f: SyscallFrame, i: number): number {
  const v = f.arg(i);
  return v >= 0 && v < 1 << 16 ? v : -1;
}

/** Flags other than HIC_NONBLOCK are refused, so a flag added later is never silently ignored. */
export function badFlags(flags: number): boolean {
  return flags < 0 || (flags & ~Flag.NONBLOCK) !== 0;
}

/** A timeout argument in ns; 0 waits forever. One of 2^53 or more reads as -1: callers refuse it. */
export function timeout(f: SyscallFrame, i: number): number {
  return f.arg(i);
}

/**
 * Puts a capability the verb makes or derives into the caller's space, deciding first that there
 * is a slot for it (decode, then invoke): when the space is full nothing is created, allocated,
 * charged or derived. `make` answers the capability, an error (the object could not be made), or
 * undefined when a derivation asked for more rights than its source has.
 */
export function place(s: Sandbox, make: () => Capability | ErrName | undefined): number {
  if (s.cspace.free === 0) return err('NO_SLOT');
  const c = make();
  if (c === undefined) return err('NO_RIGHT');
  if (typeof c === 'string') return err(c);
  const at = s.cspace.insert(c);
  if (at === 'NO_SLOT') throw new Error(`place: ${s.name}'s capability space had a free slot and refused the insert`);
  return at;
}

const MAX_NAME = 128;
const utf8 = new TextDecoder('utf-8', { fatal: false });

/** A registry name from guest memory; the registry itself checks its form. */
export function guestName(s: Sandbox, at: number, len: number): { readonly name: string } | ErrName {
  if (len <= 0 || len > MAX_NAME) return 'INVALID_ARGUMENT';
  const b = at < 0 ? undefined : s.cpu.space.view(at, len);
  return b ? { name: utf8.decode(b) } : 'BAD_ADDRESS';
}
