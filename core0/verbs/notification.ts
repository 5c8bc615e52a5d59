// Notification verbs: notification_create, notify (right W) and wait (right R). A notification
// is a word of signal bits: notify ORs bits in and wakes one waiter, wait takes and clears them.
// Interrupts arrive the same way (irq.ts binds a line to a notification).

import type { SyscallFrame } from '../../emulator/types.ts';
import { Right } from '../abi/abi.ts';
import * as ipc from '../ipc.ts';
import type { Notification } from '../objects/notification.ts';
import { badFlags, err, place, slot, timeout, type Outcome, type SyscallContext } from './verb.ts';

/** Bits a notify or an IRQ route may carry: at least one, within 32 bits (the guest's ABI word). */
export function signalBits(f: SyscallFrame, i: number): bigint | undefined {
  const bits = f.arg(i);
  return bits <= 0 || bits > 0xffff_ffff ? undefined : BigInt(bits);
}

export function notificationCreate(c: SyscallContext): Outcome {
  return place(c.sandbox, () => c.k.newNotification());
}

export function notify(c: SyscallContext, f: SyscallFrame): Outcome {
  const cap = c.sandbox.cspace.lookup(slot(f, 0), 'NOTIFICATION', Right.W);
  if (typeof cap === 'string') return err(cap);
  const bits = signalBits(f, 1);
  if (bits === undefined) return err('INVALID_ARGUMENT');
  ipc.notify(c.k, cap.object as Notification, bits);
  return 0;
}

export function wait(c: SyscallContext, f: SyscallFrame): Outcome {
  const cap = c.sandbox.cspace.lookup(slot(f, 0), 'NOTIFICATION', Right.R);
  if (typeof cap === 'string') return err(cap);
  const flags = f.arg(1);
  const t = timeout(f, 2);
  if (badFlags(flags) || t < 0) return err('INVALID_ARGUMENT');
  return ipc.wait(c.k, c.thread, cap.object as Notification, flags, t);
}
