// Interrupt verbs: irq_bind routes an IRQ line to a notification (right W on both), irq_ack
// unmasks the line after its handler is done. Rebinding moves the line with its mask and pending
// count (KernelServices.bindIrq), so a reroute during an update loses and duplicates nothing.

import type { SyscallFrame } from '../../emulator/types.ts';
import { Right } from '../abi/abi.ts';
import type { IrqLine } from '../objects/irq-line.ts';
import type { Notification } from '../objects/notification.ts';
import { signalBits } from './notification.ts';
import { err, slot, type Outcome, type SyscallContext } from './verb.ts';

export function irqBind(c: SyscallContext, f: SyscallFrame): Outcome {
  const irq = c.sandbox.cspace.lookup(slot(f, 0), 'IRQ', Right.W);
  if (typeof irq === 'string') return err(irq);
  const n = c.sandbox.cspace.lookup(slot(f, 1), 'NOTIFICATION', Right.W);
  if (typeof n === 'string') return err(n);
  const bits = signalBits(f, 2);
  if (bits === undefined) return err('INVALID_ARGUMENT');
  c.k.bindIrq(irq.object as IrqLine, n.object as Notification, bits, c.sandbox.name);
  return 0;
}

export function irqAck(c: SyscallContext, f: SyscallFrame): Outcome {
  const irq = c.sandbox.cspace.lookup(slot(f, 0), 'IRQ', Right.W);
  if (typeof irq === 'string') return err(irq);
  c.k.ackIrq(irq.object as IrqLine);
  return 0;
}
