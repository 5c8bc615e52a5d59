// An interrupt line and its routing: where it is delivered (a notification and bits), whether it
// is masked (from delivery until the handler acknowledges), and how many raises wait behind the
// mask. Every raise is delivered exactly once: either now, or when the line is next unmasked —
// and a reroute moves the line with its pending count, so nothing is lost or delivered to both.

import type { KernelObject } from './capability.ts';
import type { Notification } from './notification.ts';

export interface IrqRoute {
  readonly notification: Notification;
  readonly bits: bigint;
}

export class IrqLine implements KernelObject {
  readonly capType = 'IRQ' as const;
  route: IrqRoute | undefined;
  masked = false;
  pending = 0;
  raised = 0;
  delivered = 0;

  constructor(readonly line: number) {}

  /** A device raised the line: the route to signal now, or undefined if it waits. */
  raise(): IrqRoute | undefined {
    this.raised++;
    if (this.masked || !this.route || this.route.notification.dead) {
      this.pending++;
      return undefined;
    }
    this.masked = true;
    this.delivered++;
    return this.route;
  }

  /** The handler is done with the last one: unmask, or deliver the next pending one. */
  ack(): IrqRoute | undefined {
    this.masked = false;
    if (this.pending === 0 || !this.route) return undefined;
    this.pending--;
    this.masked = true;
    this.delivered++;
    return this.route;
  }

  released(): void {
    this.route = undefined;
  }
}
