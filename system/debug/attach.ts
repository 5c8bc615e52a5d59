// A run a debugger client can attach to and leave (`hic boot --gdb`): the machine of a boot
// under a forward-only debugging session, run to its end by the boot itself except while a gdb
// client holds it. Like QEMU's -s -S, the machine waits for the first client before its first
// instruction; a client that connects later stops it at the run loop's next turn. While a
// client is attached it alone runs the machine (continue, stepi); when it goes, its breakpoints
// go with it and the boot runs on. The event log is the undisturbed run's: the debugger stops
// the machine only where nothing is in flight.

import type { RunResult } from '../run-image.ts';
import type { Stop } from './machine.ts';
import type { DebugSession } from './session.ts';

export class AttachableRun {
  /** Whether the boot must leave the machine alone: before the first client, and while one is attached. */
  private held = true;
  private clients = 0;
  /** The boot's own run, while it is in flight. */
  private running: Promise<Stop> | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly session: DebugSession) {}

  /** Runs the machine to its end, standing still whenever a client holds it. */
  async run(): Promise<RunResult> {
    for (;;) {
      while (this.held) await new Promise<void>((resolve) => (this.wake = resolve));
      if (this.session.finished) return this.session.machine.result!;
      this.running = this.session.continue();
      try {
        await this.running;
      } finally {
        this.running = undefined;
      }
    }
  }

  /** A client connected: resolves once the machine stands still for it. */
  async attach(): Promise<void> {
    this.clients++;
    this.held = true;
    if (this.running) {
      this.session.interrupt();
      await this.running.catch(() => undefined);
    }
  }

  /** The client went away (its breakpoints already gone): the boot runs on, unless another is attached. */
  detach(): void {
    this.clients = Math.max(0, this.clients - 1);
    if (this.clients === 0) this.release();
  }

  get attached(): boolean {
    return this.clients > 0;
  }

  /** Lets the boot run on without a client (the user gave up waiting: Ctrl-C, quit). */
  release(): void {
    this.held = false;
    this.wake?.();
    this.wake = undefined;
  }
}
